package translate

import (
	"strconv"
	"strings"
	"time"
	"unicode"

	corev1 "k8s.io/api/core/v1"
)

// Function is what a pod asks a cloud to run: the cloud-neutral result of
// translating a pod (see package translate). Backends map it to their API
// and refuse, with errdefs.InvalidInput naming the pod field, what their
// cloud cannot run.
type Function struct {
	// Name is derived from the pod deterministically (see FunctionName).
	Name string
	// Container is the pod's container name (clouds that address a function
	// inside an app use it by default).
	Container string
	Image     string
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
	// Backends read only faas-kubelet.io/ keys: a change of any other
	// annotation does not redeploy the function.
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
	// ServiceLinks are the variables Kubernetes adds for the Services of
	// the pod's namespace (enableServiceLinks), kept out of Env: a function
	// cannot reach those addresses, and they must not count against a
	// cloud's limit on the environment (see EnvWithin).
	ServiceLinks map[string]string
	// Notes tell the user what the translation left out (the events of the
	// pod show them).
	Notes []string
	// ActiveDeadlineSeconds is the pod's spec.activeDeadlineSeconds (0:
	// none): how long a run-once pod may run, so the function's own
	// timeout by default.
	ActiveDeadlineSeconds int64 `json:",omitempty"`
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
	Name string
	// ID is the cloud's own identifier of the function where it has one
	// besides the name (Lambda: the function's ARN); pods show it in
	// containerID. Empty: the name.
	ID    string
	Phase Phase
	// NotCreated marks a function the cloud has not created (its creation
	// was refused): the pod's container was never created, so it has no
	// containerID and the pod no podIP.
	NotCreated bool
	// Reason and Message explain a Failed phase in the cloud's words.
	Reason  string
	Message string
	// ImageID identifies the deployed code (image digest or code hash).
	ImageID string
	// Created is when the cloud created the function.
	Created time.Time
	Tags    map[string]string
	// Notes are things the backend changed or chose that a user should be
	// told (for example an image rewritten to a pull-through cache); the
	// core turns each into an event on the pod.
	Notes []string
	// Endpoint is the function's HTTP endpoint, when the pod asked for one
	// with a container port.
	Endpoint string
	// Job is the progress of a run-once pod (restartPolicy Never or
	// OnFailure), recorded in the function's tags.
	Job Job
	// Unsealed says Deploy found the function as it was asked to be, but
	// its listing entry without that spec's digest (an earlier release's
	// function, or one updated since its creation): sealing it lets the
	// next restart adopt it from the listing (see provider.Sealer).
	Unsealed bool `json:",omitempty"`
}

// Job states. TagJobState records them, "backoff" standing for the empty
// state between a failed attempt and the next.
const (
	JobRunning   = "running"
	JobSucceeded = "succeeded"
	JobFailed    = "failed"
)

// Tags that record a Job's progress on its function, so that a restarted
// faas-kubelet neither runs an invocation twice nor loses its outcome.
// TagJobState holds the state, then how the last failed attempt ended and
// how the pod ended, as words: "failed exit=124 reason=FunctionTimeout",
// "backoff exit=1 reason=Error", "failed exit=1 reason=Error deadline
// killed". One tag for all of it keeps the count of tags low (Lambda and
// Azure allow 50 per function, and a pod's labels are copied to the rest);
// the words use only letters, digits, spaces and "=", which every cloud's
// tag values take.
const (
	TagJobState    = "faas-kubelet.io/job-state"
	TagJobRestarts = "faas-kubelet.io/job-restarts"
	TagJobMessage  = "faas-kubelet.io/job-message"
)

// jobBackoffWord records the empty state (between attempts) in TagJobState.
const jobBackoffWord = "backoff"

// Job is a run-once pod's progress.
type Job struct {
	// State is "", running, succeeded or failed. "" with Restarts > 0 is
	// the back-off between a failed attempt and the next.
	State string
	// Restarts counts failed invocations retried under OnFailure.
	Restarts int32
	// Message is the last function error.
	Message string
	// ExitCode and Reason are how the last failed attempt ended, as its
	// container's terminated state shows it (see InvocationEnd); both zero
	// when none was recorded, shown as exit code 1, Error.
	ExitCode int32
	Reason   string
	// DeadlineExceeded: the pod failed at its spec.activeDeadlineSeconds.
	DeadlineExceeded bool
	// Killed: an attempt was in flight at the deadline and was cut off
	// (exit code 137, Error, as the kubelet kills a container); ExitCode,
	// Reason and Message are then those of the attempt before, if any.
	Killed bool
	// Backoff is the wait before the next attempt, during a back-off. It
	// is not recorded in tags.
	Backoff time.Duration
}

// JobFromTags reads a Job's progress from its function's tags. A state
// recorded without its end (an older record) reads as before: exit code 1.
func JobFromTags(tags map[string]string) Job {
	words := strings.Fields(tags[TagJobState])
	j := Job{Message: tags[TagJobMessage]}
	if n, err := strconv.Atoi(tags[TagJobRestarts]); err == nil {
		j.Restarts = int32(n)
	}
	if len(words) == 0 {
		return j
	}
	if j.State = words[0]; j.State == jobBackoffWord {
		j.State = ""
	}
	for _, w := range words[1:] {
		k, v, _ := strings.Cut(w, "=")
		switch k {
		case "exit":
			if n, err := strconv.ParseInt(v, 10, 32); err == nil {
				j.ExitCode = int32(n)
			}
		case "reason":
			j.Reason = v
		case "deadline":
			j.DeadlineExceeded = true
		case "killed":
			j.Killed = true
		}
	}
	return j
}

// JobTags records a Job's progress as tags (values fit Lambda's 256 bytes).
func JobTags(j Job) map[string]string {
	msg := j.Message
	if len(msg) > 256 {
		msg = msg[:256]
	}
	words := []string{j.State}
	if j.State == "" {
		words[0] = jobBackoffWord
	}
	if j.ExitCode != 0 || j.Reason != "" {
		words = append(words, "exit="+strconv.Itoa(int(j.ExitCode)), "reason="+tagWord(j.Reason))
	}
	if j.DeadlineExceeded {
		words = append(words, "deadline")
	}
	if j.Killed {
		words = append(words, "killed")
	}
	return map[string]string{TagJobState: strings.Join(words, " "), TagJobRestarts: strconv.Itoa(int(j.Restarts)), TagJobMessage: msg}
}

// tagWord keeps a reason to the letters and digits a tag word may hold,
// and to 40 of them, so that the whole value stays within Function
// Compute's 128 characters (the reasons faas-kubelet writes are short
// CamelCase words already).
func tagWord(s string) string {
	w := strings.Map(func(r rune) rune {
		if r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return r
		}
		return -1
	}, s)
	return w[:min(len(w), 40)]
}

// IsJob says whether the pod runs once (restartPolicy Never or OnFailure).
func IsJob(pod *corev1.Pod) bool {
	return pod.Spec.RestartPolicy == corev1.RestartPolicyNever || pod.Spec.RestartPolicy == corev1.RestartPolicyOnFailure
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

// Invocation is the outcome of one synchronous call of a function.
type Invocation struct {
	RequestID string
	Output    []byte
	// FunctionError is the function's own error message; empty on success.
	FunctionError string
	// End says how a failed invocation ended, as the backend read it from
	// the cloud's answer (the zero value: the function's own error).
	End InvocationEnd
}

// InvocationEnd is how an invocation that did not succeed ended. A Job's
// pod shows it as its container's exit code and reason, distinct per end
// so that podFailurePolicy.onExitCodes can tell them apart.
type InvocationEnd int

// The ends of an invocation, and the exit code and reason each shows.
const (
	// EndError: the function ran and returned or threw an error (exit 1, Error).
	EndError InvocationEnd = iota
	// EndTimeout: the cloud ended the invocation at the function's timeout
	// (exit 124, as timeout(1) ends a command; reason FunctionTimeout).
	EndTimeout
	// EndOutOfMemory: the runtime was killed for exceeding its memory
	// (exit 137, OOMKilled, as the kubelet reports an OOM kill).
	EndOutOfMemory
	// EndStartError: the function's code could not be started at all, such
	// as an image built for another architecture (exit 128, StartError, as
	// the kubelet reports a container whose process cannot start).
	EndStartError
)

// ExitCode is the container exit code a pod shows for the end.
func (e InvocationEnd) ExitCode() int32 {
	switch e {
	case EndTimeout:
		return 124
	case EndOutOfMemory:
		return 137
	case EndStartError:
		return 128
	}
	return 1
}

// Reason is the container's terminated reason for the end.
func (e InvocationEnd) Reason() string {
	switch e {
	case EndTimeout:
		return "FunctionTimeout"
	case EndOutOfMemory:
		return "OOMKilled"
	case EndStartError:
		return "StartError"
	}
	return "Error"
}
