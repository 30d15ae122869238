package lambda

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/virtual-kubelet/virtual-kubelet/log"

	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// functionError is the body Lambda answers a failed invocation with.
type functionError struct {
	ErrorMessage string `json:"errorMessage"`
	ErrorType    string `json:"errorType"`
}

// endOf reads how a failed invocation ended from the error Lambda
// answered:
//   - Sandbox.Timedout, "Task timed out after N.NN seconds": Lambda ended
//     it at the function's timeout.
//   - Runtime.OutOfMemory, "Runtime exited with error: signal: killed":
//     the runtime was killed for passing the function's memory
//     (adobe/helix-html2md-service#1001). Lambda answered the same kill as
//     Runtime.ExitError before it had that type
//     (awslabs/amazon-s3-find-and-forget#283); a runtime killed by a
//     signal is, on our reading, one killed for its memory, as the timeout
//     has its own type.
//   - Runtime.InvalidEntrypoint: the runtime could not be started at all,
//     such as an image built for another architecture
//     (aws/aws-lambda-base-images#34).
//
// Everything else is the function's own error.
func endOf(fe functionError) translate.InvocationEnd {
	switch {
	case fe.ErrorType == "Sandbox.Timedout" || strings.Contains(fe.ErrorMessage, "Task timed out after"):
		return translate.EndTimeout
	case fe.ErrorType == "Runtime.OutOfMemory",
		fe.ErrorType == "Runtime.ExitError" && strings.HasSuffix(fe.ErrorMessage, "Runtime exited with error: signal: killed"):
		return translate.EndOutOfMemory
	case fe.ErrorType == "Runtime.InvalidEntrypoint":
		return translate.EndStartError
	}
	return translate.EndError
}

// failed fills in a failed invocation: its message ("<errorType>:
// <errorMessage>", else Lambda's X-Amz-Function-Error) and how it ended. An
// entrypoint Lambda cannot execute says which field to change.
func (b *Backend) failed(ctx context.Context, name string, out *sdk.InvokeOutput, inv *translate.Invocation) {
	inv.FunctionError = aws.ToString(out.FunctionError)
	var fe functionError
	if json.Unmarshal(out.Payload, &fe) != nil {
		return
	}
	if fe.ErrorMessage != "" {
		inv.FunctionError = strings.TrimSpace(fe.ErrorType + ": " + fe.ErrorMessage)
	}
	inv.End = endOf(fe)
	if inv.End == translate.EndStartError && strings.Contains(fe.ErrorMessage, "exec format error") {
		inv.FunctionError = b.wrongArchitecture(ctx, name, fe.ErrorMessage)
	}
}

// archField is where a pod chooses its function's architecture (see
// createInput).
const archField = "metadata.annotations[" + translate.AnnotationArchitecture + "], or a kubernetes.io/arch nodeSelector; default amd64"

// wrongArchitecture words an "exec format error" (the image, or the zip's
// bootstrap, was built for another architecture than the function's:
// "You need to build the function image for only one architecture",
// Lambda developer guide, runtimes-images) as what to change, naming the
// image and the architecture GetFunction reports.
func (b *Backend) wrongArchitecture(ctx context.Context, name, msg string) string {
	if _, rest, ok := strings.Cut(msg, " Error: "); ok && strings.HasPrefix(msg, "RequestId: ") {
		msg = rest
	}
	arch, what := "its architecture", "the function's image"
	got, err := b.api.GetFunction(ctx, &sdk.GetFunctionInput{FunctionName: aws.String(name)})
	if err != nil {
		log.G(ctx).WithField("function", name).WithError(mapError("GetFunction", err)).Info("could not read the architecture of a function that cannot start")
	} else {
		arch = "amd64"
		if c := got.Configuration; c != nil && len(c.Architectures) > 0 && c.Architectures[0] == types.ArchitectureArm64 {
			arch = "arm64"
		}
		switch {
		case got.Code != nil && aws.ToString(got.Code.ImageUri) != "":
			what = "image " + aws.ToString(got.Code.ImageUri)
		case got.Configuration != nil && got.Configuration.PackageType == types.PackageTypeZip:
			what = "the code in metadata.annotations[" + AnnotationCode + "]"
		}
	}
	return fmt.Sprintf("%s is not built for %s, the function's architecture (%s): %s", what, arch, archField, msg)
}
