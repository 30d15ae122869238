package provider

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/log"
	vkslog "github.com/virtual-kubelet/virtual-kubelet/log/slog"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	testingclock "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

const testCA = "-----BEGIN CERTIFICATE-----\nMIIBcluster\n-----END CERTIFICATE-----\n"

// lockedBuffer collects log lines written from several goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// tokenFixture is a core with a fake API server that answers
// TokenRequests, a fake clock, and a backend whose deploys tests wait for.
type tokenFixture struct {
	t        *testing.T
	clock    *testingclock.FakeClock
	p        *Provider
	b        *fakeBackend
	rec      *record.FakeRecorder
	logs     *lockedBuffer
	deploys  chan *translate.Function
	refreshs chan types.UID
	reports  chan *corev1.Pod
	ctx      context.Context

	mu       sync.Mutex
	requests []tokenCall
	fail     error
	pods     []*corev1.Pod
}

// tokenCall is one TokenRequest the API server received.
type tokenCall struct {
	namespace, serviceAccount string
	spec                      authenticationv1.TokenRequestSpec
	token                     string
}

func newTokenFixture(t *testing.T) *tokenFixture {
	t.Helper()
	f := &tokenFixture{
		t:        t,
		clock:    testingclock.NewFakeClock(now),
		rec:      record.NewFakeRecorder(1000),
		logs:     &lockedBuffer{},
		deploys:  make(chan *translate.Function, 10),
		refreshs: make(chan types.UID, 10),
		reports:  make(chan *corev1.Pod, 1000),
	}
	f.b = &fakeBackend{deployFn: func(fn *translate.Function) (*translate.FunctionState, error) {
		f.deploys <- fn
		return &translate.FunctionState{Name: fn.Name, Phase: translate.PhaseActive, Created: now}, nil
	}}
	client := fake.NewClientset()
	client.PrependReactor("create", "serviceaccounts", func(a k8stesting.Action) (bool, runtime.Object, error) {
		create := a.(k8stesting.CreateAction)
		if create.GetSubresource() != "token" {
			return false, nil, nil
		}
		req := create.GetObject().(*authenticationv1.TokenRequest)
		f.mu.Lock()
		defer f.mu.Unlock()
		name := a.(k8stesting.CreateActionImpl).Name
		call := tokenCall{namespace: a.GetNamespace(), serviceAccount: name, spec: *req.Spec.DeepCopy()}
		if f.fail != nil {
			f.requests = append(f.requests, call)
			return true, nil, f.fail
		}
		call.token = fmt.Sprintf("eyJhbGciOiJSUzI1NiJ9.secret-token-%d.sig", len(f.requests)+1)
		f.requests = append(f.requests, call)
		out := req.DeepCopy()
		out.Status.Token = call.token
		out.Status.ExpirationTimestamp = metav1.NewTime(f.clock.Now().Add(time.Duration(*req.Spec.ExpirationSeconds) * time.Second))
		return true, out, nil
	})
	tokens := &ServiceAccountTokens{
		Client:    client.CoreV1(),
		APIServer: "https://k8s.example.com:6443",
		CA:        func(string) ([]byte, error) { return []byte(testCA), nil },
		Clock:     f.clock,
		jitter:    func() time.Duration { return 0 },
		refreshed: func(uid types.UID) { f.refreshs <- uid },
	}
	p, err := New(Options{
		NodeName: "vk", Backend: f.b, Recorder: f.rec, Now: f.clock.Now,
		Pods: func() ([]*corev1.Pod, bool) {
			f.mu.Lock()
			defer f.mu.Unlock()
			return append([]*corev1.Pod(nil), f.pods...), true
		},
		ServiceAccountTokens: tokens,
	})
	if err != nil {
		t.Fatal(err)
	}
	logger := vkslog.FromSlog(slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	ctx, cancel := context.WithCancel(log.WithLogger(context.Background(), logger))
	t.Cleanup(cancel)
	p.NotifyPods(ctx, func(pod *corev1.Pod) {
		select {
		case f.reports <- pod:
		default:
		}
	})
	f.p, f.ctx = p, ctx
	return f
}

// tokenPod is a pod of ServiceAccount "app" that asks for its token.
func tokenPod(uid string) *corev1.Pod {
	pod := newPod(uid, "api-"+uid)
	pod.Spec.ServiceAccountName = "app"
	pod.Annotations = map[string]string{translate.AnnotationServiceAccountToken: "true"}
	return pod
}

func (f *tokenFixture) create(pod *corev1.Pod) {
	f.t.Helper()
	f.mu.Lock()
	f.pods = append(f.pods, pod.DeepCopy())
	f.mu.Unlock()
	if err := f.p.CreatePod(f.ctx, pod.DeepCopy()); err != nil {
		f.t.Fatalf("CreatePod = %v", err)
	}
}

func (f *tokenFixture) calls() []tokenCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]tokenCall(nil), f.requests...)
}

func (f *tokenFixture) setFail(err error) {
	f.mu.Lock()
	f.fail = err
	f.mu.Unlock()
}

// deployed waits for the next deploy.
func (f *tokenFixture) deployed(what string) *translate.Function {
	f.t.Helper()
	select {
	case fn := <-f.deploys:
		return fn
	case <-time.After(5 * time.Second):
		f.t.Fatalf("no deploy: %s", what)
		return nil
	}
}

func (f *tokenFixture) noDeploy(what string) {
	f.t.Helper()
	select {
	case fn := <-f.deploys:
		f.t.Fatalf("%s: deployed %s", what, fn.Name)
	default:
	}
}

// refreshHandled waits until a due refresh of uid has been handled.
func (f *tokenFixture) refreshHandled(uid types.UID) {
	f.t.Helper()
	select {
	case got := <-f.refreshs:
		if got != uid {
			f.t.Fatalf("refreshed %s, want %s", got, uid)
		}
	case <-time.After(5 * time.Second):
		f.t.Fatalf("the refresh of %s was never handled", uid)
	}
}

func (f *tokenFixture) events() string { return events(f.rec) }

// reported waits until the pod is reported in phase.
func (f *tokenFixture) reported(uid types.UID, phase corev1.PodPhase) {
	f.t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case pod := <-f.reports:
			if pod.UID == uid && pod.Status.Phase == phase {
				return
			}
		case <-timeout:
			f.t.Fatalf("pod %s never reported %s", uid, phase)
		}
	}
}

// assertNoSecret checks every place a user or an operator reads: events,
// logs, the pod's status, and the function's notes, tags and description.
func (f *tokenFixture) assertNoSecret(events string, fns ...*translate.Function) {
	f.t.Helper()
	places := map[string]string{"events": events, "logs": f.logs.String()}
	for i, fn := range fns {
		tags, _ := json.Marshal(fn.Tags)
		places[fmt.Sprintf("function %d notes", i)] = strings.Join(fn.Notes, "\n")
		places[fmt.Sprintf("function %d tags", i)] = string(tags) + fn.Description
	}
	f.mu.Lock()
	for _, pod := range f.pods {
		if got, err := f.p.GetPod(f.ctx, pod.Namespace, pod.Name); err == nil {
			status, _ := json.Marshal(got)
			places["pod "+pod.Name] = string(status)
		}
	}
	f.mu.Unlock()
	for _, c := range f.calls() {
		if c.token == "" {
			continue
		}
		for where, text := range places {
			if strings.Contains(text, c.token) || strings.Contains(text, "secret-token") {
				f.t.Errorf("the token shows in %s:\n%s", where, text)
			}
		}
	}
}

func TestOptedInPodGetsABoundTokenInItsEnvironment(t *testing.T) {
	f := newTokenFixture(t)
	pod := tokenPod("u1")
	f.create(pod)
	fn := f.deployed("the pod that opted in")

	calls := f.calls()
	if len(calls) != 1 {
		t.Fatalf("%d TokenRequests, want 1", len(calls))
	}
	c := calls[0]
	if c.namespace != "default" || c.serviceAccount != "app" {
		t.Errorf("token requested for %s/%s, want default/app", c.namespace, c.serviceAccount)
	}
	ref := c.spec.BoundObjectRef
	if ref == nil || ref.Kind != "Pod" || ref.APIVersion != "v1" || ref.Name != pod.Name || ref.UID != pod.UID {
		t.Errorf("token bound to %+v, want the pod %s (%s)", ref, pod.Name, pod.UID)
	}
	if c.spec.ExpirationSeconds == nil || *c.spec.ExpirationSeconds != 3600 || len(c.spec.Audiences) != 0 {
		t.Errorf("token spec = %+v, want 3600 s and the API server's audience", c.spec)
	}
	if fn.Env[translate.EnvKubernetesToken] != c.token {
		t.Errorf("%s = %q, want the issued token", translate.EnvKubernetesToken, fn.Env[translate.EnvKubernetesToken])
	}
	if ca, err := base64.StdEncoding.DecodeString(fn.Env[translate.EnvKubernetesCAData]); err != nil || string(ca) != testCA {
		t.Errorf("%s = %q (%v), want the CA in base64", translate.EnvKubernetesCAData, fn.Env[translate.EnvKubernetesCAData], err)
	}
	if got := fn.Env[translate.EnvKubernetesAPIServer]; got != "https://k8s.example.com:6443" {
		t.Errorf("%s = %q", translate.EnvKubernetesAPIServer, got)
	}
	if fn.Env["GREETING"] != "hi" {
		t.Errorf("the pod's own env is lost: %v", fn.Env)
	}
	f.assertNoSecret(f.events(), fn)
}

func TestTokenAudienceAndLifetimeComeFromThePodsProjectedSource(t *testing.T) {
	f := newTokenFixture(t)
	pod := newPod("u1", "vault-client")
	pod.Spec.AutomountServiceAccountToken = ptr.To(true)
	pod.Spec.Volumes = []corev1.Volume{{Name: "vault-token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Audience: "vault", ExpirationSeconds: ptr.To(int64(7200)), Path: "token"}}}}}}}
	f.create(pod)
	fn := f.deployed("the pod that opted in with automountServiceAccountToken")
	c := f.calls()[0]
	if c.serviceAccount != "default" || len(c.spec.Audiences) != 1 || c.spec.Audiences[0] != "vault" || *c.spec.ExpirationSeconds != 7200 {
		t.Errorf("token request %s: %+v, want ServiceAccount default, audience vault, 7200 s", c.serviceAccount, c.spec)
	}
	if fn.Env[translate.EnvKubernetesToken] != c.token {
		t.Error("the function lacks the token")
	}
}

func TestTokenIsRefreshedAtEightyPercentOfItsLifetime(t *testing.T) {
	f := newTokenFixture(t)
	pod := tokenPod("u1")
	f.create(pod)
	first := f.deployed("first")
	f.events()

	// Just before 80% of 3600 s: the token is kept, even when the pod is
	// handed in again.
	f.clock.Step(48*time.Minute - time.Second)
	if err := f.p.UpdatePod(f.ctx, pod.DeepCopy()); err != nil {
		t.Fatal(err)
	}
	f.noDeploy("before the refresh is due")
	if n := len(f.calls()); n != 1 {
		t.Fatalf("%d TokenRequests before 80%% of the lifetime, want 1", n)
	}

	// At 80%: a new token, bound to the pod again, reaches the function
	// through an update of its environment.
	f.clock.Step(time.Second)
	second := f.deployed("the refresh at 80% of the lifetime")
	f.refreshHandled(pod.UID)
	calls := f.calls()
	if len(calls) != 2 || calls[1].spec.BoundObjectRef == nil || calls[1].spec.BoundObjectRef.UID != pod.UID {
		t.Fatalf("TokenRequests = %+v, want a second one bound to the pod", calls)
	}
	if second.Env[translate.EnvKubernetesToken] != calls[1].token || first.Env[translate.EnvKubernetesToken] == calls[1].token {
		t.Errorf("refreshed function's token = %q, want the new one", second.Env[translate.EnvKubernetesToken])
	}
	ev := f.events()
	if !strings.Contains(ev, "FunctionEnvUpdated") {
		t.Errorf("no FunctionEnvUpdated event for the refresh:\n%s", ev)
	}
	f.assertNoSecret(ev, first, second)

	// The next refresh is 80% of the new token's lifetime later.
	f.clock.Step(48 * time.Minute)
	third := f.deployed("the second refresh")
	f.refreshHandled(pod.UID)
	if len(f.calls()) != 3 || third.Env[translate.EnvKubernetesToken] != f.calls()[2].token {
		t.Errorf("second refresh: %d TokenRequests", len(f.calls()))
	}
}

func TestFailedRefreshKeepsTheValidTokenAndTriesAgain(t *testing.T) {
	f := newTokenFixture(t)
	pod := tokenPod("u1")
	f.create(pod)
	first := f.deployed("first")

	f.setFail(apierrors.NewInternalError(errors.New("etcd is slow")))
	f.clock.Step(48 * time.Minute)
	f.refreshHandled(pod.UID)
	f.noDeploy("a refresh that failed while the token is valid")
	if n := len(f.calls()); n != 2 {
		t.Fatalf("%d TokenRequests, want the failed refresh as the second", n)
	}
	if !strings.Contains(f.logs.String(), "ServiceAccount token not refreshed") {
		t.Errorf("the failed refresh is not logged:\n%s", f.logs.String())
	}

	// A minute later it is tried again, and succeeds.
	f.setFail(nil)
	f.clock.Step(time.Minute)
	second := f.deployed("the retried refresh")
	f.refreshHandled(pod.UID)
	calls := f.calls()
	if len(calls) != 3 || second.Env[translate.EnvKubernetesToken] != calls[2].token || second.Env[translate.EnvKubernetesToken] == first.Env[translate.EnvKubernetesToken] {
		t.Errorf("after the retry: %d TokenRequests, token %q", len(calls), second.Env[translate.EnvKubernetesToken])
	}
}

func TestPodWithoutOptInGetsNoToken(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*corev1.Pod)
	}{
		{"no annotation", func(p *corev1.Pod) { p.Annotations = nil }},
		{"annotation not true", func(p *corev1.Pod) { p.Annotations[translate.AnnotationServiceAccountToken] = "yes" }},
		{"automount false wins", func(p *corev1.Pod) { p.Spec.AutomountServiceAccountToken = ptr.To(false) }},
		{"the admission plugin's volume only", func(p *corev1.Pod) {
			p.Annotations = nil
			p.Spec.Volumes = []corev1.Volume{{Name: "kube-api-access-x7k2p", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
				Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{ExpirationSeconds: ptr.To(int64(3607)), Path: "token"}}}}}}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newTokenFixture(t)
			pod := tokenPod("u1")
			tc.edit(pod)
			f.create(pod)
			fn := f.deployed("a pod without a token")
			if n := len(f.calls()); n != 0 {
				t.Errorf("%d TokenRequests for a pod that did not opt in", n)
			}
			for _, k := range []string{translate.EnvKubernetesToken, translate.EnvKubernetesCAData, translate.EnvKubernetesAPIServer} {
				if _, ok := fn.Env[k]; ok {
					t.Errorf("env has %s", k)
				}
			}
			if f.clock.HasWaiters() {
				t.Error("a refresh is scheduled for a pod without a token")
			}
		})
	}
}

func TestNodeWithoutTokensSaysSoInANote(t *testing.T) {
	b := &fakeBackend{}
	rec := record.NewFakeRecorder(100)
	p, err := New(Options{NodeName: "vk", Backend: b, Recorder: rec, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CreatePod(context.Background(), tokenPod("u1")); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.deployed[0].Env[translate.EnvKubernetesToken]; ok {
		t.Error("a token from a node that gives none")
	}
	if ev := events(rec); !strings.Contains(ev, "FunctionNote") || !strings.Contains(ev, "gives functions none") {
		t.Errorf("events:\n%s", ev)
	}
}

func TestRefusedTokenRequestMakesThePodWaitAndHeals(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"forbidden", apierrors.NewForbidden(schema.GroupResource{Resource: "serviceaccounts/token"}, "app", errors.New(`User "system:serviceaccount:faas:faas-kubelet" cannot create resource "serviceaccounts/token"`)), "forbidden"},
		{"no ServiceAccount", apierrors.NewNotFound(schema.GroupResource{Resource: "serviceaccounts"}, "app"), `serviceaccounts "app" not found`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newTokenFixture(t)
			f.setFail(tc.err)
			pod := tokenPod("u1")
			f.create(pod)
			f.noDeploy("a pod without its token")
			st, err := f.p.GetPodStatus(f.ctx, pod.Namespace, pod.Name)
			if err != nil {
				t.Fatal(err)
			}
			w := st.ContainerStatuses[0].State.Waiting
			if st.Phase != corev1.PodPending || w == nil || w.Reason != ReasonServiceAccountTokenError ||
				!strings.Contains(w.Message, "requesting a token for ServiceAccount default/app") || !strings.Contains(w.Message, tc.want) {
				t.Fatalf("status = %s %+v, want Pending, Waiting %s naming the ServiceAccount", st.Phase, st.ContainerStatuses[0].State, ReasonServiceAccountTokenError)
			}
			if ev := f.events(); !strings.Contains(ev, "Warning "+ReasonServiceAccountTokenError) || !strings.Contains(ev, "retrying in 10s") {
				t.Errorf("events:\n%s", ev)
			}
			// Handed in again before the backoff: no second request.
			if err := f.p.UpdatePod(f.ctx, pod.DeepCopy()); err != nil {
				t.Fatal(err)
			}
			n := len(f.calls())
			// The RBAC or the ServiceAccount is fixed: after the backoff
			// the function is created with its token.
			f.setFail(nil)
			f.clock.Step(10 * time.Second)
			fn := f.deployed("the retry after the backoff")
			calls := f.calls()
			if fn.Env[translate.EnvKubernetesToken] == "" || fn.Env[translate.EnvKubernetesToken] != calls[len(calls)-1].token || len(calls) <= n {
				t.Errorf("healed function's env lacks the new token (%d requests)", len(calls))
			}
			f.reported(pod.UID, corev1.PodRunning)
			f.assertNoSecret(f.events(), fn)
		})
	}
}

func TestDeletedPodsTokenIsForgotten(t *testing.T) {
	f := newTokenFixture(t)
	pod := tokenPod("u1")
	f.create(pod)
	f.deployed("first")
	if err := f.p.DeletePod(f.ctx, pod.DeepCopy()); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.pods = nil
	f.mu.Unlock()
	// The deletion forgets the token at once: nothing is kept, and its
	// refresh never comes.
	if n := f.p.opts.ServiceAccountTokens.count(); n != 0 {
		t.Errorf("%d tokens kept after the pod was deleted", n)
	}
	f.clock.Step(48 * time.Minute)
	if n := len(f.calls()); n != 1 {
		t.Errorf("%d TokenRequests, want none after the deletion", n)
	}
	f.noDeploy("a deleted pod")
}
