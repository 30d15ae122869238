package lambda

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	corev1 "k8s.io/api/core/v1"

	emu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/lambda"
	"github.com/faas-kubelet/faas-kubelet/provider"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// What Lambda's API model refuses is refused before any call, naming the
// pod field.
func TestModelConstraintsNameTheField(t *testing.T) {
	b, s := setup(t, emu.DefaultSecretKey, emu.Options{})
	for _, tc := range []struct {
		name   string
		image  string
		mutate func(*corev1.Pod)
		want   string
	}{
		{"env name with a dot", ecr, func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "my.var", Value: "x"}}
		}, "spec.containers[0].env[my.var]"},
		{"one-letter env name", ecr, func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "A", Value: "x"}}
		}, "spec.containers[0].env[A]"},
		{"role annotation not a role ARN", ecr, func(p *corev1.Pod) {
			p.Annotations = map[string]string{AnnotationRole: "arn:aws:iam::1:role/r"}
		}, "metadata.annotations[faas-kubelet.io/role-arn]"},
		{"image in another region's ECR", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/hello:1", nil,
			"spec.containers[0].image: Lambda runs images only from ECR in the function's own region (us-east-1)"},
		{"runtime Lambda does not have", "public.ecr.aws/lambda/python:3.99", func(p *corev1.Pod) {
			p.Annotations = map[string]string{AnnotationCode: "s3://bucket/app.zip"}
			p.Spec.Containers[0].Command = []string{"app.handler"}
		}, "spec.containers[0].image: public.ecr.aws/lambda/python:3.99 would run on Lambda runtime python3.99, which Lambda does not have"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := b.Deploy(context.Background(), function(t, tc.image, tc.mutate))
			if !errdefs.IsInvalidInput(err) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want InvalidInput containing %q", err, tc.want)
			}
		})
	}
	fn := function(t, ecr, nil)
	fn.ServiceAccountAnnotations = map[string]string{AnnotationIRSA: "my-role"}
	if _, err := b.Deploy(context.Background(), fn); !errdefs.IsInvalidInput(err) ||
		!strings.Contains(err.Error(), "spec.serviceAccountName: the ServiceAccount's annotation eks.amazonaws.com/role-arn") {
		t.Errorf("ServiceAccount role not a role ARN: %v", err)
	}
	if n := s.Calls()["CreateFunction"]; n != 0 {
		t.Errorf("refused pods reached the cloud: %d CreateFunction calls", n)
	}
}

// A base image tag naming an architecture (python:3.12-x86_64) is the
// runtime on that architecture.
func TestBaseImageArchitectureTag(t *testing.T) {
	b, _ := setup(t, emu.DefaultSecretKey, emu.Options{})
	fn := function(t, "public.ecr.aws/lambda/python:3.12-arm64", func(p *corev1.Pod) {
		p.Annotations = map[string]string{AnnotationCode: "s3://bucket/app.zip"}
		p.Spec.Containers[0].Command = []string{"app.handler"}
	})
	in, _, err := createInput(fn, &b.opts)
	if err != nil || in.Runtime != types.RuntimePython312 || len(in.Architectures) != 1 || in.Architectures[0] != types.ArchitectureArm64 {
		t.Fatalf("input %+v err %v", in, err)
	}
	if _, err := b.Deploy(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
	fn.Architecture = "amd64"
	if _, _, err := createInput(fn, &b.opts); !errdefs.IsInvalidInput(err) {
		t.Errorf("an arm64 image on an amd64 pod: %v, want InvalidInput", err)
	}
}

// Lambda's ValidationException is a spec error only when the member it
// names comes from the pod alone.
func TestValidationExceptionIsSpecOnlyWhenCertain(t *testing.T) {
	env := &smithy.GenericAPIError{Code: "ValidationException", Message: "1 validation error detected: Value at 'environment.variables' failed to satisfy constraint: Map keys must satisfy constraint"}
	err := deployError("CreateFunction", env, "")
	if f, _ := provider.Classify(err); f != provider.FailureSpec || !strings.HasPrefix(err.Error(), "spec.containers[0].env: ") {
		t.Errorf("environment: %v (%v), want a spec error naming spec.containers[0].env", err, f)
	}
	tags := &smithy.GenericAPIError{Code: "ValidationException", Message: "1 validation error detected: Value at 'tags' failed to satisfy constraint"}
	wantRefused(t, deployError("CreateFunction", tags, ""), provider.ReasonCreateError, "ValidationException")
}

// A pod with more labels than Lambda's 50 tags leave room for runs: its
// own tags come first, with room for a Job's three, and the labels left
// out are named in one note.
func TestLabelsPastTheTagBudgetAreLeftOut(t *testing.T) {
	b, s := setup(t, emu.DefaultSecretKey, emu.Options{})
	ctx := context.Background()
	fn := function(t, ecr, func(p *corev1.Pod) {
		for i := range 50 {
			p.Labels[fmt.Sprintf("l%02d", i)] = "v"
		}
		p.Labels["example.com/"+strings.Repeat("k", 120)] = "v"
	})
	st, err := b.Deploy(ctx, fn)
	if err != nil {
		t.Fatalf("deploy: %v", err)
	}
	var note string
	for _, n := range st.Notes {
		if strings.HasPrefix(n, "pod labels not copied") {
			note = n
		}
	}
	if !strings.Contains(note, "l42, l43, l44, l45, l46, l47, l48, l49 (Lambda allows 50 tags per function") || !strings.Contains(note, "example.com/kkk") || strings.Contains(note, "l41,") {
		t.Errorf("note = %q", note)
	}
	if len(st.Tags) != 47 || st.Tags[translate.TagPodUID] != "uid-1" || st.Tags["app"] != "hello" {
		t.Errorf("%d tags: %v", len(st.Tags), st.Tags)
	}
	if err := b.Tag(ctx, fn.Name, translate.JobTags(translate.Job{State: translate.JobRunning})); err != nil {
		t.Errorf("the Job's tags do not fit: %v", err)
	}
	if s.Calls()["TagResource"] != 1 {
		t.Errorf("calls %v", s.Calls())
	}
}
