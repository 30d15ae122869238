//go:build e2e && chaos

package e2e

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/faas-kubelet/faas-kubelet/pkg/emulator/faults"
)

// The chaos suite (make chaos) injects the failures users fear most on
// every cloud (Lambda, Azure Functions, Function Compute) and measures,
// from the emulators' ledgers of calls and the test's watch of every pod,
// what went wrong. It ends with one summary line:
//
//	chaos: pods= kills= faults= leaked= wrongly_deleted= duplicates= unconverged= seconds= clouds=3 aimed_kills=
//
// The counters (see chaos_counters_test.go, whose unit tests show each can
// fail):
//   - duplicates: successful creates per resource name beyond one over the
//     whole scenario (a resource made twice, or a live pod's deleted and
//     made again);
//   - wrongly_deleted: resources a node destroyed while their pod existed
//     and was not terminating, rollouts and deletes alike;
//   - leaked: resources that outlived their pod (or never had one) by more
//     than leakGrace, replayed from the ledger after the run's deletes;
//   - unconverged: pods not Ready with their resource present
//     convergeWindow after the scenario's last fault.
//
// The test's own SDK calls carry faults.HarnessAgent and are neither
// faulted nor counted; the counters read only the node's calls.

// convergeWindow is how long after the last fault every pod must be Ready
// with its function: the create back-off after a refusal (attempts 10, 30,
// 70 s after the first) fits, with room for a restart's adoption.
const convergeWindow = 90 * time.Second

// leakGrace is how long a resource may outlive its pod: the node's
// resync (2 s here) deletes orphans, after retries under faults.
const leakGrace = 60 * time.Second

// deleteSlack allows for the test's watch seeing a pod terminate a little
// after the node did.
const deleteSlack = 5 * time.Second

// chaosTotals add up over the clouds and scenarios.
type chaosTotals struct {
	pods, kills, aimed, faults, leaked, wronglyDeleted, duplicates, unconverged int
	interrupted                                                                 []string
}

var totals chaosTotals

// chaosLimits let one node go as fast as the emulator allows (the
// defaults protect real accounts' quotas).
const chaosLimits = "  limits: {qps: 300, burst: 300, maxConcurrent: 64}\n"

// chaosScale is the size of a cloud's kill scenario; the other scenarios
// are fractions of it (cloud faults and the API server outage 2/5, the
// refusal and replica loss 1/5). CHAOS_PODS sets Lambda's (default 200);
// Azure and Function Compute, whose creates take more calls and polls, run
// 2/5 as many (80), so that the three clouds fit in about 20 minutes.
func chaosScale(cloud string) int {
	n := 200
	if v, err := strconv.Atoi(os.Getenv("CHAOS_PODS")); err == nil && v > 0 {
		n = v
	}
	if cloud != "aws-lambda" {
		n = max(10, n*2/5)
	}
	return n
}

// healthOps are the calls a node's health check makes: chaos leaves them
// alone, so that the node stays Ready and only pods' calls fail.
var healthOps = []string{"GetAccountSettings", "ListByResourceGroup"}

func TestChaos(t *testing.T) {
	start := time.Now()
	seed := uint64(time.Now().UnixNano())
	rnd := rand.New(rand.NewPCG(seed, 7))
	t.Logf("random seed %d", seed)
	for _, c := range clouds {
		t.Run(c.name, func(t *testing.T) {
			before := totals
			cloudStart := time.Now()
			// Subtest names name the nodes: DNS labels.
			t.Run("kills", func(t *testing.T) { chaosKills(t, c, rnd) })
			t.Run("aimed-kills", func(t *testing.T) { chaosAimed(t, c) })
			t.Run("aimed-job", func(t *testing.T) { chaosAimedJob(t, c) })
			t.Run("cloud-faults", func(t *testing.T) { chaosCloudFaults(t, c) })
			t.Run("healable-refusal", func(t *testing.T) { chaosRefusal(t, c) })
			t.Run("apiserver-outage", func(t *testing.T) { chaosAPIServer(t, c) })
			t.Run("replica-loss", func(t *testing.T) { chaosReplicaLoss(t, c) })
			t.Logf("%s: pods=%d kills=%d aimed_kills=%d faults=%d leaked=%d wrongly_deleted=%d duplicates=%d unconverged=%d seconds=%d",
				c.name, totals.pods-before.pods, totals.kills-before.kills, totals.aimed-before.aimed, totals.faults-before.faults,
				totals.leaked-before.leaked, totals.wronglyDeleted-before.wronglyDeleted, totals.duplicates-before.duplicates,
				totals.unconverged-before.unconverged, int(time.Since(cloudStart).Seconds()))
		})
	}
	for _, k := range totals.interrupted {
		t.Logf("aimed kill: %s", k)
	}
	line := fmt.Sprintf("chaos: pods=%d kills=%d faults=%d leaked=%d wrongly_deleted=%d duplicates=%d unconverged=%d seconds=%d clouds=%d aimed_kills=%d",
		totals.pods, totals.kills, totals.faults, totals.leaked, totals.wronglyDeleted, totals.duplicates, totals.unconverged,
		int(time.Since(start).Seconds()), len(clouds), totals.aimed)
	fmt.Println(line)
	if out := os.Getenv("CHAOS_SUMMARY"); out != "" {
		_ = os.WriteFile(out, []byte(line+"\n"), 0o644)
	}
	if totals.leaked+totals.wronglyDeleted+totals.duplicates+totals.unconverged > 0 {
		t.Error(line)
	}
}

// run is one scenario on one cloud: its emulator, node, namespace and the
// watch of its pods, and when its last fault ended.
type run struct {
	t         *testing.T
	c         cloudUnderTest
	ops       cloudOps
	emu       *emulator
	k         *kubelet
	ns        string
	pods      *podRecorder
	lastFault time.Time
	want      int
	// nodes are the run's nodes: a Deployment on more than one is
	// spread over them by the scheduler.
	nodes []string
}

// startRun starts an emulator, a node of c (with the node config the
// cloud's healable refusal needs) and a watched namespace.
func startRun(t *testing.T, c cloudUnderTest, capacity int, leaderElection bool, extraNodes ...string) *run {
	t.Helper()
	emu := startEmulator(t)
	k := startKubelet(t, kubeletOptions{cloud: c.name, lambdaEndpoint: emu.endpoint, azureEndpoint: emu.azureEndpoint, alibabaEndpoint: emu.alibabaEndpoint,
		nodeExtra: chaosLimits + refusalsOf[c.name].nodeExtra, pods: capacity, leaderElection: leaderElection, extraNodes: extraNodes})
	if !leaderElection {
		waitNodeReady(t, k.node, corev1.ConditionTrue, 30*time.Second)
	}
	ns := namespace(t)
	return &run{t: t, c: c, ops: opsOf[c.name], emu: emu, k: k, ns: ns, pods: recordPods(t, ns), nodes: append([]string{k.node}, extraNodes...)}
}

// deploy applies the Deployment hello of n pods on the run's node and
// counts them against the summary until settle says better.
func (r *run) deploy(n int) {
	r.t.Helper()
	totals.pods += n - r.want
	r.want = n
	node := r.k.node
	if len(r.nodes) > 1 {
		node = "" // any of the run's nodes
	}
	applyYAML(r.t, r.ns, deployment(node, "hello", r.c.image, n, refusalsOf[r.c.name].annotations, ""))
}

// fault marks the end of a fault: settle measures from the last one.
func (r *run) fault() { r.lastFault = time.Now() }

// kill ends the node's process with SIGKILL and starts it again, and logs
// the node's calls that were in flight (the ledger's unanswered entries).
func (r *run) kill() {
	r.t.Helper()
	inFlight := r.inFlight()
	r.k.kill(r.t)
	totals.kills++
	r.fault()
	r.t.Logf("%s: kill %d interrupted %s", r.c.name, totals.kills, inFlight)
	r.k.start(r.t)
}

// inFlight names the node's calls not yet answered, per operation.
func (r *run) inFlight() string {
	r.t.Helper()
	per := map[string]int{}
	for _, e := range r.emu.ledger(r.t, r.c.name) {
		if !e.Done && !e.Harness {
			per[e.Op]++
		}
	}
	if len(per) == 0 {
		return "no call in flight"
	}
	var out []string
	for op, n := range per {
		out = append(out, fmt.Sprintf("%s x%d", op, n))
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// settle waits until every wanted pod is Ready with its resource present,
// or until convergeWindow after the last fault, and counts those that are
// not by then.
func (r *run) settle() {
	r.t.Helper()
	deadline := r.lastFault.Add(convergeWindow)
	for {
		n, desc := unconverged(r.want, podSnaps(r.t, r.ns, "app=hello"), present(r.ops, r.emu.events(r.t, r.c.name), time.Now()))
		if n == 0 {
			r.t.Logf("converged %.0f s after the last fault: %s", time.Since(r.lastFault).Seconds(), desc)
			return
		}
		if time.Now().After(deadline) {
			r.t.Errorf("%s after the last fault: %s", convergeWindow, desc)
			totals.unconverged += n
			return
		}
		time.Sleep(time.Second)
	}
}

// aimedKill holds the call h on the run's cloud, waits until it is in
// flight, kills the node with SIGKILL, releases the call (drop: its
// connection closes unanswered; a call held before its work is then never
// carried out) and starts the node again. It logs the call interrupted.
func (r *run) aimedKill(h faults.Hold, drop bool, what string, trigger func()) {
	r.t.Helper()
	id := r.emu.hold(r.t, r.c.name, h)
	trigger()
	st := r.emu.waitHolding(r.t, r.c.name, id, 90*time.Second)
	r.k.kill(r.t)
	r.emu.release(r.t, r.c.name, id, drop)
	totals.kills++
	totals.aimed++
	r.fault()
	phase := "before its work"
	if h.Answer {
		phase = "carried out, before its answer"
	}
	msg := fmt.Sprintf("%s: killed %s, interrupting %s %s (%s)", r.c.name, what, st.Call.Op, st.Call.Name, phase)
	r.t.Log(msg)
	totals.interrupted = append(totals.interrupted, msg)
	r.k.start(r.t)
}

// finish deletes the Deployment (unless deleted), waits up to drainTimeout
// for its pods and resources to go, sampling what is left every 3 s, then
// counts from the ledger and the pods' lives: duplicates, wrong deletes and
// leaks. The emulator's own listing must agree with its ledger.
func (r *run) finish(deleted bool) {
	r.t.Helper()
	if !deleted {
		mustKubectl(r.t, "delete", "deployment/hello", "-n", r.ns, "--wait=false")
	}
	const drainTimeout = 3 * time.Minute
	deadline := time.Now().Add(drainTimeout)
	for {
		pods := len(listPods(r.t, r.ns, "app=hello"))
		left := present(r.ops, r.emu.events(r.t, r.c.name), time.Now())
		if pods == 0 && len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			r.t.Logf("after %s: %d pods and %d functions left", drainTimeout, pods, len(left))
			break
		}
		time.Sleep(3 * time.Second)
	}
	r.emu.chaos(r.t, r.c.name, nil)
	end := time.Now()
	events, lives := r.emu.events(r.t, r.c.name), r.pods.all()
	listed := r.c.functions(r.t, r.emu)
	if ledger := present(r.ops, events, end); len(listed) != len(ledger) {
		r.t.Errorf("the emulator lists %d resources, its ledger says %d exist", len(listed), len(ledger))
	}
	n, dups := duplicates(r.ops, events)
	for _, d := range dups {
		r.t.Errorf("duplicate: %s", d)
	}
	totals.duplicates += n
	n, wrong := wronglyDeleted(r.ops, events, lives, deleteSlack)
	for _, d := range wrong {
		r.t.Errorf("wrongly deleted: %s", d)
	}
	totals.wronglyDeleted += n
	leaked := leaks(r.ops, events, lives, end, leakGrace)
	for _, l := range leaked {
		r.t.Errorf("leaked: %s outlived its pod by %s", l.Name, l.For)
	}
	totals.leaked += len(leaked)
	injected := r.emu.injected(r.t, r.c.name)
	totals.faults += injected
	r.t.Logf("%d pods, %d creates, %d faults injected: %v", len(lives), countCreates(r.ops, events), injected, r.emu.callsOf(r.t, r.c.name))
}

func countCreates(o cloudOps, events []callEvent) int {
	n := 0
	for _, e := range events {
		if o.creates(e) {
			n++
		}
	}
	return n
}

// lostDeletes makes the next count removals of the cloud carry out the
// delete and then fail the answer (Fault.After), as a lost response does.
func (r *run) lostDeletes(count int) {
	r.t.Helper()
	r.emu.inject(r.t, r.c.name, faults.Fault{Op: r.ops.remove, Status: 503, Count: count, After: true})
}

// pause waits a random 0.5 to 3.5 s.
func pause(rnd *rand.Rand) { time.Sleep(time.Duration(500+rnd.IntN(3000)) * time.Millisecond) }

// kill -9 faas-kubelet four times at random moments during a rollout, and
// four times during the mass delete that follows, whose first removals
// lose their answers.
func chaosKills(t *testing.T, c cloudUnderTest, rnd *rand.Rand) {
	n := chaosScale(c.name)
	r := startRun(t, c, 2*n, false)
	r.deploy(n)
	for range 4 {
		pause(rnd)
		r.kill()
	}
	r.settle()
	r.lostDeletes(3)
	mustKubectl(t, "delete", "deployment/hello", "-n", r.ns, "--wait=false")
	for range 4 {
		pause(rnd)
		r.kill()
	}
	r.k.waitStarted(t)
	r.finish(true)
}

// Kills at chosen points: after the create call was carried out and
// before the node saw its answer (so before the pod's status write); on
// Function Compute also between CreateService and TagResource and between
// TagResource and CreateFunction; in the middle of a delete.
func chaosAimed(t *testing.T, c cloudUnderTest) {
	r := startRun(t, c, 40, false)
	created := r.ops.create
	if c.name == "alibaba-fc" {
		created = "CreateFunction" // the last call of FC's create
	}
	r.aimedKill(faults.Hold{Op: created, Answer: true}, true, "after "+created+" was carried out, before its answer", func() { r.deploy(4) })
	r.settle()
	if c.name == "alibaba-fc" {
		r.aimedKill(faults.Hold{Op: "TagResource"}, true, "between CreateService and TagResource", func() { r.deploy(6) })
		r.settle()
		r.aimedKill(faults.Hold{Op: "CreateFunction"}, true, "between TagResource and CreateFunction", func() { r.deploy(8) })
		r.settle()
	}
	// The middle of a delete: Lambda's and Azure's one call carried out
	// and unanswered; FC's function and trigger gone, its service not yet.
	mid := faults.Hold{Op: r.ops.remove, Answer: true}
	if c.name == "alibaba-fc" {
		mid = faults.Hold{Op: "DeleteService"}
	}
	r.aimedKill(mid, true, "in the middle of a delete", func() { mustKubectl(t, "scale", "deployment/hello", "-n", r.ns, "--replicas=1") })
	r.want = 1
	r.settle()
	r.finish(false)
}

// A Job's invocation, in flight when the node dies: the Job's pod still
// ends, and its function goes with the Job.
func chaosAimedJob(t *testing.T, c cloudUnderTest) {
	r := startRun(t, c, 10, false)
	totals.pods++
	r.aimedKill(faults.Hold{Op: c.invokeOp, Answer: true}, true, "during a Job's invocation", func() {
		applyYAML(t, r.ns, strings.ReplaceAll(fmt.Sprintf(jobYAML, "aimed", ""), ecrImage, c.image))
	})
	var desc string
	deadline := r.lastFault.Add(convergeWindow)
	for {
		var done bool
		done, desc = jobPodEnded(t, r.ns, "job-name=aimed")
		if done {
			t.Logf("the Job's pod ended: %s", desc)
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("%s after the kill the Job's pod has not ended: %s", convergeWindow, desc)
			totals.unconverged++
			break
		}
		time.Sleep(time.Second)
	}
	mustKubectl(t, "delete", "job/aimed", "-n", r.ns, "--wait=false")
	r.finish(true)
}

// jobPodEnded says whether the selector's one pod has ended, and how: a
// pod the restart cut off ends 137, as the kubelet ends a container it can
// no longer find.
func jobPodEnded(t *testing.T, ns, selector string) (bool, string) {
	pods := listPods(t, ns, selector)
	if len(pods) != 1 {
		return false, fmt.Sprintf("%d pods", len(pods))
	}
	p := pods[0]
	if p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
		return false, string(p.Status.Phase)
	}
	if len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].State.Terminated == nil {
		return false, fmt.Sprintf("%s without a terminated container", p.Status.Phase)
	}
	term := p.Status.ContainerStatuses[0].State.Terminated
	if p.Status.Phase == corev1.PodFailed && term.ExitCode != 137 {
		t.Errorf("the cut-off Job pod failed with exit code %d (%s), want 137", term.ExitCode, term.Reason)
	}
	return true, fmt.Sprintf("%s, exit code %d (%s)", p.Status.Phase, term.ExitCode, term.Reason)
}

// The emulated cloud fails 20 % of the node's calls with 503 (half of
// them after doing the work), throttles 10 % with Retry-After and delays
// 5 % by 1.5 s, for 30 s of a rollout and again for the whole delete,
// whose first removals also lose their answers.
func chaosCloudFaults(t *testing.T, c cloudUnderTest) {
	n := chaosScale(c.name) * 2 / 5
	r := startRun(t, c, 2*n, false)
	settings := &faults.Chaos{ServerErrorRate: 0.2, ThrottleRate: 0.1, RetryAfter: 1, SpikeRate: 0.05, SpikeMs: 1500, ExceptOps: healthOps}
	r.emu.chaos(t, c.name, settings)
	r.deploy(n)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if left, _ := unconverged(n, podSnaps(t, r.ns, "app=hello"), present(r.ops, r.emu.events(t, c.name), time.Now())); left == 0 {
			break
		}
		time.Sleep(time.Second)
	}
	r.emu.chaos(t, c.name, nil)
	r.fault()
	r.settle()
	r.emu.chaos(t, c.name, settings)
	r.lostDeletes(5)
	r.finish(false)
}

// The cloud refuses what the pods need (the execution role, the RAM role,
// the App Service plan) for 20 s of a rollout, as a cloud does until a new
// role propagates, and faas-kubelet is killed while pods wait for it:
// every pod converges, each with one function, and no pod was replaced.
func chaosRefusal(t *testing.T, c cloudUnderTest) {
	n := chaosScale(c.name) / 5
	r := startRun(t, c, 2*n, false)
	r.emu.setRefusals(t, c.name, refusalsOf[c.name].refusals)
	start := time.Now()
	r.deploy(n)
	time.Sleep(8 * time.Second)
	r.kill()
	time.Sleep(time.Until(start.Add(20 * time.Second)))
	r.emu.setRefusals(t, c.name, "")
	totals.faults++
	r.fault()
	r.settle()
	if lives := r.pods.all(); len(lives) != n {
		t.Errorf("%d pods over the run, want %d: pods were replaced while the cloud refused them", len(lives), n)
		totals.unconverged += len(lives) - n
	}
	r.finish(false)
}

// The API server is stopped for 20 s in the middle of a rollout, then
// started again.
func chaosAPIServer(t *testing.T, c cloudUnderTest) {
	n := chaosScale(c.name) * 2 / 5
	r := startRun(t, c, 2*n, false)
	r.deploy(n)
	time.Sleep(3 * time.Second)
	script := filepath.Join(cluster.repo, "hack", "cluster.sh")
	if out, err := exec.Command(script, "stop-apiserver").CombinedOutput(); err != nil {
		t.Fatalf("stop-apiserver: %v\n%s", err, out)
	}
	time.Sleep(20 * time.Second)
	if out, err := exec.Command(script, "start-apiserver").CombinedOutput(); err != nil {
		t.Fatalf("start-apiserver: %v\n%s", err, out)
	}
	totals.faults++
	r.fault()
	r.settle()
	r.finish(false)
}

// Two replicas share two nodes, one each; one replica is killed
// mid-rollout, and the other takes its node over.
func chaosReplicaLoss(t *testing.T, c cloudUnderTest) {
	n := chaosScale(c.name) / 5
	r := startRun(t, c, 2*n, true, "e2e-chaos-"+c.name[:3]+"-second")
	b := r.k.replica(t, "replica-b")
	for _, node := range r.nodes {
		waitNodeReady(t, node, corev1.ConditionTrue, 60*time.Second)
	}
	// Two nodes, two replicas: each runs one.
	var desc string
	eventually(t, 60*time.Second, "each replica to run one node", func() (bool, string) {
		a, other := 0, 0
		desc = ""
		for _, node := range r.nodes {
			h := leaseHolder(t, node)
			desc += node + "=" + h + " "
			switch {
			case holds(h, r.k):
				a++
			case holds(h, b):
				other++
			}
		}
		return a == 1 && other == 1, desc
	})
	r.deploy(n)
	time.Sleep(2 * time.Second)
	killed, survivor := r.k, b
	if h := leaseHolder(t, r.k.node); !holds(h, r.k) {
		killed, survivor = b, r.k
	}
	killed.kill(t)
	totals.kills++
	r.fault()
	eventually(t, 20*time.Second, "the other replica to take the killed one's node within 20 s", func() (bool, string) {
		desc = ""
		all := true
		for _, node := range r.nodes {
			h := leaseHolder(t, node)
			all = all && holds(h, survivor)
			desc += node + "=" + h + " "
		}
		return all, desc
	})
	t.Logf("takeover %.1f s after SIGKILL of one of two replicas", time.Since(r.lastFault).Seconds())
	r.settle()
	if lives := r.pods.all(); len(lives) != n {
		t.Errorf("%d pods over the run, want %d: pods were replaced when a replica died", len(lives), n)
		totals.unconverged += len(lives) - n
	}
	r.finish(false)
}
