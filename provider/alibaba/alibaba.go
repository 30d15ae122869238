package alibaba

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"time"

	fc "github.com/alibabacloud-go/fc-open-20210406/v2/client"
	util "github.com/alibabacloud-go/tea-utils/v2/service"
	"github.com/alibabacloud-go/tea/tea"
	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	"github.com/virtual-kubelet/virtual-kubelet/log"

	"github.com/faas-kubelet/faas-kubelet/provider"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// Name is the backend's name in the config.
const Name = "alibaba-fc"

// API is the part of the Function Compute 2.0 client this backend uses.
// The SDK's calls take no context; a non-nil RuntimeOptions is required
// (the *WithOptions calls dereference it).
type API interface {
	CreateServiceWithOptions(*fc.CreateServiceRequest, *fc.CreateServiceHeaders, *util.RuntimeOptions) (*fc.CreateServiceResponse, error)
	UpdateServiceWithOptions(*string, *fc.UpdateServiceRequest, *fc.UpdateServiceHeaders, *util.RuntimeOptions) (*fc.UpdateServiceResponse, error)
	GetServiceWithOptions(*string, *fc.GetServiceRequest, *fc.GetServiceHeaders, *util.RuntimeOptions) (*fc.GetServiceResponse, error)
	DeleteServiceWithOptions(*string, *fc.DeleteServiceHeaders, *util.RuntimeOptions) (*fc.DeleteServiceResponse, error)
	ListServicesWithOptions(*fc.ListServicesRequest, *fc.ListServicesHeaders, *util.RuntimeOptions) (*fc.ListServicesResponse, error)
	CreateFunctionWithOptions(*string, *fc.CreateFunctionRequest, *fc.CreateFunctionHeaders, *util.RuntimeOptions) (*fc.CreateFunctionResponse, error)
	GetFunctionWithOptions(*string, *string, *fc.GetFunctionRequest, *fc.GetFunctionHeaders, *util.RuntimeOptions) (*fc.GetFunctionResponse, error)
	UpdateFunctionWithOptions(*string, *string, *fc.UpdateFunctionRequest, *fc.UpdateFunctionHeaders, *util.RuntimeOptions) (*fc.UpdateFunctionResponse, error)
	DeleteFunctionWithOptions(*string, *string, *fc.DeleteFunctionHeaders, *util.RuntimeOptions) (*fc.DeleteFunctionResponse, error)
	CreateTriggerWithOptions(*string, *string, *fc.CreateTriggerRequest, *fc.CreateTriggerHeaders, *util.RuntimeOptions) (*fc.CreateTriggerResponse, error)
	GetTriggerWithOptions(*string, *string, *string, *fc.GetTriggerHeaders, *util.RuntimeOptions) (*fc.GetTriggerResponse, error)
	ListTriggersWithOptions(*string, *string, *fc.ListTriggersRequest, *fc.ListTriggersHeaders, *util.RuntimeOptions) (*fc.ListTriggersResponse, error)
	DeleteTriggerWithOptions(*string, *string, *string, *fc.DeleteTriggerHeaders, *util.RuntimeOptions) (*fc.DeleteTriggerResponse, error)
	InvokeFunctionWithOptions(*string, *string, *fc.InvokeFunctionRequest, *fc.InvokeFunctionHeaders, *util.RuntimeOptions) (*fc.InvokeFunctionResponse, error)
	TagResourceWithOptions(*fc.TagResourceRequest, *fc.TagResourceHeaders, *util.RuntimeOptions) (*fc.TagResourceResponse, error)
	GetResourceTagsWithOptions(*fc.GetResourceTagsRequest, *fc.GetResourceTagsHeaders, *util.RuntimeOptions) (*fc.GetResourceTagsResponse, error)
	GetAccountSettingsWithOptions(*fc.GetAccountSettingsHeaders, *util.RuntimeOptions) (*fc.GetAccountSettingsResponse, error)
}

// Signer signs a request to an HTTP trigger whose authType is function
// (FC's own signature; no call is made). fc.Client is one.
type Signer interface {
	SignRequest(*http.Request) (*http.Request, error)
}

var _ Signer = (*fc.Client)(nil)

var _ API = (*fc.Client)(nil)

// Options configure the backend.
type Options struct {
	Region    string
	AccountID string
	// Role is the RAM role services run as, for pods that name none.
	Role string
	// RegistryInstances maps Container Registry Enterprise Edition instance
	// names (the <instance> of <instance>-registry.<region>.cr.aliyuncs.com)
	// to their IDs (cri-...), which FC needs to pull their images; a pod's
	// faas-kubelet.io/acr-instance-id annotation takes precedence.
	RegistryInstances map[string]string
	// LogProject and LogStore receive the services' logs; kubectl logs
	// reads them. Empty: services log nowhere.
	LogProject, LogStore string
	// DigestKey keys the spec digest a service's description carries (see
	// AdoptListed): a secret of the node's, the AccessKey secret. Empty:
	// no digest is written, and a restart adopts each pod's function with
	// calls of its own.
	DigestKey string
}

// Backend implements provider.Backend on Function Compute 2.0.
type Backend struct {
	api  API
	logs LogsAPI
	opts Options
	// listed is what the last listing showed of the node's services, for
	// adoption from it (see AdoptListed).
	listed listing
}

var _ provider.Backend = (*Backend)(nil)

// New builds a backend over a Function Compute client and a Log Service
// client (see NewClient and NewLogsClient); logs may be nil.
func New(api API, logs LogsAPI, opts Options) *Backend {
	return &Backend{api: api, logs: logs, opts: opts}
}

// Cloud returns "alibaba-fc".
func (b *Backend) Cloud() string { return Name }

// Timeouts of one call. The SDK takes no context, so these bound it.
const (
	connectTimeout = 5 * time.Second
	readTimeout    = 30 * time.Second
	invokeTimeout  = (maxTimeout + 60) * time.Second
)

func runtime(read time.Duration) *util.RuntimeOptions {
	return &util.RuntimeOptions{ConnectTimeout: tea.Int(int(connectTimeout.Milliseconds())), ReadTimeout: tea.Int(int(read.Milliseconds()))}
}

func rt() *util.RuntimeOptions { return runtime(readTimeout) }

// Ping reads the account's settings: it proves the endpoint answers and the
// credentials are accepted.
func (b *Backend) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	_, err := b.api.GetAccountSettingsWithOptions(&fc.GetAccountSettingsHeaders{}, rt())
	return mapError("GetAccountSettings", err)
}

// Account reads the account settings, as Ping does. FC 2.0 reports no
// quota through its API (GetAccountSettings names the zones and the default
// role), so the node shows the account and no quota.
func (b *Backend) Account(ctx context.Context) (*translate.Account, error) {
	if err := b.Ping(ctx); err != nil {
		return nil, err
	}
	return &translate.Account{ID: b.opts.AccountID, Service: "Alibaba Cloud Function Compute", Runtime: "alibaba-fc://2021-04-06"}, nil
}

// maxTriggerBody is the largest request body an HTTP trigger takes.
const maxTriggerBody = 32 << 20

// HTTP sends req to the function's HTTP trigger, at the URL FC gave it
// (urlInternet) with the request's path appended, signed when the
// trigger's authType is function. A pod without a port has no trigger.
func (b *Backend) HTTP(ctx context.Context, name string, req *http.Request) (*http.Response, error) {
	got, err := b.api.GetTriggerWithOptions(tea.String(name), tea.String(name), tea.String(triggerName), &fc.GetTriggerHeaders{}, rt())
	if err != nil {
		err = mapError("GetTrigger", err)
		if errdefs.IsNotFound(err) {
			return nil, errdefs.InvalidInputf("function %s has no HTTP trigger: give the pod's container a port", name)
		}
		return nil, err
	}
	base := strings.TrimSuffix(tea.StringValue(got.Body.UrlInternet), "/")
	if base == "" {
		return nil, fmt.Errorf("function %s: its HTTP trigger has no URL", name)
	}
	// Read whole: the signature covers the body's MD5 (and the SDK's
	// digest drops the last read of a reader that returns data with EOF).
	if req.Body == nil {
		req.Body = http.NoBody // a request without a body (a preStop hook's GET)
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, maxTriggerBody+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxTriggerBody {
		return nil, errdefs.InvalidInputf("request body larger than %d bytes, Function Compute's limit for HTTP triggers", maxTriggerBody)
	}
	out, err := http.NewRequestWithContext(ctx, req.Method, base+req.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	out.Header = provider.ForwardedHeader(req.Header)
	out.Header.Del("Authorization") // the trigger's own signature goes there
	var cfg struct {
		AuthType string `json:"authType"`
	}
	_ = json.Unmarshal([]byte(tea.StringValue(got.Body.TriggerConfig)), &cfg)
	if cfg.AuthType != "anonymous" {
		signer, ok := b.api.(Signer)
		if !ok {
			return nil, provider.NotSupportedf("signing requests to the HTTP trigger of %s", name)
		}
		if out, err = signer.SignRequest(out); err != nil {
			return nil, fmt.Errorf("signing the request to %s: %w", name, err)
		}
	}
	resp, err := http.DefaultClient.Do(out)
	if err != nil {
		return nil, fmt.Errorf("calling the HTTP trigger of %s: %w", name, err)
	}
	return resp, nil
}

// serviceARN is the resource tags attach to.
func (b *Backend) serviceARN(name string) string {
	return fmt.Sprintf("acs:fc:%s:%s:services/%s", b.opts.Region, b.opts.AccountID, name)
}

// Deploy creates the pod's service, tags it, and creates its function (and
// HTTP trigger); a retried create or a restart finds what exists and
// completes it, and a changed image, environment, memory or timeout
// updates the function in place.
// Only specFor's checks refuse the pod for good; what FC refuses is a
// provider.RefusedError (see deployError). A refusal midway leaves the
// service made so far: the retry adopts it, and Delete removes it when the
// pod goes while it waits.
func (b *Backend) Deploy(ctx context.Context, fn *translate.Function) (*translate.FunctionState, error) {
	b.listed.take(fn.Name) // this process now knows better than the listing
	s, err := specFor(fn, &b.opts)
	if err != nil {
		return nil, err
	}
	// A new service's description carries the spec's digest (AdoptListed):
	// the service, its function and trigger are whole once the pod has
	// run. It is taken out before any update of the function.
	digest := b.specDigest(s)
	s.Service.Description = tea.String(translate.SealDescription(tea.StringValue(s.Service.Description), digest))
	tags, sealed, err := b.ensureService(ctx, fn, s)
	if err != nil {
		return nil, err
	}
	st, err := b.ensureFunction(ctx, fn, s, sealed)
	if err == nil {
		st.Unsealed = st.Unsealed && digest != "" && sealed != digest
	}
	if err == nil && s.Trigger != nil {
		st.Endpoint, err = b.ensureTrigger(fn.Name, s.Trigger)
	}
	if err != nil {
		return nil, err
	}
	st.Tags, st.Notes = tags, append(append([]string(nil), s.Notes...), st.Notes...)
	return st, nil
}

// ensureService creates the service, or adopts the one this pod owns, and
// returns its tags (a run-once pod's recorded progress among them) and
// the spec digest its description carries ("" for none).
func (b *Backend) ensureService(ctx context.Context, fn *translate.Function, s *spec) (map[string]string, string, error) {
	sealed, _ := translate.ParseDescription(tea.StringValue(s.Service.Description))
	_, err := b.api.CreateServiceWithOptions(s.Service, &fc.CreateServiceHeaders{}, rt())
	if err == nil {
		return s.Tags, sealed[translate.SpecDigestKey], deployError("TagResource", b.tag(fn.Name, s.Tags))
	}
	if err = deployError("CreateService", err); !isStatus(err, http.StatusConflict) {
		return nil, "", err
	}
	cur, err := b.api.GetServiceWithOptions(tea.String(fn.Name), &fc.GetServiceRequest{}, &fc.GetServiceHeaders{}, rt())
	if err != nil {
		return nil, "", deployError("GetService", err)
	}
	owner, _ := translate.ParseDescription(tea.StringValue(cur.Body.Description))
	if uid := owner[translate.TagPodUID]; uid != fn.Tags[translate.TagPodUID] {
		return nil, "", fmt.Errorf("service %s exists but belongs to pod UID %q, not %q", fn.Name, uid, fn.Tags[translate.TagPodUID])
	}
	got, err := b.api.GetResourceTagsWithOptions(&fc.GetResourceTagsRequest{ResourceArn: tea.String(b.serviceARN(fn.Name))}, &fc.GetResourceTagsHeaders{}, rt())
	if err = deployError("GetResourceTags", err); err != nil && !errdefs.IsNotFound(err) {
		return nil, "", err
	}
	tags := map[string]string{}
	if err == nil {
		tags = decodeTags(fromTea(got.Body.Tags))
	}
	if tags[translate.TagPodUID] == "" {
		// The process stopped between creating the service and tagging it.
		log.G(ctx).Info("tagging a service created before a restart")
		return s.Tags, owner[translate.SpecDigestKey], deployError("TagResource", b.tag(fn.Name, s.Tags))
	}
	return tags, owner[translate.SpecDigestKey], nil
}

// tag merges tags into the service's, each value encoded to fit FC's rules
// (see tagValue); the caller maps the SDK's error.
func (b *Backend) tag(name string, tags map[string]string) error {
	_, err := b.api.TagResourceWithOptions(&fc.TagResourceRequest{ResourceArn: tea.String(b.serviceARN(name)), Tags: toTea(encodeTags(tags))}, &fc.TagResourceHeaders{}, rt())
	return err
}

// ensureFunction creates the function, or brings the existing one to the
// pod's container, environment, memory (and the instance type it takes)
// and timeout, with one UpdateFunction; the spec digest leaves a sealed
// service's description first. A function found as s asks is Unsealed,
// for Deploy to say whether the service's digest is s's.
func (b *Backend) ensureFunction(ctx context.Context, fn *translate.Function, s *spec, sealed string) (*translate.FunctionState, error) {
	out, err := b.api.CreateFunctionWithOptions(tea.String(fn.Name), s.Function, &fc.CreateFunctionHeaders{}, rt())
	if err == nil {
		return stateOf(fn.Name, containerOf(out.Body.CustomContainerConfig), out.Body.CreatedTime), nil
	}
	if err = deployError("CreateFunction", err); !isStatus(err, http.StatusConflict) {
		return nil, err
	}
	cur, err := b.api.GetFunctionWithOptions(tea.String(fn.Name), tea.String(fn.Name), &fc.GetFunctionRequest{}, &fc.GetFunctionHeaders{}, rt())
	if err != nil {
		return nil, deployError("GetFunction", err)
	}
	changed := changes(cur.Body, s.Function)
	if len(changed) == 0 {
		st := stateOf(fn.Name, cur.Body.CustomContainerConfig, cur.Body.CreatedTime)
		st.Unsealed = true
		return st, nil
	}
	if sealed != "" {
		// Unsealed first: a restart in the middle of the update must not
		// adopt the function from the listing as either spec.
		if _, err := b.api.UpdateServiceWithOptions(tea.String(fn.Name), &fc.UpdateServiceRequest{
			Description: tea.String(translate.UnsealDescription(tea.StringValue(s.Service.Description)))}, &fc.UpdateServiceHeaders{}, rt()); err != nil {
			return nil, deployError("UpdateService", err)
		}
	}
	f := s.Function
	up, err := b.api.UpdateFunctionWithOptions(tea.String(fn.Name), tea.String(fn.Name), &fc.UpdateFunctionRequest{
		CustomContainerConfig: f.CustomContainerConfig, Runtime: f.Runtime, Handler: f.Handler, CaPort: f.CaPort,
		MemorySize: f.MemorySize, InstanceType: f.InstanceType, Timeout: f.Timeout, InstanceConcurrency: f.InstanceConcurrency,
		EnvironmentVariables: f.EnvironmentVariables, DiskSize: f.DiskSize, Description: f.Description,
	}, &fc.UpdateFunctionHeaders{}, rt())
	if err != nil {
		return nil, deployError("UpdateFunction", err)
	}
	log.G(ctx).WithField("changed", strings.Join(changed, ",")).WithField("image", tea.StringValue(f.CustomContainerConfig.Image)).
		WithField("memoryMiB", tea.Int32Value(up.Body.MemorySize)).WithField("instanceType", tea.StringValue(up.Body.InstanceType)).Info("function updated")
	// FC 2.0 updates a function in place and has no state for an update in
	// progress: the function goes on serving, so it stays Active.
	st := stateOf(fn.Name, containerOf(up.Body.CustomContainerConfig), up.Body.CreatedTime)
	st.Notes = []string{fmt.Sprintf("function %s updated in place; it keeps serving while Function Compute starts instances with the new configuration", fn.Name)}
	return st, nil
}

// containerOf reads a create or update answer's container as GetFunction
// shows it.
func containerOf(c *fc.CustomContainerConfig) *fc.CustomContainerConfigInfo {
	if c == nil {
		return nil
	}
	return &fc.CustomContainerConfigInfo{Image: c.Image, Command: c.Command, Args: c.Args, AccelerationType: c.AccelerationType, InstanceID: c.InstanceID}
}

// changes names what of the function cur differs from the one want
// creates: its container, environment, memory and instance type (a
// resize), timeout, and the disk size and instance concurrency when the
// pod sets them (UpdateFunction leaves what it is not given as it is).
// None: the function is the pod's already.
func changes(cur *fc.GetFunctionResponseBody, want *fc.CreateFunctionRequest) []string {
	var changed []string
	differs := func(name string, same bool) {
		if !same {
			changed = append(changed, name)
		}
	}
	differs("container", sameContainer(cur.CustomContainerConfig, want.CustomContainerConfig))
	differs("environment", maps.EqualFunc(cur.EnvironmentVariables, want.EnvironmentVariables, func(a, b *string) bool { return tea.StringValue(a) == tea.StringValue(b) }))
	differs("memory", tea.Int32Value(cur.MemorySize) == tea.Int32Value(want.MemorySize) && tea.StringValue(cur.InstanceType) == tea.StringValue(want.InstanceType))
	differs("timeout", tea.Int32Value(cur.Timeout) == tea.Int32Value(want.Timeout))
	differs("diskSize", want.DiskSize == nil || tea.Int32Value(cur.DiskSize) == tea.Int32Value(want.DiskSize))
	differs("instanceConcurrency", want.InstanceConcurrency == nil || tea.Int32Value(cur.InstanceConcurrency) == tea.Int32Value(want.InstanceConcurrency))
	return changed
}

func sameContainer(cur *fc.CustomContainerConfigInfo, want *fc.CustomContainerConfig) bool {
	if cur == nil {
		return false
	}
	return tea.StringValue(cur.Image) == tea.StringValue(want.Image) &&
		tea.StringValue(cur.Command) == tea.StringValue(want.Command) &&
		tea.StringValue(cur.Args) == tea.StringValue(want.Args) &&
		tea.StringValue(cur.InstanceID) == tea.StringValue(want.InstanceID)
}

// ensureTrigger creates the HTTP trigger, or reads the existing one, and
// returns its public URL.
func (b *Backend) ensureTrigger(name string, req *fc.CreateTriggerRequest) (string, error) {
	out, err := b.api.CreateTriggerWithOptions(tea.String(name), tea.String(name), req, &fc.CreateTriggerHeaders{}, rt())
	if err == nil {
		return tea.StringValue(out.Body.UrlInternet), nil
	}
	if err = deployError("CreateTrigger", err); !isStatus(err, http.StatusConflict) {
		return "", err
	}
	got, err := b.api.GetTriggerWithOptions(tea.String(name), tea.String(name), req.TriggerName, &fc.GetTriggerHeaders{}, rt())
	if err != nil {
		return "", deployError("GetTrigger", err)
	}
	return tea.StringValue(got.Body.UrlInternet), nil
}

// stateOf maps a function to the common phases. Function Compute 2.0
// functions have no state: one that exists can be invoked (while its image
// is still being cached, invocations use the original image), so it is
// Active. The image stands for the code, as FC 2.0 reports no digest.
func stateOf(name string, c *fc.CustomContainerConfigInfo, created *string) *translate.FunctionState {
	st := &translate.FunctionState{Name: name, Phase: translate.PhaseActive}
	if c != nil {
		st.ImageID = tea.StringValue(c.Image)
		if a := c.AccelerationInfo; a != nil && tea.StringValue(a.Status) == "Preparing" {
			st.Message = "image acceleration is being prepared; invocations use the original image meanwhile"
		}
	}
	if t, ok := parseTime(tea.StringValue(created)); ok {
		st.Created = t
	}
	return st
}

// parseTime reads Function Compute's timestamps (2016-08-15T15:00:00.000+0000
// or RFC 3339).
func parseTime(s string) (time.Time, bool) {
	for _, layout := range []string{"2006-01-02T15:04:05.000-0700", "2006-01-02T15:04:05Z0700", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// Get reads the function's state.
func (b *Backend) Get(ctx context.Context, name string) (*translate.FunctionState, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out, err := b.api.GetFunctionWithOptions(tea.String(name), tea.String(name), &fc.GetFunctionRequest{}, &fc.GetFunctionHeaders{}, rt())
	if err != nil {
		return nil, mapError("GetFunction", err)
	}
	return stateOf(name, out.Body.CustomContainerConfig, out.Body.CreatedTime), nil
}

var _ provider.MemoryResizer = (*Backend)(nil)

// CheckResize says whether Deploy can bring an existing function to
// fn.MemoryMiB: UpdateFunction takes a new memorySize and instanceType in
// place, so any memory specFor takes (128 MB to 32 GB, rounded up to what
// the instance type offers: checkMemory, instanceFor) is one a resize
// takes, and Deploy sends it (changes). It makes no call to Function
// Compute.
func (b *Backend) CheckResize(fn *translate.Function) error {
	return checkMemory(fn)
}

// Delete removes the pod's trigger, function and service, in the order
// Function Compute requires; what is already gone counts as deleted.
func (b *Backend) Delete(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := b.deleteFunction(name)
	if err != nil && !errdefs.IsNotFound(err) {
		return err
	}
	_, err = b.api.DeleteServiceWithOptions(tea.String(name), &fc.DeleteServiceHeaders{}, rt())
	if err = mapError("DeleteService", err); errdefs.IsNotFound(err) {
		return nil
	}
	return err
}

// deleteFunction deletes the function; if Function Compute refuses because
// triggers remain, it deletes them and tries again.
func (b *Backend) deleteFunction(name string) error {
	_, err := b.api.DeleteFunctionWithOptions(tea.String(name), tea.String(name), &fc.DeleteFunctionHeaders{}, rt())
	if err = mapError("DeleteFunction", err); err == nil || errdefs.IsNotFound(err) || !(isStatus(err, http.StatusConflict) || isStatus(err, http.StatusPreconditionFailed)) {
		return err
	}
	triggers, err := b.api.ListTriggersWithOptions(tea.String(name), tea.String(name), &fc.ListTriggersRequest{Limit: tea.Int32(100)}, &fc.ListTriggersHeaders{}, rt())
	if err != nil {
		return mapError("ListTriggers", err)
	}
	for _, t := range triggers.Body.Triggers {
		_, err := b.api.DeleteTriggerWithOptions(tea.String(name), tea.String(name), t.TriggerName, &fc.DeleteTriggerHeaders{}, rt())
		if err = mapError("DeleteTrigger", err); err != nil && !errdefs.IsNotFound(err) {
			return err
		}
	}
	_, err = b.api.DeleteFunctionWithOptions(tea.String(name), tea.String(name), &fc.DeleteFunctionHeaders{}, rt())
	return mapError("DeleteFunction", err)
}

// Invoke calls the function synchronously. Function Compute reports a
// function's own failure with the X-Fc-Error-Type header and a JSON body
// {"errorMessage", "errorType"}, and a function that cannot start with an
// API error: both are results, not errors, whose End says how the
// invocation ended (see invocationEnd).
func (b *Backend) Invoke(ctx context.Context, name string, payload []byte) (*translate.Invocation, error) {
	out, err := b.invoke(ctx, name, payload, &fc.InvokeFunctionHeaders{XFcInvocationType: tea.String("Sync"), XFcLogType: tea.String("None")})
	if inv, ok := notStarted(err); ok {
		return inv, nil
	}
	if err != nil {
		return nil, err
	}
	inv := &translate.Invocation{Output: out.Body, RequestID: header(out.Headers, "x-fc-request-id")}
	if et := header(out.Headers, "x-fc-error-type"); et != "" {
		var fe struct {
			ErrorMessage string `json:"errorMessage"`
			ErrorType    string `json:"errorType"`
		}
		inv.FunctionError = et
		if json.Unmarshal(out.Body, &fe) == nil && fe.ErrorMessage != "" {
			inv.FunctionError = strings.TrimSpace(fe.ErrorType + ": " + fe.ErrorMessage)
		}
		inv.End = b.invocationEnd(name, fe.ErrorMessage, header(out.Headers, "x-fc-max-memory-usage"))
	}
	return inv, nil
}

// invoke calls InvokeFunction, giving up when ctx ends (the SDK takes no
// context: its call finishes on its own timeout).
func (b *Backend) invoke(ctx context.Context, name string, payload []byte, h *fc.InvokeFunctionHeaders) (*fc.InvokeFunctionResponse, error) {
	type result struct {
		out *fc.InvokeFunctionResponse
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := b.api.InvokeFunctionWithOptions(tea.String(name), tea.String(name), &fc.InvokeFunctionRequest{Body: payload}, h, runtime(invokeTimeout))
		done <- result{out, err}
	}()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case r := <-done:
		return r.out, mapError("InvokeFunction", r.err)
	}
}

// InvokeAsync queues an invocation (X-Fc-Invocation-Type Async: FC answers
// 202) and returns FC's request id.
func (b *Backend) InvokeAsync(ctx context.Context, name string, payload []byte) (string, error) {
	out, err := b.invoke(ctx, name, payload, &fc.InvokeFunctionHeaders{XFcInvocationType: tea.String("Async")})
	if err != nil {
		return "", err
	}
	return header(out.Headers, "x-fc-request-id"), nil
}

func header(h map[string]*string, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return tea.StringValue(v)
		}
	}
	return ""
}

// Tag merges tags into the service's tags; values are encoded to fit FC's
// rules, so an empty or long message or one with URLs is recorded too.
func (b *Backend) Tag(ctx context.Context, name string, tags map[string]string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return mapError("TagResource", b.tag(name, tags))
}

func toTea(m map[string]string) map[string]*string {
	out := make(map[string]*string, len(m))
	for k, v := range m {
		out[k] = tea.String(v)
	}
	return out
}

func fromTea(m map[string]*string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = tea.StringValue(v)
	}
	return out
}
