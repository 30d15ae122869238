package lambda

import (
	"encoding/base64"
	"encoding/hex"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/faas-kubelet/faas-kubelet/provider"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// noteUpdating is the note of a function whose update is rolling in.
const noteUpdating = "update rolling in: the previous configuration serves until it completes"

// stateOf maps Lambda's State and LastUpdateStatus to the common phases
// ("Lambda function states",
// https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html):
//   - State Pending: Pending (the function is being created and cannot be
//     invoked).
//   - State Failed: Failed, with the reason failureReason gives
//     StateReasonCode, and Lambda's code and text as the message.
//   - State Inactive: Active, with noteInactive: Lambda reclaimed an idle
//     function's resources, and its next invocation fails
//     (ResourceNotReadyException) and restores them ("When you try to
//     invoke a function that is inactive, the invocation fails and Lambda
//     sets the function to pending state until the function resources are
//     recreated"), which Invoke waits for and retries once. The pod serves
//     as before, slowly at first; it is not restarted.
//   - State Deleting: Pending, with Lambda's reason: the function no
//     longer serves, and will be gone (then NotFound). Not Failed: nothing
//     is wrong with the pod, and a Failed function would be deleted and
//     created again while the deletion is still under way.
//   - State Active: Active, whatever LastUpdateStatus says: while an update
//     is InProgress, invocations run the previous code and configuration,
//     and a Failed update leaves them in place, so the function serves
//     throughout. Either is said in a note (noteUpdating, or the update's
//     failure).
func stateOf(c *types.FunctionConfiguration, code *types.FunctionCodeLocation) *translate.FunctionState {
	st := &translate.FunctionState{Name: aws.ToString(c.FunctionName), ID: aws.ToString(c.FunctionArn)}
	if t, err := time.Parse("2006-01-02T15:04:05.000-0700", aws.ToString(c.LastModified)); err == nil {
		st.Created = t
	}
	st.ImageID = codeID(c, code)
	switch {
	case c.State == types.StateFailed:
		st.Phase, st.Reason = translate.PhaseFailed, failureReason(string(c.StateReasonCode))
		st.Message = reasonText(string(c.StateReasonCode), aws.ToString(c.StateReason))
	case c.State == types.StatePending:
		st.Phase, st.Message = translate.PhasePending, aws.ToString(c.StateReason)
	case c.State == types.StateDeleting:
		st.Phase, st.Message = translate.PhasePending, reasonText(string(c.StateReasonCode), aws.ToString(c.StateReason))
		if st.Message == "" {
			st.Message = "the function is being deleted"
		}
	case c.State == types.StateInactive:
		st.Phase = translate.PhaseActive
		st.Notes = append(st.Notes, noteInactive)
	default:
		st.Phase = translate.PhaseActive
		switch c.LastUpdateStatus {
		case types.LastUpdateStatusInProgress:
			st.Notes = append(st.Notes, noteUpdating)
		case types.LastUpdateStatusFailed:
			st.Notes = append(st.Notes, "the last update failed, and the previous configuration still serves: "+
				reasonText(string(c.LastUpdateStatusReasonCode), aws.ToString(c.LastUpdateStatusReason)))
		}
	}
	return st
}

// noteInactive is the note of a function Lambda made Inactive.
const noteInactive = "the function is inactive (idle for long): its first invocation restores it, and is slow"

// updating says whether Lambda is creating, updating or deleting the
// function, when it refuses another update with 409.
func updating(c *types.FunctionConfiguration) bool {
	return c.State == types.StatePending || c.State == types.StateDeleting || c.LastUpdateStatus == types.LastUpdateStatusInProgress
}

// reasonText is Lambda's reason code and its text.
func reasonText(code, text string) string {
	switch {
	case code == "":
		return text
	case text == "":
		return code
	}
	return code + ": " + text
}

// failureReason is the reason a function Lambda reports Failed shows
// (StateReasonCode, or LastUpdateStatusReasonCode; the same values). What
// an admin fixes outside the pod, or what heals, is one of the core's
// healable reasons, so the pod waits and Deploy creates the function again
// (Lambda: "you must delete and recreate the function"):
//
//	ImageDeleted, ImageAccessDenied, InvalidImage      ReasonImageError (push the
//	                                                   image, grant ECR access)
//	InsufficientRolePermissions                        ReasonRoleError
//	EniLimitExceeded, SubnetOutOfIPAddresses,
//	ServiceQuotaExceededException, VcpuLimitExceeded,
//	CapacityProviderScalingLimitExceeded               ReasonQuotaExceeded
//	InvalidSubnet, InvalidSecurityGroup, KMS*, EFS*,
//	InvalidConfiguration, DisallowedByVpcEncryptionControl,
//	DependencyError                                    ReasonConfigError
//	InternalError, InsufficientCapacity,
//	EC2RequestLimitExceeded, any code not known        ReasonCreateError
//
// The image's own faults keep Lambda's code and stay Failed, as a container
// that cannot start would: FunctionError and FunctionError.* (an entry
// point or working directory that is not in the image, an init that
// crashes or times out, too many extensions), InvalidRuntime and
// InvalidZipFileException.
func failureReason(code string) string {
	switch types.StateReasonCode(code) {
	case types.StateReasonCodeImageDeleted, types.StateReasonCodeImageAccessDenied, types.StateReasonCodeInvalidImage:
		return provider.ReasonImageError
	case types.StateReasonCodeInsufficientRolePermissions:
		return provider.ReasonRoleError
	case types.StateReasonCodeEniLimitExceeded, types.StateReasonCodeSubnetOutOfIPAddresses, types.StateReasonCodeServiceQuotaExceededException,
		types.StateReasonCodeVcpuLimitExceeded, types.StateReasonCodeCapacityProviderScalingLimitExceeded:
		return provider.ReasonQuotaExceeded
	case types.StateReasonCodeInvalidSubnet, types.StateReasonCodeInvalidSecurityGroup,
		types.StateReasonCodeKMSKeyAccessDenied, types.StateReasonCodeKMSKeyNotFound, types.StateReasonCodeInvalidStateKMSKey, types.StateReasonCodeDisabledKMSKey,
		types.StateReasonCodeEFSIOError, types.StateReasonCodeEFSMountConnectivityError, types.StateReasonCodeEFSMountFailure, types.StateReasonCodeEFSMountTimeout,
		types.StateReasonCodeInvalidConfiguration, types.StateReasonCodeDisallowedByVpcEncryptionControl, types.StateReasonCodeDependencyError:
		return provider.ReasonConfigError
	case types.StateReasonCodeFunctionError, types.StateReasonCodeFunctionErrorInitTimeout, types.StateReasonCodeFunctionErrorRuntimeInitError,
		types.StateReasonCodeFunctionErrorExtensionInitError, types.StateReasonCodeFunctionErrorInvalidEntryPoint,
		types.StateReasonCodeFunctionErrorInvalidWorkingDirectory, types.StateReasonCodeFunctionErrorPermissionDenied,
		types.StateReasonCodeFunctionErrorTooManyExtensions, types.StateReasonCodeFunctionErrorInitResourceExhausted,
		types.StateReasonCodeInvalidRuntime, types.StateReasonCodeInvalidZipFileException:
		return code
	}
	return provider.ReasonCreateError
}

// codeID is the image digest of an image function, else the code hash.
func codeID(c *types.FunctionConfiguration, code *types.FunctionCodeLocation) string {
	if code != nil && aws.ToString(code.ResolvedImageUri) != "" {
		return aws.ToString(code.ResolvedImageUri)
	}
	if raw, err := base64.StdEncoding.DecodeString(aws.ToString(c.CodeSha256)); err == nil && len(raw) > 0 {
		return "sha256:" + hex.EncodeToString(raw)
	}
	return ""
}

func configOf(o *sdk.CreateFunctionOutput) *types.FunctionConfiguration {
	return &types.FunctionConfiguration{
		FunctionName: o.FunctionName, State: o.State, StateReason: o.StateReason, StateReasonCode: o.StateReasonCode,
		LastUpdateStatus: o.LastUpdateStatus, LastUpdateStatusReason: o.LastUpdateStatusReason,
		LastUpdateStatusReasonCode: o.LastUpdateStatusReasonCode, LastModified: o.LastModified, CodeSha256: o.CodeSha256,
	}
}

func updatedConfig(o *sdk.UpdateFunctionCodeOutput) *types.FunctionConfiguration {
	return &types.FunctionConfiguration{
		FunctionName: o.FunctionName, State: o.State, StateReason: o.StateReason, StateReasonCode: o.StateReasonCode,
		LastUpdateStatus: o.LastUpdateStatus, LastUpdateStatusReason: o.LastUpdateStatusReason,
		LastUpdateStatusReasonCode: o.LastUpdateStatusReasonCode, LastModified: o.LastModified, CodeSha256: o.CodeSha256,
	}
}

func reconfigured(o *sdk.UpdateFunctionConfigurationOutput) *types.FunctionConfiguration {
	return &types.FunctionConfiguration{
		FunctionName: o.FunctionName, State: o.State, StateReason: o.StateReason, StateReasonCode: o.StateReasonCode,
		LastUpdateStatus: o.LastUpdateStatus, LastUpdateStatusReason: o.LastUpdateStatusReason,
		LastUpdateStatusReasonCode: o.LastUpdateStatusReasonCode, LastModified: o.LastModified, CodeSha256: o.CodeSha256,
	}
}
