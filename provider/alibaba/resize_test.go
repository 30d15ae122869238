package alibaba

import (
	"context"
	"strings"
	"testing"

	fc "github.com/alibabacloud-go/fc-open-20210406/v2/client"
	"github.com/alibabacloud-go/tea/tea"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	emu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/alibaba"
	"github.com/faas-kubelet/faas-kubelet/provider"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// withMemory is the test pod's function with a memory limit (none: "").
func withMemory(t *testing.T, limit string) *translate.Function {
	t.Helper()
	return function(t, image, func(p *corev1.Pod) {
		if limit != "" {
			p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(limit)}
		}
	})
}

// A resize of a pod's memory reaches its function in place, image and
// environment as they are: one UpdateFunction with the new memorySize and
// the instance type it takes (an elastic instance rounded up to 64 MB
// steps, a performance instance above 3 GB, and back), which GetFunction
// then shows. A redeploy at the size the function has changes nothing.
func TestMemoryResizeReachesTheFunction(t *testing.T) {
	e := setup(t, emu.DefaultAccessKeySecret)
	ctx := context.Background()
	read := func() (string, int32) {
		t.Helper()
		name := withMemory(t, "").Name
		got, err := e.fc.GetFunctionWithOptions(tea.String(name), tea.String(name), &fc.GetFunctionRequest{}, &fc.GetFunctionHeaders{}, rt())
		if err != nil {
			t.Fatal(err)
		}
		return tea.StringValue(got.Body.InstanceType), tea.Int32Value(got.Body.MemorySize)
	}
	if _, err := e.b.Deploy(ctx, withMemory(t, "512Mi")); err != nil {
		t.Fatal(err)
	}
	updates := 0
	for _, c := range []struct {
		limit        string
		instanceType string
		mib          int32
		note         string
	}{
		{"1000Mi", "e1", 1024, "rounded up from 1000 to 1024 MiB"},
		{"6Gi", "c1", 8192, "performance instance"},
		{"4Gi", "c1", 4096, ""},
		{"256Mi", "e1", 256, ""},
		{"", "e1", 128, ""},
	} {
		st, err := e.b.Deploy(ctx, withMemory(t, c.limit))
		if err != nil || st.Phase != translate.PhaseActive {
			t.Fatalf("resize to %q: %+v %v, want Active", c.limit, st, err)
		}
		updates++
		if typ, mib := read(); typ != c.instanceType || mib != c.mib {
			t.Errorf("resize to %q: instanceType %s with %d MB, want %s with %d", c.limit, typ, mib, c.instanceType, c.mib)
		}
		if c.note != "" && !strings.Contains(strings.Join(st.Notes, "\n"), c.note) {
			t.Errorf("resize to %q: notes %q, want one saying %q", c.limit, st.Notes, c.note)
		}
		if _, err := e.b.Deploy(ctx, withMemory(t, c.limit)); err != nil {
			t.Fatalf("redeploy at %q: %v", c.limit, err)
		}
		if n := e.s.Calls()["UpdateFunction"]; n != updates {
			t.Errorf("after the resize to %q and a redeploy: %d UpdateFunction calls, want %d", c.limit, n, updates)
		}
	}
}

// The timeout and the disk size a pod sets reach an existing function as
// memory does.
func TestRedeployUpdatesTheTimeoutAndDisk(t *testing.T) {
	e := setup(t, emu.DefaultAccessKeySecret)
	ctx := context.Background()
	if _, err := e.b.Deploy(ctx, withMemory(t, "")); err != nil {
		t.Fatal(err)
	}
	fn := function(t, image, func(p *corev1.Pod) {
		p.Annotations = map[string]string{AnnotationTimeout: "600"}
		p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceEphemeralStorage: resource.MustParse("2Gi")}
	})
	if _, err := e.b.Deploy(ctx, fn); err != nil {
		t.Fatal(err)
	}
	got, err := e.fc.GetFunctionWithOptions(tea.String(fn.Name), tea.String(fn.Name), &fc.GetFunctionRequest{}, &fc.GetFunctionHeaders{}, rt())
	if err != nil {
		t.Fatal(err)
	}
	if tea.Int32Value(got.Body.Timeout) != 600 || tea.Int32Value(got.Body.DiskSize) != 10240 {
		t.Errorf("function: timeout %d, diskSize %d; want 600, 10240", tea.Int32Value(got.Body.Timeout), tea.Int32Value(got.Body.DiskSize))
	}
}

// CheckResize takes the memory specFor takes (128 MB to 32 GB, rounded up
// by Deploy) and refuses the rest naming the pod's field and Function
// Compute's limit, without a call to Function Compute.
func TestCheckResizeNamesTheFieldAndTheLimit(t *testing.T) {
	e := setup(t, emu.DefaultAccessKeySecret)
	var r provider.MemoryResizer = e.b
	for _, ok := range []string{"", "128Mi", "300Mi", "3100Mi", "32Gi"} {
		if err := r.CheckResize(withMemory(t, ok)); err != nil {
			t.Errorf("CheckResize(%q) = %v, want nil", ok, err)
		}
	}
	for limit, want := range map[string]string{
		"64Mi": "spec.containers[0].resources.limits.memory: Function Compute memory must be between 128 and 32768 MiB; the pod asks for 64 MiB",
		"33Gi": "spec.containers[0].resources.limits.memory: Function Compute memory must be between 128 and 32768 MiB; the pod asks for 33792 MiB",
	} {
		if err := r.CheckResize(withMemory(t, limit)); err == nil || err.Error() != want {
			t.Errorf("CheckResize(%s) = %v, want %q", limit, err, want)
		}
	}
	if calls := e.s.Calls(); len(calls) != 0 {
		t.Errorf("CheckResize called Function Compute: %v", calls)
	}
}
