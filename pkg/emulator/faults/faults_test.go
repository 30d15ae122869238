package faults

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestInjectedFaultsAreUsedUpInOrder(t *testing.T) {
	i := New()
	i.Inject(Fault{Op: "Create", Status: 429, Count: 2})
	i.Inject(Fault{Op: "Create", Status: 500})
	var got []int
	for n := 0; n < 4; n++ {
		f, ok := i.Call("Create")
		if ok {
			got = append(got, f.Status)
		} else {
			got = append(got, 0)
		}
	}
	if len(got) != 4 || got[0] != 429 || got[1] != 429 || got[2] != 500 || got[3] != 0 {
		t.Errorf("faults = %v", got)
	}
	if i.Calls()["Create"] != 4 {
		t.Errorf("calls = %v", i.Calls())
	}
}

func TestHTTPKnobs(t *testing.T) {
	i := New()
	mux := http.NewServeMux()
	i.Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/_emulator/faults", "application/json", strings.NewReader(`{"op":"Get","status":503}`))
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("inject: %v %v", resp, err)
	}
	if f, ok := i.Call("Get"); !ok || f.Status != 503 || f.Count != 1 {
		t.Errorf("fault = %+v %v", f, ok)
	}
	resp, _ = http.Post(srv.URL+"/_emulator/faults", "application/json", strings.NewReader(`{}`))
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad fault accepted: %d", resp.StatusCode)
	}
}

func TestChaosInjectsAtTheGivenRatesExceptExemptOps(t *testing.T) {
	i := New()
	i.SetChaos(&Chaos{ServerErrorRate: 0.2, ThrottleRate: 0.1, RetryAfter: 1, ExceptOps: []string{"Ping"}})
	counts := map[int]int{}
	after := 0
	for n := 0; n < 10000; n++ {
		if f, ok := i.Call("CreateFunction"); ok {
			counts[f.Status]++
			if f.After {
				after++
			}
			if f.Status == 429 && f.RetryAfter != 1 {
				t.Fatalf("throttle without Retry-After: %+v", f)
			}
		}
		if _, ok := i.Call("Ping"); ok {
			t.Fatal("an exempt operation got a fault")
		}
	}
	if counts[503] < 1800 || counts[503] > 2200 || counts[429] < 800 || counts[429] > 1200 {
		t.Errorf("faults per 10000 calls = %v, want about 2000 x 503 and 1000 x 429", counts)
	}
	if after < counts[503]/3 || after > counts[503]*2/3 {
		t.Errorf("%d of %d server errors after carrying the call out, want about half", after, counts[503])
	}
	if i.Injected() != counts[503]+counts[429] {
		t.Errorf("Injected = %d", i.Injected())
	}
	i.SetChaos(nil)
	if _, ok := i.Call("CreateFunction"); ok {
		t.Error("a fault after chaos was cleared")
	}
}

// Quotas throttle an operation beyond its rate (after a burst of one
// second's worth) and leave other operations alone; latency delays calls.
func TestQuotasThrottleAndDelay(t *testing.T) {
	i := New()
	i.SetQuotas(Quotas{PerSecond: map[string]float64{"Create": 3}, LatencyMs: map[string]int{"Get": 50}})
	throttled := 0
	for n := 0; n < 10; n++ {
		if f, ok := i.Call("Create"); ok {
			if f.Status != http.StatusTooManyRequests || f.RetryAfter != 1 {
				t.Fatalf("fault = %+v", f)
			}
			throttled++
		}
	}
	// 10 calls in far less than a second: the burst of 3 passes (a token
	// or two may refill on a slow machine), the rest are throttled.
	if throttled < 5 || throttled > 7 || i.Throttled() != throttled {
		t.Errorf("throttled %d of 10 (counted %d), want 7 (5 on a slow machine)", throttled, i.Throttled())
	}
	start := time.Now()
	if _, ok := i.Call("Get"); ok {
		t.Error("Get was throttled")
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("Get answered after %s, want at least its 50 ms latency", d)
	}
	i.SetQuotas(Quotas{})
	if _, ok := i.Call("Create"); ok {
		t.Error("Create throttled after the quotas were removed")
	}
}
