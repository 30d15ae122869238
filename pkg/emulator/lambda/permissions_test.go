package lambda

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	sdk "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
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

// Attaching a function to a VPC needs the caller's ec2:DescribeSecurityGroups,
// ec2:DescribeSubnets and ec2:DescribeVpcs.
func TestVPCNeedsEC2Describe(t *testing.T) {
	s, c, _ := start(t, Options{})
	ctx := context.Background()
	in := createInput("fn", image)
	in.VpcConfig = &types.VpcConfig{SubnetIds: []string{"subnet-0123456789abcdef0"}, SecurityGroupIds: []string{"sg-0123456789abcdef0"}}
	s.SetPermissions(Permissions{Allow: []string{"lambda:*", "ec2:DescribeSubnets"}})
	if _, err := c.CreateFunction(ctx, in); apiCode(err) != "AccessDeniedException" || !strings.Contains(err.Error(), "ec2:DescribeSecurityGroups") {
		t.Errorf("VPC function without ec2:Describe*: %v, want AccessDeniedException", err)
	}
	if _, err := c.CreateFunction(ctx, createInput("plain", image)); err != nil {
		t.Errorf("a function without a VPC needs no ec2 permission: %v", err)
	}
	s.SetPermissions(Permissions{Allow: []string{"lambda:*", "ec2:Describe*"}})
	if _, err := c.CreateFunction(ctx, in); err != nil {
		t.Errorf("VPC function with ec2:Describe*: %v", err)
	}
}
