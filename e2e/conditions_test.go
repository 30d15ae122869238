//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
)

// conditionsPod is a bare pod on node; extra goes under spec.
func conditionsPod(node, name, image, extra string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  terminationGracePeriodSeconds: 2
  nodeSelector: {type: virtual-kubelet, kubernetes.io/hostname: %s}
  tolerations:
  - {key: virtual-kubelet.io/provider, operator: Exists, effect: NoSchedule}
%s  containers:
  - {name: app, image: %s}
`, name, node, extra, image)
}

func podCondition(p *corev1.Pod, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == t {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

func getPod(t *testing.T, ns, name string) (*corev1.Pod, error) {
	t.Helper()
	return cluster.client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
}

// setCondition writes a condition on the pod's status subresource, as
// another controller does (a load balancer's for its readiness gate).
func setCondition(t *testing.T, ns, name string, c corev1.PodCondition) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p, err := getPod(t, ns, name)
		if err != nil {
			return err
		}
		c.LastTransitionTime = metav1.Now()
		if old := podCondition(p, c.Type); old != nil {
			*old = c
		} else {
			p.Status.Conditions = append(p.Status.Conditions, c)
		}
		_, err = cluster.client.CoreV1().Pods(ns).UpdateStatus(context.Background(), p, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("writing condition %s on pod %s: %v", c.Type, name, err)
	}
}

func conditionTypes(p *corev1.Pod) string {
	var out []string
	for _, c := range p.Status.Conditions {
		out = append(out, fmt.Sprintf("%s=%s(%s)", c.Type, c.Status, c.Reason))
	}
	return strings.Join(out, " ")
}

// A condition another controller writes on a running pod is kept by
// faas-kubelet's next status writes, as a kubelet keeps it: the write an
// image update makes, and the resyncs after it.
func TestConditionsOthersWriteSurviveOurReports(t *testing.T) {
	k := startKubelet(t, kubeletOptions{})
	ns := namespace(t)
	applyYAML(t, ns, conditionsPod(k.node, "audited", "example.com/app:1", ""))
	eventually(t, 60*time.Second, "pod audited Running and Ready", func() (bool, string) {
		p, err := getPod(t, ns, "audited")
		if err != nil {
			return false, err.Error()
		}
		return p.Status.Phase == corev1.PodRunning && ready(p), string(p.Status.Phase) + " " + conditionTypes(p)
	})
	const audited = corev1.PodConditionType("example.com/audited")
	setCondition(t, ns, "audited", corev1.PodCondition{Type: audited, Status: corev1.ConditionTrue, Reason: "Checked", Message: "by the e2e test"})

	// A new image redeploys the function: our next status (the new image
	// in containerStatuses) is written over the pod's status.
	patch := []byte(`{"spec":{"containers":[{"name":"app","image":"example.com/app:2"}]}}`)
	if _, err := cluster.client.CoreV1().Pods(ns).Patch(context.Background(), "audited", types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "our status with the new image written, the condition kept", func() (bool, string) {
		p, err := getPod(t, ns, "audited")
		if err != nil {
			return false, err.Error()
		}
		written := len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].Image == "example.com/app:2"
		if !written {
			return false, fmt.Sprintf("containerStatuses %+v", p.Status.ContainerStatuses)
		}
		c := podCondition(p, audited)
		if c == nil || c.Status != corev1.ConditionTrue || c.Reason != "Checked" {
			t.Fatalf("our status write wiped condition %s: %s", audited, conditionTypes(p))
		}
		return p.Status.Phase == corev1.PodRunning && ready(p), string(p.Status.Phase) + " " + conditionTypes(p)
	})
	// Through the resyncs (every 2 s) that follow, it stays.
	deadline := time.Now().Add(6 * time.Second)
	for time.Now().Before(deadline) {
		p, err := getPod(t, ns, "audited")
		if err != nil {
			t.Fatal(err)
		}
		if c := podCondition(p, audited); c == nil || c.Reason != "Checked" {
			t.Fatalf("condition %s gone after a resync: %s", audited, conditionTypes(p))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// A pod with a readiness gate runs with its containers ready but is not
// Ready until the gate's condition is True; then it turns Ready.
func TestReadinessGateHoldsReadyUntilTrue(t *testing.T) {
	k := startKubelet(t, kubeletOptions{})
	ns := namespace(t)
	const gate = corev1.PodConditionType("example.com/registered")
	applyYAML(t, ns, conditionsPod(k.node, "gated", "example.com/app:1", "  readinessGates:\n  - {conditionType: "+string(gate)+"}\n"))
	notReady := func(p *corev1.Pod) (bool, string) {
		cr, r := podCondition(p, corev1.ContainersReady), podCondition(p, corev1.PodReady)
		ok := p.Status.Phase == corev1.PodRunning && cr != nil && cr.Status == corev1.ConditionTrue &&
			r != nil && r.Status == corev1.ConditionFalse && r.Reason == "ReadinessGatesNotReady" && strings.Contains(r.Message, string(gate))
		return ok, string(p.Status.Phase) + " " + conditionTypes(p)
	}
	eventually(t, 60*time.Second, "pod gated Running, containers ready, not Ready for its gate", func() (bool, string) {
		p, err := getPod(t, ns, "gated")
		if err != nil {
			return false, err.Error()
		}
		return notReady(p)
	})
	// The gate False: still not Ready, through a few resyncs.
	setCondition(t, ns, "gated", corev1.PodCondition{Type: gate, Status: corev1.ConditionFalse, Reason: "Registering"})
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		p, err := getPod(t, ns, "gated")
		if err != nil {
			t.Fatal(err)
		}
		if ok, desc := notReady(p); !ok {
			t.Fatalf("pod gated with its gate False: %s", desc)
		}
		if c := podCondition(p, gate); c == nil || c.Reason != "Registering" {
			t.Fatalf("the gate's condition was wiped: %s", conditionTypes(p))
		}
		time.Sleep(500 * time.Millisecond)
	}
	setCondition(t, ns, "gated", corev1.PodCondition{Type: gate, Status: corev1.ConditionTrue, Reason: "Registered"})
	eventually(t, 30*time.Second, "pod gated Ready once its gate is True", func() (bool, string) {
		p, err := getPod(t, ns, "gated")
		if err != nil {
			return false, err.Error()
		}
		c := podCondition(p, gate)
		return ready(p) && c != nil && c.Status == corev1.ConditionTrue, conditionTypes(p)
	})
}

// A running pod shows its function as its container's ID, as kubectl
// describe prints it, and the node's address as hostIP and podIP.
func TestContainerIDAndHostIP(t *testing.T) {
	k := startKubelet(t, kubeletOptions{})
	ns := namespace(t)
	applyYAML(t, ns, conditionsPod(k.node, "described", "example.com/app:1", ""))
	var p *corev1.Pod
	eventually(t, 60*time.Second, "pod described Running", func() (bool, string) {
		var err error
		if p, err = getPod(t, ns, "described"); err != nil {
			return false, err.Error()
		}
		return p.Status.Phase == corev1.PodRunning, string(p.Status.Phase)
	})
	want := "memory://" + functionNameOf(p)
	if len(p.Status.ContainerStatuses) != 1 || p.Status.ContainerStatuses[0].ContainerID != want {
		t.Errorf("containerStatuses %+v, want containerID %s", p.Status.ContainerStatuses, want)
	}
	ip := cluster.env["FAAS_KUBELET_NODE_IP"]
	if p.Status.HostIP != ip || len(p.Status.HostIPs) != 1 || p.Status.HostIPs[0].IP != ip || p.Status.PodIP != ip {
		t.Errorf("hostIP %q %v podIP %q, want %s", p.Status.HostIP, p.Status.HostIPs, p.Status.PodIP, ip)
	}
	if out := mustKubectl(t, "describe", "pod", "-n", ns, "described"); !strings.Contains(out, want) {
		t.Errorf("kubectl describe shows no container ID %s:\n%s", want, out)
	}
}
