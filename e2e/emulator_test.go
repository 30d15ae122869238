//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	fc "github.com/alibabacloud-go/fc-open-20210406/v2/client"
	util "github.com/alibabacloud-go/tea-utils/v2/service"
	"github.com/alibabacloud-go/tea/tea"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sdk "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	corev1 "k8s.io/api/core/v1"

	alibabaemu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/alibaba"
	azureemu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/azure"
	lambdaemu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/lambda"
)

// emulator is a `faas-kubelet emulator` process started by a test.
type emulator struct {
	endpoint        string // Lambda + CloudWatch Logs
	azureEndpoint   string // Azure Resource Manager
	alibabaEndpoint string // Function Compute + Log Service
	lambda          *sdk.Client
	fc              *fc.Client
}

// e2eResourceGroup holds the Azure function apps of the tests.
const e2eResourceGroup = "rg-e2e"

// The Log Service project and logstore the tests' Function Compute
// services log to.
const (
	e2eLogProject = "e2e-functions"
	e2eLogStore   = "fc-logs"
)

// startEmulator runs the cloud emulators where faas-kubelet and the test can
// both reach them: on the node address (inside the network namespace).
// extraArgs are added to the emulator's flags (later flags win).
func startEmulator(t *testing.T, extraArgs ...string) *emulator {
	t.Helper()
	addr := net.JoinHostPort(cluster.env["FAAS_KUBELET_NODE_IP"], fmt.Sprint(19300+nextPort.Add(1)))
	azureAddr := net.JoinHostPort(cluster.env["FAAS_KUBELET_NODE_IP"], fmt.Sprint(19300+nextPort.Add(1)))
	alibabaAddr := net.JoinHostPort(cluster.env["FAAS_KUBELET_NODE_IP"], fmt.Sprint(19300+nextPort.Add(1)))
	args := append([]string{"emulator", "--lambda-listen", addr, "--lambda-activation-delay", "1s", "--lambda-update-delay", "500ms",
		"--azure-listen", azureAddr, "--azure-provision-delay", "1s", "--alibaba-listen", alibabaAddr, "--alibaba-acceleration-delay", "1s"}, extraArgs...)
	cmd := kubeletCommand(args...)
	logPath := filepath.Join(t.TempDir(), "emulator.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	t.Cleanup(func() { stopProcess(cmd, done) })
	e := &emulator{endpoint: "http://" + addr, azureEndpoint: "http://" + azureAddr, alibabaEndpoint: "http://" + alibabaAddr}
	for _, a := range []string{addr, azureAddr, alibabaAddr} {
		eventually(t, 20*time.Second, "the emulator to listen on "+a, func() (bool, string) {
			c, err := net.DialTimeout("tcp", a, time.Second)
			if err != nil {
				return false, err.Error()
			}
			c.Close()
			return true, ""
		})
	}
	e.lambda = sdk.New(sdk.Options{
		Region: lambdaemu.DefaultRegion, BaseEndpoint: aws.String(e.endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(lambdaemu.DefaultAccessKey, lambdaemu.DefaultSecretKey, ""),
	})
	var err2 error
	e.fc, err2 = fc.NewClient(&openapi.Config{AccessKeyId: tea.String(alibabaemu.DefaultAccessKeyID), AccessKeySecret: tea.String(alibabaemu.DefaultAccessKeySecret),
		Endpoint: tea.String(alibabaAddr), Protocol: tea.String("http"), RegionId: tea.String(alibabaemu.DefaultRegion)})
	if err2 != nil {
		t.Fatal(err2)
	}
	return e
}

// services lists the emulated Function Compute services with their tags.
func (e *emulator) services(t *testing.T) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	var next *string
	for {
		page, err := e.fc.ListServicesWithOptions(&fc.ListServicesRequest{NextToken: next, Limit: tea.Int32(100)}, &fc.ListServicesHeaders{}, &util.RuntimeOptions{})
		if err != nil {
			t.Fatalf("ListServices: %v", err)
		}
		for _, s := range page.Body.Services {
			name := tea.StringValue(s.ServiceName)
			tags, err := e.fc.GetResourceTagsWithOptions(&fc.GetResourceTagsRequest{ResourceArn: tea.String(fmt.Sprintf("acs:fc:%s:%s:services/%s", alibabaemu.DefaultRegion, alibabaemu.DefaultAccountID, name))}, &fc.GetResourceTagsHeaders{}, &util.RuntimeOptions{})
			got := map[string]string{}
			if err == nil {
				for k, v := range tags.Body.Tags {
					got[k] = tea.StringValue(v)
				}
			}
			out[name] = got
		}
		if tea.StringValue(page.Body.NextToken) == "" {
			return out
		}
		next = page.Body.NextToken
	}
}

func stopProcess(cmd *exec.Cmd, done chan struct{}) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// functions lists the emulator's functions with their tags.
func (e *emulator) functions(t *testing.T) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	p := sdk.NewListFunctionsPaginator(e.lambda, &sdk.ListFunctionsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("ListFunctions: %v", err)
		}
		for _, f := range page.Functions {
			tags, err := e.lambda.ListTags(context.Background(), &sdk.ListTagsInput{Resource: f.FunctionArn})
			var gone *types.ResourceNotFoundException
			if errors.As(err, &gone) {
				continue // deleted since the listing
			}
			if err != nil {
				t.Fatalf("ListTags: %v", err)
			}
			out[aws.ToString(f.FunctionName)] = tags.Tags
		}
	}
	return out
}

// calls reads the emulator's per-operation call counters.
func (e *emulator) calls(t *testing.T) map[string]int {
	t.Helper()
	resp, err := http.Get(e.endpoint + "/_emulator/calls")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var c map[string]int
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

// sites lists the emulated Azure function apps of the e2e resource group
// with their tags, decoded (Azure stores '/' in tag names as ':').
func (e *emulator) sites(t *testing.T) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	next := fmt.Sprintf("%s/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Web/sites?api-version=%s",
		e.azureEndpoint, azureemu.DefaultSubscription, e2eResourceGroup, azureemu.APIVersion)
	for next != "" {
		req, _ := http.NewRequest(http.MethodGet, next, nil)
		req.Header.Set("Authorization", "Bearer "+azureemu.DefaultToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			Value []struct {
				Name string            `json:"name"`
				Tags map[string]string `json:"tags"`
			} `json:"value"`
			NextLink string `json:"nextLink"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page.Value {
			tags := map[string]string{}
			for k, v := range s.Tags {
				tags[strings.ReplaceAll(k, ":", "/")] = v
			}
			out[s.Name] = tags
		}
		next = page.NextLink
	}
	return out
}

// callsOf reads the per-operation counters of one of the emulator's clouds.
func (e *emulator) callsOf(t *testing.T, cloud string) map[string]int {
	t.Helper()
	ep := e.endpoint
	switch cloud {
	case "azure-functions":
		ep = e.azureEndpoint
	case "alibaba-fc":
		ep = e.alibabaEndpoint
	}
	resp, err := http.Get(ep + "/_emulator/calls")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var c map[string]int
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

// cloudUnderTest is what a scenario shared by every cloud needs to know.
type cloudUnderTest struct {
	name               string
	createOp, deleteOp string // the emulator's operation names
	adoptOp            string // the call that finds an existing function after a restart
	fromListing        bool   // a restart adopts unchanged functions from the listing, with no adoptOp
	invokeOp           string // the emulator's count of invocations
	invocationLog      string // what an invocation writes to the function's log
	image              string
}

var clouds = []cloudUnderTest{
	{name: "aws-lambda", createOp: "CreateFunction", deleteOp: "DeleteFunction", adoptOp: "CreateFunction", fromListing: true,
		invokeOp: "Invoke", invocationLog: "REPORT RequestId", image: ecrImage},
	{name: "azure-functions", createOp: "CreateOrUpdate", deleteOp: "Delete", adoptOp: "Get", fromListing: true,
		invokeOp: "InvokeFunction", invocationLog: "Executed 'Functions.task' (Succeeded", image: "faaskubelet.azurecr.io/hello:1"},
	{name: "alibaba-fc", createOp: "CreateFunction", deleteOp: "DeleteService", adoptOp: "CreateService", fromListing: true,
		invokeOp: "InvokeFunction", invocationLog: "FC Invoke End RequestId", image: "registry.cn-hangzhou.aliyuncs.com/faas-kubelet/hello:1"},
}

// deleteFunction deletes a function behind faas-kubelet's back.
func (c cloudUnderTest) deleteFunction(t *testing.T, emu *emulator, name string) {
	t.Helper()
	switch c.name {
	case "aws-lambda":
		if _, err := emu.lambda.DeleteFunction(context.Background(), &sdk.DeleteFunctionInput{FunctionName: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
		return
	case "alibaba-fc":
		// The pod's function is its service: delete the function inside it,
		// then the service, as the console or the CLI would.
		if _, err := emu.fc.DeleteFunctionWithOptions(tea.String(name), tea.String(name), &fc.DeleteFunctionHeaders{}, &util.RuntimeOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := emu.fc.DeleteServiceWithOptions(tea.String(name), &fc.DeleteServiceHeaders{}, &util.RuntimeOptions{}); err != nil {
			t.Fatal(err)
		}
		return
	}
	// As `az functionapp delete --keep-empty-plan` does: without it ARM
	// deletes the node's plan with its last app.
	req, _ := http.NewRequest(http.MethodDelete, fmt.Sprintf("%s/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Web/sites/%s?api-version=%s&deleteEmptyServerFarm=false",
		emu.azureEndpoint, azureemu.DefaultSubscription, e2eResourceGroup, name, azureemu.APIVersion), nil)
	req.Header.Set("Authorization", "Bearer "+azureemu.DefaultToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("deleting site %s: HTTP %d", name, resp.StatusCode)
	}
}

// start runs the emulator and a node of this cloud.
func (c cloudUnderTest) start(t *testing.T) (*emulator, *kubelet) {
	t.Helper()
	return c.startWith(t, "")
}

// startWith runs the emulator and a node of this cloud whose config has
// nodeExtra (indented two spaces) appended.
func (c cloudUnderTest) startWith(t *testing.T, nodeExtra string) (*emulator, *kubelet) {
	t.Helper()
	emu := startEmulator(t)
	k := startKubelet(t, kubeletOptions{cloud: c.name, lambdaEndpoint: emu.endpoint, azureEndpoint: emu.azureEndpoint, alibabaEndpoint: emu.alibabaEndpoint, nodeExtra: nodeExtra})
	waitNodeReady(t, k.node, corev1.ConditionTrue, 30*time.Second)
	return emu, k
}

// functions lists this cloud's functions (Lambda functions, function apps)
// with their tags.
func (c cloudUnderTest) functions(t *testing.T, emu *emulator) map[string]map[string]string {
	switch c.name {
	case "azure-functions":
		return emu.sites(t)
	case "alibaba-fc":
		return emu.services(t)
	}
	return emu.functions(t)
}

// touchSettings replaces an Azure app's settings, which makes the emulated
// app log a line.
func (e *emulator) touchSettings(t *testing.T, name string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, fmt.Sprintf("%s/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Web/sites/%s/config/appsettings?api-version=%s",
		e.azureEndpoint, azureemu.DefaultSubscription, e2eResourceGroup, name, azureemu.APIVersion), strings.NewReader(`{"properties":{"TOUCHED":"1"}}`))
	req.Header.Set("Authorization", "Bearer "+azureemu.DefaultToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT appsettings: HTTP %d", resp.StatusCode)
	}
}

// invoke calls a function the way a user of the cloud's SDK would.
func (c cloudUnderTest) invoke(t *testing.T, emu *emulator, name string) {
	t.Helper()
	switch c.name {
	case "aws-lambda":
		if _, err := emu.lambda.Invoke(context.Background(), &sdk.InvokeInput{FunctionName: aws.String(name), Payload: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	case "alibaba-fc":
		if _, err := emu.fc.InvokeFunctionWithOptions(tea.String(name), tea.String(name), &fc.InvokeFunctionRequest{Body: []byte(`{}`)}, &fc.InvokeFunctionHeaders{}, &util.RuntimeOptions{}); err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("no invoke for %s", c.name)
	}
}
