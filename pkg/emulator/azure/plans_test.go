package azure

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const testPlan = "/subscriptions/" + DefaultSubscription + "/resourceGroups/rg/providers/Microsoft.Web/serverfarms/plan"

// arm sends one authenticated ARM request to the emulator.
func arm(t *testing.T, ts *httptest.Server, method, path, body string) (int, string) {
	t.Helper()
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	req, _ := http.NewRequest(method, ts.URL+path+sep+"api-version="+APIVersion, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+DefaultToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

func sitePath(name string) string {
	return "/subscriptions/" + DefaultSubscription + "/resourceGroups/rg/providers/Microsoft.Web/sites/" + name
}

// siteBody is a container function app on farm with settings.
func siteBody(t *testing.T, farm string, settings map[string]string) string {
	t.Helper()
	var list []map[string]string
	for k, v := range settings {
		list = append(list, map[string]string{"name": k, "value": v})
	}
	b, _ := json.Marshal(map[string]any{"location": DefaultLocation, "kind": "functionapp,linux,container",
		"properties": map[string]any{"serverFarmId": farm, "siteConfig": map[string]any{"linuxFxVersion": "DOCKER|r.io/a:1", "appSettings": list}}})
	return string(b)
}

// Deleting the last app of a plan deletes the plan unless
// deleteEmptyServerFarm=false; a site cannot be created on a deleted plan.
func TestDeletingTheLastAppDeletesItsPlan(t *testing.T) {
	s := New(Options{})
	ts := httptest.NewServer(s)
	defer ts.Close()
	for _, name := range []string{"app-a", "app-b"} {
		if code, body := arm(t, ts, http.MethodPut, sitePath(name), siteBody(t, testPlan, nil)); code != http.StatusOK {
			t.Fatalf("PUT %s = %d %s", name, code, body)
		}
	}
	if code, _ := arm(t, ts, http.MethodDelete, sitePath("app-a"), ""); code != http.StatusOK || !s.PlanExists(testPlan) {
		t.Fatalf("DELETE of one of two apps = %d, plan exists %v", code, s.PlanExists(testPlan))
	}
	if code, _ := arm(t, ts, http.MethodDelete, sitePath("app-b")+"?deleteEmptyServerFarm=false", ""); code != http.StatusOK || !s.PlanExists(testPlan) {
		t.Fatalf("DELETE with deleteEmptyServerFarm=false = %d, plan exists %v", code, s.PlanExists(testPlan))
	}
	arm(t, ts, http.MethodPut, sitePath("app-c"), siteBody(t, testPlan, nil))
	if code, _ := arm(t, ts, http.MethodDelete, sitePath("app-c"), ""); code != http.StatusOK || s.PlanExists(testPlan) {
		t.Fatalf("DELETE of the last app = %d, plan exists %v", code, s.PlanExists(testPlan))
	}
	code, body := arm(t, ts, http.MethodPut, sitePath("app-d"), siteBody(t, testPlan, nil))
	if code != http.StatusNotFound || !strings.Contains(body, `"Message":"Cannot find ServerFarm with name plan."`) {
		t.Errorf("PUT on the deleted plan = %d %s", code, body)
	}
	if code, _ := arm(t, ts, http.MethodGet, testPlan, ""); code != http.StatusNotFound {
		t.Errorf("GET of the deleted plan = %d", code)
	}
	if code, _ := arm(t, ts, http.MethodPut, testPlan, `{"location":"westeurope","sku":{"name":"EP1"}}`); code != http.StatusOK || !s.PlanExists(testPlan) {
		t.Errorf("PUT of the plan = %d", code)
	}
	if code, body := arm(t, ts, http.MethodPut, sitePath("app-d"), siteBody(t, testPlan, nil)); code != http.StatusOK {
		t.Errorf("PUT on the re-created plan = %d %s", code, body)
	}
}
