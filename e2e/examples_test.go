//go:build e2e

package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The manifests in deploy/examples work as shown: applied as they are
// (kubectl apply -f deploy/examples/) next to one virtual node per cloud,
// every Deployment's pods run on their cloud's node and the Job completes.
func TestExamples(t *testing.T) {
	emu := startEmulator(t)
	nodes := map[string]string{}
	for _, c := range clouds {
		k := startKubelet(t, kubeletOptions{cloud: c.name, nodeName: "e2e-examples-" + c.name, lambdaEndpoint: emu.endpoint,
			azureEndpoint: emu.azureEndpoint, alibabaEndpoint: emu.alibabaEndpoint})
		nodes[c.name] = k.node
	}
	for _, n := range nodes {
		waitNodeReady(t, n, corev1.ConditionTrue, 30*time.Second)
	}
	ns := namespace(t)
	mustKubectl(t, "apply", "-n", ns, "-f", filepath.Join(cluster.repo, "deploy", "examples"))
	for app, cloud := range map[string]string{"hello": "aws-lambda", "hello-azure": "azure-functions", "hello-alibaba": "alibaba-fc"} {
		eventually(t, 90*time.Second, app+" Running on the "+cloud+" node", func() (bool, string) {
			pods := listPods(t, ns, "app="+app)
			if len(pods) == 0 {
				return false, "no pods"
			}
			var desc []string
			ok := true
			for _, p := range pods {
				desc = append(desc, fmt.Sprintf("%s %s on %s", p.Name, p.Status.Phase, p.Spec.NodeName))
				ok = ok && p.Status.Phase == corev1.PodRunning && p.Spec.NodeName == nodes[cloud]
			}
			return ok, strings.Join(desc, "; ")
		})
	}
	eventually(t, 90*time.Second, "hello-job Complete", func() (bool, string) {
		job, err := cluster.client.BatchV1().Jobs(ns).Get(t.Context(), "hello-job", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		for _, c := range job.Status.Conditions {
			if c.Type == "Complete" && c.Status == corev1.ConditionTrue {
				return true, ""
			}
		}
		return false, fmt.Sprintf("succeeded=%d failed=%d", job.Status.Succeeded, job.Status.Failed)
	})
	if logs := mustKubectl(t, "logs", "-n", ns, "job/hello-job"); !strings.Contains(logs, `"order": 42`) && !strings.Contains(logs, `"order":42`) {
		t.Errorf("the Job's logs lack its payload:\n%s", logs)
	}
}
