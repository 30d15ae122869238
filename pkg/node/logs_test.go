package node

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// kubectl logs --stream: All (or none) is the whole log; Stdout or Stderr
// is refused with a 400, as a kubelet without the PodLogsQuerySplitStreams
// gate refuses them, never answered with the whole log as if split.
func TestLogStreamsAreAnsweredAsAKubeletWithoutSplitStreams(t *testing.T) {
	for _, tc := range []struct {
		query string
		code  int
	}{
		{"", http.StatusOK},
		{"?stream=All", http.StatusOK},
		{"?stream=Stdout", http.StatusBadRequest},
		{"?stream=Stderr&tailLines=0", http.StatusBadRequest},
		{"?stream=bogus", http.StatusBadRequest},
	} {
		served := false
		h := logParams(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { served = true }))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/containerLogs/ns/web/app"+tc.query, nil))
		if rec.Code != tc.code || served != (tc.code == http.StatusOK) {
			t.Errorf("%q: %d (logs read: %v), want %d", tc.query, rec.Code, served, tc.code)
		}
		if tc.code == http.StatusBadRequest && !strings.Contains(rec.Body.String(), "unable to return the given log stream") {
			t.Errorf("%q: body %q; want the kubelet's reason", tc.query, rec.Body.String())
		}
	}
	// Other kubelet API paths are not looked at.
	served := false
	logParams(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { served = true })).
		ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/runningpods/?stream=Stdout", nil))
	if !served {
		t.Error("a request to another path was not passed on")
	}
}
