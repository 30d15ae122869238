package lambda

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/lambda"
	corev1 "k8s.io/api/core/v1"

	emu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/lambda"
)

// A request becomes a function URL event (payload format 2.0) the way
// Lambda builds it: lower-case headers, cookies apart, query parameters
// joined, a binary body base64-encoded.
func TestURLEvent(t *testing.T) {
	req, _ := http.NewRequest(http.MethodPost, "http://web.local:8080/orders/7?tag=a&tag=b&x=1", strings.NewReader(`{"n":1}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Cookie", "a=1; b=2")
	req.Header.Set("User-Agent", "curl/8")
	ev, err := urlEvent(req, []byte(`{"n":1}`), "123456789012", "req-1", time.Unix(1700000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Version, RawPath, RawQueryString, Body string
		Headers                                map[string]string
		QueryStringParameters                  map[string]string
		Cookies                                []string
		IsBase64Encoded                        bool
		RequestContext                         struct {
			AccountID string `json:"accountId"`
			RequestID string `json:"requestId"`
			TimeEpoch int64  `json:"timeEpoch"`
			HTTP      struct{ Method, Path, UserAgent string }
		}
	}
	if err := json.Unmarshal(ev, &got); err != nil {
		t.Fatal(err)
	}
	if got.Version != "2.0" || got.RawPath != "/orders/7" || got.RawQueryString != "tag=a&tag=b&x=1" || got.QueryStringParameters["tag"] != "a,b" ||
		got.Headers["content-type"] != "application/json" || got.Headers["host"] != "web.local:8080" || len(got.Cookies) != 2 ||
		got.Body != `{"n":1}` || got.IsBase64Encoded || got.RequestContext.HTTP.Method != "POST" || got.RequestContext.HTTP.Path != "/orders/7" ||
		got.RequestContext.AccountID != "123456789012" || got.RequestContext.TimeEpoch != 1700000000000 || got.RequestContext.HTTP.UserAgent != "curl/8" {
		t.Errorf("event: %s", ev)
	}
	if _, ok := got.Headers["cookie"]; ok {
		t.Error("cookies left in the headers")
	}
	bin, _ := http.NewRequest(http.MethodPut, "http://x/", nil)
	bin.Header.Set("Content-Type", "application/octet-stream")
	ev, _ = urlEvent(bin, []byte{0xff, 0x00}, "", "r", time.Now())
	if !strings.Contains(string(ev), `"body":"/wA="`) || !strings.Contains(string(ev), `"isBase64Encoded":true`) {
		t.Errorf("binary body: %s", ev)
	}
}

// A function's output becomes the function URL's response: a response
// object gives status, headers, cookies and (base64) body; anything else
// is a 200 JSON body.
func TestURLResponse(t *testing.T) {
	resp := urlResponse([]byte(`{"statusCode":201,"headers":{"X-Id":"7"},"cookies":["s=1"],"body":"aGk=","isBase64Encoded":true}`))
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 201 || resp.Header.Get("X-Id") != "7" || resp.Header.Get("Set-Cookie") != "s=1" || string(body) != "hi" {
		t.Errorf("response object: %d %v %q", resp.StatusCode, resp.Header, body)
	}
	resp = urlResponse([]byte(`{"order":42}`))
	body, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || string(body) != `{"order":42}` {
		t.Errorf("plain output: %d %v %q", resp.StatusCode, resp.Header, body)
	}
}

// A pod asking for a public function URL (auth type NONE) gets the two
// statements a public URL needs, so the URL answers instead of 403; back to
// AWS_IAM, the URL's auth type changes and the statements are removed. The
// backend's own gateway (Invoke) works either way.
func TestPublicURLGetsItsPermissionsAndLosesThem(t *testing.T) {
	b, s := setup(t, emu.DefaultSecretKey, emu.Options{})
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	ctx := context.Background()
	fn := function(t, ecr, func(p *corev1.Pod) {
		p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 8080}}
		p.Annotations = map[string]string{AnnotationURLAuth: "NONE"}
	})
	call := func(endpoint string) int {
		t.Helper()
		u, err := url.Parse(endpoint)
		if err != nil || u.Host == "" {
			t.Fatalf("endpoint %q: %v", endpoint, err)
		}
		req, _ := http.NewRequest(http.MethodGet, ts.URL+"/hello", nil)
		req.Host = u.Host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	gateway := func() {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, "/hello", http.NoBody)
		resp, err := b.HTTP(ctx, fn.Name, req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("gateway: %v %v", resp, err)
		}
	}
	st, err := b.Deploy(ctx, fn)
	if err != nil {
		t.Fatal(err)
	}
	if code := call(st.Endpoint); code != http.StatusOK {
		t.Errorf("public URL: %d, want 200", code)
	}
	gateway()
	if st, err = b.Deploy(ctx, fn); err != nil || call(st.Endpoint) != http.StatusOK {
		t.Errorf("redeploy: %v", err)
	}
	if n := s.Calls()["AddPermission"]; n != 2 {
		t.Errorf("AddPermission called %d times, want 2 (a redeploy adds nothing)", n)
	}
	fn.Annotations[AnnotationURLAuth] = "AWS_IAM"
	if st, err = b.Deploy(ctx, fn); err != nil {
		t.Fatal(err)
	}
	if code := call(st.Endpoint); code != http.StatusForbidden {
		t.Errorf("AWS_IAM URL, unsigned: %d, want 403", code)
	}
	if _, err := b.api.GetPolicy(ctx, &sdk.GetPolicyInput{FunctionName: aws.String(fn.Name)}); err == nil {
		t.Error("the public statements are still in the policy")
	}
	gateway()
}

// A request without a body (a preStop hook's GET, made with a nil Body as
// clients may) reaches the function as an empty one.
func TestHTTPWithoutABody(t *testing.T) {
	b, _ := setup(t, emu.DefaultSecretKey, emu.Options{})
	ctx := context.Background()
	fn := function(t, ecr, func(p *corev1.Pod) {
		p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 8080}}
	})
	if _, err := b.Deploy(ctx, fn); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, "/prestop", nil)
	req.Body = nil
	resp, err := b.HTTP(ctx, fn.Name, req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("a GET without a body: %v %v", resp, err)
	}
	resp.Body.Close()
}
