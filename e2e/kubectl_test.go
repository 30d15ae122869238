//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	alibabaemu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/alibaba"
	azureemu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/azure"
)

// This file covers the kubectl commands that reach a function: exec as
// invoke, port-forward, top.

// kubectlIO runs kubectl with stdin, keeping stdout and stderr apart, and
// returns its exit code.
func kubectlIO(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, cluster.kubectl, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+cluster.env["KUBECONFIG"])
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("kubectl %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errb.String(), code
}

// runningPod applies a pod of the given containers and waits for Running.
func runningPod(t *testing.T, ns, name, containers string) *corev1.Pod {
	t.Helper()
	applyYAML(t, ns, fmt.Sprintf(podTemplate, name, containers))
	var pod *corev1.Pod
	eventually(t, 60*time.Second, "pod "+name+" Running", func() (bool, string) {
		p, err := cluster.client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		pod = p
		return p.Status.Phase == corev1.PodRunning, string(p.Status.Phase) + " " + p.Status.Message
	})
	return pod
}

// kubectl exec POD -- invoke calls the function with stdin as payload and
// prints its response; a function error goes to stderr with exit code 1;
// --async prints a request id that the function's log then shows; any
// other command says there is no shell.
func TestExecInvokes(t *testing.T) {
	for _, c := range clouds {
		t.Run(c.name, func(t *testing.T) {
			c.start(t)
			ns := namespace(t)
			runningPod(t, ns, "fn", "  containers:\n  - name: a\n    image: "+c.image+"\n")
			runningPod(t, ns, "failing", "  containers:\n  - name: a\n    image: "+c.image+"\n    env: [{name: EMULATOR_FAIL, value: \"the function gave up\"}]\n")

			out, errOut, code := kubectlIO(t, `{"order":42}`, "exec", "-i", "-n", ns, "fn", "--", "invoke")
			if code != 0 || strings.TrimSpace(out) != `{"order":42}` {
				t.Errorf("invoke: exit %d, stdout %q, stderr %q", code, out, errOut)
			}
			out, errOut, code = kubectlIO(t, `{}`, "exec", "-i", "-n", ns, "failing", "--", "invoke")
			if code != 1 || !strings.Contains(errOut, "the function gave up") || strings.Contains(out, "gave up") {
				t.Errorf("invoke of a failing function: exit %d, stdout %q, stderr %q", code, out, errOut)
			}

			out, errOut, code = kubectlIO(t, `{"later":true}`, "exec", "-i", "-n", ns, "fn", "--", "invoke", "--async")
			id := strings.TrimSpace(out)
			if code != 0 || id == "" || strings.Contains(id, "\n") {
				t.Fatalf("invoke --async: exit %d, stdout %q, stderr %q", code, out, errOut)
			}
			eventually(t, 20*time.Second, "the asynchronous invocation "+id+" in kubectl logs", func() (bool, string) {
				logs, _ := kubectl(t, "logs", "-n", ns, "fn")
				return strings.Contains(logs, id), logs
			})

			out, errOut, code = kubectlIO(t, "", "exec", "-n", ns, "fn", "--", "sh", "-c", "ls")
			if code != 126 || !strings.Contains(errOut, "no shell") || !strings.Contains(errOut, "-- invoke") {
				t.Errorf("exec sh: exit %d, stdout %q, stderr %q", code, out, errOut)
			}
		})
	}
}

// kubectl describe node shows the cloud's service and account, and the
// account's quota where the cloud reports one (Lambda's concurrency:
// capacity the quota, allocatable what no function reserves), refreshed
// at every health check.
func TestNodeShowsAccountAndQuota(t *testing.T) {
	accounts := map[string]string{
		"aws-lambda":      "AWS Lambda, account 123456789012",
		"azure-functions": "Azure Functions, account " + azureemu.DefaultSubscription,
		"alibaba-fc":      "Alibaba Cloud Function Compute, account " + alibabaemu.DefaultAccountID,
	}
	for _, c := range clouds {
		t.Run(c.name, func(t *testing.T) {
			_, k := c.start(t)
			var described string
			eventually(t, 20*time.Second, "the account in kubectl describe node", func() (bool, string) {
				described, _ = kubectl(t, "describe", "node", k.node)
				return strings.Contains(described, "OS Image:                   "+accounts[c.name]) &&
					strings.Contains(described, "Container Runtime Version:  "+c.name+"://"), described
			})
			if c.name != "aws-lambda" {
				if strings.Contains(described, "faas-kubelet.io/concurrent-executions") {
					t.Errorf("a quota is shown for a cloud that reports none:\n%s", described)
				}
				return
			}
			if !strings.Contains(described, "faas-kubelet.io/concurrent-executions:  1k") {
				t.Errorf("Lambda's concurrency quota not shown:\n%s", described)
			}
			ns := namespace(t)
			applyYAML(t, ns, strings.Replace(fmt.Sprintf(podTemplate, "reserved250", "  containers:\n  - name: a\n    image: "+c.image+"\n"),
				"metadata: {name: reserved250}", "metadata: {name: reserved250, annotations: {faas-kubelet.io/reserved-concurrency: \"250\"}}", 1))
			eventually(t, 30*time.Second, "allocatable concurrency 750 after a function reserves 250", func() (bool, string) {
				out, _ := kubectl(t, "get", "node", k.node, "-o", `jsonpath={.status.capacity.faas-kubelet\.io/concurrent-executions} {.status.allocatable.faas-kubelet\.io/concurrent-executions}`)
				return strings.TrimSpace(out) == "1k 750", out // 1000 in Kubernetes' canonical form
			})
		})
	}
}
