package alibaba

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	fc "github.com/alibabacloud-go/fc-open-20210406/v2/client"
	util "github.com/alibabacloud-go/tea-utils/v2/service"
	"github.com/alibabacloud-go/tea/tea"
	sls "github.com/aliyun/aliyun-log-go-sdk"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// env is one emulator with the clients a user of the SDKs would build.
type env struct {
	s   *Server
	ts  *httptest.Server
	fc  *fc.Client
	sls *sls.Client
}

func start(t *testing.T, opts Options) *env {
	t.Helper()
	s := New(opts)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return &env{s: s, ts: ts, fc: fcClient(t, ts, DefaultAccessKeySecret), sls: slsClient(ts, DefaultAccessKeySecret)}
}

func fcClient(t *testing.T, ts *httptest.Server, secret string) *fc.Client {
	t.Helper()
	c, err := fc.NewClient(&openapi.Config{
		AccessKeyId: tea.String(DefaultAccessKeyID), AccessKeySecret: tea.String(secret),
		Endpoint: tea.String(strings.TrimPrefix(ts.URL, "http://")), Protocol: tea.String("http"),
		RegionId: tea.String(DefaultRegion),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// slsClient reaches the emulator the way faas-kubelet does: the SDK builds
// http://<logProject>.<endpoint>/... and the dialer sends every connection to
// the emulator's address.
func slsClient(ts *httptest.Server, secret string) *sls.Client {
	addr := ts.Listener.Addr().String()
	c := &sls.Client{Endpoint: DefaultRegion + ".log.aliyuncs.com", AccessKeyID: DefaultAccessKeyID, AccessKeySecret: secret}
	c.SetHTTPClient(&http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}})
	c.SetRetryTimeout(time.Second)
	return c
}

var rt = &util.RuntimeOptions{}

// fcError is what a user of the FC SDK sees of an error: the HTTP status and
// the errorCode in the error's Data (the SDK does not parse it into Code).
func fcError(err error) (int, string) {
	var se *tea.SDKError
	if !errors.As(err, &se) {
		return 0, ""
	}
	var body struct {
		ErrorCode string `json:"errorCode"`
	}
	_ = json.Unmarshal([]byte(tea.StringValue(se.Data)), &body)
	return tea.IntValue(se.StatusCode), body.ErrorCode
}

func wantFCError(t *testing.T, what string, err error, status int, code string) {
	t.Helper()
	gotStatus, gotCode := fcError(err)
	if gotStatus != status || gotCode != code {
		t.Errorf("%s: got %d %q (%v), want %d %q", what, gotStatus, gotCode, err, status, code)
	}
}

const (
	image      = "registry.cn-hangzhou.aliyuncs.com/faas/hello:1"
	logProject = "faas-logs"
	logStore   = "functions"
)

func createService(t *testing.T, c *fc.Client, name string, logs bool) *fc.CreateServiceResponseBody {
	t.Helper()
	req := &fc.CreateServiceRequest{ServiceName: tea.String(name), Description: tea.String("pods"),
		Role: tea.String("acs:ram::" + DefaultAccountID + ":role/fc-logs")}
	if logs {
		req.LogConfig = &fc.LogConfig{Project: tea.String(logProject), Logstore: tea.String(logStore)}
	}
	out, err := c.CreateServiceWithOptions(req, &fc.CreateServiceHeaders{}, rt)
	if err != nil {
		t.Fatalf("CreateService %s: %v", name, err)
	}
	return out.Body
}

func functionRequest(name, img string, env map[string]string) *fc.CreateFunctionRequest {
	return &fc.CreateFunctionRequest{
		FunctionName: tea.String(name), Runtime: tea.String("custom-container"), Handler: tea.String("not-used"),
		CaPort: tea.Int32(8080), MemorySize: tea.Int32(512), Timeout: tea.Int32(60),
		InstanceConcurrency: tea.Int32(10), EnvironmentVariables: stringMap(env),
		CustomContainerConfig: &fc.CustomContainerConfig{Image: tea.String(img)},
	}
}

func createFunction(t *testing.T, c *fc.Client, svc, name string, env map[string]string) *fc.CreateFunctionResponseBody {
	t.Helper()
	out, err := c.CreateFunctionWithOptions(tea.String(svc), functionRequest(name, image, env), &fc.CreateFunctionHeaders{}, rt)
	if err != nil {
		t.Fatalf("CreateFunction %s/%s: %v", svc, name, err)
	}
	return out.Body
}

func invoke(t *testing.T, c *fc.Client, svc, fn, payload string, h *fc.InvokeFunctionHeaders) *fc.InvokeFunctionResponse {
	t.Helper()
	if h == nil {
		h = &fc.InvokeFunctionHeaders{}
	}
	out, err := c.InvokeFunctionWithOptions(tea.String(svc), tea.String(fn), &fc.InvokeFunctionRequest{Body: []byte(payload)}, h, rt)
	if err != nil {
		t.Fatalf("InvokeFunction %s/%s: %v", svc, fn, err)
	}
	return out
}

func stringMap(m map[string]string) map[string]*string {
	out := make(map[string]*string, len(m))
	for k, v := range m {
		out[k] = tea.String(v)
	}
	return out
}
