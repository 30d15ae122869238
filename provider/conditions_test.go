package provider

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

const gate = corev1.PodConditionType("example.com/gate")

// notifications collects what the core reports, safely for the tracker.
type notifications struct {
	mu   sync.Mutex
	pods []*corev1.Pod
}

func (n *notifications) add(pod *corev1.Pod) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.pods = append(n.pods, pod)
}

func (n *notifications) take() []*corev1.Pod {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := n.pods
	n.pods = nil
	return out
}

func findCond(s *corev1.PodStatus, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range s.Conditions {
		if s.Conditions[i].Type == t {
			return &s.Conditions[i]
		}
	}
	return nil
}

// inAPI is the pod as the API server has it after the last report, with
// conditions set by others.
func inAPI(reported *corev1.Pod, spec *corev1.Pod, conds ...corev1.PodCondition) *corev1.Pod {
	api := spec.DeepCopy()
	api.Status = *reported.Status.DeepCopy()
	for _, c := range conds {
		if old := findCond(&api.Status, c.Type); old != nil {
			*old = c
		} else {
			api.Status.Conditions = append(api.Status.Conditions, c)
		}
	}
	return api
}

// A condition another controller wrote survives every later report: the
// one an update makes, the tracker's, and the final one.
func TestReportsKeepConditionsOthersWrote(t *testing.T) {
	b := &fakeBackend{}
	p, err := New(Options{NodeName: "vk", Backend: b, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	var n notifications
	p.NotifyPods(context.Background(), n.add)
	pod := newPod("uid-1", "a")
	if err := p.CreatePod(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	first := n.take()
	disruption := corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue, Reason: "EvictionByEvictionAPI"}
	updated := inAPI(first[len(first)-1], pod, disruption)
	updated.Spec.Containers[0].Image = "example.com/hello:2"
	b.deployFn = func(fn *translate.Function) (*translate.FunctionState, error) {
		return &translate.FunctionState{Name: fn.Name, Phase: translate.PhasePending}, nil
	}
	if err := p.UpdatePod(context.Background(), updated); err != nil {
		t.Fatal(err)
	}
	// The tracker reads the function, Active again, from our record.
	b.getState = &translate.FunctionState{Name: translate.FunctionName(pod), Phase: translate.PhaseActive}
	p.check(context.Background(), pod.UID)
	if err := p.DeletePod(context.Background(), updated); err != nil {
		t.Fatal(err)
	}
	reports := n.take()
	if len(reports) != 3 {
		t.Fatalf("%d reports, want the update's, the tracker's and the final one", len(reports))
	}
	for i, r := range reports {
		if c := findCond(&r.Status, corev1.DisruptionTarget); c == nil || c.Reason != "EvictionByEvictionAPI" {
			t.Errorf("report %d (%s) lost DisruptionTarget: %v", i, r.Status.Phase, r.Status.Conditions)
		}
	}
}

// A pod with a readiness gate is not Ready until the gate's condition is
// True in the API server; the reconcile then reports it Ready at once.
func TestReadinessGateMakesThePodReadyWhenTrue(t *testing.T) {
	b := &fakeBackend{}
	var api atomic.Pointer[[]*corev1.Pod]
	api.Store(&[]*corev1.Pod{})
	p, err := New(Options{NodeName: "vk", Backend: b, Now: func() time.Time { return now },
		Pods: func() ([]*corev1.Pod, bool) { return *api.Load(), true }})
	if err != nil {
		t.Fatal(err)
	}
	var n notifications
	p.NotifyPods(context.Background(), n.add)
	pod := newPod("uid-1", "a")
	pod.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: gate}}
	if err := p.CreatePod(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	first := n.take()[0]
	if r := findCond(&first.Status, corev1.PodReady); r.Status != corev1.ConditionFalse || r.Reason != translate.ReasonReadinessGatesNotReady {
		t.Fatalf("Ready before the gate = %+v", r)
	}
	if got, _ := p.GetPod(context.Background(), "default", "a"); len(got.Spec.ReadinessGates) != 1 {
		t.Fatalf("the record lost the readiness gates: %+v", got.Spec)
	}
	// Nothing changed: nothing is reported.
	p.reconcile([]*corev1.Pod{inAPI(first, pod)})
	if got := n.take(); len(got) != 0 {
		t.Fatalf("%d reports of an unchanged pod", len(got))
	}
	// The load balancer's controller sets the gate; the report comes
	// without waiting for reassertAfter.
	p.reconcile([]*corev1.Pod{inAPI(first, pod, corev1.PodCondition{Type: gate, Status: corev1.ConditionTrue})})
	got := n.take()
	if len(got) != 1 {
		t.Fatalf("%d reports after the gate turned True, want 1", len(got))
	}
	if r := findCond(&got[0].Status, corev1.PodReady); r.Status != corev1.ConditionTrue {
		t.Errorf("Ready after the gate = %+v", r)
	}
	if c := findCond(&got[0].Status, gate); c == nil || c.Status != corev1.ConditionTrue {
		t.Errorf("the gate's condition is not reported as the API server has it: %v", got[0].Status.Conditions)
	}
	// Our write landed: the next reconcile finds nothing to say.
	p.reconcile([]*corev1.Pod{inAPI(got[0], pod)})
	if again := n.take(); len(again) != 0 {
		t.Errorf("%d reports once the API server agreed", len(again))
	}
	// The gate turns False again and the pod is annotated: Virtual
	// Kubelet's UpdatePod carries the condition, and the pod is reported
	// not Ready without redeploying anything.
	relabelled := inAPI(got[0], pod, corev1.PodCondition{Type: gate, Status: corev1.ConditionFalse})
	relabelled.Annotations = map[string]string{"team": "web"}
	if err := p.UpdatePod(context.Background(), relabelled); err != nil {
		t.Fatal(err)
	}
	got = n.take()
	if len(got) != 1 || findCond(&got[0].Status, corev1.PodReady).Status != corev1.ConditionFalse || got[0].Annotations["team"] != "web" {
		t.Fatalf("after UpdatePod with the gate False: %d reports %+v", len(got), got)
	}
	if len(b.deployed) != 1 {
		t.Errorf("%d deployments, want the first alone", len(b.deployed))
	}
}

// A status the node lifecycle controller changed is reported again by the
// short reconcile, not only at the next resync.
func TestReconcileReassertsBeforeTheResync(t *testing.T) {
	b := &fakeBackend{}
	var offset atomic.Int64
	var api atomic.Pointer[[]*corev1.Pod]
	api.Store(&[]*corev1.Pod{})
	p, err := New(Options{NodeName: "vk", Backend: b, Now: func() time.Time { return now.Add(time.Duration(offset.Load())) },
		ResyncInterval: time.Hour, ReconcileInterval: 5 * time.Millisecond,
		Pods: func() ([]*corev1.Pod, bool) { return *api.Load(), true }})
	if err != nil {
		t.Fatal(err)
	}
	var n notifications
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p.NotifyPods(ctx, n.add)
	pod := newPod("uid-1", "a")
	if err := p.CreatePod(ctx, pod); err != nil {
		t.Fatal(err)
	}
	reported := n.take()[0]
	notReady := corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "NodeNotReady"}
	offset.Store(int64(reassertAfter))
	api.Store(&[]*corev1.Pod{inAPI(reported, pod, notReady)})
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if got := n.take(); len(got) > 0 {
			if r := findCond(&got[0].Status, corev1.PodReady); r.Status != corev1.ConditionTrue {
				t.Fatalf("reasserted Ready = %+v", r)
			}
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("a pod marked not Ready was not reported again before the resync")
}

// Pods report the node's address in every phase and podIP once the
// function exists; containers the cloud created carry "<cloud>://<id>".
func TestReportedAddressesAndContainerID(t *testing.T) {
	b := &fakeBackend{}
	p, err := New(Options{NodeName: "vk", Backend: b, Now: func() time.Time { return now }, PodIP: "10.1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	var n notifications
	p.NotifyPods(context.Background(), n.add)
	pod := newPod("uid-1", "a")
	b.deployFn = func(fn *translate.Function) (*translate.FunctionState, error) {
		return &translate.FunctionState{Name: fn.Name, Phase: translate.PhasePending}, nil
	}
	if err := p.CreatePod(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	b.getState = &translate.FunctionState{Name: translate.FunctionName(pod), Phase: translate.PhaseActive}
	p.check(context.Background(), pod.UID)
	if err := p.DeletePod(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		phase corev1.PodPhase
		id    string
	}{{corev1.PodPending, ""}, {corev1.PodRunning, "fake://" + translate.FunctionName(pod)}, {corev1.PodFailed, "fake://" + translate.FunctionName(pod)}}
	got := n.take()
	if len(got) != len(want) {
		t.Fatalf("%d reports, want %d", len(got), len(want))
	}
	for i, r := range got {
		s := r.Status
		if s.Phase != want[i].phase || s.HostIP != "10.1.2.3" || s.PodIP != "10.1.2.3" || len(s.HostIPs) != 1 || len(s.PodIPs) != 1 {
			t.Errorf("report %d: %s hostIP %q podIP %q, want %s with both", i, s.Phase, s.HostIP, s.PodIP, want[i].phase)
		}
		if id := s.ContainerStatuses[0].ContainerID; id != want[i].id {
			t.Errorf("report %d: containerID %q, want %q", i, id, want[i].id)
		}
	}
}
