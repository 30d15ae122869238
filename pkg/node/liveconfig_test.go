package node

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	corev1listers "k8s.io/client-go/listers/core/v1"
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
