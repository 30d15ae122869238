package azure

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	emu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/azure"
)

// Usage reads Azure Monitor's CpuTime and MemoryWorkingSet of each app, a
// sample per minute, both measured by Azure.
func TestUsageFromAzureMonitor(t *testing.T) {
	b, s := setup(t, emu.DefaultToken, emu.Options{})
	ctx := context.Background()
	fn := function(t, image, func(p *corev1.Pod) {
		p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "EMULATOR_MEMORY_MB", Value: "300"}}
	})
	if _, err := b.Deploy(ctx, fn); err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(-time.Minute)
	for range 2 {
		if _, err := b.Invoke(ctx, fn.Name, []byte(`{"sleepMs": 150}`)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := b.Usage(ctx, []string{fn.Name, "fk-gone"}, start)
	if err != nil {
		t.Fatal(err)
	}
	var cpu time.Duration
	var peak uint64
	for _, x := range got {
		if x.Function != fn.Name || x.Key == "" {
			t.Errorf("sample %+v", x)
		}
		cpu += x.CPU
		peak = max(peak, x.MemoryBytes)
	}
	if cpu < 300*time.Millisecond || cpu > 5*time.Second || peak != 300<<20 {
		t.Errorf("CPU %v (want the two executions' 300 ms or more), peak %d bytes, from %+v", cpu, peak, got)
	}
	if s.Calls()["ListMetrics"] != 2 {
		t.Errorf("%d metrics calls for two apps, want 2", s.Calls()["ListMetrics"])
	}
}
