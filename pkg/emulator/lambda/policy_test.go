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

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// A function URL of auth type NONE answers 403 {"Message":"Forbidden"}
// until the function's resource-based policy allows "*" both
// lambda:InvokeFunctionUrl and lambda:InvokeFunction ("Control access to
// Lambda function URLs"); AddPermission, GetPolicy and RemovePermission
// keep that policy as the API reference describes.
func TestPublicFunctionURLNeedsBothStatements(t *testing.T) {
	s := New(Options{})
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	c := lambdaClient(ts.URL, DefaultSecretKey)
	ctx := context.Background()
	create(t, c, "web", image, nil)
	u, err := c.CreateFunctionUrlConfig(ctx, &sdk.CreateFunctionUrlConfigInput{FunctionName: aws.String("web"), AuthType: types.FunctionUrlAuthTypeNone})
	if err != nil {
		t.Fatal(err)
	}
	host, _ := url.Parse(aws.ToString(u.FunctionUrl))
	call := func() (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/orders?id=7", strings.NewReader(`{"n":1}`))
		req.Host = host.Host
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := call(); code != http.StatusForbidden || strings.TrimSpace(body) != `{"Message":"Forbidden"}` {
		t.Fatalf("no policy: %d %s", code, body)
	}
	if _, err := c.GetPolicy(ctx, &sdk.GetPolicyInput{FunctionName: aws.String("web")}); apiCode(err) != "ResourceNotFoundException" {
		t.Errorf("GetPolicy without a policy: %v", err)
	}
	add, err := c.AddPermission(ctx, &sdk.AddPermissionInput{FunctionName: aws.String("web"), StatementId: aws.String("url"),
		Action: aws.String("lambda:InvokeFunctionUrl"), Principal: aws.String("*"), FunctionUrlAuthType: types.FunctionUrlAuthTypeNone})
	if err != nil || !strings.Contains(aws.ToString(add.Statement), `"lambda:FunctionUrlAuthType":"NONE"`) {
		t.Fatalf("AddPermission: %+v %v", add, err)
	}
	if code, _ := call(); code != http.StatusForbidden {
		t.Errorf("lambda:InvokeFunctionUrl alone: %d, want 403", code)
	}
	if _, err := c.AddPermission(ctx, &sdk.AddPermissionInput{FunctionName: aws.String("web"), StatementId: aws.String("url"),
		Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("*")}); apiCode(err) != "ResourceConflictException" {
		t.Errorf("a StatementId in use: %v", err)
	}
	if _, err := c.AddPermission(ctx, &sdk.AddPermissionInput{FunctionName: aws.String("web"), StatementId: aws.String("invoke"),
		Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("*"), InvokedViaFunctionUrl: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	code, body := call()
	var ev struct {
		Version, RawPath, Body string
		QueryStringParameters  map[string]string
	}
	if code != http.StatusOK || json.Unmarshal([]byte(body), &ev) != nil || ev.Version != "2.0" || ev.RawPath != "/orders" ||
		ev.QueryStringParameters["id"] != "7" || ev.Body != `{"n":1}` {
		t.Errorf("both statements: %d %s", code, body)
	}
	pol, err := c.GetPolicy(ctx, &sdk.GetPolicyInput{FunctionName: aws.String("web")})
	if err != nil || strings.Count(aws.ToString(pol.Policy), `"Sid"`) != 2 {
		t.Errorf("GetPolicy: %+v %v", pol, err)
	}
	if _, err := c.RemovePermission(ctx, &sdk.RemovePermissionInput{FunctionName: aws.String("web"), StatementId: aws.String("invoke")}); err != nil {
		t.Fatal(err)
	}
	if code, _ := call(); code != http.StatusForbidden {
		t.Errorf("after RemovePermission: %d, want 403", code)
	}
	if _, err := c.RemovePermission(ctx, &sdk.RemovePermissionInput{FunctionName: aws.String("web"), StatementId: aws.String("invoke")}); apiCode(err) != "ResourceNotFoundException" {
		t.Errorf("removing a missing statement: %v", err)
	}
	// AWS_IAM: an unsigned request is refused whatever the policy says.
	if _, err := c.AddPermission(ctx, &sdk.AddPermissionInput{FunctionName: aws.String("web"), StatementId: aws.String("invoke"),
		Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("*")}); err != nil {
		t.Fatal(err)
	}
	if code, _ := call(); code != http.StatusOK {
		t.Fatalf("public again: %d", code)
	}
	if _, err := c.UpdateFunctionUrlConfig(ctx, &sdk.UpdateFunctionUrlConfigInput{FunctionName: aws.String("web"), AuthType: types.FunctionUrlAuthTypeAwsIam}); err != nil {
		t.Fatal(err)
	}
	if code, _ := call(); code != http.StatusForbidden {
		t.Errorf("AWS_IAM, unsigned: %d, want 403", code)
	}
}
