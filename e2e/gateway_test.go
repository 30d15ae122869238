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
