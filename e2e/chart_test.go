//go:build e2e

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// The chart, its values schema and the kustomize base, as an admin uses
// them: helm lint, helm template (a golden file: the kustomize base), a
// server-side dry-run apply on the real API server, and faas-kubelet
// accepting the config the chart renders.

const chartReleaseNS = "faas-kubelet"

func chartDir() string { return filepath.Join(cluster.repo, "deploy", "chart", "faas-kubelet") }

// helm runs the Helm built by hack/cluster.sh build-helm.
func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	bin := cluster.env["HELM"]
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("helm is not built (%s): run hack/cluster.sh build-helm (make e2e does)", bin)
	}
	cmd := exec.Command(bin, args...)
	// Helm keeps no state between these commands.
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home, "HELM_CONFIG_HOME="+home, "HELM_DATA_HOME="+home, "KUBECONFIG="+cluster.env["KUBECONFIG"])
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

func render(t *testing.T, ns string, set ...string) string {
	t.Helper()
	args := []string{"template", "faas-kubelet", chartDir(), "--namespace", ns}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	out, err := helm(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// objects splits a YAML stream into objects keyed by kind/namespace/name.
func objects(t *testing.T, stream string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, doc := range strings.Split(stream, "\n---") {
		var o map[string]any
		// The separator's line break ends the document's last line.
		if err := yaml.Unmarshal([]byte(doc+"\n"), &o); err != nil {
			t.Fatalf("rendered YAML: %v\n%s", err, doc)
		}
		if len(o) == 0 {
			continue
		}
		md, _ := o["metadata"].(map[string]any)
		out[fmt.Sprintf("%s/%v/%v", o["kind"], md["namespace"], md["name"])] = o
	}
	return out
}

func keys(m map[string]map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestHelmChart(t *testing.T) {
	if out, err := helm(t, "lint", "--strict", chartDir()); err != nil {
		t.Fatalf("helm lint: %v\n%s", err, out)
	}

	// The default render is the kustomize base, byte for byte.
	golden := filepath.Join(cluster.repo, "deploy", "kustomize", "base", "faas-kubelet.yaml")
	rendered := render(t, chartReleaseNS)
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(golden, []byte(rendered), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != rendered {
		t.Errorf("helm template differs from %s; if the change is intended, run UPDATE_GOLDEN=1 go test -tags e2e -run TestHelmChart ./e2e/", golden)
	}
	kustomized := mustKubectl(t, "kustomize", filepath.Dir(golden))
	hObjs, kObjs := objects(t, rendered), objects(t, kustomized)
	if !reflect.DeepEqual(hObjs, kObjs) {
		t.Errorf("kustomize base renders %v, the chart %v (or their contents differ)", keys(kObjs), keys(hObjs))
	}
	wantKinds := []string{"ClusterRole", "ClusterRoleBinding", "ConfigMap", "Deployment", "PodDisruptionBudget", "Service", "ServiceAccount"}
	var kinds []string
	for k := range hObjs {
		kinds = append(kinds, strings.SplitN(k, "/", 2)[0])
	}
	sort.Strings(kinds)
	if !reflect.DeepEqual(kinds, wantKinds) {
		t.Errorf("rendered kinds %v, want %v", kinds, wantKinds)
	}

	// faas-kubelet accepts the config the chart renders.
	var cm struct {
		Data map[string]string `json:"data"`
	}
	for k, o := range hObjs {
		if strings.HasPrefix(k, "ConfigMap/") {
			data, _ := yaml.Marshal(o)
			_ = yaml.Unmarshal(data, &cm)
		}
	}
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(cfg, []byte(cm.Data["config.yaml"]), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(cluster.binary, "config", "validate", "-f", cfg).CombinedOutput(); err != nil || !strings.Contains(string(out), "valid") {
		t.Errorf("faas-kubelet config validate on the chart's config: %v\n%s\n%s", err, out, cm.Data["config.yaml"])
	}

	// Workload identity per cloud, and the kubelet serving certificate.
	withIdentity := render(t, chartReleaseNS, "identity.awsRoleArn=arn:aws:iam::123456789012:role/faas-kubelet",
		"identity.azureClientId=11111111-2222-3333-4444-555555555555", "identity.alibabaRoleName=faas-kubelet",
		"servingCert.secretName=faas-kubelet-serving", "servingCert.clientCASecret=kubelet-client-ca")
	for _, want := range []string{
		"eks.amazonaws.com/role-arn: arn:aws:iam::123456789012:role/faas-kubelet",
		"azure.workload.identity/client-id: 11111111-2222-3333-4444-555555555555",
		`azure.workload.identity/use: "true"`,
		"pod-identity.alibabacloud.com/role-name: faas-kubelet",
		"secretName: faas-kubelet-serving",
		"certFile: /etc/faas-kubelet/tls/tls.crt",
		"clientCAFile: /etc/faas-kubelet/client-ca/ca.crt",
	} {
		if !strings.Contains(withIdentity, want) {
			t.Errorf("render with identities and a serving certificate lacks %q", want)
		}
	}

	// The values schema refuses what faas-kubelet would refuse later.
	for _, bad := range []string{"config.nodes[0].cloud=gcp-functions", "replicaCount=0", "identity.awsRoleArn=not-an-arn", "imageTag=1"} {
		if _, err := helm(t, "template", "faas-kubelet", chartDir(), "--set", bad); err == nil {
			t.Errorf("helm template --set %s: accepted", bad)
		}
	}

	// The API server accepts every object (server-side dry run).
	ns := namespace(t)
	cmd := exec.Command(cluster.kubectl, "apply", "--dry-run=server", "-f", "-")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+cluster.env["KUBECONFIG"])
	cmd.Stdin = strings.NewReader(render(t, ns, "identity.awsRoleArn=arn:aws:iam::123456789012:role/faas-kubelet", "servingCert.secretName=faas-kubelet-serving"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl apply --dry-run=server: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), "(server dry run)"); n != len(wantKinds) {
		t.Errorf("%d objects accepted, want %d:\n%s", n, len(wantKinds), out)
	}
}
