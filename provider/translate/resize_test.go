package translate

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/faas-kubelet/faas-kubelet/pkg/golden"
)

func resources(mem string) corev1.ResourceRequirements {
	q := resource.MustParse(mem)
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceMemory: q, corev1.ResourceCPU: resource.MustParse("250m")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: q},
	}
}

func resizedPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "shop", UID: "0f6c1e5a-1111-4a5b-9c3d-000000000003", Generation: 2},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "app", Image: "example.com/hello:1", Resources: resources("1Gi")}},
			EphemeralContainers: []corev1.EphemeralContainer{{
				EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debugger-x7k2p", Image: "busybox", Stdin: true, TTY: true},
				TargetContainerName:      "app",
			}},
		},
	}
}

// resizeStatuses is a running pod's status at each step of a resize and
// after kubectl debug, as the core makes it.
func resizeStatuses() map[string]corev1.PodStatus {
	pod := resizedPod()
	pod.Status.QOSClass = corev1.PodQOSBurstable // as the API server set it
	host := Host{Cloud: "aws-lambda", IP: "10.0.0.7"}
	fn := &FunctionState{Name: FunctionName(pod), Phase: PhaseActive, ImageID: "sha256:abc", Created: goldenNow.Add(-time.Hour)}
	running := PodStatus(pod, fn, host, goldenNow)
	running.ObservedGeneration = 1
	Allocate(&running, "app", resources("512Mi"))

	inProgress := *running.DeepCopy()
	inProgress.ObservedGeneration = 2
	SetResizeCondition(&inProgress, corev1.PodResizeInProgress, "", "", 2, goldenNow)

	resized := *inProgress.DeepCopy()
	Allocate(&resized, "app", resources("1Gi"))
	ClearResizeCondition(&resized, corev1.PodResizeInProgress)

	infeasible := *running.DeepCopy()
	infeasible.ObservedGeneration = 2
	SetResizeCondition(&infeasible, corev1.PodResizePending, corev1.PodReasonInfeasible,
		"spec.containers[0].resources.limits.memory: Lambda memory must be between 128 and 10240 MiB; the pod asks for 20480 MiB; the function keeps 512 MiB", 2, goldenNow)

	debugged := *running.DeepCopy()
	debugged.EphemeralContainerStatuses, _ = EphemeralContainerStatuses(pod, nil, goldenNow)

	// The tracker's next report, made afresh from the function's state,
	// carries what the status showed.
	again := pod.DeepCopy()
	again.Spec.EphemeralContainers = nil
	again.Status = infeasible
	later := PodStatus(again, fn, host, goldenNow.Add(time.Minute))
	CarryAllocation(&later, infeasible)
	return map[string]corev1.PodStatus{"running": running, "resizeInProgress": inProgress, "resized": resized, "infeasible": infeasible, "debugged": debugged, "infeasibleLater": later}
}

// TestResizeStatusGolden writes what kubectl get pod -o yaml shows at each
// step to testdata/resize-statuses.golden.yaml (-update rewrites it).
func TestResizeStatusGolden(t *testing.T) {
	got, err := yaml.Marshal(resizeStatuses())
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "resize-statuses.golden.yaml"), got)
}

// What a user checks at each step: the pod runs and is Ready throughout,
// the container shows the resources that run, and the resize conditions.
func TestResizeStatusAsTheKubeletShowsIt(t *testing.T) {
	all := resizeStatuses()
	for _, tc := range []struct {
		state              string
		runs, allocated    string
		inProgress         bool
		pending            string
		ephemeral          int
		observedGeneration int64
	}{
		{state: "running", runs: "512Mi", allocated: "512Mi", observedGeneration: 1},
		{state: "resizeInProgress", runs: "512Mi", allocated: "512Mi", inProgress: true, observedGeneration: 2},
		{state: "resized", runs: "1Gi", allocated: "1Gi", observedGeneration: 2},
		{state: "infeasible", runs: "512Mi", allocated: "512Mi", pending: corev1.PodReasonInfeasible, observedGeneration: 2},
		{state: "infeasibleLater", runs: "512Mi", allocated: "512Mi", pending: corev1.PodReasonInfeasible},
		{state: "debugged", runs: "512Mi", allocated: "512Mi", ephemeral: 1, observedGeneration: 1},
	} {
		t.Run(tc.state, func(t *testing.T) {
			st := all[tc.state]
			cs := st.ContainerStatuses[0]
			if st.Phase != corev1.PodRunning || !cs.Ready || cs.State.Running == nil {
				t.Errorf("phase %s, container %+v: the pod runs on", st.Phase, cs.State)
			}
			if ready := findCondition(st.Conditions, corev1.PodReady); ready == nil || ready.Status != corev1.ConditionTrue {
				t.Errorf("Ready = %+v", ready)
			}
			if cs.Resources == nil || cs.Resources.Limits.Memory().String() != tc.runs {
				t.Errorf("resources = %+v, want memory %s", cs.Resources, tc.runs)
			}
			if m := cs.AllocatedResources[corev1.ResourceMemory]; m.String() != tc.allocated || cs.AllocatedResources.Cpu().String() != "250m" {
				t.Errorf("allocatedResources = %v, want memory %s", cs.AllocatedResources, tc.allocated)
			}
			if c := findCondition(st.Conditions, corev1.PodResizeInProgress); (c != nil) != tc.inProgress || c != nil && (c.Status != corev1.ConditionTrue || c.ObservedGeneration != 2) {
				t.Errorf("PodResizeInProgress = %+v", c)
			}
			c := findCondition(st.Conditions, corev1.PodResizePending)
			if tc.pending == "" && c != nil || tc.pending != "" && (c == nil || c.Reason != tc.pending || c.Status != corev1.ConditionTrue ||
				!strings.HasPrefix(c.Message, "spec.containers[0].resources.limits.memory: ")) {
				t.Errorf("PodResizePending = %+v", c)
			}
			if len(st.EphemeralContainerStatuses) != tc.ephemeral {
				t.Errorf("ephemeralContainerStatuses = %+v", st.EphemeralContainerStatuses)
			}
			if tc.state != "infeasibleLater" && st.ObservedGeneration != tc.observedGeneration {
				t.Errorf("observedGeneration = %d, want %d", st.ObservedGeneration, tc.observedGeneration)
			}
		})
	}
}

func TestEphemeralContainerStatusesKeepTheirEnd(t *testing.T) {
	pod := resizedPod()
	first, added := EphemeralContainerStatuses(pod, nil, goldenNow)
	if len(first) != 1 || len(added) != 1 || added[0] != "debugger-x7k2p" {
		t.Fatalf("statuses %+v, added %v", first, added)
	}
	term := first[0].State.Terminated
	if first[0].Name != "debugger-x7k2p" || first[0].Image != "busybox" || first[0].Ready || first[0].ContainerID != "" || term == nil ||
		term.ExitCode != ExitNoShell || term.Reason != ReasonFunctionHasNoShell {
		t.Fatalf("status = %+v", first[0])
	}
	for _, want := range []string{"pod shop/hello runs as function " + FunctionName(pod), "debug container debugger-x7k2p was not started",
		"kubectl exec -i hello -- invoke < payload.json", "kubectl logs hello"} {
		if !strings.Contains(term.Message, want) {
			t.Errorf("message %q lacks %q", term.Message, want)
		}
	}
	pod.Spec.EphemeralContainers = append(pod.Spec.EphemeralContainers, corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "second", Image: "alpine"}})
	next, added := EphemeralContainerStatuses(pod, first, goldenNow.Add(time.Hour))
	if len(next) != 2 || len(added) != 1 || added[0] != "second" || next[0].State.Terminated.FinishedAt != term.FinishedAt {
		t.Errorf("statuses %+v, added %v: the first keeps its end", next, added)
	}
	// A record that keeps no ephemeral containers keeps the statuses.
	kept, added := EphemeralContainerStatuses(WithoutEphemeralContainers(pod), next, goldenNow.Add(2*time.Hour))
	if len(kept) != 2 || len(added) != 0 {
		t.Errorf("kept %+v, added %v", kept, added)
	}
	if len(pod.Spec.EphemeralContainers) != 2 {
		t.Error("WithoutEphemeralContainers changed the pod handed in")
	}
}

func TestSameResourcesAndResizeConditions(t *testing.T) {
	a := resources("1Gi")
	b := resources("1024Mi")
	if !SameResources(a, b) || SameResources(a, resources("2Gi")) || !SameResources(corev1.ResourceRequirements{}, corev1.ResourceRequirements{Requests: corev1.ResourceList{}}) {
		t.Error("SameResources compares quantities, not spellings, and empty lists as none")
	}
	st := &corev1.PodStatus{}
	if !SetResizeCondition(st, corev1.PodResizePending, corev1.PodReasonInfeasible, "m1", 2, goldenNow) {
		t.Error("a new condition is a change")
	}
	if SetResizeCondition(st, corev1.PodResizePending, corev1.PodReasonInfeasible, "m2", 2, goldenNow.Add(time.Minute)) {
		t.Error("the same reason and generation is no change (the kubelet records no second event)")
	}
	c := findCondition(st.Conditions, corev1.PodResizePending)
	if c.Message != "m2" || !c.LastTransitionTime.Equal(&metav1.Time{Time: goldenNow}) {
		t.Errorf("condition = %+v: the message is new, the transition time holds", c)
	}
	if !SetResizeCondition(st, corev1.PodResizePending, corev1.PodReasonInfeasible, "m2", 3, goldenNow.Add(time.Minute)) {
		t.Error("a new generation is a change")
	}
	if !ClearResizeCondition(st, corev1.PodResizePending) || len(st.Conditions) != 0 || ClearResizeCondition(st, corev1.PodResizePending) {
		t.Errorf("clear: %+v", st.Conditions)
	}
	// The API server's copy may lag: ours win.
	ours := corev1.PodStatus{}
	SetResizeCondition(&ours, corev1.PodResizeInProgress, "", "", 2, goldenNow)
	api := corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodResizePending, Status: corev1.ConditionTrue, Reason: "Infeasible"}, {Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}}}
	KeepResizeConditions(&api, ours)
	if len(api.Conditions) != 2 || findCondition(api.Conditions, corev1.PodResizePending) != nil || findCondition(api.Conditions, corev1.PodResizeInProgress) == nil {
		t.Errorf("conditions = %+v", api.Conditions)
	}
}
