//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// This file covers the parts of the pod surface a kubelet offers that
// people reach with kubectl: logs after a restart, exec with a terminal.

// After a restart, logs of a Job that finished before it still come from
// the function (the kubelet serves a terminated container's log), and
// --tail=0 prints nothing, as the kubelet's does.
func TestLogsOfFinishedJobsAfterARestart(t *testing.T) {
	for _, c := range clouds {
		t.Run(c.name, func(t *testing.T) {
			_, k := c.start(t)
			ns := namespace(t)
			applyYAML(t, ns, strings.ReplaceAll(fmt.Sprintf(jobYAML, "done", ""), ecrImage, c.image))
			eventually(t, 90*time.Second, "job done Complete", func() (bool, string) {
				got, desc := jobCondition(t, ns, "done")
				return got == batchv1.JobComplete, desc
			})
			eventually(t, 30*time.Second, "kubectl logs job/done to show the invocation", func() (bool, string) {
				out, _ := kubectl(t, "logs", "-n", ns, "job/done")
				return strings.Contains(out, c.invocationLog), out
			})
			if out, errOut, code := kubectlIO(t, "", "logs", "-n", ns, "job/done", "--tail=0"); code != 0 || out != "" {
				t.Errorf("kubectl logs --tail=0: exit %d, stdout %q, stderr %q; want nothing, as the kubelet gives", code, out, errOut)
			}

			k.kill(t)
			k.start(t)
			k.waitStarted(t)
			eventually(t, 60*time.Second, "kubectl logs job/done after the restart", func() (bool, string) {
				out, errOut, _ := kubectlIO(t, "", "logs", "-n", ns, "job/done")
				return strings.Contains(out, c.invocationLog), out + errOut
			})
			// A follow of a finished pod's log ends with the log.
			out, errOut, code := kubectlIO(t, "", "logs", "-n", ns, "job/done", "-f")
			if code != 0 || !strings.Contains(out, c.invocationLog) {
				t.Errorf("kubectl logs -f of a finished pod: exit %d, stdout %q, stderr %q", code, out, errOut)
			}
		})
	}
}

// kubectl exec -it POD -- invoke under a pseudo-terminal: the terminal is
// in raw mode and stdin never ends, so the payload is the line typed;
// Enter sends it and the response is printed; Ctrl-C cancels with exit
// code 130 and invokes nothing.
func TestExecWithATerminal(t *testing.T) {
	for _, c := range clouds {
		t.Run(c.name, func(t *testing.T) {
			emu, _ := c.start(t)
			ns := namespace(t)
			runningPod(t, ns, "fn", "  containers:\n  - name: a\n    image: "+c.image+"\n")

			term := startInTerminal(t, "exec", "-it", "-n", ns, "fn", "--", "invoke")
			term.await(t, "payload (one line")
			term.send(t, `{"typed":7}`+"\r")
			code, screen := term.wait(t)
			if code != 0 || !strings.Contains(screen, `{"typed":7}`+"\r\n") || strings.Count(screen, `"typed":7`) < 2 {
				t.Errorf("exec -it, a line and Enter: exit %d, terminal:\n%q\nwant the echoed line and the response", code, screen)
			}

			before := emu.callsOf(t, c.name)[c.invokeOp]
			term = startInTerminal(t, "exec", "-it", "-n", ns, "fn", "--", "invoke")
			term.await(t, "payload (one line")
			term.send(t, `{"half":`+"\x03")
			if code, screen := term.wait(t); code != 130 {
				t.Errorf("exec -it, Ctrl-C: exit %d, terminal:\n%q\nwant 130", code, screen)
			}
			if after := emu.callsOf(t, c.name)[c.invokeOp]; after != before {
				t.Errorf("Ctrl-C invoked the function (%s %d → %d)", c.invokeOp, before, after)
			}
		})
	}
}

// terminal is kubectl running on a pseudo-terminal, as in a person's shell.
type terminal struct {
	master *os.File
	cmd    *exec.Cmd
	mu     sync.Mutex
	screen bytes.Buffer
	done   chan struct{}
}

// startInTerminal runs kubectl with a new pseudo-terminal as its
// controlling terminal and standard streams.
func startInTerminal(t *testing.T, args ...string) *terminal {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("opening a pseudo-terminal: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlocking the pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("naming the pseudo-terminal: %v", err)
	}
	slave, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("opening the terminal side: %v", err)
	}
	defer slave.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, cluster.kubectl, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+cluster.env["KUBECONFIG"], "TERM=xterm")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	term := &terminal{master: master, cmd: cmd, done: make(chan struct{})}
	go func() {
		defer close(term.done)
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			term.mu.Lock()
			term.screen.Write(buf[:n])
			term.mu.Unlock()
			if err != nil {
				return // EIO once kubectl and its terminal are gone
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		_ = master.Close()
	})
	return term
}

func (term *terminal) shown() string {
	term.mu.Lock()
	defer term.mu.Unlock()
	return term.screen.String()
}

// await waits until the terminal shows text.
func (term *terminal) await(t *testing.T, text string) {
	t.Helper()
	eventually(t, 30*time.Second, "the terminal to show "+text, func() (bool, string) {
		s := term.shown()
		return strings.Contains(s, text), s
	})
}

// send types keys.
func (term *terminal) send(t *testing.T, keys string) {
	t.Helper()
	if _, err := term.master.Write([]byte(keys)); err != nil {
		t.Fatal(err)
	}
}

// wait waits for kubectl to exit and returns its exit code and what the
// terminal showed.
func (term *terminal) wait(t *testing.T) (int, string) {
	t.Helper()
	err := term.cmd.Wait()
	var exit *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("kubectl: %v", err)
	}
	select {
	case <-term.done:
	case <-time.After(5 * time.Second):
	}
	return code, term.shown()
}

// kubeletJob is a Job whose pod runs on any virtual node: %[1]s name,
// %[2]s the Job's spec fields, %[3]s the pod template's annotations,
// %[4]s the pod spec's fields, %[5]s the image, %[6]s the container's env.
const kubeletJob = `apiVersion: batch/v1
kind: Job
metadata: {name: %[1]s}
spec:
%[2]s
  template:
    metadata:
      annotations: %[3]s
    spec:
%[4]s
      terminationGracePeriodSeconds: 2
      nodeSelector: {type: virtual-kubelet}
      tolerations:
      - {key: virtual-kubelet.io/provider, operator: Exists, effect: NoSchedule}
      containers:
      - name: task
        image: %[5]s
        env: %[6]s
`

// jobPod is the newest pod of a Job.
func jobPod(t *testing.T, ns, job string) *corev1.Pod {
	t.Helper()
	pods := listPods(t, ns, "job-name="+job)
	if len(pods) == 0 {
		return nil
	}
	newest := &pods[0]
	for i := range pods[1:] {
		if p := &pods[i+1]; p.CreationTimestamp.After(newest.CreationTimestamp.Time) {
			newest = p
		}
	}
	return newest
}

// A Job's pod ends as a kubelet's container would: a timed-out invocation
// exits 124 (FunctionTimeout), which a podFailurePolicy matches; a pod past
// its activeDeadlineSeconds fails DeadlineExceeded; between OnFailure
// retries the container waits in CrashLoopBackOff with its restarts
// counted and the last exit code kept.
func TestJobsEndLikeAKubeletsContainers(t *testing.T) {
	for _, c := range clouds {
		t.Run(c.name, func(t *testing.T) {
			c.start(t)
			ns := namespace(t)
			failOn124 := "  backoffLimit: 3\n  podFailurePolicy:\n    rules:\n    - action: FailJob\n      onExitCodes: {containerName: task, operator: In, values: [124]}"
			applyYAML(t, ns, fmt.Sprintf(kubeletJob, "slow", failOn124,
				`{faas-kubelet.io/timeout: "1", faas-kubelet.io/payload: '{"sleepMs": 4000}'}`, "      restartPolicy: Never", c.image, "[]"))
			applyYAML(t, ns, fmt.Sprintf(kubeletJob, "late", "  backoffLimit: 0",
				`{faas-kubelet.io/timeout: "30", faas-kubelet.io/payload: '{"sleepMs": 25000}'}`, "      restartPolicy: Never\n      activeDeadlineSeconds: 3", c.image, "[]"))
			// The Job controller counts an OnFailure pod's restarts against
			// backoffLimit, and deletes the pod when they pass it.
			applyYAML(t, ns, fmt.Sprintf(kubeletJob, "flaky", "  backoffLimit: 6",
				`{}`, "      restartPolicy: OnFailure", c.image, `[{name: EMULATOR_FAIL, value: "not yet"}]`))

			eventually(t, 90*time.Second, "job slow failed by its podFailurePolicy", func() (bool, string) {
				j, err := cluster.client.BatchV1().Jobs(ns).Get(context.Background(), "slow", metav1.GetOptions{})
				if err != nil {
					return false, err.Error()
				}
				for _, cond := range j.Status.Conditions {
					if cond.Type == batchv1.JobFailed && cond.Status == corev1.ConditionTrue {
						return cond.Reason == "PodFailurePolicy", cond.Reason + ": " + cond.Message
					}
				}
				return false, fmt.Sprintf("%+v", j.Status.Conditions)
			})
			if pods := listPods(t, ns, "job-name=slow"); len(pods) != 1 {
				t.Errorf("job slow ran %d pods; FailJob on exit code 124 stops at the first", len(pods))
			} else if term := pods[0].Status.ContainerStatuses[0].State.Terminated; term == nil || term.ExitCode != 124 || term.Reason != "FunctionTimeout" {
				t.Errorf("timed-out pod's container: %+v, want terminated 124 FunctionTimeout", pods[0].Status.ContainerStatuses[0].State)
			}

			eventually(t, 60*time.Second, "job late's pod DeadlineExceeded", func() (bool, string) {
				p := jobPod(t, ns, "late")
				if p == nil {
					return false, "no pod"
				}
				return p.Status.Phase == corev1.PodFailed && p.Status.Reason == "DeadlineExceeded", string(p.Status.Phase) + " " + p.Status.Reason + " " + p.Status.Message
			})

			eventually(t, 60*time.Second, "job flaky's pod in CrashLoopBackOff", func() (bool, string) {
				p := jobPod(t, ns, "flaky")
				if p == nil {
					return false, "no pod"
				}
				if len(p.Status.ContainerStatuses) == 0 {
					return false, "no container status: " + string(p.Status.Phase)
				}
				s := p.Status.ContainerStatuses[0]
				desc := fmt.Sprintf("%s restarts %d state %+v last %+v", p.Status.Phase, s.RestartCount, s.State, s.LastTerminationState)
				return s.State.Waiting != nil && s.State.Waiting.Reason == "CrashLoopBackOff" && s.RestartCount >= 1 &&
					s.LastTerminationState.Terminated != nil && s.LastTerminationState.Terminated.ExitCode == 1 &&
					p.Status.Phase == corev1.PodRunning && !s.Ready, desc
			})
		})
	}
}

// A single-architecture image built for another architecture than the
// function's is accepted by Lambda and fails at every invocation, so the
// node reads the image's config from ECR first: a Deployment's pod and a
// Job's pod of such an image wait FunctionImageError naming the image's
// architecture and the field that chooses the function's, with no
// CreateFunction; once an image of the function's architecture is pushed
// under that name, the same pods run (the Deployment's Ready, the Job
// complete).
func TestLambdaImageOfAnotherArchitecture(t *testing.T) {
	c := clouds[0]
	if c.name != "aws-lambda" {
		t.Fatalf("clouds[0] is %s, want aws-lambda", c.name)
	}
	emu, _ := c.start(t)
	push := func(arch string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPut, emu.endpoint+"/_emulator/images", strings.NewReader(fmt.Sprintf(`{"architectures": {%q: %q}}`, c.image, arch)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("PUT /_emulator/images: HTTP %d", resp.StatusCode)
		}
	}
	push("arm64")
	ns := namespace(t)
	applyYAML(t, ns, deployment("", "arch-web", c.image, 1, "", ""))
	applyYAML(t, ns, fmt.Sprintf(kubeletJob, "arch", "  backoffLimit: 0", `{}`, "      restartPolicy: Never", c.image, "[]"))
	for _, selector := range []string{"app=arch-web", "job-name=arch"} {
		eventually(t, 60*time.Second, selector+" waiting FunctionImageError for the image's architecture", func() (bool, string) {
			pods, desc, _ := waitingPods(t, ns, selector)
			return allWaiting(pods, 1, "FunctionImageError", "is built for arm64, not for amd64") &&
				strings.Contains(desc, "faas-kubelet.io/architecture"), desc
		})
	}
	if n := emu.calls(t)["CreateFunction"]; n != 0 {
		t.Errorf("%d CreateFunction calls for pods whose image Lambda would not start", n)
	}
	_, _, uids := waitingPods(t, ns, "app=arch-web")

	push("x86_64")
	eventually(t, 90*time.Second, "the Deployment's pod Running and Ready", func() (bool, string) {
		running, desc := runningPods(t, ns, "app=arch-web")
		return len(running) == 1, desc
	})
	if _, _, now := waitingPods(t, ns, "app=arch-web"); !slices.Equal(now, uids) {
		t.Errorf("the Deployment's pods went from %v to %v; want the same pod to run", uids, now)
	}
	eventually(t, 90*time.Second, "the Job to complete", func() (bool, string) {
		cond, msg := jobCondition(t, ns, "arch")
		return cond == batchv1.JobComplete, msg
	})
}

// envOf invokes the pod's function with {"env": true} (the emulators
// answer the function's environment) and returns it.
func envOf(t *testing.T, ns, pod string) map[string]string {
	t.Helper()
	out, errOut, code := kubectlIO(t, `{"env": true}`, "exec", "-i", "-n", ns, pod, "--", "invoke")
	if code != 0 {
		t.Fatalf("invoke {\"env\": true} on %s: exit %d, stderr %q", pod, code, errOut)
	}
	env := map[string]string{}
	if err := json.Unmarshal([]byte(out), &env); err != nil {
		t.Fatalf("the function's environment %q: %v", out, err)
	}
	return env
}

// The Downward API resolves as the kubelet resolves it: the pod's and
// host's IP are the node's address (what the pod's status reports), names,
// labels, resource limits with a divisor, envFrom with a prefix and
// $(VAR) expansion all reach the function. An env whose ConfigMap does not
// exist waits CreateContainerConfigError naming the field, and runs once
// the ConfigMap is created.
func TestDownwardAPIReachesTheFunction(t *testing.T) {
	for _, c := range clouds {
		t.Run(c.name, func(t *testing.T) {
			c.start(t)
			ns := namespace(t)
			applyYAML(t, ns, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {MODE: fast}\n")
			pod := runningPod(t, ns, "downward", `  containers:
  - name: a
    image: `+c.image+`
    resources: {limits: {memory: 512Mi}}
    envFrom: [{prefix: CM_, configMapRef: {name: settings}}]
    env:
    - {name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
    - {name: HOST_IP, valueFrom: {fieldRef: {fieldPath: status.hostIP}}}
    - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: POD_NS, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
    - {name: NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
    - {name: MEMORY_MI, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}}
    - {name: SELF_URL, value: "http://$(POD_IP):8080/$(POD_NAME)"}
`)
			env := envOf(t, ns, "downward")
			want := map[string]string{
				"POD_IP": pod.Status.PodIP, "HOST_IP": pod.Status.HostIP, "POD_NAME": "downward", "POD_NS": ns,
				"NODE": pod.Spec.NodeName, "MEMORY_MI": "512", "CM_MODE": "fast",
				"SELF_URL": "http://" + pod.Status.PodIP + ":8080/downward",
			}
			if pod.Status.PodIP == "" || pod.Status.PodIP != pod.Status.HostIP {
				t.Errorf("pod IP %q, host IP %q: want both the node's address", pod.Status.PodIP, pod.Status.HostIP)
			}
			for k, v := range want {
				if env[k] != v {
					t.Errorf("function env %s = %q, want %q", k, env[k], v)
				}
			}

			applyYAML(t, ns, fmt.Sprintf(podTemplate, "later", `  containers:
  - name: a
    image: `+c.image+`
    env:
    - {name: GREETING, valueFrom: {configMapKeyRef: {name: later, key: greeting}}}
`))
			eventually(t, 30*time.Second, "pod later waiting CreateContainerConfigError", func() (bool, string) {
				p, err := cluster.client.CoreV1().Pods(ns).Get(context.Background(), "later", metav1.GetOptions{})
				if err != nil || len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].State.Waiting == nil {
					return false, fmt.Sprintf("%v %+v", err, p.Status)
				}
				w := p.Status.ContainerStatuses[0].State.Waiting
				return p.Status.Phase == corev1.PodPending && w.Reason == "CreateContainerConfigError" &&
					strings.Contains(w.Message, "spec.containers[0].env[0].valueFrom.configMapKeyRef") && strings.Contains(w.Message, `"later"`), w.Reason + ": " + w.Message
			})
			applyYAML(t, ns, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: later}\ndata: {greeting: hello}\n")
			eventually(t, 60*time.Second, "pod later Running once its ConfigMap exists", func() (bool, string) {
				p, err := cluster.client.CoreV1().Pods(ns).Get(context.Background(), "later", metav1.GetOptions{})
				if err != nil {
					return false, err.Error()
				}
				return p.Status.Phase == corev1.PodRunning, string(p.Status.Phase)
			})
			if got := envOf(t, ns, "later")["GREETING"]; got != "hello" {
				t.Errorf("GREETING = %q, want the ConfigMap's value", got)
			}
		})
	}
}
