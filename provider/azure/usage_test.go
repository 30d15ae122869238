package azure

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	emu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/azure"
)

// usageAfterTwoRuns deploys an app of 300 MB on a plan of sku, runs it
// twice for 150 ms and reads its usage and that of an app gone.
func usageAfterTwoRuns(t *testing.T, sku emu.SKU) (cpu time.Duration, peak uint64, invocations int, calls map[string]int) {
	t.Helper()
	b, s := setup(t, emu.DefaultToken, emu.Options{PlanSKU: sku})
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
	for range 2 { // the plan is read once
		got, err := b.Usage(ctx, []string{fn.Name, "fk-gone"}, start)
		if err != nil {
			t.Fatal(err)
		}
		cpu, peak, invocations = 0, 0, 0
		for _, x := range got {
			if x.Function != fn.Name || x.Key == "" {
				t.Errorf("sample %+v", x)
			}
			cpu += x.CPU
			peak = max(peak, x.MemoryBytes)
			invocations += x.Invocations
		}
	}
	return cpu, peak, invocations, s.Calls()
}

// On Consumption, Usage reads FunctionExecutionUnits (MB-ms),
// FunctionExecutionCount and MemoryWorkingSet: CPU is derived from the
// units and the memory billed (300 MB is billed as 384 MB), memory and
// invocations are measured.
func TestUsageOnConsumptionDerivesCPUFromExecutionUnits(t *testing.T) {
	cpu, peak, invocations, calls := usageAfterTwoRuns(t, emu.DefaultPlanSKU)
	if cpu < 300*time.Millisecond || cpu > 5*time.Second || peak != 300<<20 || invocations != 2 {
		t.Errorf("CPU %v (want the two executions' 300 ms or more), peak %d bytes, %d invocations", cpu, peak, invocations)
	}
	if calls["ListMetrics"] != 4 || calls["GetPlan"] != 1 {
		t.Errorf("%d metrics calls for two apps read twice (want 4), %d plan reads (want 1)", calls["ListMetrics"], calls["GetPlan"])
	}
}

// On Elastic Premium (and Dedicated), a Linux function app offers
// MemoryWorkingSet and no CPU metric of its own: memory is measured, CPU
// not reported.
func TestUsageOnPremiumIsMemoryOnly(t *testing.T) {
	cpu, peak, _, calls := usageAfterTwoRuns(t, emu.SKU{Name: "EP1", Tier: "ElasticPremium"})
	if cpu != 0 || peak != 300<<20 {
		t.Errorf("CPU %v (want none), peak %d bytes", cpu, peak)
	}
	if calls["ListMetrics"] != 4 {
		t.Errorf("%d metrics calls, want 4", calls["ListMetrics"])
	}
}
