package node

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	corev1listers "k8s.io/client-go/listers/core/v1"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"github.com/faas-kubelet/faas-kubelet/provider"
)

// A changed Secret marks the running pods whose env reads it, and only
// them; an update that leaves the data alone marks nothing.
func TestChangedSecretMarksThePodsReadingIt(t *testing.T) {
	reads := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "reads", Namespace: "app"}, Status: corev1.PodStatus{Phase: corev1.PodRunning},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Env: []corev1.EnvVar{{Name: "P",
			ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "p"}}}}}}}}
	envFrom := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "envfrom", Namespace: "app"}, Status: corev1.PodStatus{Phase: corev1.PodRunning},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a", EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}}}}}}}}
	other := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "other", Namespace: "app"}, Status: corev1.PodStatus{Phase: corev1.PodRunning},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a", EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}}}}}}}}
	elsewhere := reads.DeepCopy()
	elsewhere.Namespace = "other"
	client := fake.NewClientset(reads, envFrom, other, elsewhere)
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	for _, p := range []*corev1.Pod{reads, envFrom, other, elsewhere} {
		_ = idx.Add(p)
	}
	rec := record.NewFakeRecorder(10)
	l := &liveConfig{client: client, pods: corev1listers.NewPodLister(idx), recorder: rec}
	old := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "app", ResourceVersion: "1"}, Data: map[string][]byte{"p": []byte("one")}}
	same := old.DeepCopy()
	same.ResourceVersion, same.Labels = "2", map[string]string{"x": "y"}
	l.changed(context.Background(), old, same)
	if n := len(client.Actions()); n != 0 {
		t.Fatalf("a Secret whose data did not change caused %d calls", n)
	}
	changed := old.DeepCopy()
	changed.ResourceVersion, changed.Data["p"] = "3", []byte("two")
	l.changed(context.Background(), old, changed)
	marked := map[string]string{}
	for _, name := range []string{"reads", "envfrom", "other"} {
		p, err := client.CoreV1().Pods("app").Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		marked[name] = p.Annotations[provider.AnnotationEnvFrom]
	}
	if marked["reads"] != "Secret/db@3" || marked["envfrom"] != "Secret/db@3" || marked["other"] != "" {
		t.Errorf("marks: %v", marked)
	}
	if p, _ := client.CoreV1().Pods("other").Get(context.Background(), "reads", metav1.GetOptions{}); p.Annotations[provider.AnnotationEnvFrom] != "" {
		t.Error("a pod of another namespace was marked")
	}
	if ev := <-rec.Events; !strings.Contains(ev, "EnvSourceChanged") || !strings.Contains(ev, "Secret db changed") {
		t.Errorf("event: %s", ev)
	}
}

// A ConfigMap created after the informer's initial list marks the pods
// that refer to it (one may wait for it, CreateContainerConfigError); the
// objects of the initial list mark nothing.
func TestCreatedConfigMapMarksThePodsReferringToIt(t *testing.T) {
	ref := func(name, cm string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "app"}, Status: corev1.PodStatus{Phase: corev1.PodPending},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Env: []corev1.EnvVar{{Name: "P",
				ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: cm}, Key: "p"}}}}}}}}
	}
	waits, readsExisting := ref("waits", "settings"), ref("reads-existing", "existing")
	existing := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "existing", Namespace: "app", ResourceVersion: "1"}, Data: map[string]string{"p": "1"}}
	client := fake.NewClientset(waits, readsExisting, existing)
	patched := make(chan string, 10)
	client.PrependReactor("patch", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		patched <- a.(k8stesting.PatchAction).GetName()
		return false, nil, nil
	})
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	for _, p := range []*corev1.Pod{waits, readsExisting} {
		_ = idx.Add(p)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	factory := informers.NewSharedInformerFactory(client, 0)
	l := &liveConfig{client: client, pods: corev1listers.NewPodLister(idx), recorder: record.NewFakeRecorder(10)}
	if err := l.watch(ctx, factory.Core().V1().Secrets().Informer(), factory.Core().V1().ConfigMaps().Informer()); err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	settings := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings", Namespace: "app"}, Data: map[string]string{"p": "2"}}
	if _, err := client.CoreV1().ConfigMaps("app").Create(ctx, settings, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The handler sees the initial list first: a mark from it would come
	// before this one.
	if name := <-patched; name != "waits" {
		t.Fatalf("marked %s first, want waits", name)
	}
	p, err := client.CoreV1().Pods("app").Get(ctx, "waits", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p.Annotations[provider.AnnotationEnvFrom], "ConfigMap/settings@") {
		t.Errorf("annotations = %v", p.Annotations)
	}
}
