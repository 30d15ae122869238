package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/faas-kubelet/faas-kubelet/pkg/golden"
)

var clouds = []string{"alibaba-fc", "aws-lambda", "azure-functions", "memory"}

// The defaults a minimal config gets are pinned by a golden file, so a
// change to any default shows up in review.
func TestGoldenDefaults(t *testing.T) {
	c, err := Parse([]byte("nodes:\n- {name: vk, cloud: aws-lambda, region: us-east-1}\n- {name: vk2, cloud: memory, region: local}\n"))
	if err != nil {
		t.Fatal(err)
	}
	c.SetDefaults()
	if errs := c.Validate(clouds); len(errs) > 0 {
		t.Fatalf("defaults do not validate: %v", errs)
	}
	got, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	goldenFile := filepath.Join("testdata", "defaults.golden.yaml")
	golden.Check(t, goldenFile, got)
}

func TestParseRejectsUnknownAndDuplicateKeysByPath(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"nodes:\n- {name: a, cloud: memory, region: x, colour: blue}\n", `unknown field "nodes[0].colour"`},
		{"tls: {certfile: a}\n", `unknown field "tls.certfile"`},
		{"clientQPS: 1\nclientQPS: 2\n", `"clientQPS"`},
		{"nodes: [\n", "not valid YAML"},
	} {
		_, err := Parse([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) error = %v, want it to contain %q", tc.in, err, tc.want)
		}
	}
}

func TestValidateNamesEveryBadField(t *testing.T) {
	for _, tc := range []struct {
		name string
		yaml string
		want []string
	}{
		{"no nodes", "{}", []string{"nodes: Required value"}},
		{"missing region", "nodes: [{name: a, cloud: memory}]", []string{"nodes[0].region: Required value"}},
		{"unknown cloud", "nodes: [{name: a, cloud: gcp, region: x}]", []string{`nodes[0].cloud: Unsupported value: "gcp"`}},
		{"missing cloud", "nodes: [{name: a, region: x}]", []string{"nodes[0].cloud: Required value"}},
		{"bad quantity", "nodes: [{name: a, cloud: memory, region: x, capacity: {memory: lots}}]", []string{`nodes[0].capacity.memory: Invalid value: "lots"`}},
		{"negative pods", "nodes: [{name: a, cloud: memory, region: x, capacity: {pods: '-1'}}]", []string{"nodes[0].capacity.pods: Invalid value"}},
		{"bad node name", "nodes: [{name: Bad_Name, cloud: memory, region: x}]", []string{"nodes[0].name: Invalid value"}},
		{"duplicate names", "nodes: [{name: a, cloud: memory, region: x}, {name: a, cloud: memory, region: x}]", []string{"nodes[1].name: Duplicate value"}},
		{"same listen address", "nodes: [{name: a, cloud: memory, region: x, kubeletPort: 1}, {name: b, cloud: memory, region: x, kubeletPort: 1}]", []string{"nodes[1].listenAddress: Duplicate value"}},
		{"bad address", "nodes: [{name: a, cloud: memory, region: x, address: nowhere}]", []string{"nodes[0].address: Invalid value"}},
		{"bad port", "nodes: [{name: a, cloud: memory, region: x, kubeletPort: 70000}]", []string{"nodes[0].kubeletPort: Invalid value"}},
		{"bad taint effect", "nodes: [{name: a, cloud: memory, region: x, taint: {effect: Never}}]", []string{"nodes[0].taint.effect: Unsupported value"}},
		{"bad label", "nodes: [{name: a, cloud: memory, region: x, labels: {'a b': c}}]", []string{"nodes[0].labels[a b]: Invalid value"}},
		{"credentials file missing", "nodes: [{name: a, cloud: memory, region: x, credentials: {source: file}}]", []string{"nodes[0].credentials.file: Required value"}},
		{"bad credentials source", "nodes: [{name: a, cloud: memory, region: x, credentials: {source: magic}}]", []string{"nodes[0].credentials.source: Unsupported value"}},
		{"memory knobs on a cloud", "nodes: [{name: a, cloud: aws-lambda, region: x, memory: {faultFile: /f}}]", []string{"nodes[0].memory: Forbidden"}},
		{"half a key pair", "tls: {certFile: a}\nnodes: [{name: a, cloud: memory, region: x}]", []string{"tls.keyFile: Required value"}},
		{"bad log level", "log: {level: loud}\nnodes: [{name: a, cloud: memory, region: x}]", []string{"log.level: Unsupported value"}},
		{"bad qps", "clientQPS: -1\nnodes: [{name: a, cloud: memory, region: x}]", []string{"clientQPS: Invalid value"}},
		{"negative memory budget", "memoryPerPod: -1Ki\nnodes: [{name: a, cloud: memory, region: x}]", []string{"memoryPerPod: Invalid value"}},
		{"azure without its section", "nodes: [{name: a, cloud: azure-functions, region: westeurope}]", []string{"nodes[0].azure: Required value"}},
		{"azure without hosting", "nodes: [{name: a, cloud: azure-functions, region: westeurope, azure: {subscriptionId: s, resourceGroup: rg}}]", []string{"nodes[0].azure.serverFarmId: Required value"}},
		{"azure with both hostings", "nodes: [{name: a, cloud: azure-functions, region: westeurope, azure: {subscriptionId: s, resourceGroup: rg, serverFarmId: p, managedEnvironmentId: e}}]", []string{"nodes[0].azure.serverFarmId: Required value"}},
		{"azure section on lambda", "nodes: [{name: a, cloud: aws-lambda, region: x, azure: {subscriptionId: s}}]", []string{"nodes[0].azure: Forbidden"}},
		{"alibaba without its section", "nodes: [{name: a, cloud: alibaba-fc, region: cn-hangzhou}]", []string{"nodes[0].alibaba: Required value"}},
		{"alibaba bad account, endpoint and role", "nodes: [{name: a, cloud: alibaba-fc, region: cn-hangzhou, alibaba: {accountId: acct, endpoint: 'fc.local', role: admin}}]",
			[]string{"nodes[0].alibaba.accountId: Invalid value", "nodes[0].alibaba.endpoint: Invalid value", "nodes[0].alibaba.role: Invalid value"}},
		{"alibaba log project without logstore", "nodes: [{name: a, cloud: alibaba-fc, region: cn-hangzhou, alibaba: {accountId: '1', logProject: p, logDialAddress: nowhere}}]",
			[]string{"nodes[0].alibaba.logStore: Required value", "nodes[0].alibaba.logDialAddress: Invalid value"}},
		{"alibaba section on lambda", "nodes: [{name: a, cloud: aws-lambda, region: x, alibaba: {accountId: '1'}}]", []string{"nodes[0].alibaba: Forbidden"}},
		{"azure registry user without password", "nodes: [{name: a, cloud: azure-functions, region: w, azure: {subscriptionId: s, resourceGroup: rg, serverFarmId: p, registryServer: r, registryUsername: u}}]", []string{"nodes[0].azure.registryPasswordFile: Required value"}},
		{"lambda bad endpoint", "nodes: [{name: a, cloud: aws-lambda, region: x, lambda: {endpoint: 'ftp://x'}}]", []string{"nodes[0].lambda.endpoint: Invalid value"}},
		{"identity grant without namespace", "nodes: [{name: a, cloud: memory, region: x, podIdentity: {allow: [{roles: ['*']}]}}]", []string{"nodes[0].podIdentity.allow[0]: Invalid value"}},
		{"identity grant with a star inside", "nodes: [{name: a, cloud: memory, region: x, podIdentity: {allow: [{namespace: a, roles: ['arn:*:x']}]}}]", []string{"nodes[0].podIdentity.allow[0]: Invalid value"}},
		{"tokens without an API server", "nodes: [{name: a, cloud: memory, region: x, serviceAccountTokens: {caFile: /ca.crt}}]", []string{"nodes[0].serviceAccountTokens.apiServer: Required value"}},
		{"tokens over http", "nodes: [{name: a, cloud: memory, region: x, serviceAccountTokens: {apiServer: 'http://k8s.example.com'}}]", []string{"nodes[0].serviceAccountTokens.apiServer: Invalid value"}},
		{"several at once", "nodes: [{name: a, cloud: memory}, {name: b, region: x}]", []string{"nodes[0].region: Required value", "nodes[1].cloud: Required value"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			c.SetDefaults()
			errs := c.Validate(clouds)
			got := errs.ToAggregate()
			if got == nil {
				t.Fatalf("no error, want %v", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(got.Error(), w) {
					t.Errorf("errors %q lack %q", got.Error(), w)
				}
			}
		})
	}
}

func TestDefaultsGiveEachNodeItsOwnPort(t *testing.T) {
	c := &Config{Nodes: []Node{{Name: "a", Cloud: "memory", Region: "x"}, {Name: "b", Cloud: "memory", Region: "x"}}}
	c.SetDefaults()
	if c.Nodes[0].KubeletPort != DefaultKubeletPort || c.Nodes[1].KubeletPort != DefaultKubeletPort+1 {
		t.Errorf("ports = %d, %d", c.Nodes[0].KubeletPort, c.Nodes[1].KubeletPort)
	}
	if c.Nodes[1].Taint.Value != "memory" || c.Nodes[1].InstanceType != "memory" {
		t.Errorf("taint value / instance type not defaulted from the cloud: %+v", c.Nodes[1])
	}
	if errs := c.Validate(clouds); len(errs) > 0 {
		t.Error(errs)
	}
}

func TestLoadNamesTheFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte("bogus: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(p)
	if err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), `unknown field "bogus"`) {
		t.Errorf("Load error = %v", err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("Load of a missing file succeeded")
	}
}

// An explicit qps: 0 means unlimited; only an absent qps takes the cloud's
// default.
func TestLimitsQPSZeroIsUnlimited(t *testing.T) {
	c, err := Parse([]byte("nodes:\n- {name: a, cloud: aws-lambda, region: us-east-1, limits: {qps: 0}}\n- {name: b, cloud: aws-lambda, region: us-east-1, limits: {burst: 3}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	c.SetDefaults()
	if q := c.Nodes[0].Limits.QPS; q == nil || *q != 0 {
		t.Errorf("qps: 0 became %v", q)
	}
	if q := c.Nodes[1].Limits.QPS; q == nil || *q != 15 || c.Nodes[1].Limits.Burst != 3 {
		t.Errorf("absent qps became %v (burst %d), want Lambda's 15 (burst 3)", q, c.Nodes[1].Limits.Burst)
	}
	if errs := c.Validate(clouds); len(errs) > 0 {
		t.Error(errs)
	}
}

func TestServiceAccountTokensTakeAnHTTPSAPIServer(t *testing.T) {
	c, err := Parse([]byte("nodes: [{name: a, cloud: memory, region: x, serviceAccountTokens: {apiServer: 'https://k8s.example.com:6443'}}]"))
	if err != nil {
		t.Fatal(err)
	}
	c.SetDefaults()
	if errs := c.Validate(clouds); len(errs) > 0 {
		t.Fatalf("an https API server is refused: %v", errs)
	}
	if got := c.Nodes[0].ServiceAccountTokens; got == nil || got.APIServer != "https://k8s.example.com:6443" || got.CAFile != "" {
		t.Errorf("serviceAccountTokens = %+v", got)
	}
}
