package translate

import "time"

// Function is what a pod asks a cloud to run: the cloud-neutral result of
// translating a pod (see package translate). Backends map it to their API
// and refuse, with errdefs.InvalidInput naming the pod field, what their
// cloud cannot run.
type Function struct {
	// Name is derived from the pod deterministically (see FunctionName).
	Name  string
	Image string
	// Command and Args are the container's entrypoint and arguments.
	Command    []string
	Args       []string
	WorkingDir string
	Env        map[string]string
	// MemoryMiB is the memory limit (or request); 0 means the cloud's default.
	MemoryMiB int64
	// MemoryField is the pod field MemoryMiB came from, for refusals.
	MemoryField string
	// EphemeralStorageMiB is the ephemeral-storage limit; 0 means default.
	EphemeralStorageMiB int64
	// Ports are the container ports; a port asks for an HTTP endpoint.
	Ports []int32
	// Architecture is "amd64" or "arm64" when the pod asks for one.
	Architecture string
	// Annotations are the pod's annotations, for cloud-specific knobs.
	Annotations map[string]string
	// ServiceAccountAnnotations are the annotations of the pod's
	// ServiceAccount (workload identity, such as eks.amazonaws.com/role-arn).
	ServiceAccountAnnotations map[string]string
	// Tags identify the pod that owns the function (UID, namespace, name,
	// node) and carry the pod's labels.
	Tags map[string]string
	// Description says which pod owns the function, for people and for
	// listings that return no tags.
	Description string
}

// Phase is a function's lifecycle state, common to all clouds.
type Phase string

// Phases.
const (
	PhasePending Phase = "Pending"
	PhaseActive  Phase = "Active"
	PhaseFailed  Phase = "Failed"
)

// FunctionState is what a cloud reports about one function.
type FunctionState struct {
	Name  string
	Phase Phase
	// Reason and Message explain a Failed phase in the cloud's words.
	Reason  string
	Message string
	// ImageID identifies the deployed code (image digest or code hash).
	ImageID string
	// Created is when the cloud created the function.
	Created time.Time
	Tags    map[string]string
}

// LogOptions are kubectl logs' options, as a backend reads them.
type LogOptions struct {
	// Tail is the number of newest lines to return; 0 means all (see HasTail).
	Tail    int
	HasTail bool
	// Since drops lines older than this time (zero: no limit).
	Since      time.Time
	Timestamps bool
	// LimitBytes stops the output after this many bytes (0: no limit).
	LimitBytes int
	// Follow keeps the stream open for new lines until the context ends.
	Follow bool
}
