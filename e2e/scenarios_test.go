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

const helloDeployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: hello}
spec:
  replicas: 3
  selector: {matchLabels: {app: hello}}
  template:
    metadata: {labels: {app: hello, team: payments}}
    spec:
      terminationGracePeriodSeconds: 2
      nodeSelector: {type: virtual-kubelet}
      tolerations:
      - {key: virtual-kubelet.io/provider, operator: Exists, effect: NoSchedule}
      containers:
      - name: hello
        image: ` + ecrImage + `
        resources: {limits: {memory: 256Mi}}
`

// functionDeployment is a Deployment named name of replicas function pods
// (label app=<name>) on the virtual nodes; container is the YAML of its one
// container after "- name: <name>", each line indented by 8 spaces.
func functionDeployment(name string, replicas int, container string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s}
spec:
  replicas: %[2]d
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata: {labels: {app: %[1]s}}
    spec:
      terminationGracePeriodSeconds: 2
      nodeSelector: {type: virtual-kubelet}
      tolerations:
      - {key: virtual-kubelet.io/provider, operator: Exists, effect: NoSchedule}
      containers:
      - name: %[1]s
%[3]s`, name, replicas, container)
}

// podsByPhase lists the namespace's pods matching selector.
func listPods(t *testing.T, ns, selector string) []corev1.Pod {
	t.Helper()
	list, err := cluster.client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatal(err)
	}
	return list.Items
}

func ready(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

const podTemplate = `apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  terminationGracePeriodSeconds: 2
  nodeSelector: {type: virtual-kubelet}
  tolerations:
  - {key: virtual-kubelet.io/provider, operator: Exists, effect: NoSchedule}
%s`

// On every cloud, a Deployment becomes one tagged function per pod; the
// pods run; scaling down and deleting remove exactly the pods' functions.
func TestDeploymentLifecycle(t *testing.T) {
	for _, c := range clouds {
		t.Run(c.name, func(t *testing.T) {
			emu, k := c.start(t)
			ns := namespace(t)
			applyYAML(t, ns, strings.ReplaceAll(helloDeployment, ecrImage, c.image))

			var pods []corev1.Pod
			eventually(t, 90*time.Second, "3 pods Running and Ready", func() (bool, string) {
				pods = listPods(t, ns, "app=hello")
				n, desc := 0, []string{}
				for i := range pods {
					desc = append(desc, fmt.Sprintf("%s %s ready=%v", pods[i].Name, pods[i].Status.Phase, ready(&pods[i])))
					if pods[i].Status.Phase == corev1.PodRunning && ready(&pods[i]) {
						n++
					}
				}
				return n == 3, strings.Join(desc, "; ")
			})
			fns := c.functions(t, emu)
			if len(fns) != 3 {
				t.Fatalf("%d functions in the emulator, want 3: %v", len(fns), fns)
			}
			uids := map[string]bool{}
			for _, tags := range fns {
				uids[tags["faas-kubelet.io/pod-uid"]] = true
				if tags["faas-kubelet.io/node"] != k.node || tags["faas-kubelet.io/pod-namespace"] != ns || tags["team"] != "payments" {
					t.Errorf("function tags = %v", tags)
				}
			}
			for _, p := range pods {
				if !uids[string(p.UID)] {
					t.Errorf("no function tagged with pod %s's UID %s", p.Name, p.UID)
				}
				cs := p.Status.ContainerStatuses
				if len(cs) != 1 || cs[0].State.Running == nil || cs[0].ImageID == "" {
					t.Errorf("pod %s container status = %+v", p.Name, cs)
				}
			}
			describe := mustKubectl(t, "describe", "pod", "-n", ns, pods[0].Name)
			for _, want := range []string{"FunctionDeployed", "FunctionActive"} {
				if !strings.Contains(describe, want) {
					t.Errorf("kubectl describe pod lacks event %s:\n%s", want, describe)
				}
			}

			mustKubectl(t, "scale", "deployment/hello", "-n", ns, "--replicas=1")
			eventually(t, 60*time.Second, "1 function left after scaling to 1", func() (bool, string) {
				n := len(c.functions(t, emu))
				return n == 1, fmt.Sprintf("%d functions", n)
			})
			mustKubectl(t, "delete", "deployment/hello", "-n", ns)
			eventually(t, 60*time.Second, "no functions and no pods after delete", func() (bool, string) {
				n, p := len(c.functions(t, emu)), len(listPods(t, ns, "app=hello"))
				return n == 0 && p == 0, fmt.Sprintf("%d functions, %d pods", n, p)
			})
			calls := emu.callsOf(t, c.name)
			t.Logf("%s emulator calls for 3 pods: %v", c.name, calls)
			if calls[c.createOp] != 3 || calls[c.deleteOp] != 3 {
				t.Errorf("%s=%d %s=%d, want 3 and 3", c.createOp, calls[c.createOp], c.deleteOp, calls[c.deleteOp])
			}
		})
	}
}

// On every cloud, pods it cannot run fail naming the field, and logs reach
// kubectl logs.
func TestRefusalsAndLogsOnEveryCloud(t *testing.T) {
	for _, c := range clouds {
		t.Run(c.name, func(t *testing.T) {
			emu, _ := c.start(t)
			ns := namespace(t)
			applyYAML(t, ns, fmt.Sprintf(podTemplate, "two", "  containers:\n  - {name: a, image: "+c.image+"}\n  - {name: b, image: "+c.image+"}\n"))
			applyYAML(t, ns, fmt.Sprintf(podTemplate, "one", "  containers:\n  - name: a\n    image: "+c.image+"\n    env: [{name: EMULATOR_LOG, value: hello}]\n"))
			eventually(t, 60*time.Second, "pod two Failed naming spec.containers, pod one Running", func() (bool, string) {
				two, err1 := cluster.client.CoreV1().Pods(ns).Get(context.Background(), "two", metav1.GetOptions{})
				one, err2 := cluster.client.CoreV1().Pods(ns).Get(context.Background(), "one", metav1.GetOptions{})
				if err1 != nil || err2 != nil {
					return false, fmt.Sprint(err1, err2)
				}
				return two.Status.Phase == corev1.PodFailed && strings.Contains(two.Status.Message, "spec.containers") && one.Status.Phase == corev1.PodRunning,
					fmt.Sprintf("two=%s %q one=%s", two.Status.Phase, two.Status.Message, one.Status.Phase)
			})
			if n := len(c.functions(t, emu)); n != 1 {
				t.Errorf("%d functions, want only pod one's", n)
			}
			if c.name == "azure-functions" {
				eventually(t, 30*time.Second, "kubectl logs to show the app's deployment", func() (bool, string) {
					out, _ := kubectl(t, "logs", "-n", ns, "one", "--tail=5")
					return strings.Contains(out, "deployed"), out
				})
				one, _ := cluster.client.CoreV1().Pods(ns).Get(context.Background(), "one", metav1.GetOptions{})
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				follow := kubectlStream(ctx, t, "logs", "-n", ns, "one", "-f", "--tail=1")
				time.Sleep(2 * time.Second)
				emu.touchSettings(t, functionNameOf(one))
				eventually(t, 15*time.Second, "kubectl logs -f to show a line logged after it started (Kudu log stream)", func() (bool, string) {
					got := follow.String()
					return strings.Contains(got, "Application settings updated"), got
				})
				if n := emu.callsOf(t, c.name)["LogStream"]; n < 1 {
					t.Errorf("kubectl logs -f did not use Kudu's log stream (%d calls)", n)
				}
			}
		})
	}
}
