package lambda

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	sdk "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func start(t *testing.T, opts Options) (*Server, *sdk.Client, *cwl.Client) {
	t.Helper()
	s := New(opts)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, lambdaClient(ts.URL, DefaultSecretKey), logsClient(ts.URL)
}

func lambdaClient(url, secret string) *sdk.Client {
	return sdk.New(sdk.Options{
		Region: DefaultRegion, BaseEndpoint: aws.String(url),
		Credentials:      credentials.NewStaticCredentialsProvider(DefaultAccessKey, secret, ""),
		RetryMaxAttempts: 1,
	})
}

func logsClient(url string) *cwl.Client {
	return cwl.New(cwl.Options{
		Region: DefaultRegion, BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider(DefaultAccessKey, DefaultSecretKey, ""),
	})
}

const image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/hello:1"

func create(t *testing.T, c *sdk.Client, name, img string, env map[string]string) *sdk.CreateFunctionOutput {
	t.Helper()
	out, err := c.CreateFunction(context.Background(), &sdk.CreateFunctionInput{
		FunctionName: aws.String(name), Role: aws.String("arn:aws:iam::123456789012:role/fn"),
		PackageType: types.PackageTypeImage, Code: &types.FunctionCode{ImageUri: aws.String(img)},
		Environment: &types.Environment{Variables: env},
		Tags:        map[string]string{"faas-kubelet.io/pod-uid": "uid-1"},
	})
	if err != nil {
		t.Fatalf("CreateFunction: %v", err)
	}
	return out
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestStateMachinePendingToActive(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)}
	_, c, _ := start(t, Options{ActivationDelay: 2 * time.Second, UpdateDelay: time.Second, Now: clk.Now})
	out := create(t, c, "fn", image, nil)
	if out.State != types.StatePending || out.LastUpdateStatus != types.LastUpdateStatusInProgress {
		t.Fatalf("new function: state %s / %s, want Pending / InProgress", out.State, out.LastUpdateStatus)
	}
	if _, err := c.UpdateFunctionCode(context.Background(), &sdk.UpdateFunctionCodeInput{FunctionName: aws.String("fn"), ImageUri: aws.String(image + "b")}); apiCode(err) != "ResourceConflictException" {
		t.Errorf("update while Pending: %v, want ResourceConflictException", err)
	}
	clk.Advance(2 * time.Second)
	got, err := c.GetFunction(context.Background(), &sdk.GetFunctionInput{FunctionName: out.FunctionArn})
	if err != nil {
		t.Fatal(err)
	}
	if got.Configuration.State != types.StateActive || got.Tags["faas-kubelet.io/pod-uid"] != "uid-1" {
		t.Errorf("after the delay: state %s tags %v", got.Configuration.State, got.Tags)
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000-0700", aws.ToString(got.Configuration.LastModified)); err != nil {
		t.Errorf("LastModified %q: %v", aws.ToString(got.Configuration.LastModified), err)
	}
	up, err := c.UpdateFunctionCode(context.Background(), &sdk.UpdateFunctionCodeInput{FunctionName: aws.String("fn"), ImageUri: aws.String(image + "b")})
	if err != nil || up.LastUpdateStatus != types.LastUpdateStatusInProgress {
		t.Fatalf("update: %v %v", up, err)
	}
	if _, err := c.UpdateFunctionConfiguration(context.Background(), &sdk.UpdateFunctionConfigurationInput{FunctionName: aws.String("fn"), MemorySize: aws.Int32(256)}); apiCode(err) != "ResourceConflictException" {
		t.Errorf("second update while InProgress: %v, want 409 ResourceConflictException", err)
	}
	clk.Advance(time.Second)
	cfg, _ := c.GetFunctionConfiguration(context.Background(), &sdk.GetFunctionConfigurationInput{FunctionName: aws.String("fn")})
	if cfg.LastUpdateStatus != types.LastUpdateStatusSuccessful {
		t.Errorf("after the update delay: %s", cfg.LastUpdateStatus)
	}
}

func TestErrorsAreTypedAsOnAWS(t *testing.T) {
	_, c, _ := start(t, Options{})
	ctx := context.Background()
	_, err := c.GetFunction(ctx, &sdk.GetFunctionInput{FunctionName: aws.String("missing")})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("missing function: %v, want ResourceNotFoundException", err)
	}
	create(t, c, "fn", image, nil)
	_, err = c.CreateFunction(ctx, &sdk.CreateFunctionInput{FunctionName: aws.String("fn"), Role: aws.String("arn:aws:iam::123456789012:role/r"),
		PackageType: types.PackageTypeImage, Code: &types.FunctionCode{ImageUri: aws.String(image)}})
	var rc *types.ResourceConflictException
	if !errors.As(err, &rc) {
		t.Errorf("duplicate create: %v, want ResourceConflictException", err)
	}
	_, err = c.CreateFunction(ctx, &sdk.CreateFunctionInput{FunctionName: aws.String("x"), Role: aws.String("arn:aws:iam::123456789012:role/r"),
		PackageType: types.PackageTypeImage, Code: &types.FunctionCode{ImageUri: aws.String("docker.io/library/nginx:1")}})
	var ip *types.InvalidParameterValueException
	if !errors.As(err, &ip) {
		t.Errorf("non-ECR image: %v, want InvalidParameterValueException", err)
	}
	if _, err := c.DeleteFunction(ctx, &sdk.DeleteFunctionInput{FunctionName: aws.String("arn:aws:lambda:us-east-1:123456789012:function:fn")}); err != nil {
		t.Errorf("delete by ARN: %v", err)
	}
}

func TestWrongSecretIsRefused(t *testing.T) {
	s := New(Options{})
	ts := httptest.NewServer(s)
	defer ts.Close()
	_, err := lambdaClient(ts.URL, "wrong-secret").ListFunctions(context.Background(), &sdk.ListFunctionsInput{})
	var re interface{ HTTPStatusCode() int }
	if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusForbidden || apiCode(err) != "InvalidSignatureException" {
		t.Errorf("wrong secret: %v, want 403 InvalidSignatureException", err)
	}
	if s.Calls()["ListFunctions"] != 1 {
		t.Errorf("calls = %v", s.Calls())
	}
}

func TestListFunctionsPagesWithoutState(t *testing.T) {
	_, c, _ := start(t, Options{})
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		create(t, c, n, image, nil)
	}
	var names []string
	p := sdk.NewListFunctionsPaginator(c, &sdk.ListFunctionsInput{MaxItems: aws.Int32(2)})
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, f := range out.Functions {
			names = append(names, aws.ToString(f.FunctionName))
			if f.State != "" || f.LastUpdateStatus != "" {
				t.Errorf("ListFunctions returned State %q / %q; AWS does not", f.State, f.LastUpdateStatus)
			}
		}
	}
	if strings.Join(names, ",") != "a,b,c,d,e" || pages != 3 {
		t.Errorf("listed %v in %d pages", names, pages)
	}
}

func TestInvokeEchoFailAndLogs(t *testing.T) {
	_, c, logs := start(t, Options{})
	ctx := context.Background()
	create(t, c, "fn", image, map[string]string{"EMULATOR_LOG": "hello from fn"})
	out, err := c.Invoke(ctx, &sdk.InvokeInput{FunctionName: aws.String("fn"), Payload: []byte(`{"n":1}`), LogType: types.LogTypeTail})
	if err != nil || string(out.Payload) != `{"n":1}` || out.FunctionError != nil || out.StatusCode != 200 {
		t.Fatalf("echo: %v %+v", err, out)
	}
	if out.LogResult == nil || *out.LogResult == "" {
		t.Error("no log tail")
	}
	out, err = c.Invoke(ctx, &sdk.InvokeInput{FunctionName: aws.String("fn"), Payload: []byte(`{"fail":"boom"}`)})
	if err != nil || aws.ToString(out.FunctionError) != "Unhandled" || !strings.Contains(string(out.Payload), "boom") {
		t.Fatalf("fail: %v %+v", err, out)
	}
	ev, err := c.Invoke(ctx, &sdk.InvokeInput{FunctionName: aws.String("fn"), InvocationType: types.InvocationTypeEvent})
	if err != nil || ev.StatusCode != 202 {
		t.Fatalf("event: %v %+v", err, ev)
	}
	dry, err := c.Invoke(ctx, &sdk.InvokeInput{FunctionName: aws.String("fn"), InvocationType: types.InvocationTypeDryRun})
	if err != nil || dry.StatusCode != 204 {
		t.Fatalf("dry run: %v %+v", err, dry)
	}
	var msgs []string
	p := cwl.NewFilterLogEventsPaginator(logs, &cwl.FilterLogEventsInput{LogGroupName: aws.String("/aws/lambda/fn"), Limit: aws.Int32(3)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Events {
			msgs = append(msgs, aws.ToString(e.Message))
		}
	}
	all := strings.Join(msgs, "")
	for _, want := range []string{"START RequestId:", "hello from fn", "END RequestId:", "REPORT RequestId:", "boom"} {
		if !strings.Contains(all, want) {
			t.Errorf("logs lack %q:\n%s", want, all)
		}
	}
	_, err = logs.FilterLogEvents(ctx, &cwl.FilterLogEventsInput{LogGroupName: aws.String("/aws/lambda/none")})
	if apiCode(err) != "ResourceNotFoundException" {
		t.Errorf("missing group: %v", err)
	}
}

func TestInjectedFaults(t *testing.T) {
	s, c, _ := start(t, Options{})
	s.Inject(Fault{Op: "CreateFunction", Status: 429, Count: 1, RetryAfter: 1})
	_, err := c.CreateFunction(context.Background(), &sdk.CreateFunctionInput{FunctionName: aws.String("fn"), Role: aws.String("arn:aws:iam::123456789012:role/r"),
		PackageType: types.PackageTypeImage, Code: &types.FunctionCode{ImageUri: aws.String(image)}})
	var tm *types.TooManyRequestsException
	if !errors.As(err, &tm) {
		t.Errorf("injected 429: %v", err)
	}
	create(t, c, "fn", image, nil)
	if s.Calls()["CreateFunction"] != 2 {
		t.Errorf("calls = %v", s.Calls())
	}
}

func TestFailCreateImageGoesFailed(t *testing.T) {
	_, c, _ := start(t, Options{})
	out := create(t, c, "fn", strings.TrimSuffix(image, ":1")+":fail-create", nil)
	if out.State != types.StateFailed || out.StateReasonCode != types.StateReasonCodeImageAccessDenied {
		t.Errorf("state %s %s", out.State, out.StateReasonCode)
	}
}

// An invocation that runs past the function's Timeout (3 s unless
// CreateFunction sets one) ends as Lambda ends it: a function error
// Sandbox.Timedout, "Task timed out after N.NN seconds".
func TestInvocationTimesOut(t *testing.T) {
	s, c, _ := start(t, Options{})
	ctx := context.Background()
	create(t, c, "fn", image, nil)
	if got := s.functions["fn"].cfg.Timeout; got != 3 {
		t.Errorf("default Timeout = %d, want 3", got)
	}
	if _, err := c.UpdateFunctionConfiguration(ctx, &sdk.UpdateFunctionConfigurationInput{FunctionName: aws.String("fn"), Timeout: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	out, err := c.Invoke(ctx, &sdk.InvokeInput{FunctionName: aws.String("fn"), Payload: []byte(`{"sleepMs": 5000}`)})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > 4*time.Second {
		t.Errorf("the invocation ran %v, past its 1 s timeout", took)
	}
	if aws.ToString(out.FunctionError) != "Unhandled" ||
		!strings.Contains(string(out.Payload), `"errorType":"Sandbox.Timedout"`) ||
		!strings.Contains(string(out.Payload), "Error: Task timed out after 1.00 seconds") {
		t.Errorf("timed-out invocation: %q %s", aws.ToString(out.FunctionError), out.Payload)
	}
}

// An Inactive function's next invocation fails with
// ResourceNotReadyException and restores it: Pending (invocations
// conflict) for ActivationDelay, then Active.
func TestInactiveFunctionIsRestoredByAnInvocation(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)}
	s, c, _ := start(t, Options{ActivationDelay: 2 * time.Second, Now: clk.Now})
	ctx := context.Background()
	create(t, c, "fn", image, nil)
	clk.Advance(2 * time.Second)
	if err := s.Deactivate("fn"); err != nil {
		t.Fatal(err)
	}
	state := func() types.State {
		out, err := c.GetFunction(ctx, &sdk.GetFunctionInput{FunctionName: aws.String("fn")})
		if err != nil {
			t.Fatal(err)
		}
		return out.Configuration.State
	}
	if st := state(); st != types.StateInactive {
		t.Fatalf("state = %s, want Inactive", st)
	}
	invoke := func() error {
		_, err := c.Invoke(ctx, &sdk.InvokeInput{FunctionName: aws.String("fn"), Payload: []byte(`{}`)})
		return err
	}
	var nr *types.ResourceNotReadyException
	if err := invoke(); !errors.As(err, &nr) {
		t.Fatalf("invoking an Inactive function: %v, want ResourceNotReadyException", err)
	}
	if st := state(); st != types.StatePending {
		t.Errorf("state while restoring = %s, want Pending", st)
	}
	var rc *types.ResourceConflictException
	if err := invoke(); !errors.As(err, &rc) {
		t.Errorf("invoking while restoring: %v, want ResourceConflictException", err)
	}
	clk.Advance(2 * time.Second)
	if err := invoke(); err != nil || state() != types.StateActive {
		t.Errorf("once restored: %v, state %s", err, state())
	}
}

// Lambda runs images from ECR in the function's own region only.
func TestImageFromAnotherRegionIsRefused(t *testing.T) {
	_, c, _ := start(t, Options{})
	_, err := c.CreateFunction(context.Background(), &sdk.CreateFunctionInput{
		FunctionName: aws.String("far"), Role: aws.String("arn:aws:iam::123456789012:role/fn"),
		PackageType: types.PackageTypeImage, Code: &types.FunctionCode{ImageUri: aws.String("123456789012.dkr.ecr.eu-west-1.amazonaws.com/hello:1")},
	})
	if apiCode(err) != "InvalidParameterValueException" || !strings.Contains(err.Error(), "is not valid") {
		t.Errorf("CreateFunction from eu-west-1 in us-east-1: %v", err)
	}
}
