package provider

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// termBackend is fakeBackend with a log of the calls that matter to a
// termination, in order, and per-test behaviour of HTTP and Delete.
type termBackend struct {
	*fakeBackend
	httpFn   func(ctx context.Context, req *http.Request) (*http.Response, error)
	deleteFn func(attempt int) error
	invokeFn func(ctx context.Context) (*translate.Invocation, error)

	mu       sync.Mutex
	ops      []string
	headers  []http.Header
	attempts int
}

func (b *termBackend) HTTP(ctx context.Context, name string, req *http.Request) (*http.Response, error) {
	b.mu.Lock()
	b.ops = append(b.ops, "http "+req.Method+" "+req.URL.RequestURI())
	b.headers = append(b.headers, req.Header.Clone())
	fn := b.httpFn
	b.mu.Unlock()
	if fn != nil {
		return fn(ctx, req)
	}
	return b.fakeBackend.HTTP(ctx, name, req)
}

func (b *termBackend) Invoke(ctx context.Context, name string, payload []byte) (*translate.Invocation, error) {
	b.mu.Lock()
	b.ops = append(b.ops, "invoke "+name)
	fn := b.invokeFn
	b.mu.Unlock()
	if fn != nil {
		return fn(ctx)
	}
	return b.fakeBackend.Invoke(ctx, name, payload)
}

func (b *termBackend) Delete(ctx context.Context, name string) error {
	b.mu.Lock()
	b.attempts++
	attempt := b.attempts
	b.ops = append(b.ops, "delete "+name)
	fn := b.deleteFn
	b.mu.Unlock()
	if fn != nil {
		if err := fn(attempt); err != nil {
			return err
		}
	}
	return b.fakeBackend.Delete(ctx, name)
}

func (b *termBackend) log() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.ops)
}

func (b *termBackend) deletes() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for _, op := range b.ops {
		if strings.HasPrefix(op, "delete ") {
			n++
		}
	}
	return n
}

// termFixture is a core on a fake clock whose reports and events tests read.
type termFixture struct {
	p        *Provider
	b        *termBackend
	clock    *clocktesting.FakeClock
	recorder *record.FakeRecorder
	reports  chan *corev1.Pod
	events   []string
}

func newTermFixture(t *testing.T) *termFixture {
	t.Helper()
	f := &termFixture{b: &termBackend{fakeBackend: &fakeBackend{}}, clock: clocktesting.NewFakeClock(now),
		recorder: record.NewFakeRecorder(100), reports: make(chan *corev1.Pod, 100)}
	p, err := New(Options{NodeName: "vk", Backend: f.b, Now: func() time.Time { return now }, Recorder: f.recorder, Clock: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	p.NotifyPods(ctx, func(pod *corev1.Pod) { f.reports <- pod })
	f.p = p
	return f
}

// create deploys a pod serving port 8080 and consumes its reports.
func (f *termFixture) create(t *testing.T, pod *corev1.Pod) {
	t.Helper()
	pod.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 8080}}
	if err := f.p.CreatePod(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	if st := f.next(t).Status; st.Phase != corev1.PodRunning || !ready(&st) {
		t.Fatalf("created pod: %s, Ready %v", st.Phase, ready(&st))
	}
}

// next is the next status reported.
func (f *termFixture) next(t *testing.T) *corev1.Pod {
	t.Helper()
	select {
	case pod := <-f.reports:
		return pod
	case <-time.After(10 * time.Second):
		t.Fatal("no status reported")
		return nil
	}
}

// final waits for the pod's final status (the function deleted).
func (f *termFixture) final(t *testing.T) *corev1.Pod {
	t.Helper()
	for {
		if pod := f.next(t); isFinished(pod) {
			return pod
		}
	}
}

// noFinal fails if a final status was reported.
func (f *termFixture) noFinal(t *testing.T) {
	t.Helper()
	for {
		select {
		case pod := <-f.reports:
			if isFinished(pod) {
				t.Fatalf("final status reported early: %s %s", pod.Status.Phase, pod.Status.Reason)
			}
		default:
			return
		}
	}
}

// allEvents are the events recorded so far ("Type Reason message").
func (f *termFixture) allEvents() []string {
	for {
		select {
		case e := <-f.recorder.Events:
			f.events = append(f.events, e)
		default:
			return f.events
		}
	}
}

// event is the first event recorded with reason ("" if none), and how
// many were.
func (f *termFixture) event(reason string) (string, int) {
	first, n := "", 0
	for _, e := range f.allEvents() {
		if fields := strings.Fields(e); len(fields) > 1 && fields[1] == reason {
			if n == 0 {
				first = e
			}
			n++
		}
	}
	return first, n
}

// draining waits until the termination waits for the calls in flight:
// its preStop hook is over and it is blocked on the clock.
func (f *termFixture) draining(t *testing.T, uid types.UID) {
	t.Helper()
	f.p.mu.Lock()
	r, ok := f.p.pods[uid]
	var ch chan struct{}
	if ok && r.term != nil {
		ch = r.term.draining
	}
	f.p.mu.Unlock()
	if ch == nil {
		t.Fatal("the pod is not terminating")
	}
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("the termination did not get to wait for the calls in flight")
	}
	f.blocked(t)
}

// blocked waits until something waits on the fake clock.
func (f *termFixture) blocked(t *testing.T) {
	t.Helper()
	for start := time.Now(); !f.clock.HasWaiters(); runtime.Gosched() {
		if time.Since(start) > 10*time.Second {
			t.Fatal("nothing waits on the clock")
		}
	}
}

// deleting is pod as the API server has it once deleted with grace.
func deleting(pod *corev1.Pod, grace int64) *corev1.Pod {
	out := pod.DeepCopy()
	out.DeletionTimestamp = &metav1.Time{Time: now}
	out.DeletionGracePeriodSeconds = ptr.To(grace)
	return out
}

func get(path string) *http.Request {
	req, _ := http.NewRequest(http.MethodGet, path, http.NoBody)
	return req
}

// A pod deleted with a call in flight stays Running, not Ready (nor its
// container), the gateway no longer offers it, exec and port-forward
// refuse new calls saying it terminates; once the call's response is
// closed, the function is deleted and the pod ends.
func TestTerminatingPodIsNotReadyAndTakesNoNewCalls(t *testing.T) {
	f := newTermFixture(t)
	pod := newPod("uid-1", "web")
	f.create(t, pod)
	ctx := context.Background()

	client, server := net.Pipe()
	forwarded := make(chan error, 1)
	go func() { forwarded <- f.p.PortForward(ctx, "default", "web", 8080, server) }()
	br := bufio.NewReader(client)
	forward := func(path string) (int, string) {
		t.Helper()
		req := get("http://localhost:8080" + path)
		go func() { _ = req.Write(client) }()
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, _ := forward("/before"); code != http.StatusOK {
		t.Fatalf("port-forwarded request before the deletion: %d", code)
	}
	resp, err := f.p.CallHTTP(ctx, pod, get("/slow"))
	if err != nil {
		t.Fatal(err)
	}

	if err := f.p.DeletePod(ctx, deleting(pod, 30)); err != nil {
		t.Fatal(err)
	}
	st := f.next(t).Status
	if st.Phase != corev1.PodRunning || condition(&st, corev1.PodReady) != corev1.ConditionFalse ||
		condition(&st, corev1.ContainersReady) != corev1.ConditionFalse ||
		st.ContainerStatuses[0].Ready || st.ContainerStatuses[0].State.Running == nil {
		t.Errorf("terminating status: phase %s, conditions %+v, container %+v", st.Phase, st.Conditions, st.ContainerStatuses[0])
	}
	if got, _ := f.p.GetPodStatus(ctx, "default", "web"); got.Phase != corev1.PodRunning || ready(got) {
		t.Errorf("GetPodStatus while terminating: %s, Ready %v", got.Phase, ready(got))
	}
	key := types.NamespacedName{Namespace: "default", Name: "web"}
	if gp, ok := f.p.GatewayPods(map[types.NamespacedName]bool{key: true})[key]; !ok || gp.Serving {
		t.Errorf("GatewayPods while terminating: %+v, %v; want known and not serving", gp, ok)
	}
	f.draining(t, pod.UID)

	if err := f.p.RunInContainer(ctx, "default", "web", "", []string{"invoke"}, &attachIO{}); err == nil || !strings.Contains(err.Error(), "terminating") {
		t.Errorf("exec invoke while terminating: %v", err)
	}
	_, other := net.Pipe()
	if err := f.p.PortForward(ctx, "default", "web", 8080, other); err == nil || !strings.Contains(err.Error(), "terminating") {
		t.Errorf("new port-forward while terminating: %v", err)
	}
	// A request on a connection forwarded before the deletion is refused.
	if code, body := forward("/after"); code != http.StatusServiceUnavailable || !strings.Contains(body, "terminating") {
		t.Errorf("port-forwarded request while terminating: %d %q", code, body)
	}
	if err := <-forwarded; err != nil {
		t.Errorf("PortForward: %v", err)
	}

	f.noFinal(t)
	if n := f.b.deletes(); n != 0 {
		t.Fatalf("function deleted %d times with a call in flight", n)
	}
	_, _ = io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	end := f.final(t)
	if end.Status.Phase != corev1.PodFailed || end.Status.ContainerStatuses[0].State.Terminated == nil ||
		end.Status.ContainerStatuses[0].State.Terminated.Reason != translate.ReasonFunctionDeleted {
		t.Errorf("final status: %+v", end.Status)
	}
	want := []string{"http GET /before", "http GET /slow", "delete " + translate.FunctionName(pod)}
	if got := f.b.log(); !slices.Equal(got, want) {
		t.Errorf("backend calls = %q, want %q (no request after the deletion began, the function deleted after the call)", got, want)
	}
	if e, n := f.event(ReasonKilling); n != 1 || !strings.Contains(e, "Stopping container app") {
		t.Errorf("Killing events: %d, %q", n, e)
	}
	if _, n := f.event(ReasonGracePeriodExceeded); n != 0 {
		t.Error("a call that finished in time was reported cut off")
	}
	if _, err := f.p.GetPod(ctx, "default", "web"); err == nil {
		t.Error("the pod is still known after its termination")
	}
}

// The preStop httpGet reaches the function's endpoint with its path,
// query and headers before the function is deleted; a DeletePod while it
// runs (Virtual Kubelet resyncs) starts no second termination.
func TestPreStopHTTPGetReachesTheFunctionOnce(t *testing.T) {
	f := newTermFixture(t)
	hook := make(chan struct{})
	release := make(chan struct{})
	f.b.httpFn = func(ctx context.Context, req *http.Request) (*http.Response, error) {
		close(hook)
		<-release
		return &http.Response{StatusCode: 500, Body: io.NopCloser(strings.NewReader("bye"))}, nil
	}
	pod := newPod("uid-1", "web")
	pod.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{
		Path: "/shutdown?drain=1", Port: intstr.FromInt32(8080), HTTPHeaders: []corev1.HTTPHeader{{Name: "X-Reason", Value: "deleted"}}}}}
	f.create(t, pod)
	ctx := context.Background()
	if err := f.p.DeletePod(ctx, deleting(pod, 30)); err != nil {
		t.Fatal(err)
	}
	<-hook
	if err := f.p.DeletePod(ctx, deleting(pod, 30)); err != nil {
		t.Fatal(err)
	}
	close(release)
	if end := f.final(t); end.Status.Phase != corev1.PodFailed {
		t.Errorf("final phase %s", end.Status.Phase)
	}
	want := []string{"http GET /shutdown?drain=1", "delete " + translate.FunctionName(pod)}
	if got := f.b.log(); !slices.Equal(got, want) {
		t.Errorf("backend calls = %q, want %q", got, want)
	}
	h := f.b.headers[0]
	if h.Get("X-Reason") != "deleted" || !strings.HasPrefix(h.Get("User-Agent"), "kube-lifecycle/") || h.Get("Accept") != "*/*" {
		t.Errorf("preStop headers = %v", h)
	}
	if _, n := f.event(ReasonKilling); n != 1 {
		t.Errorf("%d Killing events, want 1 (one termination)", n)
	}
	if _, n := f.event(ReasonFailedPreStopHook); n != 0 {
		t.Error("a hook that got a response (even a 500, as the kubelet has it) was reported failed")
	}
}

// A preStop hook that fails is a FailedPreStopHook event that does not
// carry the error, and the termination goes on.
func TestFailedPreStopHookIsAnEvent(t *testing.T) {
	f := newTermFixture(t)
	f.b.httpFn = func(context.Context, *http.Request) (*http.Response, error) {
		return nil, errors.New("connection refused token=s3cret")
	}
	pod := newPod("uid-1", "web")
	pod.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/stop", Port: intstr.FromInt32(8080)}}}
	f.create(t, pod)
	if err := f.p.DeletePod(context.Background(), deleting(pod, 30)); err != nil {
		t.Fatal(err)
	}
	f.final(t)
	e, n := f.event(ReasonFailedPreStopHook)
	if n != 1 || !strings.HasPrefix(e, corev1.EventTypeWarning) || strings.Contains(e, "s3cret") {
		t.Errorf("FailedPreStopHook events: %d, %q", n, e)
	}
	if f.b.deletes() != 1 {
		t.Errorf("function deleted %d times, want 1", f.b.deletes())
	}
}

// A preStop sleep is waited for on the node's clock; an exec hook cannot
// run, and an event says so.
func TestPreStopSleepIsWaitedForAndExecIsNotRun(t *testing.T) {
	f := newTermFixture(t)
	pod := newPod("uid-1", "web")
	pod.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 10}}}
	f.create(t, pod)
	if err := f.p.DeletePod(context.Background(), deleting(pod, 30)); err != nil {
		t.Fatal(err)
	}
	f.next(t) // terminating
	f.blocked(t)
	f.clock.Step(9 * time.Second)
	f.blocked(t)
	f.noFinal(t)
	if f.b.deletes() != 0 {
		t.Fatal("function deleted during the preStop sleep")
	}
	f.clock.Step(time.Second)
	f.final(t)

	exec := newPod("uid-2", "shell")
	exec.Spec.Containers[0].Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", "sleep 5"}}}}
	f.create(t, exec)
	if err := f.p.DeletePod(context.Background(), deleting(exec, 30)); err != nil {
		t.Fatal(err)
	}
	f.final(t)
	if e, n := f.event(ReasonPreStopHookNotRun); n != 1 || !strings.Contains(e, "exec") {
		t.Errorf("PreStopHookNotRun events: %d, %q", n, e)
	}
}

// A call still running at the end of the grace period is cut off (its
// context ends), an event says so, and the function is deleted; a later
// DeletePod with a shorter grace period brings the end forward.
func TestGracePeriodCutsACallThatDoesNotFinish(t *testing.T) {
	for _, tc := range []struct {
		name    string
		shorter int64 // a second DeletePod's grace period; 0: none
		step    time.Duration
	}{
		{name: "grace period", step: 30 * time.Second},
		{name: "shortened", shorter: 5, step: 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newTermFixture(t)
			started := make(chan struct{})
			f.b.httpFn = func(ctx context.Context, req *http.Request) (*http.Response, error) {
				close(started)
				<-ctx.Done()
				return nil, ctx.Err()
			}
			pod := newPod("uid-1", "web")
			f.create(t, pod)
			ctx := context.Background()
			called := make(chan error, 1)
			go func() {
				_, err := f.p.CallHTTP(ctx, pod, get("/forever"))
				called <- err
			}()
			<-started
			if err := f.p.DeletePod(ctx, deleting(pod, 30)); err != nil {
				t.Fatal(err)
			}
			if tc.shorter > 0 {
				if err := f.p.DeletePod(ctx, deleting(pod, tc.shorter)); err != nil {
					t.Fatal(err)
				}
			}
			f.draining(t, pod.UID)
			f.clock.Step(tc.step - time.Second)
			f.blocked(t)
			f.noFinal(t)
			if f.b.deletes() != 0 {
				t.Fatal("function deleted before the end of the grace period")
			}
			f.clock.Step(time.Second)
			if err := <-called; !errors.Is(err, context.Canceled) {
				t.Errorf("the call in flight ended with %v, want it cut off", err)
			}
			if end := f.final(t); end.Status.Phase != corev1.PodFailed {
				t.Errorf("final phase %s", end.Status.Phase)
			}
			if e, n := f.event(ReasonGracePeriodExceeded); n != 1 || !strings.Contains(e, "1 call(s)") {
				t.Errorf("GracePeriodExceeded events: %d, %q", n, e)
			}
			if f.b.deletes() != 1 {
				t.Errorf("function deleted %d times, want 1", f.b.deletes())
			}
		})
	}
}

// Grace period 0 (kubectl delete --force --grace-period=0, or a pod no
// longer in the API server) deletes the function before DeletePod
// returns, and ends a termination under way at once, cutting its calls.
func TestGracePeriodZeroDeletesAtOnce(t *testing.T) {
	f := newTermFixture(t)
	pod := newPod("uid-1", "web")
	f.create(t, pod)
	if err := f.p.DeletePod(context.Background(), deleting(pod, 0)); err != nil {
		t.Fatal(err)
	}
	if f.b.deletes() != 1 {
		t.Fatalf("function deleted %d times when DeletePod returned, want 1", f.b.deletes())
	}
	if end := f.next(t); end.Status.Phase != corev1.PodFailed {
		t.Errorf("reported %s, want the final status at once", end.Status.Phase)
	}

	for _, tc := range []struct {
		name  string
		again func(*corev1.Pod) *corev1.Pod
	}{
		{"grace period 0", func(p *corev1.Pod) *corev1.Pod { return deleting(p, 0) }},
		{"gone from the API server", func(p *corev1.Pod) *corev1.Pod { return p }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newTermFixture(t)
			var callCtx context.Context
			f.b.httpFn = func(ctx context.Context, req *http.Request) (*http.Response, error) {
				callCtx = ctx
				return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("slow"))}, nil
			}
			pod := newPod("uid-1", "web")
			f.create(t, pod)
			ctx := context.Background()
			resp, err := f.p.CallHTTP(ctx, pod, get("/slow"))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if err := f.p.DeletePod(ctx, deleting(pod, 30)); err != nil {
				t.Fatal(err)
			}
			f.draining(t, pod.UID)
			if err := f.p.DeletePod(ctx, tc.again(pod)); err != nil {
				t.Fatal(err)
			}
			if f.b.deletes() != 1 {
				t.Fatalf("function deleted %d times when DeletePod returned, want 1", f.b.deletes())
			}
			if callCtx.Err() == nil {
				t.Error("the call in flight was not cut off")
			}
			if end := f.final(t); end.Status.Phase != corev1.PodFailed {
				t.Errorf("final phase %s", end.Status.Phase)
			}
			if _, n := f.event(ReasonGracePeriodExceeded); n != 1 {
				t.Errorf("%d GracePeriodExceeded events, want 1", n)
			}
		})
	}
}

// A deletion of the function that fails after the grace period is an
// event, and is tried again on the node's clock until it is done.
func TestFailedDeletionAfterTerminationIsRetried(t *testing.T) {
	f := newTermFixture(t)
	f.b.deleteFn = func(attempt int) error {
		if attempt == 1 {
			return errors.New("throttled")
		}
		return nil
	}
	pod := newPod("uid-1", "web")
	f.create(t, pod)
	if err := f.p.DeletePod(context.Background(), deleting(pod, 30)); err != nil {
		t.Fatal(err)
	}
	f.next(t) // terminating
	f.blocked(t)
	if e, n := f.event("FunctionDeleteFailed"); n != 1 || !strings.Contains(e, "throttled") {
		t.Errorf("FunctionDeleteFailed events: %d, %q", n, e)
	}
	f.noFinal(t)
	f.clock.Step(firstCheck)
	f.final(t)
	if f.b.deletes() != 2 {
		t.Errorf("deletion tried %d times, want 2", f.b.deletes())
	}
}

// A pod that is not running (its function still being created) has
// nothing to wait for: its function is deleted at once.
func TestPendingPodIsDeletedAtOnce(t *testing.T) {
	f := newTermFixture(t)
	f.b.deployFn = func(fn *translate.Function) (*translate.FunctionState, error) {
		return &translate.FunctionState{Name: fn.Name, Phase: translate.PhasePending}, nil
	}
	pod := newPod("uid-1", "web")
	if err := f.p.CreatePod(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	f.next(t)
	if err := f.p.DeletePod(context.Background(), deleting(pod, 30)); err != nil {
		t.Fatal(err)
	}
	if f.b.deletes() != 1 {
		t.Errorf("function deleted %d times when DeletePod returned, want 1", f.b.deletes())
	}
}

func TestGracePeriodOfAPod(t *testing.T) {
	pod := newPod("uid-1", "web")
	if got := gracePeriod(pod); got != 0 {
		t.Errorf("pod without deletionTimestamp: %s, want 0", got)
	}
	del := deleting(pod, 7)
	if got := gracePeriod(del); got != 7*time.Second {
		t.Errorf("deletionGracePeriodSeconds 7: %s", got)
	}
	del.DeletionGracePeriodSeconds = nil
	if got := gracePeriod(del); got != 30*time.Second {
		t.Errorf("default: %s", got)
	}
	del.Spec.TerminationGracePeriodSeconds = ptr.To(int64(12))
	if got := gracePeriod(del); got != 12*time.Second {
		t.Errorf("terminationGracePeriodSeconds 12: %s", got)
	}
}

// A Job's invocation in flight is waited for too: the function is deleted
// only once it has ended, and the pod keeps the outcome it reported.
func TestTerminationWaitsForTheJobsInvocation(t *testing.T) {
	f := newTermFixture(t)
	started, release := make(chan struct{}), make(chan struct{})
	f.b.invokeFn = func(ctx context.Context) (*translate.Invocation, error) {
		close(started)
		<-release
		return &translate.Invocation{Output: []byte("done")}, nil
	}
	job := newPod("uid-1", "job")
	job.Spec.RestartPolicy = corev1.RestartPolicyNever
	if err := f.p.CreatePod(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	<-started
	if err := f.p.DeletePod(context.Background(), deleting(job, 30)); err != nil {
		t.Fatal(err)
	}
	f.draining(t, job.UID)
	f.clock.Step(jobPoll)
	f.blocked(t)
	if f.b.deletes() != 0 {
		t.Fatal("function deleted under the Job's invocation")
	}
	close(release)
	if outcome := f.final(t); outcome.Status.Phase != corev1.PodSucceeded || f.b.deletes() != 0 {
		t.Fatalf("the Job's outcome: %s with %d deletions, want Succeeded before the deletion", outcome.Status.Phase, f.b.deletes())
	}
	f.blocked(t)
	f.clock.Step(jobPoll)
	if end := f.final(t); end.Status.Phase != corev1.PodSucceeded || f.b.deletes() != 1 {
		t.Errorf("final status %s with %d deletions, want Succeeded and the function deleted", end.Status.Phase, f.b.deletes())
	}
	if _, n := f.event(ReasonGracePeriodExceeded); n != 0 {
		t.Error("an invocation that ended in time was reported cut off")
	}
}

// Once a deleted pod's function is gone and the API server shows its final
// status, the core removes the pod (grace period 0, its UID), as the
// kubelet does, instead of leaving it for the rest of its grace period; it
// waits for that status first, stepping the node's clock.
func TestDeletedPodIsRemovedOnceItsFinalStatusIsShown(t *testing.T) {
	f := newTermFixture(t)
	var mu sync.Mutex
	var shown corev1.PodPhase = corev1.PodRunning
	removed := make(chan string, 1)
	pod := newPod("uid-1", "web")
	f.p.opts.Pods = func() ([]*corev1.Pod, bool) {
		mu.Lock()
		defer mu.Unlock()
		api := pod.DeepCopy()
		api.Status.Phase = shown
		return []*corev1.Pod{api}, true
	}
	f.p.opts.RemovePod = func(_ context.Context, ns, name string, uid types.UID) error {
		removed <- ns + "/" + name + "/" + string(uid)
		return nil
	}
	f.create(t, pod)
	deleted := pod.DeepCopy()
	ts := metav1.NewTime(now)
	deleted.DeletionTimestamp, deleted.DeletionGracePeriodSeconds = &ts, new(int64)
	if err := f.p.DeletePod(context.Background(), deleted); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-removed:
		t.Fatalf("removed %s before the API server showed its final status", got)
	default:
	}
	mu.Lock()
	shown = corev1.PodFailed
	mu.Unlock()
	for range 100000 {
		select {
		case got := <-removed:
			if got != "default/web/uid-1" {
				t.Errorf("removed %s, want default/web/uid-1", got)
			}
			return
		default:
		}
		if f.clock.HasWaiters() {
			f.clock.Step(removeCheck)
		}
		runtime.Gosched()
	}
	t.Fatal("the deleted pod was never removed")
}
