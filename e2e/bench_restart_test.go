//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/lambda"
	corev1 "k8s.io/api/core/v1"
)

// restartRun is one restart of a node running many pods: SIGKILL, a new
// process, and how long and how many cloud calls until it runs every pod
// again and one new pod is Running.
type restartRun struct {
	Cloud string `json:"cloud"`
	Pods  int    `json:"pods"`
	// Seconds from the SIGKILL to every pod recorded Running by the new
	// process (its faas_kubelet_pods gauge) and a pod created after the
	// kill Running in the API server.
	Seconds float64 `json:"seconds"`
	// Calls are the cloud calls of that window, by operation; CallsPerPod
	// their total over Pods.
	Calls       map[string]int `json:"calls"`
	CallsPerPod float64        `json:"callsPerPod"`
	// FromListing are the pods the new process adopted from the listing,
	// with no call of their own.
	FromListing int `json:"adoptedFromListing"`
	// P99ActiveMs is the rollout's p99 Active→Running (Lambda: as the main
	// scenario measures it), at Pods pods.
	P50ActiveMs float64 `json:"p50ActiveToRunningMs,omitempty"`
	P99ActiveMs float64 `json:"p99ActiveToRunningMs,omitempty"`
	// RolloutPerSec is the rollout's pace to Running (ten Deployments
	// scaled up at once).
	RolloutPerSec float64 `json:"rolloutPodsPerSec"`
}

// benchRestart runs pods on one node of the cloud (ten Deployments, no
// port), kills the process with SIGKILL, starts it again and creates one
// new pod, and measures until the new process runs every pod and the new
// one is Running.
func benchRestart(t *testing.T, c cloudUnderTest, pods int) restartRun {
	emu := startEmulator(t, "--lambda-activation-delay", "0s", "--lambda-update-delay", "0s", "--azure-provision-delay", "0s")
	addr := net.JoinHostPort(cluster.env["FAAS_KUBELET_NODE_IP"], fmt.Sprint(17300+nextPort.Add(1)))
	k := startKubelet(t, kubeletOptions{cloud: c.name, lambdaEndpoint: emu.endpoint, azureEndpoint: emu.azureEndpoint, alibabaEndpoint: emu.alibabaEndpoint,
		pods: 2 * pods, logLevel: "info", resync: "1m", health: "10s", nodeExtra: "  limits: {qps: 0}\n", args: []string{"--metrics-address", addr}})
	waitNodeReady(t, k.node, corev1.ConditionTrue, 30*time.Second)
	client := benchClient(t)
	ns := namespace(t)
	rw := watchRunning(t, client, ns, pods)
	deployments := min(10, pods)
	start := time.Now()
	for i := range deployments {
		applyYAML(t, ns, deployment(k.node, fmt.Sprintf("fleet-%02d", i), c.image, share(pods, deployments, i), "", ""))
	}
	select {
	case <-rw.done:
	case <-time.After(15 * time.Minute):
		t.Fatalf("restart: only %d of %d pods Running after 15 min", len(rw.at), pods)
	}
	run := restartRun{Cloud: c.name, Pods: pods, RolloutPerSec: float64(pods) / time.Since(start).Seconds()}
	t.Logf("rollout of %d pods on %s: %.1f pods/s to Running", pods, c.name, run.RolloutPerSec)
	if c.name == "aws-lambda" {
		run.P50ActiveMs, run.P99ActiveMs = activeToRunning(t, emu, ns, pods)
		t.Logf("rollout of %d pods: p50/p99 Active→Running %.0f/%.0f ms", pods, run.P50ActiveMs, run.P99ActiveMs)
	}
	sample := func(name string) int {
		_, body := scrape(t, "http://"+addr+"/metrics")
		return metricValue(body, fmt.Sprintf(`faas_kubelet_%s{cloud=%q,node=%q}`, name, c.name, k.node))
	}
	// Every pod recorded and its status written, nothing in flight.
	eventually(t, 2*time.Minute, "the node to settle", func() (bool, string) {
		_, body := scrape(t, "http://"+addr+"/metrics")
		n := metricValue(body, fmt.Sprintf(`faas_kubelet_pods{cloud=%q,node=%q,phase="Running"}`, c.name, k.node))
		return n == pods, fmt.Sprintf("%d of %d recorded Running", n, pods)
	})
	time.Sleep(2 * time.Second)
	before := emu.callsOf(t, c.name)

	k.kill(t)
	killed := time.Now()
	k.start(t)
	fresh := watchRunning(t, client, ns, 1)
	applyYAML(t, ns, deployment(k.node, "fresh", c.image, 1, "", ""))
	deadline := killed.Add(10 * time.Minute)
	for {
		_, body := scrape(t, "http://"+addr+"/metrics")
		n := metricValue(body, fmt.Sprintf(`faas_kubelet_pods{cloud=%q,node=%q,phase="Running"}`, c.name, k.node))
		select {
		case <-fresh.done:
			if n >= pods+1 {
				run.Seconds = time.Since(killed).Seconds()
			}
		default:
		}
		if run.Seconds > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("restart: %d of %d pods recorded Running 10 min after the kill", n, pods+1)
		}
		time.Sleep(100 * time.Millisecond)
	}
	after := emu.callsOf(t, c.name)
	run.Calls = map[string]int{}
	total := 0
	for op, n := range after {
		if d := n - before[op]; d > 0 {
			run.Calls[op] = d
			total += d
		}
	}
	run.CallsPerPod = float64(total) / float64(pods)
	run.FromListing = sample("functions_adopted_from_listing_total")
	t.Logf("restart of %d pods on %s: %.1f s, %d cloud calls (%.3f per pod: %s), %d adopted from the listing",
		pods, c.name, run.Seconds, total, run.CallsPerPod, callCounts(run.Calls), run.FromListing)
	for i := range deployments {
		mustKubectl(t, "delete", "deployment", fmt.Sprintf("fleet-%02d", i), "-n", ns, "--wait=false")
	}
	mustKubectl(t, "delete", "deployment", "fresh", "-n", ns, "--wait=false")
	waitNoPods(t, client, ns, "restart", 2*time.Second)
	return run
}

// callCounts lists calls by operation, sorted.
func callCounts(m map[string]int) string { return byOp(m, "%s %d") }

// activeToRunning is the p50 and p99 of Active→Running over the
// namespace's pods: the Lambda emulator's functions are Active once
// created (zero activation delay), LastModified is when; Running is when
// the API server completed the status write that made the pod Running
// (its audit log).
func activeToRunning(t *testing.T, emu *emulator, ns string, pods int) (float64, float64) {
	t.Helper()
	list := listPods(t, ns, "")
	written := auditRunning(t, ns, pods)
	lags := make([]float64, len(list))
	parallel(len(list), 16, func(i int) {
		out, err := emu.lambda.GetFunction(context.Background(), &sdk.GetFunctionInput{FunctionName: aws.String(functionNameOf(&list[i]))})
		if err != nil {
			lags[i] = -1
			return
		}
		active, err := time.Parse("2006-01-02T15:04:05.000-0700", aws.ToString(out.Configuration.LastModified))
		if err != nil {
			lags[i] = -1
			return
		}
		lags[i] = float64(written[list[i].Name].Sub(active).Milliseconds())
	})
	lags = slices.DeleteFunc(lags, func(v float64) bool { return v < 0 })
	sort.Float64s(lags)
	return percentile(lags, 0.50), percentile(lags, 0.99)
}
