package azure

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func metrics(t *testing.T, ts *httptest.Server, name, names string) (int, string) {
	t.Helper()
	now := time.Now().UTC()
	span := now.Add(-time.Minute).Truncate(time.Minute).Format(time.RFC3339) + "/" + now.Add(time.Minute).Truncate(time.Minute).Format(time.RFC3339)
	req, _ := http.NewRequest(http.MethodGet, ts.URL+sitePath(name)+"/providers/Microsoft.Insights/metrics?api-version="+metricsAPIVersion+
		"&interval=PT1M&timespan="+span+"&metricnames="+names, nil)
	req.Header.Set("Authorization", "Bearer "+DefaultToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// A function app offers the metrics of its plan's tier: on Consumption
// (Dynamic) the execution count and units (MB-ms, memory rounded up to
// 128 MB), on Premium and Dedicated neither (Linux); CpuTime, a Web Apps
// metric, on none. Another name is Azure Monitor's 400.
func TestMetricsFollowThePlanTier(t *testing.T) {
	s := New(Options{PlanSKU: SKU{Name: "EP1", Tier: "ElasticPremium"}})
	ts := httptest.NewServer(s)
	defer ts.Close()
	if DefaultPlanSKU.Tier != "Dynamic" {
		t.Errorf("default plan %+v, want Consumption", DefaultPlanSKU)
	}
	consumption := "/subscriptions/" + DefaultSubscription + "/resourceGroups/rg/providers/Microsoft.Web/serverfarms/dynamic"
	if code, body := arm(t, ts, http.MethodPut, consumption, `{"location":"westeurope","sku":{"name":"Y1","tier":"Dynamic"}}`); code != http.StatusOK || !strings.Contains(body, `"tier":"Dynamic"`) {
		t.Fatalf("PUT plan = %d %s", code, body)
	}
	if _, body := arm(t, ts, http.MethodGet, "/subscriptions/"+DefaultSubscription+"/resourceGroups/rg/providers/Microsoft.Web/serverfarms/plan", ""); !strings.Contains(body, `"tier":"ElasticPremium"`) {
		t.Errorf("a plan never PUT: %s, want Options.PlanSKU", body)
	}
	for name, farm := range map[string]string{"premium": testPlan, "consumption": consumption} {
		if code, body := arm(t, ts, http.MethodPut, sitePath(name), siteBody(t, farm, map[string]string{"EMULATOR_MEMORY_MB": "200"})); code != http.StatusOK {
			t.Fatalf("PUT %s = %d %s", name, code, body)
		}
		trigger(t, ts, name, "/api/run", hostKey(name), `{"sleepMs": 50}`)
	}
	for _, c := range []struct {
		app, names string
		code       int
	}{
		{"consumption", "FunctionExecutionUnits,FunctionExecutionCount,MemoryWorkingSet", http.StatusOK},
		{"consumption", "CpuTime", http.StatusBadRequest},
		{"premium", "MemoryWorkingSet", http.StatusOK},
		{"premium", "CpuTime", http.StatusBadRequest},
		{"premium", "FunctionExecutionUnits", http.StatusBadRequest},
	} {
		code, body := metrics(t, ts, c.app, c.names)
		if code != c.code {
			t.Errorf("%s %s = %d %s, want %d", c.app, c.names, code, body, c.code)
		}
		if code == http.StatusBadRequest && !strings.Contains(body, "Failed to find metric configuration") {
			t.Errorf("%s %s: %s, want Azure Monitor's message", c.app, c.names, body)
		}
	}
	_, body := metrics(t, ts, "consumption", "FunctionExecutionUnits,FunctionExecutionCount")
	var out struct {
		Value []struct {
			Name       struct{ Value string }
			Timeseries []struct{ Data []struct{ Total float64 } }
		}
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatal(err)
	}
	totals := map[string]float64{}
	for _, m := range out.Value {
		for _, d := range m.Timeseries[0].Data {
			totals[m.Name.Value] += d.Total
		}
	}
	// 200 MB is billed as 256 MB: at least 50 ms × 256 MB.
	if totals["FunctionExecutionCount"] != 1 || totals["FunctionExecutionUnits"] < 50*256 || int(totals["FunctionExecutionUnits"])%256 != 0 {
		t.Errorf("totals %v, want one execution of at least 50 ms × 256 MB", totals)
	}
}
