package cli

import (
	"context"
	"fmt"
	"slices"

	"github.com/faas-kubelet/faas-kubelet/pkg/config"
	"github.com/faas-kubelet/faas-kubelet/pkg/memorybackend"
	"github.com/faas-kubelet/faas-kubelet/provider"
)

// BackendFactory builds the backend for one node.
type BackendFactory func(ctx context.Context, node *config.Node) (provider.Backend, error)

// Registry maps the config's cloud names to backends.
type Registry map[string]BackendFactory

// Backends is every backend this build offers, registered by name. This is
// the only place a backend is wired in.
func Backends() Registry {
	return Registry{
		memorybackend.Name: func(_ context.Context, n *config.Node) (provider.Backend, error) {
			var opts memorybackend.Options
			if n.Memory != nil {
				opts.FaultFile = n.Memory.FaultFile
			}
			return memorybackend.New(opts), nil
		},
	}
}

// Names lists the registered cloud names, sorted.
func (r Registry) Names() []string {
	names := make([]string, 0, len(r))
	for n := range r {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// New builds the backend a node names.
func (r Registry) New(ctx context.Context, n *config.Node) (provider.Backend, error) {
	f, ok := r[n.Cloud]
	if !ok {
		return nil, fmt.Errorf("node %s: no backend named %q", n.Name, n.Cloud)
	}
	return f(ctx, n)
}
