//go:build e2e

package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// scrape GETs a path of the metrics server.
func scrape(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// An operator's view: probes answer, and /metrics shows the pods by phase,
// the cloud operations and HTTP requests behind them and the node's health.
func TestMetricsAndProbes(t *testing.T) {
	emu := startEmulator(t)
	addr := net.JoinHostPort(cluster.env["FAAS_KUBELET_NODE_IP"], fmt.Sprint(17300+nextPort.Add(1)))
	k := startKubelet(t, kubeletOptions{cloud: "aws-lambda", lambdaEndpoint: emu.endpoint, args: []string{"--metrics-address", addr}})
	base := "http://" + addr
	waitNodeReady(t, k.node, corev1.ConditionTrue, 30*time.Second)
	eventually(t, 20*time.Second, "/readyz 200", func() (bool, string) {
		code, body := scrape(t, base+"/readyz")
		return code == http.StatusOK, fmt.Sprintf("%d %s", code, body)
	})
	if code, body := scrape(t, base+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d %s", code, body)
	}
	ns := namespace(t)
	applyYAML(t, ns, helloDeployment)
	eventually(t, 90*time.Second, "3 pods Running", func() (bool, string) {
		n := 0
		for _, p := range listPods(t, ns, "app=hello") {
			if p.Status.Phase == corev1.PodRunning {
				n++
			}
		}
		return n == 3, fmt.Sprintf("%d Running", n)
	})
	labels := fmt.Sprintf(`cloud="aws-lambda",node=%q`, k.node)
	want := []string{
		`faas_kubelet_pods{` + labels + `,phase="Running"} 3`,
		`faas_kubelet_cloud_operations_total{` + labels + `,operation="Deploy",result="ok"} 3`,
		`faas_kubelet_cloud_http_requests_total{` + labels[:len(`cloud="aws-lambda"`)] + `,code="201",node=` + fmt.Sprintf("%q", k.node) + `} 3`,
		`faas_kubelet_node_ready{` + labels + `} 1`,
		`faas_kubelet_rate_limiter_wait_seconds_count{` + labels + `}`,
		`faas_kubelet_status_check_lag_seconds_count{` + labels + `}`,
		`faas_kubelet_status_checks_queued{` + labels + `} 0`,
	}
	eventually(t, 20*time.Second, "the pods and calls in /metrics", func() (bool, string) {
		_, body := scrape(t, base+"/metrics")
		for _, w := range want {
			if !strings.Contains(body, w) {
				return false, "missing " + w
			}
		}
		return true, ""
	})
}

// metricValue reads the value of one sample (its name and labels as the
// exposition format writes them) from a /metrics body; 0 when absent.
func metricValue(body, sample string) int {
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return int(f)
			}
		}
	}
	return 0
}
