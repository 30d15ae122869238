package alibaba

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	fc "github.com/alibabacloud-go/fc-open-20210406/v2/client"
	util "github.com/alibabacloud-go/tea-utils/v2/service"
	"github.com/alibabacloud-go/tea/tea"
	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"

	emu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/alibaba"
	"github.com/faas-kubelet/faas-kubelet/provider"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

const image = "registry.cn-hangzhou.aliyuncs.com/shop/hello:1"

type env struct {
	b  *Backend
	s  *emu.Server
	fc *fc.Client // the test's own client, as a user of the SDK would hold
}

// setup runs the emulator and a backend signing with secret.
func setup(t *testing.T, secret string) *env {
	t.Helper()
	return setupWith(t, secret, emu.Options{})
}

// setupWith runs the emulator with opts and a backend signing with secret.
func setupWith(t *testing.T, secret string, opts emu.Options) *env {
	t.Helper()
	s := emu.New(opts)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	client := func(secret string) (*fc.Client, ClientOptions) {
		cred, err := StaticCredential(emu.DefaultAccessKeyID, secret, "")
		if err != nil {
			t.Fatal(err)
		}
		co := ClientOptions{Region: emu.DefaultRegion, AccountID: emu.DefaultAccountID, Endpoint: ts.URL,
			LogEndpoint: ts.URL, LogDialAddress: strings.TrimPrefix(ts.URL, "http://"), Credential: cred}
		c, err := NewClient(co)
		if err != nil {
			t.Fatal(err)
		}
		return c, co
	}
	c, co := client(secret)
	own, _ := client(emu.DefaultAccessKeySecret)
	b := New(c, NewLogsClient(co), Options{Region: emu.DefaultRegion, AccountID: emu.DefaultAccountID, LogProject: "k8s-functions", LogStore: "fc-logs", DigestKey: secret})
	return &env{b: b, s: s, fc: own}
}

func function(t *testing.T, img string, mutate func(*corev1.Pod)) *translate.Function {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "default", UID: "uid-1", Labels: map[string]string{"app.kubernetes.io/name": "hello"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: img, Env: []corev1.EnvVar{{Name: "GREETING", Value: "hi"}}}}},
	}
	if mutate != nil {
		mutate(pod)
	}
	fn, err := translate.FromPod(pod, "vk-fc", nil)
	if err != nil {
		t.Fatal(err)
	}
	return fn
}

func (e *env) tags(t *testing.T, service string) map[string]string {
	t.Helper()
	out, err := e.fc.GetResourceTagsWithOptions(&fc.GetResourceTagsRequest{ResourceArn: tea.String(e.b.serviceARN(service))}, &fc.GetResourceTagsHeaders{}, &util.RuntimeOptions{})
	if err != nil {
		t.Fatalf("GetResourceTags %s: %v", service, err)
	}
	return fromTea(out.Body.Tags)
}

func TestDeployListAdoptUpdateDelete(t *testing.T) {
	e := setup(t, emu.DefaultAccessKeySecret)
	ctx := context.Background()
	if err := e.b.Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
	fn := function(t, image, func(p *corev1.Pod) {
		p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 8080}}
		p.Annotations = map[string]string{AnnotationHTTPAuth: "anonymous"}
	})
	st, err := e.b.Deploy(ctx, fn)
	if err != nil {
		t.Fatal(err)
	}
	if st.Phase != translate.PhaseActive || st.Endpoint == "" || st.Tags[translate.TagPodUID] != "uid-1" {
		t.Fatalf("deploy state = %+v", st)
	}
	tags := e.tags(t, fn.Name)
	for k, want := range map[string]string{translate.TagPodUID: "uid-1", translate.TagNode: "vk-fc", translate.TagPodNamespace: "default",
		translate.TagPodName: "hello", "app.kubernetes.io/name": "hello"} {
		if tags[k] != want {
			t.Errorf("service tag %s = %q, want %q", k, tags[k], want)
		}
	}
	// The HTTP trigger answers at the URL shown on the pod.
	resp, err := http.Post(st.Endpoint, "application/json", strings.NewReader(`{"ping":1}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "ping") {
		t.Errorf("POST %s: %d %s", st.Endpoint, resp.StatusCode, body)
	}

	got, err := e.b.Get(ctx, fn.Name)
	if err != nil || got.Phase != translate.PhaseActive || got.ImageID != image {
		t.Errorf("get = %+v, %v", got, err)
	}
	list, err := e.b.List(ctx, "vk-fc")
	if err != nil || len(list) != 1 || list[0].Name != fn.Name || list[0].Tags[translate.TagPodUID] != "uid-1" {
		t.Errorf("list = %+v, %v", list, err)
	}
	if other, _ := e.b.List(ctx, "another-node"); len(other) != 0 {
		t.Errorf("another node's listing shows this node's service: %+v", other)
	}
	calls := e.s.Calls()
	for op, want := range map[string]int{"CreateService": 1, "TagResource": 1, "CreateFunction": 1, "CreateTrigger": 1} {
		if calls[op] != want {
			t.Errorf("%s calls = %d, want %d (all: %v)", op, calls[op], want, calls)
		}
	}

	// A retried deploy (a restart) adopts: nothing is created twice.
	again, err := e.b.Deploy(ctx, fn)
	if err != nil || again.Endpoint != st.Endpoint || again.Tags[translate.TagPodUID] != "uid-1" {
		t.Fatalf("adopt: %+v %v", again, err)
	}
	if n, _ := e.b.List(ctx, "vk-fc"); len(n) != 1 {
		t.Errorf("%d services after a retried deploy", len(n))
	}

	// A new image updates the function in place.
	newImage := strings.Replace(image, ":1", ":2", 1)
	updated := function(t, newImage, func(p *corev1.Pod) {
		p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 8080}}
	})
	if _, err := e.b.Deploy(ctx, updated); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.b.Get(ctx, fn.Name); got.ImageID != newImage {
		t.Errorf("image after update = %q", got.ImageID)
	}
	if e.s.Calls()["UpdateFunction"] != 1 {
		t.Errorf("UpdateFunction calls = %d", e.s.Calls()["UpdateFunction"])
	}

	// Delete removes trigger, function and service; again is a no-op.
	if err := e.b.Delete(ctx, fn.Name); err != nil {
		t.Fatal(err)
	}
	if _, err := e.b.Get(ctx, fn.Name); !errdefs.IsNotFound(err) {
		t.Errorf("get after delete: %v", err)
	}
	if n, _ := e.b.List(ctx, "vk-fc"); len(n) != 0 {
		t.Errorf("services after delete: %+v", n)
	}
	if err := e.b.Delete(ctx, fn.Name); err != nil {
		t.Errorf("second delete: %v", err)
	}
}

// A service created before a restart cut its tagging short is found by its
// description, adopted and tagged; one owned by another pod is refused.
func TestDeployCompletesAnUntaggedServiceAndRefusesAnotherPods(t *testing.T) {
	e := setup(t, emu.DefaultAccessKeySecret)
	ctx := context.Background()
	fn := function(t, image, nil)
	s, err := specFor(fn, &e.b.opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.fc.CreateServiceWithOptions(s.Service, &fc.CreateServiceHeaders{}, &util.RuntimeOptions{}); err != nil {
		t.Fatal(err)
	}
	if list, _ := e.b.List(ctx, "vk-fc"); len(list) != 1 || list[0].Tags[translate.TagPodUID] != "uid-1" {
		t.Fatalf("an untagged service must be listed by its description: %+v", list)
	}
	if _, err := e.b.Deploy(ctx, fn); err != nil {
		t.Fatal(err)
	}
	if tags := e.tags(t, fn.Name); tags[translate.TagPodUID] != "uid-1" {
		t.Errorf("tags after adoption = %v", tags)
	}

	other := *fn
	other.Tags = map[string]string{translate.TagPodUID: "uid-2"}
	if _, err := e.b.Deploy(ctx, &other); err == nil || !strings.Contains(err.Error(), "uid-1") {
		t.Errorf("deploying over another pod's service: %v", err)
	}
}

func TestInvokeAndJobTags(t *testing.T) {
	e := setup(t, emu.DefaultAccessKeySecret)
	ctx := context.Background()
	ok := function(t, image, nil)
	failing := function(t, image, func(p *corev1.Pod) {
		p.UID, p.Name = "uid-2", "broken"
		p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "EMULATOR_FAIL", Value: "disk full"}}
	})
	for _, fn := range []*translate.Function{ok, failing} {
		if _, err := e.b.Deploy(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}
	inv, err := e.b.Invoke(ctx, ok.Name, []byte(`{"order":42}`))
	if err != nil || inv.FunctionError != "" || !strings.Contains(string(inv.Output), `"order"`) || inv.RequestID == "" {
		t.Errorf("invoke = %+v, %v", inv, err)
	}
	inv, err = e.b.Invoke(ctx, failing.Name, nil)
	if err != nil || !strings.Contains(inv.FunctionError, "disk full") {
		t.Errorf("failing invoke = %+v, %v", inv, err)
	}
	if _, err := e.b.Invoke(ctx, "fk-missing-0000000000", nil); !errdefs.IsNotFound(err) {
		t.Errorf("invoking a missing function: %v", err)
	}
	if id, err := e.b.InvokeAsync(ctx, ok.Name, []byte(`{"order":43}`)); err != nil || id == "" {
		t.Errorf("async invoke = %q, %v", id, err)
	}
	if _, err := e.b.InvokeAsync(ctx, ok.Name, make([]byte, 200<<10)); err == nil {
		t.Error("an asynchronous payload over FC's 128 KB limit was accepted")
	}

	if err := e.b.Tag(ctx, ok.Name, translate.JobTags(translate.Job{State: translate.JobSucceeded})); err != nil {
		t.Fatal(err)
	}
	tags := e.tags(t, ok.Name)
	if tags[translate.TagJobState] != translate.JobSucceeded || tags[translate.TagPodUID] != "uid-1" {
		t.Errorf("tags after Tag = %v", tags)
	}
	// A restart reads the Job's progress back from the service's tags.
	st, err := e.b.Deploy(ctx, ok)
	if err != nil || translate.JobFromTags(st.Tags).State != translate.JobSucceeded {
		t.Errorf("redeploy after a recorded outcome: %+v %v", st, err)
	}
}

func TestLogsFromLogService(t *testing.T) {
	e := setup(t, emu.DefaultAccessKeySecret)
	ctx := context.Background()
	fn := function(t, image, func(p *corev1.Pod) {
		p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "EMULATOR_LOG", Value: "hello from fc"}}
	})
	if _, err := e.b.Deploy(ctx, fn); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := e.b.Invoke(ctx, fn.Name, nil); err != nil {
			t.Fatal(err)
		}
	}
	read := func(opts translate.LogOptions) string {
		t.Helper()
		rc, err := e.b.Logs(ctx, fn.Name, opts)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		out, _ := io.ReadAll(rc)
		return string(out)
	}
	if all := read(translate.LogOptions{}); strings.Count(all, "hello from fc") != 3 || strings.Count(all, "FC Invoke Start RequestId") != 3 {
		t.Errorf("all logs:\n%s", all)
	}
	tail := strings.Split(strings.TrimSpace(read(translate.LogOptions{Tail: 2, HasTail: true})), "\n")
	if len(tail) != 2 || !strings.HasPrefix(tail[1], "FC Invoke End RequestId") {
		t.Errorf("tail 2 = %q", tail)
	}
	stamped := read(translate.LogOptions{Tail: 1, HasTail: true, Timestamps: true})
	if _, err := time.Parse(time.RFC3339Nano, strings.SplitN(stamped, " ", 2)[0]); err != nil {
		t.Errorf("timestamps: %q", stamped)
	}
	if got := read(translate.LogOptions{LimitBytes: 10}); len(got) != 10 {
		t.Errorf("limit-bytes 10 gave %q", got)
	}

	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rc, err := e.b.Logs(fctx, fn.Name, translate.LogOptions{Tail: 1, HasTail: true, Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := rc.Read(buf)
			if n > 0 {
				lines <- string(buf[:n])
			}
			if err != nil {
				close(lines)
				return
			}
		}
	}()
	time.Sleep(100 * time.Millisecond)
	if _, err := e.b.Invoke(ctx, fn.Name, nil); err != nil {
		t.Fatal(err)
	}
	var followed string
	deadline := time.After(10 * time.Second)
	for strings.Count(followed, "FC Invoke End") < 2 {
		select {
		case l := <-lines:
			followed += l
		case <-deadline:
			t.Fatalf("follow never showed the new invocation: %q", followed)
		}
	}
	time.Sleep(1500 * time.Millisecond) // another poll: nothing may be written twice
	for len(lines) > 0 {
		followed += <-lines
	}
	if strings.Count(followed, "hello from fc") != 1 || strings.Count(followed, "FC Invoke Start") != 1 || strings.Count(followed, "FC Invoke End") != 2 {
		t.Errorf("follow wrote lines twice or lost some: %q", followed)
	}
}

func TestErrorsAreMappedWithoutSecrets(t *testing.T) {
	ctx := context.Background()
	bad := setup(t, "not-the-secret")
	err := bad.b.Ping(ctx)
	if err == nil || strings.Contains(err.Error(), "not-the-secret") || !strings.Contains(err.Error(), "HTTP 403") {
		t.Errorf("ping with a wrong secret: %v", err)
	}

	e := setup(t, emu.DefaultAccessKeySecret)
	e.s.Inject(emu.Fault{Op: "CreateFunction", Status: http.StatusServiceUnavailable, Count: 1})
	fn := function(t, image, nil)
	_, err = e.b.Deploy(ctx, fn)
	var ae *apiError
	if !errors.As(err, &ae) || ae.Status != http.StatusServiceUnavailable || errdefs.IsInvalidInput(err) {
		t.Fatalf("deploy during a 503: %v", err)
	}
	// The retry completes the half-made service instead of making another.
	if _, err := e.b.Deploy(ctx, fn); err != nil {
		t.Fatal(err)
	}
	if n := e.s.Calls()["CreateService"]; n != 2 {
		t.Errorf("CreateService calls = %d", n)
	}
	if list, _ := e.b.List(ctx, "vk-fc"); len(list) != 1 {
		t.Errorf("services = %+v", list)
	}

	// An image from another region's registry, which FC refuses, fails the
	// pod before anything is made.
	foreign := function(t, "registry.eu-central-1.aliyuncs.com/shop/hello:1", func(p *corev1.Pod) { p.UID = "uid-3" })
	if _, err := e.b.Deploy(ctx, foreign); !errdefs.IsInvalidInput(err) || !strings.Contains(err.Error(), "spec.containers[0].image") {
		t.Errorf("deploying an image from another region: %v", err)
	}
	if list, _ := e.b.List(ctx, "vk-fc"); len(list) != 1 {
		t.Errorf("services after a refused function = %+v, want only the first pod's", list)
	}

	if _, err := e.b.Get(ctx, "fk-nothing-here-0000000000"); !errdefs.IsNotFound(err) {
		t.Errorf("get of a missing function: %v", err)
	}
	noLogs := New(e.b.api, nil, Options{Region: emu.DefaultRegion, AccountID: emu.DefaultAccountID})
	other := function(t, image, func(p *corev1.Pod) { p.UID = "uid-9" })
	if _, err := noLogs.Deploy(ctx, other); err != nil {
		t.Fatal(err)
	}
	if _, err := noLogs.Logs(ctx, other.Name, translate.LogOptions{}); !errors.Is(err, provider.ErrNotSupported) {
		t.Errorf("logs of a service without logConfig: %v", err)
	}
}

// HTTP reaches the function's HTTP trigger at its URL with the request's
// path and query, signed when the trigger asks for it.
func TestHTTPReachesTheTrigger(t *testing.T) {
	e := setup(t, emu.DefaultAccessKeySecret)
	ctx := context.Background()
	for _, auth := range []string{"function", "anonymous"} {
		fn := function(t, image, func(p *corev1.Pod) {
			p.UID, p.Name = "uid-"+k8stypes.UID(auth), "web-"+auth
			p.Annotations = map[string]string{AnnotationHTTPAuth: auth}
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 9000}}
		})
		if _, err := e.b.Deploy(ctx, fn); err != nil {
			t.Fatal(err)
		}
		// As kubectl port-forward delivers it: read off the wire.
		raw := "POST /orders?id=7 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: Go-http-client/1.1\r\nContent-Length: 7\r\nContent-Type: application/json\r\nAccept-Encoding: gzip\r\n\r\n{\"n\":1}"
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := e.b.HTTP(ctx, fn.Name, req)
		if err != nil {
			t.Fatalf("%s: %v", auth, err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || string(data) != `{"n":1}` {
			t.Errorf("%s trigger: HTTP %d %s", auth, resp.StatusCode, data)
		}
	}
}
