package azure

import (
	"context"
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	emu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/azure"
	"github.com/faas-kubelet/faas-kubelet/provider"
)

// A resize of a pod's memory is refused naming the pod's field and what
// decides an app's memory instead (the node's App Service plan, or Azure's
// defaults on a Container Apps environment), as not supported, whatever
// the size and without a call to Azure.
func TestCheckResizeSaysThePlanDecides(t *testing.T) {
	b, s := setup(t, emu.DefaultToken, emu.Options{})
	if _, err := b.Deploy(context.Background(), function(t, image, nil)); err != nil {
		t.Fatal(err)
	}
	before := s.Calls()
	var r provider.MemoryResizer = b
	memory := func(kind, size string) func(*corev1.Pod) {
		return func(p *corev1.Pod) {
			rl := corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(size)}
			if kind == "limits" {
				p.Spec.Containers[0].Resources.Limits = rl
			} else {
				p.Spec.Containers[0].Resources.Requests = rl
			}
		}
	}
	plan := "/subscriptions/" + emu.DefaultSubscription + "/resourceGroups/rg-functions/providers/Microsoft.Web/serverfarms/plan"
	for _, c := range []struct {
		mutate func(*corev1.Pod)
		want   string
	}{
		{memory("limits", "512Mi"), "spec.containers[0].resources.limits.memory: an Azure function app's memory is its App Service plan's (" + plan + "); change the plan's pricing tier"},
		{memory("requests", "64Gi"), "spec.containers[0].resources.requests.memory: an Azure function app's memory is its App Service plan's (" + plan + "); change the plan's pricing tier"},
		{nil, "spec.containers[0].resources: an Azure function app's memory is its App Service plan's (" + plan + "); change the plan's pricing tier"},
	} {
		err := r.CheckResize(function(t, image, c.mutate))
		if err == nil || err.Error() != c.want || !errors.Is(err, provider.ErrNotSupported) {
			t.Errorf("CheckResize = %v, want %q wrapping ErrNotSupported", err, c.want)
		}
	}
	b.opts.ManagedEnvironmentID = "/subscriptions/" + emu.DefaultSubscription + "/resourceGroups/rg-functions/providers/Microsoft.App/managedEnvironments/env"
	want := "spec.containers[0].resources.limits.memory: an Azure function app on a Container Apps environment (" + b.opts.ManagedEnvironmentID + ") runs with Azure's default resources; faas-kubelet does not set its memory from the pod"
	if err := r.CheckResize(function(t, image, memory("limits", "1Gi"))); err == nil || err.Error() != want || !errors.Is(err, provider.ErrNotSupported) {
		t.Errorf("CheckResize on a Container Apps environment = %v, want %q", err, want)
	}
	after := s.Calls()
	for op, n := range after {
		if before[op] != n {
			t.Errorf("CheckResize called Azure: %s %d -> %d", op, before[op], n)
		}
	}
}
