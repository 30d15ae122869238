package lambda

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	sdk "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	"github.com/virtual-kubelet/virtual-kubelet/log"
	"golang.org/x/time/rate"

	"github.com/faas-kubelet/faas-kubelet/provider"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// Name is the backend's name in the config.
const Name = "aws-lambda"

// API is the part of the Lambda client this backend uses.
type API interface {
	CreateFunction(context.Context, *sdk.CreateFunctionInput, ...func(*sdk.Options)) (*sdk.CreateFunctionOutput, error)
	GetFunction(context.Context, *sdk.GetFunctionInput, ...func(*sdk.Options)) (*sdk.GetFunctionOutput, error)
	UpdateFunctionCode(context.Context, *sdk.UpdateFunctionCodeInput, ...func(*sdk.Options)) (*sdk.UpdateFunctionCodeOutput, error)
	UpdateFunctionConfiguration(context.Context, *sdk.UpdateFunctionConfigurationInput, ...func(*sdk.Options)) (*sdk.UpdateFunctionConfigurationOutput, error)
	DeleteFunction(context.Context, *sdk.DeleteFunctionInput, ...func(*sdk.Options)) (*sdk.DeleteFunctionOutput, error)
	GetAccountSettings(context.Context, *sdk.GetAccountSettingsInput, ...func(*sdk.Options)) (*sdk.GetAccountSettingsOutput, error)
	ListFunctions(context.Context, *sdk.ListFunctionsInput, ...func(*sdk.Options)) (*sdk.ListFunctionsOutput, error)
	Invoke(context.Context, *sdk.InvokeInput, ...func(*sdk.Options)) (*sdk.InvokeOutput, error)
	TagResource(context.Context, *sdk.TagResourceInput, ...func(*sdk.Options)) (*sdk.TagResourceOutput, error)
	CreateFunctionUrlConfig(context.Context, *sdk.CreateFunctionUrlConfigInput, ...func(*sdk.Options)) (*sdk.CreateFunctionUrlConfigOutput, error)
	GetFunctionUrlConfig(context.Context, *sdk.GetFunctionUrlConfigInput, ...func(*sdk.Options)) (*sdk.GetFunctionUrlConfigOutput, error)
	UpdateFunctionUrlConfig(context.Context, *sdk.UpdateFunctionUrlConfigInput, ...func(*sdk.Options)) (*sdk.UpdateFunctionUrlConfigOutput, error)
	AddPermission(context.Context, *sdk.AddPermissionInput, ...func(*sdk.Options)) (*sdk.AddPermissionOutput, error)
	RemovePermission(context.Context, *sdk.RemovePermissionInput, ...func(*sdk.Options)) (*sdk.RemovePermissionOutput, error)
	GetPolicy(context.Context, *sdk.GetPolicyInput, ...func(*sdk.Options)) (*sdk.GetPolicyOutput, error)
	PutFunctionConcurrency(context.Context, *sdk.PutFunctionConcurrencyInput, ...func(*sdk.Options)) (*sdk.PutFunctionConcurrencyOutput, error)
}

var _ API = (*sdk.Client)(nil)

// Options configure the backend.
type Options struct {
	// Region of the functions.
	Region string
	// Endpoint overrides the Lambda and CloudWatch Logs endpoint (an emulator).
	Endpoint string
	// Credentials sign requests; nil uses the SDK's default chain.
	Credentials aws.CredentialsProvider
	// DefaultRole is the execution role for pods that name none.
	DefaultRole string
	// ECRPullThroughPrefix, when set, lets pods use public images through an
	// ECR pull-through cache.
	ECRPullThroughPrefix string
	// HTTPClient carries requests; nil uses the SDK's.
	HTTPClient *http.Client
}

// Backend implements provider.Backend on AWS Lambda.
type Backend struct {
	api  API
	logs LogsAPI
	opts Options
	// usageReads keeps the usage reads within CloudWatch Logs'
	// FilterLogEvents quota (5 per second per account and region).
	usageReads *rate.Limiter
	// restorePoll is how often invoke reads an Inactive function's state
	// while Lambda restores it (0: a second; tests set less).
	restorePoll time.Duration
	// followPoll and followOverlap are a log follow's poll interval and
	// the window it reads again (0: followEvery, followOverlap; tests set
	// them).
	followPoll, followOverlap time.Duration
	// listed is what the last listing showed of the node's functions, for
	// adoption from it (see AdoptListed).
	listed listing
	// images reads images' architectures from ECR (ReadImages); nil
	// reads none.
	images *imageReader
}

var _ provider.Backend = (*Backend)(nil)

// New builds a backend over the given clients (see NewClient and
// NewLogsClient).
func New(api API, logs LogsAPI, opts Options) *Backend {
	return &Backend{api: api, logs: logs, opts: opts, usageReads: rate.NewLimiter(usageReadsPerSecond, usageReadsPerSecond)}
}

// NewClient builds the SDK client for the options; cfg holds what the
// default chain resolved (region, credentials), or is zero for tests that
// pass static credentials.
func NewClient(cfg aws.Config, o Options) *sdk.Client {
	return sdk.NewFromConfig(cfg, func(so *sdk.Options) {
		so.Region = o.Region
		// Retries are the core's (provider.Limited), which knows which calls
		// are idempotent; the SDK's own would multiply them.
		so.RetryMaxAttempts = 1
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
		if o.Credentials != nil {
			so.Credentials = o.Credentials
		}
		if o.HTTPClient != nil {
			so.HTTPClient = o.HTTPClient
		}
	})
}

// CountsAgainstQuota says whether a request counts against Lambda's
// control-plane quota (15 requests/s per region), which the node's
// limits.qps keeps under: invocations, GetFunction and GetPolicy have
// quotas of their own, and CloudWatch Logs is another service.
func CountsAgainstQuota(req *http.Request) bool {
	ctx := req.Context()
	if awsmiddleware.GetServiceID(ctx) != sdk.ServiceID {
		return false
	}
	switch awsmiddleware.GetOperationName(ctx) {
	case "Invoke", "InvokeWithResponseStream", "GetFunction", "GetPolicy":
		return false
	}
	return true
}

// Cloud returns "aws-lambda".
func (b *Backend) Cloud() string { return Name }

// Account reads the account settings, as Ping does: the concurrency quota
// is the node's faas-kubelet.io/concurrent-executions capacity, and what no
// function reserves of it is allocatable. The account is the one of the
// default execution role (GetAccountSettings does not name it).
func (b *Backend) Account(ctx context.Context) (*translate.Account, error) {
	out, err := b.api.GetAccountSettings(ctx, &sdk.GetAccountSettingsInput{})
	if err != nil {
		return nil, mapError("GetAccountSettings", err)
	}
	a := &translate.Account{ID: accountOf(b.opts.DefaultRole), Service: "AWS Lambda", Runtime: "aws-lambda://2015-03-31"}
	if l := out.AccountLimit; l != nil {
		a.Capacity = map[string]int64{"concurrent-executions": int64(l.ConcurrentExecutions)}
		a.Allocatable = map[string]int64{"concurrent-executions": int64(aws.ToInt32(l.UnreservedConcurrentExecutions))}
	}
	return a, nil
}

// accountOf is the account in an ARN (arn:aws:iam::123456789012:role/x).
func accountOf(arn string) string {
	if parts := strings.Split(arn, ":"); len(parts) >= 6 && parts[0] == "arn" {
		return parts[4]
	}
	return ""
}

// Ping reads the account settings: it proves the endpoint answers and the
// credentials are accepted.
func (b *Backend) Ping(ctx context.Context) error {
	_, err := b.api.GetAccountSettings(ctx, &sdk.GetAccountSettingsInput{})
	return mapError("GetAccountSettings", err)
}

// Deploy creates the function, or brings an existing one (a retried create,
// or an updated pod) to the pod's image and configuration (environment,
// memory, ephemeral storage, timeout). Only createInput's
// checks, which name the pod field, are spec errors (InvalidInput); what
// Lambda refuses is classified by deployError, and a function Lambda
// reports Failed carries the reason failureReason gives it.
func (b *Backend) Deploy(ctx context.Context, fn *translate.Function) (*translate.FunctionState, error) {
	b.listed.take(fn.Name) // this process now knows better than the listing
	in, notes, err := createInput(fn, &b.opts)
	if err != nil {
		return nil, err
	}
	ex, _ := extras(fn) // validated by createInput
	if in.Code != nil {
		if err := b.checkArchitecture(ctx, aws.ToString(in.Code.ImageUri), in.Architectures); err != nil {
			return nil, err
		}
	}
	// The description carries the spec's digest (AdoptListed): written at
	// create, as the function is whole by then for a pod the core adopts
	// from the listing (a Running one), and taken out before any update.
	in.Description = aws.String(translate.SealDescription(aws.ToString(in.Description), specDigest(in, ex)))
	st, err := b.createOrAdopt(ctx, fn, in)
	if err != nil {
		return nil, err
	}
	st.Notes = append(st.Notes, notes...)
	if ex.urlAuth != "" {
		if st.Endpoint, err = b.functionURL(ctx, fn.Name, ex.urlAuth); err != nil {
			return nil, err
		}
	}
	if ex.concurrency != nil {
		if _, err := b.api.PutFunctionConcurrency(ctx, &sdk.PutFunctionConcurrencyInput{FunctionName: in.FunctionName, ReservedConcurrentExecutions: ex.concurrency}); err != nil {
			return nil, deployError("PutFunctionConcurrency", err, "")
		}
	}
	return st, nil
}

// functionURL creates the function's URL, or reads the one it has and
// brings it to auth, then gives it the resource-based policy auth needs
// (urlAccess).
func (b *Backend) functionURL(ctx context.Context, name string, auth types.FunctionUrlAuthType) (string, error) {
	out, err := b.api.CreateFunctionUrlConfig(ctx, &sdk.CreateFunctionUrlConfigInput{FunctionName: aws.String(name), AuthType: auth})
	var url string
	var exists *types.ResourceConflictException
	switch {
	case err == nil:
		url = aws.ToString(out.FunctionUrl)
	case !errors.As(err, &exists):
		return "", mapError("CreateFunctionUrlConfig", err)
	default:
		got, err := b.api.GetFunctionUrlConfig(ctx, &sdk.GetFunctionUrlConfigInput{FunctionName: aws.String(name)})
		if err != nil {
			return "", deployError("GetFunctionUrlConfig", err, "")
		}
		url = aws.ToString(got.FunctionUrl)
		if got.AuthType != auth {
			if _, err := b.api.UpdateFunctionUrlConfig(ctx, &sdk.UpdateFunctionUrlConfigInput{FunctionName: aws.String(name), AuthType: auth}); err != nil {
				return "", deployError("UpdateFunctionUrlConfig", err, "")
			}
			log.G(ctx).WithField("authType", string(auth)).Info("function URL auth type updated")
		}
	}
	return url, b.urlAccess(ctx, name, auth)
}

// publicURL are the statements a function URL of auth type NONE needs in
// the function's resource-based policy: without both, it answers 403
// Forbidden ("Starting in October 2025, new function URLs will require
// both lambda:InvokeFunctionUrl and lambda:InvokeFunction permissions",
// Control access to Lambda function URLs). The statement ids are the ones
// the Lambda console gives them.
var publicURL = []sdk.AddPermissionInput{
	{StatementId: aws.String("FunctionURLAllowPublicAccess"), Action: aws.String("lambda:InvokeFunctionUrl"),
		Principal: aws.String("*"), FunctionUrlAuthType: types.FunctionUrlAuthTypeNone},
	{StatementId: aws.String("FunctionURLInvokeAllowPublicAccess"), Action: aws.String("lambda:InvokeFunction"),
		Principal: aws.String("*"), InvokedViaFunctionUrl: aws.Bool(true)},
}

// urlAccess adds the public statements a URL of auth type NONE needs, and
// removes them from one of auth type AWS_IAM, reading the policy first so a
// redeploy changes nothing that is already right.
func (b *Backend) urlAccess(ctx context.Context, name string, auth types.FunctionUrlAuthType) error {
	have := map[string]bool{}
	out, err := b.api.GetPolicy(ctx, &sdk.GetPolicyInput{FunctionName: aws.String(name)})
	var none *types.ResourceNotFoundException
	switch {
	case err == nil:
		var doc struct{ Statement []struct{ Sid string } }
		if err := json.Unmarshal([]byte(aws.ToString(out.Policy)), &doc); err != nil {
			return fmt.Errorf("lambda GetPolicy %s: %w", name, err)
		}
		for _, st := range doc.Statement {
			have[st.Sid] = true
		}
	case !errors.As(err, &none): // none: the function has no policy yet
		return deployError("GetPolicy", err, "")
	}
	for _, st := range publicURL {
		sid := aws.ToString(st.StatementId)
		switch {
		case auth == types.FunctionUrlAuthTypeNone && !have[sid]:
			in := st
			in.FunctionName = aws.String(name)
			var dup *types.ResourceConflictException
			if _, err := b.api.AddPermission(ctx, &in); err != nil && !errors.As(err, &dup) {
				return deployError("AddPermission", err, "")
			}
			log.G(ctx).WithField("statement", sid).Info("function URL made public")
		case auth != types.FunctionUrlAuthTypeNone && have[sid]:
			var gone *types.ResourceNotFoundException
			if _, err := b.api.RemovePermission(ctx, &sdk.RemovePermissionInput{FunctionName: aws.String(name), StatementId: st.StatementId}); err != nil && !errors.As(err, &gone) {
				return deployError("RemovePermission", err, "")
			}
			log.G(ctx).WithField("statement", sid).Info("function URL public access removed")
		}
	}
	return nil
}

// createOrAdopt creates the function, or brings the one that exists (a
// retried create, an updated pod) to fn: a Failed one is created again when
// its reason is healable; a changed configuration (environment, memory,
// ephemeral storage, timeout) is applied, then a changed image. Lambda
// takes one update at a time, so while one is in progress (or the function
// is being created) the change is a transient error, retried after
// updateRetry.
func (b *Backend) createOrAdopt(ctx context.Context, fn *translate.Function, in *sdk.CreateFunctionInput) (*translate.FunctionState, error) {
	out, err := b.api.CreateFunction(ctx, in)
	if err == nil {
		st := stateOf(configOf(out), nil)
		st.Tags = in.Tags
		return st, nil
	}
	var exists *types.ResourceConflictException
	if !errors.As(err, &exists) {
		return nil, deployError("CreateFunction", err, aws.ToString(in.Role))
	}
	cur, err := b.api.GetFunction(ctx, &sdk.GetFunctionInput{FunctionName: in.FunctionName})
	if err != nil {
		return nil, deployError("GetFunction", err, "")
	}
	tags, err := tagsOf(fn.Name, cur)
	if err != nil {
		return nil, provider.Refused(provider.ReasonCreateError, err)
	}
	if uid := tags[translate.TagPodUID]; uid != fn.Tags[translate.TagPodUID] {
		return nil, fmt.Errorf("function %s exists but belongs to pod UID %q, not %q", fn.Name, uid, fn.Tags[translate.TagPodUID])
	}
	state := stateOf(cur.Configuration, cur.Code)
	state.Tags = tags
	if state.Phase == translate.PhaseFailed {
		if !provider.IsRetriedReason(state.Reason) {
			return state, nil
		}
		return b.recreate(ctx, fn, in, state)
	}
	want := aws.ToString(in.Code.ImageUri)
	newImage := want != "" && cur.Code != nil && aws.ToString(cur.Code.ImageUri) != want
	reconf, changed := reconfiguration(cur.Configuration, in)
	have := aws.ToString(cur.Configuration.Description)
	if !newImage && reconf == nil {
		state.Unsealed = have != aws.ToString(in.Description) && !updating(cur.Configuration)
		return state, nil
	}
	if updating(cur.Configuration) {
		return nil, provider.Transient(fmt.Errorf("function %s is still being created or updated; the pod's change follows once that completes", fn.Name), updateRetry, false)
	}
	if owner, _ := translate.ParseDescription(have); owner[translate.SpecDigestKey] != "" {
		// Unsealed first: a restart in the middle of the update must not
		// adopt the function from the listing as either spec.
		if reconf == nil {
			reconf = &sdk.UpdateFunctionConfigurationInput{FunctionName: in.FunctionName}
		}
		reconf.Description = aws.String(translate.UnsealDescription(have))
		changed = append(changed, "description")
	}
	if reconf != nil {
		// The pod's configuration changed (a Secret or ConfigMap it reads,
		// a resize of its memory): the configuration first; a new image,
		// if any, once it completes.
		up, err := b.api.UpdateFunctionConfiguration(ctx, reconf)
		if err != nil {
			return nil, deployError("UpdateFunctionConfiguration", err, "")
		}
		log.G(ctx).WithField("changed", strings.Join(changed, ",")).WithField("memoryMiB", aws.ToInt32(up.MemorySize)).Info("function configuration updated")
		if newImage {
			return nil, provider.Transient(fmt.Errorf("function %s: configuration updated; the new image follows once the update completes", fn.Name), updateRetry, false)
		}
		st := stateOf(reconfigured(up), cur.Code)
		st.Tags = cur.Tags
		return st, nil
	}
	up, err := b.api.UpdateFunctionCode(ctx, &sdk.UpdateFunctionCodeInput{FunctionName: in.FunctionName, ImageUri: in.Code.ImageUri})
	if err != nil {
		return nil, deployError("UpdateFunctionCode", err, "")
	}
	log.G(ctx).WithField("image", want).Info("function code updated")
	st := stateOf(updatedConfig(up), nil)
	st.Tags = cur.Tags
	return st, nil
}

// defaultStorageMiB is the ephemeral storage Lambda gives a function that
// asks for none (CreateFunction and UpdateFunctionConfiguration API
// reference, EphemeralStorage: "The default value is 512").
const defaultStorageMiB = 512

// reconfiguration is the UpdateFunctionConfiguration that brings the
// function's configuration cur to the one in creates: only the
// environment, memory, ephemeral storage and timeout that differ are sent
// (UpdateFunctionConfiguration leaves what it is not given as it is), and
// their names are returned. nil: nothing differs.
func reconfiguration(cur *types.FunctionConfiguration, in *sdk.CreateFunctionInput) (*sdk.UpdateFunctionConfigurationInput, []string) {
	up := &sdk.UpdateFunctionConfigurationInput{FunctionName: in.FunctionName}
	var changed []string
	if !sameEnv(cur, in.Environment) {
		up.Environment = in.Environment
		if up.Environment == nil {
			up.Environment = &types.Environment{Variables: map[string]string{}}
		}
		changed = append(changed, "environment")
	}
	if aws.ToInt32(cur.MemorySize) != aws.ToInt32(in.MemorySize) {
		up.MemorySize = in.MemorySize
		changed = append(changed, "memory")
	}
	if have, want := storageMiB(cur.EphemeralStorage), storageMiB(in.EphemeralStorage); have != want {
		up.EphemeralStorage = &types.EphemeralStorage{Size: aws.Int32(want)}
		changed = append(changed, "ephemeralStorage")
	}
	if aws.ToInt32(cur.Timeout) != aws.ToInt32(in.Timeout) {
		up.Timeout = in.Timeout
		changed = append(changed, "timeout")
	}
	if len(changed) == 0 {
		return nil, nil
	}
	return up, changed
}

// storageMiB is a function's ephemeral storage, Lambda's default when it
// has none set.
func storageMiB(s *types.EphemeralStorage) int32 {
	if s == nil || aws.ToInt32(s.Size) == 0 {
		return defaultStorageMiB
	}
	return aws.ToInt32(s.Size)
}

// recreate deletes a function Lambda reports Failed for a reason outside
// the pod and creates it again: a Failed function cannot be updated back to
// health ("When function creation fails, Lambda sets the function state to
// failed, and you must delete and recreate the function", Lambda function
// states).
func (b *Backend) recreate(ctx context.Context, fn *translate.Function, in *sdk.CreateFunctionInput, failed *translate.FunctionState) (*translate.FunctionState, error) {
	log.G(ctx).WithField("reason", failed.Reason).WithField("message", failed.Message).Info("function failed; creating it again")
	if _, err := b.api.DeleteFunction(ctx, &sdk.DeleteFunctionInput{FunctionName: in.FunctionName}); err != nil {
		if err = deployError("DeleteFunction", err, ""); !errdefs.IsNotFound(err) {
			return nil, err
		}
	}
	out, err := b.api.CreateFunction(ctx, in)
	if err != nil {
		return nil, deployError("CreateFunction", err, aws.ToString(in.Role))
	}
	st := stateOf(configOf(out), nil)
	st.Tags = in.Tags
	st.Notes = append(st.Notes, fmt.Sprintf("function %s had failed (%s) and was created again", fn.Name, failed.Message))
	return st, nil
}

// sameEnv compares the function's environment with the one wanted (no
// variables and no environment are the same).
func sameEnv(cur *types.FunctionConfiguration, want *types.Environment) bool {
	var have, w map[string]string
	if cur != nil && cur.Environment != nil {
		have = cur.Environment.Variables
	}
	if want != nil {
		w = want.Variables
	}
	return maps.Equal(have, w)
}

var _ provider.MemoryResizer = (*Backend)(nil)

// CheckResize says whether Deploy can bring an existing function to
// fn.MemoryMiB: UpdateFunctionConfiguration takes a new MemorySize in
// place, within the limits CreateFunction has (checkMemory), and Deploy
// sends it (reconfiguration). It makes no call to Lambda.
func (b *Backend) CheckResize(fn *translate.Function) error {
	return checkMemory(fn)
}

// Delete deletes the function; one already gone counts as deleted.
func (b *Backend) Delete(ctx context.Context, name string) error {
	_, err := b.api.DeleteFunction(ctx, &sdk.DeleteFunctionInput{FunctionName: aws.String(name)})
	if err = mapError("DeleteFunction", err); errdefs.IsNotFound(err) {
		return nil
	}
	return err
}

// Get reads the function's state.
func (b *Backend) Get(ctx context.Context, name string) (*translate.FunctionState, error) {
	out, err := b.api.GetFunction(ctx, &sdk.GetFunctionInput{FunctionName: aws.String(name)})
	if err != nil {
		return nil, mapError("GetFunction", err)
	}
	tags, err := tagsOf(name, out)
	if err != nil {
		return nil, err
	}
	st := stateOf(out.Configuration, out.Code)
	st.Tags = tags
	return st, nil
}

// tagsOf reads the tags GetFunction returned. Lambda returns them only to
// a caller allowed lambda:ListTags (GetFunction API reference, Tags), and
// every function of ours has tags (its pod's UID), so none means the
// node's policy lacks that permission: an error, not an untagged function,
// or a restarted node would take a recorded Job for one never run.
func tagsOf(name string, out *sdk.GetFunctionOutput) (map[string]string, error) {
	if len(out.Tags) > 0 {
		return out.Tags, nil
	}
	why := "no tags"
	if e := out.TagsError; e != nil {
		why = aws.ToString(e.ErrorCode) + ": " + aws.ToString(e.Message)
	}
	return nil, fmt.Errorf("lambda GetFunction %s: %s; Lambda returns a function's tags only when the node's IAM policy allows lambda:ListTags", name, why)
}

// Invoke calls the function synchronously (RequestResponse); a failed
// invocation carries Lambda's error and how it ended (see endOf).
func (b *Backend) Invoke(ctx context.Context, name string, payload []byte) (*translate.Invocation, error) {
	out, err := b.invoke(ctx, &sdk.InvokeInput{FunctionName: aws.String(name), Payload: payload, InvocationType: types.InvocationTypeRequestResponse})
	if err != nil {
		return nil, mapError("Invoke", err)
	}
	inv := &translate.Invocation{Output: out.Payload}
	if aws.ToString(out.FunctionError) != "" {
		b.failed(ctx, name, out, inv)
	}
	return inv, nil
}

// invoke calls Invoke; an Inactive function's ResourceNotReadyException
// (the invocation did not run, and Lambda restores the function: Lambda
// function states, Inactive) is retried once, when GetFunction reports the
// function Active again, within restoreWait.
func (b *Backend) invoke(ctx context.Context, in *sdk.InvokeInput) (*sdk.InvokeOutput, error) {
	out, err := b.api.Invoke(ctx, in)
	var nr *types.ResourceNotReadyException
	if !errors.As(err, &nr) {
		return out, err
	}
	log.G(ctx).WithField("function", aws.ToString(in.FunctionName)).Info("function inactive; invoking it again once it is restored")
	poll := b.restorePoll
	if poll == 0 {
		poll = time.Second
	}
	wait, cancel := context.WithTimeout(ctx, restoreWait)
	defer cancel()
	for {
		got, gerr := b.api.GetFunction(wait, &sdk.GetFunctionInput{FunctionName: in.FunctionName})
		if gerr == nil && got.Configuration != nil && got.Configuration.State == types.StateActive {
			return b.api.Invoke(ctx, in)
		}
		select {
		case <-wait.Done():
			return nil, err
		case <-time.After(poll):
		}
	}
}

// restoreWait bounds the wait for an Inactive function's restore (that of
// its VPC network interfaces, which takes minutes at most).
const restoreWait = 5 * time.Minute

// InvokeAsync queues an invocation (InvocationType Event: Lambda answers
// 202 once the event is queued) and returns Lambda's request id.
func (b *Backend) InvokeAsync(ctx context.Context, name string, payload []byte) (string, error) {
	out, err := b.invoke(ctx, &sdk.InvokeInput{FunctionName: aws.String(name), Payload: payload, InvocationType: types.InvocationTypeEvent})
	if err != nil {
		return "", mapError("Invoke", err)
	}
	id, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
	return id, nil
}

// Tag merges tags into the function's tags.
func (b *Backend) Tag(ctx context.Context, name string, tags map[string]string) error {
	out, err := b.api.GetFunction(ctx, &sdk.GetFunctionInput{FunctionName: aws.String(name)})
	if err != nil {
		return mapError("GetFunction", err)
	}
	_, err = b.api.TagResource(ctx, &sdk.TagResourceInput{Resource: out.Configuration.FunctionArn, Tags: tags})
	return mapError("TagResource", err)
}
