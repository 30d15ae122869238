//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	fc "github.com/alibabacloud-go/fc-open-20210406/v2/client"
	util "github.com/alibabacloud-go/tea-utils/v2/service"
	"github.com/alibabacloud-go/tea/tea"
	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/lambda"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	azureemu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/azure"
)

// The kubelet API authorizes as the kubelet does (Virtual Kubelet's
// nodeutil auth follows pkg/kubelet/server/auth.go): /stats/... needs
// nodes/stats, /logs/... nodes/log, and every other path (/pods,
// /containerLogs, /exec) nodes/proxy. Three users are each granted one of
// them: each is let in on its own paths only, and refused (403) on the
// others'.
func TestKubeletAPIAuthorizesThroughRBAC(t *testing.T) {
	k := startKubelet(t, kubeletOptions{})
	waitNodeReady(t, k.node, corev1.ConditionTrue, 30*time.Second)
	ns := namespace(t)
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // the test checks the server's answer, not its certificate
	get := func(token, path string) int {
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
	// Each grant's paths. Virtual Kubelet serves no node logs: an
	// authorized /logs/ is a 404, an unauthorized one a 403.
	paths := map[string][]string{
		"proxy": {"/pods", "/containerLogs/" + ns + "/none/none"},
		"stats": {"/stats/summary"},
		"log":   {"/logs/"},
	}
	allowed := func(code int) bool { return code != http.StatusForbidden && code != http.StatusUnauthorized }
	tokens := map[string]string{}
	for sub := range paths {
		sa := "viewer-" + sub
		mustKubectl(t, "create", "serviceaccount", sa, "-n", ns)
		tokens[sub] = strings.TrimSpace(mustKubectl(t, "create", "token", sa, "-n", ns))
	}
	for sub, token := range tokens {
		for _, ps := range paths {
			for _, path := range ps {
				if code := get(token, path); code != http.StatusForbidden {
					t.Errorf("GET %s as %s before any grant = %d, want 403", path, sub, code)
				}
			}
		}
	}
	for sub := range paths {
		role := "kubelet-" + sub + "-" + ns
		mustKubectl(t, "create", "clusterrole", role, "--verb=get", "--resource=nodes/"+sub)
		t.Cleanup(func() { _, _ = kubectl(t, "delete", "clusterrole", role, "--ignore-not-found") })
		mustKubectl(t, "create", "clusterrolebinding", role, "--clusterrole="+role, "--serviceaccount="+ns+":viewer-"+sub)
		t.Cleanup(func() { _, _ = kubectl(t, "delete", "clusterrolebinding", role, "--ignore-not-found") })
	}
	for sub, token := range tokens {
		for _, path := range paths[sub] {
			// As on the kubelet, a denial is cached for 30 s.
			eventually(t, 45*time.Second, "GET "+path+" to be allowed with nodes/"+sub, func() (bool, string) {
				code := get(token, path)
				return allowed(code), fmt.Sprint(code)
			})
		}
		for other, ps := range paths {
			if other == sub {
				continue
			}
			for _, path := range ps {
				if code := get(token, path); code != http.StatusForbidden {
					t.Errorf("GET %s with only nodes/%s = %d, want 403: it needs nodes/%s", path, sub, code, other)
				}
			}
		}
	}
	if code := get(tokens["stats"], "/stats/summary"); code != http.StatusOK {
		t.Errorf("GET /stats/summary with nodes/stats = %d, want 200", code)
	}
	if code := get(tokens["proxy"], "/pods"); code != http.StatusOK {
		t.Errorf("GET /pods with nodes/proxy = %d, want 200", code)
	}
}

// A canary Secret value planted in pods' env on every cloud (a running pod,
// a refused pod, a pod waiting for the cloud and a failing Job) reaches the
// running pod's function, and never appears in anything else faas-kubelet
// writes or serves: its log (at debug level), the events, the pods'
// statuses, the kubelet API's /pods, its metrics, its traces, and the
// functions' tags and descriptions.
func TestSecretValuesNeverLeak(t *testing.T) {
	for _, c := range clouds {
		t.Run(c.name, func(t *testing.T) {
			spans := startCollector(t)
			emu := startEmulator(t)
			metricsAddr := net.JoinHostPort(cluster.env["FAAS_KUBELET_NODE_IP"], fmt.Sprint(17300+nextPort.Add(1)))
			k := startKubelet(t, kubeletOptions{cloud: c.name, lambdaEndpoint: emu.endpoint, azureEndpoint: emu.azureEndpoint, alibabaEndpoint: emu.alibabaEndpoint,
				nodeExtra: refusalsOf[c.name].nodeExtra, args: []string{"--metrics-address", metricsAddr},
				env: []string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://" + spans.addr, "OTEL_BSP_SCHEDULE_DELAY=200"}})
			waitNodeReady(t, k.node, corev1.ConditionTrue, 30*time.Second)
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
			// The value reached the function: what is scanned below had it
			// to leak.
			runs, err := cluster.client.CoreV1().Pods(ns).Get(context.Background(), "runs", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			fnEnv, described := functionConfig(t, c, emu, functionNameOf(runs))
			if fnEnv["CANARY"] != canary {
				t.Fatalf("the function of pod runs has CANARY=%q, want the Secret's value: the canary never reached the cloud", fnEnv["CANARY"])
			}
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
			eventually(t, 30*time.Second, "spans of the pods at the collector", func() (bool, string) {
				n := len(spans.all())
				return bytes.Contains(spans.all(), []byte("createOrUpdatePod")), fmt.Sprintf("%d bytes", n)
			})
			logs, _ := readFile(k.logFile)
			events := mustKubectl(t, "get", "events", "-n", ns, "-o", "yaml")
			pods := mustKubectl(t, "get", "pods", "-n", ns, "-o", "yaml")
			kubeletPods := mustKubectl(t, "get", "--raw", "/api/v1/nodes/"+k.node+"/proxy/pods")
			_, metricsText := scrape(t, "http://"+metricsAddr+"/metrics")
			var tags strings.Builder
			for name, tt := range c.functions(t, emu) {
				fmt.Fprintf(&tags, "%s %v\n", name, tt)
			}
			for what, text := range map[string]string{"faas-kubelet's log": logs, "the events": events, "the pods": pods,
				"the kubelet API's /pods": kubeletPods, "the metrics": metricsText, "the traces": string(spans.all()),
				"the functions' tags": tags.String(), "the function's description and configuration": described} {
				if strings.Contains(text, canary) {
					t.Errorf("the Secret's value appears in %s", what)
				}
			}
			if len(logs) < 1000 || !strings.Contains(events, "InvalidSpec") || !strings.Contains(events, ref.reason) ||
				!strings.Contains(kubeletPods, "CANARY") || !strings.Contains(metricsText, "faas_kubelet_pods") ||
				!strings.Contains(tags.String(), string(runs.UID)) || described == "" {
				t.Errorf("nothing to scan: %d bytes of log, events without the refusal, /pods without the env's name, metrics without pods, tags without the pod's UID, or no description", len(logs))
			}
		})
	}
}

// collector is an OTLP/HTTP endpoint that keeps what it is sent.
type collector struct {
	addr string
	mu   sync.Mutex
	got  [][]byte
}

// startCollector listens where faas-kubelet's exporter can reach it.
func startCollector(t *testing.T) *collector {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(cluster.env["FAAS_KUBELET_HOST_IP"], "0"))
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{addr: l.Addr().String()}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		c.got = append(c.got, body)
		c.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return c
}

func (c *collector) all() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Join(c.got, nil)
}

// functionConfig reads a function as the cloud's console would: its
// environment, and the rest of its configuration (descriptions included)
// as text, without the environment.
func functionConfig(t *testing.T, c cloudUnderTest, emu *emulator, name string) (map[string]string, string) {
	t.Helper()
	switch c.name {
	case "aws-lambda":
		out, err := emu.lambda.GetFunctionConfiguration(context.Background(), &sdk.GetFunctionConfigurationInput{FunctionName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		var env map[string]string
		if out.Environment != nil {
			env = out.Environment.Variables
		}
		out.Environment = nil
		rest, _ := json.Marshal(out)
		return env, string(rest)
	case "alibaba-fc":
		svc, err := emu.fc.GetServiceWithOptions(tea.String(name), &fc.GetServiceRequest{}, &fc.GetServiceHeaders{}, &util.RuntimeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		fn, err := emu.fc.GetFunctionWithOptions(tea.String(name), tea.String(name), &fc.GetFunctionRequest{}, &fc.GetFunctionHeaders{}, &util.RuntimeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		env := map[string]string{}
		for k, v := range fn.Body.EnvironmentVariables {
			env[k] = tea.StringValue(v)
		}
		fn.Body.EnvironmentVariables = nil
		rest, _ := json.Marshal([]any{svc.Body, fn.Body})
		return env, string(rest)
	}
	// Azure: the app's settings are its environment; the site itself
	// (tags, configuration) is the rest.
	site := fmt.Sprintf("%s/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Web/sites/%s", emu.azureEndpoint, azureemu.DefaultSubscription, e2eResourceGroup, name)
	arm := func(method, url string) []byte {
		req, _ := http.NewRequest(method, url+"?api-version="+azureemu.APIVersion, nil)
		req.Header.Set("Authorization", "Bearer "+azureemu.DefaultToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: HTTP %d %s", method, url, resp.StatusCode, body)
		}
		return body
	}
	var settings struct {
		Properties map[string]string `json:"properties"`
	}
	if err := json.Unmarshal(arm(http.MethodPost, site+"/config/appsettings/list"), &settings); err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(arm(http.MethodGet, site), &body); err != nil {
		t.Fatal(err)
	}
	if props, ok := body["properties"].(map[string]any); ok {
		if sc, ok := props["siteConfig"].(map[string]any); ok {
			delete(sc, "appSettings") // the environment, read above
		}
	}
	rest, _ := json.Marshal(body)
	return settings.Properties, string(rest)
}

func podPhase(t *testing.T, ns, name string) corev1.PodPhase {
	t.Helper()
	p, err := cluster.client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return ""
	}
	return p.Status.Phase
}
