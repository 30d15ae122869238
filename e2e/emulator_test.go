//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	sdk "github.com/aws/aws-sdk-go-v2/service/lambda"

	lambdaemu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/lambda"
)

// emulator is a `faas-kubelet emulator` process started by a test.
type emulator struct {
	endpoint string
	lambda   *sdk.Client
}

// startEmulator runs the cloud emulators where faas-kubelet and the test can
// both reach them: on the node address (inside the network namespace).
// extraArgs are added to the emulator's flags (later flags win).
func startEmulator(t *testing.T, extraArgs ...string) *emulator {
	t.Helper()
	addr := net.JoinHostPort(cluster.env["FAAS_KUBELET_NODE_IP"], fmt.Sprint(19300+nextPort.Add(1)))
	args := append([]string{"emulator", "--lambda-listen", addr, "--lambda-activation-delay", "1s", "--lambda-update-delay", "500ms"}, extraArgs...)
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
	e := &emulator{endpoint: "http://" + addr}
	eventually(t, 20*time.Second, "the emulator to listen on "+addr, func() (bool, string) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false, err.Error()
		}
		c.Close()
		return true, ""
	})
	e.lambda = sdk.New(sdk.Options{
		Region: lambdaemu.DefaultRegion, BaseEndpoint: aws.String(e.endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(lambdaemu.DefaultAccessKey, lambdaemu.DefaultSecretKey, ""),
	})
	return e
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
