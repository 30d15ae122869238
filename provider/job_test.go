package provider

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"

	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// heldInvoke is a backend whose invocations the test answers one by one:
// each Invoke hands its context to the test on started and returns what
// the test sends on answers, or its context's error once that ends.
type heldInvoke struct {
	fakeBackend
	started chan context.Context
	answers chan heldAnswer
}

type heldAnswer struct {
	inv *translate.Invocation
	err error
}

func (h *heldInvoke) Invoke(ctx context.Context, name string, _ []byte) (*translate.Invocation, error) {
	h.mu.Lock()
	h.invoked = append(h.invoked, name)
	h.mu.Unlock()
	h.started <- ctx
	select {
	case a := <-h.answers:
		return a.inv, a.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// jobFixture is a core whose clock the test steps and whose tracker it
// polls; the statuses the core reports arrive on reports.
type jobFixture struct {
	p       *Provider
	b       *heldInvoke
	clock   *stepClock
	events  *record.FakeRecorder
	ctx     context.Context
	reports chan *corev1.Pod
}

// newJobFixture's back-off is 20s of the stepped clock: the real timer
// that also ends a back-off does not fire within a test.
func newJobFixture(t *testing.T) *jobFixture {
	t.Helper()
	f := &jobFixture{
		b:       &heldInvoke{started: make(chan context.Context, 4), answers: make(chan heldAnswer, 4)},
		clock:   &stepClock{t: now},
		events:  record.NewFakeRecorder(100),
		reports: make(chan *corev1.Pod, 100),
	}
	p, err := New(Options{NodeName: "vk", Backend: f.b, Now: f.clock.Now, Recorder: f.events, PollInterval: time.Hour,
		ResyncInterval: time.Hour, ReconcileInterval: time.Hour, JobBackoff: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	p.NotifyPods(ctx, func(pod *corev1.Pod) { f.reports <- pod })
	f.p, f.ctx = p, ctx
	return f
}

// step moves the clock and runs one poll of the tracker to its end.
func (f *jobFixture) step(d time.Duration) {
	f.clock.Step(d)
	f.p.poll(f.ctx).Wait()
}

// attempt waits for the next invocation to start and returns its context.
func (f *jobFixture) attempt(t *testing.T) context.Context {
	t.Helper()
	select {
	case ctx := <-f.b.started:
		return ctx
	case <-time.After(5 * time.Second):
		t.Fatal("no invocation started")
		return nil
	}
}

// answer ends the invocation in flight.
func (f *jobFixture) answer(inv *translate.Invocation, err error) {
	f.b.answers <- heldAnswer{inv, err}
}

// reported waits for a reported status that satisfies ok.
func (f *jobFixture) reported(t *testing.T, what string, ok func(*corev1.PodStatus) bool) *corev1.PodStatus {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case pod := <-f.reports:
			if ok(&pod.Status) {
				return &pod.Status
			}
		case <-timeout:
			t.Fatalf("no status reported with %s", what)
			return nil
		}
	}
}

func (f *jobFixture) invocations() int {
	f.b.mu.Lock()
	defer f.b.mu.Unlock()
	return len(f.b.invoked)
}

func (f *jobFixture) tags() map[string]string {
	f.b.mu.Lock()
	defer f.b.mu.Unlock()
	out := map[string]string{}
	for k, v := range f.b.tags {
		out[k] = v
	}
	return out
}

// noAttemptStarts confirms that no invocation is in flight or waiting to
// start: the Job's goroutine has ended (its record has no back-off armed
// and no attempt in flight, and the drain has nothing to wait for).
func (f *jobFixture) noAttemptStarts(t *testing.T, invocations int) {
	t.Helper()
	drained := make(chan struct{})
	go func() { f.p.invocations.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(5 * time.Second):
		t.Fatal("an invocation is still waited for")
	}
	f.p.mu.Lock()
	for _, r := range f.p.pods {
		if r.run.wake != nil || r.run.cancel != nil {
			t.Errorf("pod %s still has a back-off or an attempt", r.pod.Name)
		}
	}
	f.p.mu.Unlock()
	if n := f.invocations(); n != invocations {
		t.Errorf("%d invocations, want %d", n, invocations)
	}
}

func terminated(st *corev1.PodStatus) *corev1.ContainerStateTerminated {
	return st.ContainerStatuses[0].State.Terminated
}

func isPhase(phase corev1.PodPhase) func(*corev1.PodStatus) bool {
	return func(st *corev1.PodStatus) bool { return st.Phase == phase }
}

func backingOff(st *corev1.PodStatus) bool {
	w := st.ContainerStatuses[0].State.Waiting
	return w != nil && w.Reason == translate.ReasonCrashLoopBackOff
}

// A failed invocation's end is the container's exit code and reason, and
// the function's tags keep it: a restarted faas-kubelet shows the same.
func TestJobExitCodeIsHowTheInvocationEnded(t *testing.T) {
	for _, tc := range []struct {
		name   string
		inv    *translate.Invocation
		err    error
		code   int32
		reason string
		msg    string
	}{
		{name: "error", inv: &translate.Invocation{FunctionError: "ValueError: bad input", End: translate.EndError}, code: 1, reason: "Error", msg: "ValueError: bad input"},
		{name: "timeout", inv: &translate.Invocation{FunctionError: "Task timed out after 3.00 seconds", End: translate.EndTimeout}, code: 124, reason: "FunctionTimeout",
			msg: "Task timed out after 3.00 seconds"},
		{name: "out of memory", inv: &translate.Invocation{FunctionError: "Runtime exited with error: signal: killed", End: translate.EndOutOfMemory}, code: 137,
			reason: "OOMKilled", msg: "Runtime exited with error: signal: killed"},
		{name: "start error", inv: &translate.Invocation{FunctionError: "exec format error", End: translate.EndStartError}, code: 128, reason: "StartError",
			msg: "exec format error"},
		{name: "refused", err: errors.New("TooManyRequestsException: Rate Exceeded."), code: 126, reason: "InvocationRefused",
			msg: "invoking: TooManyRequestsException: Rate Exceeded."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newJobFixture(t)
			pod := jobPod("x1", corev1.RestartPolicyNever)
			if err := f.p.CreatePod(context.Background(), pod); err != nil {
				t.Fatal(err)
			}
			f.attempt(t)
			f.answer(tc.inv, tc.err)
			st := f.reported(t, "phase Failed", isPhase(corev1.PodFailed))
			if term := terminated(st); term == nil || term.ExitCode != tc.code || term.Reason != tc.reason || term.Message != tc.msg {
				t.Errorf("terminated = %+v, want %d %s %q", term, tc.code, tc.reason, tc.msg)
			}
			if st.Reason != "" {
				t.Errorf("pod reason %q, want none (the container says how it ended)", st.Reason)
			}
			f.noAttemptStarts(t, 1)

			// A restart: the function's tags give the same status.
			tags := f.tags()
			g := newJobFixture(t)
			g.b.deployFn = func(fn *translate.Function) (*translate.FunctionState, error) {
				return &translate.FunctionState{Name: fn.Name, Phase: translate.PhaseActive, Tags: tags}, nil
			}
			if err := g.p.CreatePod(context.Background(), pod); err != nil {
				t.Fatal(err)
			}
			again := g.reported(t, "phase Failed after a restart", isPhase(corev1.PodFailed))
			if term := terminated(again); term == nil || term.ExitCode != tc.code || term.Reason != tc.reason || term.Message != tc.msg {
				t.Errorf("after a restart, terminated = %+v, want %d %s", term, tc.code, tc.reason)
			}
			g.noAttemptStarts(t, 0)
		})
	}
}

// Between a failed attempt and the next, the pod shows the kubelet's
// CrashLoopBackOff; the next attempt starts when the node's clock says the
// back-off is over, and shows the last attempt as lastState.
func TestJobBackoffShowsCrashLoopBackOff(t *testing.T) {
	f := newJobFixture(t)
	pod := jobPod("b1", corev1.RestartPolicyOnFailure)
	if err := f.p.CreatePod(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	f.attempt(t)
	f.answer(&translate.Invocation{FunctionError: "Task timed out after 3.00 seconds", End: translate.EndTimeout}, nil)
	st := f.reported(t, "CrashLoopBackOff", backingOff)
	cs := st.ContainerStatuses[0]
	if want := "back-off 20s restarting failed container=app pod=job-b1_default(b1)"; cs.State.Waiting.Message != want {
		t.Errorf("waiting message %q, want %q", cs.State.Waiting.Message, want)
	}
	if st.Phase != corev1.PodRunning || cs.RestartCount != 1 || cs.Ready {
		t.Errorf("phase %s restartCount %d ready %v, want Running 1 false", st.Phase, cs.RestartCount, cs.Ready)
	}
	if last := cs.LastTerminationState.Terminated; last == nil || last.ExitCode != 124 || last.Reason != "FunctionTimeout" || last.Message != "Task timed out after 3.00 seconds" {
		t.Errorf("lastState = %+v", cs.LastTerminationState)
	}
	for _, c := range []corev1.PodConditionType{corev1.PodReady, corev1.ContainersReady} {
		if got := condition(st, c); got != corev1.ConditionFalse {
			t.Errorf("%s = %s, want False", c, got)
		}
	}
	if tags := f.tags(); tags[translate.TagJobState] != "backoff exit=124 reason=FunctionTimeout" || tags[translate.TagJobRestarts] != "1" {
		t.Errorf("tags during the back-off: %v", tags)
	}

	f.step(19 * time.Second)
	f.p.mu.Lock()
	armed := f.p.pods[pod.UID].run.wake != nil
	f.p.mu.Unlock()
	if !armed || f.invocations() != 1 {
		t.Fatalf("the back-off ended early (armed %v, %d invocations)", armed, f.invocations())
	}
	f.step(time.Second)
	f.attempt(t)
	st = f.reported(t, "the retry running", func(st *corev1.PodStatus) bool { return st.ContainerStatuses[0].State.Running != nil })
	if cs := st.ContainerStatuses[0]; cs.RestartCount != 1 || cs.LastTerminationState.Terminated == nil || cs.LastTerminationState.Terminated.ExitCode != 124 ||
		condition(st, corev1.PodReady) != corev1.ConditionTrue {
		t.Errorf("retry running: %+v, Ready %s", cs, condition(st, corev1.PodReady))
	}
	f.answer(&translate.Invocation{Output: []byte("ok")}, nil)
	st = f.reported(t, "phase Succeeded", isPhase(corev1.PodSucceeded))
	if cs := st.ContainerStatuses[0]; cs.RestartCount != 1 || terminated(st).ExitCode != 0 {
		t.Errorf("succeeded: %+v", cs)
	}
	f.noAttemptStarts(t, 2)
	var backOffs int
	for len(f.events.Events) > 0 {
		if e := <-f.events.Events; strings.HasPrefix(e, "Warning BackOff Back-off restarting failed container app in pod job-b1_default(b1)") {
			backOffs++
		}
	}
	if backOffs != 1 {
		t.Errorf("%d BackOff events, want 1", backOffs)
	}
}

// The back-off doubles after each failed attempt.
func TestJobBackoffDoubles(t *testing.T) {
	f := newJobFixture(t)
	pod := jobPod("b2", corev1.RestartPolicyOnFailure)
	if err := f.p.CreatePod(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"20s", "40s", "1m0s"} {
		f.attempt(t)
		f.answer(&translate.Invocation{FunctionError: "flaky"}, nil)
		st := f.reported(t, "CrashLoopBackOff", func(st *corev1.PodStatus) bool {
			return backingOff(st) && st.ContainerStatuses[0].RestartCount == int32(i+1)
		})
		if msg := st.ContainerStatuses[0].State.Waiting.Message; !strings.HasPrefix(msg, "back-off "+want+" ") {
			t.Errorf("restart %d: %q, want back-off %s", i+1, msg, want)
		}
		d, _ := time.ParseDuration(want)
		f.step(d)
	}
	f.attempt(t)
	f.answer(&translate.Invocation{Output: []byte("ok")}, nil)
	if st := f.reported(t, "phase Succeeded", isPhase(corev1.PodSucceeded)); st.ContainerStatuses[0].RestartCount != 3 {
		t.Errorf("restartCount %d, want 3", st.ContainerStatuses[0].RestartCount)
	}
}

func withDeadline(pod *corev1.Pod, seconds int64) *corev1.Pod {
	pod.Spec.ActiveDeadlineSeconds = ptr.To(seconds)
	return pod
}

// deadlineExceeded checks what the kubelet shows of a pod past its
// deadline, and that the pod object stays while its function is deleted.
func deadlineExceeded(t *testing.T, f *jobFixture, pod *corev1.Pod) *corev1.PodStatus {
	t.Helper()
	st := f.reported(t, "phase Failed", isPhase(corev1.PodFailed))
	if st.Reason != "DeadlineExceeded" || st.Message != "Pod was active on the node longer than the specified deadline" {
		t.Errorf("reason %q message %q", st.Reason, st.Message)
	}
	if condition(st, corev1.PodReady) != corev1.ConditionFalse {
		t.Error("a pod past its deadline is Ready")
	}
	f.b.mu.Lock()
	deleted := slices.Contains(f.b.deleted, translate.FunctionName(pod))
	f.b.mu.Unlock()
	if !deleted {
		t.Error("the function of a pod past its deadline is still in the cloud")
	}
	if got, err := f.p.GetPodStatus(context.Background(), pod.Namespace, pod.Name); err != nil || got.Reason != "DeadlineExceeded" {
		t.Errorf("the pod is gone or changed: %v %v", got, err)
	}
	var event bool
	for len(f.events.Events) > 0 {
		if e := <-f.events.Events; e == "Normal DeadlineExceeded Pod was active on the node longer than the specified deadline" {
			event = true
		}
	}
	if !event {
		t.Error("no DeadlineExceeded event")
	}
	return st
}

// At the deadline, an invocation in flight is no longer waited for: the
// pod fails DeadlineExceeded, its container killed (exit code 137).
func TestActiveDeadlineCutsOffTheInvocationInFlight(t *testing.T) {
	f := newJobFixture(t)
	pod := withDeadline(jobPod("d1", corev1.RestartPolicyNever), 30)
	if err := f.p.CreatePod(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	ictx := f.attempt(t)
	f.step(29 * time.Second)
	if ictx.Err() != nil {
		t.Fatal("the invocation was cut off before the deadline")
	}
	f.step(time.Second)
	if ictx.Err() == nil {
		t.Error("the invocation in flight is still waited for at the deadline")
	}
	st := deadlineExceeded(t, f, pod)
	if term := terminated(st); term == nil || term.ExitCode != 137 || term.Reason != "Error" {
		t.Errorf("terminated = %+v, want 137 Error", term)
	}
	f.noAttemptStarts(t, 1)
	if got, _ := f.p.GetPodStatus(context.Background(), pod.Namespace, pod.Name); got.Reason != "DeadlineExceeded" || terminated(got).ExitCode != 137 {
		t.Errorf("the cut-off invocation changed the status: %+v", got)
	}
	if tags := f.tags(); tags[translate.TagJobState] != "failed deadline killed" {
		t.Errorf("recorded %q", tags[translate.TagJobState])
	}
}

// At the deadline during a back-off, no further attempt starts; the
// container shows its last attempt, as the kubelet shows an exited one.
func TestActiveDeadlineDuringABackoffStopsTheRetries(t *testing.T) {
	f := newJobFixture(t)
	pod := withDeadline(jobPod("d2", corev1.RestartPolicyOnFailure), 15)
	if err := f.p.CreatePod(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	f.attempt(t)
	f.answer(&translate.Invocation{FunctionError: "Task timed out after 3.00 seconds", End: translate.EndTimeout}, nil)
	f.reported(t, "CrashLoopBackOff", backingOff)
	f.step(15 * time.Second)
	st := deadlineExceeded(t, f, pod)
	cs := st.ContainerStatuses[0]
	if term := cs.State.Terminated; term == nil || term.ExitCode != 124 || term.Reason != "FunctionTimeout" || cs.RestartCount != 1 {
		t.Errorf("container = %+v", cs)
	}
	f.step(time.Hour) // the back-off would be long over
	f.noAttemptStarts(t, 1)
}

// The deadline holds for any restart policy: a pod that serves is killed
// (exit code 137) and its function deleted, and the resync that then
// misses the function leaves the pod as it is.
func TestActiveDeadlineFailsAServingPod(t *testing.T) {
	f := newJobFixture(t)
	pod := withDeadline(newPod("d3", "serving"), 60)
	if err := f.p.CreatePod(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	f.reported(t, "phase Running", isPhase(corev1.PodRunning))
	f.step(time.Minute)
	st := deadlineExceeded(t, f, pod)
	if term := terminated(st); term == nil || term.ExitCode != 137 || term.Reason != "Error" {
		t.Errorf("terminated = %+v", term)
	}
	f.p.resync(f.ctx)
	if got, _ := f.p.GetPodStatus(context.Background(), pod.Namespace, pod.Name); got.Reason != "DeadlineExceeded" {
		t.Errorf("after the resync: %s %s", got.Phase, got.Reason)
	}
	if err := f.p.UpdatePod(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	f.b.mu.Lock()
	deploys := len(f.b.deployed)
	f.b.mu.Unlock()
	if deploys != 1 {
		t.Errorf("%d deploys: a pod past its deadline was deployed again", deploys)
	}
}

// A pod that finished before its deadline keeps its outcome and function.
func TestActiveDeadlineLeavesAFinishedPod(t *testing.T) {
	f := newJobFixture(t)
	pod := withDeadline(jobPod("d4", corev1.RestartPolicyNever), 10)
	if err := f.p.CreatePod(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	f.attempt(t)
	f.answer(&translate.Invocation{Output: []byte("ok")}, nil)
	f.reported(t, "phase Succeeded", isPhase(corev1.PodSucceeded))
	f.step(time.Minute)
	if got, _ := f.p.GetPodStatus(context.Background(), pod.Namespace, pod.Name); got.Phase != corev1.PodSucceeded {
		t.Errorf("phase %s", got.Phase)
	}
	f.b.mu.Lock()
	defer f.b.mu.Unlock()
	if len(f.b.deleted) != 0 {
		t.Errorf("deleted %v", f.b.deleted)
	}
}

// A deletion that fails at the deadline is tried again at a later poll.
func TestActiveDeadlineRetriesTheDeletion(t *testing.T) {
	f := newJobFixture(t)
	b := &failingDelete{heldInvoke: f.b, fails: 1}
	p, err := New(Options{NodeName: "vk", Backend: b, Now: f.clock.Now, Recorder: f.events, PollInterval: time.Hour, ResyncInterval: time.Hour,
		ReconcileInterval: time.Hour, JobBackoff: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	p.NotifyPods(f.ctx, func(pod *corev1.Pod) { f.reports <- pod })
	f.p = p
	pod := withDeadline(newPod("d5", "serving"), 5)
	if err := p.CreatePod(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	f.step(5 * time.Second)
	f.reported(t, "phase Failed", isPhase(corev1.PodFailed))
	if n := b.deletes(); n != 1 {
		t.Fatalf("%d deletes, want 1", n)
	}
	f.step(time.Second)
	if n := b.deletes(); n != 1 {
		t.Errorf("retried after a second: %d deletes", n)
	}
	f.step(maxBackoff)
	if n := b.deletes(); n != 2 {
		t.Errorf("%d deletes, want 2", n)
	}
	f.step(time.Hour)
	if n := b.deletes(); n != 2 {
		t.Errorf("deleted again once done: %d deletes", n)
	}
}

type failingDelete struct {
	*heldInvoke
	fails int
	n     int
}

func (d *failingDelete) Delete(_ context.Context, name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.n++
	if d.n <= d.fails {
		return errors.New("throttled")
	}
	d.deleted = append(d.deleted, name)
	return nil
}

func (d *failingDelete) deletes() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n
}

// A restart during a back-off goes on with the restart count and the last
// attempt's end, and starts the next attempt at once.
func TestJobRestartDuringABackoffGoesOn(t *testing.T) {
	f := newJobFixture(t)
	f.b.deployFn = func(fn *translate.Function) (*translate.FunctionState, error) {
		return &translate.FunctionState{Name: fn.Name, Phase: translate.PhaseActive, Tags: translate.JobTags(translate.Job{Restarts: 2,
			ExitCode: 137, Reason: "OOMKilled", Message: "Runtime exited with error: signal: killed"})}, nil
	}
	pod := jobPod("r1", corev1.RestartPolicyOnFailure)
	if err := f.p.CreatePod(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	f.attempt(t)
	st := f.reported(t, "the attempt running", func(st *corev1.PodStatus) bool { return st.ContainerStatuses[0].State.Running != nil })
	cs := st.ContainerStatuses[0]
	if last := cs.LastTerminationState.Terminated; cs.RestartCount != 2 || last == nil || last.ExitCode != 137 || last.Reason != "OOMKilled" {
		t.Errorf("container = %+v", cs)
	}
	f.answer(&translate.Invocation{FunctionError: "again"}, nil)
	st = f.reported(t, "CrashLoopBackOff", backingOff)
	if msg := st.ContainerStatuses[0].State.Waiting.Message; !strings.HasPrefix(msg, "back-off 1m0s ") || st.ContainerStatuses[0].RestartCount != 3 {
		t.Errorf("third back-off: %q restarts %d", msg, st.ContainerStatuses[0].RestartCount)
	}
}

// An invocation a restart cut off ends as the kubelet ends a container it
// cannot find: 137 ContainerStatusUnknown, not the end of the attempt
// before it.
func TestJobLostInvocationIsContainerStatusUnknown(t *testing.T) {
	f := newJobFixture(t)
	f.b.deployFn = func(fn *translate.Function) (*translate.FunctionState, error) {
		return &translate.FunctionState{Name: fn.Name, Phase: translate.PhaseActive, Tags: translate.JobTags(translate.Job{State: translate.JobRunning,
			Restarts: 1, ExitCode: 124, Reason: "FunctionTimeout", Message: "Task timed out after 3.00 seconds"})}, nil
	}
	pod := jobPod("l1", corev1.RestartPolicyOnFailure)
	if err := f.p.CreatePod(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	st := f.reported(t, "phase Failed", isPhase(corev1.PodFailed))
	if term := terminated(st); term == nil || term.ExitCode != 137 || term.Reason != "ContainerStatusUnknown" || !strings.Contains(term.Message, "outcome is unknown") {
		t.Errorf("terminated = %+v", term)
	}
	if tags := f.tags(); tags[translate.TagJobState] != "failed exit=137 reason=ContainerStatusUnknown" {
		t.Errorf("recorded %q", tags[translate.TagJobState])
	}
	f.noAttemptStarts(t, 0)
}
