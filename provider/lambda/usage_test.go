package lambda

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	emu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/lambda"
)

// Usage reads what Lambda reports of each invocation (REPORT lines): the
// peak memory as measured, CPU as duration × the function's vCPU share.
func TestUsageFromReportLines(t *testing.T) {
	b, _ := setup(t, emu.DefaultSecretKey, emu.Options{})
	ctx := context.Background()
	fn := function(t, ecr, func(p *corev1.Pod) {
		p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "EMULATOR_MEMORY_MB", Value: "300"}}
		p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("3538Mi")}
	})
	if _, err := b.Deploy(ctx, fn); err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(-time.Second)
	if got, err := b.Usage(ctx, []string{fn.Name}, start); err != nil || len(got) != 0 {
		t.Fatalf("usage before any invocation = %+v, %v", got, err)
	}
	for range 2 {
		if _, err := b.Invoke(ctx, fn.Name, []byte(`{"sleepMs": 100}`)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := b.Usage(ctx, []string{fn.Name, "no-such-function"}, start)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Key == got[1].Key {
		t.Fatalf("samples = %+v, want one per invocation", got)
	}
	for _, s := range got {
		// 3,538 MiB buy 2 vCPUs: a 100 ms invocation used at least 200 ms.
		if s.Function != fn.Name || s.MemoryBytes != 300<<20 || s.CPU < 200*time.Millisecond || s.CPU > 2*time.Second || s.Invocations != 1 {
			t.Errorf("sample = %+v", s)
		}
	}
	if later, err := b.Usage(ctx, []string{fn.Name}, time.Now().Add(time.Minute)); err != nil || len(later) != 0 {
		t.Errorf("usage after the invocations = %+v, %v", later, err)
	}
}

func TestParseReportLine(t *testing.T) {
	line := "REPORT RequestId: 8f5c\tDuration: 102.25 ms\tBilled Duration: 103 ms\tMemory Size: 1769 MB\tMax Memory Used: 87 MB\tInit Duration: 250.10 ms\t"
	s, ok := parseReport("fn", event{ts: 1700000000000, msg: line})
	if !ok || s.Key != "8f5c" || s.MemoryBytes != 87<<20 || s.CPU != 102250*time.Microsecond || !s.At.Equal(time.UnixMilli(1700000000000)) {
		t.Errorf("parsed %+v %v", s, ok)
	}
	if _, ok := parseReport("fn", event{msg: "END RequestId: 8f5c"}); ok {
		t.Error("an END line parsed as a report")
	}
}
