package cli

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/faas-kubelet/faas-kubelet/pkg/metrics"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// /readyz follows the nodes this replica runs; a standby is ready; /healthz
// answers while the process runs; /metrics shows faas-kubelet's families.
func TestProbesAndMetricsEndpoints(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, m := newProbes(), metrics.New()
	m.Node("vk-a", "memory").Ready(true)
	addr, err := serveMetrics(ctx, "127.0.0.1:0", m, pr)
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + addr.String()
	step := func(what string, wantCode int, wantBody string) {
		t.Helper()
		code, body := get(t, base+"/readyz")
		if code != wantCode || !strings.Contains(body, wantBody) {
			t.Errorf("%s: /readyz = %d %q, want %d %q", what, code, body, wantCode, wantBody)
		}
	}
	step("before any node", http.StatusServiceUnavailable, "starting")
	pr.setStandby(true)
	step("standing by", http.StatusOK, "standing by")
	pr.setStandby(false)
	pr.nodeStarting("vk-a")
	pr.nodeStarting("vk-b")
	pr.nodeReady("vk-a")
	step("one node of two", http.StatusServiceUnavailable, "vk-b")
	pr.nodeReady("vk-b")
	step("both nodes", http.StatusOK, "ok")
	if code, body := get(t, base+"/healthz"); code != http.StatusOK || strings.TrimSpace(body) != "ok" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, body := get(t, base+"/metrics"); code != http.StatusOK || !strings.Contains(body, `faas_kubelet_node_ready{cloud="memory",node="vk-a"} 1`) || !strings.Contains(body, "process_resident_memory_bytes") {
		t.Errorf("/metrics = %d, %d bytes without faas-kubelet's families", code, len(body))
	}
}
