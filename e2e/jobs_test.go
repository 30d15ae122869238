//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const jobYAML = `apiVersion: batch/v1
kind: Job
metadata: {name: %[1]s}
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 2
      nodeSelector: {type: virtual-kubelet}
      tolerations:
      - {key: virtual-kubelet.io/provider, operator: Exists, effect: NoSchedule}
      containers:
      - name: task
        image: ` + ecrImage + `
        env: [{name: EMULATOR_FAIL, value: "%[2]s"}]
`

func jobCondition(t *testing.T, ns, name string) (batchv1.JobConditionType, string) {
	t.Helper()
	j, err := cluster.client.BatchV1().Jobs(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return "", err.Error()
	}
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return c.Type, c.Reason + ": " + c.Message
		}
	}
	return "", fmt.Sprintf("succeeded=%d failed=%d active=%d", j.Status.Succeeded, j.Status.Failed, j.Status.Active)
}

// A succeeding Job completes after one invocation; a failing one fails with
// the function's error on its pod; the invocation's output is in kubectl logs.
func TestJobs(t *testing.T) {
	for _, c := range clouds {
		t.Run(c.name, func(t *testing.T) { testJobs(t, c) })
	}
}

func testJobs(t *testing.T, c cloudUnderTest) {
	emu, _ := c.start(t)
	ns := namespace(t)
	applyYAML(t, ns, strings.ReplaceAll(fmt.Sprintf(jobYAML, "ok", ""), ecrImage, c.image))
	applyYAML(t, ns, strings.ReplaceAll(fmt.Sprintf(jobYAML, "broken", "disk full"), ecrImage, c.image))

	for name, want := range map[string]batchv1.JobConditionType{"ok": batchv1.JobComplete, "broken": batchv1.JobFailed} {
		eventually(t, 90*time.Second, "job "+name+" "+string(want), func() (bool, string) {
			got, desc := jobCondition(t, ns, name)
			return got == want, desc
		})
	}
	failed := listPods(t, ns, "job-name=broken")
	if len(failed) != 1 {
		t.Fatalf("%d pods for the failed job", len(failed))
	}
	term := failed[0].Status.ContainerStatuses[0].State.Terminated
	if failed[0].Status.Phase != corev1.PodFailed || term == nil || term.ExitCode != 1 || !strings.Contains(term.Message, "disk full") {
		t.Errorf("failed job pod: phase %s container %+v", failed[0].Status.Phase, failed[0].Status.ContainerStatuses[0])
	}
	ok := listPods(t, ns, "job-name=ok")
	if len(ok) != 1 || ok[0].Status.Phase != corev1.PodSucceeded || ok[0].Status.ContainerStatuses[0].State.Terminated.ExitCode != 0 {
		t.Errorf("completed job pod: %+v", ok)
	}
	eventually(t, 30*time.Second, "kubectl logs job/ok to show the invocation", func() (bool, string) {
		out, _ := kubectl(t, "logs", "-n", ns, "job/ok")
		return strings.Contains(out, c.invocationLog), out
	})
	if n := emu.callsOf(t, c.name)[c.invokeOp]; n != 2 {
		t.Errorf("%s calls = %d, want exactly one per Job", c.invokeOp, n)
	}
}

// kubectl logs reads the cloud's log service (CloudWatch Logs, Log
// Service) with --tail, --timestamps, --since and --limit-bytes, and -f
// shows a line written after it started.
func TestLogs(t *testing.T) {
	for _, c := range clouds {
		if c.name == "azure-functions" {
			continue // Azure's logs are covered by TestRefusalsAndLogsOnEveryCloud (Kudu's log stream)
		}
		t.Run(c.name, func(t *testing.T) { testLogs(t, c) })
	}
}

func testLogs(t *testing.T, c cloudUnderTest) {
	emu, _ := c.start(t)
	ns := namespace(t)
	applyYAML(t, ns, fmt.Sprintf(podTemplate, "talker", "  containers:\n  - name: a\n    image: "+c.image+"\n    env: [{name: EMULATOR_LOG, value: \"hello from the function\"}]\n"))
	var pod *corev1.Pod
	eventually(t, 60*time.Second, "pod talker Running", func() (bool, string) {
		p, err := cluster.client.CoreV1().Pods(ns).Get(context.Background(), "talker", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		pod = p
		return p.Status.Phase == corev1.PodRunning, string(p.Status.Phase)
	})
	for i := 0; i < 3; i++ {
		c.invoke(t, emu, functionNameOf(pod))
	}
	all := mustKubectl(t, "logs", "-n", ns, "talker")
	if strings.Count(all, "hello from the function") != 3 {
		t.Errorf("kubectl logs:\n%s", all)
	}
	tail := strings.Split(strings.TrimSpace(mustKubectl(t, "logs", "-n", ns, "talker", "--tail=2")), "\n")
	if len(tail) != 2 || !strings.HasPrefix(tail[1], c.invocationLog) {
		t.Errorf("--tail=2: %q, want the last line to start with %q", tail, c.invocationLog)
	}
	stamped := mustKubectl(t, "logs", "-n", ns, "talker", "--tail=1", "--timestamps")
	if _, err := time.Parse(time.RFC3339Nano, strings.SplitN(stamped, " ", 2)[0]); err != nil {
		t.Errorf("--timestamps: %q (%v)", stamped, err)
	}
	if out := mustKubectl(t, "logs", "-n", ns, "talker", "--since=1h"); strings.Count(out, "hello from the function") != 3 {
		t.Errorf("--since=1h:\n%s", out)
	}
	if out := mustKubectl(t, "logs", "-n", ns, "talker", "--limit-bytes=20"); len(out) != 20 {
		t.Errorf("--limit-bytes=20 gave %d bytes: %q", len(out), out)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	follow := kubectlStream(ctx, t, "logs", "-n", ns, "talker", "-f", "--tail=1")
	time.Sleep(2 * time.Second)
	c.invoke(t, emu, functionNameOf(pod))
	eventually(t, 15*time.Second, "kubectl logs -f to show the new invocation", func() (bool, string) {
		got := follow.String()
		return strings.Contains(got, "hello from the function"), got
	})
}
