package lambda

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	emu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/lambda"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

const policyPath = "../../deploy/cloud-policies/aws-lambda-iam-policy.json"

// policyActions reads every action a policy document allows.
func policyActions(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Statement []struct {
			Effect string
			Action any
		}
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var out []string
	for _, s := range doc.Statement {
		switch a := s.Action.(type) {
		case string:
			out = append(out, a)
		case []any:
			for _, x := range a {
				out = append(out, x.(string))
			}
		}
	}
	return out
}

// implied are the permissions a call needs besides its own action, for
// what the backend does with it.
var implied = map[string][]string{
	// The backend reads GetFunction's Tags (a pod's UID, a Job's
	// progress): "Lambda returns tag data only if you have explicit allow
	// permissions for lambda:ListTags" (GetFunction API reference).
	"GetFunction": {"lambda:ListTags"},
	// The backend sets VpcConfig (the pod's VPC annotations): "To
	// configure a function to connect to a VPC, your IAM user needs ...
	// ec2:DescribeSecurityGroups, ec2:DescribeSubnets, ec2:DescribeVpcs"
	// (Giving Lambda functions access to resources in an Amazon VPC).
	"CreateFunction": vpcActions,
	// A pod's function URL of auth type NONE gets the statements it needs
	// ("new function URLs will require both lambda:InvokeFunctionUrl and
	// lambda:InvokeFunction permissions", Control access to Lambda
	// function URLs); AddPermission needs only its own action, and the
	// policy is read to change only what is missing.
	"AddPermission": {"lambda:GetPolicy", "lambda:RemovePermission"},
	// The token reads an image's manifest and config from the registry
	// (image.go): "ecr:BatchGetImage" and "ecr:GetDownloadUrlForLayer",
	// the permissions a docker pull needs (Amazon ECR, "Private registry
	// authentication").
	"GetAuthorizationToken": {"ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"},
}

var vpcActions = []string{"ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs"}

// Every call the backend can make is allowed by the shipped IAM policy,
// with the permissions what it reads of the answers implies.
func TestPolicyAllowsEveryCall(t *testing.T) {
	allowed := policyActions(t, policyPath)
	action := map[string]string{"Invoke": "lambda:InvokeFunction"}
	for _, api := range []struct {
		prefix string
		typ    reflect.Type
	}{{"lambda:", reflect.TypeFor[API]()}, {"logs:", reflect.TypeFor[LogsAPI]()}, {"ecr:", reflect.TypeFor[ECRAPI]()}} {
		for i := 0; i < api.typ.NumMethod(); i++ {
			m := api.typ.Method(i).Name
			want, ok := action[m]
			if !ok {
				want = api.prefix + m
			}
			if !slices.Contains(allowed, want) {
				t.Errorf("the backend calls %s but the policy does not allow %s", m, want)
			}
			for _, also := range implied[m] {
				if !slices.Contains(allowed, also) {
					t.Errorf("the backend calls %s, which needs %s, but the policy does not allow it", m, also)
				}
			}
		}
	}
	if !slices.Contains(allowed, "iam:PassRole") {
		t.Error("creating functions needs iam:PassRole for their execution role")
	}
}

// Every path of the backend works for a caller allowed only the shipped
// policy's actions: the emulator answers as Lambda does a caller without
// a permission (AccessDeniedException, or GetFunction without Tags).
func TestBackendPathsUnderShippedPolicy(t *testing.T) {
	b, s := setup(t, emu.DefaultSecretKey, emu.Options{Permissions: emu.Permissions{Allow: policyActions(t, policyPath)}})
	ctx := context.Background()
	fn := function(t, ecr, func(p *corev1.Pod) {
		p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 8080}}
		p.Annotations = map[string]string{AnnotationConcurrency: "5",
			AnnotationSubnets: "subnet-0123456789abcdef0", AnnotationSecurityGroups: "sg-0123456789abcdef0"}
	})
	if _, err := b.Deploy(ctx, fn); err != nil {
		t.Fatalf("create: %v", err)
	}
	if _, err := b.Deploy(ctx, fn); err != nil {
		t.Fatalf("adopt: %v", err)
	}
	st, err := b.Get(ctx, fn.Name)
	if err != nil || st.Tags[translate.TagPodUID] != "uid-1" {
		t.Fatalf("get: %+v %v", st, err)
	}
	if err := b.Tag(ctx, fn.Name, translate.JobTags(translate.Job{State: translate.JobRunning})); err != nil {
		t.Errorf("tag: %v", err)
	}
	if _, err := b.Invoke(ctx, fn.Name, []byte(`{}`)); err != nil {
		t.Errorf("invoke: %v", err)
	}
	if _, err := b.InvokeAsync(ctx, fn.Name, []byte(`{}`)); err != nil {
		t.Errorf("invoke async: %v", err)
	}
	req, _ := http.NewRequest(http.MethodGet, "/", http.NoBody)
	if resp, err := b.HTTP(ctx, fn.Name, req); err != nil {
		t.Errorf("http: %v", err)
	} else {
		resp.Body.Close()
	}
	if _, err := b.List(ctx, "vk"); err != nil {
		t.Errorf("list: %v", err)
	}
	if _, err := b.Account(ctx); err != nil {
		t.Errorf("account: %v", err)
	}
	rc, err := b.Logs(ctx, fn.Name, translate.LogOptions{})
	if err != nil {
		t.Errorf("logs: %v", err)
	} else {
		_, _ = io.ReadAll(rc)
		rc.Close()
	}
	public := function(t, ecr, func(p *corev1.Pod) {
		p.Name, p.UID = "public", "uid-2"
		p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 8080}}
		p.Annotations = map[string]string{AnnotationURLAuth: "NONE"}
	})
	if _, err := b.Deploy(ctx, public); err != nil {
		t.Errorf("deploy with a public URL: %v", err)
	}
	public.Annotations[AnnotationURLAuth] = "AWS_IAM"
	if _, err := b.Deploy(ctx, public); err != nil {
		t.Errorf("back to AWS_IAM: %v", err)
	}
	if err := b.Delete(ctx, fn.Name); err != nil {
		t.Errorf("delete: %v", err)
	}
	// The image's architecture is read under the policy: an arm64 image
	// on an amd64 function is refused before the create.
	if err := s.SetImages(emu.Images{Architectures: map[string]string{armImage: "arm64"}}); err != nil {
		t.Fatal(err)
	}
	arm := function(t, armImage, func(p *corev1.Pod) { p.Name, p.UID = "arm", "uid-3" })
	if _, err := b.Deploy(ctx, arm); err == nil || !strings.Contains(err.Error(), "built for arm64") {
		t.Errorf("an arm64 image on an amd64 function under the policy: %v; want it refused for its architecture", err)
	}
	if s.Calls()["ListTags"] != 0 {
		t.Errorf("the backend calls ListTags, which the API interface does not name: %v", s.Calls())
	}
}
