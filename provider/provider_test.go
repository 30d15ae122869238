package provider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// fakeBackend is a hand-written fake whose behaviour tests set per call.
type fakeBackend struct {
	mu       sync.Mutex
	deployFn func(*translate.Function) (*translate.FunctionState, error)
	deployed []*translate.Function
	deleted  []string
	logOpts  translate.LogOptions
	invoked  []string
	invokeFn func(n int) (*translate.Invocation, error)
	tags     map[string]string
	getState *translate.FunctionState
	listed   []translate.FunctionState
	noTags   bool
}

func (f *fakeBackend) Logs(_ context.Context, name string, o translate.LogOptions) (io.ReadCloser, error) {
	f.mu.Lock()
	f.logOpts = o
	f.mu.Unlock()
	return io.NopCloser(strings.NewReader("log of " + name + "\n")), nil
}
func (f *fakeBackend) Invoke(_ context.Context, name string, payload []byte) (*translate.Invocation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.invoked = append(f.invoked, name)
	if f.invokeFn != nil {
		return f.invokeFn(len(f.invoked))
	}
	return &translate.Invocation{Output: payload}, nil
}
func (f *fakeBackend) InvokeAsync(_ context.Context, name string, payload []byte) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.invoked = append(f.invoked, "async:"+name+":"+string(payload))
	return "req-" + strconv.Itoa(len(f.invoked)), nil
}
func (f *fakeBackend) HTTP(_ context.Context, name string, req *http.Request) (*http.Response, error) {
	body, _ := io.ReadAll(req.Body)
	f.mu.Lock()
	f.invoked = append(f.invoked, "http:"+name+":"+req.Method+" "+req.URL.RequestURI())
	f.mu.Unlock()
	if string(body) == "fail" {
		return nil, errors.New("the endpoint is down")
	}
	return &http.Response{StatusCode: 200, Header: http.Header{"X-Path": {req.URL.RequestURI()}}, Body: io.NopCloser(strings.NewReader("echo:" + string(body))), ContentLength: -1}, nil
}
func (f *fakeBackend) Tag(_ context.Context, name string, tags map[string]string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.noTags {
		return NotSupportedf("tags")
	}
	if f.tags == nil {
		f.tags = map[string]string{}
	}
	for k, v := range tags {
		f.tags[k] = v
	}
	return nil
}
func (f *fakeBackend) List(context.Context, string) ([]translate.FunctionState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.listed, nil
}
func (f *fakeBackend) Cloud() string              { return "fake" }
func (f *fakeBackend) Ping(context.Context) error { return nil }
func (f *fakeBackend) Delete(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deleted = append(f.deleted, name)
	return nil
}
func (f *fakeBackend) Get(context.Context, string) (*translate.FunctionState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.getState == nil {
		return nil, errdefs.NotFound("no")
	}
	st := *f.getState
	return &st, nil
}
func (f *fakeBackend) Deploy(_ context.Context, fn *translate.Function) (*translate.FunctionState, error) {
	f.mu.Lock()
	f.deployed = append(f.deployed, fn)
	f.mu.Unlock()
	if f.deployFn != nil {
		return f.deployFn(fn)
	}
	return &translate.FunctionState{Name: fn.Name, Phase: translate.PhaseActive, ImageID: "sha256:abc", Created: time.Unix(1000, 0)}, nil
}

var now = time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)

func newPod(uid, name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(uid), Labels: map[string]string{"app": "hello"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example.com/hello:1",
			Env: []corev1.EnvVar{{Name: "GREETING", Value: "hi"}}}}},
	}
}

func newProvider(t *testing.T, b Backend) (*Provider, *[]*corev1.Pod) {
	t.Helper()
	p, err := New(Options{NodeName: "vk", Backend: b, Now: func() time.Time { return now }, JobBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var notified []*corev1.Pod
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	p.NotifyPods(ctx, func(pod *corev1.Pod) {
		mu.Lock()
		notified = append(notified, pod)
		mu.Unlock()
	})
	return p, &notified
}

func TestCreatePodDeploysTaggedFunctionAndReportsRunning(t *testing.T) {
	b := &fakeBackend{}
	p, notified := newProvider(t, b)
	pod := newPod("uid-1", "hello")
	if err := p.CreatePod(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	fn := b.deployed[0]
	for k, want := range map[string]string{translate.TagPodUID: "uid-1", translate.TagPodNamespace: "default", translate.TagPodName: "hello", translate.TagNode: "vk", "app": "hello"} {
		if fn.Tags[k] != want {
			t.Errorf("tag %s = %q, want %q", k, fn.Tags[k], want)
		}
	}
	if fn.Image != "example.com/hello:1" || fn.Env["GREETING"] != "hi" {
		t.Errorf("function = %+v", fn)
	}
	if len(*notified) != 1 {
		t.Fatalf("notified %d times, want 1", len(*notified))
	}
	st := (*notified)[0].Status
	if st.Phase != corev1.PodRunning || !st.ContainerStatuses[0].Ready || st.ContainerStatuses[0].State.Running == nil ||
		st.ContainerStatuses[0].ImageID != "sha256:abc" {
		t.Errorf("status = %+v", st)
	}
	got, err := p.GetPodStatus(context.Background(), "default", "hello")
	if err != nil || got.Phase != corev1.PodRunning {
		t.Errorf("GetPodStatus = %v, %v", got, err)
	}
}

func TestFunctionNameIsStablePerUIDAndNewPerPod(t *testing.T) {
	a, b := newPod("uid-1", "hello"), newPod("uid-2", "hello")
	if translate.FunctionName(a) != translate.FunctionName(a.DeepCopy()) {
		t.Error("same pod, different names")
	}
	if translate.FunctionName(a) == translate.FunctionName(b) {
		t.Error("a pod recreated under the same name (new UID) reuses the old function name")
	}
}

func TestRecreatedPodWithSameNameIsADifferentRecord(t *testing.T) {
	b := &fakeBackend{}
	p, _ := newProvider(t, b)
	old, fresh := newPod("uid-1", "hello"), newPod("uid-2", "hello")
	if err := p.CreatePod(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	if err := p.DeletePod(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	if err := p.CreatePod(context.Background(), fresh); err != nil {
		t.Fatal(err)
	}
	pods, _ := p.GetPods(context.Background())
	if len(pods) != 1 || pods[0].UID != "uid-2" {
		t.Errorf("GetPods = %v, want only uid-2", pods)
	}
	if len(b.deleted) != 1 || b.deleted[0] != translate.FunctionName(old) {
		t.Errorf("deleted %v, want %s", b.deleted, translate.FunctionName(old))
	}
}

func TestDeletePodReportsTerminatedContainers(t *testing.T) {
	p, notified := newProvider(t, &fakeBackend{})
	pod := newPod("uid-1", "hello")
	if err := p.CreatePod(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	running := (*notified)[0]
	if err := p.DeletePod(context.Background(), running); err != nil {
		t.Fatal(err)
	}
	final := (*notified)[1].Status
	if final.ContainerStatuses[0].State.Terminated == nil || final.ContainerStatuses[0].Ready {
		t.Errorf("final container status = %+v", final.ContainerStatuses[0])
	}
	if _, err := p.GetPod(context.Background(), "default", "hello"); !errdefs.IsNotFound(err) {
		t.Errorf("GetPod after delete: %v, want NotFound", err)
	}
}

func TestRefusedSpecFailsThePodNotTheCall(t *testing.T) {
	b := &fakeBackend{deployFn: func(*translate.Function) (*translate.FunctionState, error) {
		return nil, errdefs.InvalidInput("spec.containers[0].image: not from ECR")
	}}
	p, notified := newProvider(t, b)
	if err := p.CreatePod(context.Background(), newPod("uid-1", "bad")); err != nil {
		t.Fatalf("CreatePod returned %v; a refused spec must fail the pod, not be retried", err)
	}
	st := (*notified)[0].Status
	if st.Phase != corev1.PodFailed || st.Reason != "InvalidSpec" || st.Message != "spec.containers[0].image: not from ECR" {
		t.Errorf("status = phase %s reason %q message %q", st.Phase, st.Reason, st.Message)
	}
}

func TestUnsupportedRoutesSayWhat(t *testing.T) {
	p, _ := newProvider(t, &fakeBackend{})
	err := p.AttachToContainer(context.Background(), "default", "x", "app", nil)
	if !errdefs.IsInvalidInput(err) || !errors.Is(err, ErrNotSupported) || !strings.Contains(err.Error(), "attach") {
		t.Errorf("AttachToContainer error = %v", err)
	}
}

func TestLogsReachTheBackendWithTheOptions(t *testing.T) {
	b := &fakeBackend{}
	p, _ := newProvider(t, b)
	pod := newPod("uid-1", "hello")
	if err := p.CreatePod(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	rc, err := p.GetContainerLogs(context.Background(), "default", "hello", "app", api.ContainerLogOpts{Tail: 5, SinceSeconds: 60, Timestamps: true})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(rc)
	if string(data) != "log of "+translate.FunctionName(pod)+"\n" {
		t.Errorf("logs = %q", data)
	}
	o := b.logOpts
	if !o.HasTail || o.Tail != 5 || !o.Timestamps || !o.Since.Equal(now.Add(-time.Minute)) {
		t.Errorf("options = %+v", o)
	}
	if _, err := p.GetContainerLogs(context.Background(), "default", "hello", "other", api.ContainerLogOpts{}); !errdefs.IsNotFound(err) {
		t.Errorf("unknown container: %v", err)
	}
	if _, err := p.GetContainerLogs(context.Background(), "default", "nope", "app", api.ContainerLogOpts{}); !errdefs.IsNotFound(err) {
		t.Errorf("unknown pod: %v", err)
	}
}

func TestStatsSummaryListsPods(t *testing.T) {
	p, _ := newProvider(t, &fakeBackend{})
	if err := p.CreatePod(context.Background(), newPod("uid-1", "hello")); err != nil {
		t.Fatal(err)
	}
	s, err := p.GetStatsSummary(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.Node.NodeName != "vk" || len(s.Pods) != 1 || s.Pods[0].PodRef.UID != "uid-1" || s.Pods[0].Containers[0].Name != "app" {
		t.Errorf("summary = %+v", s)
	}
}

func jobPod(uid string, policy corev1.RestartPolicy) *corev1.Pod {
	pod := newPod(uid, "job-"+uid)
	pod.Spec.RestartPolicy = policy
	pod.Annotations = map[string]string{AnnotationPayload: `{"n":1}`}
	return pod
}

// waitPhase waits for the provider's view of the pod to reach a phase.
func waitPhase(t *testing.T, p *Provider, pod *corev1.Pod, phase corev1.PodPhase) *corev1.PodStatus {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := p.GetPodStatus(context.Background(), pod.Namespace, pod.Name)
		if err == nil && st.Phase == phase {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod %s never reached %s (last %v, %v)", pod.Name, phase, st, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestJobNeverSucceedsOnce(t *testing.T) {
	b := &fakeBackend{}
	p, _ := newProvider(t, b)
	pod := jobPod("j1", corev1.RestartPolicyNever)
	if err := p.CreatePod(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	st := waitPhase(t, p, pod, corev1.PodSucceeded)
	if term := st.ContainerStatuses[0].State.Terminated; term == nil || term.ExitCode != 0 || term.Reason != "Completed" {
		t.Errorf("container = %+v", st.ContainerStatuses[0])
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.invoked) != 1 || b.tags[translate.TagJobState] != translate.JobSucceeded {
		t.Errorf("invoked %v tags %v", b.invoked, b.tags)
	}
}

func TestJobNeverFailsWithTheFunctionError(t *testing.T) {
	b := &fakeBackend{invokeFn: func(int) (*translate.Invocation, error) {
		return &translate.Invocation{FunctionError: "ValueError: bad input"}, nil
	}}
	p, _ := newProvider(t, b)
	pod := jobPod("j2", corev1.RestartPolicyNever)
	if err := p.CreatePod(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	st := waitPhase(t, p, pod, corev1.PodFailed)
	term := st.ContainerStatuses[0].State.Terminated
	if term == nil || term.ExitCode != 1 || term.Message != "ValueError: bad input" {
		t.Errorf("container = %+v", st.ContainerStatuses[0])
	}
	time.Sleep(50 * time.Millisecond)
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.invoked) != 1 {
		t.Errorf("a Never pod was invoked %d times", len(b.invoked))
	}
}

func TestJobOnFailureRetriesAndCountsRestarts(t *testing.T) {
	b := &fakeBackend{invokeFn: func(n int) (*translate.Invocation, error) {
		if n < 3 {
			return &translate.Invocation{FunctionError: "flaky"}, nil
		}
		return &translate.Invocation{Output: []byte("ok")}, nil
	}}
	p, _ := newProvider(t, b)
	pod := jobPod("j3", corev1.RestartPolicyOnFailure)
	if err := p.CreatePod(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	st := waitPhase(t, p, pod, corev1.PodSucceeded)
	if st.ContainerStatuses[0].RestartCount != 2 {
		t.Errorf("restarts = %d, want 2", st.ContainerStatuses[0].RestartCount)
	}
}

// After a restart, a Job whose outcome was recorded reports it without
// running again; one cut off mid-invocation fails rather than run twice.
func TestJobAfterRestartNeverRunsTwice(t *testing.T) {
	for _, tc := range []struct {
		state string
		want  corev1.PodPhase
	}{
		{translate.JobSucceeded, corev1.PodSucceeded},
		{translate.JobFailed, corev1.PodFailed},
		{translate.JobRunning, corev1.PodFailed},
	} {
		b := &fakeBackend{deployFn: func(fn *translate.Function) (*translate.FunctionState, error) {
			return &translate.FunctionState{Name: fn.Name, Phase: translate.PhaseActive,
				Tags: map[string]string{translate.TagJobState: tc.state, translate.TagJobMessage: "earlier"}}, nil
		}}
		p, _ := newProvider(t, b)
		pod := jobPod("r-"+tc.state, corev1.RestartPolicyNever)
		if err := p.CreatePod(context.Background(), pod); err != nil {
			t.Fatal(err)
		}
		waitPhase(t, p, pod, tc.want)
		time.Sleep(30 * time.Millisecond)
		b.mu.Lock()
		if len(b.invoked) != 0 {
			t.Errorf("state %s: invoked again after a restart", tc.state)
		}
		b.mu.Unlock()
	}
}

func TestPendingFunctionBecomesRunningThroughTheTracker(t *testing.T) {
	b := &fakeBackend{deployFn: func(fn *translate.Function) (*translate.FunctionState, error) {
		return &translate.FunctionState{Name: fn.Name, Phase: translate.PhasePending}, nil
	}}
	b.getState = &translate.FunctionState{Phase: translate.PhaseActive, ImageID: "sha256:x"}
	p, err := New(Options{NodeName: "vk", Backend: b, PollInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p.NotifyPods(ctx, func(*corev1.Pod) {})
	pod := newPod("uid-t", "tracked")
	if err := p.CreatePod(ctx, pod); err != nil {
		t.Fatal(err)
	}
	if st, _ := p.GetPodStatus(ctx, "default", "tracked"); st.Phase != corev1.PodPending {
		t.Fatalf("phase = %s, want Pending first", st.Phase)
	}
	waitPhase(t, p, pod, corev1.PodRunning)
}

func TestResyncFailsPodsWhoseFunctionVanished(t *testing.T) {
	b := &fakeBackend{}
	p, _ := newProvider(t, b)
	pod := newPod("uid-v", "vanishing")
	if err := p.CreatePod(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	p.resync(context.Background()) // List returns nothing and Get says NotFound
	st, err := p.GetPodStatus(context.Background(), "default", "vanishing")
	if err != nil || st.Phase != corev1.PodFailed || st.Reason != "FunctionNotFound" {
		t.Errorf("status = %+v, %v", st, err)
	}
}

func TestGetPodsIncludesOrphanedFunctionsOfThisNode(t *testing.T) {
	orphan := newPod("uid-o", "gone")
	b := &fakeBackend{listed: []translate.FunctionState{
		{Name: translate.FunctionName(orphan), Tags: translate.Tags(orphan, "vk")},
		{Name: "someone-elses", Tags: map[string]string{translate.TagPodUID: "x", translate.TagPodName: "y", translate.TagPodNamespace: "z"}},
	}}
	p, _ := newProvider(t, b)
	live := newPod("uid-l", "live")
	if err := p.CreatePod(context.Background(), live); err != nil {
		t.Fatal(err)
	}
	b.listed = append(b.listed, translate.FunctionState{Name: translate.FunctionName(live), Tags: translate.Tags(live, "vk")})
	pods, err := p.GetPods(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[types.UID]string{}
	for _, pod := range pods {
		got[pod.UID] = pod.Namespace + "/" + pod.Name
	}
	if len(got) != 2 || got["uid-o"] != "default/gone" || got["uid-l"] != "default/live" {
		t.Errorf("GetPods = %v; want the live pod and the orphan, not a function whose name this node did not derive", got)
	}
	// Deleting the rebuilt orphan deletes exactly its function.
	for _, pod := range pods {
		if pod.UID == "uid-o" {
			if err := p.DeletePod(context.Background(), pod); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(b.deleted) != 1 || b.deleted[0] != translate.FunctionName(orphan) {
		t.Errorf("deleted %v", b.deleted)
	}
}

func TestJobOnACloudWithoutTagsFailsClearly(t *testing.T) {
	b := &fakeBackend{noTags: true}
	p, _ := newProvider(t, b)
	pod := jobPod("nt", corev1.RestartPolicyNever)
	if err := p.CreatePod(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	st := waitPhase(t, p, pod, corev1.PodFailed)
	if msg := st.ContainerStatuses[0].State.Terminated.Message; !strings.Contains(msg, "not supported") {
		t.Errorf("message = %q", msg)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.invoked) != 0 {
		t.Error("invoked without a record of the attempt")
	}
}

// Virtual Kubelet calls UpdatePod for every change of the pod object; only
// a change of what the function is made of reaches the cloud.
func TestUpdatePodRedeploysOnlyWhenTheFunctionChanges(t *testing.T) {
	b := &fakeBackend{}
	p, _ := newProvider(t, b)
	ctx := context.Background()
	pod := newPod("uid-1", "hello")
	if err := p.CreatePod(ctx, pod); err != nil {
		t.Fatal(err)
	}
	annotated := pod.DeepCopy()
	annotated.Annotations = map[string]string{AnnotationFunctionURL: "https://example.com/fn", "note": "x"}
	annotated.ResourceVersion = "2"
	if err := p.UpdatePod(ctx, annotated); err != nil {
		t.Fatal(err)
	}
	if len(b.deployed) != 1 {
		t.Fatalf("an annotation-only update deployed again: %d deploys", len(b.deployed))
	}
	got, err := p.GetPod(ctx, "default", "hello")
	if err != nil || got.Annotations["note"] != "x" || got.Status.Phase != corev1.PodRunning {
		t.Errorf("GetPod after the update = %+v, %v (want the new metadata and the Running status)", got, err)
	}
	newImage := annotated.DeepCopy()
	newImage.Spec.Containers[0].Image = "example.com/hello:2"
	if err := p.UpdatePod(ctx, newImage); err != nil {
		t.Fatal(err)
	}
	if len(b.deployed) != 2 || b.deployed[1].Image != "example.com/hello:2" {
		t.Errorf("a new image was not deployed: %d deploys", len(b.deployed))
	}
}

// A pod that has failed never runs again, whatever its updates say.
func TestUpdatePodOfAFailedPodDoesNotRedeploy(t *testing.T) {
	b := &fakeBackend{deployFn: func(fn *translate.Function) (*translate.FunctionState, error) {
		return &translate.FunctionState{Name: fn.Name, Phase: translate.PhaseFailed, Reason: "ImageAccessDenied", Message: "no"}, nil
	}}
	p, _ := newProvider(t, b)
	ctx := context.Background()
	pod := newPod("uid-1", "hello")
	if err := p.CreatePod(ctx, pod); err != nil {
		t.Fatal(err)
	}
	fixed := pod.DeepCopy()
	fixed.Spec.Containers[0].Image = "example.com/hello:2"
	if err := p.UpdatePod(ctx, fixed); err != nil {
		t.Fatal(err)
	}
	if len(b.deployed) != 1 {
		t.Errorf("a Failed pod was deployed again: %d deploys", len(b.deployed))
	}
}

// Virtual Kubelet writes the status with the reported pod's metadata, which
// the API server keeps: the reported pod must carry the function URL
// annotation, or each status write erases it.
func TestReportedPodKeepsTheFunctionURLAnnotation(t *testing.T) {
	b := &fakeBackend{deployFn: func(fn *translate.Function) (*translate.FunctionState, error) {
		return &translate.FunctionState{Name: fn.Name, Phase: translate.PhaseActive, Endpoint: "https://fn.example.com/"}, nil
	}}
	p, err := New(Options{NodeName: "vk", Backend: b, Now: func() time.Time { return now },
		AnnotatePod: func(context.Context, string, string, map[string]string) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	var last *corev1.Pod
	p.NotifyPods(context.Background(), func(pod *corev1.Pod) { last = pod })
	if err := p.CreatePod(context.Background(), newPod("uid-1", "web")); err != nil {
		t.Fatal(err)
	}
	if last == nil || last.Annotations[AnnotationFunctionURL] != "https://fn.example.com/" {
		t.Errorf("reported pod annotations = %v", last.Annotations)
	}
}

// slowInvoke holds each invocation until released or its context ends.
type slowInvoke struct {
	fakeBackend
	started chan struct{}
	release chan struct{}
}

func (s *slowInvoke) Invoke(ctx context.Context, name string, payload []byte) (*translate.Invocation, error) {
	close(s.started)
	select {
	case <-s.release:
		return &translate.Invocation{Output: payload}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// A graceful stop lets an invocation in flight finish and records its
// outcome; one that outlasts the grace period is cut off, its recorded
// state left "running" so the next start reports the outcome unknown.
func TestDrainFinishesInvocationsInFlight(t *testing.T) {
	for _, tc := range []struct {
		name      string
		finish    bool
		wantState string
	}{{"finishes within the grace period", true, translate.JobSucceeded}, {"cut off after the grace period", false, translate.JobRunning}} {
		t.Run(tc.name, func(t *testing.T) {
			b := &slowInvoke{started: make(chan struct{}), release: make(chan struct{})}
			p, err := New(Options{NodeName: "vk", Backend: b, Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			ctx, stop := context.WithCancel(context.Background())
			p.NotifyPods(ctx, func(*corev1.Pod) {})
			if err := p.CreatePod(context.Background(), jobPod("j1", corev1.RestartPolicyNever)); err != nil {
				t.Fatal(err)
			}
			<-b.started
			stop() // SIGTERM: the node stops
			grace := 50 * time.Millisecond
			if tc.finish {
				grace = 5 * time.Second
				go func() { time.Sleep(20 * time.Millisecond); close(b.release) }()
			}
			if got := p.Drain(grace); got != tc.finish {
				t.Errorf("Drain = %v, want %v", got, tc.finish)
			}
			deadline := time.Now().Add(2 * time.Second)
			for {
				b.mu.Lock()
				state := b.tags[translate.TagJobState]
				b.mu.Unlock()
				if state == tc.wantState || time.Now().After(deadline) {
					if state != tc.wantState {
						t.Errorf("recorded job state %q, want %q", state, tc.wantState)
					}
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
}

// The resync deletes exactly the functions of this node whose pod UID is
// gone from a synced informer; nothing while the informer cannot answer,
// and never a function whose name is not the one derived from its tags.
func TestResyncDeletesOnlyOrphansSeenBySyncedInformer(t *testing.T) {
	fn := func(uid, ns, name string) translate.FunctionState {
		pod := &corev1.Pod{}
		pod.UID, pod.Namespace, pod.Name = types.UID(uid), ns, name
		return translate.FunctionState{Name: translate.FunctionName(pod), Tags: map[string]string{
			translate.TagPodUID: uid, translate.TagNode: "vk", translate.TagPodNamespace: ns, translate.TagPodName: name}}
	}
	renamed := fn("uid-renamed", "default", "x")
	renamed.Name = "fk-someone-elses-0123456789"
	// A pod of a 250-character name: its function's description was cut,
	// and the listing knows its owner by UID and node only.
	longPod := &corev1.Pod{}
	longPod.UID, longPod.Namespace, longPod.Name = "uid-long-gone", "default", strings.Repeat("long-name-", 25)
	cutOwner, ok := translate.ParseDescription(translate.Description(longPod, "vk"))
	if !ok {
		t.Fatal("the long-named pod's description does not parse")
	}
	longGone := translate.FunctionState{Name: translate.FunctionName(longPod), Tags: cutOwner}
	listed := []translate.FunctionState{fn("uid-live", "default", "live"), fn("uid-gone", "default", "gone"), fn("uid-recreated-old", "default", "web"), renamed, longGone}
	for _, tc := range []struct {
		name   string
		synced bool
		want   []string
	}{
		{"synced informer", true, []string{listed[1].Name, listed[2].Name, longGone.Name}},
		{"informer not synced", false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &fakeBackend{listed: listed}
			p, err := New(Options{NodeName: "vk", Backend: b, Now: func() time.Time { return now },
				Pods: func() ([]*corev1.Pod, bool) {
					// "web" was recreated under the same name: only its new UID exists.
					return []*corev1.Pod{newPod("uid-live", "live"), newPod("uid-web-new", "web")}, tc.synced
				}})
			if err != nil {
				t.Fatal(err)
			}
			p.resync(context.Background())
			b.mu.Lock()
			defer b.mu.Unlock()
			if fmt.Sprint(b.deleted) != fmt.Sprint(tc.want) {
				t.Errorf("deleted %v, want %v", b.deleted, tc.want)
			}
		})
	}
}

// A pod another controller marked not Ready (its node was unreachable) is
// reported again at the next resync with our status and the API server's
// metadata; pods that agree are left alone.
func TestResyncReassertsStatusOthersChanged(t *testing.T) {
	b := &fakeBackend{}
	var inAPI []*corev1.Pod
	var offset atomic.Int64 // the tracker goroutine reads the clock too
	p, err := New(Options{NodeName: "vk", Backend: b, Now: func() time.Time { return now.Add(time.Duration(offset.Load())) },
		Pods: func() ([]*corev1.Pod, bool) { return inAPI, true }})
	if err != nil {
		t.Fatal(err)
	}
	var notified []*corev1.Pod
	p.NotifyPods(context.Background(), func(pod *corev1.Pod) { notified = append(notified, pod) })
	for _, pod := range []*corev1.Pod{newPod("uid-1", "a"), newPod("uid-2", "b")} {
		if err := p.CreatePod(context.Background(), pod); err != nil {
			t.Fatal(err)
		}
		b.listed = append(b.listed, translate.FunctionState{Name: translate.FunctionName(pod), Tags: translate.Tags(pod, "vk")})
	}
	for _, n := range notified {
		inAPI = append(inAPI, n.DeepCopy())
	}
	// The node lifecycle controller marks pod a not Ready and someone
	// annotates it.
	for i := range inAPI[0].Status.Conditions {
		if inAPI[0].Status.Conditions[i].Type == corev1.PodReady {
			inAPI[0].Status.Conditions[i].Status = corev1.ConditionFalse
		}
	}
	inAPI[0].Annotations = map[string]string{"note": "kept"}
	notified = nil
	// Just after the report the write may still be queued: not again yet.
	p.resync(context.Background())
	if len(notified) != 0 {
		t.Fatalf("%d pods reported again while their status was still on its way", len(notified))
	}
	offset.Store(int64(reassertAfter))
	p.resync(context.Background())
	if len(notified) != 1 || notified[0].UID != "uid-1" || notified[0].Annotations["note"] != "kept" {
		for _, n := range notified {
			t.Logf("reported %s %s %v", n.Name, n.Status.Phase, n.Annotations)
		}
		t.Fatalf("%d pods reported again, want pod a alone with the API server's metadata", len(notified))
	}
	if condition(&notified[0].Status, corev1.PodReady) != corev1.ConditionTrue {
		t.Errorf("reported Ready = %s", condition(&notified[0].Status, corev1.PodReady))
	}
	// Reported again once, not at every resync while the write is on its way.
	notified = nil
	p.resync(context.Background())
	if len(notified) != 0 {
		t.Errorf("%d pods reported again at the next resync", len(notified))
	}
}

// Status reports carry the pod's metadata and status, which is all the
// pods/status subresource takes; GetPod's answer keeps only the spec the
// status is derived from. Env values (resolved from Secrets by Virtual
// Kubelet) and volumes are not kept or handed on.
func TestReportedPodsCarryNoEnvOrVolumes(t *testing.T) {
	p, notified := newProvider(t, &fakeBackend{})
	pod := newPod("uid-1", "a")
	pod.Annotations = map[string]string{"team": "x"}
	pod.Finalizers = []string{"example.com/keep"}
	pod.OwnerReferences = []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "rs", UID: "rs-1"}}
	pod.Spec.Containers[0].Env = append(pod.Spec.Containers[0].Env, corev1.EnvVar{Name: "TOKEN", Value: "canary-s3cr3t"})
	pod.Spec.Volumes = []corev1.Volume{{Name: "kube-api-access-x7k2p", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{}}}}
	pod.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}
	if err := p.CreatePod(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	got, err := p.GetPod(context.Background(), "default", "a")
	if err != nil {
		t.Fatal(err)
	}
	if len(*notified) == 0 {
		t.Fatal("no status reported")
	}
	for _, r := range append([]*corev1.Pod{got}, *notified...) {
		if r.Annotations["team"] != "x" || r.UID != "uid-1" || r.Status.Phase != corev1.PodRunning || len(r.Finalizers) != 1 {
			t.Errorf("reported metadata/status lost: %v %s %s %v", r.Annotations, r.UID, r.Status.Phase, r.Finalizers)
		}
		if len(r.Status.ContainerStatuses) != 1 || r.Status.ContainerStatuses[0].Image != "example.com/hello:1" {
			t.Errorf("reported container statuses: %+v", r.Status.ContainerStatuses)
		}
		if len(r.ManagedFields) != 0 || len(r.Spec.Volumes) != 0 {
			t.Errorf("reported pod keeps volumes %v, managedFields %v", r.Spec.Volumes, r.ManagedFields)
		}
		for _, c := range r.Spec.Containers {
			if len(c.Env) != 0 {
				t.Errorf("reported pod keeps env %v", c.Env)
			}
		}
	}
	if len(got.Spec.Containers) != 1 || got.Spec.Containers[0].Image != "example.com/hello:1" {
		t.Errorf("GetPod's containers: %+v", got.Spec.Containers)
	}
	for _, r := range *notified {
		if len(r.Spec.Containers) != 0 || len(r.OwnerReferences) != 0 {
			t.Errorf("status report carries spec %+v or owner references %v, which pods/status ignores", r.Spec.Containers, r.OwnerReferences)
		}
	}
	if len(pod.Spec.Containers[0].Env) != 2 || len(pod.Spec.Volumes) != 1 {
		t.Error("the pod handed in was modified")
	}
}

// A node's pods count in Tracked (the memory budget) while its core runs;
// once released (the node stopped), they no longer do, and nothing that
// happens to them later counts twice.
func TestReleaseStopsCountingPods(t *testing.T) {
	p, _ := newProvider(t, &fakeBackend{})
	base := Tracked()
	ctx := context.Background()
	a, b := newPod("uid-r1", "a"), newPod("uid-r2", "b")
	for _, pod := range []*corev1.Pod{a, b} {
		if err := p.CreatePod(ctx, pod); err != nil {
			t.Fatal(err)
		}
	}
	if got := Tracked() - base; got != 2 {
		t.Fatalf("tracked %d more pods, want 2", got)
	}
	p.Release()
	p.Release()
	if got := Tracked() - base; got != 0 {
		t.Errorf("after Release: %d more pods tracked, want 0", got)
	}
	if err := p.DeletePod(ctx, a); err != nil {
		t.Fatal(err)
	}
	if got := Tracked() - base; got != 0 {
		t.Errorf("a delete after Release changed Tracked by %d", got)
	}
}

// GetPod answers by namespace and name: while a pod of a name is replaced
// (a StatefulSet's), the newer one, then the one left, then none.
func TestGetPodByNameAcrossAReplacement(t *testing.T) {
	p, _ := newProvider(t, &fakeBackend{})
	ctx := context.Background()
	old, replacement := newPod("uid-old", "web-0"), newPod("uid-new", "web-0")
	for _, pod := range []*corev1.Pod{newPod("uid-other", "web-1"), old, replacement} {
		if err := p.CreatePod(ctx, pod); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := p.GetPod(ctx, "default", "web-0"); err != nil || got.UID != "uid-new" {
		t.Fatalf("GetPod web-0 = %v, %v; want the replacement", got, err)
	}
	if err := p.DeletePod(ctx, replacement); err != nil {
		t.Fatal(err)
	}
	if got, err := p.GetPod(ctx, "default", "web-0"); err != nil || got.UID != "uid-old" {
		t.Fatalf("GetPod web-0 after the replacement's deletion = %v, %v; want the old pod", got, err)
	}
	if err := p.DeletePod(ctx, old); err != nil {
		t.Fatal(err)
	}
	if got, err := p.GetPod(ctx, "default", "web-0"); !errdefs.IsNotFound(err) {
		t.Errorf("GetPod web-0 after both deletions = %v, %v; want NotFound", got, err)
	}
	if got, err := p.GetPod(ctx, "default", "web-1"); err != nil || got.UID != "uid-other" {
		t.Errorf("GetPod web-1 = %v, %v", got, err)
	}
}
