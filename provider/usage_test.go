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
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

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

// waitFor polls cond (the background reader works in real time) for a few
// seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (u *usageBackend) readCount() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.reads
}

// The kubelet's resource metrics carry what the cloud reported: cumulative
// CPU time that never goes back, its rate between two reads, the recent
// peak memory as working set. Scrapes answer at once and start a reader in
// the background that reads each function at most once per interval, and
// stops when nothing asks any more.
func TestUsageReachesStatsAndResourceMetrics(t *testing.T) {
	clock := now
	var cmu sync.Mutex
	tick := func(d time.Duration) { cmu.Lock(); clock = clock.Add(d); cmu.Unlock() }
	at := func() time.Time { cmu.Lock(); defer cmu.Unlock(); return clock }
	b := &usageBackend{fakeBackend: &fakeBackend{}}
	p, err := New(Options{NodeName: "vk", Backend: b, UsageInterval: 30 * time.Second, Now: at})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	p.NotifyPods(ctx, func(*corev1.Pod) {})
	pod := newPod("uid-1", "hello")
	if err := p.CreatePod(ctx, pod); err != nil {
		t.Fatal(err)
	}
	fn := translate.FunctionName(pod)
	container := func() statsv1alpha1.ContainerStats {
		s, err := p.GetStatsSummary(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return s.Pods[0].Containers[0]
	}
	cpuOf := func(c statsv1alpha1.ContainerStats) uint64 {
		if c.CPU == nil {
			return 0
		}
		return *c.CPU.UsageCoreNanoSeconds
	}

	// Nothing reported yet: no figures, not zeros.
	if c := container(); c.CPU != nil || c.Memory != nil {
		t.Fatalf("figures before the cloud reported any: %+v", c)
	}
	waitFor(t, "the first read", func() bool { return b.readCount() == 1 })

	b.set(translate.UsageSample{Function: fn, Key: "r1", At: at().Add(20 * time.Second), CPU: 500 * time.Millisecond, MemoryBytes: 100 << 20})
	tick(30 * time.Second)
	waitFor(t, "the second read", func() bool { return cpuOf(container()) == 5e8 })
	c := container()
	// The read before found nothing: the rate is over the 30 s between.
	if *c.CPU.UsageNanoCores != 16666666 || *c.Memory.WorkingSetBytes != 100<<20 || !c.CPU.Time.Time.Equal(at()) {
		t.Errorf("after the second read: %+v %+v", c.CPU, c.Memory)
	}
	time.Sleep(1500 * time.Millisecond)
	if n := b.readCount(); n != 2 {
		t.Errorf("%d reads within the interval, want 2", n)
	}

	// The next read overlaps the last (late logs): r1 again counts once.
	tick(30 * time.Second)
	b.set(translate.UsageSample{Function: fn, Key: "r1", At: at().Add(-10 * time.Second), CPU: 500 * time.Millisecond, MemoryBytes: 100 << 20},
		translate.UsageSample{Function: fn, Key: "r2", At: at().Add(-5 * time.Second), CPU: 250 * time.Millisecond, MemoryBytes: 80 << 20})
	waitFor(t, "the third read", func() bool { return cpuOf(container()) == 75e7 })
	c = container()
	if *c.CPU.UsageNanoCores != 8333333 || *c.Memory.WorkingSetBytes != 100<<20 {
		t.Errorf("after the third read: rate %d, memory %d", *c.CPU.UsageNanoCores, *c.Memory.WorkingSetBytes)
	}
	b.mu.Lock()
	since := b.since[len(b.since)-1]
	b.mu.Unlock()
	if !since.Equal(at().Add(-30*time.Second - usageOverlap)) {
		t.Errorf("third read from %v, want the second read's time less %v", since, usageOverlap)
	}
	s, _ := p.GetStatsSummary(ctx)
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
	ms := itoa(at().UnixMilli())
	for _, want := range []string{
		`container_cpu_usage_seconds_total{container="app",namespace="default",pod="hello"} 0.75 ` + ms,
		`container_memory_working_set_bytes{container="app",namespace="default",pod="hello"} 1.048576e+08 ` + ms,
		`pod_cpu_usage_seconds_total{namespace="default",pod="hello"} 0.75`,
		`node_cpu_usage_seconds_total 0.75 ` + ms,
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
	waitFor(t, "the idle read", func() bool { c := container(); return c.Memory != nil && *c.Memory.WorkingSetBytes == 0 })
	if c := container(); cpuOf(c) != 75e7 || *c.CPU.UsageNanoCores != 0 {
		t.Errorf("idle: cpu %d, rate %d", cpuOf(c), *c.CPU.UsageNanoCores)
	}
	reads := b.readCount()
	tick(6 * time.Minute)
	waitFor(t, "the read after the samples expired", func() bool { container(); return b.readCount() > reads })
	if got := cpuOf(container()); got != 75e7 {
		t.Errorf("after folding: cpu %d", got)
	}

	// A deleted pod's function leaves the book; the node's counter stays.
	if err := p.DeletePod(ctx, pod); err != nil {
		t.Fatal(err)
	}
	tick(time.Minute)
	_, _ = p.GetStatsSummary(ctx)
	waitFor(t, "the deleted pod's function to leave the book", func() bool { _, ok := p.usage.figures(fn); return !ok })
	if cpu, _ := p.usage.node(); cpu != 750*time.Millisecond {
		t.Errorf("node CPU after the delete = %v", cpu)
	}

	// Nobody asks any more: the reader stops.
	tick(time.Duration(usageIdle+1) * 30 * time.Second)
	waitFor(t, "the reader to stop", func() bool { p.usage.mu.Lock(); defer p.usage.mu.Unlock(); return !p.usage.reading })
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
