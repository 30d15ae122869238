//go:build e2e

package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The node registers with the configured labels, taint and capacity, and
// turns Ready once its backend answers.
func TestNodeRegistersReady(t *testing.T) {
	k := startKubelet(t, kubeletOptions{})
	n := waitNodeReady(t, k.node, corev1.ConditionTrue, 30*time.Second)

	wantLabels := map[string]string{
		"type":                             "virtual-kubelet",
		"kubernetes.io/role":               "agent",
		"kubernetes.io/os":                 "linux",
		"kubernetes.io/hostname":           k.node,
		"node.kubernetes.io/instance-type": "memory",
		"topology.kubernetes.io/region":    "local",
		"faas-kubelet.io/cloud":            "memory",
		"e2e.faas-kubelet.io/test":         "true",
	}
	for key, want := range wantLabels {
		if got := n.Labels[key]; got != want {
			t.Errorf("label %s = %q, want %q", key, got, want)
		}
	}
	found := false
	for _, taint := range n.Spec.Taints {
		if taint.Key == "virtual-kubelet.io/provider" && taint.Value == "memory" && taint.Effect == corev1.TaintEffectNoSchedule {
			found = true
		}
	}
	if !found {
		t.Errorf("taint virtual-kubelet.io/provider=memory:NoSchedule missing: %v", n.Spec.Taints)
	}
	for name, want := range map[corev1.ResourceName]string{"cpu": "123", "memory": "456Gi", "pods": "78"} {
		for _, list := range []corev1.ResourceList{n.Status.Capacity, n.Status.Allocatable} {
			got := list[name]
			if got.Cmp(resource.MustParse(want)) != 0 {
				t.Errorf("%s = %s, want %s", name, got.String(), want)
			}
		}
	}
	if n.Status.DaemonEndpoints.KubeletEndpoint.Port != k.port {
		t.Errorf("kubelet port = %d, want %d", n.Status.DaemonEndpoints.KubeletEndpoint.Port, k.port)
	}
	ip := ""
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			ip = a.Address
		}
	}
	if ip != cluster.env["FAAS_KUBELET_NODE_IP"] {
		t.Errorf("InternalIP = %q, want %q", ip, cluster.env["FAAS_KUBELET_NODE_IP"])
	}

	// What a user sees with kubectl.
	out := mustKubectl(t, "get", "node", k.node, "--no-headers")
	if !strings.Contains(out, " Ready ") {
		t.Errorf("kubectl get node: want Ready, got %q", out)
	}
}

// The node's lease in kube-node-lease is renewed while faas-kubelet runs.
func TestNodeLeaseRenewed(t *testing.T) {
	k := startKubelet(t, kubeletOptions{})
	waitNodeReady(t, k.node, corev1.ConditionTrue, 30*time.Second)
	leases := cluster.client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	var first *coordinationv1.Lease
	eventually(t, 20*time.Second, "the node lease", func() (bool, string) {
		l, err := leases.Get(context.Background(), k.node, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		first = l
		return l.Spec.RenewTime != nil, "no renewTime"
	})
	if first.Spec.HolderIdentity == nil || *first.Spec.HolderIdentity != k.node {
		t.Errorf("lease holder = %v, want %s", first.Spec.HolderIdentity, k.node)
	}
	eventually(t, 30*time.Second, "a renewed lease", func() (bool, string) {
		l, err := leases.Get(context.Background(), k.node, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return l.Spec.RenewTime.After(first.Spec.RenewTime.Time), fmt.Sprintf("renewTime still %s", l.Spec.RenewTime)
	})
}

// The kubelet API refuses anonymous requests, as the real kubelet does.
func TestKubeletAPIRefusesAnonymous(t *testing.T) {
	k := startKubelet(t, kubeletOptions{})
	waitNodeReady(t, k.node, corev1.ConditionTrue, 30*time.Second)
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // the test checks the server's answer, not its certificate
	for _, path := range []string{"/pods", "/stats/summary", "/containerLogs/default/x/y"} {
		url := fmt.Sprintf("https://%s:%d%s", cluster.env["FAAS_KUBELET_NODE_IP"], k.port, path)
		resp, err := c.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("anonymous GET %s = %d, want 401", path, resp.StatusCode)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("https://%s:%d/pods", cluster.env["FAAS_KUBELET_NODE_IP"], k.port), nil)
	req.Header.Set("Authorization", "Bearer not-a-real-token")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /pods with a bogus token = %d, want 401", resp.StatusCode)
	}
}

// Through the API server (which authenticates to the kubelet API with its
// client certificate), users reach the node's stats as on any node.
func TestNodeProxyStatsSummary(t *testing.T) {
	if cluster.env["FAAS_KUBELET_NETNS"] == "none" {
		t.Fatal("the control plane runs on loopback, where the API server refuses node proxy requests; run as root with iproute2 so hack/cluster.sh can make its network namespace")
	}
	k := startKubelet(t, kubeletOptions{})
	waitNodeReady(t, k.node, corev1.ConditionTrue, 30*time.Second)
	out := mustKubectl(t, "get", "--raw", "/api/v1/nodes/"+k.node+"/proxy/stats/summary")
	if !strings.Contains(out, `"nodeName": "`+k.node+`"`) && !strings.Contains(out, `"nodeName":"`+k.node+`"`) {
		t.Errorf("stats/summary does not name the node: %s", out)
	}
}
