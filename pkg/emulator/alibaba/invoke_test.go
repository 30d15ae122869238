package alibaba

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	fc "github.com/alibabacloud-go/fc-open-20210406/v2/client"
	"github.com/alibabacloud-go/tea/tea"
	sls "github.com/aliyun/aliyun-log-go-sdk"
)

func httpServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts
}

func TestInvokeEchoAsyncAndFunctionErrors(t *testing.T) {
	e := start(t, Options{})
	c := e.fc
	createService(t, c, "svc", true)
	createFunction(t, c, "svc", "fn", map[string]string{"EMULATOR_LOG": "hello from fn"})
	createFunction(t, c, "svc", "broken", map[string]string{"EMULATOR_FAIL": "config missing"})

	out := invoke(t, c, "svc", "fn", `{"n":1}`, &fc.InvokeFunctionHeaders{XFcLogType: tea.String("Tail")})
	if tea.Int32Value(out.StatusCode) != http.StatusOK || string(out.Body) != `{"n":1}` || tea.StringValue(out.Headers["x-fc-request-id"]) == "" ||
		out.Headers["x-fc-error-type"] != nil {
		t.Fatalf("echo: %d %s %v", tea.Int32Value(out.StatusCode), out.Body, out.Headers)
	}
	tail, _ := base64.StdEncoding.DecodeString(tea.StringValue(out.Headers["x-fc-log-result"]))
	if !strings.Contains(string(tail), "FC Invoke Start RequestId: "+tea.StringValue(out.Headers["x-fc-request-id"])) || !strings.Contains(string(tail), "hello from fn") {
		t.Errorf("log tail %q", tail)
	}
	if out := invoke(t, c, "svc", "fn", "", nil); string(out.Body) != "{}" {
		t.Errorf("empty payload answered %q", out.Body)
	}

	for _, tc := range []struct{ fn, payload, msg string }{
		{"fn", `{"fail":"boom"}`, "boom"},
		{"broken", `{}`, "config missing"},
	} {
		out := invoke(t, c, "svc", tc.fn, tc.payload, nil)
		if tea.Int32Value(out.StatusCode) != http.StatusOK || tea.StringValue(out.Headers["x-fc-error-type"]) != "UnhandledInvocationError" ||
			!strings.Contains(string(out.Body), `"errorMessage":"`+tc.msg+`"`) || !strings.Contains(string(out.Body), `"errorType":"Error"`) {
			t.Errorf("function error of %s: %d %s %v", tc.fn, tea.Int32Value(out.StatusCode), out.Body, out.Headers)
		}
	}

	async := invoke(t, c, "svc", "fn", `{"sleepMs":50}`, &fc.InvokeFunctionHeaders{XFcInvocationType: tea.String("Async")})
	if tea.Int32Value(async.StatusCode) != http.StatusAccepted || tea.StringValue(async.Headers["x-fc-request-id"]) == "" || len(async.Body) != 0 {
		t.Errorf("async: %d %q %v", tea.Int32Value(async.StatusCode), async.Body, async.Headers)
	}
	id := tea.StringValue(async.Headers["x-fc-request-id"])
	deadline := time.Now().Add(5 * time.Second)
	for !logged(t, e, "FC Invoke End RequestId: "+id) {
		if time.Now().After(deadline) {
			t.Fatal("the async invocation never logged its end")
		}
		time.Sleep(20 * time.Millisecond)
	}

	start := time.Now()
	invoke(t, c, "svc", "fn", `{"sleepMs":100}`, nil)
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("sleepMs 100 answered after %s", d)
	}
}

func TestHTTPTriggerServesItsURL(t *testing.T) {
	e := start(t, Options{})
	c := e.fc
	createService(t, c, "svc", false)
	createFunction(t, c, "svc", "open", nil)
	createFunction(t, c, "svc", "private", nil)
	trig := func(fn, auth string) *fc.CreateTriggerResponseBody {
		t.Helper()
		out, err := c.CreateTriggerWithOptions(tea.String("svc"), tea.String(fn), &fc.CreateTriggerRequest{
			TriggerName: tea.String("http"), TriggerType: tea.String("http"),
			TriggerConfig: tea.String(`{"authType":"` + auth + `","methods":["GET","POST"]}`),
		}, &fc.CreateTriggerHeaders{}, rt)
		if err != nil {
			t.Fatalf("CreateTrigger: %v", err)
		}
		return out.Body
	}
	open := trig("open", "anonymous")
	url := tea.StringValue(open.UrlInternet)
	if url != e.ts.URL+"/2016-08-15/proxy/svc.LATEST/open/" || tea.StringValue(open.TriggerType) != "http" ||
		!strings.Contains(tea.StringValue(open.TriggerConfig), `"authType":"anonymous"`) || tea.StringValue(open.CreatedTime) == "" {
		t.Errorf("CreateTrigger answered %v", open)
	}
	_, err := c.CreateTriggerWithOptions(tea.String("svc"), tea.String("open"), &fc.CreateTriggerRequest{
		TriggerName: tea.String("http"), TriggerType: tea.String("http"), TriggerConfig: tea.String(`{"authType":"anonymous","methods":["GET"]}`),
	}, &fc.CreateTriggerHeaders{}, rt)
	wantFCError(t, "second CreateTrigger", err, http.StatusConflict, "TriggerAlreadyExists")
	got, err := c.GetTriggerWithOptions(tea.String("svc"), tea.String("open"), tea.String("http"), &fc.GetTriggerHeaders{}, rt)
	if err != nil || tea.StringValue(got.Body.UrlInternet) != url {
		t.Errorf("GetTrigger: %v %v", got, err)
	}
	list, err := c.ListTriggersWithOptions(tea.String("svc"), tea.String("open"), &fc.ListTriggersRequest{}, &fc.ListTriggersHeaders{}, rt)
	if err != nil || len(list.Body.Triggers) != 1 {
		t.Errorf("ListTriggers: %v %v", list, err)
	}

	resp, err := http.Post(url+"hello?x=1", "application/json", strings.NewReader(`{"ping":true}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != `{"ping":true}` || resp.Header.Get("X-Fc-Request-Id") == "" {
		t.Errorf("POST to the trigger URL: %d %s", resp.StatusCode, body)
	}
	req, _ := http.NewRequest(http.MethodDelete, url, nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("DELETE, not among the trigger's methods: %v %v", resp, err)
	}

	private := tea.StringValue(trig("private", "function").UrlInternet)
	resp, err = http.Get(private)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("unsigned GET to a function-auth trigger: %d, want 403", resp.StatusCode)
	}
	signed, err := c.InvokeHTTPTrigger(tea.String(private+"path?q=1"), tea.String("POST"), []byte(`{"fail":"nope"}`), &http.Header{"Content-Type": {"application/json"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(signed.Body)
	signed.Body.Close()
	if signed.StatusCode != http.StatusOK || signed.Header.Get("X-Fc-Error-Type") != "UnhandledInvocationError" || !strings.Contains(string(body), "nope") {
		t.Errorf("signed POST to a function-auth trigger: %d %v %s", signed.StatusCode, signed.Header, body)
	}
	forged, err := fcClient(t, e.ts, "wrong").InvokeHTTPTrigger(tea.String(private), tea.String("GET"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	forged.Body.Close()
	if forged.StatusCode != http.StatusForbidden {
		t.Errorf("wrongly signed GET: %d, want 403", forged.StatusCode)
	}
	if e.s.Calls()["InvokeHTTPTrigger"] != 5 {
		t.Errorf("calls = %v", e.s.Calls())
	}
}

// logged reports whether the service's logstore holds a line with the
// phrase, read through the SLS SDK.
func logged(t *testing.T, e *env, phrase string) bool {
	t.Helper()
	out, err := e.sls.GetLogsV2(logProject, logStore, &sls.GetLogRequest{From: 0, To: time.Now().Add(time.Hour).Unix(), Query: `message: "` + phrase + `"`})
	if err != nil {
		t.Fatalf("GetLogsV2: %v", err)
	}
	return out.Count > 0
}
