package azure

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

func TestRefusalsKnob(t *testing.T) {
	s := New(Options{})
	ts := httptest.NewServer(s)
	defer ts.Close()
	call := func(method, body string) (int, Refusals) {
		t.Helper()
		req, _ := http.NewRequest(method, ts.URL+"/_emulator/refusals", strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out Refusals
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	want := Refusals{Roles: []string{"puller"}, Images: []string{"r.io/a:1"}, QuotaExceeded: true, Plans: []string{"/plan"}}
	if code, _ := call(http.MethodPut, `{"roles":["puller"],"images":["r.io/a:1"],"quotaExceeded":true,"plans":["/plan"]}`); code != http.StatusNoContent {
		t.Errorf("PUT = %d", code)
	}
	if _, got := call(http.MethodGet, ""); !reflect.DeepEqual(got, want) || !reflect.DeepEqual(s.Refusals(), want) {
		t.Errorf("GET = %+v", got)
	}
	if code, _ := call(http.MethodPut, `{"role":["typo"]}`); code != http.StatusBadRequest {
		t.Errorf("PUT with an unknown key = %d", code)
	}
	if code, _ := call(http.MethodDelete, ""); code != http.StatusNoContent || !reflect.DeepEqual(s.Refusals(), Refusals{}) {
		t.Errorf("DELETE = %d, then %+v", code, s.Refusals())
	}
}
