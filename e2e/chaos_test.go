//go:build e2e && chaos

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/lambda"
	corev1 "k8s.io/api/core/v1"

	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// The chaos suite (make chaos) injects the failures users fear most and
// checks, against the emulator's inventory and the API server's pods, that
// nothing leaks, nothing live is deleted, nothing is created twice and
// every pod converges. It ends with one summary line.

// chaosTotals add up over the scenarios.
type chaosTotals struct {
	pods, kills, faults, leaked, wronglyDeleted, duplicates, unconverged int
}

var totals chaosTotals

// chaosLimits let one node go as fast as the emulator allows (the
// defaults protect real accounts' quotas).
const chaosLimits = "  limits: {qps: 300, burst: 300, maxConcurrent: 64}\n"

func chaosPods(def int) int {
	if n, err := strconv.Atoi(os.Getenv("CHAOS_PODS")); err == nil && n > 0 {
		return n * def / 500
	}
	return def
}

func deploymentOf(n int) string {
	return strings.Replace(helloDeployment, "replicas: 3", fmt.Sprintf("replicas: %d", n), 1)
}

// inventory maps the emulator's functions to the pod UIDs their
// descriptions name (ListFunctions returns descriptions, not tags).
func inventory(t *testing.T, emu *emulator) (map[string]string, bool) {
	t.Helper()
	out := map[string]string{}
	p := sdk.NewListFunctionsPaginator(emu.lambda, &sdk.ListFunctionsInput{MaxItems: aws.Int32(50)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			return nil, false // the emulator may be injecting faults: ask again
		}
		for _, f := range page.Functions {
			owner, _ := translate.ParseDescription(aws.ToString(f.Description))
			out[aws.ToString(f.FunctionName)] = owner[translate.TagPodUID]
		}
	}
	return out, true
}

// verdict compares the pods with the inventory: pods not Running, functions
// without a live pod, and pods with more than one function.
type verdict struct{ running, unconverged, leaked, duplicates int }

func compare(t *testing.T, emu *emulator, ns string, want int) (verdict, string) {
	t.Helper()
	pods := listPods(t, ns, "app=hello")
	live := map[string]bool{}
	v := verdict{}
	for i := range pods {
		if pods[i].DeletionTimestamp != nil {
			continue
		}
		live[string(pods[i].UID)] = true
		if pods[i].Status.Phase == corev1.PodRunning && ready(&pods[i]) {
			v.running++
		}
	}
	fns, ok := inventory(t, emu)
	if !ok {
		v.unconverged = want
		return v, "the emulator's inventory could not be read"
	}
	perUID := map[string]int{}
	for _, uid := range fns {
		if !live[uid] {
			v.leaked++
		}
		perUID[uid]++
	}
	missing := 0
	for uid := range live {
		if perUID[uid] == 0 {
			missing++
		}
	}
	for _, n := range perUID {
		if n > 1 {
			v.duplicates += n - 1
		}
	}
	v.unconverged = max(want-v.running, missing)
	return v, fmt.Sprintf("%d/%d pods Running, %d live pods without a function, %d functions without a live pod, %d duplicates",
		v.running, want, missing, v.leaked, v.duplicates)
}

// converge waits for want Running pods, each with exactly one function and
// no other function, and records what never converged.
func converge(t *testing.T, emu *emulator, ns string, want int, timeout time.Duration) verdict {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		v, desc := compare(t, emu, ns, want)
		if v.unconverged == 0 && v.leaked == 0 && v.duplicates == 0 && v.running == want {
			t.Logf("converged: %s", desc)
			return v
		}
		if time.Now().After(deadline) {
			t.Errorf("not converged after %s: %s", timeout, desc)
			return v
		}
		time.Sleep(time.Second)
	}
}

// drained waits for the Deployment's pods and their functions to be gone
// and returns the functions left behind.
func drained(t *testing.T, emu *emulator, ns string, timeout time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		inv, ok := inventory(t, emu)
		pods, fns := len(listPods(t, ns, "app=hello")), len(inv)
		if ok && pods == 0 && fns == 0 {
			return 0
		}
		if time.Now().After(deadline) {
			t.Errorf("after %s: %d pods and %d functions left", timeout, pods, fns)
			return fns
		}
		time.Sleep(time.Second)
	}
}

func deletes(t *testing.T, emu *emulator) int { return emu.calls(t)["DeleteFunction"] }

// expect counts a scenario's pods as unconverged until record says better,
// so a scenario that never gets to converge counts against the summary.
func expect(n int) {
	totals.pods += n
	totals.unconverged += n
}

func record(v verdict, wronglyDeleted, pods int) {
	totals.unconverged -= pods - v.unconverged
	totals.leaked += v.leaked
	totals.duplicates += v.duplicates
	totals.wronglyDeleted += wronglyDeleted
}

func TestChaos(t *testing.T) {
	start := time.Now()
	seed := uint64(time.Now().UnixNano())
	rnd := rand.New(rand.NewPCG(seed, 7))
	t.Logf("random seed %d", seed)
	// Subtest names name the nodes: DNS labels.
	t.Run("kills", func(t *testing.T) { chaosKills(t, rnd) })
	t.Run("cloud-faults", chaosCloudFaults)
	t.Run("healable-refusal", chaosRefusal)
	t.Run("apiserver-outage", chaosAPIServer)
	t.Run("leader-loss", chaosLeader)
	line := fmt.Sprintf("chaos: pods=%d kills=%d faults=%d leaked=%d wrongly_deleted=%d duplicates=%d unconverged=%d seconds=%d",
		totals.pods, totals.kills, totals.faults, totals.leaked, totals.wronglyDeleted, totals.duplicates, totals.unconverged, int(time.Since(start).Seconds()))
	fmt.Println(line)
	if out := os.Getenv("CHAOS_SUMMARY"); out != "" {
		_ = os.WriteFile(out, []byte(line+"\n"), 0o644)
	}
	if totals.leaked+totals.wronglyDeleted+totals.duplicates+totals.unconverged > 0 {
		t.Error(line)
	}
}

// kill -9 faas-kubelet five times at random moments during a rollout, and
// five times during the mass delete that follows.
func chaosKills(t *testing.T, rnd *rand.Rand) {
	n := chaosPods(500)
	expect(n)
	emu := startEmulator(t)
	k := startKubelet(t, kubeletOptions{cloud: "aws-lambda", lambdaEndpoint: emu.endpoint, nodeExtra: chaosLimits, pods: 2 * n})
	waitNodeReady(t, k.node, corev1.ConditionTrue, 30*time.Second)
	ns := namespace(t)
	applyYAML(t, ns, deploymentOf(n))
	for i := 0; i < 5; i++ {
		time.Sleep(time.Duration(500+rnd.IntN(4000)) * time.Millisecond)
		k.kill(t)
		totals.kills++
		k.start(t)
	}
	v := converge(t, emu, ns, n, 8*time.Minute)
	wrong := deletes(t, emu) // nothing was deleted by anyone: any delete was wrong
	record(v, wrong, n)

	mustKubectl(t, "delete", "deployment/hello", "-n", ns, "--wait=false")
	for i := 0; i < 5; i++ {
		time.Sleep(time.Duration(500+rnd.IntN(3000)) * time.Millisecond)
		k.kill(t)
		totals.kills++
		k.start(t)
	}
	k.waitStarted(t)
	totals.leaked += drained(t, emu, ns, 8*time.Minute)
	t.Logf("emulator calls for %d pods: %v", n, emu.calls(t))
}

// The emulated cloud fails 20 % of calls with 503 (half of them after
// doing the work), throttles 10 % with Retry-After and delays 5 % by 1.5 s
// while a Deployment rolls out.
func chaosCloudFaults(t *testing.T) {
	n := chaosPods(200)
	expect(n)
	emu := startEmulator(t)
	k := startKubelet(t, kubeletOptions{cloud: "aws-lambda", lambdaEndpoint: emu.endpoint, nodeExtra: chaosLimits, pods: 2 * n})
	waitNodeReady(t, k.node, corev1.ConditionTrue, 30*time.Second)
	setChaos(t, emu, `{"serverErrorRate": 0.2, "throttleRate": 0.1, "retryAfter": 1, "spikeRate": 0.05, "spikeMs": 1500, "exceptOps": ["GetAccountSettings"]}`)
	ns := namespace(t)
	applyYAML(t, ns, deploymentOf(n))
	v := converge(t, emu, ns, n, 8*time.Minute)
	injected := chaosInjected(t, emu)
	setChaos(t, emu, "")
	totals.faults += injected
	calls := emu.calls(t)
	total := 0
	for op, c := range calls {
		if op != "ListFunctions" { // the test's own inventory reads list too
			total += c
		}
	}
	t.Logf("%d faults injected; %d cloud calls besides listings for %d pods (%.1f per pod), retries included: %v", injected, total, n, float64(total)/float64(n), calls)
	record(v, deletes(t, emu), n)
	mustKubectl(t, "delete", "deployment/hello", "-n", ns, "--wait=false")
	totals.leaked += drained(t, emu, ns, 5*time.Minute)
}

// The cloud refuses the node's execution role for 20 s of a rollout (as
// IAM does until a new role propagates) and faas-kubelet is killed while
// pods wait for it: every pod converges, each with one function, and no
// pod was replaced.
func chaosRefusal(t *testing.T) {
	n := chaosPods(100)
	expect(n)
	emu := startEmulator(t)
	k := startKubelet(t, kubeletOptions{cloud: "aws-lambda", lambdaEndpoint: emu.endpoint, nodeExtra: chaosLimits, pods: 2 * n})
	waitNodeReady(t, k.node, corev1.ConditionTrue, 30*time.Second)
	emu.setRefusals(t, "aws-lambda", `{"roles": ["arn:aws:iam::123456789012:role/e2e"]}`)
	ns := namespace(t)
	applyYAML(t, ns, deploymentOf(n))
	time.Sleep(8 * time.Second)
	k.kill(t)
	totals.kills++
	k.start(t)
	time.Sleep(12 * time.Second)
	emu.setRefusals(t, "aws-lambda", "")
	totals.faults++
	v := converge(t, emu, ns, n, 8*time.Minute)
	if pods := listPods(t, ns, "app=hello"); len(pods) != n {
		t.Errorf("%d pods, want %d: pods were replaced while the cloud refused them", len(pods), n)
		v.unconverged += len(pods) - n
	}
	record(v, deletes(t, emu), n)
	mustKubectl(t, "delete", "deployment/hello", "-n", ns, "--wait=false")
	totals.leaked += drained(t, emu, ns, 5*time.Minute)
}

// The API server is stopped for 30 s in the middle of a rollout, then
// started again.
func chaosAPIServer(t *testing.T) {
	n := chaosPods(200)
	expect(n)
	emu := startEmulator(t)
	k := startKubelet(t, kubeletOptions{cloud: "aws-lambda", lambdaEndpoint: emu.endpoint, nodeExtra: chaosLimits, pods: 2 * n})
	waitNodeReady(t, k.node, corev1.ConditionTrue, 30*time.Second)
	ns := namespace(t)
	applyYAML(t, ns, deploymentOf(n))
	time.Sleep(3 * time.Second)
	script := filepath.Join(cluster.repo, "hack", "cluster.sh")
	if out, err := exec.Command(script, "stop-apiserver").CombinedOutput(); err != nil {
		t.Fatalf("stop-apiserver: %v\n%s", err, out)
	}
	time.Sleep(30 * time.Second)
	if out, err := exec.Command(script, "start-apiserver").CombinedOutput(); err != nil {
		t.Fatalf("start-apiserver: %v\n%s", err, out)
	}
	totals.faults++
	v := converge(t, emu, ns, n, 8*time.Minute)
	record(v, deletes(t, emu), n)
	mustKubectl(t, "delete", "deployment/hello", "-n", ns, "--wait=false")
	totals.leaked += drained(t, emu, ns, 5*time.Minute)
}

// Two replicas run the node; the leader is killed mid-rollout.
func chaosLeader(t *testing.T) {
	n := chaosPods(100)
	expect(n)
	emu := startEmulator(t)
	a := startKubelet(t, kubeletOptions{cloud: "aws-lambda", lambdaEndpoint: emu.endpoint, nodeExtra: chaosLimits, pods: 2 * n, leaderElection: true})
	waitNodeReady(t, a.node, corev1.ConditionTrue, 30*time.Second)
	b := a.replica(t, "replica-b")
	ns := namespace(t)
	applyYAML(t, ns, deploymentOf(n))
	time.Sleep(2 * time.Second)
	leader, standby := a, b
	if h := leaseHolder(t, a.node); !holds(h, a) {
		leader, standby = b, a
	}
	leader.kill(t)
	totals.kills++
	killed := time.Now()
	eventually(t, 20*time.Second, "the standby to take over within 20 s", func() (bool, string) {
		h := leaseHolder(t, a.node)
		return holds(h, standby), h
	})
	t.Logf("takeover %.1f s after SIGKILL", time.Since(killed).Seconds())
	v := converge(t, emu, ns, n, 8*time.Minute)
	record(v, deletes(t, emu), n)
	mustKubectl(t, "delete", "deployment/hello", "-n", ns, "--wait=false")
	totals.leaked += drained(t, emu, ns, 5*time.Minute)
}

func setChaos(t *testing.T, emu *emulator, body string) {
	t.Helper()
	method := http.MethodPut
	if body == "" {
		method = http.MethodDelete
	}
	req, _ := http.NewRequest(method, emu.endpoint+"/_emulator/chaos", bytes.NewReader([]byte(body)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("%s /_emulator/chaos: %d", method, resp.StatusCode)
	}
}

func chaosInjected(t *testing.T, emu *emulator) int {
	t.Helper()
	resp, err := http.Get(emu.endpoint + "/_emulator/chaos")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Injected int `json:"injected"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.Injected
}
