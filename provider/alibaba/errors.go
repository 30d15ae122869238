package alibaba

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/alibabacloud-go/tea/tea"
	"github.com/virtual-kubelet/virtual-kubelet/errdefs"

	"github.com/faas-kubelet/faas-kubelet/provider"
)

// apiError is a Function Compute error as the cloud sent it.
type apiError struct {
	Op      string
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("function compute %s: %s: %s (HTTP %d)", e.Op, e.Code, e.Message, e.Status)
}

// answer reads an SDK error. The SDK does not read Function Compute's
// {"errorCode", "errorMessage"} into its Code, so they are read from the
// status code and the body it keeps in Data. A call that got no answer (the
// SDK wraps network errors without a status) is transient, and returned as
// the second result.
func answer(op string, err error) (*apiError, error) {
	var se *tea.SDKError
	if !errors.As(err, &se) || tea.IntValue(se.StatusCode) == 0 {
		if se != nil {
			return nil, provider.Transient(fmt.Errorf("function compute %s: %s", op, strings.TrimSpace(tea.StringValue(se.Message))), 0, false)
		}
		return nil, provider.Transient(fmt.Errorf("function compute %s: %w", op, err), 0, false)
	}
	e := &apiError{Op: op, Status: tea.IntValue(se.StatusCode), Code: tea.StringValue(se.Code)}
	var body map[string]any
	if json.Unmarshal([]byte(tea.StringValue(se.Data)), &body) == nil {
		if c, ok := body["errorCode"].(string); ok && c != "" {
			e.Code = c
		}
		if m, ok := body["errorMessage"].(string); ok {
			e.Message = m
		}
	}
	if e.Message == "" {
		e.Message = strings.TrimSpace(tea.StringValue(se.Message))
	}
	return e, nil
}

// mapError turns SDK errors into errdefs at the edge, for every call but
// Deploy's (see deployError): 404 is NotFound, 400 InvalidInput (a request
// through the kubelet API that FC refuses, such as an oversized payload),
// 429 and 5xx transient; the rest keep status and code for callers (409:
// exists, 412: not empty).
func mapError(op string, err error) error {
	if err == nil {
		return nil
	}
	e, noAnswer := answer(op, err)
	if e == nil {
		return noAnswer
	}
	switch {
	case e.Status == http.StatusNotFound:
		return errdefs.AsNotFound(e)
	case e.Status == http.StatusBadRequest:
		return errdefs.AsInvalidInput(fmt.Errorf("function compute %s refused the request: %s: %s", op, e.Code, e.Message))
	case isTransient(e):
		// The SDK keeps no headers on errors, so Retry-After is not known:
		// the limiter's backoff decides.
		return provider.Transient(e, 0, e.Status == http.StatusTooManyRequests)
	}
	return e
}

func isTransient(e *apiError) bool {
	return e.Status == http.StatusTooManyRequests || e.Status >= 500
}

// deployError maps the errors of the calls Deploy makes. A pod's spec
// errors are caught before any call (specFor), so no answer of FC is one:
// what FC refuses is classified as a provider.RefusedError with the reason
// its code and message give, and the pod waits and is deployed again.
// 404 stays NotFound, 429 and 5xx transient, and 409 and 412 are returned
// as they are for the callers that adopt what exists.
func deployError(op string, err error) error {
	if err == nil {
		return nil
	}
	e, noAnswer := answer(op, err)
	switch {
	case e == nil:
		return noAnswer
	case e.Status == http.StatusNotFound:
		return errdefs.AsNotFound(e)
	case isTransient(e):
		return provider.Transient(e, 0, e.Status == http.StatusTooManyRequests)
	case e.Status == http.StatusConflict || e.Status == http.StatusPreconditionFailed:
		return e
	}
	return provider.Refused(refusalReason(e), e)
}

// refusalReason reads why FC refused a create or an update (the emulator's
// documentation names the sources of these codes and messages):
//   - a role FC cannot assume: 403 AccessDenied "No permission to assume the
//     role '<arn>' for you" (and, our reading, any refusal naming a role
//     that does not exist);
//   - a used-up limit: LimitExceeded(Error), or a message about a quota;
//   - an image FC cannot get: a refusal of CreateFunction or UpdateFunction
//     whose message is about the image;
//   - the node's log project or logstore missing: a message naming them.
//
// Anything else is ReasonCreateError.
func refusalReason(e *apiError) string {
	msg := strings.ToLower(e.Message)
	has := func(words ...string) bool {
		for _, w := range words {
			if strings.Contains(msg, w) {
				return true
			}
		}
		return false
	}
	switch {
	case has("assume the role", "assumerole") || has("role '", "ram role") && has("not exist", "not found"):
		return provider.ReasonRoleError
	case strings.HasPrefix(e.Code, "LimitExceeded") || has("quota"):
		return provider.ReasonQuotaExceeded
	case (e.Op == "CreateFunction" || e.Op == "UpdateFunction") && has("image"):
		return provider.ReasonImageError
	case has("logstore", "logconfig", "log project"):
		return provider.ReasonConfigError
	}
	return provider.ReasonCreateError
}

// isStatus says whether err is a Function Compute answer with that status.
func isStatus(err error, status int) bool {
	var e *apiError
	return errors.As(err, &e) && e.Status == status
}
