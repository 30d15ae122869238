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

// TestEnterpriseImagesNameTheirInstance deploys images of a Container
// Registry Enterprise Edition instance, which FC pulls only with the
// instance's ID: from the pod's annotation, else the node's map of
// instance names to IDs, else the pod is refused naming its image.
func TestEnterpriseImagesNameTheirInstance(t *testing.T) {
	e := setup(t, emu.DefaultAccessKeySecret)
	ctx := context.Background()
	const enterprise = "shop-registry-vpc.cn-hangzhou.cr.aliyuncs.com/batch/report:2"
	deploy := func(i int, annotation string) (string, error) {
		fn := function(t, enterprise, func(p *corev1.Pod) {
			p.UID, p.Name = k8stypes.UID(fmt.Sprintf("uid-cr-%d", i)), fmt.Sprintf("cr-%d", i)
			if annotation != "" {
				p.Annotations = map[string]string{AnnotationRegistryInstance: annotation}
			}
		})
		if _, err := e.b.Deploy(ctx, fn); err != nil {
			return "", err
		}
		got, err := e.fc.GetFunctionWithOptions(tea.String(fn.Name), tea.String(fn.Name), &fc.GetFunctionRequest{}, &fc.GetFunctionHeaders{}, rt())
		if err != nil {
			t.Fatal(err)
		}
		return tea.StringValue(got.Body.CustomContainerConfig.InstanceID), nil
	}
	if _, err := deploy(0, ""); !errdefs.IsInvalidInput(err) || !strings.Contains(err.Error(), "spec.containers[0].image") {
		t.Errorf("an Enterprise image with no instance ID: %v, want InvalidInput naming spec.containers[0].image", err)
	}
	if _, err := deploy(1, "shop"); !errdefs.IsInvalidInput(err) || !strings.Contains(err.Error(), AnnotationRegistryInstance) {
		t.Errorf("an instance ID that is not one: %v, want InvalidInput naming the annotation", err)
	}
	if id, err := deploy(2, "cri-fromthepod0001"); err != nil || id != "cri-fromthepod0001" {
		t.Errorf("instance ID from the annotation: %q, %v", id, err)
	}
	e.b.opts.RegistryInstances = map[string]string{"shop": "cri-fromthenode001"}
	if id, err := deploy(3, ""); err != nil || id != "cri-fromthenode001" {
		t.Errorf("instance ID from the node: %q, %v", id, err)
	}
	if id, err := deploy(4, "cri-fromthepod0001"); err != nil || id != "cri-fromthepod0001" {
		t.Errorf("the pod's annotation over the node's: %q, %v", id, err)
	}
}
