package alibaba

import (
	"context"
	"fmt"
	"strings"
	"testing"

	fc "github.com/alibabacloud-go/fc-open-20210406/v2/client"
	"github.com/alibabacloud-go/tea/tea"
	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	k8stypes "k8s.io/apimachinery/pkg/types"

	emu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/alibaba"
)

// TestMemoryPicksTheInstanceType deploys pods of growing memory against an
// emulator that holds each instance type to its memory sizes: up to 3 GiB
// an elastic instance (e1), above it the smallest performance instance (c1)
// that fits, above 32 GiB a refusal naming the field.
func TestMemoryPicksTheInstanceType(t *testing.T) {
	e := setup(t, emu.DefaultAccessKeySecret)
	ctx := context.Background()
	for i, c := range []struct {
		memory       string
		instanceType string
		mib          int32
		note         string
	}{
		{"300Mi", "e1", 320, "rounded up from 300 to 320 MiB"},
		{"3Gi", "e1", 3072, ""},
		{"3100Mi", "c1", 4096, "performance instance"},
		{"5Gi", "c1", 8192, "performance instance"},
		{"32Gi", "c1", 32768, ""},
		{"33Gi", "", 0, ""},
	} {
		fn := function(t, image, func(p *corev1.Pod) {
			p.UID, p.Name = k8stypes.UID(fmt.Sprintf("uid-mem-%d", i)), fmt.Sprintf("mem-%d", i)
			p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(c.memory)}
		})
		st, err := e.b.Deploy(ctx, fn)
		if c.mib == 0 {
			if !errdefs.IsInvalidInput(err) || !strings.Contains(err.Error(), "resources.limits.memory") {
				t.Errorf("%s: %v, want InvalidInput naming the memory limit", c.memory, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.memory, err)
			continue
		}
		got, err := e.fc.GetFunctionWithOptions(tea.String(fn.Name), tea.String(fn.Name), &fc.GetFunctionRequest{}, &fc.GetFunctionHeaders{}, rt())
		if err != nil {
			t.Fatal(err)
		}
		if tea.StringValue(got.Body.InstanceType) != c.instanceType || tea.Int32Value(got.Body.MemorySize) != c.mib {
			t.Errorf("%s: instanceType %s with %d MB, want %s with %d", c.memory, tea.StringValue(got.Body.InstanceType), tea.Int32Value(got.Body.MemorySize), c.instanceType, c.mib)
		}
		if c.note != "" && !strings.Contains(strings.Join(st.Notes, "\n"), c.note) {
			t.Errorf("%s: notes %q, want one saying %q", c.memory, st.Notes, c.note)
		}
	}
}
