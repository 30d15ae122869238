package alibaba

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	fc "github.com/alibabacloud-go/fc-open-20210406/v2/client"
	"github.com/alibabacloud-go/tea/tea"
)

// sleeper stands in for the time an invocation runs: it records what each
// invocation slept instead of waiting.
type sleeper struct {
	mu    sync.Mutex
	slept []time.Duration
}

func (s *sleeper) Sleep(d time.Duration) { s.mu.Lock(); s.slept = append(s.slept, d); s.mu.Unlock() }

func (s *sleeper) last() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.slept) == 0 {
		return 0
	}
	return s.slept[len(s.slept)-1]
}

func errorMessage(t *testing.T, out *fc.InvokeFunctionResponse) string {
	t.Helper()
	var body struct {
		ErrorMessage string `json:"errorMessage"`
	}
	if err := json.Unmarshal(out.Body, &body); err != nil {
		t.Fatalf("function error body %q: %v", out.Body, err)
	}
	return body.ErrorMessage
}

// A run past the function's timeout ends at the timeout, answered as FC
// answers it: a function error "Function timed out after N seconds
// (maxMemoryUsage: ...)", the log's end line carrying it.
func TestInvokePastTimeoutEndsAtIt(t *testing.T) {
	sl := &sleeper{}
	e := start(t, Options{Sleep: sl.Sleep})
	createService(t, e.fc, "svc", true)
	req := functionRequest("slow", image, nil)
	req.Timeout = tea.Int32(2)
	if _, err := e.fc.CreateFunctionWithOptions(tea.String("svc"), req, &fc.CreateFunctionHeaders{}, rt); err != nil {
		t.Fatal(err)
	}

	if out := invoke(t, e.fc, "svc", "slow", `{"sleepMs":1500}`, nil); out.Headers["x-fc-error-type"] != nil || sl.last() != 1500*time.Millisecond {
		t.Errorf("a run within the timeout: %s %v, slept %s", out.Body, out.Headers, sl.last())
	}
	out := invoke(t, e.fc, "svc", "slow", `{"sleepMs":5000}`, nil)
	msg := errorMessage(t, out)
	if tea.Int32Value(out.StatusCode) != http.StatusOK || tea.StringValue(out.Headers["x-fc-error-type"]) != "UnhandledInvocationError" ||
		msg != "Function timed out after 2 seconds (maxMemoryUsage: 42.00MB)" {
		t.Errorf("a run past the timeout: %d %q %v", tea.Int32Value(out.StatusCode), msg, out.Headers)
	}
	if sl.last() != 2*time.Second {
		t.Errorf("the run past the timeout slept %s, want the 2 s timeout", sl.last())
	}
	id := tea.StringValue(out.Headers["x-fc-request-id"])
	if !logged(t, e, "FC Invoke End RequestId: "+id+", Error: Function timed out after 2 seconds") {
		t.Error("the log does not end the run with its timeout")
	}
}

// A function whose EMULATOR_MEMORY_MB exceeds its memorySize is killed:
// FC answers "Process exited unexpectedly before completing request" with
// the peak memory at memorySize.
func TestInvokeOverMemoryIsKilled(t *testing.T) {
	e := start(t, Options{})
	createService(t, e.fc, "svc", false)
	createFunction(t, e.fc, "svc", "big", map[string]string{"EMULATOR_MEMORY_MB": "1024"}) // memorySize 512
	createFunction(t, e.fc, "svc", "fits", map[string]string{"EMULATOR_MEMORY_MB": "300"})

	out := invoke(t, e.fc, "svc", "big", `{}`, nil)
	msg := errorMessage(t, out)
	if tea.StringValue(out.Headers["x-fc-error-type"]) != "UnhandledInvocationError" ||
		!strings.HasPrefix(msg, "Process exited unexpectedly before completing request (duration: ") || !strings.HasSuffix(msg, ", maxMemoryUsage: 512MB)") ||
		tea.StringValue(out.Headers["x-fc-max-memory-usage"]) != "512" {
		t.Errorf("over memorySize: %q %v", msg, out.Headers)
	}
	if out := invoke(t, e.fc, "svc", "fits", `{"a":1}`, nil); string(out.Body) != `{"a":1}` || tea.StringValue(out.Headers["x-fc-max-memory-usage"]) != "300" {
		t.Errorf("within memorySize: %s %v", out.Body, out.Headers)
	}
}

// A custom container that cannot start (an image whose tag is fail-start)
// is created, and every invocation answers FC's FunctionNotStarted.
func TestInvokeContainerThatCannotStart(t *testing.T) {
	e := start(t, Options{})
	createService(t, e.fc, "svc", false)
	img := "registry.cn-hangzhou.aliyuncs.com/faas/hello:fail-start"
	if _, err := e.fc.CreateFunctionWithOptions(tea.String("svc"), functionRequest("arm", img, nil), &fc.CreateFunctionHeaders{}, rt); err != nil {
		t.Fatalf("CreateFunction of an image that cannot start: %v", err)
	}
	_, err := e.fc.InvokeFunctionWithOptions(tea.String("svc"), tea.String("arm"), &fc.InvokeFunctionRequest{Body: []byte(`{}`)}, &fc.InvokeFunctionHeaders{}, rt)
	wantFCError(t, "InvokeFunction", err, http.StatusPreconditionFailed, "FunctionNotStarted")
	if err == nil || !strings.Contains(err.Error(), "The CA's http server cannot be started") {
		t.Errorf("InvokeFunction: %v, want FC's message", err)
	}
	trig, err := e.fc.CreateTriggerWithOptions(tea.String("svc"), tea.String("arm"), &fc.CreateTriggerRequest{
		TriggerName: tea.String("http"), TriggerType: tea.String("http"), TriggerConfig: tea.String(`{"authType":"anonymous","methods":["GET"]}`),
	}, &fc.CreateTriggerHeaders{}, rt)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(tea.StringValue(trig.Body.UrlInternet))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPreconditionFailed || !strings.Contains(string(body), `"errorCode":"FunctionNotStarted"`) {
		t.Errorf("the trigger of a container that cannot start: %d %s", resp.StatusCode, body)
	}
}

// {"env": true} (or ?env=1 on an HTTP trigger) answers the function's
// environment variables: an emulator convenience, not FC's.
func TestInvokeEchoesEnvironment(t *testing.T) {
	e := start(t, Options{})
	createService(t, e.fc, "svc", false)
	env := map[string]string{"POD_IP": "10.0.0.7", "LIMITS_MEMORY": "512"}
	createFunction(t, e.fc, "svc", "fn", env)
	var got map[string]string
	out := invoke(t, e.fc, "svc", "fn", `{"env": true}`, nil)
	if err := json.Unmarshal(out.Body, &got); err != nil || len(got) != 2 || got["POD_IP"] != "10.0.0.7" || got["LIMITS_MEMORY"] != "512" {
		t.Errorf(`{"env": true} answered %s (%v)`, out.Body, err)
	}
	trig, err := e.fc.CreateTriggerWithOptions(tea.String("svc"), tea.String("fn"), &fc.CreateTriggerRequest{
		TriggerName: tea.String("http"), TriggerType: tea.String("http"), TriggerConfig: tea.String(`{"authType":"anonymous","methods":["GET"]}`),
	}, &fc.CreateTriggerHeaders{}, rt)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(tea.StringValue(trig.Body.UrlInternet) + "?env=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	got = nil
	if err := json.Unmarshal(body, &got); err != nil || got["POD_IP"] != "10.0.0.7" {
		t.Errorf("GET ?env=1 answered %d %s (%v)", resp.StatusCode, body, err)
	}
}
