package provider

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/record"

	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// watched is a provider over b whose reports (what Virtual Kubelet writes
// to pods/status) and events a test reads.
type watched struct {
	*Provider
	rec *record.FakeRecorder
	mu  sync.Mutex
	out []*corev1.Pod
}

func newWatched(t *testing.T, b Backend) *watched {
	t.Helper()
	return newWatchedAt(t, b, func() time.Time { return now })
}

// newWatchedAt is newWatched on clock; its tracker never ticks by itself
// (a test polls).
func newWatchedAt(t *testing.T, b Backend, clock func() time.Time) *watched {
	t.Helper()
	w := &watched{rec: record.NewFakeRecorder(100)}
	p, err := New(Options{NodeName: "vk", Backend: b, Recorder: w.rec, Now: clock,
		PollInterval: time.Hour, ResyncInterval: time.Hour, ReconcileInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	p.NotifyPods(ctx, func(pod *corev1.Pod) {
		w.mu.Lock()
		w.out = append(w.out, pod)
		w.mu.Unlock()
	})
	w.Provider = p
	return w
}

// last is the status last reported, as kubectl get pod -o yaml shows it
// once Virtual Kubelet has written it.
func (w *watched) last(t *testing.T) corev1.PodStatus {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.out) == 0 {
		t.Fatal("nothing reported")
	}
	return w.out[len(w.out)-1].Status
}

func (w *watched) events() string { return events(w.rec) }

// debugged is pod as the API server has it after kubectl debug -it pod
// --image=busybox: one more ephemeral container, a new generation.
func debugged(pod *corev1.Pod, name string) *corev1.Pod {
	d := pod.DeepCopy()
	d.Spec.EphemeralContainers = append(d.Spec.EphemeralContainers, corev1.EphemeralContainer{
		EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: name, Image: "busybox", Stdin: true, TTY: true},
		TargetContainerName:      "app",
	})
	return d
}

func TestDebugContainerEndsAtOnceAndLeavesTheFunction(t *testing.T) {
	b := &fakeBackend{}
	p := newWatched(t, b)
	ctx := context.Background()
	pod := newPod("uid-1", "hello")
	pod.Generation = 1
	if err := p.CreatePod(ctx, pod); err != nil {
		t.Fatal(err)
	}
	p.events()
	dbg := debugged(pod, "debugger-x7k2p")
	if err := p.UpdatePod(ctx, dbg); err != nil {
		t.Fatalf("UpdatePod = %v", err)
	}
	if len(b.deployed) != 1 || len(b.deleted) != 0 {
		t.Errorf("the function was touched: %d deploys, deleted %v", len(b.deployed), b.deleted)
	}
	st := p.last(t)
	if st.Phase != corev1.PodRunning || !st.ContainerStatuses[0].Ready || st.ContainerStatuses[0].State.Running == nil {
		t.Fatalf("phase %s, container %+v: the pod must keep running", st.Phase, st.ContainerStatuses[0])
	}
	if len(st.EphemeralContainerStatuses) != 1 {
		t.Fatalf("ephemeralContainerStatuses = %+v", st.EphemeralContainerStatuses)
	}
	es := st.EphemeralContainerStatuses[0]
	term := es.State.Terminated
	if es.Name != "debugger-x7k2p" || es.Image != "busybox" || es.Ready || es.ContainerID != "" || term == nil {
		t.Fatalf("debug container status = %+v: kubectl debug -it waits until it is running or terminated", es)
	}
	if term.ExitCode != 126 || term.Reason != "FunctionHasNoShell" ||
		!strings.Contains(term.Message, "kubectl exec -i hello -- invoke < payload.json") || !strings.Contains(term.Message, "no shell") {
		t.Errorf("terminated = %+v", term)
	}
	ev := p.events()
	if strings.Count(ev, "Warning FunctionHasNoShell") != 1 || !strings.Contains(ev, "debugger-x7k2p") {
		t.Errorf("events:\n%s", ev)
	}

	// Handed in again (any later change of the pod), and after a second
	// debug container: the first keeps its status, one event for the second.
	again := debugged(dbg, "debugger-b9m4q")
	again.Annotations = map[string]string{"example.com/seen": "yes"}
	if err := p.UpdatePod(ctx, again); err != nil {
		t.Fatal(err)
	}
	st = p.last(t)
	if len(st.EphemeralContainerStatuses) != 2 || st.EphemeralContainerStatuses[0].State.Terminated.FinishedAt != term.FinishedAt ||
		st.EphemeralContainerStatuses[1].Name != "debugger-b9m4q" {
		t.Errorf("ephemeralContainerStatuses = %+v", st.EphemeralContainerStatuses)
	}
	if ev := p.events(); strings.Count(ev, "FunctionHasNoShell") != 1 || !strings.Contains(ev, "debugger-b9m4q") {
		t.Errorf("events:\n%s", ev)
	}
	if len(b.deployed) != 1 {
		t.Errorf("%d deploys", len(b.deployed))
	}

	// The statuses stay through every later report (the tracker's, a new
	// image's deploy).
	img := again.DeepCopy()
	img.Spec.Containers[0].Image = "example.com/hello:2"
	if err := p.UpdatePod(ctx, img); err != nil {
		t.Fatal(err)
	}
	if len(b.deployed) != 2 {
		t.Fatalf("a new image was not deployed: %d deploys", len(b.deployed))
	}
	if st := p.last(t); st.Phase != corev1.PodRunning || len(st.EphemeralContainerStatuses) != 2 {
		t.Errorf("after a new image: phase %s, ephemeral %+v", st.Phase, st.EphemeralContainerStatuses)
	}
}

func TestDebugContainerOnAPodWhoseFunctionIsCreatedFailsNothing(t *testing.T) {
	b := &fakeBackend{deployFn: func(fn *translate.Function) (*translate.FunctionState, error) {
		return &translate.FunctionState{Name: fn.Name, Phase: translate.PhasePending, Message: "The function is being created."}, nil
	}}
	p := newWatched(t, b)
	ctx := context.Background()
	pod := newPod("uid-1", "bare") // no controller: a spec refusal would fail it
	if err := p.CreatePod(ctx, pod); err != nil {
		t.Fatal(err)
	}
	if err := p.UpdatePod(ctx, debugged(pod, "debugger-1")); err != nil {
		t.Fatal(err)
	}
	st := p.last(t)
	if st.Phase != corev1.PodPending || st.ContainerStatuses[0].State.Waiting == nil || st.ContainerStatuses[0].State.Waiting.Reason != "FunctionPending" {
		t.Errorf("phase %s, container %+v: the pod goes on waiting for its function", st.Phase, st.ContainerStatuses[0].State)
	}
	if len(st.EphemeralContainerStatuses) != 1 || st.EphemeralContainerStatuses[0].State.Terminated == nil {
		t.Errorf("ephemeralContainerStatuses = %+v", st.EphemeralContainerStatuses)
	}
	if len(b.deployed) != 1 || len(b.deleted) != 0 {
		t.Errorf("%d deploys, deleted %v", len(b.deployed), b.deleted)
	}
	if ev := p.events(); strings.Contains(ev, ReasonInvalidSpec) {
		t.Errorf("events:\n%s", ev)
	}
}
