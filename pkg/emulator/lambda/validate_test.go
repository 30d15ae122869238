package lambda

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	sdk "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// What breaks Lambda's API model answers 400 ValidationException naming
// the member, before anything is created.
func TestModelConstraintsAnswerValidationException(t *testing.T) {
	_, c, _ := start(t, Options{})
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		mutate func(*sdk.CreateFunctionInput)
		member string
	}{
		{"role not an IAM role ARN", func(in *sdk.CreateFunctionInput) { in.Role = aws.String("arn:aws:iam::1:role/r") }, "'role'"},
		{"runtime not in the enum", func(in *sdk.CreateFunctionInput) {
			in.PackageType, in.Runtime, in.Handler = types.PackageTypeZip, "python3.12-x86_64", aws.String("app.handler")
			in.Code = &types.FunctionCode{S3Bucket: aws.String("b"), S3Key: aws.String("k.zip")}
		}, "'runtime'"},
		{"environment variable name", func(in *sdk.CreateFunctionInput) {
			in.Environment = &types.Environment{Variables: map[string]string{"my.var": "x"}}
		}, "'environment.variables'"},
		{"one-letter environment variable name", func(in *sdk.CreateFunctionInput) {
			in.Environment = &types.Environment{Variables: map[string]string{"A": "x"}}
		}, "'environment.variables'"},
		{"tag key over 128", func(in *sdk.CreateFunctionInput) { in.Tags = map[string]string{strings.Repeat("k", 129): "v"} }, "'tags'"},
		{"tag value over 256", func(in *sdk.CreateFunctionInput) { in.Tags = map[string]string{"k": strings.Repeat("v", 257)} }, "'tags'"},
		{"description over 256", func(in *sdk.CreateFunctionInput) { in.Description = aws.String(strings.Repeat("d", 257)) }, "'description'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := createInput("fn", image)
			tc.mutate(in)
			_, err := c.CreateFunction(ctx, in)
			var re *awshttp.ResponseError
			if apiCode(err) != "ValidationException" || !strings.Contains(err.Error(), tc.member) || !asResponse(err, &re) || re.HTTPStatusCode() != http.StatusBadRequest {
				t.Errorf("err = %v, want 400 ValidationException at %s", err, tc.member)
			}
		})
	}
	if _, err := c.GetFunction(ctx, &sdk.GetFunctionInput{FunctionName: aws.String("fn")}); apiCode(err) != "ResourceNotFoundException" {
		t.Errorf("an invalid create left a function: %v", err)
	}
	create(t, c, "fn", image, nil)
	_, err := c.TagResource(ctx, &sdk.TagResourceInput{Resource: aws.String("arn:aws:lambda:us-east-1:123456789012:function:fn"), Tags: map[string]string{"k": strings.Repeat("v", 257)}})
	if apiCode(err) != "ValidationException" {
		t.Errorf("TagResource with a value over 256: %v, want ValidationException", err)
	}
}

// A function has at most 50 tags: CreateFunction with more is refused,
// and so is a TagResource that would pass 50, leaving the tags as they were.
func TestFiftyTagsPerFunction(t *testing.T) {
	s, c, _ := start(t, Options{})
	ctx := context.Background()
	tags := func(prefix string, n int) map[string]string {
		m := map[string]string{}
		for i := range n {
			m[fmt.Sprintf("%s%02d", prefix, i)] = "v"
		}
		return m
	}
	in := createInput("fn", image)
	in.Tags = tags("k", 51)
	var ip *types.InvalidParameterValueException
	if _, err := c.CreateFunction(ctx, in); !errors.As(err, &ip) || aws.ToString(ip.Message) != "Number of tags exceeds resource tag limit." {
		t.Errorf("CreateFunction with 51 tags: %v", err)
	}
	in.Tags = tags("k", 48)
	if _, err := c.CreateFunction(ctx, in); err != nil {
		t.Fatal(err)
	}
	arn := aws.String(s.arn("fn"))
	if _, err := c.TagResource(ctx, &sdk.TagResourceInput{Resource: arn, Tags: tags("j", 3)}); !errors.As(err, &ip) {
		t.Errorf("TagResource to 51 tags: %v", err)
	}
	out, err := c.ListTags(ctx, &sdk.ListTagsInput{Resource: arn})
	if err != nil || len(out.Tags) != 48 {
		t.Errorf("after a refused TagResource: %d tags (%v), want the 48 it had", len(out.Tags), err)
	}
	if _, err := c.TagResource(ctx, &sdk.TagResourceInput{Resource: arn, Tags: tags("j", 2)}); err != nil {
		t.Errorf("TagResource to 50 tags: %v", err)
	}
}
