package backendtest

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/faas-kubelet/faas-kubelet/pkg/emulator/faults"
	"github.com/faas-kubelet/faas-kubelet/provider"
)

// Harness is what the suite needs of one backend and its emulator.
type Harness struct {
	// Start runs a fresh emulated cloud for one case, stopped when t ends.
	Start func(t *testing.T) *Cloud
	// Node is the virtual node's name the functions are tagged with.
	Node string
	// Image is an image this cloud accepts.
	Image string
	// Port, when not zero, is the container port every pod declares (for
	// a cloud that runs only functions with an HTTP endpoint).
	Port int32
	// Pod adjusts each pod the suite makes, before it is translated (the
	// annotations a cloud needs); nil changes nothing.
	Pod func(*corev1.Pod)
	// Role is the identity the backend runs functions as: the role case
	// refuses it with faults.Refusals{Roles}.
	Role string
	// CreateOp is the emulator's name for the call of Deploy that creates
	// a function: faults are injected into it.
	CreateOp string
	// ListPageSize is how many functions a page of the backend's List
	// holds: the List case makes one more when that is at most 50, else 3.
	ListPageSize int
	// Unrunnable changes a pod that translate accepts into one the backend
	// refuses as errdefs.InvalidInput.
	Unrunnable func(*corev1.Pod)
	// Caps says what the backend cannot do.
	Caps Caps
}

// Cloud is one emulated account, with the backends over it.
type Cloud struct {
	// New builds a backend over the cloud, as a (re)started faas-kubelet
	// builds it: each call a new instance that shares nothing with the
	// others but the cloud.
	New func() provider.Backend
	// Refuse replaces the emulator's refusals (SetRefusals).
	Refuse func(faults.Refusals)
	// Inject queues a fault into the emulator's next calls (Inject).
	Inject func(faults.Fault)
}

// Caps are a backend's known gaps against the contract. Each is set by the
// backend's contract test with a comment saying why; a case a flag turns
// off says so with the flag's name when it skips.
type Caps struct {
	// NoCloud: the backend talks to no cloud, so nothing refuses it and no
	// answer can be lost or throttled (Cloud.Refuse and Inject are nil).
	NoCloud bool
	// NoRestart: the backend's state lives in the process; a restart loses
	// it, so Cloud.New returns the same instance and the adoption case
	// checks a retried Deploy only.
	NoRestart bool
	// NoLogs: Logs returns an error wrapping provider.ErrNotSupported.
	NoLogs bool
	// NoLogsFollow: Logs with Follow returns an error wrapping
	// provider.ErrNotSupported.
	NoLogsFollow bool
	// NoFunctionErrors: the backend runs no code, so no invocation fails.
	NoFunctionErrors bool
	// NoRoleRefusal: the backend's functions name no identity of their
	// own, so there is no role for the cloud to refuse.
	NoRoleRefusal bool
	// ImageRefusedAfterCreate: the cloud accepts the function and finds
	// out later that its image cannot be pulled, as Azure App Service
	// does: Deploy succeeds and the function goes Failed with
	// provider.ReasonImageError, which the core retries.
	ImageRefusedAfterCreate bool
	// AcceptsEverySpec: the backend runs every pod translate accepts, so
	// Unrunnable is nil.
	AcceptsEverySpec bool
}

// check fails t when the harness leaves out what its Caps say it has.
func (h *Harness) check(t *testing.T) {
	t.Helper()
	switch {
	case h.Start == nil || h.Node == "" || h.Image == "":
		t.Fatal("harness: Start, Node and Image are required")
	case !h.Caps.NoCloud && h.CreateOp == "":
		t.Fatal("harness: CreateOp is required unless Caps.NoCloud")
	case !h.Caps.NoCloud && !h.Caps.NoRoleRefusal && h.Role == "":
		t.Fatal("harness: Role is required unless Caps.NoRoleRefusal")
	case !h.Caps.AcceptsEverySpec && h.Unrunnable == nil:
		t.Fatal("harness: Unrunnable is required unless Caps.AcceptsEverySpec")
	}
}

// start runs a cloud for one case and checks that it has the knobs the
// harness's Caps promise.
func (h *Harness) start(t *testing.T) *Cloud {
	t.Helper()
	c := h.Start(t)
	if c == nil || c.New == nil {
		t.Fatal("harness: Start returned no Cloud.New")
	}
	if !h.Caps.NoCloud && (c.Refuse == nil || c.Inject == nil) {
		t.Fatal("harness: Cloud.Refuse and Cloud.Inject are required unless Caps.NoCloud")
	}
	return c
}
