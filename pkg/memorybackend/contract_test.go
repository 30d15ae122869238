package memorybackend_test

import (
	"testing"

	"github.com/faas-kubelet/faas-kubelet/pkg/memorybackend"
	"github.com/faas-kubelet/faas-kubelet/provider"
	"github.com/faas-kubelet/faas-kubelet/provider/backendtest"
)

func TestContract(t *testing.T) {
	backendtest.Run(t, backendtest.Harness{
		Start: func(*testing.T) *backendtest.Cloud {
			b := memorybackend.New(memorybackend.Options{})
			return &backendtest.Cloud{New: func() provider.Backend { return b }}
		},
		Node:  "vk-memory",
		Image: "example.com/contract:1",
		Caps: backendtest.Caps{
			// The memory backend is a map in the process: there is no
			// cloud to refuse it or to fail, and a restart loses it,
			// so the restarted backend is the same map.
			NoCloud:   true,
			NoRestart: true,
			// It runs nothing: there are no logs (Logs says
			// ErrNotSupported, see logs.go) and no function fails.
			NoLogs:           true,
			NoFunctionErrors: true,
			// It needs only an image, which translate already requires.
			AcceptsEverySpec: true,
		},
	})
}
