package translate

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/faas-kubelet/faas-kubelet/pkg/golden"
)

func statusPod(gates ...corev1.PodConditionType) *corev1.Pod {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u-1"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "img"}}}}
	for _, g := range gates {
		pod.Spec.ReadinessGates = append(pod.Spec.ReadinessGates, corev1.PodReadinessGate{ConditionType: g})
	}
	return pod
}

func findOf(s corev1.PodStatus, t corev1.PodConditionType) corev1.PodCondition {
	if c := findCondition(s.Conditions, t); c != nil {
		return *c
	}
	return corev1.PodCondition{}
}

var active = &FunctionState{Name: "fk-ns-p", Phase: PhaseActive}

// Ready is the kubelet's: ContainersReady, then every readiness gate's
// condition True, with the kubelet's reasons and messages.
func TestReadyFollowsReadinessGates(t *testing.T) {
	const gate = corev1.PodConditionType("example.com/gate")
	for _, tc := range []struct {
		name    string
		gates   []corev1.PodConditionType
		have    []corev1.PodCondition
		fn      *FunctionState
		status  corev1.ConditionStatus
		reason  string
		message string
	}{
		{name: "no gates", fn: active, status: corev1.ConditionTrue},
		{name: "gate missing", gates: []corev1.PodConditionType{gate}, fn: active, status: corev1.ConditionFalse, reason: ReasonReadinessGatesNotReady,
			message: `corresponding condition of pod readiness gate "example.com/gate" does not exist.`},
		{name: "gate false", gates: []corev1.PodConditionType{gate}, have: []corev1.PodCondition{{Type: gate, Status: corev1.ConditionFalse}}, fn: active,
			status: corev1.ConditionFalse, reason: ReasonReadinessGatesNotReady, message: `the status of pod readiness gate "example.com/gate" is not "True", but False`},
		{name: "gate true", gates: []corev1.PodConditionType{gate}, have: []corev1.PodCondition{{Type: gate, Status: corev1.ConditionTrue}}, fn: active,
			status: corev1.ConditionTrue},
		{name: "containers not ready first", gates: []corev1.PodConditionType{gate}, fn: &FunctionState{Name: "f", Phase: PhasePending},
			status: corev1.ConditionFalse, reason: ReasonContainersNotReady, message: "containers with unready status: [app]"},
		{name: "job completed", fn: &FunctionState{Name: "f", Phase: PhaseActive, Job: Job{State: JobSucceeded}},
			status: corev1.ConditionFalse, reason: ReasonPodCompleted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := statusPod(tc.gates...)
			pod.Status.Conditions = tc.have
			got := findOf(PodStatus(pod, tc.fn, Host{}, goldenNow), corev1.PodReady)
			if got.Status != tc.status || got.Reason != tc.reason || got.Message != tc.message {
				t.Errorf("Ready = %s %q %q, want %s %q %q", got.Status, got.Reason, got.Message, tc.status, tc.reason, tc.message)
			}
		})
	}
}

// Conditions others own are reported as the pod's status has them; ours
// replace whatever the status said of them.
func TestPodStatusKeepsConditionsOthersOwn(t *testing.T) {
	pod := statusPod()
	earlier := metav1.NewTime(goldenNow.Add(-time.Hour))
	pod.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: "EvictionByEvictionAPI", LastTransitionTime: earlier},
		{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "NodeNotReady"},
		{Type: "example.com/audited", Status: corev1.ConditionTrue},
	}
	got := PodStatus(pod, active, Host{}, goldenNow)
	var types []corev1.PodConditionType
	for _, c := range got.Conditions {
		types = append(types, c.Type)
	}
	want := []corev1.PodConditionType{corev1.DisruptionTarget, "example.com/audited", corev1.PodScheduled, corev1.PodInitialized,
		corev1.PodReadyToStartContainers, corev1.ContainersReady, corev1.PodReady}
	if len(types) != len(want) {
		t.Fatalf("conditions %v, want %v", types, want)
	}
	for i := range want {
		if types[i] != want[i] {
			t.Fatalf("conditions %v, want %v", types, want)
		}
	}
	if d := findOf(got, corev1.DisruptionTarget); d.Reason != "EvictionByEvictionAPI" || !d.LastTransitionTime.Equal(&earlier) {
		t.Errorf("DisruptionTarget = %+v", d)
	}
	if r := findOf(got, corev1.PodReady); r.Status != corev1.ConditionTrue || r.Reason != "" {
		t.Errorf("Ready = %+v", r)
	}
}

// MergeConditions takes in what the API server has now: a gate turned
// True makes the pod Ready (a new transition time), a condition removed
// there is gone, and ours keep theirs.
func TestMergeConditionsTakesInTheAPIServersConditions(t *testing.T) {
	const gate = corev1.PodConditionType("example.com/gate")
	pod := statusPod(gate)
	pod.Status.Conditions = []corev1.PodCondition{{Type: gate, Status: corev1.ConditionFalse}, {Type: "example.com/old", Status: corev1.ConditionTrue}}
	ours := PodStatus(pod, active, Host{}, goldenNow)
	if findOf(ours, corev1.PodReady).Status != corev1.ConditionFalse {
		t.Fatal("Ready before the gate is True")
	}
	later := goldenNow.Add(time.Minute)
	api := []corev1.PodCondition{{Type: gate, Status: corev1.ConditionTrue}, {Type: corev1.PodReady, Status: corev1.ConditionUnknown}}
	got := MergeConditions(pod, ours, api, later)
	if r := findOf(got, corev1.PodReady); r.Status != corev1.ConditionTrue || !r.LastTransitionTime.Time.Equal(later) {
		t.Errorf("Ready = %+v, want True since %s", r, later)
	}
	if findCondition(got.Conditions, "example.com/old") != nil {
		t.Error("a condition removed in the API server is still reported")
	}
	if cr := findOf(got, corev1.ContainersReady); cr.Status != corev1.ConditionTrue || !cr.LastTransitionTime.Time.Equal(goldenNow) {
		t.Errorf("ContainersReady = %+v, want its own time kept", cr)
	}
	if again := MergeConditions(pod, got, api, later.Add(time.Minute)); len(again.Conditions) != len(got.Conditions) ||
		!findOf(again, corev1.PodReady).LastTransitionTime.Time.Equal(later) {
		t.Errorf("merging the same conditions again changed them: %+v", again.Conditions)
	}
	if none := MergeConditions(pod, corev1.PodStatus{}, api, later); len(none.Conditions) != 0 {
		t.Errorf("a status without conditions of ours gained %v", none.Conditions)
	}
}

// hostIP in every phase, podIP once the function exists, both kept when
// the pod ends; containerID for created containers only.
func TestAddressesAndContainerID(t *testing.T) {
	host := Host{Cloud: "aws-lambda", IP: "10.0.0.7"}
	withPrevious := func(p *corev1.Pod) *corev1.Pod {
		p.Status.HostIP, p.Status.HostIPs = "10.0.0.7", []corev1.HostIP{{IP: "10.0.0.7"}}
		p.Status.PodIP, p.Status.PodIPs = "10.0.0.7", []corev1.PodIP{{IP: "10.0.0.7"}}
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", ContainerID: "aws-lambda://arn:old"}}
		return p
	}
	for _, tc := range []struct {
		name          string
		pod           *corev1.Pod
		fn            *FunctionState
		host          Host
		hostIP, podIP string
		containerID   string
	}{
		{name: "created, pending", pod: statusPod(), fn: &FunctionState{Name: "f", Phase: PhasePending}, host: host, hostIP: "10.0.0.7", podIP: "10.0.0.7"},
		{name: "refused", pod: statusPod(), fn: &FunctionState{Name: "f", Phase: PhasePending, NotCreated: true, Reason: "Throttled"}, host: host, hostIP: "10.0.0.7"},
		{name: "spec refused", pod: statusPod(), fn: &FunctionState{Name: "f", Phase: PhaseFailed, NotCreated: true, Reason: "InvalidSpec"}, host: host, hostIP: "10.0.0.7"},
		{name: "running with an ARN", pod: statusPod(), fn: &FunctionState{Name: "f", ID: "arn:aws:lambda:us-east-1:1:function:f", Phase: PhaseActive}, host: host,
			hostIP: "10.0.0.7", podIP: "10.0.0.7", containerID: "aws-lambda://arn:aws:lambda:us-east-1:1:function:f"},
		{name: "running, named", pod: statusPod(), fn: active, host: Host{Cloud: "memory"}, containerID: "memory://fk-ns-p"},
		{name: "vanished keeps what it had", pod: withPrevious(statusPod()), fn: &FunctionState{Name: "f", Phase: PhaseFailed, Reason: "FunctionNotFound"},
			host: Host{Cloud: "aws-lambda"}, hostIP: "10.0.0.7", podIP: "10.0.0.7", containerID: "aws-lambda://arn:old"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := PodStatus(tc.pod, tc.fn, tc.host, goldenNow)
			if got.HostIP != tc.hostIP || got.PodIP != tc.podIP || len(got.HostIPs) != len(got.PodIPs)+boolInt(tc.hostIP != "" && tc.podIP == "") {
				t.Errorf("hostIP %q %v podIP %q %v, want %q %q", got.HostIP, got.HostIPs, got.PodIP, got.PodIPs, tc.hostIP, tc.podIP)
			}
			if id := got.ContainerStatuses[0].ContainerID; id != tc.containerID {
				t.Errorf("containerID %q, want %q", id, tc.containerID)
			}
		})
	}
	running := statusPod()
	running.Status = PodStatus(running, active, host, goldenNow)
	final := TerminatedStatus(running, goldenNow.Add(time.Minute))
	if final.HostIP != "10.0.0.7" || final.PodIP != "10.0.0.7" || final.ContainerStatuses[0].ContainerID != "aws-lambda://fk-ns-p" {
		t.Errorf("final status lost its addresses or containerID: %s %s %q", final.HostIP, final.PodIP, final.ContainerStatuses[0].ContainerID)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// jobPod is a Job's pod as the golden files have it (job-zip: OnFailure,
// container "task").
func jobPod(t *testing.T, policy corev1.RestartPolicy) *corev1.Pod {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "job-zip.input.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var pod corev1.Pod
	if err := yaml.UnmarshalStrict(data, &pod); err != nil {
		t.Fatal(err)
	}
	pod.Spec.RestartPolicy = policy
	return &pod
}

// jobStates are the states of a Job's function the golden file and the
// table below show: each end of an invocation, the back-off between
// attempts, and the active deadline.
func jobStates() map[string]*FunctionState {
	created := goldenNow.Add(-time.Minute)
	const name = "fk-shop-report-0f6c1e5a"
	active := func(j Job) *FunctionState {
		return &FunctionState{Name: name, Phase: PhaseActive, ImageID: "sha256:abc", Created: created, Job: j}
	}
	deadline := func(j Job) *FunctionState {
		return &FunctionState{Name: name, Phase: PhaseFailed, ImageID: "sha256:abc", Created: created,
			Reason: ReasonDeadlineExceeded, Message: MessageDeadlineExceeded, Job: j}
	}
	return map[string]*FunctionState{
		"attemptRunning": active(Job{State: JobRunning}),
		"failedError":    active(Job{State: JobFailed, Message: "ValueError: bad input", ExitCode: EndError.ExitCode(), Reason: EndError.Reason()}),
		"failedTimeout":  active(Job{State: JobFailed, Message: "Task timed out after 3.00 seconds", ExitCode: EndTimeout.ExitCode(), Reason: EndTimeout.Reason()}),
		"failedOOM":      active(Job{State: JobFailed, Message: "Runtime exited with error: signal: killed", ExitCode: EndOutOfMemory.ExitCode(), Reason: EndOutOfMemory.Reason()}),
		"failedStart":    active(Job{State: JobFailed, Message: "exec format error", ExitCode: EndStartError.ExitCode(), Reason: EndStartError.Reason()}),
		"failedRefused":  active(Job{State: JobFailed, Message: "invoking: TooManyRequestsException: Rate Exceeded.", ExitCode: ExitInvocationRefused, Reason: ReasonInvocationRefused}),
		"backingOff": active(Job{Restarts: 2, Backoff: 20 * time.Second, Message: "Task timed out after 3.00 seconds",
			ExitCode: EndTimeout.ExitCode(), Reason: EndTimeout.Reason()}),
		"retryRunning": active(Job{State: JobRunning, Restarts: 2, Message: "Task timed out after 3.00 seconds",
			ExitCode: EndTimeout.ExitCode(), Reason: EndTimeout.Reason()}),
		"deadlineInFlight": deadline(Job{State: JobFailed, DeadlineExceeded: true, Killed: true, Restarts: 1, Message: "flaky",
			ExitCode: 1, Reason: "Error"}),
		"deadlineBackingOff": deadline(Job{State: JobFailed, DeadlineExceeded: true, Restarts: 1, Message: "Task timed out after 3.00 seconds",
			ExitCode: EndTimeout.ExitCode(), Reason: EndTimeout.Reason()}),
		"deadlineAfterRestart": active(Job{State: JobFailed, DeadlineExceeded: true, Killed: true}),
	}
}

// TestJobStatusGolden writes what kubectl get pod -o yaml shows of a Job's
// pod in each state to testdata/job-statuses.golden.yaml (-update rewrites it).
func TestJobStatusGolden(t *testing.T) {
	pod := jobPod(t, corev1.RestartPolicyOnFailure)
	host := Host{Cloud: "aws-lambda", IP: "10.0.0.7"}
	out := map[string]corev1.PodStatus{}
	for name, fn := range jobStates() {
		out[name] = PodStatus(pod, fn, host, goldenNow)
	}
	got, err := yaml.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "job-statuses.golden.yaml"), got)
}

// What a user checks of a Job's pod in each state: phase and reason,
// the container's state, lastState and restart count, and readiness.
func TestJobStatusAsTheKubeletShowsIt(t *testing.T) {
	type term struct {
		code   int32
		reason string
	}
	for _, tc := range []struct {
		state             string
		phase             corev1.PodPhase
		podReason         string
		running           bool
		waiting           string
		terminated, last  *term
		restarts          int32
		ready             corev1.ConditionStatus
		containerMessage  string
		waitingMessageHas string
	}{
		{state: "attemptRunning", phase: corev1.PodRunning, running: true, ready: corev1.ConditionTrue},
		{state: "failedError", phase: corev1.PodFailed, terminated: &term{1, "Error"}, ready: corev1.ConditionFalse, containerMessage: "ValueError: bad input"},
		{state: "failedTimeout", phase: corev1.PodFailed, terminated: &term{124, "FunctionTimeout"}, ready: corev1.ConditionFalse},
		{state: "failedOOM", phase: corev1.PodFailed, terminated: &term{137, "OOMKilled"}, ready: corev1.ConditionFalse},
		{state: "failedStart", phase: corev1.PodFailed, terminated: &term{128, "StartError"}, ready: corev1.ConditionFalse},
		{state: "failedRefused", phase: corev1.PodFailed, terminated: &term{126, "InvocationRefused"}, ready: corev1.ConditionFalse},
		{state: "backingOff", phase: corev1.PodRunning, waiting: ReasonCrashLoopBackOff, last: &term{124, "FunctionTimeout"}, restarts: 2,
			ready: corev1.ConditionFalse, waitingMessageHas: "back-off 20s restarting failed container=task pod=report_shop(0f6c1e5a-1111-4a5b-9c3d-000000000002)"},
		{state: "retryRunning", phase: corev1.PodRunning, running: true, last: &term{124, "FunctionTimeout"}, restarts: 2, ready: corev1.ConditionTrue},
		{state: "deadlineInFlight", phase: corev1.PodFailed, podReason: ReasonDeadlineExceeded, terminated: &term{137, "Error"}, last: &term{1, "Error"},
			restarts: 1, ready: corev1.ConditionFalse},
		{state: "deadlineBackingOff", phase: corev1.PodFailed, podReason: ReasonDeadlineExceeded, terminated: &term{124, "FunctionTimeout"},
			last: &term{124, "FunctionTimeout"}, restarts: 1, ready: corev1.ConditionFalse},
		{state: "deadlineAfterRestart", phase: corev1.PodFailed, podReason: ReasonDeadlineExceeded, terminated: &term{137, "Error"}, ready: corev1.ConditionFalse},
	} {
		t.Run(tc.state, func(t *testing.T) {
			got := PodStatus(jobPod(t, corev1.RestartPolicyOnFailure), jobStates()[tc.state], Host{Cloud: "aws-lambda"}, goldenNow)
			if got.Phase != tc.phase || got.Reason != tc.podReason {
				t.Errorf("phase %s reason %q, want %s %q", got.Phase, got.Reason, tc.phase, tc.podReason)
			}
			if tc.podReason == ReasonDeadlineExceeded && got.Message != "Pod was active on the node longer than the specified deadline" {
				t.Errorf("message %q", got.Message)
			}
			cs := got.ContainerStatuses[0]
			if (cs.State.Running != nil) != tc.running {
				t.Errorf("running = %v, want %v", cs.State.Running != nil, tc.running)
			}
			if w := cs.State.Waiting; (w != nil || tc.waiting != "") && (w == nil || w.Reason != tc.waiting || w.Message != tc.waitingMessageHas) {
				t.Errorf("waiting = %+v, want %s %q", w, tc.waiting, tc.waitingMessageHas)
			}
			checkTerm := func(what string, got *corev1.ContainerStateTerminated, want *term) {
				t.Helper()
				if (got == nil) != (want == nil) || got != nil && (got.ExitCode != want.code || got.Reason != want.reason) {
					t.Errorf("%s = %+v, want %+v", what, got, want)
				}
			}
			checkTerm("state.terminated", cs.State.Terminated, tc.terminated)
			checkTerm("lastState.terminated", cs.LastTerminationState.Terminated, tc.last)
			if tc.containerMessage != "" && cs.State.Terminated.Message != tc.containerMessage {
				t.Errorf("terminated message %q, want %q", cs.State.Terminated.Message, tc.containerMessage)
			}
			if cs.RestartCount != tc.restarts {
				t.Errorf("restartCount %d, want %d", cs.RestartCount, tc.restarts)
			}
			if r, cr := findOf(got, corev1.PodReady), findOf(got, corev1.ContainersReady); r.Status != tc.ready || cr.Status != tc.ready {
				t.Errorf("Ready %s ContainersReady %s, want %s", r.Status, cr.Status, tc.ready)
			}
			if cs.Ready != (tc.ready == corev1.ConditionTrue) {
				t.Errorf("container ready = %v", cs.Ready)
			}
			if cs.ContainerID == "" {
				t.Error("a container that ran has no containerID")
			}
		})
	}
}

// matchesOnExitCodes is the Job controller's onExitCodes match
// (k8s.io/kubernetes/pkg/controller/job/pod_failure_policy.go,
// getMatchingContainerFromList): a terminated container with a non-zero
// exit code the requirement's operator accepts.
func matchesOnExitCodes(status corev1.PodStatus, req batchv1.PodFailurePolicyOnExitCodesRequirement) bool {
	for _, cs := range status.ContainerStatuses {
		term := cs.State.Terminated
		if term == nil || term.ExitCode == 0 || req.ContainerName != nil && *req.ContainerName != cs.Name {
			continue
		}
		if slices.Contains(req.Values, term.ExitCode) == (req.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn) {
			return true
		}
	}
	return false
}

// A podFailurePolicy rule onExitCodes In [124] matches the pod of a Job
// whose invocation timed out, and no other end.
func TestPodFailurePolicyTellsTheEndsApart(t *testing.T) {
	timeout := batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{124}}
	refused := batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{126}}
	for state, want := range map[string]string{"failedTimeout": "timeout", "failedRefused": "refused", "failedError": "", "failedOOM": "", "failedStart": "",
		"deadlineInFlight": "", "backingOff": ""} {
		st := PodStatus(jobPod(t, corev1.RestartPolicyNever), jobStates()[state], Host{}, goldenNow)
		if got := matchesOnExitCodes(st, timeout); got != (want == "timeout") {
			t.Errorf("%s: onExitCodes In [124] matched = %v", state, got)
		}
		if got := matchesOnExitCodes(st, refused); got != (want == "refused") {
			t.Errorf("%s: onExitCodes In [126] matched = %v", state, got)
		}
	}
}

// A Job's progress survives a restart through its tags: each end reads
// back as written, an older record (no end) reads as exit code 1, and the
// values stay within what the clouds take (three tags, values of at most
// 256 characters of Lambda's set).
func TestJobTagsRoundTrip(t *testing.T) {
	lambdaValue := regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
	for _, j := range []Job{
		{State: JobRunning},
		{State: JobRunning, Restarts: 3, ExitCode: 124, Reason: "FunctionTimeout", Message: "Task timed out"},
		{Restarts: 1, ExitCode: 137, Reason: "OOMKilled", Message: "killed"},
		{State: JobFailed, ExitCode: ExitInvocationRefused, Reason: ReasonInvocationRefused, Message: "invoking: throttled"},
		{State: JobFailed, ExitCode: 1, Reason: "Error", DeadlineExceeded: true, Killed: true, Restarts: 4},
		{State: JobSucceeded, Restarts: 2},
	} {
		tags := JobTags(j)
		if len(tags) != 3 {
			t.Errorf("%+v: %d tags, want 3", j, len(tags))
		}
		for k, v := range tags {
			if k != TagJobMessage && (len(v) > 256 || !lambdaValue.MatchString(v)) {
				t.Errorf("%+v: tag %s=%q is not a Lambda tag value", j, k, v)
			}
		}
		if got := JobFromTags(tags); got != j {
			t.Errorf("round trip of %+v = %+v (tags %v)", j, got, tags)
		}
	}
	if got := JobTags(Job{State: JobFailed, ExitCode: 124, Reason: "FunctionTimeout"})[TagJobState]; got != "failed exit=124 reason=FunctionTimeout" {
		t.Errorf("state tag %q", got)
	}
	old := JobFromTags(map[string]string{TagJobState: "failed", TagJobRestarts: "2", TagJobMessage: "boom"})
	if old != (Job{State: JobFailed, Restarts: 2, Message: "boom"}) {
		t.Errorf("older record read as %+v", old)
	}
	st := PodStatus(statusPod(), &FunctionState{Name: "f", Phase: PhaseActive, Job: old}, Host{}, goldenNow)
	if term := st.ContainerStatuses[0].State.Terminated; term == nil || term.ExitCode != 1 || term.Reason != "Error" {
		t.Errorf("older record shows %+v, want exit code 1, Error", term)
	}
	if long := JobTags(Job{State: JobFailed, Message: strings.Repeat("x", 300)}); len(long[TagJobMessage]) != 256 {
		t.Errorf("message tag of %d characters", len(long[TagJobMessage]))
	}
	odd := JobTags(Job{State: JobFailed, ExitCode: 2, Reason: "no such\nreason: " + strings.Repeat("y", 200), DeadlineExceeded: true, Killed: true})
	if v := odd[TagJobState]; len(v) > 128 || !lambdaValue.MatchString(v) || JobFromTags(odd).ExitCode != 2 || !JobFromTags(odd).Killed {
		t.Errorf("state tag %q (%d characters) for an odd reason", v, len(v))
	}
}

// The resize conditions come from the core's status, not from the API
// server's copy of an earlier report: a resize that ended is not revived,
// and one under way is not dropped.
func TestMergeConditionsTakesResizeConditionsFromOurStatus(t *testing.T) {
	pod := &corev1.Pod{}
	ours := corev1.PodStatus{Conditions: []corev1.PodCondition{
		{Type: corev1.PodReady, Status: corev1.ConditionTrue},
		{Type: corev1.ContainersReady, Status: corev1.ConditionTrue},
		{Type: corev1.PodResizeInProgress, Status: corev1.ConditionTrue},
	}}
	api := []corev1.PodCondition{
		{Type: corev1.PodResizePending, Status: corev1.ConditionTrue, Reason: "Infeasible"},
		{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue},
	}
	got := MergeConditions(pod, ours, api, time.Unix(0, 0))
	has := map[corev1.PodConditionType]bool{}
	for _, c := range got.Conditions {
		has[c.Type] = true
	}
	if has[corev1.PodResizePending] || !has[corev1.PodResizeInProgress] || !has[corev1.DisruptionTarget] {
		t.Errorf("merged conditions %+v: want our PodResizeInProgress, the API server's DisruptionTarget, and not its stale PodResizePending", got.Conditions)
	}
}
