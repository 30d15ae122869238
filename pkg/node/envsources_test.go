package node

import (
	"context"
	"crypto/tls"
	"strconv"
	"testing"
	"time"

	vknode "github.com/virtual-kubelet/virtual-kubelet/node"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"

	"github.com/faas-kubelet/faas-kubelet/pkg/config"
	"github.com/faas-kubelet/faas-kubelet/pkg/memorybackend"
	"github.com/faas-kubelet/faas-kubelet/provider"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// deploys is the memory backend, with every function it is given sent on fns.
type deploys struct {
	*memorybackend.Backend
	fns chan *translate.Function
}

func (d *deploys) Deploy(ctx context.Context, fn *translate.Function) (*translate.FunctionState, error) {
	d.fns <- fn
	return d.Backend.Deploy(ctx, fn)
}

// A pod asking for its IP, the node's and its memory limit, and a
// ConfigMap's key, is created through Virtual Kubelet's pod controller as
// the node wires it: the core resolves the env from the node's caches.
func TestNodeResolvesTheDownwardAPI(t *testing.T) {
	c := testNodeConfig()
	c.Name = "vk"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	spec, err := Spec(c, "v1.35.4-test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	settings := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "settings"}, Data: map[string]string{"mode": "fast"}}
	kubernetes := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "kubernetes"},
		Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.1", Ports: []corev1.ServicePort{{Name: "https", Port: 443}}}}
	client := fake.NewClientset(spec.DeepCopy(), settings, kubernetes)
	caches := newNodeInformers(client, c.Name)
	b := &deploys{Backend: memorybackend.New(memorybackend.Options{}), fns: make(chan *translate.Function, 10)}
	core, err := provider.New(provider.Options{NodeName: c.Name, Backend: b, PodIP: c.Address,
		EnvSources: newEnvSources(caches), Allocatable: spec.Status.Allocatable})
	if err != nil {
		t.Fatal(err)
	}
	n, err := newVirtualNode(controllerConfig{client: client, spec: spec, provider: core, health: vknode.NewNaiveNodeProvider(),
		informers: caches, recorder: record.NewFakeRecorder(100), workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	serving, err := servingCert(config.TLS{}, c)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- n.run(ctx, "127.0.0.1:0", &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: serving}, nil)
	}()
	select {
	case <-n.ready:
	case err := <-done:
		t.Fatalf("node stopped: %v", err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "app", Name: "web", UID: "uid-web"},
		Spec: corev1.PodSpec{NodeName: c.Name, Containers: []corev1.Container{{Name: "app", Image: "example.com/web:1",
			Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")}},
			Env: []corev1.EnvVar{
				{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "status.podIP"}}},
				{Name: "HOST_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "status.hostIP"}}},
				{Name: "MEMORY_MI", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}}},
				{Name: "CPU", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu"}}},
				{Name: "MODE", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}, Key: "mode"}}},
			}}}}}
	if _, err := client.CoreV1().Pods("app").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var fn *translate.Function
	select {
	case fn = <-b.fns:
	case <-ctx.Done():
		t.Fatal("the pod's function was never deployed")
	}
	cpu := spec.Status.Allocatable[corev1.ResourceCPU]
	want := map[string]string{"POD_IP": "10.0.0.5", "HOST_IP": "10.0.0.5", "MEMORY_MI": "256", "CPU": strconv.FormatInt(cpu.Value(), 10), "MODE": "fast"}
	for k, v := range want {
		if fn.Env[k] != v {
			t.Errorf("%s = %q, want %q (env %v)", k, fn.Env[k], v, fn.Env)
		}
	}
	if fn.ServiceLinks["KUBERNETES_SERVICE_HOST"] != "10.96.0.1" {
		t.Errorf("service links = %v", fn.ServiceLinks)
	}
	cancel()
	<-done
}
