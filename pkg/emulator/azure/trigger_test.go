package azure

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// trigger posts body to an app's route with its function key.
func trigger(t *testing.T, ts *httptest.Server, name, route, key, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/_apps/"+name+route, strings.NewReader(body))
	req.Header.Set("x-functions-key", key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

func runningApp(t *testing.T, o Options, name string) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(New(o))
	t.Cleanup(ts.Close)
	if code, body := arm(t, ts, http.MethodPut, sitePath(name), siteBody(t, testPlan, nil)); code != http.StatusOK {
		t.Fatalf("PUT = %d %s", code, body)
	}
	return ts
}

// An HTTP trigger that has not answered when the front end's timeout
// (230 s on Azure) passes is answered 502 by the front end; the host runs
// the function on, and logs its whole duration. One that answers in time
// is the function's answer.
func TestFrontEndCutsAnHTTPTriggerAtItsTimeout(t *testing.T) {
	ts := runningApp(t, Options{FrontEndTimeout: 100 * time.Millisecond}, "slow")
	start := time.Now()
	code, body := trigger(t, ts, "slow", "/api/run", hostKey("slow"), `{"sleepMs": 400}`)
	if code != http.StatusBadGateway || !strings.Contains(body, "timed out") {
		t.Errorf("a run past the timeout = %d %q, want the front end's 502", code, body)
	}
	if took := time.Since(start); took > 350*time.Millisecond {
		t.Errorf("the 502 came after %v, not at the timeout", took)
	}
	if log := containerLog(t, ts, "slow"); !strings.Contains(log, "Duration=400ms") {
		t.Errorf("the log lacks the run's whole duration:\n%s", log)
	}
	if code, body := trigger(t, ts, "slow", "/api/run", hostKey("slow"), `{"sleepMs": 20}`); code != http.StatusOK {
		t.Errorf("a run within the timeout = %d %q", code, body)
	}
	if DefaultFrontEndTimeout != 230*time.Second {
		t.Errorf("default front end timeout %v, want Azure's 230 s", DefaultFrontEndTimeout)
	}
}

// The admin API runs non-HTTP triggers: for an HTTP-triggered function
// (every emulated one) it answers 202, and the run then fails for want of
// an HTTP request, as the host logs.
func TestAdminAPIRunOfAnHTTPTriggerFails(t *testing.T) {
	ts := runningApp(t, Options{}, "web")
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/_apps/web/admin/functions/run", strings.NewReader(`{"input": "x"}`))
	req.Header.Set("x-functions-key", "master-"+hostKey("web"))
	req.Header.Set("x-ms-client-request-id", "req-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("admin run = %d, want 202", resp.StatusCode)
	}
	log := containerLog(t, ts, "web")
	for _, want := range []string{"Exception binding parameter 'req'", "Executed 'Functions.run' (Failed, Id=req-1"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}
