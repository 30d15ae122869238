package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/appservice/armappservice/v4"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	lambdasdk "github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	azureemu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/azure"
	lambdaemu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/lambda"
	"github.com/faas-kubelet/faas-kubelet/pkg/emulator/tlsdir"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startEmulatorCommand runs faas-kubelet emulator with args until it
// printed endpoints endpoint lines and returns what it printed; the
// emulator stops when the test ends.
func startEmulatorCommand(t *testing.T, endpoints int, args ...string) string {
	t.Helper()
	var out lockedBuffer
	cmd := newEmulatorCommand()
	cmd.SetOut(&out)
	cmd.SetArgs(args)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for strings.Count(out.String(), "endpoint=") < endpoints {
		if time.Now().After(deadline) {
			t.Fatalf("the emulator printed no %d endpoints:\n%s", endpoints, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return out.String()
}

// faas-kubelet emulator runs the three clouds' emulators (by default on
// 127.0.0.1:9324-9326) and prints each endpoint with its credentials.
func TestEmulatorCommandRunsTheThreeClouds(t *testing.T) {
	cmd := newEmulatorCommand()
	for flag, want := range map[string]string{"lambda-listen": "127.0.0.1:9324", "azure-listen": "127.0.0.1:9325", "alibaba-listen": "127.0.0.1:9326"} {
		if got := cmd.Flags().Lookup(flag).DefValue; got != want {
			t.Errorf("--%s defaults to %q, want %q", flag, got, want)
		}
	}
	out := startEmulatorCommand(t, 3, "--lambda-listen", "127.0.0.1:0", "--azure-listen", "127.0.0.1:0", "--alibaba-listen", "127.0.0.1:0")
	for _, want := range []string{"aws-lambda endpoint=http://127.0.0.1:", "AWS_SECRET_ACCESS_KEY=", "azure-functions endpoint=http://127.0.0.1:", "AZURE_ACCESS_TOKEN=",
		"alibaba-fc endpoint=http://127.0.0.1:", "ALIBABA_CLOUD_ACCESS_KEY_SECRET="} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// In TLS mode the emulators serve HTTPS with a certificate from --tls-dir,
// print where the CA is and the variables that make tools trust it, and
// the clouds' own clients, given only those variables, work against them:
// Azure's armappservice (which will not send its token over http, below)
// with SSL_CERT_FILE, the AWS SDK with AWS_CA_BUNDLE. Each client runs in
// a child process, since Go reads SSL_CERT_FILE once per process.
func TestEmulatorTLSModeServesTheCloudsOwnClients(t *testing.T) {
	dir := t.TempDir()
	out := startEmulatorCommand(t, 3, "--tls-dir", dir, "--azure-provision-delay", "200ms", "--lambda-activation-delay", "0",
		"--lambda-listen", "127.0.0.1:0", "--azure-listen", "127.0.0.1:0", "--alibaba-listen", "127.0.0.1:0")
	ca := filepath.Join(dir, tlsdir.CAFile)
	for _, want := range []string{
		"tls ca=" + ca + " cert=" + filepath.Join(dir, tlsdir.CertFile) + " key=" + filepath.Join(dir, tlsdir.KeyFile) + " (new CA)\n",
		"export SSL_CERT_FILE=" + ca + " AWS_CA_BUNDLE=" + ca + " REQUESTS_CA_BUNDLE=" + ca + " NODE_EXTRA_CA_CERTS=" + ca + "\n",
		"aws-lambda endpoint=https://127.0.0.1:", "azure-functions endpoint=https://127.0.0.1:", "alibaba-fc endpoint=https://127.0.0.1:",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, tlsdir.KeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("tls.key: %v, mode %v", err, fi.Mode().Perm())
	}
	env := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, "export "); ok {
			for _, kv := range strings.Fields(rest) {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
		}
	}
	endpoint := func(cloud string) string {
		_, rest, _ := strings.Cut(out, cloud+" endpoint=")
		return strings.Fields(rest)[0]
	}

	awsEnv := []string{"AWS_CONFIG_FILE=" + os.DevNull, "AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull, "AWS_EC2_METADATA_DISABLED=true"}
	for _, c := range []struct {
		check, endpoint string
		env             []string
		trusted         bool
	}{
		{"azure", endpoint("azure-functions"), []string{"SSL_CERT_FILE=" + env["SSL_CERT_FILE"]}, true},
		{"aws", endpoint("aws-lambda"), append([]string{"AWS_CA_BUNDLE=" + env["AWS_CA_BUNDLE"]}, awsEnv...), true},
		// Without the variable the CA is unknown: it is what makes the
		// clients trust the emulator.
		{"aws", endpoint("aws-lambda"), append([]string{"AWS_MAX_ATTEMPTS=1"}, awsEnv...), false},
	} {
		out, err := runChild(t, c.check, c.endpoint, c.env...)
		if passed := err == nil; passed != c.trusted {
			t.Errorf("%s client over TLS with %v: passed %v, want %v: %v\n%s", c.check, c.env, passed, c.trusted, err, out)
		} else if !c.trusted && !strings.Contains(out, "certificate signed by unknown authority") {
			t.Errorf("%s client over TLS with %v failed otherwise than for the unknown CA:\n%s", c.check, c.env, out)
		}
	}

	// The Log Service SDK puts the project in front of the endpoint's host.
	roots := x509.NewCertPool()
	if pem, err := os.ReadFile(ca); err != nil || !roots.AppendCertsFromPEM(pem) {
		t.Fatalf("ca.crt: %v", err)
	}
	alibaba := strings.TrimPrefix(endpoint("alibaba-fc"), "https://")
	_, port, _ := net.SplitHostPort(alibaba)
	sls := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, alibaba)
		}}}
	resp, err := sls.Get("https://my-project.127.0.0.1:" + port + "/logstores")
	if err != nil {
		t.Fatalf("Log Service host over TLS: %v", err)
	}
	resp.Body.Close()

	// Started again, it keeps the CA and certificate.
	again := startEmulatorCommand(t, 1, "--tls-dir", dir, "--lambda-listen", "127.0.0.1:0", "--azure-listen", "", "--alibaba-listen", "")
	if !strings.Contains(again, " (reused)\n") {
		t.Errorf("second start did not reuse the directory:\n%s", again)
	}
}

// Over plain http azcore refuses to send the bearer token, so without TLS
// Azure's own clients cannot reach the emulator: the request never leaves.
func TestAzureClientsRefusePlainHTTP(t *testing.T) {
	var requests atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		azureemu.New(azureemu.Options{}).ServeHTTP(w, r)
	}))
	defer ts.Close()
	err := azureCreateListDelete(context.Background(), ts.URL)
	if err == nil || !strings.Contains(err.Error(), "non-TLS") {
		t.Errorf("over http: %v, want azcore's refusal of non-TLS endpoints", err)
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("%d requests reached the emulator", n)
	}
}

// childEnv names the check a child process runs (see TestMain).
const childEnv = "FAAS_KUBELET_TEST_TLS_CHILD"

// TestMain runs the test binary as runChild's child when childEnv is set:
// one check with only the trust variables runChild passed, its error on
// stderr and exit code 1 if it fails.
func TestMain(m *testing.M) {
	if check := os.Getenv(childEnv); check != "" {
		if err := childCheck(check, os.Getenv("FAAS_KUBELET_TEST_ENDPOINT")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runChild runs the test binary as a child process with check against
// endpoint and, of the trust variables, only those in extra; it returns
// the child's output.
func runChild(t *testing.T, check, endpoint string, extra ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0])
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "SSL_CERT_"), strings.HasPrefix(k, "AWS_"), strings.HasPrefix(k, "AZURE_"),
			k == "REQUESTS_CA_BUNDLE", k == "NODE_EXTRA_CA_CERTS", strings.HasSuffix(strings.ToUpper(k), "_PROXY"):
			continue
		}
		cmd.Env = append(cmd.Env, kv)
	}
	cmd.Env = append(cmd.Env, append(extra, childEnv+"="+check, "FAAS_KUBELET_TEST_ENDPOINT="+endpoint)...)
	b, err := cmd.CombinedOutput()
	return string(b), err
}

// childCheck is the child's work: Azure's or the AWS SDK's client against
// the emulator at endpoint.
func childCheck(check, endpoint string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	switch check {
	case "azure":
		return azureCreateListDelete(ctx, endpoint)
	case "aws":
		return lambdaCreateListDelete(ctx, endpoint)
	}
	return fmt.Errorf("unknown check %q", check)
}

// staticToken is the bearer token the Azure emulator accepts.
type staticToken string

func (s staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(s), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// azureCreateListDelete drives the Web Apps API at endpoint with
// armappservice as any program would, its transport the SDK's own.
func azureCreateListDelete(ctx context.Context, endpoint string) error {
	client, err := armappservice.NewWebAppsClient(azureemu.DefaultSubscription, staticToken(azureemu.DefaultToken), &arm.ClientOptions{
		ClientOptions: policy.ClientOptions{Cloud: cloud.Configuration{
			ActiveDirectoryAuthorityHost: cloud.AzurePublic.ActiveDirectoryAuthorityHost,
			Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
				cloud.ResourceManager: {Endpoint: endpoint, Audience: cloud.AzurePublic.Services[cloud.ResourceManager].Audience},
			},
		}},
	})
	if err != nil {
		return err
	}
	const rg, name = "rg", "tls-app"
	poller, err := client.BeginCreateOrUpdate(ctx, rg, name, armappservice.Site{
		Location: to.Ptr(azureemu.DefaultLocation), Kind: to.Ptr("functionapp,linux,container"),
		Properties: &armappservice.SiteProperties{
			ServerFarmID: to.Ptr("/subscriptions/" + azureemu.DefaultSubscription + "/resourceGroups/rg/providers/Microsoft.Web/serverfarms/plan"),
			SiteConfig:   &armappservice.SiteConfig{LinuxFxVersion: to.Ptr("DOCKER|registry.example/app:1")},
		},
	}, nil)
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	site, err := poller.PollUntilDone(ctx, &runtime.PollUntilDoneOptions{Frequency: 100 * time.Millisecond})
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	if site.Name == nil || *site.Name != name {
		return fmt.Errorf("created %+v", site)
	}
	names := func() ([]string, error) {
		var out []string
		for pager := client.NewListByResourceGroupPager(rg, nil); pager.More(); {
			page, err := pager.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("list: %w", err)
			}
			for _, s := range page.Value {
				out = append(out, *s.Name)
			}
		}
		return out, nil
	}
	if got, err := names(); err != nil || len(got) != 1 || got[0] != name {
		return fmt.Errorf("listed %v, %v", got, err)
	}
	if _, err := client.Delete(ctx, rg, name, nil); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if got, err := names(); err != nil || len(got) != 0 {
		return fmt.Errorf("listed after delete %v, %v", got, err)
	}
	return nil
}

// lambdaCreateListDelete drives the Lambda API at endpoint with a client
// from config.LoadDefaultConfig, which reads AWS_CA_BUNDLE.
func lambdaCreateListDelete(ctx context.Context, endpoint string) error {
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(lambdaemu.DefaultRegion),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(lambdaemu.DefaultAccessKey, lambdaemu.DefaultSecretKey, "")))
	if err != nil {
		return err
	}
	client := lambdasdk.NewFromConfig(cfg, func(o *lambdasdk.Options) { o.BaseEndpoint = aws.String(endpoint) })
	if _, err := client.CreateFunction(ctx, &lambdasdk.CreateFunctionInput{
		FunctionName: aws.String("tls-fn"), Role: aws.String("arn:aws:iam::123456789012:role/fn"),
		PackageType: lambdatypes.PackageTypeImage, Code: &lambdatypes.FunctionCode{ImageUri: aws.String("123456789012.dkr.ecr.us-east-1.amazonaws.com/hello:1")},
	}); err != nil {
		return fmt.Errorf("create: %w", err)
	}
	list, err := client.ListFunctions(ctx, &lambdasdk.ListFunctionsInput{})
	if err != nil || len(list.Functions) != 1 || *list.Functions[0].FunctionName != "tls-fn" {
		return fmt.Errorf("list: %v %v", list, err)
	}
	if _, err := client.DeleteFunction(ctx, &lambdasdk.DeleteFunctionInput{FunctionName: aws.String("tls-fn")}); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	return nil
}

// The printed paths paste into a shell as they are.
func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{"/tmp/emu/ca.crt": "/tmp/emu/ca.crt", "/tmp/my emu/ca.crt": "'/tmp/my emu/ca.crt'", "/tmp/it's": `'/tmp/it'\''s'`, "": "''"} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %s, want %s", in, got, want)
		}
	}
}
