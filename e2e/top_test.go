//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

var metricsServerOnce sync.Once

// startMetricsServer runs metrics-server against the test cluster and
// registers the metrics.k8s.io API, once per run (hack/cluster.sh
// metrics-server; hack/cluster.sh down stops it).
func startMetricsServer(t *testing.T) {
	t.Helper()
	if cluster.env["FAAS_KUBELET_NETNS"] == "none" {
		t.Fatal("the control plane runs on loopback, where the API server cannot route to metrics-server; run as root with iproute2 so hack/cluster.sh can make its network namespace")
	}
	var err error
	var out []byte
	metricsServerOnce.Do(func() {
		cmd := exec.Command(filepath.Join(cluster.repo, "hack", "cluster.sh"), "metrics-server")
		out, err = cmd.CombinedOutput()
	})
	if err != nil {
		t.Fatalf("hack/cluster.sh metrics-server: %v\n%s", err, out)
	}
}

// invokeWhile keeps invoking a pod through kubectl exec (each invocation
// sleeps 200 ms in the emulated function) until stop is called.
func invokeWhile(ns, pod string) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			cmd := exec.CommandContext(ctx, cluster.kubectl, "exec", "-i", "-n", ns, pod, "--", "invoke")
			cmd.Env = append(os.Environ(), "KUBECONFIG="+cluster.env["KUBECONFIG"])
			cmd.Stdin = strings.NewReader(`{"sleepMs": 200}`)
			_ = cmd.Run()
		}
	}()
	return func() { cancel(); <-done }
}

// kubectl top pod shows what each cloud reports of a function's use (CPU
// time and peak memory), through the node's /metrics/resource, scraped by
// a real metrics-server and read by the real kubectl; /stats/summary
// carries the same figures.
func TestKubectlTopShowsFunctionUsage(t *testing.T) {
	startMetricsServer(t)
	for _, c := range clouds {
		t.Run(c.name, func(t *testing.T) {
			emu := startEmulator(t)
			k := startKubelet(t, kubeletOptions{cloud: c.name, lambdaEndpoint: emu.endpoint, azureEndpoint: emu.azureEndpoint,
				alibabaEndpoint: emu.alibabaEndpoint, nodeExtra: "  usageInterval: 2s\n"})
			waitNodeReady(t, k.node, corev1.ConditionTrue, 30*time.Second)
			ns := namespace(t)
			runningPod(t, ns, "busy", "  containers:\n  - name: fn\n    image: "+c.image+"\n    env: [{name: EMULATOR_MEMORY_MB, value: \"200\"}]\n    resources: {limits: {memory: 512Mi}}\n")

			// Never invoked: no CPU used. (Azure Monitor measures an idle
			// app's working set; Lambda and FC report per invocation only.)
			summary := func() statsv1alpha1.PodStats {
				var s statsv1alpha1.Summary
				out := mustKubectl(t, "get", "--raw", "/api/v1/nodes/"+k.node+"/proxy/stats/summary")
				if err := json.Unmarshal([]byte(out), &s); err != nil {
					t.Fatalf("stats/summary: %v\n%s", err, out)
				}
				for _, p := range s.Pods {
					if p.PodRef.Namespace == ns && p.PodRef.Name == "busy" {
						return p
					}
				}
				t.Fatalf("stats/summary lacks the pod: %s", out)
				return statsv1alpha1.PodStats{}
			}
			if p := summary(); p.CPU != nil && *p.CPU.UsageCoreNanoSeconds != 0 || c.name != "azure-functions" && p.Containers[0].Memory != nil {
				t.Errorf("usage of a function never invoked: cpu %+v memory %+v", p.CPU, p.Containers[0].Memory)
			}

			stop := invokeWhile(ns, "busy")
			defer stop()
			eventually(t, 30*time.Second, "the invocations' usage in /stats/summary", func() (bool, string) {
				p := summary()
				c := p.Containers[0]
				if c.CPU == nil || c.Memory == nil || c.CPU.UsageCoreNanoSeconds == nil || c.Memory.WorkingSetBytes == nil {
					return false, "no figures yet"
				}
				ok := *c.CPU.UsageCoreNanoSeconds > 0 && *c.Memory.WorkingSetBytes == 200<<20
				b, _ := json.Marshal(c)
				return ok, string(b)
			})
			metrics := mustKubectl(t, "get", "--raw", "/api/v1/nodes/"+k.node+"/proxy/metrics/resource")
			for _, want := range []string{
				`container_memory_working_set_bytes{container="fn",namespace="` + ns + `",pod="busy"} 2.097152e+08`,
				`container_cpu_usage_seconds_total{container="fn",namespace="` + ns + `",pod="busy"}`,
				`node_cpu_usage_seconds_total `,
			} {
				if !strings.Contains(metrics, want) {
					t.Errorf("/metrics/resource lacks %q:\n%s", want, metrics)
				}
			}

			// metrics-server scrapes every 10 s and needs two points for a
			// CPU rate.
			var cpu, mem resource.Quantity
			eventually(t, 90*time.Second, "kubectl top pod busy", func() (bool, string) {
				out, err := kubectl(t, "top", "pod", "busy", "-n", ns, "--no-headers")
				f := strings.Fields(out)
				if err != nil || len(f) != 3 {
					return false, out
				}
				var e1, e2 error
				cpu, e1 = resource.ParseQuantity(f[1])
				mem, e2 = resource.ParseQuantity(f[2])
				return e1 == nil && e2 == nil && cpu.MilliValue() > 0, out
			})
			t.Logf("kubectl top pod busy: %s %s", cpu.String(), mem.String())
			if mem.Value() != 200<<20 {
				t.Errorf("kubectl top pod shows memory %s, want the invocations' peak, 200Mi", mem.String())
			}
			out := mustKubectl(t, "top", "node", k.node, "--no-headers")
			if f := strings.Fields(out); len(f) < 5 || f[0] != k.node || f[3] != "200Mi" {
				t.Errorf("kubectl top node: %q", out)
			}
		})
	}
}

var autoscaledDeployment = functionDeployment("web", 1, "        image: "+ecrImage+"\n"+
	"        env: [{name: EMULATOR_MEMORY_MB, value: \"200\"}]\n        resources: {limits: {memory: 512Mi}}\n") + `---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 3
  metrics:
  - type: Resource
    resource: {name: memory, target: {type: AverageValue, averageValue: 150Mi}}
`

// The HorizontalPodAutoscaler (kube-controller-manager's) scales a
// Deployment of functions on the memory its cloud reports, read through
// metrics-server: one busy function at 200Mi against a 150Mi average target
// needs 2 replicas. The path past the node is the same for every cloud;
// this runs on Lambda.
func TestAutoscalerScalesOnFunctionMemory(t *testing.T) {
	startMetricsServer(t)
	emu := startEmulator(t)
	k := startKubelet(t, kubeletOptions{cloud: "aws-lambda", lambdaEndpoint: emu.endpoint, nodeExtra: "  usageInterval: 2s\n"})
	waitNodeReady(t, k.node, corev1.ConditionTrue, 30*time.Second)
	ns := namespace(t)
	applyYAML(t, ns, autoscaledDeployment)
	var first string
	eventually(t, 60*time.Second, "the Deployment's pod Running", func() (bool, string) {
		for _, p := range listPods(t, ns, "app=web") {
			if p.Status.Phase == corev1.PodRunning {
				first = p.Name
				return true, ""
			}
		}
		return false, "no pod Running"
	})
	stop := invokeWhile(ns, first)
	defer stop()
	eventually(t, 120*time.Second, "the HPA to scale web to 2 replicas", func() (bool, string) {
		out, _ := kubectl(t, "get", "hpa", "web", "-n", ns, "-o", "jsonpath={.status.desiredReplicas} {.status.currentMetrics[0].resource.current.averageValue}")
		f := strings.Fields(out)
		return len(f) == 2 && f[0] == "2", out
	})
	eventually(t, 60*time.Second, "a second pod Running", func() (bool, string) {
		n := 0
		for _, p := range listPods(t, ns, "app=web") {
			if p.Status.Phase == corev1.PodRunning {
				n++
			}
		}
		return n == 2, ""
	})
	t.Logf("HPA web: %s", mustKubectl(t, "get", "hpa", "web", "-n", ns, "-o", "jsonpath=memory {.status.currentMetrics[0].resource.current.averageValue} against 150Mi, desired replicas {.status.desiredReplicas}"))
}
