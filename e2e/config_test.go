//go:build e2e

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A bad config stops faas-kubelet before it registers anything, with a
// message naming each bad field.
func TestInvalidConfigStopsBeforeRegistering(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yaml")
	const node = "e2e-invalid-config"
	if err := os.WriteFile(cfg, []byte(`nodes:
- name: `+node+`
  cloud: memory
  capacity: {memory: lots}
  colour: blue
`), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := kubeletCommand("--config", cfg, "--kubeconfig", cluster.env["FAAS_KUBELET_KUBECONFIG"])
	out, err := cmd.CombinedOutput()
	if err == nil || ctx.Err() != nil {
		t.Fatalf("faas-kubelet with a bad config: err=%v, want a non-zero exit\n%s", err, out)
	}
	if !strings.Contains(string(out), `unknown field "nodes[0].colour"`) {
		t.Errorf("output does not name the unknown key nodes[0].colour:\n%s", out)
	}

	// Fix the unknown key: the remaining problems are all reported at once.
	if err := os.WriteFile(cfg, []byte(`nodes:
- name: `+node+`
  cloud: memory
  capacity: {memory: lots}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = kubeletCommand("--config", cfg, "--kubeconfig", cluster.env["FAAS_KUBELET_KUBECONFIG"]).CombinedOutput()
	if err == nil {
		t.Fatalf("faas-kubelet accepted a config without a region:\n%s", out)
	}
	for _, want := range []string{"nodes[0].region: Required value", "nodes[0].capacity.memory: Invalid value"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if _, err := cluster.client.CoreV1().Nodes().Get(context.Background(), node, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("node %s exists after a refused config (err=%v)", node, err)
	}
}
