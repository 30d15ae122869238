package faults

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
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
