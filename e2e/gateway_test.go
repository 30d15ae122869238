//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// webService is a Deployment "web" of one function pod serving port 8080
// and a Service "web" for it.
func webService(image string) string {
	return functionDeployment("web", 1, "        image: "+image+"\n        ports: [{containerPort: 8080}]\n") + `---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`
}

// gatewayCall sends a request to the gateway at endpoint with Host, and
// returns the status, the pod that served it and the body.
func gatewayCall(t *testing.T, endpoint, path, host string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+endpoint+path, strings.NewReader(`{"call":1}`))
	req.Host = host
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("request to %s with Host %s: %v", endpoint, host, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("X-Faas-Kubelet-Pod"), string(body)
}

// The gateway routes by Service and never across namespaces: two
// namespaces each have a Service "web" whose pods share the node's address
// and port, as kube-proxy and an Ingress controller reach them. A request
// naming a Service (cluster name, namespaced name, ClusterIP) reaches only
// that Service's pod; a name two namespaces share, and a Host that names
// no Service while two are there, are refused with a 404 saying how to
// ask; a Service of a third namespace without pods on the node is not
// served by the others' pods. Once only one Service is left on the port,
// an Ingress-style Host and the endpoint address itself reach it.
func TestGatewayHonoursNamespaces(t *testing.T) {
	paths := httpPaths("web")
	for _, c := range clouds {
		t.Run(c.name, func(t *testing.T) {
			c.start(t)
			shop, blog, empty := namespace(t), namespace(t), namespace(t)
			applyYAML(t, shop, webService(c.image))
			applyYAML(t, blog, webService(c.image))
			applyYAML(t, empty, "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  selector: {app: nothing-here}\n  ports: [{port: 80, targetPort: 8080}]\n")
			endpoint := serviceEndpoints(t, shop, "web", 1)[0]
			serviceEndpoints(t, blog, "web", 1)
			svc, err := cluster.client.CoreV1().Services(shop).Get(context.Background(), "web", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}

			for _, host := range []string{"web." + shop + ".svc.cluster.local", "web." + shop, svc.Spec.ClusterIP, svc.Spec.ClusterIP + ":80"} {
				code, pod, body := gatewayCall(t, endpoint, paths[c.name], host)
				if code != http.StatusOK || !strings.HasPrefix(pod, shop+"/web-") {
					t.Errorf("Host %s: HTTP %d served by %q (%s); want namespace %s's pod", host, code, pod, body, shop)
				}
			}
			if code, pod, body := gatewayCall(t, endpoint, paths[c.name], "web."+blog+".svc"); code != http.StatusOK || !strings.HasPrefix(pod, blog+"/web-") {
				t.Errorf("Host web.%s.svc: HTTP %d served by %q (%s); want namespace %s's pod", blog, code, pod, body, blog)
			}
			for host, want := range map[string]string{
				"web":                                 "<service>.<namespace>",
				"shop.example.com":                    "<service>.<namespace>",
				"web." + empty + ".svc.cluster.local": "no endpoint",
			} {
				code, pod, body := gatewayCall(t, endpoint, paths[c.name], host)
				if code != http.StatusNotFound || pod != "" || !strings.Contains(body, want) {
					t.Errorf("Host %s: HTTP %d served by %q (%q); want a 404 saying %q", host, code, pod, body, want)
				}
			}

			// One Service left on the port: an Ingress controller's Host, and
			// the endpoint address, reach it.
			if err := cluster.client.CoreV1().Services(blog).Delete(context.Background(), "web", metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			for _, host := range []string{"shop.example.com", endpoint} {
				eventually(t, 30*time.Second, fmt.Sprintf("Host %s to reach %s/web once it is the port's only Service", host, shop), func() (bool, string) {
					code, pod, body := gatewayCall(t, endpoint, paths[c.name], host)
					return code == http.StatusOK && strings.HasPrefix(pod, shop+"/web-"), fmt.Sprintf("HTTP %d %q %s", code, pod, body)
				})
			}
		})
	}
}

// Deleting a pod terminates it as a kubelet does: its endpoint turns
// ready=false, serving=false, terminating=true while an invocation in flight
// completes, its preStop httpGet reaches the function, and the pod goes as
// soon as the invocation has ended, well within its grace period.
func TestGracefulDeletionLetsInvocationsFinish(t *testing.T) {
	for _, c := range clouds {
		t.Run(c.name, func(t *testing.T) {
			emu, _ := c.start(t)
			ns := namespace(t)
			applyYAML(t, ns, fmt.Sprintf(podTemplate, "web", `  terminationGracePeriodSeconds: 60
  containers:
  - name: a
    image: `+c.image+`
    ports: [{containerPort: 8080}]
    lifecycle: {preStop: {httpGet: {path: /prestop, port: 8080}}}
`)+"---\n"+strings.Replace(webService(c.image)[strings.Index(webService(c.image), "apiVersion: v1\nkind: Service"):], "selector: {app: web}", "selector: {role: web}", 1))
			mustKubectl(t, "label", "-n", ns, "pod", "web", "role=web")
			serviceEndpoints(t, ns, "web", 1)

			before := emu.callsOf(t, c.name)[c.invokeOp]
			type result struct {
				out, errOut string
				code        int
			}
			done := make(chan result, 1)
			go func() {
				out, errOut, code := kubectlIO(t, `{"sleepMs": 8000, "inflight": true}`, "exec", "-i", "-n", ns, "web", "--", "invoke")
				done <- result{out, errOut, code}
			}()
			eventually(t, 20*time.Second, "the invocation to be in flight", func() (bool, string) {
				n := emu.callsOf(t, c.name)[c.invokeOp]
				return n > before, fmt.Sprintf("%s %d", c.invokeOp, n)
			})
			deleted := time.Now()
			mustKubectl(t, "delete", "pod", "-n", ns, "web", "--wait=false")

			eventually(t, 20*time.Second, "the endpoint ready=false serving=false terminating=true", func() (bool, string) {
				slices, err := cluster.client.DiscoveryV1().EndpointSlices(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=web"})
				if err != nil {
					return false, err.Error()
				}
				for _, s := range slices.Items {
					for _, e := range s.Endpoints {
						c := e.Conditions
						desc := fmt.Sprintf("ready=%v serving=%v terminating=%v", deref(c.Ready), deref(c.Serving), deref(c.Terminating))
						return !deref(c.Ready) && !deref(c.Serving) && deref(c.Terminating), desc
					}
				}
				return false, "no endpoint"
			})

			var r result
			select {
			case r = <-done:
			case <-time.After(40 * time.Second):
				t.Fatal("the invocation in flight did not end")
			}
			if r.code != 0 || !strings.Contains(r.out, "inflight") {
				t.Errorf("the invocation in flight during the deletion: exit %d, stdout %q, stderr %q; want it to complete", r.code, r.out, r.errOut)
			}
			eventually(t, 30*time.Second, "the pod to go once its invocation ended", func() (bool, string) {
				_, err := cluster.client.CoreV1().Pods(ns).Get(context.Background(), "web", metav1.GetOptions{})
				return err != nil, fmt.Sprint(err)
			})
			if took := time.Since(deleted); took > 45*time.Second {
				t.Errorf("the pod took %s to go; its grace period is 60s and its invocation ended after about 8s", took)
			}
			events := mustKubectl(t, "get", "events", "-n", ns, "--field-selector", "involvedObject.name=web", "-o", "jsonpath={range .items[*]}{.reason}{\"\\n\"}{end}")
			if strings.Contains(events, "FailedPreStopHook") || strings.Contains(events, "GracePeriodExceeded") {
				t.Errorf("events of the deleted pod:\n%s\nwant the preStop hook answered and nothing cut off", events)
			}
			if !strings.Contains(events, "Killing") {
				t.Errorf("events of the deleted pod:\n%s\nwant the kubelet's Killing", events)
			}
		})
	}
}

func deref(b *bool) bool { return b != nil && *b }
