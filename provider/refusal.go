package provider

import (
	"errors"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
)

// Why a pod's function could not be created, as the pod's container shows
// it (its Waiting or Terminated reason, the STATUS column of kubectl get
// pods). docs: README, "Pod reasons and node conditions".
const (
	// ReasonInvalidSpec: the pod can never run as written; the message
	// names the field. Nothing is retried: the spec is immutable.
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonCreateError: the cloud refused the function for a reason it did
	// not make clear, or did not answer; retried with backoff.
	ReasonCreateError = "FunctionCreateError"
	// ReasonImageError: the image does not exist, or the cloud may not pull
	// it (registry credential, access denied); retried with backoff.
	ReasonImageError = "FunctionImageError"
	// ReasonRoleError: the function's role (execution role, RAM role,
	// identity) does not exist or cannot be assumed yet; retried.
	ReasonRoleError = "FunctionRoleError"
	// ReasonQuotaExceeded: an account quota or limit is used up; retried.
	ReasonQuotaExceeded = "FunctionQuotaExceeded"
	// ReasonConfigError: something the node's configuration names (a plan,
	// a service, a log project) is missing in the cloud; retried.
	ReasonConfigError = "FunctionConfigError"
	// ReasonNotReady: the function exists but its host is not up yet.
	ReasonNotReady = "FunctionNotReady"
)

// RefusedError is a refusal by the cloud of something outside the pod that
// an admin can fix, or that heals by itself (an IAM role that has not
// propagated yet): the pod waits and its function is created again with
// the kubelet's backoff. Backends return it from Deploy, at their edge,
// for the errors they can classify; any other refusal that is not
// errdefs.InvalidInput or transient is treated the same way, with
// ReasonCreateError.
type RefusedError struct {
	// Reason is one of the Reason* constants.
	Reason string
	// Err is the cloud's answer; its text is shown on the pod, so it must
	// carry no secrets.
	Err error
}

func (e *RefusedError) Error() string { return e.Err.Error() }
func (e *RefusedError) Unwrap() error { return e.Err }

// Refused wraps err as a RefusedError with reason (nil stays nil).
func Refused(reason string, err error) error {
	if err == nil {
		return nil
	}
	return &RefusedError{Reason: reason, Err: err}
}

// Failure is how the core treats an error of Deploy.
type Failure int

// Failure classes.
const (
	// FailureNone: no error.
	FailureNone Failure = iota
	// FailureSpec: the pod can never run as written.
	FailureSpec
	// FailureHealable: something outside the pod; retried with backoff.
	FailureHealable
	// FailureTransient: throttling, a server error or no answer; the
	// limiter has retried it already, and the pod waits like a healable
	// refusal rather than failing.
	FailureTransient
)

// Classify sorts a Deploy error into the failure taxonomy and names the
// reason the pod shows.
func Classify(err error) (Failure, string) {
	var (
		refused   *RefusedError
		transient *TransientError
	)
	switch {
	case err == nil:
		return FailureNone, ""
	case errors.As(err, &refused):
		return FailureHealable, refused.Reason
	case errors.As(err, &transient):
		return FailureTransient, ReasonCreateError
	case errdefs.IsInvalidInput(err) || errors.Is(err, ErrNotSupported):
		return FailureSpec, ReasonInvalidSpec
	}
	return FailureHealable, ReasonCreateError
}

// The kubelet's backoff for a container it cannot start (image pulls,
// crash loops): 10 s, doubling up to 5 minutes.
const (
	retryFirst = 10 * time.Second
	retryMax   = 5 * time.Minute
)

// IsRetriedReason says whether a function reported Failed for reason is
// deployed again with backoff (the cause is outside the pod) rather than
// failing its pod.
func IsRetriedReason(reason string) bool {
	switch reason {
	case ReasonCreateError, ReasonImageError, ReasonRoleError, ReasonQuotaExceeded, ReasonConfigError, ReasonNotReady:
		return true
	}
	return false
}
