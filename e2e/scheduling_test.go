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
)

const deploymentYAML = `apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s}
spec:
  replicas: 2
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      terminationGracePeriodSeconds: 2
      nodeSelector: {type: virtual-kubelet}
%[2]s      containers:
      - {name: app, image: example.com/hello:1}
`

const toleration = `      tolerations:
      - {key: virtual-kubelet.io/provider, operator: Exists, effect: NoSchedule}
`

// The real kube-scheduler places a Deployment that selects virtual nodes and
// tolerates their taint onto the virtual node, and keeps one that does not
// tolerate the taint off it.
func TestSchedulingRequiresToleration(t *testing.T) {
	k := startKubelet(t, kubeletOptions{})
	waitNodeReady(t, k.node, corev1.ConditionTrue, 30*time.Second)
	ns := namespace(t)

	applyYAML(t, ns, fmt.Sprintf(deploymentYAML, "tolerates", toleration))
	applyYAML(t, ns, fmt.Sprintf(deploymentYAML, "intolerant", ""))

	pods := cluster.client.CoreV1().Pods(ns)
	eventually(t, 60*time.Second, "both tolerating pods Running on the virtual node", func() (bool, string) {
		list, err := pods.List(context.Background(), metav1.ListOptions{LabelSelector: "app=tolerates"})
		if err != nil {
			return false, err.Error()
		}
		running := 0
		desc := []string{}
		for _, p := range list.Items {
			desc = append(desc, fmt.Sprintf("%s node=%q phase=%s", p.Name, p.Spec.NodeName, p.Status.Phase))
			if p.Spec.NodeName == k.node && p.Status.Phase == corev1.PodRunning {
				running++
			}
		}
		return running == 2, strings.Join(desc, "; ")
	})
	out := mustKubectl(t, "get", "pods", "-n", ns, "-l", "app=tolerates", "-o", "wide", "--no-headers")
	if strings.Count(out, k.node) != 2 || strings.Count(out, "Running") != 2 {
		t.Errorf("kubectl get pods -o wide: want 2 Running on %s:\n%s", k.node, out)
	}

	eventually(t, 30*time.Second, "the intolerant pods reported Unschedulable", func() (bool, string) {
		list, err := pods.List(context.Background(), metav1.ListOptions{LabelSelector: "app=intolerant"})
		if err != nil {
			return false, err.Error()
		}
		unschedulable := 0
		for _, p := range list.Items {
			if p.Spec.NodeName != "" {
				t.Fatalf("pod %s without the toleration was bound to %s", p.Name, p.Spec.NodeName)
			}
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable &&
					strings.Contains(c.Message, "untolerated taint") {
					unschedulable++
				}
			}
		}
		return unschedulable == 2, fmt.Sprintf("%d of %d unschedulable", unschedulable, len(list.Items))
	})

	// Scale the tolerating Deployment down: the virtual node reports the
	// pod's end and the pod goes away.
	mustKubectl(t, "scale", "deployment/tolerates", "-n", ns, "--replicas=1")
	eventually(t, 90*time.Second, "one tolerating pod left", func() (bool, string) {
		list, err := pods.List(context.Background(), metav1.ListOptions{LabelSelector: "app=tolerates"})
		if err != nil {
			return false, err.Error()
		}
		return len(list.Items) == 1, fmt.Sprintf("%d pods", len(list.Items))
	})
}
