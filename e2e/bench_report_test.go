//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// figure is one measurement over repeated runs: the median, never the best
// run, with the range.
type figure struct {
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	Runs   []float64 `json:"runs"`
}

func summarize(values []float64) figure {
	if len(values) == 0 {
		return figure{}
	}
	s := slices.Clone(values)
	sort.Float64s(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return figure{Median: med, Min: s[0], Max: s[len(s)-1], Runs: values}
}

// format prints the median with verb, and its range when there were runs
// to differ.
func (f figure) format(verb string) string {
	if len(f.Runs) < 2 {
		return fmt.Sprintf(verb, f.Median)
	}
	return fmt.Sprintf(verb+" ("+verb+"–"+verb+")", f.Median, f.Min, f.Max)
}

func figureOf(runs []benchRun, f func(benchRun) float64) figure {
	var v []float64
	for _, r := range runs {
		v = append(v, f(r))
	}
	return summarize(v)
}

// benchRuns is how often the main scenario and the ceiling run, in turn:
// BENCH_RUNS, else 3 (1 for make test's handful of pods).
func benchRuns(n int) int {
	if r, err := strconv.Atoi(os.Getenv("BENCH_RUNS")); err == nil && r > 0 {
		return r
	}
	if n < 100 {
		return 1
	}
	return 3
}

// downReasons are the events of a pod's way out; every other event about a
// pod is of its way to Running.
var downReasons = map[string]bool{"Killing": true, "ProviderDeleteSuccess": true, "ProviderDeleteFailed": true, "FunctionDeleteFailed": true}

// countEvents counts the event writes about ns's pods (an event seen Count
// times took Count writes), once no more arrive: a broadcaster writes its
// queue out after the pods are gone.
func countEvents(t *testing.T, c kubernetes.Interface, ns string) (up, down int) {
	t.Helper()
	prev := -1
	deadline := time.Now().Add(3 * time.Minute)
	for {
		list, err := c.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
		if err == nil {
			up, down = 0, 0
			for _, e := range list.Items {
				if e.InvolvedObject.Kind != "Pod" {
					continue
				}
				if downReasons[e.Reason] {
					down += int(max(1, e.Count))
				} else {
					up += int(max(1, e.Count))
				}
			}
			if up+down == prev {
				return up, down
			}
			prev = up + down
		}
		if time.Now().After(deadline) {
			t.Logf("events of %s still arriving after 3 min: counted %d", ns, prev)
			return up, down
		}
		time.Sleep(3 * time.Second)
	}
}

func TestBench(t *testing.T) {
	n := benchPods(5)
	runs := benchRuns(n)
	// Each scenario is a subtest: its own node name, and its processes
	// stopped before the next one starts.
	// BENCH_ONLY=faas-kubelet,ceiling runs some scenarios (while working
	// on one; the figures of the others print as 0).
	only := os.Getenv("BENCH_ONLY")
	// A repeated scenario's subtests are numbered (faas-kubelet-2): node
	// names come from them, and Go's own "#01" is not valid in one.
	scenario := func(name string, f func(t *testing.T), run ...int) bool {
		if only != "" && !slices.Contains(strings.Split(only, ","), name) {
			return false
		}
		sub := name
		if len(run) > 0 && runs > 1 {
			sub = fmt.Sprintf("%s-%d", name, run[0]+1)
		}
		if !t.Run(sub, f) {
			t.FailNow()
		}
		return true
	}
	// A B A B A B: faas-kubelet, then the ceiling doing the writes that
	// run did, so that both see the same machine at the same time.
	var ours, ceilings, kwoks []benchRun
	var ratios, kwokRatios, kwokDeleteRatios []float64
	for i := range runs {
		var a benchRun
		if scenario("faas-kubelet", func(t *testing.T) { a = benchFaasKubelet(t, n) }, i) {
			ours = append(ours, a)
		}
		var b benchRun
		if scenario("ceiling", func(t *testing.T) { b = benchCeiling(t, n, a.EventsUp, a.EventsDown) }, i) {
			ceilings = append(ceilings, b)
			if a.RunningPerSec > 0 {
				ratios = append(ratios, a.RunningPerSec/b.RunningPerSec)
			}
		}
		var k benchRun
		if scenario("kwok", func(t *testing.T) { k = benchKwok(t, n) }, i) {
			kwoks = append(kwoks, k)
			if a.RunningPerSec > 0 {
				kwokRatios = append(kwokRatios, a.RunningPerSec/k.RunningPerSec)
				kwokDeleteRatios = append(kwokDeleteRatios, a.DeletePerSec/k.DeletePerSec)
			}
		}
	}
	all := append(append(slices.Clone(ours), ceilings...), kwoks...)
	var mock, mockTuned *benchRun
	if os.Getenv("BENCH_MOCK") != "0" {
		// The shipped mock's pace is its client's 5 QPS whatever the
		// number of pods: 300 show it in a few minutes.
		mockPods := min(n, 300)
		var m, mt benchRun
		if scenario("mock", func(t *testing.T) { m = benchMock(t, mockPods, false) }) {
			mock, all = &m, append(all, m)
		}
		if scenario("mock-tuned", func(t *testing.T) { mt = benchMock(t, n, true) }) {
			mockTuned, all = &mt, append(all, mt)
		}
	}
	var throttled benchRun
	var refused int
	scenario("throttled", func(t *testing.T) {
		throttled, refused = benchThrottled(t, n)
		all = append(all, throttled)
	})
	var realistic []realisticRun
	scenario("realistic", func(t *testing.T) { realistic = benchRealistic(t, min(n, 200)) })
	var memory []memoryRun
	sizes := memorySizes(n)
	for _, budget := range []string{"", "0"} {
		name := "memory"
		if budget != "" {
			name = "memory-no-budget"
		}
		scenario(name, func(t *testing.T) { memory = append(memory, benchMemory(t, sizes, budget)) })
	}
	// A restart (SIGKILL) of a node running the memory runs' largest size
	// on Lambda, a tenth of it on Azure and Function Compute.
	var restarts []restartRun
	for _, c := range clouds {
		pods := sizes[len(sizes)-1]
		if c.name != "aws-lambda" {
			pods = max(1, pods/10)
		}
		scenario("restart-"+c.name, func(t *testing.T) { restarts = append(restarts, benchRestart(t, c, pods)) })
	}
	var lambdaRestart restartRun
	for _, r := range restarts {
		if r.Cloud == "aws-lambda" {
			lambdaRestart = r
		}
	}

	figures := map[string]figure{
		"runningPodsPerSec":        figureOf(ours, func(r benchRun) float64 { return r.RunningPerSec }),
		"deletePodsPerSec":         figureOf(ours, func(r benchRun) float64 { return r.DeletePerSec }),
		"p50ActiveToRunningMs":     figureOf(ours, func(r benchRun) float64 { return r.P50ActiveMs }),
		"p99ActiveToRunningMs":     figureOf(ours, func(r benchRun) float64 { return r.P99ActiveMs }),
		"p50ActiveToSeenMs":        figureOf(ours, func(r benchRun) float64 { return r.P50SeenMs }),
		"p99ActiveToSeenMs":        figureOf(ours, func(r benchRun) float64 { return r.P99SeenMs }),
		"kibPerPod1000":            figureOf(ours, func(r benchRun) float64 { return r.KiBPerPod }),
		"cpuSecondsPerPod":         figureOf(ours, func(r benchRun) float64 { return r.CPUSecPerPod }),
		"logsFirstByteMs":          figureOf(ours, func(r benchRun) float64 { return r.LogsFirstByteMs }),
		"followNewLineMs":          figureOf(ours, func(r benchRun) float64 { return r.FollowNewLineMs }),
		"eventsPerPod":             figureOf(ours, func(r benchRun) float64 { return float64(r.EventsUp+r.EventsDown) / float64(r.Pods) }),
		"callsPerPod":              figureOf(ours, func(r benchRun) float64 { return sum(r.CallsPerPod) }),
		"ceilingRunningPodsPerSec": figureOf(ceilings, func(r benchRun) float64 { return r.RunningPerSec }),
		"ceilingDeletePodsPerSec":  figureOf(ceilings, func(r benchRun) float64 { return r.DeletePerSec }),
		"ceilingP50WrittenToSeen":  figureOf(ceilings, func(r benchRun) float64 { return r.P50SeenMs }),
		"ceilingP99WrittenToSeen":  figureOf(ceilings, func(r benchRun) float64 { return r.P99SeenMs }),
		"ceilingRatio":             summarize(ratios),
		"kwokRunningPodsPerSec":    figureOf(kwoks, func(r benchRun) float64 { return r.RunningPerSec }),
		"kwokDeletePodsPerSec":     figureOf(kwoks, func(r benchRun) float64 { return r.DeletePerSec }),
		"kwokRatio":                summarize(kwokRatios),
		"kwokDeleteRatio":          summarize(kwokDeleteRatios),
	}
	ratio := func(m *benchRun) float64 {
		if m == nil || m.RunningPerSec == 0 {
			return 0
		}
		return figures["runningPodsPerSec"].Median / m.RunningPerSec
	}
	worst := func(f func(realisticRun) float64) float64 {
		w := 0.0
		for _, r := range realistic {
			w = max(w, f(r))
		}
		return w
	}
	var budgetOn memoryStep
	if len(memory) > 0 && len(memory[0].Steps) > 0 && memory[0].Budget == "default" {
		budgetOn = memory[0].Steps[len(memory[0].Steps)-1]
	}

	var b strings.Builder
	row := func(name string, pods, runs int, running, deleted string) {
		fmt.Fprintf(&b, "%-36s %6d %4d  %-26s %-26s\n", name, pods, runs, running, deleted)
	}
	fmt.Fprintf(&b, "%-36s %6s %4s  %-26s %-26s\n", "run", "pods", "runs", "running pods/s (range)", "deleted pods/s (range)")
	if len(ours) > 0 {
		row("faas-kubelet", n, len(ours), figures["runningPodsPerSec"].format("%.1f"), figures["deletePodsPerSec"].format("%.1f"))
	}
	if len(ceilings) > 0 {
		row("API server ceiling (bare kubelet)", n, len(ceilings), figures["ceilingRunningPodsPerSec"].format("%.1f"), figures["ceilingDeletePodsPerSec"].format("%.1f"))
	}
	if len(kwoks) > 0 {
		row("kwok (statuses only)", n, len(kwoks), figures["kwokRunningPodsPerSec"].format("%.1f"), figures["kwokDeletePodsPerSec"].format("%.1f"))
	}
	for _, m := range []*benchRun{mock, mockTuned} {
		if m != nil {
			row(m.Name, m.Pods, 1, fmt.Sprintf("%.1f", m.RunningPerSec), fmt.Sprintf("%.1f", m.DeletePerSec))
		}
	}
	if throttled.Pods > 0 {
		row("faas-kubelet, CreateFunction 15/s", throttled.Pods, 1, fmt.Sprintf("%.1f", throttled.RunningPerSec), fmt.Sprintf("%.1f", throttled.DeletePerSec))
	}
	fmt.Fprintf(&b, "faas-kubelet: %s of the ceiling (per run pair); p50/p99 active→Running %s/%s ms (written in the API server; seen by this harness's watch %s/%s ms); cloud calls per pod %s; %s events per pod; %s KiB RSS per pod at %d pods and %s CPU s per pod; kubectl logs first byte %s ms, -f new line %s ms\n",
		figures["ceilingRatio"].format("%.2f"), figures["p50ActiveToRunningMs"].format("%.0f"), figures["p99ActiveToRunningMs"].format("%.0f"),
		figures["p50ActiveToSeenMs"].format("%.0f"), figures["p99ActiveToSeenMs"].format("%.0f"), figures["callsPerPod"].format("%.2f"),
		figures["eventsPerPod"].format("%.2f"), figures["kibPerPod1000"].format("%.1f"), n, figures["cpuSecondsPerPod"].format("%.4f"),
		figures["logsFirstByteMs"].format("%.0f"), figures["followNewLineMs"].format("%.0f"))
	if r := figures["ceilingRatio"]; r.Median > 1 {
		fmt.Fprintf(&b, "API server ceiling: faas-kubelet ran faster than the bare kubelet (ratio %.2f): the ceiling is not yet the fastest client for these writes\n", r.Median)
	}
	if len(kwoks) > 0 {
		fmt.Fprintf(&b, "kwok: faas-kubelet ran %s of kwok's pace to Running and %s to deleted (per run pair)\n",
			figures["kwokRatio"].format("%.2f"), figures["kwokDeleteRatio"].format("%.2f"))
	}
	fmt.Fprintf(&b, "API server ceiling: p50/p99 status written→seen by this harness %s/%s ms (how late this harness's watch is)\n",
		figures["ceilingP50WrittenToSeen"].format("%.0f"), figures["ceilingP99WrittenToSeen"].format("%.0f"))
	for _, r := range realistic {
		fmt.Fprintf(&b, "realistic (create %s, Pending %s) on %s, %d pods: p50/p99 created→Running %.0f/%.0f ms, Active→Running %.0f/%.0f ms; calls per pod lifetime %.2f (%s)\n",
			realisticCreate, realisticPending, r.Cloud, r.Pods, r.P50CreatedMs, r.P99CreatedMs, r.P50ActiveMs, r.P99ActiveMs, r.Calls, callsByOp(r.CallsPerPod))
	}
	for _, m := range memory {
		fmt.Fprintf(&b, "memory (Deployments, memoryPerPod %s):", m.Budget)
		for i, s := range m.Steps {
			if i > 0 {
				b.WriteString(";")
			}
			fmt.Fprintf(&b, " %d pods: RSS %.0f MiB (%.1f KiB per pod), peak %.0f MiB (%.1f KiB per pod), %.4f CPU s per pod, %.1f pods/s to Running",
				s.Pods, s.RSSMiB, s.KiBPerPod, s.PeakMiB, s.PeakKiBPerPod, s.CPUSecPerPod, s.RunningPerSec)
		}
		b.WriteString("\n")
	}
	for _, r := range restarts {
		fmt.Fprintf(&b, "restart (SIGKILL) of %d pods on %s: every pod confirmed and a new one Running %.1f s after the kill; %.3f cloud calls per pod (%s); %d adopted from the listing",
			r.Pods, r.Cloud, r.Seconds, r.CallsPerPod, callCounts(r.Calls), r.FromListing)
		if r.P99ActiveMs > 0 {
			fmt.Fprintf(&b, "; its rollout's p50/p99 Active→Running %.0f/%.0f ms", r.P50ActiveMs, r.P99ActiveMs)
		}
		b.WriteString("\n")
	}
	floor := float64(n) / 15
	throttledSeconds := 0.0
	if throttled.RunningPerSec > 0 {
		throttledSeconds = float64(n) / throttled.RunningPerSec
		fmt.Fprintf(&b, "throttled (CreateFunction 15/s, 200 ms; Pending 2 s): %d pods Running in %.1f s = %.2f× the %.1f s floor; %d calls answered 429\n",
			n, throttledSeconds, throttledSeconds/floor, floor, refused)
	}
	line := fmt.Sprintf("bench: running_pods_per_s=%.1f ceiling_ratio=%.2f mock_ratio=%.1f delete_pods_per_s=%.1f calls_per_pod=%.2f kib_per_pod=%.1f p99_active_to_running_ms=%.0f mock_tuned_ratio=%.2f realistic_p99_created_to_running_ms=%.0f realistic_p99_active_to_running_ms=%.0f peak_kib_per_pod_10k=%.1f runs=%d kwok_ratio=%.2f kwok_delete_ratio=%.2f restart_s=%.1f restart_calls_per_pod=%.3f p99_active_to_running_10k_ms=%.0f",
		figures["runningPodsPerSec"].Median, figures["ceilingRatio"].Median, ratio(mock), figures["deletePodsPerSec"].Median, figures["callsPerPod"].Median,
		budgetOn.KiBPerPod, figures["p99ActiveToRunningMs"].Median, ratio(mockTuned),
		worst(func(r realisticRun) float64 { return r.P99CreatedMs }), worst(func(r realisticRun) float64 { return r.P99ActiveMs }),
		budgetOn.PeakKiBPerPod, runs, figures["kwokRatio"].Median, figures["kwokDeleteRatio"].Median,
		lambdaRestart.Seconds, lambdaRestart.CallsPerPod, lambdaRestart.P99ActiveMs)
	fmt.Print(b.String())
	fmt.Println(line)
	if out := os.Getenv("BENCH_JSON"); out != "" {
		data, _ := json.MarshalIndent(map[string]any{"runs": all, "figures": figures, "summary": line, "machine": machine(), "runsPerScenario": runs,
			"realistic": realistic, "memory": memory, "restarts": restarts,
			"throttled": map[string]any{"pods": n, "runningSeconds": throttledSeconds, "floorSeconds": floor, "ratioToFloor": throttledSeconds / floor, "answered429": refused}},
			"", "  ")
		if err := os.WriteFile(out, data, 0o644); err != nil {
			t.Error(err)
		}
	}
}

func sum(m map[string]float64) float64 {
	s := 0.0
	for _, v := range m {
		s += v
	}
	return s
}

// callsByOp lists calls per pod by operation, sorted.
func callsByOp(m map[string]float64) string { return byOp(m, "%s %.2f") }

// byOp lists a figure per operation with format (the operation, then the
// figure), sorted.
func byOp[V int | float64](m map[string]V, format string) string {
	ops := make([]string, 0, len(m))
	for op, v := range m {
		ops = append(ops, fmt.Sprintf(format, op, v))
	}
	sort.Strings(ops)
	return strings.Join(ops, ", ")
}
