package provider

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	corev1 "k8s.io/api/core/v1"

	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// usageBackend is a fakeBackend whose cloud reports the samples a test
// sets.
type usageBackend struct {
	*fakeBackend
	mu      sync.Mutex
	samples []translate.UsageSample
	reads   int
	since   []time.Time
}

func (u *usageBackend) Usage(_ context.Context, names []string, since time.Time) ([]translate.UsageSample, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.reads++
	u.since = append(u.since, since)
	var out []translate.UsageSample
	for _, s := range u.samples {
		if !s.At.Before(since) {
			out = append(out, s)
		}
	}
	return out, nil
}

func (u *usageBackend) set(s ...translate.UsageSample) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.samples = s
}

// The kubelet's resource metrics carry what the cloud reported: cumulative
// CPU time that never goes back, its rate between two reads, the recent
// peak memory as working set; the cloud is read at most once per interval.
func TestUsageReachesStatsAndResourceMetrics(t *testing.T) {
	clock := now
	var cmu sync.Mutex
	tick := func(d time.Duration) { cmu.Lock(); clock = clock.Add(d); cmu.Unlock() }
	b := &usageBackend{fakeBackend: &fakeBackend{}}
	p, err := New(Options{NodeName: "vk", Backend: b, UsageInterval: 30 * time.Second,
		Now: func() time.Time { cmu.Lock(); defer cmu.Unlock(); return clock }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p.NotifyPods(ctx, func(*corev1.Pod) {})
	pod := newPod("uid-1", "hello")
	if err := p.CreatePod(ctx, pod); err != nil {
		t.Fatal(err)
	}
	fn := translate.FunctionName(pod)

	// Nothing reported yet: no figures, not zeros.
	s, err := p.GetStatsSummary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c := s.Pods[0].Containers[0]; c.CPU != nil || c.Memory != nil || s.Node.CPU != nil {
		t.Fatalf("figures before the cloud reported any: %+v", s)
	}

	b.set(translate.UsageSample{Function: fn, Key: "r1", At: clock.Add(-10 * time.Second), CPU: 500 * time.Millisecond, MemoryBytes: 100 << 20})
	tick(30 * time.Second)
	s, _ = p.GetStatsSummary(ctx)
	c := s.Pods[0].Containers[0]
	// The read before found nothing: the rate is over the 30 s between.
	if c.CPU == nil || *c.CPU.UsageCoreNanoSeconds != 5e8 || c.CPU.UsageNanoCores == nil || *c.CPU.UsageNanoCores != 16666666 || *c.Memory.WorkingSetBytes != 100<<20 {
		t.Fatalf("after the first read: %+v %+v", c.CPU, c.Memory)
	}
	if _, err := p.GetMetricsResource(ctx); err != nil || b.reads != 2 {
		t.Errorf("a second scrape within the interval read the cloud again: %d reads, %v", b.reads, err)
	}

	// The next read overlaps the last (late logs): r1 again counts once.
	tick(30 * time.Second)
	b.set(translate.UsageSample{Function: fn, Key: "r1", At: clock.Add(-40 * time.Second), CPU: 500 * time.Millisecond, MemoryBytes: 100 << 20},
		translate.UsageSample{Function: fn, Key: "r2", At: clock.Add(-5 * time.Second), CPU: 250 * time.Millisecond, MemoryBytes: 80 << 20})
	s, _ = p.GetStatsSummary(ctx)
	c = s.Pods[0].Containers[0]
	if *c.CPU.UsageCoreNanoSeconds != 75e7 || c.CPU.UsageNanoCores == nil || *c.CPU.UsageNanoCores != 8333333 || *c.Memory.WorkingSetBytes != 100<<20 {
		t.Errorf("after the second read: cpu %d ns, rate %v, memory %d", *c.CPU.UsageCoreNanoSeconds, c.CPU.UsageNanoCores, *c.Memory.WorkingSetBytes)
	}
	if got := b.since[len(b.since)-1]; !got.Equal(clock.Add(-30*time.Second - usageOverlap)) {
		t.Errorf("second read from %v, want the first read's time less %v", got, usageOverlap)
	}
	if *s.Node.CPU.UsageCoreNanoSeconds != 75e7 || *s.Pods[0].CPU.UsageCoreNanoSeconds != 75e7 {
		t.Errorf("node/pod CPU = %v / %v", *s.Node.CPU.UsageCoreNanoSeconds, *s.Pods[0].CPU.UsageCoreNanoSeconds)
	}

	// /metrics/resource as the kubelet writes it, parsed as metrics-server does.
	fams, err := p.GetMetricsResource(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	for _, f := range fams {
		if _, err := expfmt.MetricFamilyToText(&buf, f); err != nil {
			t.Fatal(err)
		}
	}
	text := buf.String()
	at := clock.UnixMilli()
	for _, want := range []string{
		`container_cpu_usage_seconds_total{container="app",namespace="default",pod="hello"} 0.75 ` + itoa(at),
		`container_memory_working_set_bytes{container="app",namespace="default",pod="hello"} 1.048576e+08 ` + itoa(at),
		`pod_cpu_usage_seconds_total{namespace="default",pod="hello"} 0.75`,
		`node_cpu_usage_seconds_total 0.75 ` + itoa(at),
		`node_memory_working_set_bytes 1.048576e+08`,
		"resource_scrape_error 0",
		"# TYPE container_cpu_usage_seconds_total counter",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics/resource lacks %q:\n%s", want, text)
		}
	}

	// Idle for 6 minutes: no recent invocation, no working set; the CPU
	// time stays, also once the samples are folded into the total.
	b.set()
	tick(6 * time.Minute)
	s, _ = p.GetStatsSummary(ctx)
	c = s.Pods[0].Containers[0]
	if *c.Memory.WorkingSetBytes != 0 || *c.CPU.UsageCoreNanoSeconds != 75e7 || *c.CPU.UsageNanoCores != 0 {
		t.Errorf("idle: memory %d, cpu %d, rate %d", *c.Memory.WorkingSetBytes, *c.CPU.UsageCoreNanoSeconds, *c.CPU.UsageNanoCores)
	}
	tick(6 * time.Minute)
	s, _ = p.GetStatsSummary(ctx)
	if got := *s.Pods[0].Containers[0].CPU.UsageCoreNanoSeconds; got != 75e7 {
		t.Errorf("after folding: cpu %d", got)
	}

	// A deleted pod's function leaves the book; the node's counter stays.
	if err := p.DeletePod(ctx, pod); err != nil {
		t.Fatal(err)
	}
	tick(time.Minute)
	_, _ = p.GetStatsSummary(ctx)
	if cpu, _ := p.usage.node(); cpu != 750*time.Millisecond {
		t.Errorf("node CPU after the delete = %v", cpu)
	}
	if _, ok := p.usage.figures(fn); ok {
		t.Error("a deleted pod's function is still in the book")
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
