//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// kwokConfig makes kwok as fast as it goes: its clients have no rate limit
// of their own (sigs.k8s.io/kwok pkg/utils/client: a rate limiter that
// never waits), its default pod stages take a bound pod straight to
// Running and a deleted one straight out, and pods are played by as many
// workers as faas-kubelet has (kwok's default is 4). Pod IPs come from a
// /16, as 1,000 pods need more than the default /24.
const kwokConfig = `apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
options:
  cidr: 10.64.0.1/16
  podPlayStageParallelism: 64
  nodePlayStageParallelism: 4
  nodeLeaseParallelism: 4
`

// benchKwok runs the rollout on a node kwok manages. kwok (v0.7.0, built by
// hack/cluster.sh build-kwok from hack/bench/kwok) writes pods' statuses
// and nothing else, no cloud, no events: the fastest kubelet a cluster can
// have, on the same API server in the same run.
func benchKwok(t *testing.T, n int) benchRun {
	bin := cluster.env["KWOK"]
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("kwok is not built (%s): run hack/cluster.sh build-kwok (make bench and make test do)", bin)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "kwok.yaml")
	if err := os.WriteFile(cfg, []byte(kwokConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	node := fmt.Sprintf("bench-kwok-%d", time.Now().UnixNano()%100000)
	if _, err := cluster.client.CoreV1().Nodes().Create(context.Background(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node,
		Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"}, Labels: map[string]string{"type": "kwok"}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	args := []string{"--kubeconfig", cluster.env["KUBECONFIG"], "--config", cfg, "--manage-single-node", node,
		"--node-ip", cluster.env["FAAS_KUBELET_NODE_IP"]}
	runNodeProcess(t, "kwok", bin, args, node, filepath.Join(dir, "kwok.log"))
	waitNodeReady(t, node, corev1.ConditionTrue, 60*time.Second)
	run, _, _ := rollout(t, "kwok", node, n)
	return run
}
