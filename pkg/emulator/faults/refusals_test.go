package faults

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

// One body serves every cloud's emulator: the knob takes all four keys,
// refuses a misspelt one, and a copy handed out cannot change what is in
// force.
func TestRefusalBookKnob(t *testing.T) {
	var b RefusalBook
	mux := http.NewServeMux()
	b.Serve(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	do := func(method, body string) int {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+"/_emulator/refusals", strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := do(http.MethodPut, `{"roles": ["r"], "images": ["i:1"], "quotaExceeded": true, "plans": ["/Plan"]}`); code != http.StatusNoContent {
		t.Fatalf("PUT = %d", code)
	}
	want := Refusals{Roles: []string{"r"}, Images: []string{"i:1"}, QuotaExceeded: true, Plans: []string{"/Plan"}}
	resp, err := http.Get(srv.URL + "/_emulator/refusals")
	if err != nil {
		t.Fatal(err)
	}
	var got Refusals
	_ = json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("GET = %+v", got)
	}
	r := b.Get()
	if !r.RefusesRole("r") || r.RefusesRole("") || !r.RefusesImage("i:1") || !r.RefusesPlan("/plan") || r.RefusesPlan("/other") {
		t.Errorf("checks of %+v", r)
	}
	r.Roles[0] = "changed"
	if !b.Get().RefusesRole("r") {
		t.Error("a copy changed the refusals in force")
	}
	if code := do(http.MethodPut, `{"role": ["typo"]}`); code != http.StatusBadRequest {
		t.Errorf("PUT with an unknown key = %d, want 400", code)
	}
	if code := do(http.MethodDelete, ""); code != http.StatusNoContent || !reflect.DeepEqual(b.Get(), Refusals{}) {
		t.Errorf("DELETE = %d, then %+v", code, b.Get())
	}
}
