package lambda

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sdk "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	emu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/lambda"
	"github.com/faas-kubelet/faas-kubelet/provider"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

const ecr = "123456789012.dkr.ecr.us-east-1.amazonaws.com/hello:1"

func setup(t *testing.T, secret string, eo emu.Options) (*Backend, *emu.Server) {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	s := emu.New(eo)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	o := Options{Region: "us-east-1", Endpoint: ts.URL, DefaultRole: "arn:aws:iam::123456789012:role/fn",
		Credentials: credentials.NewStaticCredentialsProvider(emu.DefaultAccessKey, secret, "")}
	return New(NewClient(aws.Config{}, o), NewLogsClient(aws.Config{}, o), o).ReadImages(NewECRClient(aws.Config{}, o)), s
}

func function(t *testing.T, image string, mutate func(*corev1.Pod)) *translate.Function {
	t.Helper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "default", UID: "uid-1", Labels: map[string]string{"app": "hello"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}},
	}
	if mutate != nil {
		mutate(pod)
	}
	fn, err := translate.FromPod(pod, "vk", nil)
	if err != nil {
		t.Fatal(err)
	}
	return fn
}

func TestDeployIsIdempotentAndTracksState(t *testing.T) {
	clk := newClock()
	b, s := setup(t, emu.DefaultSecretKey, emu.Options{ActivationDelay: 300 * time.Millisecond, UpdateDelay: time.Second, Now: clk.Now})
	ctx := context.Background()
	fn := function(t, ecr, nil)
	st, err := b.Deploy(ctx, fn)
	if err != nil || st.Phase != translate.PhasePending {
		t.Fatalf("first deploy: %+v %v", st, err)
	}
	if _, err := b.Deploy(ctx, fn); err != nil {
		t.Fatalf("retried deploy: %v", err)
	}
	if c := s.Calls()["CreateFunction"]; c != 2 {
		t.Errorf("CreateFunction calls = %d", c)
	}
	clk.Advance(350 * time.Millisecond)
	got, err := b.Get(ctx, fn.Name)
	if err != nil || got.Phase != translate.PhaseActive || !strings.Contains(got.ImageID, "@sha256:") {
		t.Fatalf("after activation: %+v %v", got, err)
	}
	if got.Tags[translate.TagPodUID] != "uid-1" || got.Tags[translate.TagNode] != "vk" || got.Tags["app"] != "hello" {
		t.Errorf("tags = %v", got.Tags)
	}

	fn2 := function(t, strings.Replace(ecr, ":1", ":2", 1), nil)
	unsealFirst(t, b, fn2, clk)
	st, err = b.Deploy(ctx, fn2)
	if err != nil || st.Phase != translate.PhaseActive || len(st.Notes) != 1 || st.Notes[0] != noteUpdating || s.Calls()["UpdateFunctionCode"] != 1 {
		t.Fatalf("image update: %+v %v calls %v (want Active while the update rolls in)", st, err, s.Calls())
	}
	if err := b.Delete(ctx, fn.Name); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(ctx, fn.Name); err != nil {
		t.Errorf("second delete: %v", err)
	}
	if _, err := b.Get(ctx, fn.Name); !errdefs.IsNotFound(err) {
		t.Errorf("Get after delete: %v, want NotFound", err)
	}
}

func TestRefusalsNameTheField(t *testing.T) {
	b, s := setup(t, emu.DefaultSecretKey, emu.Options{})
	for _, tc := range []struct {
		name   string
		image  string
		mutate func(*corev1.Pod)
		want   string
	}{
		{"non-ECR image", "docker.io/library/nginx:1", nil, "spec.containers[0].image: Lambda runs images only from Amazon ECR"},
		{"too much memory", ecr, func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("20Gi")}
		}, "spec.containers[0].resources.limits.memory: Lambda memory must be between 128 and 10240 MiB"},
		{"base image without code", "public.ecr.aws/lambda/python:3.12", nil, "faas-kubelet.io/code"},
		{"env over 4 KB", ecr, func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "BIG", Value: strings.Repeat("x", 5000)}}
		}, "spec.containers[0].env: Lambda allows 4096 bytes"},
		{"bad timeout", ecr, func(p *corev1.Pod) { p.Annotations = map[string]string{AnnotationTimeout: "901"} }, "faas-kubelet.io/timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := b.Deploy(context.Background(), function(t, tc.image, tc.mutate))
			if !errdefs.IsInvalidInput(err) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want InvalidInput containing %q", err, tc.want)
			}
		})
	}
	if n := s.Calls()["CreateFunction"]; n != 0 {
		t.Errorf("refused pods reached the cloud: %d CreateFunction calls", n)
	}
}

func TestZipFunctionFromBaseImage(t *testing.T) {
	b, _ := setup(t, emu.DefaultSecretKey, emu.Options{})
	fn := function(t, "public.ecr.aws/lambda/python:3.12", func(p *corev1.Pod) {
		p.Annotations = map[string]string{AnnotationCode: "s3://bucket/app.zip"}
		p.Spec.Containers[0].Command = []string{"app.handler"}
	})
	in, _, err := createInput(fn, &b.opts)
	if err != nil || in.Runtime != "python3.12" || aws.ToString(in.Handler) != "app.handler" || aws.ToString(in.Code.S3Key) != "app.zip" {
		t.Fatalf("input %+v err %v", in, err)
	}
	if _, err := b.Deploy(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

func TestPullThroughRewrite(t *testing.T) {
	for in, want := range map[string]string{
		"nginx:1":               "P/library/nginx:1",
		"quay.io/org/app:1":     "P/org/app:1",
		"docker.io/bitnami/x:2": "P/bitnami/x:2",
		"user/app:3":            "P/user/app:3",
	} {
		if got := pullThrough("P", in); got != want {
			t.Errorf("pullThrough(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestPingFailsWithWrongSecret(t *testing.T) {
	good, _ := setup(t, emu.DefaultSecretKey, emu.Options{})
	if err := good.Ping(context.Background()); err != nil {
		t.Errorf("ping: %v", err)
	}
	bad, _ := setup(t, "wrong", emu.Options{})
	err := bad.Ping(context.Background())
	if err == nil || !strings.Contains(err.Error(), "InvalidSignatureException") || strings.Contains(err.Error(), "wrong") {
		t.Errorf("ping with a wrong secret: %v (it must fail, and never show the secret)", err)
	}
}

func TestLogsTailSinceTimestampsLimitAndFollow(t *testing.T) {
	b, s := setup(t, emu.DefaultSecretKey, emu.Options{})
	ctx := context.Background()
	fn := function(t, ecr, func(p *corev1.Pod) {
		p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "EMULATOR_LOG", Value: "working"}}
	})
	if _, err := b.Deploy(ctx, fn); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := b.api.(interface {
			Invoke(context.Context, *sdk.InvokeInput, ...func(*sdk.Options)) (*sdk.InvokeOutput, error)
		}).Invoke(ctx, &sdk.InvokeInput{FunctionName: aws.String(fn.Name), Payload: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	read := func(o translate.LogOptions) string {
		rc, err := b.Logs(ctx, fn.Name, o)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		data, _ := io.ReadAll(rc)
		return string(data)
	}
	all := read(translate.LogOptions{})
	if strings.Count(all, "START RequestId") != 3 || strings.Count(all, "working") != 3 {
		t.Errorf("all logs:\n%s", all)
	}
	tail := read(translate.LogOptions{Tail: 2, HasTail: true})
	if lines := strings.Split(strings.TrimSpace(tail), "\n"); len(lines) != 2 || !strings.HasPrefix(lines[1], "REPORT") {
		t.Errorf("tail 2:\n%s", tail)
	}
	if s.Calls()["FilterLogEvents"] != 1 {
		t.Errorf("a tail paged the whole group: %v", s.Calls())
	}
	ts := read(translate.LogOptions{Tail: 1, HasTail: true, Timestamps: true})
	if _, err := time.Parse(time.RFC3339Nano, strings.SplitN(ts, " ", 2)[0]); err != nil {
		t.Errorf("timestamped line %q: %v", ts, err)
	}
	if got := read(translate.LogOptions{LimitBytes: 10}); len(got) != 10 {
		t.Errorf("limit-bytes 10 gave %d bytes", len(got))
	}
	if got := read(translate.LogOptions{Since: time.Now().Add(time.Hour)}); got != "" {
		t.Errorf("since the future: %q", got)
	}

	fctx, cancel := context.WithCancel(ctx)
	rc, err := b.Logs(fctx, fn.Name, translate.LogOptions{Follow: true, HasTail: true, Tail: 1})
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
	s.AppendLog(fn.Name, "a line written after the follow started")
	deadline := time.After(5 * time.Second)
	got := ""
	for !strings.Contains(got, "a line written after the follow started") {
		select {
		case l := <-lines:
			got += l
		case <-deadline:
			t.Fatalf("follow did not show the new line; got %q", got)
		}
	}
	cancel()
	for range lines {
	}
}

func TestListFindsOnlyThisNodesFunctions(t *testing.T) {
	b, s := setup(t, emu.DefaultSecretKey, emu.Options{})
	ctx := context.Background()
	mine := function(t, ecr, nil)
	other := function(t, ecr, func(p *corev1.Pod) { p.UID = "uid-2"; p.Name = "other" })
	other.Description = strings.Replace(other.Description, "node=vk", "node=elsewhere", 1)
	// Pod names go up to 253 characters; Description takes 256.
	long := function(t, ecr, func(p *corev1.Pod) { p.UID = "uid-3"; p.Name = strings.Repeat("long-name-", 25) })
	for _, fn := range []*translate.Function{mine, other, long} {
		if _, err := b.Deploy(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}
	got, err := b.List(ctx, "vk")
	if err != nil || len(got) != 2 || got[0].Name != mine.Name && got[1].Name != mine.Name {
		t.Fatalf("List = %+v, %v; want this node's two functions", got, err)
	}
	for _, f := range got {
		if !translate.NamedFor(f.Name, f.Tags) {
			t.Errorf("listed %s as owned by %v, which does not name it", f.Name, f.Tags)
		}
	}
	if s.Calls()["ListTags"] != 0 {
		t.Error("List read tags per function")
	}
}

func TestFollowAfterTailWritesEachLineOnce(t *testing.T) {
	b, s := setup(t, emu.DefaultSecretKey, emu.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fn := function(t, ecr, nil)
	if _, err := b.Deploy(ctx, fn); err != nil {
		t.Fatal(err)
	}
	s.AppendLog(fn.Name, "old line")
	rc, err := b.Logs(ctx, fn.Name, translate.LogOptions{Follow: true, HasTail: true, Tail: 1})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan []byte)
	go func() { data, _ := io.ReadAll(rc); done <- data }()
	time.Sleep(1500 * time.Millisecond) // at least one empty poll
	s.AppendLog(fn.Name, "new line")
	time.Sleep(2500 * time.Millisecond) // two more polls
	cancel()
	data := <-done
	if string(data) != "old line\nnew line\n" {
		t.Errorf("follow wrote %q, want each line once", data)
	}
}

// countingTransport records, per operation, whether CountsAgainstQuota
// said the request counts.
type countingTransport struct {
	mu     sync.Mutex
	counts map[string]bool
}

func (c *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.counts[awsmiddleware.GetOperationName(req.Context())] = CountsAgainstQuota(req)
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

// Only Lambda's control-plane calls wait for the node's rate limit:
// invocations, GetFunction and CloudWatch Logs have quotas of their own.
func TestControlPlaneCallsCountAgainstTheQuota(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	ts := httptest.NewServer(emu.New(emu.Options{}))
	t.Cleanup(ts.Close)
	ct := &countingTransport{counts: map[string]bool{}}
	o := Options{Region: "us-east-1", Endpoint: ts.URL, DefaultRole: "arn:aws:iam::123456789012:role/fn", HTTPClient: &http.Client{Transport: ct},
		Credentials: credentials.NewStaticCredentialsProvider(emu.DefaultAccessKey, emu.DefaultSecretKey, "")}
	b := New(NewClient(aws.Config{}, o), NewLogsClient(aws.Config{}, o), o)
	ctx := context.Background()
	fn := function(t, ecr, nil)
	if _, err := b.Deploy(ctx, fn); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(ctx, fn.Name); err != nil {
		t.Fatal(err)
	}
	if _, err := b.List(ctx, "vk"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Invoke(ctx, fn.Name, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if id, err := b.InvokeAsync(ctx, fn.Name, []byte(`{}`)); err != nil || id == "" {
		t.Fatalf("async invoke: %q %v", id, err)
	}
	if rc, err := b.Logs(ctx, fn.Name, translate.LogOptions{}); err == nil {
		_, _ = io.Copy(io.Discard, rc)
		_ = rc.Close()
	} else {
		t.Fatal(err)
	}
	if err := b.Delete(ctx, fn.Name); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"CreateFunction": true, "TagResource": true, "ListFunctions": true, "DeleteFunction": true,
		"GetFunction": false, "Invoke": false, "FilterLogEvents": false}
	ct.mu.Lock()
	defer ct.mu.Unlock()
	for op, w := range want {
		got, seen := ct.counts[op]
		if !seen {
			if op != "TagResource" { // only when tags change after create
				t.Errorf("%s was not called (calls: %v)", op, ct.counts)
			}
			continue
		}
		if got != w {
			t.Errorf("%s counts against the quota = %v, want %v", op, got, w)
		}
	}
}

// A redeploy whose environment changed (a Secret or ConfigMap the pod reads
// did) updates the function's configuration, and only then.
func TestRedeployUpdatesTheEnvironment(t *testing.T) {
	b, s := setup(t, emu.DefaultSecretKey, emu.Options{})
	ctx := context.Background()
	withEnv := func(v string) *translate.Function {
		return function(t, ecr, func(p *corev1.Pod) { p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "DB_PASSWORD", Value: v}} })
	}
	if _, err := b.Deploy(ctx, withEnv("one")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Deploy(ctx, withEnv("one")); err != nil || s.Calls()["UpdateFunctionConfiguration"] != 0 {
		t.Fatalf("unchanged redeploy: %v, calls %v", err, s.Calls())
	}
	if _, err := b.Deploy(ctx, withEnv("two")); err != nil || s.Calls()["UpdateFunctionConfiguration"] != 1 {
		t.Fatalf("changed env: %v, calls %v", err, s.Calls())
	}
	out, err := b.api.GetFunction(ctx, &sdk.GetFunctionInput{FunctionName: aws.String(withEnv("two").Name)})
	if err != nil || out.Configuration.Environment.Variables["DB_PASSWORD"] != "two" {
		t.Errorf("function env after the update: %v %v", out.Configuration.Environment, err)
	}
}

// A pod that sets no timeout gets 60 s, not Lambda's default of 3 s; the
// annotation overrides it.
func TestDefaultTimeout(t *testing.T) {
	b, _ := setup(t, emu.DefaultSecretKey, emu.Options{})
	in, _, err := createInput(function(t, ecr, nil), &b.opts)
	if err != nil || aws.ToInt32(in.Timeout) != 60 {
		t.Errorf("timeout without annotation = %v (%v), want 60", aws.ToInt32(in.Timeout), err)
	}
	in, _, err = createInput(function(t, ecr, func(p *corev1.Pod) { p.Annotations = map[string]string{AnnotationTimeout: "900"} }), &b.opts)
	if err != nil || aws.ToInt32(in.Timeout) != 900 {
		t.Errorf("timeout with annotation 900 = %v (%v)", aws.ToInt32(in.Timeout), err)
	}
	// A Job pod's deadline is its invocation's timeout, at most Lambda's 900 s.
	in, _, err = createInput(function(t, ecr, func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr.To[int64](300) }), &b.opts)
	if err != nil || aws.ToInt32(in.Timeout) != 300 {
		t.Errorf("timeout with activeDeadlineSeconds 300 = %v (%v)", aws.ToInt32(in.Timeout), err)
	}
	in, notes, err := createInput(function(t, ecr, func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr.To[int64](3600) }), &b.opts)
	if err != nil || aws.ToInt32(in.Timeout) != 900 || len(notes) == 0 || !strings.Contains(notes[len(notes)-1], "at most 900 s") {
		t.Errorf("timeout with activeDeadlineSeconds 3600 = %v (%v), notes %q", aws.ToInt32(in.Timeout), err, notes)
	}
}

// unsealFirst takes the first update of a function created from its pod's
// spec: the spec digest leaves the description first (a configuration
// update, so a restart in the middle adopts the function as neither spec
// from the listing), and the rest of the update follows once that
// completes.
func unsealFirst(t *testing.T, b *Backend, fn *translate.Function, clk *clock) {
	t.Helper()
	_, err := b.Deploy(context.Background(), fn)
	if f, _ := provider.Classify(err); f != provider.FailureTransient || !strings.Contains(fmt.Sprint(err), "configuration updated") {
		t.Fatalf("first update: %v, want the description updated first (transient)", err)
	}
	got, err := b.api.GetFunction(context.Background(), &sdk.GetFunctionInput{FunctionName: aws.String(fn.Name)})
	if err != nil {
		t.Fatal(err)
	}
	if owner, _ := translate.ParseDescription(aws.ToString(got.Configuration.Description)); owner[translate.SpecDigestKey] != "" || owner[translate.TagPodUID] == "" {
		t.Fatalf("description after the first update: %q, want the owner without a spec digest", aws.ToString(got.Configuration.Description))
	}
	clk.Advance(time.Second)
}
