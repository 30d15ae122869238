package provider

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"

	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// stepClock is a clock the test moves.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *stepClock) Step(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// refusalFixture is a core whose clock the test steps, with the events it
// recorded.
type refusalFixture struct {
	p      *Provider
	b      *fakeBackend
	clock  *stepClock
	events *record.FakeRecorder
	ctx    context.Context
}

func newRefusalFixture(t *testing.T, b *fakeBackend) *refusalFixture {
	t.Helper()
	f := &refusalFixture{b: b, clock: &stepClock{t: now}, events: record.NewFakeRecorder(100)}
	// The tracker's own tick never comes in a test: the test steps the
	// clock and polls (f.poll).
	p, err := New(Options{NodeName: "vk", Backend: b, Now: f.clock.Now, Recorder: f.events, PollInterval: time.Hour, JobBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	p.NotifyPods(ctx, func(*corev1.Pod) {})
	f.p, f.ctx = p, ctx
	return f
}

// poll runs one tick of the tracker and waits for the retries it started.
func (f *refusalFixture) poll() { f.p.poll(f.ctx).Wait() }

func (f *refusalFixture) deploys() int {
	f.b.mu.Lock()
	defer f.b.mu.Unlock()
	return len(f.b.deployed)
}

// wantDeploys checks that the backend has seen n deploys.
func (f *refusalFixture) wantDeploys(t *testing.T, n int) {
	t.Helper()
	if got := f.deploys(); got != n {
		t.Fatalf("%d deploys, want %d", got, n)
	}
}

// drainEvents returns the events recorded so far.
func (f *refusalFixture) drainEvents() []string {
	var out []string
	for {
		select {
		case e := <-f.events.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

func replicaSetPod(uid, name string) *corev1.Pod {
	pod := newPod(uid, name)
	pod.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "hello-7d9f", UID: "rs-1", Controller: ptr.To(true)}}
	return pod
}

func waiting(t *testing.T, p *Provider, pod *corev1.Pod) *corev1.ContainerStateWaiting {
	t.Helper()
	st, err := p.GetPodStatus(context.Background(), pod.Namespace, pod.Name)
	if err != nil {
		t.Fatal(err)
	}
	if st.Phase != corev1.PodPending || condition(st, corev1.PodReady) != corev1.ConditionFalse || st.ContainerStatuses[0].State.Waiting == nil {
		t.Fatalf("status = phase %s ready %s container %+v, want Pending, not Ready, Waiting", st.Phase, condition(st, corev1.PodReady), st.ContainerStatuses[0].State)
	}
	return st.ContainerStatuses[0].State.Waiting
}

const roleMessage = "lambda CreateFunction: InvalidParameterValueException: The role defined for the function cannot be assumed by Lambda."

// A Deployment's pod whose role Lambda cannot assume yet waits Pending,
// is tried again on the kubelet's backoff (10 s, 20 s, ...), one Warning
// per attempt, and turns Running itself once the role works: it is never
// failed, so its ReplicaSet never replaces it.
func TestHealableRefusalWaitsWithBackoffAndRecoversInPlace(t *testing.T) {
	var mu sync.Mutex
	roleKnown := false
	b := &fakeBackend{deployFn: func(fn *translate.Function) (*translate.FunctionState, error) {
		mu.Lock()
		defer mu.Unlock()
		if !roleKnown {
			return nil, Refused(ReasonRoleError, errors.New(roleMessage))
		}
		return &translate.FunctionState{Name: fn.Name, Phase: translate.PhaseActive}, nil
	}}
	f := newRefusalFixture(t, b)
	pod := replicaSetPod("uid-1", "hello-1")
	if err := f.p.CreatePod(context.Background(), pod); err != nil {
		t.Fatalf("CreatePod = %v: a refusal must keep the pod waiting, not go back to Virtual Kubelet", err)
	}
	w := waiting(t, f.p, pod)
	if w.Reason != ReasonRoleError || !strings.Contains(w.Message, "cannot be assumed by Lambda") {
		t.Errorf("waiting = %+v", w)
	}
	events := f.drainEvents()
	if len(events) != 1 || !strings.HasPrefix(events[0], "Warning FunctionRoleError") || !strings.Contains(events[0], "retrying in 10s") {
		t.Errorf("events = %q, want one Warning FunctionRoleError retrying in 10s", events)
	}

	// Updates of the pod (our own status writes among them) cost no call.
	if err := f.p.UpdatePod(context.Background(), pod); err != nil || f.deploys() != 1 {
		t.Fatalf("UpdatePod of a waiting pod: %v, %d deploys", err, f.deploys())
	}
	f.clock.Step(9 * time.Second)
	f.poll()
	if f.deploys() != 1 {
		t.Fatalf("retried after 9 s: %d deploys", f.deploys())
	}
	f.clock.Step(time.Second)
	f.poll()
	f.wantDeploys(t, 2)
	f.clock.Step(19 * time.Second)
	f.poll()
	if f.deploys() != 2 {
		t.Fatalf("second retry before 20 s: %d deploys", f.deploys())
	}
	if ev := f.drainEvents(); len(ev) != 1 || !strings.Contains(ev[0], "retrying in 20s") {
		t.Errorf("events after the first retry = %q", ev)
	}

	mu.Lock()
	roleKnown = true
	mu.Unlock()
	f.clock.Step(time.Second)
	f.poll()
	f.wantDeploys(t, 3)
	st := waitPhase(t, f.p, pod, corev1.PodRunning)
	if !st.ContainerStatuses[0].Ready {
		t.Errorf("recovered pod not Ready: %+v", st)
	}
	f.clock.Step(time.Hour)
	f.poll()
	if f.deploys() != 3 {
		t.Errorf("deployed again after success: %d", f.deploys())
	}
}

// The backoff stops doubling at 5 minutes.
func TestRefusalBackoffIsCappedAtFiveMinutes(t *testing.T) {
	b := &fakeBackend{deployFn: func(*translate.Function) (*translate.FunctionState, error) {
		return nil, Refused(ReasonQuotaExceeded, errors.New("CodeStorageExceededException"))
	}}
	f := newRefusalFixture(t, b)
	if err := f.p.CreatePod(context.Background(), replicaSetPod("uid-1", "q")); err != nil {
		t.Fatal(err)
	}
	for i, wait := range []time.Duration{10, 20, 40, 80, 160, 300, 300} {
		f.clock.Step(wait * time.Second)
		f.poll()
		f.wantDeploys(t, i+2)
	}
	var last string
	for _, e := range f.drainEvents() {
		last = e
	}
	if !strings.Contains(last, "retrying in 5m0s") {
		t.Errorf("last event %q, want retrying in 5m0s", last)
	}
}

// A Deployment's pod with a field no function can have waits with reason
// InvalidSpec naming the field, and the cloud is never called for it.
func TestSpecErrorOfControllerPodWaitsWithoutCloudCalls(t *testing.T) {
	f := newRefusalFixture(t, &fakeBackend{})
	pod := replicaSetPod("uid-1", "bad")
	pod.Spec.HostNetwork = true
	if err := f.p.CreatePod(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	w := waiting(t, f.p, pod)
	if w.Reason != ReasonInvalidSpec || !strings.Contains(w.Message, "spec.hostNetwork") {
		t.Errorf("waiting = %+v", w)
	}
	if err := f.p.UpdatePod(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	f.clock.Step(time.Hour)
	f.poll()
	if f.deploys() != 0 {
		t.Errorf("%d cloud calls for a pod translation refused", f.deploys())
	}
	if ev := f.drainEvents(); len(ev) != 1 || !strings.HasPrefix(ev[0], "Warning InvalidSpec") {
		t.Errorf("events = %q, want one Warning InvalidSpec", ev)
	}
}

// A Job's pod with a spec error fails: the Job controller counts it against
// backoffLimit, with its own backoff.
func TestSpecErrorOfJobPodFails(t *testing.T) {
	f := newRefusalFixture(t, &fakeBackend{})
	pod := jobPod("uid-1", corev1.RestartPolicyNever)
	pod.OwnerReferences = []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "Job", Name: "j", UID: "job-1", Controller: ptr.To(true)}}
	pod.Spec.HostNetwork = true
	if err := f.p.CreatePod(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	st, _ := f.p.GetPodStatus(context.Background(), pod.Namespace, pod.Name)
	if st.Phase != corev1.PodFailed || st.Reason != ReasonInvalidSpec || !strings.Contains(st.Message, "spec.hostNetwork") {
		t.Errorf("status = %s %s %q", st.Phase, st.Reason, st.Message)
	}
}

// A restartPolicy Never pod whose create is throttled stays Pending and
// runs once the cloud answers: a transient error never fails it.
func TestTransientErrorKeepsNeverJobPendingAndItRunsOnce(t *testing.T) {
	var mu sync.Mutex
	throttled := true
	b := &fakeBackend{deployFn: func(fn *translate.Function) (*translate.FunctionState, error) {
		mu.Lock()
		defer mu.Unlock()
		if throttled {
			return nil, Transient(errors.New("lambda CreateFunction: TooManyRequestsException: Rate exceeded"), 0, true)
		}
		return &translate.FunctionState{Name: fn.Name, Phase: translate.PhaseActive}, nil
	}}
	f := newRefusalFixture(t, b)
	pod := jobPod("uid-1", corev1.RestartPolicyNever)
	if err := f.p.CreatePod(context.Background(), pod); err != nil {
		t.Fatalf("CreatePod = %v: Virtual Kubelet would fail a Never pod (ProviderFailed)", err)
	}
	if w := waiting(t, f.p, pod); w.Reason != ReasonCreateError || !strings.Contains(w.Message, "Rate exceeded") {
		t.Errorf("waiting = %+v", w)
	}
	mu.Lock()
	throttled = false
	mu.Unlock()
	f.clock.Step(10 * time.Second)
	f.poll()
	waitPhase(t, f.p, pod, corev1.PodSucceeded)
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.invoked) != 1 {
		t.Errorf("invoked %d times, want once", len(b.invoked))
	}
}

// A function the cloud created but could not start for a cause outside
// the pod (an image it may not pull yet) is deployed again, not failed.
func TestFailedFunctionWithHealableReasonIsDeployedAgain(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	b := &fakeBackend{deployFn: func(fn *translate.Function) (*translate.FunctionState, error) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls == 1 {
			return &translate.FunctionState{Name: fn.Name, Phase: translate.PhaseFailed, Reason: ReasonImageError, Message: "Lambda does not have permission to access the ECR image."}, nil
		}
		return &translate.FunctionState{Name: fn.Name, Phase: translate.PhaseActive}, nil
	}}
	f := newRefusalFixture(t, b)
	pod := replicaSetPod("uid-1", "img")
	if err := f.p.CreatePod(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	if w := waiting(t, f.p, pod); w.Reason != ReasonImageError {
		t.Errorf("waiting = %+v", w)
	}
	f.clock.Step(10 * time.Second)
	f.poll()
	waitPhase(t, f.p, pod, corev1.PodRunning)
}

// Deleting a waiting pod while its retry is in flight leaves no function:
// the retry deletes what it created once it sees the pod is gone.
func TestDeleteWhileRetryInFlightLeavesNothing(t *testing.T) {
	release, inCloud := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	calls := 0
	b := &fakeBackend{deployFn: func(fn *translate.Function) (*translate.FunctionState, error) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n == 1 {
			return nil, Refused(ReasonRoleError, errors.New(roleMessage))
		}
		close(inCloud)
		<-release
		return &translate.FunctionState{Name: fn.Name, Phase: translate.PhaseActive}, nil
	}}
	f := newRefusalFixture(t, b)
	pod := replicaSetPod("uid-1", "gone")
	if err := f.p.CreatePod(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	f.clock.Step(10 * time.Second)
	retries := f.p.poll(f.ctx)
	<-inCloud // the retry is in the cloud now
	if err := f.p.DeletePod(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	close(release)
	retries.Wait()
	name := translate.FunctionName(pod)
	n := 0
	for _, d := range b.deleted {
		if d == name {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("function deleted %d times, want 2 (by DeletePod, then by the retry that created it)", n)
	}
	if _, err := f.p.GetPod(context.Background(), pod.Namespace, pod.Name); !errdefs.IsNotFound(err) {
		t.Errorf("the retry brought the deleted pod back: %v", err)
	}
}

// A pod deleted before it finished did not complete: Failed, exit code
// 137, reason FunctionDeleted (a Job never counts it as a success). A Job
// pod that had finished keeps its outcome.
func TestDeletedPodEndsFailedNotCompleted(t *testing.T) {
	p, notified := newProvider(t, &fakeBackend{})
	pod := replicaSetPod("uid-1", "web")
	if err := p.CreatePod(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	if err := p.DeletePod(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	final := (*notified)[len(*notified)-1].Status
	term := final.ContainerStatuses[0].State.Terminated
	if final.Phase != corev1.PodFailed || term == nil || term.ExitCode != 137 || term.Reason != translate.ReasonFunctionDeleted {
		t.Errorf("final status = %s, container %+v", final.Phase, final.ContainerStatuses[0].State)
	}

	job := jobPod("uid-2", corev1.RestartPolicyNever)
	if err := p.CreatePod(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, p, job, corev1.PodSucceeded)
	if err := p.DeletePod(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	if final := (*notified)[len(*notified)-1].Status; final.Phase != corev1.PodSucceeded || final.ContainerStatuses[0].State.Terminated.ExitCode != 0 {
		t.Errorf("a finished Job pod's outcome changed on delete: %s %+v", final.Phase, final.ContainerStatuses[0].State)
	}
}

// What the translation left out (an identity webhook's token volume) is
// told on the pod as a FunctionNote.
func TestTranslationNotesBecomeEvents(t *testing.T) {
	f := newRefusalFixture(t, &fakeBackend{})
	pod := replicaSetPod("uid-1", "irsa")
	pod.Spec.Volumes = []corev1.Volume{{Name: "aws-iam-token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Audience: "sts.amazonaws.com", Path: "token"}}}}}}}
	pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "aws-iam-token", MountPath: "/var/run/secrets/eks.amazonaws.com/serviceaccount"}}
	pod.Spec.Containers[0].Env = append(pod.Spec.Containers[0].Env, corev1.EnvVar{Name: "AWS_WEB_IDENTITY_TOKEN_FILE", Value: "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"})
	if err := f.p.CreatePod(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, f.p, pod, corev1.PodRunning)
	found := false
	for _, e := range f.drainEvents() {
		if strings.HasPrefix(e, "Normal FunctionNote") && strings.Contains(e, "aws-iam-token") && strings.Contains(e, "AWS_WEB_IDENTITY_TOKEN_FILE") {
			found = true
		}
	}
	if !found {
		t.Error("no FunctionNote about the dropped token volume")
	}
	if env := f.b.deployed[0].Env; env["AWS_WEB_IDENTITY_TOKEN_FILE"] != "" || env["GREETING"] != "hi" {
		t.Errorf("deployed env = %v", env)
	}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err    error
		class  Failure
		reason string
	}{
		{nil, FailureNone, ""},
		{errdefs.InvalidInput("spec.hostNetwork"), FailureSpec, ReasonInvalidSpec},
		{NotSupportedf("x"), FailureSpec, ReasonInvalidSpec},
		{Refused(ReasonImageError, errors.New("no image")), FailureHealable, ReasonImageError},
		{Transient(errors.New("503"), 0, false), FailureTransient, ReasonCreateError},
		{errors.New("lambda CreateFunction: 403 AccessDeniedException"), FailureHealable, ReasonCreateError},
	} {
		class, reason := Classify(tc.err)
		if class != tc.class || reason != tc.reason {
			t.Errorf("Classify(%v) = %v %q, want %v %q", tc.err, class, reason, tc.class, tc.reason)
		}
	}
}

// An update the cloud refuses (an update already in progress, a role not
// assumable yet) leaves the pod Running and Ready: the previous version
// keeps serving, and the update is tried again with backoff.
func TestRefusedUpdateKeepsThePodServing(t *testing.T) {
	var mu sync.Mutex
	refuse := false
	b := &fakeBackend{deployFn: func(fn *translate.Function) (*translate.FunctionState, error) {
		mu.Lock()
		defer mu.Unlock()
		if refuse {
			return nil, Transient(errors.New("lambda UpdateFunctionConfiguration: ResourceConflictException: An update is in progress"), 0, false)
		}
		return &translate.FunctionState{Name: fn.Name, Phase: translate.PhaseActive}, nil
	}}
	f := newRefusalFixture(t, b)
	pod := replicaSetPod("uid-1", "web")
	if err := f.p.CreatePod(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	refuse = true
	mu.Unlock()
	updated := pod.DeepCopy()
	updated.Spec.Containers[0].Env[0].Value = "hello"
	if err := f.p.UpdatePod(context.Background(), updated); err != nil {
		t.Fatal(err)
	}
	st, _ := f.p.GetPodStatus(context.Background(), pod.Namespace, pod.Name)
	if st.Phase != corev1.PodRunning || condition(st, corev1.PodReady) != corev1.ConditionTrue {
		t.Fatalf("a refused update took the pod out of Ready: %s %s", st.Phase, condition(st, corev1.PodReady))
	}
	found := false
	for _, e := range f.drainEvents() {
		found = found || strings.HasPrefix(e, "Warning FunctionUpdateFailed") && strings.Contains(e, "keeps serving")
	}
	if !found {
		t.Error("no FunctionUpdateFailed event")
	}
	mu.Lock()
	refuse = false
	mu.Unlock()
	f.clock.Step(10 * time.Second)
	f.poll()
	f.wantDeploys(t, 3)
	f.p.mu.Lock()
	w := f.p.pods["uid-1"].waiting
	f.p.mu.Unlock()
	if w != nil {
		t.Fatal("the retried update was not recorded")
	}
	if env := b.deployed[2].Env; env["GREETING"] != "hello" {
		t.Errorf("retried update deployed env %v", env)
	}
}

// After a restart, a Running pod whose function cannot be read back yet
// (the cloud throttles the restart's burst) stays Running.
func TestRestartedCoreKeepsRunningPodsWhenTheCloudRefuses(t *testing.T) {
	b := &fakeBackend{deployFn: func(*translate.Function) (*translate.FunctionState, error) {
		return nil, Transient(errors.New("429"), 0, true)
	}}
	f := newRefusalFixture(t, b)
	pod := replicaSetPod("uid-1", "web")
	pod.Status = translate.PodStatus(pod, &translate.FunctionState{Name: translate.FunctionName(pod), Phase: translate.PhaseActive}, translate.Host{}, now)
	if err := f.p.CreatePod(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	st, _ := f.p.GetPodStatus(context.Background(), pod.Namespace, pod.Name)
	if st.Phase != corev1.PodRunning || condition(st, corev1.PodReady) != corev1.ConditionTrue {
		t.Errorf("status after a refused re-adoption = %s ready %s", st.Phase, condition(st, corev1.PodReady))
	}
}

// A function the cloud accepted and then failed for a cause outside the
// pod (Azure: the image pull fails after the app was created) waits and is
// deployed again; it does not fail the pod.
func TestFunctionFailingAfterCreateIsDeployedAgain(t *testing.T) {
	var mu sync.Mutex
	deploys := 0
	b := &fakeBackend{deployFn: func(fn *translate.Function) (*translate.FunctionState, error) {
		mu.Lock()
		defer mu.Unlock()
		deploys++
		if deploys == 1 {
			return &translate.FunctionState{Name: fn.Name, Phase: translate.PhasePending}, nil
		}
		return &translate.FunctionState{Name: fn.Name, Phase: translate.PhaseActive}, nil
	}, getState: &translate.FunctionState{Phase: translate.PhaseFailed, Reason: ReasonImageError, Message: "manifest for hello:1 not found"}}
	f := newRefusalFixture(t, b)
	pod := replicaSetPod("uid-1", "late")
	if err := f.p.CreatePod(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	f.clock.Step(time.Second) // the tracker reads the function: Failed
	f.poll()
	if st, _ := f.p.GetPodStatus(context.Background(), pod.Namespace, pod.Name); st.ContainerStatuses[0].State.Waiting == nil || st.ContainerStatuses[0].State.Waiting.Reason != ReasonImageError {
		t.Fatalf("status = %s %+v, want waiting with FunctionImageError", st.Phase, st.ContainerStatuses[0].State)
	}
	f.clock.Step(10 * time.Second)
	f.poll()
	waitPhase(t, f.p, pod, corev1.PodRunning)
	if env := f.b.deployed[1].Env; env["GREETING"] != "hi" {
		t.Errorf("redeployed without the pod's env: %v", env)
	}
}
