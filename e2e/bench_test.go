//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/lambda"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/faas-kubelet/faas-kubelet/pkg/kubewatch"
)

// The benchmark (make bench) runs one workload on the real control plane,
// side by side: faas-kubelet with the Lambda emulator at zero latency, three
// times, each run followed by the API server's ceiling (the fastest bare
// kubelet this harness can be, doing the same writes: bench_ceiling_test.go);
// then Virtual Kubelet's own mock provider as shipped and the same provider
// with faas-kubelet's client, workers and queue limits (hack/vkmock-tuned);
// an account-shaped scenario (CreateFunction 15/s); the path real clouds take
// on each cloud (bench_realistic_test.go); and memory at two sizes of
// Deployments with the memory budget on and off (bench_memory_test.go). Pods
// of the throughput runs are created already bound to the node (the
// scheduler is not what is measured there). It prints a table, a summary
// line and writes every figure, with its range over the runs, as JSON
// (bench_report_test.go). It never asserts a timing: make test runs it on a
// handful of pods only to keep the harness working.

// benchRun is what one run measured.
type benchRun struct {
	Name          string  `json:"name"`
	Pods          int     `json:"pods"`
	RunningPerSec float64 `json:"runningPodsPerSec"`
	DeletePerSec  float64 `json:"deletePodsPerSec"`
	P50ActiveMs   float64 `json:"p50ActiveToRunningMs,omitempty"`
	P99ActiveMs   float64 `json:"p99ActiveToRunningMs,omitempty"`
	// When this harness's watch saw Running, from the same start.
	P50SeenMs       float64            `json:"p50ActiveToSeenMs,omitempty"`
	P99SeenMs       float64            `json:"p99ActiveToSeenMs,omitempty"`
	CallsPerPod     map[string]float64 `json:"callsPerPod,omitempty"`
	KiBPerPod       float64            `json:"kibPerPod,omitempty"`
	CPUSecPerPod    float64            `json:"cpuSecondsPerPod,omitempty"`
	LogsFirstByteMs float64            `json:"logsFirstByteMs,omitempty"`
	FollowNewLineMs float64            `json:"followNewLineMs,omitempty"`
	// Events written about the run's pods on their way to Running and on
	// their way out (faas-kubelet's are what the ceiling after it writes).
	EventsUp   int `json:"eventsUp,omitempty"`
	EventsDown int `json:"eventsDown,omitempty"`
}

func benchPods(def int) int {
	if n, err := strconv.Atoi(os.Getenv("BENCH_PODS")); err == nil && n > 0 {
		return n
	}
	return def
}

// benchClient is a client as fast as the API server lets it be.
func benchClient(t *testing.T) kubernetes.Interface {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", cluster.env["KUBECONFIG"])
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 2000, 4000
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	return kubernetes.NewForConfigOrDie(cfg)
}

func boundPod(ns, node string, i int) *corev1.Pod { return boundPodOf(ns, node, ecrImage, i) }

func boundPodOf(ns, node, image string, i int) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("bench-%05d", i), Namespace: ns, Labels: map[string]string{"app": "bench"}},
		Spec: corev1.PodSpec{
			NodeName:                      node,
			TerminationGracePeriodSeconds: aws.Int64(1),
			Tolerations:                   []corev1.Toleration{{Key: "virtual-kubelet.io/provider", Operator: corev1.TolerationOpExists}},
			Containers: []corev1.Container{{Name: "fn", Image: image,
				Resources: corev1.ResourceRequirements{}}},
		},
	}
}

// parallel runs f(i) for i in [0, n) on workers goroutines.
func parallel(n, workers int, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				f(i)
			}
		}()
	}
	wg.Wait()
}

// watchRunning records when each pod of ns turns Running, until all n have.
type runningWatch struct {
	mu   sync.Mutex
	at   map[types.UID]time.Time
	name map[types.UID]string
	done chan struct{}
}

func watchRunning(t *testing.T, _ kubernetes.Interface, ns string, n int) *runningWatch {
	t.Helper()
	rw := &runningWatch{at: map[types.UID]time.Time{}, name: map[types.UID]string{}, done: make(chan struct{})}
	// An informer on a client of its own (a bare watch sharing the creating
	// client's connection falls behind under load), whose watch is resumed
	// when the API server closes it: the reflector's back-off and relist
	// after a watch closed early stalled this harness 1-3 s in some runs,
	// which showed up as faas-kubelet's p99.
	informer := cache.NewSharedIndexInformer(kubewatch.Pods(benchClient(t), ns, nil), &corev1.Pod{}, 0, cache.Indexers{})
	seen := func(obj any) {
		pod, ok := obj.(*corev1.Pod)
		if !ok || pod.Status.Phase != corev1.PodRunning {
			return
		}
		rw.mu.Lock()
		defer rw.mu.Unlock()
		if _, dup := rw.at[pod.UID]; dup {
			return
		}
		rw.at[pod.UID] = time.Now()
		rw.name[pod.UID] = pod.Name
		if len(rw.at) == n {
			close(rw.done)
		}
	}
	_, _ = informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    seen,
		UpdateFunc: func(_, obj any) { seen(obj) },
	})
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go informer.Run(stop)
	cache.WaitForCacheSync(stop, informer.HasSynced)
	return rw
}

// rollout creates n bound pods, waits for all Running, deletes them and
// waits for all gone.
func rollout(t *testing.T, name, node string, n int) (benchRun, *runningWatch, string) {
	return rolloutOf(t, name, node, ecrImage, n)
}

func rolloutOf(t *testing.T, name, node, image string, n int) (benchRun, *runningWatch, string) {
	t.Helper()
	c := benchClient(t)
	ns := namespace(t)
	rw := watchRunning(t, c, ns, n)
	start := time.Now()
	parallel(n, 32, func(i int) {
		if _, err := c.CoreV1().Pods(ns).Create(context.Background(), boundPodOf(ns, node, image, i), metav1.CreateOptions{}); err != nil {
			t.Errorf("create: %v", err)
		}
	})
	select {
	case <-rw.done:
	case <-time.After(10 * time.Minute):
		t.Fatalf("%s: only %d of %d pods Running after 10 min", name, len(rw.at), n)
	}
	run := benchRun{Name: name, Pods: n, RunningPerSec: float64(n) / time.Since(start).Seconds()}
	start = time.Now()
	parallel(n, 32, func(i int) {
		if err := c.CoreV1().Pods(ns).Delete(context.Background(), fmt.Sprintf("bench-%05d", i), metav1.DeleteOptions{}); err != nil {
			t.Errorf("delete: %v", err)
		}
	})
	waitNoPods(t, c, ns, name, 100*time.Millisecond)
	run.DeletePerSec = float64(n) / time.Since(start).Seconds()
	return run, rw, ns
}

// procStats reads a process's resident memory (KiB) and CPU seconds.
func procStats(pid int) (rssKiB, cpuSec float64) {
	if data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
				rssKiB, _ = strconv.ParseFloat(f[1], 64)
			}
		}
	}
	if data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		s := string(data)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		utime, _ := strconv.ParseFloat(f[11], 64)
		stime, _ := strconv.ParseFloat(f[12], 64)
		cpuSec = (utime + stime) / 100 // USER_HZ
	}
	return rssKiB, cpuSec
}

func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

// benchFaasKubelet measures faas-kubelet with the Lambda emulator at zero
// latency.
func benchFaasKubelet(t *testing.T, n int) benchRun {
	emu := startEmulator(t, "--lambda-activation-delay", "0s", "--lambda-update-delay", "0s")
	level := os.Getenv("BENCH_LOG_LEVEL") // debug shows each status write
	if level == "" {
		level = "info"
	}
	// BENCH_KUBELET_ENV="GOGC=50 ..." sets faas-kubelet's environment;
	// BENCH_PPROF=DIR saves a CPU profile of the rollout and a heap profile
	// with every pod Running.
	profiles := os.Getenv("BENCH_PPROF")
	var args []string
	pprofURL := ""
	if profiles != "" {
		addr := fmt.Sprintf("%s:%d", cluster.env["FAAS_KUBELET_NODE_IP"], 16060+nextPort.Add(1))
		args, pprofURL = []string{"--pprof-address", addr}, "http://"+addr+"/debug/pprof/"
	}
	k := startKubelet(t, kubeletOptions{cloud: "aws-lambda", lambdaEndpoint: emu.endpoint, pods: 2 * n, logLevel: level, args: args, resync: "1m", health: "10s",
		nodeExtra: "  limits: {qps: 0}\n", topExtra: os.Getenv("BENCH_TOP_CONFIG"), env: strings.Fields(os.Getenv("BENCH_KUBELET_ENV"))})
	waitNodeReady(t, k.node, corev1.ConditionTrue, 30*time.Second)
	pid := k.cmd.Process.Pid
	rss0, cpu0 := procStats(pid)
	before := emu.calls(t)

	c := benchClient(t)
	ns := namespace(t)
	rw := watchRunning(t, c, ns, n)
	var cpuProfile sync.WaitGroup
	if pprofURL != "" {
		cpuProfile.Add(1)
		go func() {
			defer cpuProfile.Done()
			saveURL(t, pprofURL+"profile?seconds=10", filepath.Join(profiles, "cpu.pprof"))
		}()
	}
	start := time.Now()
	parallel(n, 32, func(i int) {
		if _, err := c.CoreV1().Pods(ns).Create(context.Background(), boundPod(ns, k.node, i), metav1.CreateOptions{}); err != nil {
			t.Errorf("create: %v", err)
		}
	})
	select {
	case <-rw.done:
	case <-time.After(10 * time.Minute):
		t.Fatalf("only %d of %d pods Running after 10 min", len(rw.at), n)
	}
	run := benchRun{Name: "faas-kubelet", Pods: n, RunningPerSec: float64(n) / time.Since(start).Seconds()}
	// Memory per tracked pod: resident set growth once the rollout's
	// garbage is collected and returned (the Go runtime gives memory back
	// within minutes; 20 s after the last pod turned Running here).
	time.Sleep(settleTime(n))
	rss1, _ := procStats(pid)
	run.KiBPerPod = (rss1 - rss0) / float64(n)
	if pprofURL != "" {
		saveURL(t, pprofURL+"heap", filepath.Join(profiles, "heap.pprof"))
		cpuProfile.Wait()
	}

	// Active → Running: the emulator's functions are Active once created
	// (zero activation delay); LastModified is when. Running is when the
	// API server completed the status write that made the pod Running (its
	// audit log); when this harness's watch saw it is printed alongside.
	pods := listPods(t, ns, "app=bench")
	written := auditRunning(t, ns, len(pods))
	rw.mu.Lock()
	seen := map[string]time.Time{}
	for uid, at := range rw.at {
		seen[rw.name[uid]] = at
	}
	rw.mu.Unlock()
	var lags, seenLags []float64
	var lagLog strings.Builder
	for i := range pods {
		out, err := emu.lambda.GetFunction(context.Background(), &sdk.GetFunctionInput{FunctionName: aws.String(functionNameOf(&pods[i]))})
		if err != nil {
			continue
		}
		active, err := time.Parse("2006-01-02T15:04:05.000-0700", aws.ToString(out.Configuration.LastModified))
		if err != nil {
			continue
		}
		name := pods[i].Name
		lags = append(lags, float64(written[name].Sub(active).Milliseconds()))
		seenLags = append(seenLags, float64(seen[name].Sub(active).Milliseconds()))
		fmt.Fprintf(&lagLog, "%s %s %s %s\n", name, active.UTC().Format(time.RFC3339Nano), written[name].UTC().Format(time.RFC3339Nano), seen[name].UTC().Format(time.RFC3339Nano))
	}
	sort.Float64s(lags)
	sort.Float64s(seenLags)
	run.P50ActiveMs, run.P99ActiveMs = percentile(lags, 0.50), percentile(lags, 0.99)
	run.P50SeenMs, run.P99SeenMs = percentile(seenLags, 0.50), percentile(seenLags, 0.99)

	// kubectl logs: time to first byte, and how soon -f shows a new line.
	first := pods[0]
	_, _ = emu.lambda.Invoke(context.Background(), &sdk.InvokeInput{FunctionName: aws.String(functionNameOf(&first)), Payload: []byte(`{}`)})
	run.LogsFirstByteMs = logsFirstByte(t, ns, first.Name)
	run.FollowNewLineMs = followLatency(t, emu, ns, &first)

	start = time.Now()
	parallel(n, 32, func(i int) {
		if err := c.CoreV1().Pods(ns).Delete(context.Background(), fmt.Sprintf("bench-%05d", i), metav1.DeleteOptions{}); err != nil {
			t.Errorf("delete: %v", err)
		}
	})
	waitNoPods(t, c, ns, "faas-kubelet", 100*time.Millisecond)
	run.DeletePerSec = float64(n) / time.Since(start).Seconds()
	_, cpu1 := procStats(pid)
	run.CPUSecPerPod = (cpu1 - cpu0) / float64(n)
	if out := os.Getenv("BENCH_LOG"); out != "" { // keep faas-kubelet's log
		if data, err := os.ReadFile(k.logFile); err == nil {
			_ = os.WriteFile(out, data, 0o644)
		}
		_ = os.WriteFile(out+".lags", []byte(lagLog.String()), 0o644)
	}
	// Calls per pod lifetime: what creating, tracking and deleting cost.
	// The health ping (GetAccountSettings, every 10 s per node), the logs
	// measurement and the harness's own reads are not per pod.
	after := emu.calls(t)
	run.CallsPerPod = map[string]float64{}
	skip := map[string]bool{"GetAccountSettings": true, "Invoke": true, "FilterLogEvents": true, "GetLogEvents": true, "DescribeLogStreams": true}
	for op, c := range after {
		d := c - before[op]
		if op == "GetFunction" {
			d -= len(pods) // the harness read each function once for the lag figures
		}
		if d > 0 && !skip[op] {
			run.CallsPerPod[op] = float64(d) / float64(n)
		}
	}
	run.EventsUp, run.EventsDown = countEvents(t, c, ns)
	return run
}

// saveURL writes what GET url answers to path.
func saveURL(t *testing.T, url, path string) {
	resp, err := http.Get(url)
	if err != nil {
		t.Errorf("GET %s: %v", url, err)
		return
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err == nil {
		err = os.WriteFile(path, data, 0o644)
	}
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("saving %s: %v (HTTP %d)", url, err, resp.StatusCode)
	}
}

func logsFirstByte(t *testing.T, ns, pod string) float64 {
	t.Helper()
	cmd := exec.Command(cluster.kubectl, "logs", "-n", ns, pod)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+cluster.env["KUBECONFIG"])
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1)
	_, _ = io.ReadFull(out, buf)
	ms := float64(time.Since(start).Microseconds()) / 1000
	_, _ = io.Copy(io.Discard, out)
	_ = cmd.Wait()
	return ms
}

func followLatency(t *testing.T, emu *emulator, ns string, pod *corev1.Pod) float64 {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	follow := kubectlStream(ctx, t, "logs", "-n", ns, pod.Name, "-f", "--tail=1")
	time.Sleep(1500 * time.Millisecond)
	marker := fmt.Sprintf("marker-%d", time.Now().UnixNano())
	start := time.Now()
	if _, err := emu.lambda.Invoke(ctx, &sdk.InvokeInput{FunctionName: aws.String(functionNameOf(pod)), Payload: []byte(`{"m":"` + marker + `"}`)}); err != nil {
		t.Fatal(err)
	}
	for time.Since(start) < 15*time.Second {
		if strings.Contains(follow.String(), marker) {
			return float64(time.Since(start).Milliseconds())
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("kubectl logs -f never showed the new line")
	return 0
}

// benchThrottled runs the rollout against an emulated account like a real
// one: CreateFunction takes 200 ms and is allowed 15 times a second,
// functions stay Pending for 2 s. faas-kubelet runs with its shipped
// defaults (Lambda's limits: 15 control-plane requests/s). The floor is
// n/15 seconds.
func benchThrottled(t *testing.T, n int) (benchRun, int) {
	emu := startEmulator(t, "--lambda-activation-delay", "2s", "--op-latency", "CreateFunction=200ms", "--op-rate", "CreateFunction=15")
	k := startKubelet(t, kubeletOptions{cloud: "aws-lambda", lambdaEndpoint: emu.endpoint, pods: 2 * n, logLevel: "info", resync: "1m", health: "10s"})
	waitNodeReady(t, k.node, corev1.ConditionTrue, 30*time.Second)
	run, _, _ := rollout(t, "faas-kubelet throttled", k.node, n)
	var q struct {
		Throttled int `json:"throttled"`
	}
	resp, err := http.Get(emu.endpoint + "/_emulator/quotas")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&q); err != nil {
		t.Fatal(err)
	}
	return run, q.Throttled
}

// benchMock measures Virtual Kubelet's mock provider: as shipped
// (`virtual-kubelet --provider mock`: client-go's default client, 5 QPS and
// a burst of 10 in JSON, 10 workers, queues limited to 10 pods/s after a
// burst of 100), or tuned (hack/vkmock-tuned: the same provider with
// faas-kubelet's client, workers and queue limits).
func benchMock(t *testing.T, n int, tuned bool) benchRun {
	bin, name := cluster.env["VK_MOCK"], "VK mock, as shipped (5 QPS)"
	dir := t.TempDir()
	if tuned {
		// Part of this module: built as faas-kubelet is (TestMain), fresh.
		bin, name = filepath.Join(dir, "vkmock-tuned"), "VK mock, tuned"
		build := exec.Command("go", "build", "-o", bin, "./hack/vkmock-tuned")
		build.Dir = cluster.repo
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("building hack/vkmock-tuned: %v\n%s", err, out)
		}
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("the mock provider is not built (%s): run hack/cluster.sh build-vk (make bench does)", bin)
	}
	node := fmt.Sprintf("bench-mock-%d", time.Now().UnixNano()%100000)
	cfg := filepath.Join(dir, "mock.json")
	_ = os.WriteFile(cfg, []byte(fmt.Sprintf(`{%q: {"cpu": "1000", "memory": "4Ti", "pods": "%d"}}`, node, 2*n)), 0o600)
	port := 10300 + nextPort.Add(1)
	args := []string{"--provider", "mock", "--provider-config", cfg, "--nodename", node,
		"--metrics-addr", fmt.Sprintf("%s:%d", cluster.env["FAAS_KUBELET_NODE_IP"], port+1000),
		"--kubeconfig", cluster.env["KUBECONFIG"], "--disable-taint"}
	if tuned { // faas-kubelet's settings are its defaults
		args = []string{"--provider-config", cfg, "--nodename", node, "--kubeconfig", cluster.env["KUBECONFIG"]}
	}
	pki := cluster.env["FAAS_KUBELET_PKI"]
	runNodeProcess(t, "mock provider", bin, args, node, filepath.Join(dir, "mock.log"), "VKUBELET_POD_IP="+cluster.env["FAAS_KUBELET_NODE_IP"],
		"KUBELET_PORT="+fmt.Sprint(port),
		"APISERVER_CERT_LOCATION="+filepath.Join(pki, "apiserver.crt"), "APISERVER_KEY_LOCATION="+filepath.Join(pki, "apiserver.key"))
	waitNodeReady(t, node, corev1.ConditionTrue, 60*time.Second)
	run, _, _ := rollout(t, name, node, n)
	return run
}

// runNodeProcess runs a baseline's node process (bin with args, in the
// control plane's network namespace when it has one, logging to logPath)
// until the test ends, then stops it and deletes its node; its log's tail
// is shown if the test failed.
func runNodeProcess(t *testing.T, what, bin string, args []string, node, logPath string, env ...string) {
	t.Helper()
	var cmd *exec.Cmd
	if ns := cluster.env["FAAS_KUBELET_NETNS"]; ns != "" && ns != "none" {
		cmd = exec.Command("ip", append([]string{"netns", "exec", ns, bin}, args...)...)
	} else {
		cmd = exec.Command(bin, args...)
	}
	cmd.Env = append(append(os.Environ(), "KUBECONFIG="+cluster.env["KUBECONFIG"]), env...)
	logf, _ := os.Create(logPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
		}
		_ = cluster.client.CoreV1().Nodes().Delete(context.Background(), node, metav1.DeleteOptions{})
	})
	t.Cleanup(func() {
		if t.Failed() {
			data, _ := os.ReadFile(logPath)
			t.Logf("%s log:\n%s", what, tail(string(data), 30))
		}
	})
}

func machine() string {
	cpus := 0
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		cpus = strings.Count(string(data), "processor\t:")
	}
	return fmt.Sprintf("%d CPUs, %s", cpus, time.Now().UTC().Format("2006-01-02"))
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// auditRunning reads from the API server's audit log (hack/cluster.sh logs
// pod status writes, hack/manifests/audit-policy.yaml) when each pod of ns
// was first written Running: the moment its status write completed.
func auditRunning(t *testing.T, ns string, n int) map[string]time.Time {
	t.Helper()
	logs := filepath.Join(cluster.env["FAAS_KUBELET_RUN_DIR"], "logs")
	var got map[string]time.Time
	// The log is written in batches at least once a second, and rotated
	// (audit-<time>.log) past 100 MB.
	eventually(t, 30*time.Second, "an audit entry for every pod's Running status", func() (bool, string) {
		got = map[string]time.Time{}
		files, _ := filepath.Glob(filepath.Join(logs, "audit*.log"))
		for _, path := range files {
			readAudit(path, ns, got)
		}
		return len(got) >= n, fmt.Sprintf("%d of %d in %s", len(got), n, strings.Join(files, ", "))
	})
	return got
}

// readAudit adds to got the Running status writes of ns's pods in one
// audit log file.
func readAudit(path, ns string, got map[string]time.Time) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e struct {
			Stage     string `json:"stage"`
			ObjectRef struct {
				Namespace   string `json:"namespace"`
				Name        string `json:"name"`
				Subresource string `json:"subresource"`
			} `json:"objectRef"`
			ResponseStatus struct {
				Code int `json:"code"`
			} `json:"responseStatus"`
			RequestObject struct {
				Status corev1.PodStatus `json:"status"`
			} `json:"requestObject"`
			StageTimestamp time.Time `json:"stageTimestamp"`
		}
		if !bytes.Contains(sc.Bytes(), []byte(ns)) || json.Unmarshal(sc.Bytes(), &e) != nil {
			continue
		}
		if e.Stage != "ResponseComplete" || e.ObjectRef.Namespace != ns || e.ObjectRef.Subresource != "status" ||
			e.ResponseStatus.Code != http.StatusOK || e.RequestObject.Status.Phase != corev1.PodRunning {
			continue
		}
		if at, ok := got[e.ObjectRef.Name]; !ok || e.StageTimestamp.Before(at) {
			got[e.ObjectRef.Name] = e.StageTimestamp
		}
	}
}
