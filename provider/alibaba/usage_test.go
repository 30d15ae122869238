package alibaba

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	emu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/alibaba"
)

// Usage reads FC's request-level metrics of the node's functions from the
// logstore: the measured duration and peak memory of each invocation, CPU
// derived from the duration and the function's memory.
func TestUsageFromRequestMetrics(t *testing.T) {
	e := setup(t, emu.DefaultAccessKeySecret)
	ctx := context.Background()
	fn := function(t, image, func(p *corev1.Pod) {
		p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "EMULATOR_MEMORY_MB", Value: "300"}}
		p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("4Gi")}
	})
	other := function(t, image, func(p *corev1.Pod) { p.UID, p.Name = "uid-2", "other" })
	if _, err := e.b.Deploy(ctx, fn); err != nil {
		t.Fatal(err)
	}
	if _, err := e.b.Deploy(ctx, other); err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(-2 * time.Second)
	for _, name := range []string{fn.Name, fn.Name, other.Name} {
		if _, err := e.b.Invoke(ctx, name, []byte(`{"sleepMs": 100}`)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := e.b.Usage(ctx, []string{fn.Name}, start)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Key == got[1].Key {
		t.Fatalf("samples = %+v, want the two invocations of %s only", got, fn.Name)
	}
	for _, s := range got {
		// 4 GiB come with 2 vCPUs: a 100 ms invocation used at least 200 ms.
		if s.Function != fn.Name || s.MemoryBytes != 300<<20 || s.CPU < 200*time.Millisecond || s.CPU > 2*time.Second || s.At.Before(start) {
			t.Errorf("sample = %+v", s)
		}
	}
	if later, err := e.b.Usage(ctx, []string{fn.Name, other.Name}, time.Now().Add(time.Minute)); err != nil || len(later) != 0 {
		t.Errorf("usage after the invocations = %+v, %v", later, err)
	}
}
