package azure

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"

	"github.com/faas-kubelet/faas-kubelet/provider"
	"github.com/faas-kubelet/faas-kubelet/provider/logstream"
)

// deployError classifies an error of one of Deploy's calls. ARM's and the
// Web Apps RP's refusals are never the pod's fault as far as this edge can
// tell (the pod's own mistakes are caught by siteFor), so a refusal becomes
// provider.Refused with the reason the answer shows, and the cloud's code
// and message; throttling, server errors and no answer stay transient.
func deployError(op string, err error) error {
	var re *azcore.ResponseError
	if err == nil || !errors.As(err, &re) || re.StatusCode == http.StatusTooManyRequests || re.StatusCode >= 500 {
		return mapError(op, err)
	}
	code, msg := armError(re)
	text := fmt.Sprintf("azure %s: %s (HTTP %d)", op, strings.TrimSuffix(code+": "+msg, ": "), re.StatusCode)
	if re.StatusCode < 300 {
		// A long-running operation that ended Failed: its status was read
		// fine, the deployment is what failed.
		text = fmt.Sprintf("azure %s: the deployment failed: %s", op, strings.TrimSuffix(code+": "+msg, ": "))
	}
	return provider.Refused(refusalReason(op, re.StatusCode, code, msg), &cloudError{msg: text, err: err})
}

// refusalReason names what an ARM refusal of a Deploy call is about.
func refusalReason(op string, status int, code, msg string) string {
	lower := strings.ToLower(msg)
	switch {
	case code == "FailedIdentityOperation" || strings.Contains(lower, "userassignedidentities"):
		return provider.ReasonRoleError
	case code == "SubscriptionIsOverQuotaForSku" || code == "QuotaExceeded" ||
		strings.Contains(lower, "quota") || strings.Contains(lower, "maximum number of") || strings.Contains(lower, "will exceed the number of"):
		return provider.ReasonQuotaExceeded
	case status == http.StatusNotFound && op == "CreateOrUpdate",
		code == "ResourceGroupNotFound",
		strings.Contains(lower, "cannot find serverfarm"), strings.Contains(lower, "cannot find managed environment"),
		strings.Contains(lower, "storage account") && strings.Contains(lower, "not found"):
		// A PUT creates its site: what it cannot find is something the
		// node's configuration names (plan, environment, resource group).
		return provider.ReasonConfigError
	case code == "ImagePullFailure":
		return provider.ReasonImageError
	}
	return provider.ReasonCreateError
}

// armError reads an error answer's code and message: ARM's
// {"error":{"code","message"}}, a long-running operation's
// {"status":"Failed","error":{...}}, or the Web Apps RP's own
// {"Code","Message"}, whose code azcore does not find (it reads only a
// lower-case "code" or the x-ms-error-code header).
func armError(re *azcore.ResponseError) (code, message string) {
	code = re.ErrorCode
	if re.RawResponse == nil {
		return code, ""
	}
	body, err := runtime.Payload(re.RawResponse)
	if err != nil {
		return code, ""
	}
	var out struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
		RPCode    string `json:"Code"`
		RPMessage string `json:"Message"`
	}
	if json.Unmarshal(body, &out) != nil {
		return code, ""
	}
	if out.Error != nil {
		if code == "" {
			code = out.Error.Code
		}
		return code, out.Error.Message
	}
	if code == "" {
		code = out.RPCode
	}
	return code, out.RPMessage
}

// cloudError shows the cloud's code and message, short and without the
// request, and keeps the SDK's error for errors.As.
type cloudError struct {
	msg string
	err error
}

func (e *cloudError) Error() string { return e.msg }
func (e *cloudError) Unwrap() error { return e.err }

// Lines of App Service's docker log (the containerlogs API) around an image
// pull: each start of the app's container logs pullStarted, then, when the
// pull failed, the Docker API's answer and pullFailed.
const (
	pullStarted   = "Pulling image: "
	dockerAPIFail = "DockerApiException: "
	pullFailed    = "Image pull failed"
)

// imagePullFailure is why the last pull of the app's image failed, from its
// docker log, or "" when the log shows no failed pull since the last one
// started.
func imagePullFailure(lines []logstream.Line) string {
	start := 0
	for i, l := range lines {
		if strings.Contains(l.Text, pullStarted) {
			start = i
		}
	}
	failure := ""
	for _, l := range lines[start:] {
		if _, after, ok := strings.Cut(l.Text, dockerAPIFail); ok && failure == "" {
			failure = after
		}
		if i := strings.Index(l.Text, pullFailed); i >= 0 && failure == "" && !strings.Contains(l.Text, "Defaulting to local copy") {
			failure = l.Text[i:]
		}
	}
	return failure
}
