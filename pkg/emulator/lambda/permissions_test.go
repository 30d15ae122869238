package lambda

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	sdk "github.com/aws/aws-sdk-go-v2/service/lambda"
)

// GetFunction returns the function's tags only to a caller allowed
// lambda:ListTags; ListTags itself is then denied.
func TestGetFunctionTagsNeedListTags(t *testing.T) {
	s, c, _ := start(t, Options{})
	ctx := context.Background()
	create(t, c, "fn", image, nil)
	get := func() map[string]string {
		t.Helper()
		out, err := c.GetFunction(ctx, &sdk.GetFunctionInput{FunctionName: aws.String("fn")})
		if err != nil {
			t.Fatalf("GetFunction: %v", err)
		}
		return out.Tags
	}
	if tags := get(); tags["faas-kubelet.io/pod-uid"] != "uid-1" {
		t.Errorf("tags with every action allowed = %v", tags)
	}
	s.SetPermissions(Permissions{Allow: []string{"lambda:GetFunction", "lambda:CreateFunction"}})
	if tags := get(); tags != nil {
		t.Errorf("tags without lambda:ListTags = %v, want none", tags)
	}
	arn := s.arn("fn")
	_, err := c.ListTags(ctx, &sdk.ListTagsInput{Resource: aws.String(arn)})
	var re *awshttp.ResponseError
	if apiCode(err) != "AccessDeniedException" || !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusForbidden {
		t.Errorf("ListTags not allowed: %v, want 403 AccessDeniedException", err)
	}
	s.SetPermissions(Permissions{Allow: []string{"lambda:Get*", "lambda:ListTags"}})
	if tags := get(); tags["faas-kubelet.io/pod-uid"] != "uid-1" {
		t.Errorf("tags with lambda:ListTags = %v", tags)
	}
}

func asResponse(err error, re **awshttp.ResponseError) bool { return errors.As(err, re) }
