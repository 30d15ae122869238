package azure

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// testClock is the emulator's time: a run's sleep steps it.
type testClock struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *testClock) Sleep(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.slept = append(c.slept, d)
	c.mu.Unlock()
}
func (c *testClock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }
func (c *testClock) lastSleep() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.slept) == 0 {
		return 0
	}
	return c.slept[len(c.slept)-1]
}

func appWith(t *testing.T, o Options, name string, settings map[string]string) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(New(o))
	t.Cleanup(ts.Close)
	if code, body := arm(t, ts, http.MethodPut, sitePath(name), siteBody(t, testPlan, settings)); code != http.StatusOK {
		t.Fatalf("PUT = %d %s", code, body)
	}
	return ts
}

// A run past the app's functionTimeout ends at it: the trigger answers
// 500, the host logs the timeout and shuts down, and answers again once
// it started.
func TestRunPastFunctionTimeoutEndsAtIt(t *testing.T) {
	clk := &testClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	ts := appWith(t, Options{Now: clk.Now, Sleep: clk.Sleep, HostStartDelay: 10 * time.Second}, "slow",
		map[string]string{settingFunctionTimeout: "00:00:02"})
	clk.Advance(10 * time.Second)

	if code, body := trigger(t, ts, "slow", "/api/run", hostKey("slow"), `{"sleepMs": 1500}`); code != http.StatusOK || clk.lastSleep() != 1500*time.Millisecond {
		t.Errorf("a run within the timeout = %d %q, slept %s", code, body, clk.lastSleep())
	}
	code, _ := trigger(t, ts, "slow", "/api/run", hostKey("slow"), `{"sleepMs": 5000}`)
	if code != http.StatusInternalServerError || clk.lastSleep() != 2*time.Second {
		t.Errorf("a run past the timeout = %d after %s, want 500 at the 2 s timeout", code, clk.lastSleep())
	}
	log := containerLog(t, ts, "slow")
	for _, want := range []string{"Timeout value of 00:00:02 exceeded by function 'Functions.run' (Id: '", "Executed 'Functions.run' (Failed, Id=",
		"Duration=2000ms", "A function timeout has occurred. Host is shutting down."} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q:\n%s", want, log)
		}
	}
	if code, body := trigger(t, ts, "slow", "/api/run", hostKey("slow"), `{}`); code != http.StatusServiceUnavailable || !strings.Contains(body, "Function host is not running.") {
		t.Errorf("right after the timeout = %d %q, want 503 while the host restarts", code, body)
	}
	clk.Advance(10 * time.Second)
	if code, body := trigger(t, ts, "slow", "/api/run", hostKey("slow"), `{}`); code != http.StatusOK {
		t.Errorf("once the host restarted = %d %q", code, body)
	}
}

// Without a functionTimeout setting a Consumption app's runs end at 5
// minutes; a run the front end cuts first is answered 502 at 230 s.
func TestDefaultFunctionTimeoutAndFrontEnd(t *testing.T) {
	clk := &testClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	ts := appWith(t, Options{Now: clk.Now, Sleep: clk.Sleep, FrontEndTimeout: time.Hour}, "app", nil)
	if code, _ := trigger(t, ts, "app", "/api/run", hostKey("app"), `{"sleepMs": 600000}`); code != http.StatusInternalServerError || clk.lastSleep() != 5*time.Minute {
		t.Errorf("a 10 min run on Consumption = %d after %s, want 500 at 5 min", code, clk.lastSleep())
	}

	ts = appWith(t, Options{Now: clk.Now, Sleep: clk.Sleep}, "web", nil)
	if code, _ := trigger(t, ts, "web", "/api/run", hostKey("web"), `{"sleepMs": 240000}`); code != http.StatusBadGateway || clk.lastSleep() != DefaultFrontEndTimeout {
		t.Errorf("a 240 s run = %d after %s, want the front end's 502 at 230 s", code, clk.lastSleep())
	}
}

// {"env": true}, or ?env=1, answers the app's settings but those the
// platform holds: no connection string or registry password is echoed.
func TestTriggerEchoesSettings(t *testing.T) {
	ts := appWith(t, Options{}, "app", map[string]string{
		"POD_IP": "10.0.0.7", settingStorage: "DefaultEndpointsProtocol=https;AccountKey=c2VjcmV0", "DOCKER_REGISTRY_SERVER_PASSWORD": "hunter2",
	})
	for _, call := range []struct{ route, body string }{{"/api/run", `{"env": true}`}, {"/api/run?env=1", ``}} {
		code, body := trigger(t, ts, "app", call.route, hostKey("app"), call.body)
		var env map[string]string
		if err := json.Unmarshal([]byte(body), &env); code != http.StatusOK || err != nil || env["POD_IP"] != "10.0.0.7" {
			t.Errorf("%s %s = %d %s (%v)", call.route, call.body, code, body, err)
		}
		if strings.Contains(body, "c2VjcmV0") || strings.Contains(body, "hunter2") || strings.Contains(body, settingStorage) {
			t.Errorf("%s echoed a platform secret: %s", call.route, body)
		}
	}
}
