//go:build e2e

package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The kubelet API authorizes as the kubelet does: an authenticated user
// without rights on nodes/proxy (or nodes/stats) is refused with 403, and
// the same user is let in once RBAC grants them.
func TestKubeletAPIAuthorizesThroughRBAC(t *testing.T) {
	k := startKubelet(t, kubeletOptions{})
	waitNodeReady(t, k.node, corev1.ConditionTrue, 30*time.Second)
	ns := namespace(t)
	sa := "viewer"
	mustKubectl(t, "create", "serviceaccount", sa, "-n", ns)
	token := strings.TrimSpace(mustKubectl(t, "create", "token", sa, "-n", ns))
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // the test checks the server's answer, not its certificate
	get := func(path string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("https://%s:%d%s", cluster.env["FAAS_KUBELET_NODE_IP"], k.port, path), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, path := range []string{"/pods", "/stats/summary"} {
		if code := get(path); code != http.StatusForbidden {
			t.Errorf("GET %s as a user without rights = %d, want 403", path, code)
		}
	}
	role := "kubelet-reader-" + ns
	mustKubectl(t, "create", "clusterrole", role, "--verb=get", "--resource=nodes/proxy,nodes/stats")
	t.Cleanup(func() { _, _ = kubectl(t, "delete", "clusterrole", role, "--ignore-not-found") })
	mustKubectl(t, "create", "clusterrolebinding", role, "--clusterrole="+role, "--serviceaccount="+ns+":"+sa)
	t.Cleanup(func() { _, _ = kubectl(t, "delete", "clusterrolebinding", role, "--ignore-not-found") })
	for _, path := range []string{"/pods", "/stats/summary"} {
		// As on the kubelet, a denial is cached for 30 s.
		eventually(t, 45*time.Second, "GET "+path+" to be allowed after the grant", func() (bool, string) {
			code := get(path)
			return code == http.StatusOK, fmt.Sprint(code)
		})
	}
}

// A canary Secret value planted in pods' env on every cloud (a running pod,
// a refused pod, a pod waiting for the cloud and a failing Job) never appears in anything faas-kubelet
// writes: its log (at debug level), the events and the pods' statuses.
func TestSecretValuesNeverLeak(t *testing.T) {
	for _, c := range clouds {
		t.Run(c.name, func(t *testing.T) {
			emu, k := c.startWith(t, refusalsOf[c.name].nodeExtra)
			ns := namespace(t)
			canary := fmt.Sprintf("canary-%d-s3cr3t", time.Now().UnixNano())
			mustKubectl(t, "create", "secret", "generic", "canary", "-n", ns, "--from-literal=value="+canary)
			env := "    env:\n    - name: CANARY\n      valueFrom: {secretKeyRef: {name: canary, key: value}}\n"
			applyYAML(t, ns, fmt.Sprintf(podTemplate, "runs", "  containers:\n  - name: a\n    image: "+c.image+"\n"+env))
			applyYAML(t, ns, fmt.Sprintf(podTemplate, "refused", "  containers:\n  - name: a\n    image: "+c.image+"\n"+env+
				"  - name: b\n    image: "+c.image+"\n"))
			applyYAML(t, ns, strings.ReplaceAll(strings.ReplaceAll(fmt.Sprintf(jobYAML, "fails", "boom"), ecrImage, c.image),
				"        env: [{name: EMULATOR_FAIL, value: \"boom\"}]\n",
				"        env:\n        - {name: EMULATOR_FAIL, value: boom}\n        - name: CANARY\n          valueFrom: {secretKeyRef: {name: canary, key: value}}\n"))
			eventually(t, 60*time.Second, "pod runs Running, pod refused Failed, job fails Failed", func() (bool, string) {
				runs, refused := podPhase(t, ns, "runs"), podPhase(t, ns, "refused")
				job, _ := jobCondition(t, ns, "fails")
				return runs == corev1.PodRunning && refused == corev1.PodFailed && job == "Failed", fmt.Sprint(runs, refused, job)
			})
			// A pod the cloud refuses for now (its role is not known yet)
			// waits, with the cloud's message in its status and events.
			ref := refusalsOf[c.name]
			emu.setRefusals(t, c.name, ref.refusals)
			applyYAML(t, ns, deployment(k.node, "waits", c.image, 1, ref.annotations, "")+
				"        env:\n        - name: CANARY\n          valueFrom: {secretKeyRef: {name: canary, key: value}}\n")
			eventually(t, 60*time.Second, "pod waits waiting for the cloud", func() (bool, string) {
				waits, desc, _ := waitingPods(t, ns, "app=waits")
				return allWaiting(waits, 1, ref.reason, ref.message), desc
			})
			logs, _ := readFile(k.logFile)
			events := mustKubectl(t, "get", "events", "-n", ns, "-o", "yaml")
			pods := mustKubectl(t, "get", "pods", "-n", ns, "-o", "yaml")
			for what, text := range map[string]string{"faas-kubelet's log": logs, "the events": events, "the pods": pods} {
				if strings.Contains(text, canary) {
					t.Errorf("the Secret's value appears in %s", what)
				}
			}
			if len(logs) < 1000 || !strings.Contains(events, "InvalidSpec") || !strings.Contains(events, ref.reason) {
				t.Errorf("nothing to scan: %d bytes of log, events without the refusal", len(logs))
			}
		})
	}
}

func podPhase(t *testing.T, ns, name string) corev1.PodPhase {
	t.Helper()
	p, err := cluster.client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return ""
	}
	return p.Status.Phase
}
