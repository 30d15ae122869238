//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
)

// The memory scenario measures faas-kubelet as a user sees it: pods owned
// by Deployments (owner references to their ReplicaSets), scheduled by the
// scheduler, with a few labels and annotations, env from a ConfigMap and
// resource requests; the process's resident set (VmRSS) and its peak
// (VmHWM, which includes the rollout) at two sizes, with the memory budget
// (memoryPerPod, the default) and without it (memoryPerPod: 0).

// memoryStep is one size of a memory run.
type memoryStep struct {
	Pods int `json:"pods"`
	// Resident set once the rollout's garbage is collected and returned,
	// and the process's peak so far.
	RSSMiB  float64 `json:"rssMiB"`
	PeakMiB float64 `json:"peakRssMiB"`
	// Growth of the resident set per pod since the node was ready, and the
	// peak divided by the pods (the process's whole peak, as a memory limit
	// would have to hold it).
	KiBPerPod     float64 `json:"kibPerPod"`
	PeakKiBPerPod float64 `json:"peakKiBPerPod"`
	// CPU since the node was ready, per pod.
	CPUSecPerPod  float64 `json:"cpuSecondsPerPod"`
	RunningPerSec float64 `json:"runningPodsPerSec"`
}

// memoryRun is one memory run: the budget on or off, each size in turn.
type memoryRun struct {
	Budget string       `json:"memoryPerPod"`
	Steps  []memoryStep `json:"steps"`
}

// memorySizes are the sizes of the memory runs: BENCH_MEMORY_PODS (make
// bench: 10,000) and a tenth of it; make test's 5 pods run 1 and 10.
func memorySizes(n int) []int {
	last := 2 * n
	if m, err := strconv.Atoi(os.Getenv("BENCH_MEMORY_PODS")); err == nil && m > 0 {
		last = m
	}
	return []int{max(1, last/10), last}
}

// procMemory reads a process's resident set and its peak, in KiB.
func procMemory(pid int) (rss, peak float64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch f[0] {
		case "VmRSS:":
			rss, _ = strconv.ParseFloat(f[1], 64)
		case "VmHWM:":
			peak, _ = strconv.ParseFloat(f[1], 64)
		}
	}
	return rss, peak
}

// memoryDeployment is a Deployment as teams write them.
func memoryDeployment(ns, node string, i int, replicas int32) *appsv1.Deployment {
	app := fmt.Sprintf("orders-%02d", i)
	labels := map[string]string{"app.kubernetes.io/name": app, "app.kubernetes.io/part-of": "shop", "team": "payments", "tier": "backend"}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: app, Namespace: ns, Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": app}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{
					"example.com/owner":    "payments-oncall@example.com",
					"example.com/commit":   "3f1cf84a9d2e6b7c0e5f41a8b9c3d2e1f0a7b6c5",
					"prometheus.io/scrape": "true", "prometheus.io/port": "8080",
				}},
				Spec: corev1.PodSpec{
					NodeSelector:                  map[string]string{corev1.LabelHostname: node},
					Tolerations:                   []corev1.Toleration{{Key: "virtual-kubelet.io/provider", Operator: corev1.TolerationOpExists}},
					TerminationGracePeriodSeconds: func() *int64 { v := int64(1); return &v }(),
					Containers: []corev1.Container{{
						Name: "app", Image: ecrImage,
						Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
						Env: []corev1.EnvVar{
							{Name: "LOG_LEVEL", Value: "info"},
							{Name: "DATABASE_HOST", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
								LocalObjectReference: corev1.LocalObjectReference{Name: "orders-config"}, Key: "database.host"}}},
						},
						EnvFrom: []corev1.EnvFromSource{{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "orders-env"}}}},
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("32Mi")},
							Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")},
						},
					}},
				},
			},
		},
	}
}

// benchMemory runs one memory run: sizes[i] pods over the same
// Deployments, one size after the other. budget is the memoryPerPod
// setting ("" for the default).
func benchMemory(t *testing.T, sizes []int, budget string) memoryRun {
	last := sizes[len(sizes)-1]
	top := ""
	if budget != "" {
		top = fmt.Sprintf("memoryPerPod: %q\n", budget)
	}
	k := startKubelet(t, kubeletOptions{cloud: "aws-lambda", lambdaEndpoint: startEmulator(t, "--lambda-activation-delay", "0s", "--lambda-update-delay", "0s").endpoint,
		pods: 2 * last, logLevel: "info", resync: "1m", health: "10s", nodeExtra: "  limits: {qps: 0}\n", topExtra: top})
	waitNodeReady(t, k.node, corev1.ConditionTrue, 30*time.Second)
	pid := k.cmd.Process.Pid
	rss0, _ := procMemory(pid)
	_, cpu0 := procStats(pid)
	c := benchClient(t)
	ns := namespace(t)
	ctx := context.Background()
	for _, cm := range []*corev1.ConfigMap{
		{ObjectMeta: metav1.ObjectMeta{Name: "orders-config", Namespace: ns}, Data: map[string]string{"database.host": "orders-db.shop.svc", "database.port": "5432"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "orders-env", Namespace: ns}, Data: map[string]string{"CACHE_TTL": "30s", "FEATURE_CHECKOUT_V2": "true", "REGION": "eu-west-1", "QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/orders"}},
	} {
		if _, err := c.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	deployments := min(10, sizes[0])
	scale := func(pods int) {
		for i := range deployments {
			replicas := int32(share(pods, deployments, i))
			name := fmt.Sprintf("orders-%02d", i)
			err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
				d, err := c.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					_, err = c.AppsV1().Deployments(ns).Create(ctx, memoryDeployment(ns, k.node, i, replicas), metav1.CreateOptions{})
					return err
				}
				d.Spec.Replicas = &replicas
				_, err = c.AppsV1().Deployments(ns).Update(ctx, d, metav1.UpdateOptions{})
				return err
			})
			if err != nil {
				t.Fatalf("scaling %s to %d: %v", name, replicas, err)
			}
		}
	}
	run := memoryRun{Budget: budget}
	if budget == "" {
		run.Budget = "default"
	}
	for _, pods := range sizes {
		rw := watchRunning(t, c, ns, pods)
		start := time.Now()
		scale(pods)
		select {
		case <-rw.done:
		case <-time.After(15 * time.Minute):
			t.Fatalf("memory: only %d of %d pods Running after 15 min", len(rw.at), pods)
		}
		step := memoryStep{Pods: pods, RunningPerSec: float64(pods) / time.Since(start).Seconds()}
		// Let the rollout's garbage be collected and returned to the
		// system, as in the main scenario.
		time.Sleep(settleTime(pods))
		rss, peak := procMemory(pid)
		_, cpu := procStats(pid)
		step.RSSMiB, step.PeakMiB = rss/1024, peak/1024
		step.KiBPerPod, step.PeakKiBPerPod = (rss-rss0)/float64(pods), peak/float64(pods)
		step.CPUSecPerPod = (cpu - cpu0) / float64(pods)
		run.Steps = append(run.Steps, step)
	}
	// Scale to zero and wait while faas-kubelet still runs (the namespace's
	// cleanup waits only a minute).
	scale(0)
	waitNoPods(t, c, ns, "memory", 2*time.Second)
	return run
}

// settleTime is how long a run waits after its last pod turned Running
// before reading the resident set: the Go runtime returns freed memory to
// the system within minutes; 20 s sufficed in the runs behind the README's
// figures. Small runs (make test) only keep the harness working.
func settleTime(pods int) time.Duration {
	if pods >= 1000 {
		return 20 * time.Second
	}
	return 2 * time.Second
}
