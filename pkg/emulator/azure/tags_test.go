package azure

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func tagged(t *testing.T, n int) string {
	t.Helper()
	var body map[string]any
	_ = json.Unmarshal([]byte(siteBody(t, testPlan, nil)), &body)
	tags := map[string]string{}
	for i := range n {
		tags[fmt.Sprintf("t%02d", i)] = "v"
	}
	body["tags"] = tags
	b, _ := json.Marshal(body)
	return string(b)
}

// ARM allows 50 tags on a resource: a site's PUT and a merge of tags that
// would make more are refused, and change nothing.
func TestFiftyTagsPerSite(t *testing.T) {
	s := New(Options{})
	ts := httptest.NewServer(s)
	defer ts.Close()
	if code, body := arm(t, ts, http.MethodPut, sitePath("app"), tagged(t, 51)); code != http.StatusBadRequest || !strings.Contains(body, "at most 50 tag") {
		t.Errorf("PUT with 51 tags = %d %s", code, body)
	}
	if code, body := arm(t, ts, http.MethodPut, sitePath("app"), tagged(t, 48)); code != http.StatusOK {
		t.Fatalf("PUT with 48 tags = %d %s", code, body)
	}
	merge := func(keys ...string) (int, string) {
		tags := map[string]string{}
		for _, k := range keys {
			tags[k] = "x"
		}
		b, _ := json.Marshal(map[string]any{"operation": "Merge", "properties": map[string]any{"tags": tags}})
		return arm(t, ts, http.MethodPatch, sitePath("app")+"/providers/Microsoft.Resources/tags/default", string(b))
	}
	if code, body := merge("a", "b", "c"); code != http.StatusBadRequest || !strings.Contains(body, "at most 50 tag") {
		t.Errorf("merge to 51 tags = %d %s", code, body)
	}
	if code, body := merge("a", "b", "t00"); code != http.StatusOK {
		t.Errorf("merge to 50 tags = %d %s", code, body)
	}
}
