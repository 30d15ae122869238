package azure

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/faas-kubelet/faas-kubelet/pkg/emulator/faults"
)

// The ledger tells the PUT that created a function app from one that
// updated it; an invocation held at its answer has run, and answers once
// released.
func TestLedgerNotesCreatesAndHoldsAnInvocation(t *testing.T) {
	s := New(Options{})
	ts := httptest.NewServer(s)
	defer ts.Close()
	for range 2 {
		if code, body := arm(t, ts, http.MethodPut, sitePath("app"), siteBody(t, testPlan, nil)); code != http.StatusOK {
			t.Fatalf("PUT = %d %s", code, body)
		}
	}
	puts := s.Ledger(faults.LedgerQuery{Ops: []string{"CreateOrUpdate"}})
	if len(puts) != 2 || len(puts[0].Notes) != 1 || puts[0].Notes[0] != "created" || len(puts[1].Notes) != 0 || puts[1].Name != "app" || !puts[1].Applied() {
		t.Errorf("PUTs = %+v: want the first noted created, the second not", puts)
	}

	id := s.Hold(faults.Hold{Op: "InvokeFunction", Answer: true})
	done := make(chan int, 1)
	go func() {
		code, _ := trigger(t, ts, "app", "/api/run", hostKey("app"), `{}`)
		done <- code
	}()
	wait, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := s.HoldState(wait, id)
	if err != nil || !st.Holding || st.Call.Name != "app" {
		t.Fatalf("hold = %+v %v", st, err)
	}
	if err := s.Release(id, false); err != nil {
		t.Fatal(err)
	}
	if code := <-done; code != http.StatusOK {
		t.Errorf("released invocation = %d", code)
	}
	if inv := s.Ledger(faults.LedgerQuery{Ops: []string{"InvokeFunction"}}); len(inv) != 1 || !inv[0].Held || inv[0].Status != http.StatusOK {
		t.Errorf("invocations = %+v", inv)
	}
}
