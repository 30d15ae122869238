package lambda_test

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	corev1 "k8s.io/api/core/v1"

	emu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/lambda"
	"github.com/faas-kubelet/faas-kubelet/provider"
	"github.com/faas-kubelet/faas-kubelet/provider/backendtest"
	"github.com/faas-kubelet/faas-kubelet/provider/lambda"
)

const contractRole = "arn:aws:iam::" + emu.DefaultAccountID + ":role/contract"

func TestContract(t *testing.T) {
	backendtest.Run(t, backendtest.Harness{
		Start: func(t *testing.T) *backendtest.Cloud {
			t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
			// A short activation, so that Get is seen Pending first.
			s := emu.New(emu.Options{ActivationDelay: 50 * time.Millisecond})
			ts := httptest.NewServer(s)
			t.Cleanup(ts.Close)
			o := lambda.Options{Region: emu.DefaultRegion, Endpoint: ts.URL, DefaultRole: contractRole,
				Credentials: credentials.NewStaticCredentialsProvider(emu.DefaultAccessKey, emu.DefaultSecretKey, "")}
			return &backendtest.Cloud{
				New: func() provider.Backend {
					return lambda.New(lambda.NewClient(aws.Config{}, o), lambda.NewLogsClient(aws.Config{}, o), o)
				},
				Refuse: s.SetRefusals,
				Inject: s.Inject,
			}
		},
		Node:         "vk-lambda",
		Image:        "123456789012.dkr.ecr.us-east-1.amazonaws.com/contract:1",
		Role:         contractRole,
		CreateOp:     "CreateFunction",
		ListPageSize: 50, // List's MaxItems
		// Lambda runs images only from Amazon ECR.
		Unrunnable: func(p *corev1.Pod) { p.Spec.Containers[0].Image = "docker.io/library/nginx:1" },
	})
}
