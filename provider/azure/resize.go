package azure

import (
	"fmt"

	"github.com/faas-kubelet/faas-kubelet/provider"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

var _ provider.MemoryResizer = (*Backend)(nil)

// CheckResize refuses every change of a pod's memory, saying what decides
// the function app's memory instead: on an App Service plan, the plan's
// pricing tier, shared by every app on it (siteFor sets no memory per
// app); on a Container Apps environment, Azure's default resources, as
// siteFor sets no resourceConfig. The pod goes on running as it is. It
// makes no call to Azure.
func (b *Backend) CheckResize(fn *translate.Function) error {
	field := fn.MemoryField
	if field == "" {
		field = "spec.containers[0].resources"
	}
	if env := b.opts.ManagedEnvironmentID; env != "" {
		return planMemory(fmt.Sprintf("%s: an Azure function app on a Container Apps environment (%s) runs with Azure's default resources; faas-kubelet does not set its memory from the pod", field, env))
	}
	return planMemory(fmt.Sprintf("%s: an Azure function app's memory is its App Service plan's (%s); change the plan's pricing tier", field, b.opts.ServerFarmID))
}

// planMemory is CheckResize's refusal: its message names the pod's field
// first, as a resize's other refusals do, and it wraps
// provider.ErrNotSupported (the backend cannot do it, whatever the size).
type planMemory string

func (e planMemory) Error() string { return string(e) }
func (e planMemory) Unwrap() error { return provider.ErrNotSupported }
