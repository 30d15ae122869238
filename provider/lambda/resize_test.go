package lambda

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	emu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/lambda"
	"github.com/faas-kubelet/faas-kubelet/provider"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// withMemory is the test pod's function with a memory limit (none: "").
func withMemory(t *testing.T, limit string, mutate func(*corev1.Pod)) *translate.Function {
	t.Helper()
	return function(t, ecr, func(p *corev1.Pod) {
		if limit != "" {
			p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(limit)}
		}
		if mutate != nil {
			mutate(p)
		}
	})
}

// A resize of a pod's memory reaches its function in place: Deploy sends
// the new MemorySize in UpdateFunctionConfiguration (the image and the
// environment as they are), the function serves throughout (Active, the
// update rolling in), GetFunction shows the new size, and Lambda's
// LastUpdateStatus goes InProgress, then Successful. A second resize while
// the update rolls in is retried once it has completed, and a redeploy at
// the size the function has changes nothing.
func TestMemoryResizeReachesTheFunction(t *testing.T) {
	clk := newClock()
	b, s := setup(t, emu.DefaultSecretKey, emu.Options{UpdateDelay: 2 * time.Second, Now: clk.Now})
	ctx := context.Background()
	read := func() *types.FunctionConfiguration {
		t.Helper()
		out, err := b.api.GetFunction(ctx, &sdk.GetFunctionInput{FunctionName: aws.String(withMemory(t, "", nil).Name)})
		if err != nil {
			t.Fatal(err)
		}
		return out.Configuration
	}
	if _, err := b.Deploy(ctx, withMemory(t, "256Mi", nil)); err != nil {
		t.Fatal(err)
	}
	if got := aws.ToInt32(read().MemorySize); got != 256 {
		t.Fatalf("created with MemorySize %d, want 256", got)
	}

	st, err := b.Deploy(ctx, withMemory(t, "1Gi", nil))
	if err != nil || st.Phase != translate.PhaseActive || len(st.Notes) != 1 || st.Notes[0] != noteUpdating {
		t.Fatalf("resize to 1Gi: %+v %v, want Active with the note %q", st, err, noteUpdating)
	}
	if c := read(); aws.ToInt32(c.MemorySize) != 1024 || c.LastUpdateStatus != types.LastUpdateStatusInProgress {
		t.Errorf("after the resize: MemorySize %d, LastUpdateStatus %s; want 1024, InProgress", aws.ToInt32(c.MemorySize), c.LastUpdateStatus)
	}
	calls := s.Calls()
	if calls["UpdateFunctionConfiguration"] != 1 || calls["UpdateFunctionCode"] != 0 {
		t.Errorf("calls %v, want one UpdateFunctionConfiguration and no UpdateFunctionCode", calls)
	}

	_, err = b.Deploy(ctx, withMemory(t, "2Gi", nil))
	if failure, _ := provider.Classify(err); failure != provider.FailureTransient || s.Calls()["UpdateFunctionConfiguration"] != 1 {
		t.Fatalf("resize while the update rolls in: %v, calls %v; want transient and no call", err, s.Calls())
	}
	clk.Advance(2 * time.Second)
	if c := read(); c.LastUpdateStatus != types.LastUpdateStatusSuccessful {
		t.Errorf("once the update delay passed: LastUpdateStatus %s, want Successful", c.LastUpdateStatus)
	}
	if _, err := b.Deploy(ctx, withMemory(t, "2Gi", nil)); err != nil {
		t.Fatalf("the retried resize: %v", err)
	}
	if got := aws.ToInt32(read().MemorySize); got != 2048 {
		t.Errorf("after the retried resize: MemorySize %d, want 2048", got)
	}
	clk.Advance(2 * time.Second)
	if _, err := b.Deploy(ctx, withMemory(t, "2Gi", nil)); err != nil || s.Calls()["UpdateFunctionConfiguration"] != 2 {
		t.Errorf("redeploy at the size the function has: %v, calls %v; want no update", err, s.Calls())
	}

	// No memory limit is Lambda's default, 128 MB.
	if _, err := b.Deploy(ctx, withMemory(t, "", nil)); err != nil {
		t.Fatal(err)
	}
	if got := aws.ToInt32(read().MemorySize); got != 128 {
		t.Errorf("memory limit removed: MemorySize %d, want 128", got)
	}
}

// A memory change together with a new image: the configuration first, the
// image once that update has completed. Ephemeral storage and the timeout
// reach an existing function as memory does.
func TestResizeWithANewImageAndOtherSettings(t *testing.T) {
	clk := newClock()
	b, s := setup(t, emu.DefaultSecretKey, emu.Options{UpdateDelay: time.Second, Now: clk.Now})
	ctx := context.Background()
	if _, err := b.Deploy(ctx, withMemory(t, "512Mi", nil)); err != nil {
		t.Fatal(err)
	}
	image2 := strings.Replace(ecr, ":1", ":2", 1)
	changed := func(p *corev1.Pod) {
		p.Spec.Containers[0].Image = image2
		p.Spec.Containers[0].Resources.Limits[corev1.ResourceEphemeralStorage] = resource.MustParse("2Gi")
		p.Annotations = map[string]string{AnnotationTimeout: "300"}
	}
	fn := function(t, ecr, func(p *corev1.Pod) {
		p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("3Gi")}
		changed(p)
	})
	_, err := b.Deploy(ctx, fn)
	if failure, _ := provider.Classify(err); failure != provider.FailureTransient {
		t.Fatalf("configuration and image: %v, want transient (the image follows)", err)
	}
	clk.Advance(time.Second)
	if _, err := b.Deploy(ctx, fn); err != nil {
		t.Fatalf("the image once the configuration is in: %v", err)
	}
	out, err := b.api.GetFunction(ctx, &sdk.GetFunctionInput{FunctionName: aws.String(fn.Name)})
	if err != nil {
		t.Fatal(err)
	}
	c := out.Configuration
	if aws.ToInt32(c.MemorySize) != 3072 || c.EphemeralStorage == nil || aws.ToInt32(c.EphemeralStorage.Size) != 2048 || aws.ToInt32(c.Timeout) != 300 || aws.ToString(out.Code.ImageUri) != image2 {
		t.Errorf("function: MemorySize %d, EphemeralStorage %v, Timeout %d, image %s; want 3072, 2048, 300, %s",
			aws.ToInt32(c.MemorySize), c.EphemeralStorage, aws.ToInt32(c.Timeout), aws.ToString(out.Code.ImageUri), image2)
	}
	if calls := s.Calls(); calls["UpdateFunctionConfiguration"] != 1 || calls["UpdateFunctionCode"] != 1 {
		t.Errorf("calls %v, want one configuration update and one code update", calls)
	}
}

// CheckResize takes what UpdateFunctionConfiguration takes (128 to 10,240
// MB) and refuses the rest naming the pod's field and Lambda's limit,
// without a call to Lambda.
func TestCheckResizeNamesTheFieldAndTheLimit(t *testing.T) {
	b, s := setup(t, emu.DefaultSecretKey, emu.Options{})
	var r provider.MemoryResizer = b
	for _, ok := range []string{"", "128Mi", "1769Mi", "10Gi"} {
		if err := r.CheckResize(withMemory(t, ok, nil)); err != nil {
			t.Errorf("CheckResize(%q) = %v, want nil", ok, err)
		}
	}
	for limit, want := range map[string]string{
		"64Mi": "spec.containers[0].resources.limits.memory: Lambda memory must be between 128 and 10240 MiB; the pod asks for 64 MiB",
		"11Gi": "spec.containers[0].resources.limits.memory: Lambda memory must be between 128 and 10240 MiB; the pod asks for 11264 MiB",
	} {
		if err := r.CheckResize(withMemory(t, limit, nil)); err == nil || err.Error() != want {
			t.Errorf("CheckResize(%s) = %v, want %q", limit, err, want)
		}
	}
	requests := function(t, ecr, func(p *corev1.Pod) {
		p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("20Gi")}
	})
	if err := r.CheckResize(requests); err == nil || !strings.HasPrefix(err.Error(), "spec.containers[0].resources.requests.memory: ") {
		t.Errorf("CheckResize of a memory request = %v, want it to name resources.requests.memory", err)
	}
	if calls := s.Calls(); len(calls) != 0 {
		t.Errorf("CheckResize called Lambda: %v", calls)
	}
}
