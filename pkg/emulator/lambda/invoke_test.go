package lambda

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// publicURL gives the function a function URL anyone may call, and returns
// a caller of it: method, path and query; status and body back.
func publicURL(t *testing.T, ts *httptest.Server, c *sdk.Client, name string) func(path string) (int, string) {
	t.Helper()
	ctx := context.Background()
	u, err := c.CreateFunctionUrlConfig(ctx, &sdk.CreateFunctionUrlConfigInput{FunctionName: aws.String(name), AuthType: types.FunctionUrlAuthTypeNone})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []sdk.AddPermissionInput{
		{StatementId: aws.String("url"), Action: aws.String("lambda:InvokeFunctionUrl"), Principal: aws.String("*"), FunctionUrlAuthType: types.FunctionUrlAuthTypeNone},
		{StatementId: aws.String("invoke"), Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("*"), InvokedViaFunctionUrl: aws.Bool(true)},
	} {
		st.FunctionName = aws.String(name)
		if _, err := c.AddPermission(ctx, &st); err != nil {
			t.Fatal(err)
		}
	}
	host, _ := url.Parse(aws.ToString(u.FunctionUrl))
	return func(path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, ts.URL+path, nil)
		req.Host = host.Host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
}

// functionError is the body of a function error.
func functionError(t *testing.T, out *sdk.InvokeOutput) (typ, msg string) {
	t.Helper()
	if aws.ToString(out.FunctionError) != "Unhandled" {
		t.Fatalf("X-Amz-Function-Error = %q, want Unhandled; body %s", aws.ToString(out.FunctionError), out.Payload)
	}
	var e struct{ ErrorType, ErrorMessage string }
	if err := json.Unmarshal(out.Payload, &e); err != nil {
		t.Fatalf("body %s: %v", out.Payload, err)
	}
	return e.ErrorType, e.ErrorMessage
}

func tail(t *testing.T, out *sdk.InvokeOutput) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(aws.ToString(out.LogResult))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// An image built for another architecture than the function's is created
// and goes Active, as on Lambda, and every invocation fails to start it:
// Runtime.InvalidEntrypoint, "fork/exec /lambda-entrypoint.sh: exec format
// error", through Invoke and the function URL alike. A function of the
// image's architecture runs it, and so does every function once the knob
// is cleared.
func TestImageBuiltForAnotherArchitectureCannotStart(t *testing.T) {
	s := New(Options{})
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	c := lambdaClient(ts.URL, DefaultSecretKey)
	ctx := context.Background()
	knob := func(method, body string) int {
		t.Helper()
		req, _ := http.NewRequest(method, ts.URL+"/_emulator/images", strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := knob(http.MethodPut, `{"architectures": {"`+image+`": "amd64"}}`); code != http.StatusBadRequest {
		t.Errorf("PUT with Kubernetes' amd64 (Lambda says x86_64) = %d, want 400", code)
	}
	if code := knob(http.MethodPut, `{"arm64Images": ["`+image+`"]}`); code != http.StatusBadRequest {
		t.Errorf("PUT with an unknown key = %d, want 400", code)
	}
	if code := knob(http.MethodPut, `{"architectures": {"`+image+`": "arm64"}}`); code != http.StatusNoContent {
		t.Fatalf("PUT = %d", code)
	}
	if got := s.Images().Architectures[image]; got != "arm64" {
		t.Errorf("Images() = %+v", s.Images())
	}

	create(t, c, "fn", image, map[string]string{"EMULATOR_LOG": "the code ran"})
	got, err := c.GetFunction(ctx, &sdk.GetFunctionInput{FunctionName: aws.String("fn")})
	if err != nil || got.Configuration.State != types.StateActive {
		t.Fatalf("a wrong-architecture image goes Active: %v %+v", err, got)
	}
	inv, err := c.Invoke(ctx, &sdk.InvokeInput{FunctionName: aws.String("fn"), Payload: []byte(`{"n":1}`), LogType: types.LogTypeTail})
	if err != nil {
		t.Fatal(err)
	}
	typ, msg := functionError(t, inv)
	if typ != "Runtime.InvalidEntrypoint" || !strings.HasPrefix(msg, "RequestId: ") || !strings.HasSuffix(msg, " Error: fork/exec /lambda-entrypoint.sh: exec format error") {
		t.Errorf("error %s: %s", typ, msg)
	}
	log := tail(t, inv)
	for _, want := range []string{
		"IMAGE\tLaunch error: fork/exec /lambda-entrypoint.sh: exec format error\tEntrypoint: [/lambda-entrypoint.sh]\tCmd: []\tWorkingDir: [/var/task]\n",
		"Status: error\tError Type: Runtime.InvalidEntrypoint\n",
		"\nRuntime.InvalidEntrypoint\n", "REPORT RequestId: ",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "the code ran") {
		t.Errorf("the function's code ran:\n%s", log)
	}
	call := publicURL(t, ts, c, "fn")
	if code, body := call("/?env=1"); code != http.StatusBadGateway {
		t.Errorf("function URL: %d %s, want 502", code, body)
	}

	// The image's own architecture, with an entrypoint of its own.
	if _, err := c.CreateFunction(ctx, &sdk.CreateFunctionInput{
		FunctionName: aws.String("arm"), Role: aws.String(role), PackageType: types.PackageTypeImage,
		Code: &types.FunctionCode{ImageUri: aws.String(image)}, Architectures: []types.Architecture{types.ArchitectureArm64},
	}); err != nil {
		t.Fatal(err)
	}
	if inv, err := c.Invoke(ctx, &sdk.InvokeInput{FunctionName: aws.String("arm"), Payload: []byte(`{"n":1}`)}); err != nil || inv.FunctionError != nil || string(inv.Payload) != `{"n":1}` {
		t.Errorf("arm64 function of an arm64 image: %v %+v", err, inv)
	}
	if code := knob(http.MethodPut, `{"architectures": {"`+image+`": "x86_64"}}`); code != http.StatusNoContent {
		t.Fatalf("PUT = %d", code)
	}
	if _, err := c.UpdateFunctionConfiguration(ctx, &sdk.UpdateFunctionConfigurationInput{FunctionName: aws.String("arm"),
		ImageConfig: &types.ImageConfig{EntryPoint: []string{"/app/server"}, Command: []string{"serve"}}}); err != nil {
		t.Fatal(err)
	}
	inv, err = c.Invoke(ctx, &sdk.InvokeInput{FunctionName: aws.String("arm"), LogType: types.LogTypeTail})
	if err != nil {
		t.Fatal(err)
	}
	if _, msg := functionError(t, inv); !strings.HasSuffix(msg, "Error: fork/exec /app/server: exec format error") {
		t.Errorf("with its own entrypoint: %s", msg)
	}
	if log := tail(t, inv); !strings.Contains(log, "Entrypoint: [/app/server]\tCmd: [serve]\t") {
		t.Errorf("log:\n%s", log)
	}

	if code := knob(http.MethodDelete, ""); code != http.StatusNoContent {
		t.Fatalf("DELETE = %d", code)
	}
	if inv, err := c.Invoke(ctx, &sdk.InvokeInput{FunctionName: aws.String("fn"), Payload: []byte(`{"n":1}`)}); err != nil || inv.FunctionError != nil {
		t.Errorf("after DELETE: %v %s", err, inv.Payload)
	}
}

// An invocation whose memory (EMULATOR_MEMORY_MB) passes the function's
// MemorySize is killed as Lambda kills it: Runtime.OutOfMemory, "Runtime
// exited with error: signal: killed", and a REPORT at the Memory Size.
// Within it, the invocation runs and reports what it used.
func TestInvocationOverItsMemoryIsKilled(t *testing.T) {
	_, c, _ := start(t, Options{})
	ctx := context.Background()
	if _, err := c.CreateFunction(ctx, &sdk.CreateFunctionInput{
		FunctionName: aws.String("fn"), Role: aws.String(role), PackageType: types.PackageTypeImage,
		Code: &types.FunctionCode{ImageUri: aws.String(image)}, MemorySize: aws.Int32(256),
		Environment: &types.Environment{Variables: map[string]string{"EMULATOR_MEMORY_MB": "200"}},
	}); err != nil {
		t.Fatal(err)
	}
	inv, err := c.Invoke(ctx, &sdk.InvokeInput{FunctionName: aws.String("fn"), Payload: []byte(`{"n":1}`), LogType: types.LogTypeTail})
	if err != nil || inv.FunctionError != nil || string(inv.Payload) != `{"n":1}` {
		t.Fatalf("200 MB of 256: %v %+v", err, inv)
	}
	if log := tail(t, inv); !strings.Contains(log, "Memory Size: 256 MB\tMax Memory Used: 200 MB") {
		t.Errorf("log:\n%s", log)
	}

	if _, err := c.UpdateFunctionConfiguration(ctx, &sdk.UpdateFunctionConfigurationInput{FunctionName: aws.String("fn"), MemorySize: aws.Int32(128)}); err != nil {
		t.Fatal(err)
	}
	inv, err = c.Invoke(ctx, &sdk.InvokeInput{FunctionName: aws.String("fn"), Payload: []byte(`{"n":1}`), LogType: types.LogTypeTail})
	if err != nil {
		t.Fatal(err)
	}
	typ, msg := functionError(t, inv)
	if typ != "Runtime.OutOfMemory" || !strings.HasPrefix(msg, "RequestId: ") || !strings.HasSuffix(msg, " Error: Runtime exited with error: signal: killed") {
		t.Errorf("error %s: %s", typ, msg)
	}
	log := tail(t, inv)
	for _, want := range []string{
		"Memory Size: 128 MB\tMax Memory Used: 128 MB\tStatus: error\tError Type: Runtime.OutOfMemory\n",
		"Error: Runtime exited with error: signal: killed\nRuntime.OutOfMemory\n",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

// {"env": true}, and a function URL's ?env=1, answer the function's own
// environment, as its configuration holds it; any other payload is echoed.
func TestEnvironmentEcho(t *testing.T) {
	s := New(Options{})
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	c := lambdaClient(ts.URL, DefaultSecretKey)
	ctx := context.Background()
	want := map[string]string{"POD_NAME": "hello", "POD_IP": "10.0.0.7", "EMULATOR_FAIL": "not for an echo"}
	create(t, c, "fn", image, want)
	check := func(what string, body []byte) {
		t.Helper()
		var got map[string]string
		if err := json.Unmarshal(body, &got); err != nil || len(got) != len(want) {
			t.Fatalf("%s: %s (%v)", what, body, err)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s = %q, want %q", what, k, got[k], v)
			}
		}
	}
	inv, err := c.Invoke(ctx, &sdk.InvokeInput{FunctionName: aws.String("fn"), Payload: []byte(`{"env": true}`)})
	if err != nil || inv.FunctionError != nil {
		t.Fatalf("invoke: %v %+v", err, inv)
	}
	check("Invoke", inv.Payload)
	code, body := publicURL(t, ts, c, "fn")("/?env=1")
	if code != http.StatusOK {
		t.Fatalf("function URL: %d %s", code, body)
	}
	check("function URL", []byte(body))
	inv, err = c.Invoke(ctx, &sdk.InvokeInput{FunctionName: aws.String("fn"), Payload: []byte(`{"env": false}`)})
	if err != nil || aws.ToString(inv.FunctionError) != "Unhandled" {
		t.Errorf(`{"env": false} is an ordinary invocation (EMULATOR_FAIL): %v %s`, err, inv.Payload)
	}
}
