package lambda

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/smithy-go"
)

// registryGet reads a registry path of the emulator as the registry's
// host, with basic auth user:password when user is not "".
func registryGet(t *testing.T, url, path, user, password string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url+path, nil)
	req.Host = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// An image's manifest and config are read as from ECR: a token from
// GetAuthorizationToken (through the SDK) as basic auth user AWS, a
// single-architecture manifest whose config names the architecture in
// OCI's words; 401 with a Basic challenge without a token or once it
// expired, 403 without ecr:BatchGetImage, 404 for an image the registry
// does not hold.
func TestRegistryServesImagesWithECRTokens(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	s := New(Options{Now: c.Now})
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	arm := "123456789012.dkr.ecr.us-east-1.amazonaws.com/team/hello:arm"
	if err := s.SetImages(Images{Architectures: map[string]string{arm: "arm64"}}); err != nil {
		t.Fatal(err)
	}
	client := ecr.New(ecr.Options{Region: DefaultRegion, BaseEndpoint: aws.String(ts.URL), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(DefaultAccessKey, DefaultSecretKey, "")})
	out, err := client.GetAuthorizationToken(context.Background(), &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	d := out.AuthorizationData[0]
	if got := aws.ToString(d.ProxyEndpoint); got != "https://123456789012.dkr.ecr.us-east-1.amazonaws.com" {
		t.Errorf("proxyEndpoint %q", got)
	}
	if exp := aws.ToTime(d.ExpiresAt); !exp.Equal(c.Now().Add(12 * time.Hour)) {
		t.Errorf("expiresAt %v, want 12 hours on", exp)
	}
	raw, _ := base64.StdEncoding.DecodeString(aws.ToString(d.AuthorizationToken))
	user, password, _ := strings.Cut(string(raw), ":")
	if user != "AWS" || password == "" {
		t.Fatalf("token decodes to %q", raw)
	}

	resp, body := registryGet(t, ts.URL, "/v2/team/hello/manifests/arm", "", "")
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") || !strings.Contains(string(body), `"DENIED"`) {
		t.Errorf("without a token: %d %q %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
	}
	resp, body = registryGet(t, ts.URL, "/v2/team/hello/manifests/arm", user, password)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != manifestV2 {
		t.Fatalf("manifest: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var m struct {
		Config struct{ Digest string } `json:"config"`
	}
	if err := json.Unmarshal(body, &m); err != nil || m.Config.Digest == "" {
		t.Fatalf("manifest %s: %v", body, err)
	}
	resp, body = registryGet(t, ts.URL, "/v2/team/hello/blobs/"+m.Config.Digest, user, password)
	var config struct{ Architecture, OS string }
	if err := json.Unmarshal(body, &config); resp.StatusCode != http.StatusOK || err != nil || config.Architecture != "arm64" || config.OS != "linux" {
		t.Errorf("config: %d %s", resp.StatusCode, body)
	}
	if resp, body := registryGet(t, ts.URL, "/v2/team/hello/manifests/other", user, password); resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "MANIFEST_UNKNOWN") {
		t.Errorf("an image the registry does not hold: %d %s", resp.StatusCode, body)
	}

	s.SetPermissions(Permissions{Allow: []string{"ecr:GetAuthorizationToken"}})
	if resp, body := registryGet(t, ts.URL, "/v2/team/hello/manifests/arm", user, password); resp.StatusCode != http.StatusForbidden ||
		!strings.Contains(string(body), "not authorized to perform: ecr:BatchGetImage on resource: arn:aws:ecr:us-east-1:123456789012:repository/team/hello") {
		t.Errorf("without ecr:BatchGetImage: %d %s", resp.StatusCode, body)
	}
	s.SetPermissions(Permissions{Allow: []string{"lambda:*"}})
	var ae smithy.APIError
	if _, err := client.GetAuthorizationToken(context.Background(), &ecr.GetAuthorizationTokenInput{}); !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" {
		t.Errorf("GetAuthorizationToken without ecr:GetAuthorizationToken: %v", err)
	}
	s.SetPermissions(Permissions{})

	c.Advance(12 * time.Hour)
	if resp, _ := registryGet(t, ts.URL, "/v2/team/hello/manifests/arm", user, password); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("an expired token: %d, want 401", resp.StatusCode)
	}
}
