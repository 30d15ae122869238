//go:build e2e

package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// leaseHolder is the identity holding the node's leader election Lease.
func leaseHolder(t *testing.T, node string) string {
	t.Helper()
	out, _ := kubectl(t, "get", "lease", "-n", "kube-system", "faas-kubelet-"+node, "-o", "jsonpath={.spec.holderIdentity}")
	return strings.TrimSpace(out)
}

func holds(holder string, k *kubelet) bool {
	return strings.HasSuffix(holder, fmt.Sprintf("_%d", k.cmd.Process.Pid))
}

// replicaAs starts another process with k's config, telling the cloud
// who it is by the User-Agent of its calls (app/<name>); cleanup stops it.
func (k *kubelet) replicaAs(t *testing.T, name string) *kubelet {
	t.Helper()
	r := &kubelet{cfgPath: k.cfgPath, node: k.node, port: k.port, faultFile: k.faultFile,
		logFile: filepath.Join(filepath.Dir(k.logFile), name+".log"), env: []string{agentOf(name)}}
	r.start(t)
	t.Cleanup(func() {
		r.stop(t)
		if t.Failed() {
			r.dumpLog(t)
		}
	})
	return r
}

// cloudCalls counts the calls the emulator's ledger has from the process
// named name (its User-Agent's app/<name>), up to the entry seq (0: all),
// and names their operations.
func cloudCalls(t *testing.T, emu *emulator, name string, seq int) (int, map[string]int) {
	t.Helper()
	n, ops := 0, map[string]int{}
	for _, e := range emu.ledger(t, "aws-lambda") {
		if strings.Contains(e.Agent, "app/"+name) && (seq == 0 || e.Seq <= seq) {
			n++
			ops[e.Op]++
		}
	}
	return n, ops
}

// lastSeq is the newest entry of the emulator's ledger.
func lastSeq(t *testing.T, emu *emulator) int {
	t.Helper()
	l := emu.ledger(t, "aws-lambda")
	if len(l) == 0 {
		return 0
	}
	return l[len(l)-1].Seq
}

// Two replicas run for one node: one leads, the other stands by and makes
// no cloud call (the emulator's ledger tells the processes apart by their
// User-Agent). Killing the leader with SIGKILL hands the node to the
// standby within 20 s, with every pod kept and no function created twice;
// a leader stopped with SIGTERM releases the Lease, so the next replica
// takes over at once.
func TestLeaderElectionHandsOverWithoutDuplicates(t *testing.T) {
	emu := startEmulator(t)
	a := startKubelet(t, kubeletOptions{cloud: "aws-lambda", lambdaEndpoint: emu.endpoint, leaderElection: true, env: []string{agentOf("replica-a")}})
	waitNodeReady(t, a.node, corev1.ConditionTrue, 30*time.Second)
	b := a.replicaAs(t, "replica-b")
	b.waitStarted(t)
	ns := namespace(t)
	applyYAML(t, ns, strings.Replace(helloDeployment, "replicas: 3", "replicas: 2", 1))
	var before map[string]bool
	eventually(t, 90*time.Second, "2 pods Running", func() (bool, string) {
		var desc string
		before, desc = runningPods(t, ns, "app=hello")
		return len(before) == 2, desc
	})
	leader, standby := a, b
	leaderName, standbyName := "replica-a", "replica-b"
	if h := leaseHolder(t, a.node); !holds(h, a) {
		if !holds(h, b) {
			t.Fatalf("lease held by %q, neither replica", h)
		}
		leader, standby = b, a
		leaderName, standbyName = standbyName, leaderName
	}
	// Both have run through the rollout: the leader called the cloud, the
	// standby did not.
	seq := lastSeq(t, emu)
	if n, ops := cloudCalls(t, emu, leaderName, seq); n == 0 {
		t.Fatalf("no call from the leader %s in the ledger (%v): the processes cannot be told apart", leaderName, ops)
	}
	if n, ops := cloudCalls(t, emu, standbyName, seq); n != 0 {
		t.Errorf("the standby %s made %d cloud calls: %v", standbyName, n, ops)
	}

	leader.kill(t)
	killed := time.Now()
	eventually(t, 20*time.Second, "the standby to take the Lease within 20 s of the leader's death", func() (bool, string) {
		h := leaseHolder(t, a.node)
		return holds(h, standby), h
	})
	t.Logf("takeover %.1f s after SIGKILL", time.Since(killed).Seconds())
	waitNodeReady(t, a.node, corev1.ConditionTrue, 30*time.Second)
	mustKubectl(t, "scale", "deployment/hello", "-n", ns, "--replicas=3")
	eventually(t, 60*time.Second, "3 pods Running under the new leader, the first 2 kept", func() (bool, string) {
		after, desc := runningPods(t, ns, "app=hello")
		for uid := range before {
			if !after[uid] {
				return false, "lost " + uid + ": " + desc
			}
		}
		return len(after) == 3, desc
	})
	onePerPod(t, emu, ns)
	if n, _ := cloudCalls(t, emu, standbyName, 0); n == 0 {
		t.Errorf("the new leader %s made no cloud call", standbyName)
	}

	// A clean stop releases the Lease: the restarted replica leads at once.
	standby.stop(t)
	if h := leaseHolder(t, a.node); h != "" {
		t.Errorf("after SIGTERM the Lease is still held by %q", h)
	}
	leader.start(t)
	eventually(t, 10*time.Second, "the restarted replica to lead", func() (bool, string) {
		h := leaseHolder(t, a.node)
		return holds(h, leader), h
	})
	onePerPod(t, emu, ns)
}

// onePerPod checks that the emulator holds exactly one function per pod of
// the Deployment, each tagged with its pod's UID.
func onePerPod(t *testing.T, emu *emulator, ns string) {
	t.Helper()
	uids, desc := runningPods(t, ns, "app=hello")
	fns := emu.functions(t)
	seen := map[string]bool{}
	for name, tags := range fns {
		uid := tags["faas-kubelet.io/pod-uid"]
		if !uids[uid] || seen[uid] {
			t.Errorf("function %s belongs to %q: not exactly one function per pod (%s)", name, uid, desc)
		}
		seen[uid] = true
	}
	if len(fns) != len(uids) {
		t.Errorf("%d functions for %d pods", len(fns), len(uids))
	}
}

// Four nodes, two replicas of one config: each node has a Lease of its own,
// and each replica runs two. SIGKILL one replica: the other takes its nodes
// over within the Lease's takeover time (LeaseDuration, then a RetryPeriod
// to see it expired and one to take it), every node Ready under it, every
// pod kept, no function created twice and none deleted. The killed replica
// started again takes its share back.
func TestNodesSpreadOverReplicas(t *testing.T) {
	emu := startEmulator(t)
	nodes := []string{"e2e-spread-1", "e2e-spread-2", "e2e-spread-3", "e2e-spread-4"}
	a := startKubelet(t, kubeletOptions{cloud: "aws-lambda", lambdaEndpoint: emu.endpoint, leaderElection: true, nodeName: nodes[0],
		extraNodes: nodes[1:], env: []string{agentOf("replica-a")}})
	b := a.replicaAs(t, "replica-b")
	split := func(want map[*kubelet]int) {
		t.Helper()
		eventually(t, 60*time.Second, fmt.Sprintf("the nodes split %v between the replicas", want), func() (bool, string) {
			per := map[*kubelet]int{}
			var desc []string
			for _, n := range nodes {
				h := leaseHolder(t, n)
				for _, k := range []*kubelet{a, b} {
					if holds(h, k) {
						per[k]++
					}
				}
				desc = append(desc, n+"="+h)
			}
			for k, n := range want {
				if per[k] != n {
					return false, strings.Join(desc, " ")
				}
			}
			return true, strings.Join(desc, " ")
		})
		for _, n := range nodes {
			waitNodeReady(t, n, corev1.ConditionTrue, 30*time.Second)
		}
	}
	split(map[*kubelet]int{a: 2, b: 2})

	ns := namespace(t)
	pods := recordPods(t, ns)
	for i, n := range nodes {
		applyYAML(t, ns, deployment(n, fmt.Sprintf("hello-%d", i+1), ecrImage, 2, "", ""))
	}
	var before map[string]bool
	eventually(t, 90*time.Second, "8 pods Running", func() (bool, string) {
		var desc string
		before, desc = runningPods(t, ns, "")
		return len(before) == 8, desc
	})

	a.kill(t)
	killed := time.Now()
	// DefaultLeaseDuration 12 s, then DefaultRetryPeriod 2 s (client-go
	// jitters it up to 2.4 s) to see each Lease expired and one to take
	// it. The takeover is read from the Leases' acquireTime (the processes
	// share this machine's clock), not from when this harness's kubectl
	// saw it, which lags under load.
	const takeover = 12*time.Second + 2*2400*time.Millisecond
	eventually(t, 2*takeover, "replica-b to hold every node's Lease", func() (bool, string) {
		var desc []string
		all := true
		for _, n := range nodes {
			h := leaseHolder(t, n)
			all = all && holds(h, b)
			desc = append(desc, n+"="+h)
		}
		return all, strings.Join(desc, " ")
	})
	var last time.Duration
	for _, n := range nodes {
		out, _ := kubectl(t, "get", "lease", "-n", "kube-system", "faas-kubelet-"+n, "-o", "jsonpath={.spec.acquireTime}")
		at, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(out))
		if err != nil {
			t.Fatalf("lease of %s: acquireTime %q: %v", n, out, err)
		}
		last = max(last, at.Sub(killed))
	}
	t.Logf("takeover of replica-a's nodes: the last Lease taken %.1f s after its SIGKILL", last.Seconds())
	// Each retry starts once the last attempt's calls returned, which a
	// loaded API server answers late: 3 s for them.
	if last > takeover+3*time.Second {
		t.Errorf("replica-b took the last of replica-a's nodes %.1f s after the SIGKILL, over the takeover time %s and 3 s for the Lease calls", last.Seconds(), takeover)
	}
	for _, n := range nodes {
		waitNodeReady(t, n, corev1.ConditionTrue, 30*time.Second)
	}
	kept := func(what string) {
		t.Helper()
		eventually(t, 30*time.Second, what+": the 8 pods Running, the same ones", func() (bool, string) {
			after, desc := runningPods(t, ns, "")
			for uid := range before {
				if !after[uid] {
					return false, "lost " + uid + ": " + desc
				}
			}
			return len(after) == 8, desc
		})
	}
	kept("after the takeover")

	// The killed replica comes back and takes its share again.
	a.start(t)
	split(map[*kubelet]int{a: 2, b: 2})
	kept("after the rebalance")

	events, lives := emu.events(t, "aws-lambda"), pods.all()
	if n, dups := duplicates(opsOf["aws-lambda"], events); n > 0 {
		t.Errorf("functions created twice: %v", dups)
	}
	if n, wrong := wronglyDeleted(opsOf["aws-lambda"], events, lives, 5*time.Second); n > 0 {
		t.Errorf("functions deleted while their pod ran: %v", wrong)
	}
	if fns := emu.functions(t); len(fns) != 8 {
		t.Errorf("%d functions for 8 pods", len(fns))
	}
}
