package alibaba

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	fc "github.com/alibabacloud-go/fc-open-20210406/v2/client"
	"github.com/alibabacloud-go/tea/tea"
	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/aliyun/credentials-go/credentials"
	"golang.org/x/time/rate"

	"github.com/faas-kubelet/faas-kubelet/pkg/metrics"
	"github.com/faas-kubelet/faas-kubelet/provider"
)

// ClientOptions say where the clients go and how they sign requests.
type ClientOptions struct {
	Region    string
	AccountID string
	// Endpoint overrides Function Compute's
	// (https://<accountId>.<region>.fc.aliyuncs.com). The SDK's own endpoint
	// map holds a placeholder, so the endpoint is always set explicitly.
	Endpoint string
	// LogEndpoint overrides Log Service's (https://<region>.log.aliyuncs.com).
	LogEndpoint string
	// LogDialAddress, when set, receives every Log Service connection
	// whatever the project's virtual host (the emulator on loopback).
	LogDialAddress string
	// Credential signs requests: Alibaba's default chain or static keys
	// (see StaticCredential).
	Credential credentials.Credential
	// Limiter is the node's client-side rate limit, shared by Function
	// Compute and Log Service requests; nil: none.
	Limiter *rate.Limiter
	// Metrics records the node's HTTP requests (the SDK passes requests no
	// context to carry it); nil: not recorded.
	Metrics *metrics.Node
}

func (o *ClientOptions) transport(dialAddress string) http.RoundTripper {
	var rt http.RoundTripper = baseTransport(dialAddress)
	if o.Limiter != nil {
		rt = provider.Throttle(o.Limiter, rt)
	}
	return metrics.Inject(o.Metrics, rt)
}

// daraClient sends Function Compute's requests through the node's
// transport. The SDK hands each call a fresh transport and keeps its read
// timeout to itself, so the timeouts are ours: invocations may run as long
// as a function may.
type daraClient struct{ rt http.RoundTripper }

func (d *daraClient) Call(req *http.Request, _ *http.Transport) (*http.Response, error) {
	timeout := readTimeout
	if strings.HasSuffix(req.URL.Path, "/invocations") {
		timeout = invokeTimeout
	}
	return (&http.Client{Transport: d.rt, Timeout: timeout}).Do(req)
}

func baseTransport(dialAddress string) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	d := &net.Dialer{Timeout: connectTimeout}
	t.DialContext = d.DialContext
	if dialAddress != "" {
		t.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, dialAddress)
		}
	}
	return t
}

// NewClient builds the Function Compute 2.0 client. Requests are signed
// with ACS3-HMAC-SHA256.
func NewClient(o ClientOptions) (*fc.Client, error) {
	ep := o.Endpoint
	if ep == "" {
		ep = fmt.Sprintf("https://%s.%s.fc.aliyuncs.com", o.AccountID, o.Region)
	}
	u, err := url.Parse(ep)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("function compute endpoint %q is not a URL", ep)
	}
	rt := o.transport("")
	return fc.NewClient(&openapi.Config{
		Credential: o.Credential,
		Endpoint:   tea.String(u.Host),
		Protocol:   tea.String(u.Scheme),
		RegionId:   tea.String(o.Region),
		HttpClient: &daraClient{rt: rt},
	})
}

// NewLogsClient builds the Log Service client.
func NewLogsClient(o ClientOptions) sls.ClientInterface {
	ep := o.LogEndpoint
	if ep == "" {
		ep = fmt.Sprintf("https://%s.log.aliyuncs.com", o.Region)
	}
	c := sls.CreateNormalInterfaceV2(ep, &slsCredentials{o.Credential})
	// The SDK retries 5xx answers for 90 s by default: long enough to make
	// kubectl logs look hung. A follow polls again anyway.
	c.SetRetryTimeout(10 * time.Second)
	c.SetHTTPClient(&http.Client{Timeout: readTimeout, Transport: o.transport(o.LogDialAddress)})
	return c
}

// slsCredentials hands the Function Compute credential to Log Service.
type slsCredentials struct{ c credentials.Credential }

func (s *slsCredentials) GetCredentials() (sls.Credentials, error) {
	m, err := s.c.GetCredential()
	if err != nil {
		return sls.Credentials{}, err
	}
	return sls.Credentials{AccessKeyID: tea.StringValue(m.AccessKeyId), AccessKeySecret: tea.StringValue(m.AccessKeySecret), SecurityToken: tea.StringValue(m.SecurityToken)}, nil
}

// DefaultCredential is Alibaba Cloud's default credential chain:
// environment variables, RRSA (OIDC) for pods, the credentials file and CLI
// profile, then the instance's RAM role.
func DefaultCredential() (credentials.Credential, error) {
	return credentials.NewCredential(nil)
}

// StaticCredential is an AccessKey pair (with a security token for STS
// credentials); it never consults a metadata service.
func StaticCredential(id, secret, token string) (credentials.Credential, error) {
	cfg := &credentials.Config{Type: tea.String("access_key"), AccessKeyId: tea.String(id), AccessKeySecret: tea.String(secret)}
	if token != "" {
		cfg.Type, cfg.SecurityToken = tea.String("sts"), tea.String(token)
	}
	return credentials.NewCredential(cfg)
}
