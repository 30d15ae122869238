//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	fc "github.com/alibabacloud-go/fc-open-20210406/v2/client"
	util "github.com/alibabacloud-go/tea-utils/v2/service"
	"github.com/alibabacloud-go/tea/tea"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const acrImage = "registry.cn-hangzhou.aliyuncs.com/faas-kubelet/hello:1"

// On Function Compute: pods FC cannot run fail naming the field; a pod with a
// container port gets an HTTP trigger whose URL is shown on the pod and
// answers; Secret-backed env reaches the function and never the log.
func TestAlibabaTriggersRefusalsAndSecrets(t *testing.T) {
	var fcCloud cloudUnderTest
	for _, c := range clouds {
		if c.name == "alibaba-fc" {
			fcCloud = c
		}
	}
	emu, k := fcCloud.start(t)
	ns := namespace(t)
	mustKubectl(t, "create", "secret", "generic", "db", "-n", ns, "--from-literal=password=s3cr3t-value")

	bad := map[string]struct{ spec, want string }{
		"docker-hub":  {"  containers:\n  - {name: a, image: docker.io/library/nginx:1}\n", "spec.containers[0].image"},
		"working-dir": {"  containers:\n  - {name: a, image: " + acrImage + ", workingDir: /srv}\n", "spec.containers[0].workingDir"},
		"arm64":       {"  containers:\n  - {name: a, image: " + acrImage + "}\n  nodeSelector: {type: virtual-kubelet}\n", "kubernetes.io/arch"},
		"other-region": {"  containers:\n  - {name: a, image: \"registry.eu-central-1.aliyuncs.com/faas-kubelet/hello:1\"}\n",
			"InvalidArgument"},
	}
	names := make([]string, 0, len(bad))
	for name, b := range bad {
		manifest := fmt.Sprintf(podTemplate, name, b.spec)
		if name == "arm64" {
			manifest = strings.Replace(fmt.Sprintf(podTemplate, name, "  containers:\n  - {name: a, image: "+acrImage+"}\n"),
				"metadata: {name: arm64}", "metadata: {name: arm64, annotations: {faas-kubelet.io/architecture: arm64}}", 1)
		}
		applyYAML(t, ns, manifest)
		names = append(names, name)
	}
	sort.Strings(names)
	applyYAML(t, ns, `apiVersion: v1
kind: Pod
metadata:
  name: web
  annotations: {faas-kubelet.io/http-auth: anonymous}
spec:
  terminationGracePeriodSeconds: 2
  nodeSelector: {type: virtual-kubelet}
  tolerations:
  - {key: virtual-kubelet.io/provider, operator: Exists, effect: NoSchedule}
  containers:
  - name: web
    image: `+acrImage+`
    ports: [{containerPort: 8080}]
    env:
    - name: DB_PASSWORD
      valueFrom: {secretKeyRef: {name: db, key: password}}
`)
	pods := cluster.client.CoreV1().Pods(ns)
	for _, name := range names {
		want := bad[name].want
		eventually(t, 60*time.Second, "pod "+name+" Failed naming "+want, func() (bool, string) {
			p, err := pods.Get(context.Background(), name, metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			return p.Status.Phase == corev1.PodFailed && p.Status.Reason == "InvalidSpec" && strings.Contains(p.Status.Message, want),
				fmt.Sprintf("phase=%s reason=%s message=%q", p.Status.Phase, p.Status.Reason, p.Status.Message)
		})
	}
	var web *corev1.Pod
	eventually(t, 60*time.Second, "pod web Running with its function URL", func() (bool, string) {
		p, err := pods.Get(context.Background(), "web", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		web = p
		return p.Status.Phase == corev1.PodRunning && p.Annotations["faas-kubelet.io/function-url"] != "",
			fmt.Sprintf("%s %v", p.Status.Phase, p.Annotations)
	})
	url := web.Annotations["faas-kubelet.io/function-url"]
	resp, err := http.Post(url, "application/json", strings.NewReader(`{"hello":"trigger"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "trigger") {
		t.Errorf("POST %s: HTTP %d %s", url, resp.StatusCode, body)
	}

	name := functionNameOf(web)
	fnc, err := emu.fc.GetFunctionWithOptions(tea.String(name), tea.String(name), &fc.GetFunctionRequest{}, &fc.GetFunctionHeaders{}, &util.RuntimeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if tea.Int32Value(fnc.Body.CaPort) != 8080 || tea.StringValue(fnc.Body.EnvironmentVariables["DB_PASSWORD"]) != "s3cr3t-value" {
		t.Errorf("function caPort=%d env=%v", tea.Int32Value(fnc.Body.CaPort), fnc.Body.EnvironmentVariables)
	}
	if n := len(fcCloud.functions(t, emu)); n != 1 {
		t.Errorf("%d services, want only pod web's", n)
	}
	if logs, _ := readFile(k.logFile); strings.Contains(logs, "s3cr3t-value") {
		t.Error("the Secret's value appears in faas-kubelet's log")
	}
	mustKubectl(t, "delete", "pod", "web", "-n", ns)
	eventually(t, 30*time.Second, "pod web's service, function and trigger deleted", func() (bool, string) {
		n := len(fcCloud.functions(t, emu))
		return n == 0, fmt.Sprintf("%d services", n)
	})
}
