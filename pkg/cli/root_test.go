package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faas-kubelet/faas-kubelet/pkg/config"
)

func runCLI(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	cmd := NewRootCommand(Backends(nil), func(k string) string { return env[k] })
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigValidate(t *testing.T) {
	good := writeConfig(t, "nodes: [{name: a, cloud: memory, region: local}]\n")
	out, err := runCLI(t, nil, "config", "validate", "-f", good)
	if err != nil || !strings.Contains(out, "valid") {
		t.Errorf("valid config: %v %s", err, out)
	}
	bad := writeConfig(t, "nodes: [{name: a, cloud: lambda, capacity: {cpu: x}}]\n")
	_, err = runCLI(t, nil, "config", "validate", "-f", bad)
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{"nodes[0].cloud: Unsupported value: \"lambda\"", "nodes[0].region: Required value", "nodes[0].capacity.cpu: Invalid value"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestRunWithoutConfigSaysHow(t *testing.T) {
	_, err := runCLI(t, nil)
	if err == nil || !strings.Contains(err.Error(), "--config") {
		t.Errorf("err = %v", err)
	}
}

func TestConfigFromEnvironment(t *testing.T) {
	good := writeConfig(t, "nodes: [{name: a, cloud: memory, region: local}]\n")
	out, err := runCLI(t, map[string]string{EnvConfig: good}, "config", "validate")
	if err != nil || !strings.Contains(out, good) {
		t.Errorf("%v %s", err, out)
	}
}

func TestNodeAddressFromEnvironmentFillsMissingAddresses(t *testing.T) {
	p := writeConfig(t, "nodes: [{name: a, cloud: memory, region: local}, {name: b, cloud: memory, region: local, address: 10.1.1.1}]\n")
	c, err := loadConfig(p, "10.9.9.9", "", Backends(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Nodes[0].Address != "10.9.9.9" || c.Nodes[1].Address != "10.1.1.1" {
		t.Errorf("addresses = %s, %s", c.Nodes[0].Address, c.Nodes[1].Address)
	}
}

func TestVersion(t *testing.T) {
	out, err := runCLI(t, nil, "version")
	if err != nil || !strings.HasPrefix(out, "faas-kubelet ") {
		t.Errorf("%v %q", err, out)
	}
}

func TestRegistryKnowsOnlyRegisteredBackends(t *testing.T) {
	if got := strings.Join(Backends(nil).Names(), ","); got != "alibaba-fc,aws-lambda,azure-functions,memory" {
		t.Errorf("names = %s", got)
	}
}

func TestAlibabaCredentialSources(t *testing.T) {
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	n := &config.Node{Name: "fc", Credentials: config.Credentials{Source: config.CredentialSourceEnv}}
	if _, _, err := alibabaCredential(n, getenv); err == nil || !strings.Contains(err.Error(), "ALIBABA_CLOUD_ACCESS_KEY_SECRET") {
		t.Errorf("env source without keys: %v", err)
	}
	env["ALIBABA_CLOUD_ACCESS_KEY_ID"], env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"] = "LTAIid", "s3cret"
	c, key, err := alibabaCredential(n, getenv)
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.GetCredential()
	if err != nil || *m.AccessKeyId != "LTAIid" || *m.AccessKeySecret != "s3cret" {
		t.Errorf("env credential = %+v, %v", m, err)
	}
	if key != "s3cret" {
		t.Errorf("a static AccessKey does not key the spec digest")
	}
	env["ALIBABA_CLOUD_SECURITY_TOKEN"] = "sts"
	if _, key, _ := alibabaCredential(n, getenv); key != "" {
		t.Errorf("an STS AccessKey (it expires) keys the spec digest")
	}
	delete(env, "ALIBABA_CLOUD_SECURITY_TOKEN")
	file := filepath.Join(t.TempDir(), "keys.yaml")
	if err := os.WriteFile(file, []byte("accessKeyId: LTAIfile\naccessKeySecret: topsecret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n.Credentials = config.Credentials{Source: config.CredentialSourceFile, File: file}
	if c, _, err = alibabaCredential(n, getenv); err != nil {
		t.Fatal(err)
	}
	if m, err := c.GetCredential(); err != nil || *m.AccessKeyId != "LTAIfile" {
		t.Errorf("file credential = %+v, %v", m, err)
	}
	if err := os.WriteFile(file, []byte("accessKeyId: LTAIfile\nsecret: topsecret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := alibabaCredential(n, getenv); err == nil || strings.Contains(err.Error(), "topsecret") {
		t.Errorf("a malformed file must be refused without echoing it: %v", err)
	}
}
