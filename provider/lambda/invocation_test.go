package lambda

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"

	emu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/lambda"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

const armImage = "123456789012.dkr.ecr.us-east-1.amazonaws.com/hello:arm"

// A failed invocation says how it ended, read from Lambda's answer: the
// function's error, the timeout, the memory, or a runtime that could not
// start (an image built for another architecture, whose message names the
// field that chooses the architecture).
func TestInvocationEnds(t *testing.T) {
	// The node may not read the registry (no ecr:BatchGetImage), so an
	// image of another architecture is not found before the create
	// (TestImageOfAnotherArchitectureWaits) and fails at the invocation.
	b, s := setup(t, emu.DefaultSecretKey, emu.Options{Permissions: emu.Permissions{Allow: []string{"lambda:*", "logs:*", "iam:PassRole", "ec2:*", "ecr:GetAuthorizationToken"}}})
	if err := s.SetImages(emu.Images{Architectures: map[string]string{armImage: "arm64", ecr: "x86_64"}}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	env := func(k, v string) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = append(p.Spec.Containers[0].Env, corev1.EnvVar{Name: k, Value: v})
		}
	}
	annotate := func(k, v string) func(*corev1.Pod) {
		return func(p *corev1.Pod) { p.Annotations = map[string]string{k: v} }
	}
	for _, tc := range []struct {
		name, image, payload string
		pod                  func(*corev1.Pod)
		end                  translate.InvocationEnd
		message              string // the whole FunctionError, or a part of it after "~"
	}{
		{name: "ok", image: ecr, payload: `{"n":1}`, end: translate.EndError},
		{name: "error", image: ecr, payload: `{"fail":"boom"}`, end: translate.EndError, message: "EmulatedError: boom"},
		{name: "timeout", image: ecr, payload: `{"sleepMs": 1500}`, pod: annotate(AnnotationTimeout, "1"), end: translate.EndTimeout,
			message: "~Sandbox.Timedout: RequestId: "},
		{name: "memory", image: ecr, payload: `{}`, pod: env("EMULATOR_MEMORY_MB", "200"), end: translate.EndOutOfMemory,
			message: "~Runtime.OutOfMemory: RequestId: "},
		{name: "arm-image", image: armImage, payload: `{}`, end: translate.EndStartError,
			message: "image " + armImage + " is not built for amd64, the function's architecture (metadata.annotations[faas-kubelet.io/architecture], or a kubernetes.io/arch nodeSelector; default amd64): fork/exec /lambda-entrypoint.sh: exec format error"},
		{name: "x86-image", image: ecr, payload: `{}`, pod: annotate(translate.AnnotationArchitecture, "arm64"), end: translate.EndStartError,
			message: "image " + ecr + " is not built for arm64, the function's architecture (metadata.annotations[faas-kubelet.io/architecture], or a kubernetes.io/arch nodeSelector; default amd64): fork/exec /lambda-entrypoint.sh: exec format error"},
		{name: "arm-on-arm", image: armImage, payload: `{"n":1}`, pod: func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{corev1.LabelArchStable: "arm64"} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fn := function(t, tc.image, func(p *corev1.Pod) {
				p.Name, p.UID = tc.name, k8stypes.UID("uid-"+tc.name)
				if tc.pod != nil {
					tc.pod(p)
				}
			})
			if _, err := b.Deploy(ctx, fn); err != nil {
				t.Fatal(err)
			}
			inv, err := b.Invoke(ctx, fn.Name, []byte(tc.payload))
			if err != nil {
				t.Fatal(err)
			}
			if inv.End != tc.end {
				t.Errorf("End = %v (exit %d, %s), want %v", inv.End, inv.End.ExitCode(), inv.End.Reason(), tc.end)
			}
			switch want, part := strings.CutPrefix(tc.message, "~"); {
			case part && !strings.Contains(inv.FunctionError, want), !part && inv.FunctionError != want:
				t.Errorf("FunctionError = %q, want %q", inv.FunctionError, tc.message)
			}
			if tc.message == "" && string(inv.Output) != tc.payload {
				t.Errorf("output = %s, want %s", inv.Output, tc.payload)
			}
		})
	}
}

// Lambda's answers, as users report them, end as the pod shows them.
func TestEndOfLambdaErrors(t *testing.T) {
	for _, tc := range []struct {
		fe   functionError
		want translate.InvocationEnd
	}{
		{functionError{"RequestId: 1 Error: Task timed out after 3.00 seconds", "Sandbox.Timedout"}, translate.EndTimeout},
		{functionError{"2024-01-01T00:00:00.000Z 1 Task timed out after 900.00 seconds", ""}, translate.EndTimeout},
		{functionError{"RequestId: 1 Error: Runtime exited with error: signal: killed", "Runtime.OutOfMemory"}, translate.EndOutOfMemory},
		{functionError{"RequestId: 1 Error: Runtime exited with error: signal: killed", "Runtime.ExitError"}, translate.EndOutOfMemory},
		{functionError{"RequestId: 1 Error: Runtime exited with error: exit status 1", "Runtime.ExitError"}, translate.EndError},
		{functionError{"RequestId: 1 Error: fork/exec /var/task/bootstrap: exec format error", "Runtime.InvalidEntrypoint"}, translate.EndStartError},
		{functionError{"RequestId: 1 Error: fork/exec /lambda-entrypoint.sh: no such file or directory", "Runtime.InvalidEntrypoint"}, translate.EndStartError},
		{functionError{"boom", "Error"}, translate.EndError},
	} {
		if got := endOf(tc.fe); got != tc.want {
			t.Errorf("endOf(%+v) = %v, want %v", tc.fe, got, tc.want)
		}
	}
}

// {"env": true} answers the environment the function got, which is how
// the end-to-end tests read the values a pod's Downward API gave it.
func TestInvocationEchoesTheEnvironment(t *testing.T) {
	b, _ := setup(t, emu.DefaultSecretKey, emu.Options{})
	ctx := context.Background()
	fn := function(t, ecr, func(p *corev1.Pod) {
		p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "POD_NAME", Value: "hello"}, {Name: "GREETING", Value: "hi"}}
	})
	if _, err := b.Deploy(ctx, fn); err != nil {
		t.Fatal(err)
	}
	inv, err := b.Invoke(ctx, fn.Name, []byte(`{"env": true}`))
	if err != nil || inv.FunctionError != "" {
		t.Fatalf("%+v %v", inv, err)
	}
	var got map[string]string
	if err := json.Unmarshal(inv.Output, &got); err != nil || got["POD_NAME"] != "hello" || got["GREETING"] != "hi" {
		t.Errorf("environment = %s (%v)", inv.Output, err)
	}
}
