package lambda

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
	"github.com/virtual-kubelet/virtual-kubelet/errdefs"

	"github.com/faas-kubelet/faas-kubelet/provider"
)

// cloudError is Lambda's answer as a user reads it (the operation, Lambda's
// error code and message), over the SDK's error for errors.As.
type cloudError struct {
	text string
	err  error
}

func (e *cloudError) Error() string { return e.text }
func (e *cloudError) Unwrap() error { return e.err }

// describe words err for users: the SDK's own text repeats the request id
// and the HTTP status, Lambda's code and message say what happened.
func describe(op string, err error) error {
	var api smithy.APIError
	if errors.As(err, &api) {
		return &cloudError{text: fmt.Sprintf("lambda %s: %s: %s", op, api.ErrorCode(), api.ErrorMessage()), err: err}
	}
	return fmt.Errorf("lambda %s: %w", op, err)
}

// mapError turns SDK errors into errdefs at the edge, for every path but
// Deploy's (see deployError): missing functions are NotFound; a request
// Lambda refuses as malformed (an invocation's payload) is InvalidInput,
// which the kubelet API answers with 400; throttling (429), server errors
// (5xx) and calls that got no answer are provider.Transient, with the wait
// Lambda asked for; the rest keep their cause.
func mapError(op string, err error) error {
	if err == nil {
		return nil
	}
	var (
		nf  *types.ResourceNotFoundException
		ipv *types.InvalidParameterValueException
		irc *types.InvalidRequestContentException
		rtl *types.RequestTooLargeException
		umt *types.UnsupportedMediaTypeException
	)
	switch {
	case errors.As(err, &nf):
		return errdefs.AsNotFound(describe(op, err))
	case errors.As(err, &ipv), errors.As(err, &irc), errors.As(err, &rtl), errors.As(err, &umt):
		return errdefs.AsInvalidInput(describe(op, err))
	}
	if t := transient(op, err); t != nil {
		return t
	}
	return describe(op, err)
}

// transient is err as a provider.Transient when it is one (429, 5xx, no
// answer), else nil.
func transient(op string, err error) error {
	var (
		re  *awshttp.ResponseError
		api smithy.APIError
	)
	switch {
	case errors.As(err, &re):
		if status := re.HTTPStatusCode(); status == http.StatusTooManyRequests || status >= 500 {
			return provider.Transient(describe(op, err), retryAfter(err, re.Response.Header), status == http.StatusTooManyRequests)
		}
	case !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) && !errors.As(err, &api):
		return provider.Transient(describe(op, err), 0, false) // no answer: the endpoint was not reached
	}
	return nil
}

// updateRetry is how long Deploy waits for an update in progress before it
// tries its own: Lambda's updates take seconds.
const updateRetry = time.Second

// deployError classifies the errors of Deploy's calls (CreateFunction, the
// updates, the URL and the concurrency) in the core's failure taxonomy.
// Nothing Lambda answers here is a spec error (those are createInput's,
// which names the pod field): Lambda's 400s name things outside the pod
// that an admin creates or raises, or that heal by themselves.
//
//   - InvalidParameterValueException "The role defined for the function
//     cannot be assumed by Lambda." (a role not created yet, not trusting
//     lambda.amazonaws.com, or not propagated): ReasonRoleError.
//   - InvalidParameterValueException "Source image ... does not exist" or
//     "... is not valid", about the ECR image's permissions, or "The image
//     manifest, config or layer media type for the source image ... is not
//     supported" (a multi-architecture index: Lambda runs one
//     architecture's image; pushing one under the tag heals it):
//     ReasonImageError.
//   - CodeStorageExceededException, ServiceQuotaExceededException, and
//     PutFunctionConcurrency's "... decreases account's
//     UnreservedConcurrentExecution below its minimum value":
//     ReasonQuotaExceeded.
//   - ResourceConflictException (an update in progress): transient, after
//     updateRetry.
//   - ValidationException (a request that breaks Lambda's API model,
//     which createInput checks first): see validationError.
//   - NotFound and transient errors as mapError has them; any other
//     refusal ReasonCreateError.
//
// role is the execution role the call named, shown with a role refusal.
func deployError(op string, err error, role string) error {
	if err == nil {
		return nil
	}
	var (
		nf  *types.ResourceNotFoundException
		ipv *types.InvalidParameterValueException
		cs  *types.CodeStorageExceededException
		sq  *types.ServiceQuotaExceededException
		rc  *types.ResourceConflictException
	)
	var api smithy.APIError
	switch {
	case errors.As(err, &nf):
		return errdefs.AsNotFound(describe(op, err))
	case errors.As(err, &api) && api.ErrorCode() == "ValidationException":
		return validationError(op, err, api.ErrorMessage())
	case errors.As(err, &cs), errors.As(err, &sq):
		return provider.Refused(provider.ReasonQuotaExceeded, describe(op, err))
	case errors.As(err, &rc):
		return provider.Transient(describe(op, err), updateRetry, false)
	case errors.As(err, &ipv):
		msg := aws.ToString(ipv.Message)
		switch {
		case strings.Contains(msg, "role defined for the function cannot be assumed"):
			d := describe(op, err)
			if role != "" {
				d = &cloudError{text: d.Error() + " (role " + role + ")", err: err}
			}
			return provider.Refused(provider.ReasonRoleError, d)
		case strings.HasPrefix(msg, "Source image "), strings.Contains(msg, "ECR image"), strings.Contains(msg, "media type for the source image"):
			return provider.Refused(provider.ReasonImageError, describe(op, err))
		case strings.Contains(msg, "UnreservedConcurrentExecution"):
			return provider.Refused(provider.ReasonQuotaExceeded, describe(op, err))
		}
		return provider.Refused(provider.ReasonCreateError, describe(op, err))
	}
	if t := transient(op, err); t != nil {
		return t
	}
	return provider.Refused(provider.ReasonCreateError, describe(op, err))
}

// podMembers are the request members that come from the pod alone, and
// the pod field each comes from: a ValidationException naming one is the
// pod's, for good. Lambda names the member as "at 'member'" ("1
// validation error detected: Value ... at 'environment.variables' failed
// to satisfy constraint: ...").
var podMembers = map[string]string{
	"'environment.variables'":  "spec.containers[0].env",
	"'runtime'":                "spec.containers[0].image",
	"'imageConfig.command'":    "spec.containers[0].args",
	"'imageConfig.entryPoint'": "spec.containers[0].command",
}

// validationError classifies Lambda's ValidationException: a spec error
// naming the pod field when the member it names comes from the pod alone,
// else a refusal (ReasonCreateError) — the member may come from the node's
// configuration, or from faas-kubelet's own tags.
func validationError(op string, err error, msg string) error {
	for member, field := range podMembers {
		if strings.Contains(msg, "at "+member) {
			return errdefs.AsInvalidInput(&cloudError{text: field + ": " + describe(op, err).Error(), err: err})
		}
	}
	return provider.Refused(provider.ReasonCreateError, describe(op, err))
}

// retryAfter is Lambda's RetryAfterSeconds on throttling, else the
// Retry-After header.
func retryAfter(err error, h http.Header) time.Duration {
	var tmr *types.TooManyRequestsException
	if errors.As(err, &tmr) {
		if n, convErr := strconv.Atoi(aws.ToString(tmr.RetryAfterSeconds)); convErr == nil {
			return time.Duration(n) * time.Second
		}
	}
	if n, convErr := strconv.Atoi(h.Get("Retry-After")); convErr == nil {
		return time.Duration(n) * time.Second
	}
	return 0
}
