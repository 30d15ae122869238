package alibaba

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	k8stypes "k8s.io/apimachinery/pkg/types"

	emu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/alibaba"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// Each way Function Compute ends a failed invocation becomes the End a
// Job's pod shows: a run past the function's timeout, one killed over its
// memorySize, a container that cannot start, and the function's own error.
func TestInvokeEnds(t *testing.T) {
	e := setupWith(t, emu.DefaultAccessKeySecret, emu.Options{Sleep: func(time.Duration) {}})
	ctx := context.Background()
	deploy := func(uid k8stypes.UID, name, img string, mutate func(*corev1.Pod)) string {
		t.Helper()
		fn := function(t, img, func(p *corev1.Pod) {
			p.UID, p.Name = uid, name
			if mutate != nil {
				mutate(p)
			}
		})
		if _, err := e.b.Deploy(ctx, fn); err != nil {
			t.Fatalf("deploy %s: %v", name, err)
		}
		return fn.Name
	}
	slow := deploy("uid-1", "slow", image, func(p *corev1.Pod) { p.Annotations = map[string]string{AnnotationTimeout: "2"} })
	big := deploy("uid-2", "big", image, func(p *corev1.Pod) {
		p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")}
		p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "EMULATOR_MEMORY_MB", Value: "2048"}}
	})
	exits := deploy("uid-3", "exits", image, func(p *corev1.Pod) {
		p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "EMULATOR_FAIL", Value: "Process exited unexpectedly before completing request (duration: 6ms, maxMemoryUsage: 49MB)"}}
	})
	arm := deploy("uid-4", "arm", "registry.cn-hangzhou.aliyuncs.com/shop/hello:fail-start", nil)
	ok := deploy("uid-5", "ok", image, nil)

	for _, tc := range []struct {
		name, fn, payload string
		end               translate.InvocationEnd
		msg               string
	}{
		{"past the timeout", slow, `{"sleepMs": 5000}`, translate.EndTimeout, "Function timed out after 2 seconds"},
		{"over memorySize", big, `{}`, translate.EndOutOfMemory, "Process exited unexpectedly"},
		{"a process exit well under memorySize", exits, `{}`, translate.EndError, "Process exited unexpectedly"},
		{"a container that cannot start", arm, `{}`, translate.EndStartError, "FunctionNotStarted"},
		{"the function's own error", ok, `{"fail": "no stock"}`, translate.EndError, "no stock"},
	} {
		inv, err := e.b.Invoke(ctx, tc.fn, []byte(tc.payload))
		if err != nil || !strings.Contains(inv.FunctionError, tc.msg) || inv.End != tc.end {
			t.Errorf("%s: %+v %v, want End %s with %q", tc.name, inv, err, tc.end.Reason(), tc.msg)
		}
	}
	if inv, err := e.b.Invoke(ctx, slow, []byte(`{"sleepMs": 1000}`)); err != nil || inv.FunctionError != "" {
		t.Errorf("a run within the timeout: %+v %v", inv, err)
	}
}

// {"env": true} answers the environment the function got: the pod's env
// and what the node adds.
func TestInvokeEchoesEnvironment(t *testing.T) {
	e := setup(t, emu.DefaultAccessKeySecret)
	ctx := context.Background()
	fn := function(t, image, nil)
	if _, err := e.b.Deploy(ctx, fn); err != nil {
		t.Fatal(err)
	}
	inv, err := e.b.Invoke(ctx, fn.Name, []byte(`{"env": true}`))
	if err != nil {
		t.Fatal(err)
	}
	var env map[string]string
	if err := json.Unmarshal(inv.Output, &env); err != nil || env["GREETING"] != "hi" {
		t.Errorf("the echoed environment: %s (%v), want GREETING=hi", inv.Output, err)
	}
}
