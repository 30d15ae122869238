package backendtest

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/faas-kubelet/faas-kubelet/provider"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// Run runs the contract against the backend h describes, one subtest per
// case, each on a fresh cloud.
func Run(t *testing.T, h Harness) {
	t.Helper()
	h.check(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, &h) })
	}
}

// cases are the contract, in the order a pod lives.
var cases = []struct {
	name string
	run  func(*testing.T, *Harness)
}{
	{"Deploy creates one function tagged with its pod", deployTagsThePod},
	{"Deploy again is idempotent", deployIsIdempotent},
	{"Get reports the phase until Active", getReportsThePhase},
	{"a restarted node adopts its function", restartAdopts},
	{"List pages through exactly this node's functions", listPagesByNode},
	{"Tag records a Job's progress for a restart", tagRecordsTheJob},
	{"Delete is idempotent and Get then is NotFound", deleteIsIdempotent},
	{"Invoke returns the output", invokeReturnsOutput},
	{"a function error is a result not an error", functionErrorIsAResult},
	{"Logs honour tail and since", logsTailAndSince},
	{"Logs follow until the context ends", logsFollow},
	{"a refused role waits with FunctionRoleError", refusedRole},
	{"a missing image waits with FunctionImageError", missingImage},
	{"a used-up quota waits with FunctionQuotaExceeded", quotaExceeded},
	{"a lost create answer retried leaves one function", lostAnswerRetried},
	{"a 503 after retries is transient", serverErrorIsTransient},
	{"throttling after retries is transient and throttled", throttlingIsTransient},
	{"a spec the cloud cannot run fails the pod", unrunnableSpec},
}

const (
	// namespace is every pod's namespace.
	namespace = "contract"
	// logLine is what each invocation logs (EMULATOR_LOG).
	logLine = "contract-log-line"
	// wait bounds every wait for the cloud: emulators run with no or
	// small delays, so reaching it is a failure, not slowness.
	wait = 10 * time.Second
	// tick is how often a wait looks again.
	tick = 20 * time.Millisecond
)

// pod is the pod named name that the suite deploys on h's cloud: one
// container with h's image, two labels, the log line to write, and h's
// port and adjustments; mutate, if not nil, changes it last.
func (h *Harness) pod(name string, mutate func(*corev1.Pod)) *corev1.Pod {
	c := corev1.Container{Name: "app", Image: h.Image, Env: []corev1.EnvVar{{Name: "EMULATOR_LOG", Value: logLine}}}
	if h.Port != 0 {
		c.Ports = []corev1.ContainerPort{{ContainerPort: h.Port}}
	}
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, UID: types.UID("uid-" + name),
			Labels: map[string]string{"app.kubernetes.io/name": name, "tier": "backend"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{c}},
	}
	if h.Pod != nil {
		h.Pod(p)
	}
	if mutate != nil {
		mutate(p)
	}
	return p
}

// function translates h's pod named name for h's node.
func (h *Harness) function(t *testing.T, name string, mutate func(*corev1.Pod)) *translate.Function {
	t.Helper()
	return h.functionOn(t, h.Node, name, mutate)
}

// functionOn translates h's pod named name for node.
func (h *Harness) functionOn(t *testing.T, node, name string, mutate func(*corev1.Pod)) *translate.Function {
	t.Helper()
	fn, err := translate.FromPod(h.pod(name, mutate), node, nil)
	if err != nil {
		t.Fatalf("translate pod %s: %v", name, err)
	}
	return fn
}

// deploy deploys fn and fails t on an error.
func deploy(t *testing.T, b provider.Backend, fn *translate.Function) *translate.FunctionState {
	t.Helper()
	st, err := b.Deploy(context.Background(), fn)
	if err != nil {
		t.Fatalf("Deploy %s: %v", fn.Name, err)
	}
	if st == nil {
		t.Fatalf("Deploy %s returned no state and no error", fn.Name)
	}
	return st
}

// list lists node's functions and fails t on an error.
func list(t *testing.T, b provider.Backend, node string) []translate.FunctionState {
	t.Helper()
	out, err := b.List(context.Background(), node)
	if err != nil {
		t.Fatalf("List %s: %v", node, err)
	}
	return out
}

// waitPhase reads name until it reports want, failing t after the bounded
// wait, and at once when it reports Failed while want is another phase.
func waitPhase(t *testing.T, b provider.Backend, name string, want translate.Phase) *translate.FunctionState {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		st, err := b.Get(context.Background(), name)
		if err != nil {
			t.Fatalf("Get %s while waiting for %s: %v", name, want, err)
		}
		switch {
		case st.Phase == want:
			return st
		case st.Phase == translate.PhaseFailed:
			t.Fatalf("%s is Failed (%s: %s) while waiting for %s", name, st.Reason, st.Message, want)
		case time.Now().After(deadline):
			t.Fatalf("%s is still %q after %s, want %s: %+v", name, st.Phase, wait, want, st)
		}
		time.Sleep(tick)
	}
}

// ownerTags says which of the pod's identity tags are missing or wrong in
// tags ("" when all are there).
func ownerTags(tags map[string]string, pod *corev1.Pod, node string) string {
	for k, want := range map[string]string{translate.TagPodUID: string(pod.UID), translate.TagPodNamespace: pod.Namespace,
		translate.TagPodName: pod.Name, translate.TagNode: node} {
		if tags[k] != want {
			return k + "=" + tags[k] + ", want " + want
		}
	}
	return ""
}

// names are the names of states.
func names(states []translate.FunctionState) []string {
	out := make([]string, 0, len(states))
	for _, s := range states {
		out = append(out, s.Name)
	}
	return out
}
