package azure

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func listKeys(t *testing.T, ts *httptest.Server, name string) (int, string) {
	t.Helper()
	return arm(t, ts, http.MethodPost, sitePath(name)+"/host/default/listkeys", "")
}

func containerLog(t *testing.T, ts *httptest.Server, name string) string {
	t.Helper()
	_, body := arm(t, ts, http.MethodPost, sitePath(name)+"/containerlogs", "")
	return body
}

const hostDownAnswer = `"Message":"Encountered an error (ServiceUnavailable) from host runtime."`

// Two apps on one storage account whose names share their first 32
// characters have one host ID: the host that starts second shuts down, and
// logs why; another storage account, or an explicit host ID, avoids it.
func TestSecondHostWithTheSameHostIDStops(t *testing.T) {
	s := New(Options{})
	ts := httptest.NewServer(s)
	defer ts.Close()
	storage := map[string]string{settingStorage: "AccountName=shared"}
	first, second := "fk-default-a-very-long-deployment-name-1111", "fk-default-a-very-long-deployment-name-2222"
	for _, name := range []string{first, second} {
		if code, body := arm(t, ts, http.MethodPut, sitePath(name), siteBody(t, testPlan, storage)); code != http.StatusOK {
			t.Fatalf("PUT %s = %d %s", name, code, body)
		}
	}
	if code, body := listKeys(t, ts, first); code != http.StatusOK {
		t.Errorf("listkeys of the first host = %d %s", code, body)
	}
	code, body := listKeys(t, ts, second)
	if code != http.StatusBadRequest || !strings.Contains(body, hostDownAnswer) {
		t.Errorf("listkeys of the colliding host = %d %s", code, body)
	}
	want := "A collision for Host ID 'fk-default-a-very-long-deploymen' was detected in the configured storage account."
	if l := containerLog(t, ts, second); strings.Count(l, want) != 1 {
		t.Errorf("the colliding app's log shows the collision %d times, want once:\n%s", strings.Count(l, want), l)
	}
	if _, body := arm(t, ts, http.MethodGet, sitePath(second), ""); !strings.Contains(body, `"state":"Running"`) {
		t.Errorf("the site of a stopped host should stay Running, as App Service shows it: %s", body)
	}
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/_apps/"+second+"/api/run", strings.NewReader("{}"))
	req.Header.Set("x-functions-key", hostKey(second))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("trigger of the colliding host: %v %v", resp, err)
	}

	// A host ID of its own (or another storage account) starts the host.
	own := map[string]string{settingStorage: "AccountName=shared", settingHostID: "second-own-id"}
	arm(t, ts, http.MethodPut, sitePath(second), siteBody(t, testPlan, own))
	if code, body := listKeys(t, ts, second); code != http.StatusOK {
		t.Errorf("listkeys with an explicit host ID = %d %s", code, body)
	}
	third := "fk-default-a-very-long-deployment-name-3333"
	arm(t, ts, http.MethodPut, sitePath(third), siteBody(t, testPlan, map[string]string{settingStorage: "AccountName=other"}))
	if code, body := listKeys(t, ts, third); code != http.StatusOK {
		t.Errorf("listkeys on another storage account = %d %s", code, body)
	}
}

// A Running site's Functions host answers only HostStartDelay after the
// container started, and again after a settings change restarts it.
func TestHostAnswersAfterItStarted(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	s := New(Options{HostStartDelay: 20 * time.Second, Now: func() time.Time { return now }})
	ts := httptest.NewServer(s)
	defer ts.Close()
	arm(t, ts, http.MethodPut, sitePath("app"), siteBody(t, testPlan, nil))
	if _, body := arm(t, ts, http.MethodGet, sitePath("app"), ""); !strings.Contains(body, `"state":"Running"`) {
		t.Fatalf("site = %s", body)
	}
	if code, body := listKeys(t, ts, "app"); code != http.StatusBadRequest || !strings.Contains(body, hostDownAnswer) {
		t.Errorf("listkeys while the host starts = %d %s", code, body)
	}
	now = now.Add(20 * time.Second)
	if code, body := listKeys(t, ts, "app"); code != http.StatusOK {
		t.Errorf("listkeys once the host started = %d %s", code, body)
	}
	arm(t, ts, http.MethodPut, sitePath("app")+"/config/appsettings", `{"properties":{"A":"1"}}`)
	if code, _ := listKeys(t, ts, "app"); code != http.StatusBadRequest {
		t.Errorf("listkeys right after a settings change (a restart) = %d", code)
	}
}
