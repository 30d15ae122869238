//go:build e2e

package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// With OTEL_EXPORTER_OTLP_ENDPOINT set, Virtual Kubelet's spans for each
// pod reach an OTLP/HTTP collector, named after faas-kubelet.
func TestTracingExportsSpans(t *testing.T) {
	var mu sync.Mutex
	var received [][]byte
	l, err := net.Listen("tcp", net.JoinHostPort(cluster.env["FAAS_KUBELET_HOST_IP"], "0"))
	if err != nil {
		t.Fatal(err)
	}
	collector := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method == http.MethodPost && r.URL.Path == "/v1/traces" {
			mu.Lock()
			received = append(received, body)
			mu.Unlock()
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	})}
	go func() { _ = collector.Serve(l) }()
	t.Cleanup(func() { _ = collector.Close() })

	emu := startEmulator(t)
	k := startKubelet(t, kubeletOptions{cloud: "aws-lambda", lambdaEndpoint: emu.endpoint,
		env: []string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://" + l.Addr().String(), "OTEL_BSP_SCHEDULE_DELAY=200"}})
	waitNodeReady(t, k.node, corev1.ConditionTrue, 30*time.Second)
	ns := namespace(t)
	applyYAML(t, ns, helloDeployment)
	eventually(t, 60*time.Second, "spans of the pods' creation at the collector", func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		all := bytes.Join(received, nil)
		ok := bytes.Contains(all, []byte("createOrUpdatePod")) && bytes.Contains(all, []byte("faas-kubelet"))
		return ok, fmt.Sprintf("%d exports, %d bytes", len(received), len(all))
	})
}
