//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"regexp"
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
// --async prints a request id that the function's log then shows (Azure
// refuses it, saying why); any other command says there is no shell.
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

			out, errOut, code = kubectlIO(t, "", "exec", "-n", ns, "fn", "--", "sh", "-c", "ls")
			if code != 126 || !strings.Contains(errOut, "no shell") || !strings.Contains(errOut, "-- invoke") {
				t.Errorf("exec sh: exit %d, stdout %q, stderr %q", code, out, errOut)
			}

			out, errOut, code = kubectlIO(t, `{"later":true}`, "exec", "-i", "-n", ns, "fn", "--", "invoke", "--async")
			if c.name == "azure-functions" {
				// The Functions host's admin API runs non-HTTP triggers only;
				// an app's HTTP trigger runs synchronously.
				if code == 0 || !strings.Contains(errOut, "synchronously") {
					t.Errorf("invoke --async on Azure: exit %d, stdout %q, stderr %q; want a refusal saying why", code, out, errOut)
				}
				return
			}
			id := strings.TrimSpace(out)
			if code != 0 || id == "" || strings.Contains(id, "\n") {
				t.Fatalf("invoke --async: exit %d, stdout %q, stderr %q", code, out, errOut)
			}
			eventually(t, 20*time.Second, "the asynchronous invocation "+id+" in kubectl logs", func() (bool, string) {
				logs, _ := kubectl(t, "logs", "-n", ns, "fn")
				return strings.Contains(logs, id), logs
			})

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

// kubectl port-forward POD :PORT: HTTP requests sent to the local port
// reach the function's HTTP endpoint (Lambda: a function URL event; Azure
// and FC: the HTTP trigger) and the responses come back, several requests
// on one connection.
func TestPortForwardReachesTheFunction(t *testing.T) {
	paths := map[string]string{"aws-lambda": "/orders?id=7", "azure-functions": "/api/web?id=7", "alibaba-fc": "/orders?id=7"}
	for _, c := range clouds {
		t.Run(c.name, func(t *testing.T) {
			c.start(t)
			ns := namespace(t)
			runningPod(t, ns, "web", "  containers:\n  - name: web\n    image: "+c.image+"\n    ports: [{containerPort: 8080}]\n")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			out := kubectlStream(ctx, t, "port-forward", "-n", ns, "pod/web", ":8080")
			var local string
			eventually(t, 20*time.Second, "kubectl port-forward listening", func() (bool, string) {
				m := regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+) -> 8080`).FindStringSubmatch(out.String())
				if m != nil {
					local = m[1]
				}
				return m != nil, out.String()
			})
			var reused []bool
			trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = append(reused, i.Reused) }}
			client := &http.Client{Timeout: 30 * time.Second}
			for i := range 3 {
				body := fmt.Sprintf(`{"order":%d}`, i)
				req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodPost, "http://127.0.0.1:"+local+paths[c.name], strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					t.Fatalf("request %d through port-forward: %v\n%s", i, err, out.String())
				}
				data, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("request %d: HTTP %d %s", i, resp.StatusCode, data)
				}
				switch c.name {
				case "aws-lambda": // the emulated function echoes its event
					var ev struct {
						RawPath, RawQueryString, Body string
						RequestContext                struct{ HTTP struct{ Method string } }
					}
					if err := json.Unmarshal(data, &ev); err != nil || ev.RawPath != "/orders" || ev.RawQueryString != "id=7" || ev.Body != body || ev.RequestContext.HTTP.Method != "POST" {
						t.Errorf("request %d: the function saw %s", i, data)
					}
				default: // the emulated trigger echoes the body
					if string(data) != body {
						t.Errorf("request %d: response %q, want %q", i, data, body)
					}
				}
			}
			if len(reused) != 3 || !reused[1] || !reused[2] {
				t.Errorf("connections reused: %v (want one connection for all three requests)", reused)
			}
		})
	}
}

// When a Secret a running pod's env reads changes, the function's
// environment follows (the emulated functions log their EMULATOR_LOG
// variable at every invocation) and an event says so.
func TestEnvFollowsSecrets(t *testing.T) {
	for _, c := range clouds {
		t.Run(c.name, func(t *testing.T) {
			c.start(t)
			ns := namespace(t)
			secret := "apiVersion: v1\nkind: Secret\nmetadata: {name: cfg}\nstringData: {msg: %s}\n"
			applyYAML(t, ns, fmt.Sprintf(secret, "config-one"))
			runningPod(t, ns, "reader", "  containers:\n  - name: a\n    image: "+c.image+
				"\n    env: [{name: EMULATOR_LOG, valueFrom: {secretKeyRef: {name: cfg, key: msg}}}]\n")
			invokedWith := func(want string) func() (bool, string) {
				return func() (bool, string) {
					if _, errOut, code := kubectlIO(t, "{}", "exec", "-i", "-n", ns, "reader", "--", "invoke"); code != 0 {
						return false, errOut
					}
					logs, _ := kubectl(t, "logs", "-n", ns, "reader")
					return strings.Contains(logs, want), logs
				}
			}
			applyYAML(t, ns, functionDeployment("fleet", 3, "        image: "+c.image+"\n        ports: [{containerPort: 8080}]\n"+
				"        env: [{name: EMULATOR_LOG, valueFrom: {secretKeyRef: {name: cfg, key: msg}}}]\n")+
				"---\napiVersion: v1\nkind: Service\nmetadata: {name: fleet}\nspec:\n  selector: {app: fleet}\n  ports: [{port: 80, targetPort: 8080}]\n")
			eventually(t, 60*time.Second, "3 pods of fleet Running", func() (bool, string) {
				running, desc := runningPods(t, ns, "app=fleet")
				return len(running) == 3, desc
			})
			endpoints := serviceEndpoints(t, ns, "fleet", 3)
			client := &http.Client{Timeout: 30 * time.Second}
			call := func() string {
				req, _ := http.NewRequest(http.MethodPost, "http://"+endpoints[0]+httpPaths("fleet")[c.name], strings.NewReader(`{"call":1}`))
				req.Host = "fleet." + ns + ".svc.cluster.local"
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					return err.Error()
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					return fmt.Sprintf("HTTP %d", resp.StatusCode)
				}
				return ""
			}
			if failed := call(); failed != "" {
				t.Fatalf("the Service's gateway before the update: %s", failed)
			}
			eventually(t, 30*time.Second, "the function logging the Secret's first value", invokedWith("config-one"))
			// While the functions are updated, every replica stays Ready and
			// the Service's gateway answers: the previous configuration
			// serves until the update is done.
			stop, sampled := make(chan struct{}), make(chan string, 1)
			go func() {
				var lost []string
				for {
					select {
					case <-stop:
						sampled <- strings.Join(lost, "; ")
						return
					case <-time.After(200 * time.Millisecond):
					}
					if running, desc := runningPods(t, ns, "app=fleet"); len(running) != 3 {
						lost = append(lost, desc)
					}
					if failed := call(); failed != "" {
						lost = append(lost, "the gateway answered "+failed)
					}
				}
			}()
			applyYAML(t, ns, fmt.Sprintf(secret, "config-two"))
			eventually(t, 60*time.Second, "the function logging the Secret's new value", invokedWith("config-two"))
			eventually(t, 30*time.Second, "FunctionEnvUpdated on the 3 pods of fleet", func() (bool, string) {
				out, _ := kubectl(t, "get", "events", "-n", ns, "--field-selector", "reason=FunctionEnvUpdated", "-o", "custom-columns=NAME:.involvedObject.name", "--no-headers")
				return strings.Count(out, "fleet-") >= 3, out
			})
			close(stop)
			if lost := <-sampled; lost != "" {
				t.Errorf("replicas left Ready or calls failed during the Secret's update: %s", lost)
			}
			eventually(t, 10*time.Second, "a FunctionEnvUpdated event on the pod", func() (bool, string) {
				out, _ := kubectl(t, "get", "events", "-n", ns, "--field-selector", "involvedObject.name=reader", "-o", "custom-columns=REASON:.reason,MESSAGE:.message", "--no-headers")
				return strings.Contains(out, "FunctionEnvUpdated") && strings.Contains(out, "EnvSourceChanged"), out
			})
		})
	}
}

// A Service reaches function pods: their endpoints lead to the node's
// gateway, which sends each request to one of the Service's Ready pods,
// round robin. The client here does what kube-proxy does: it takes the
// Service's ready endpoints from its EndpointSlices and connects to them
// (no container runtime runs on these machines to host kube-proxy's
// rules), calling the Service by its DNS name.
func TestServicesReachFunctions(t *testing.T) {
	paths := httpPaths("web")
	for _, c := range clouds {
		t.Run(c.name, func(t *testing.T) {
			c.start(t)
			ns := namespace(t)
			applyYAML(t, ns, functionDeployment("web", 2, "        image: "+c.image+"\n        ports: [{containerPort: 8080}]\n")+`---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`)
			endpoints := serviceEndpoints(t, ns, "web", 2)
			client := &http.Client{Timeout: 30 * time.Second}
			served := map[string]int{}
			for i := range 6 {
				body := fmt.Sprintf(`{"call":%d}`, i)
				req, _ := http.NewRequest(http.MethodPost, "http://"+endpoints[i%len(endpoints)]+paths[c.name], strings.NewReader(body))
				req.Host = "web." + ns + ".svc.cluster.local"
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					t.Fatalf("call %d to %s: %v", i, endpoints[i%len(endpoints)], err)
				}
				data, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || !strings.Contains(string(data), "call") {
					t.Fatalf("call %d: HTTP %d %s", i, resp.StatusCode, data)
				}
				served[resp.Header.Get("X-Faas-Kubelet-Pod")]++
			}
			if len(served) != 2 {
				t.Errorf("calls served by %v, want both pods of the Service", served)
			}
			for pod, n := range served {
				if !strings.HasPrefix(pod, ns+"/web-") || n != 3 {
					t.Errorf("pod %s served %d of 6 calls (round robin gives 3 each)", pod, n)
				}
			}
		})
	}
}

// httpPaths are, per cloud, a path the function of app serves over HTTP
// (Azure's HTTP trigger is /api/<function name>).
func httpPaths(app string) map[string]string {
	return map[string]string{"aws-lambda": "/orders", "azure-functions": "/api/" + app, "alibaba-fc": "/orders"}
}

// serviceEndpoints waits for want ready endpoints of the Service and
// returns their addresses (host:port), as kube-proxy would take them.
func serviceEndpoints(t *testing.T, ns, svc string, want int) []string {
	t.Helper()
	var endpoints []string
	eventually(t, 90*time.Second, fmt.Sprintf("%d ready endpoints for Service %s", want, svc), func() (bool, string) {
		slices, err := cluster.client.DiscoveryV1().EndpointSlices(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=" + svc})
		if err != nil {
			return false, err.Error()
		}
		endpoints = nil
		ready := 0
		for _, s := range slices.Items {
			for _, e := range s.Endpoints {
				if e.Conditions.Ready == nil || !*e.Conditions.Ready {
					continue
				}
				ready++
				for _, p := range s.Ports {
					for _, a := range e.Addresses {
						endpoints = append(endpoints, net.JoinHostPort(a, fmt.Sprint(*p.Port)))
					}
				}
			}
		}
		return ready == want, fmt.Sprintf("%d ready: %v", ready, endpoints)
	})
	return endpoints
}
