package translate

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
