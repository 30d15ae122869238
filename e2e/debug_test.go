//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	fc "github.com/alibabacloud-go/fc-open-20210406/v2/client"
	util "github.com/alibabacloud-go/tea-utils/v2/service"
	"github.com/alibabacloud-go/tea/tea"
	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/lambda"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// functionMemoryMiB reads the memory the cloud gives a pod's function
// (Lambda MemorySize, FC memorySize); 0 where the plan decides (Azure).
func functionMemoryMiB(t *testing.T, c cloudUnderTest, emu *emulator, name string) int32 {
	t.Helper()
	switch c.name {
	case "aws-lambda":
		out, err := emu.lambda.GetFunction(context.Background(), &sdk.GetFunctionInput{FunctionName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToInt32(out.Configuration.MemorySize)
	case "alibaba-fc":
		out, err := emu.fc.GetFunctionWithOptions(tea.String(name), tea.String(name), &fc.GetFunctionRequest{}, &fc.GetFunctionHeaders{}, &util.RuntimeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return tea.Int32Value(out.Body.MemorySize)
	}
	return 0
}

// kubectl debug on a function pod starts nothing and leaves the pod
// Running: the debug container ends at once saying how to invoke the
// function, which kubectl debug -i prints. An in-place resize within the
// cloud's limits is applied to the function and reported in the pod's
// resources; one outside them (or, on Azure, any: the plan decides) leaves
// the pod Running at its size with PodResizePending Infeasible naming the
// field.
func TestDebugAndResizeLeaveThePodRunning(t *testing.T) {
	for _, c := range clouds {
		t.Run(c.name, func(t *testing.T) {
			emu, _ := c.start(t)
			ns := namespace(t)
			pod := runningPod(t, ns, "web", "  containers:\n  - name: a\n    image: "+c.image+"\n    resources: {requests: {memory: 512Mi}, limits: {memory: 512Mi}}\n")
			name := functionNameOf(pod)

			out, errOut, _ := kubectlIO(t, "", "debug", "-i", "-n", ns, "web", "--image=busybox", "--container=dbg", "--", "sh")
			if !strings.Contains(out+errOut, "invoke") {
				t.Errorf("kubectl debug -i: stdout %q, stderr %q; want it to say how to invoke the function", out, errOut)
			}
			eventually(t, 30*time.Second, "the debug container to end saying why", func() (bool, string) {
				p, err := cluster.client.CoreV1().Pods(ns).Get(context.Background(), "web", metav1.GetOptions{})
				if err != nil {
					return false, err.Error()
				}
				for _, s := range p.Status.EphemeralContainerStatuses {
					if s.Name == "dbg" && s.State.Terminated != nil {
						return p.Status.Phase == corev1.PodRunning && s.State.Terminated.Reason == "FunctionHasNoShell", string(p.Status.Phase) + " " + s.State.Terminated.Reason
					}
				}
				return false, fmt.Sprintf("%s %+v", p.Status.Phase, p.Status.EphemeralContainerStatuses)
			})

			resize := func(memory string) {
				patch := fmt.Sprintf(`{"spec":{"containers":[{"name":"a","resources":{"requests":{"memory":%q},"limits":{"memory":%q}}}]}}`, memory, memory)
				mustKubectl(t, "patch", "pod", "-n", ns, "web", "--subresource", "resize", "--type", "strategic", "-p", patch)
			}
			if c.name == "azure-functions" {
				resize("1Gi")
				eventually(t, 30*time.Second, "PodResizePending Infeasible on Azure", func() (bool, string) {
					p, _ := cluster.client.CoreV1().Pods(ns).Get(context.Background(), "web", metav1.GetOptions{})
					cond := podCondition(p, corev1.PodResizePending)
					if cond == nil {
						return false, fmt.Sprintf("%s %+v", p.Status.Phase, p.Status.Conditions)
					}
					return p.Status.Phase == corev1.PodRunning && cond.Reason == "Infeasible" && strings.Contains(cond.Message, "plan"), cond.Reason + ": " + cond.Message
				})
				return
			}
			resize("1Gi")
			eventually(t, 60*time.Second, "the resize to 1Gi applied", func() (bool, string) {
				p, _ := cluster.client.CoreV1().Pods(ns).Get(context.Background(), "web", metav1.GetOptions{})
				if len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].Resources == nil {
					return false, "no container resources"
				}
				got := p.Status.ContainerStatuses[0].Resources.Limits[corev1.ResourceMemory]
				mem := functionMemoryMiB(t, c, emu, name)
				return p.Status.Phase == corev1.PodRunning && got.Cmp(resource.MustParse("1Gi")) == 0 && mem == 1024 &&
						podCondition(p, corev1.PodResizeInProgress) == nil && podCondition(p, corev1.PodResizePending) == nil,
					fmt.Sprintf("pod limits %s, function %d MiB, conditions %+v", got.String(), mem, p.Status.Conditions)
			})
			resize("40Gi")
			eventually(t, 30*time.Second, "PodResizePending Infeasible for 40Gi", func() (bool, string) {
				p, _ := cluster.client.CoreV1().Pods(ns).Get(context.Background(), "web", metav1.GetOptions{})
				cond := podCondition(p, corev1.PodResizePending)
				if cond == nil {
					return false, fmt.Sprintf("%s %+v", p.Status.Phase, p.Status.Conditions)
				}
				return p.Status.Phase == corev1.PodRunning && cond.Reason == "Infeasible" && strings.Contains(cond.Message, "resources.limits.memory"), cond.Reason + ": " + cond.Message
			})
			if mem := functionMemoryMiB(t, c, emu, name); mem != 1024 {
				t.Errorf("after an infeasible resize the function has %d MiB, want its 1024 kept", mem)
			}
		})
	}
}
