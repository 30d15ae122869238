package provider

import (
	"context"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/record"

	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// envObjects is a hand-written fake of the node's ConfigMap and Secret
// caches.
type envObjects struct {
	mu         sync.Mutex
	configMaps map[string]map[string]string
	secrets    map[string]map[string][]byte
}

func (e *envObjects) ConfigMap(ns, name string) (*corev1.ConfigMap, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	data, ok := e.configMaps[ns+"/"+name]
	if !ok {
		return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "configmap"}, name)
	}
	cm := &corev1.ConfigMap{Data: map[string]string{}}
	cm.Namespace, cm.Name = ns, name
	for k, v := range data {
		cm.Data[k] = v
	}
	return cm, nil
}

func (e *envObjects) Secret(ns, name string) (*corev1.Secret, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	data, ok := e.secrets[ns+"/"+name]
	if !ok {
		return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "secret"}, name)
	}
	s := &corev1.Secret{Data: map[string][]byte{}}
	s.Namespace, s.Name = ns, name
	for k, v := range data {
		s.Data[k] = v
	}
	return s, nil
}

func (e *envObjects) Services(string) ([]*corev1.Service, error) { return nil, nil }

func (e *envObjects) setConfigMap(key string, data map[string]string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.configMaps[key] = data
}

// downwardPod asks for the pod's and the node's IP, its memory limit and a
// ConfigMap's and a Secret's key.
func downwardPod(uid string) *corev1.Pod {
	pod := newPod(uid, "web-"+uid)
	c := &pod.Spec.Containers[0]
	c.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")}
	c.Env = []corev1.EnvVar{
		{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "status.podIP"}}},
		{Name: "HOST_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "status.hostIP"}}},
		{Name: "MEMORY_MI", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}}},
		{Name: "CPU", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu"}}},
		{Name: "MODE", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}, Key: "mode"}}},
		{Name: "DB_PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "password"}}},
		{Name: "URL", Value: "http://$(POD_IP):8080/$(MODE)"},
	}
	return pod
}

func envProvider(t *testing.T, b Backend, src translate.EnvSources, rec record.EventRecorder) *Provider {
	t.Helper()
	p, err := New(Options{NodeName: "vk", Backend: b, Recorder: rec, Now: func() time.Time { return now }, PodIP: "10.0.0.7", EnvSources: src,
		Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1000"), corev1.ResourceMemory: resource.MustParse("4Ti")}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	p.NotifyPods(ctx, func(*corev1.Pod) {})
	return p
}

func events(rec *record.FakeRecorder) string {
	var out []string
	for len(rec.Events) > 0 {
		out = append(out, <-rec.Events)
	}
	return strings.Join(out, "\n")
}

func TestDownwardAPIReachesTheBackendAndGetPodIsUnresolved(t *testing.T) {
	b := &fakeBackend{}
	src := &envObjects{configMaps: map[string]map[string]string{"default/settings": {"mode": "fast"}},
		secrets: map[string]map[string][]byte{"default/db": {"password": []byte("s3cr3t")}}}
	p := envProvider(t, b, src, nil)
	ctx := context.Background()
	pod := downwardPod("u1")
	given := pod.DeepCopy()
	if err := p.CreatePod(ctx, pod); err != nil {
		t.Fatal(err)
	}
	if len(b.deployed) != 1 {
		t.Fatalf("%d deploys", len(b.deployed))
	}
	want := map[string]string{"POD_IP": "10.0.0.7", "HOST_IP": "10.0.0.7", "MEMORY_MI": "512", "CPU": "1000",
		"MODE": "fast", "DB_PASSWORD": "s3cr3t", "URL": "http://10.0.0.7:8080/fast"}
	if got := b.deployed[0].Env; !reflect.DeepEqual(got, want) {
		t.Errorf("the function's env = %v, want %v", got, want)
	}
	if !reflect.DeepEqual(pod, given) {
		t.Error("CreatePod changed the pod it was given")
	}
	got, err := p.GetPod(ctx, pod.Namespace, pod.Name)
	if err != nil {
		t.Fatal(err)
	}
	if want := recorded(given); !reflect.DeepEqual(got.ObjectMeta, want.ObjectMeta) || !reflect.DeepEqual(got.Spec, want.Spec) {
		t.Errorf("GetPod = %+v, want the pod as given %+v", got.Spec, want.Spec)
	}
	for _, c := range got.Spec.Containers {
		for _, e := range c.Env {
			if e.Value != "" {
				t.Errorf("GetPod shows a resolved value for %s", e.Name)
			}
		}
	}
	if got.Status.PodIP != "10.0.0.7" || got.Status.HostIP != "10.0.0.7" {
		t.Errorf("status IPs = %q %q, want the node's, as the env has them", got.Status.PodIP, got.Status.HostIP)
	}

	// Virtual Kubelet hands in the same pod again (a resync): nothing is
	// deployed again.
	if err := p.UpdatePod(ctx, given.DeepCopy()); err != nil || len(b.deployed) != 1 {
		t.Fatalf("the same pod again: err %v, %d deploys", err, len(b.deployed))
	}
	// Its ConfigMap changed (and marked the pod): the new value is deployed.
	src.setConfigMap("default/settings", map[string]string{"mode": "slow"})
	marked := given.DeepCopy()
	marked.Annotations = map[string]string{AnnotationEnvFrom: "ConfigMap/settings@2"}
	if err := p.UpdatePod(ctx, marked); err != nil || len(b.deployed) != 2 {
		t.Fatalf("changed ConfigMap: err %v, %d deploys", err, len(b.deployed))
	}
	if e := b.deployed[1].Env; e["MODE"] != "slow" || e["URL"] != "http://10.0.0.7:8080/slow" {
		t.Errorf("redeployed env = %v", e)
	}
}

func TestMissingConfigMapWaitsWithCreateContainerConfigError(t *testing.T) {
	b := &fakeBackend{}
	rec := record.NewFakeRecorder(100)
	src := &envObjects{configMaps: map[string]map[string]string{}, secrets: map[string]map[string][]byte{"default/db": {"password": []byte("s3cr3t")}}}
	p := envProvider(t, b, src, rec)
	ctx := context.Background()
	pod := downwardPod("u2")
	if err := p.CreatePod(ctx, pod); err != nil {
		t.Fatalf("CreatePod = %v: the pod waits, the call does not fail", err)
	}
	if len(b.deployed) != 0 {
		t.Fatalf("%d deploys of a pod whose env is not resolved", len(b.deployed))
	}
	const msg = `spec.containers[0].env[4].valueFrom.configMapKeyRef: configmap "settings" not found`
	st, err := p.GetPodStatus(ctx, pod.Namespace, pod.Name)
	if err != nil {
		t.Fatal(err)
	}
	if st.Phase != corev1.PodPending || len(st.ContainerStatuses) != 1 {
		t.Fatalf("status = %+v", st)
	}
	w := st.ContainerStatuses[0].State.Waiting
	if w == nil || w.Reason != "CreateContainerConfigError" || w.Message != msg {
		t.Fatalf("container state = %+v, want Waiting CreateContainerConfigError: %s", st.ContainerStatuses[0].State, msg)
	}
	if st.ContainerStatuses[0].ContainerID != "" || st.PodIP != "" {
		t.Errorf("a container never created has an ID (%q) or the pod an IP (%q)", st.ContainerStatuses[0].ContainerID, st.PodIP)
	}
	ev := events(rec)
	if !strings.Contains(ev, "Warning CreateContainerConfigError") || !strings.Contains(ev, msg) {
		t.Errorf("events:\n%s", ev)
	}
	// Handed in again unchanged: still waiting, no second event.
	if err := p.UpdatePod(ctx, pod.DeepCopy()); err != nil || len(b.deployed) != 0 {
		t.Fatalf("UpdatePod: %v, %d deploys", err, len(b.deployed))
	}
	if ev := events(rec); ev != "" {
		t.Errorf("events for the same refusal again:\n%s", ev)
	}
	// The ConfigMap is created, which marks the pod: the function is created.
	src.setConfigMap("default/settings", map[string]string{"mode": "fast"})
	marked := pod.DeepCopy()
	marked.Annotations = map[string]string{AnnotationEnvFrom: "ConfigMap/settings@1"}
	if err := p.UpdatePod(ctx, marked); err != nil || len(b.deployed) != 1 {
		t.Fatalf("after the ConfigMap: err %v, %d deploys", err, len(b.deployed))
	}
	if b.deployed[0].Env["MODE"] != "fast" {
		t.Errorf("env = %v", b.deployed[0].Env)
	}
	if st, _ := p.GetPodStatus(ctx, pod.Namespace, pod.Name); st.Phase != corev1.PodRunning {
		t.Errorf("phase = %s, want Running", st.Phase)
	}
	if strings.Contains(events(rec), "s3cr3t") {
		t.Error("an event shows the Secret's value")
	}
}

func TestMissingKeyKeepsAServingFunction(t *testing.T) {
	b := &fakeBackend{}
	rec := record.NewFakeRecorder(100)
	src := &envObjects{configMaps: map[string]map[string]string{"default/settings": {"mode": "fast"}},
		secrets: map[string]map[string][]byte{"default/db": {"password": []byte("s3cr3t")}}}
	p := envProvider(t, b, src, rec)
	ctx := context.Background()
	pod := downwardPod("u3")
	if err := p.CreatePod(ctx, pod); err != nil || len(b.deployed) != 1 {
		t.Fatalf("CreatePod: %v, %d deploys", err, len(b.deployed))
	}
	events(rec)
	src.setConfigMap("default/settings", map[string]string{"other": "x"})
	marked := pod.DeepCopy()
	marked.Annotations = map[string]string{AnnotationEnvFrom: "ConfigMap/settings@2"}
	if err := p.UpdatePod(ctx, marked); err != nil || len(b.deployed) != 1 {
		t.Fatalf("UpdatePod: %v, %d deploys", err, len(b.deployed))
	}
	st, _ := p.GetPodStatus(ctx, pod.Namespace, pod.Name)
	if st.Phase != corev1.PodRunning || st.ContainerStatuses[0].State.Running == nil {
		t.Errorf("status = %+v, want the function still Running", st)
	}
	got, _ := p.GetPod(ctx, pod.Namespace, pod.Name)
	if got.Annotations[AnnotationEnvFrom] != "ConfigMap/settings@2" {
		t.Errorf("annotations = %v: the pod's metadata is taken in", got.Annotations)
	}
	ev := events(rec)
	if !strings.Contains(ev, "Warning CreateContainerConfigError") || !strings.Contains(ev, "couldn't find key mode in ConfigMap default/settings") || !strings.Contains(ev, "previous environment") {
		t.Errorf("events:\n%s", ev)
	}
	// The key is back: deployed again, even though the function is what
	// was deployed before.
	src.setConfigMap("default/settings", map[string]string{"mode": "fast"})
	marked.Annotations[AnnotationEnvFrom] = "ConfigMap/settings@3"
	if err := p.UpdatePod(ctx, marked); err != nil || len(b.deployed) != 2 {
		t.Fatalf("UpdatePod: %v, %d deploys", err, len(b.deployed))
	}
}

func TestInvalidSpecComesBeforeAMissingConfigMap(t *testing.T) {
	b := &fakeBackend{}
	p := envProvider(t, b, nil, nil)
	pod := downwardPod("u4")
	pod.Spec.HostNetwork = true
	if err := p.CreatePod(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	st, _ := p.GetPodStatus(context.Background(), pod.Namespace, pod.Name)
	if st.Phase != corev1.PodFailed || st.Reason != ReasonInvalidSpec || !strings.Contains(st.Message, "spec.hostNetwork") {
		t.Errorf("status = %s %s %q, want Failed InvalidSpec naming spec.hostNetwork", st.Phase, st.Reason, st.Message)
	}
}

// A pod the API server shows Running, whose env no longer resolves when
// the node restarts, goes on serving.
func TestRunningPodAfterRestartKeepsServing(t *testing.T) {
	b := &fakeBackend{}
	p := envProvider(t, b, nil, nil)
	pod := downwardPod("u5")
	pod.Status.Phase = corev1.PodRunning
	if err := p.CreatePod(context.Background(), pod); err != nil || len(b.deployed) != 0 {
		t.Fatalf("CreatePod: %v, %d deploys", err, len(b.deployed))
	}
	if st, _ := p.GetPodStatus(context.Background(), pod.Namespace, pod.Name); st.Phase != corev1.PodRunning {
		t.Errorf("phase = %s, want Running", st.Phase)
	}
}
