package azure

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/appservice/armappservice/v4"
	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	"github.com/virtual-kubelet/virtual-kubelet/log"
	"golang.org/x/time/rate"

	"github.com/faas-kubelet/faas-kubelet/provider"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// Name is the backend's name in the config.
const Name = "azure-functions"

// API is the part of the Web Apps client this backend uses.
type API interface {
	BeginCreateOrUpdate(ctx context.Context, resourceGroupName, name string, site armappservice.Site, options *armappservice.WebAppsClientBeginCreateOrUpdateOptions) (*runtime.Poller[armappservice.WebAppsClientCreateOrUpdateResponse], error)
	Get(ctx context.Context, resourceGroupName, name string, options *armappservice.WebAppsClientGetOptions) (armappservice.WebAppsClientGetResponse, error)
	Delete(ctx context.Context, resourceGroupName, name string, options *armappservice.WebAppsClientDeleteOptions) (armappservice.WebAppsClientDeleteResponse, error)
	NewListByResourceGroupPager(resourceGroupName string, options *armappservice.WebAppsClientListByResourceGroupOptions) *runtime.Pager[armappservice.WebAppsClientListByResourceGroupResponse]
	GetWebSiteContainerLogs(ctx context.Context, resourceGroupName, name string, options *armappservice.WebAppsClientGetWebSiteContainerLogsOptions) (armappservice.WebAppsClientGetWebSiteContainerLogsResponse, error)
	ListHostKeys(ctx context.Context, resourceGroupName, name string, options *armappservice.WebAppsClientListHostKeysOptions) (armappservice.WebAppsClientListHostKeysResponse, error)
	ListApplicationSettings(ctx context.Context, resourceGroupName, name string, options *armappservice.WebAppsClientListApplicationSettingsOptions) (armappservice.WebAppsClientListApplicationSettingsResponse, error)
	UpdateApplicationSettings(ctx context.Context, resourceGroupName, name string, appSettings armappservice.StringDictionary, options *armappservice.WebAppsClientUpdateApplicationSettingsOptions) (armappservice.WebAppsClientUpdateApplicationSettingsResponse, error)
}

// TagsAPI merges tags into a resource (ARM's Tags API at a resource scope).
type TagsAPI interface {
	MergeTags(ctx context.Context, resourceID string, tags map[string]*string) error
}

var _ API = (*armappservice.WebAppsClient)(nil)

// Options configure the backend.
type Options struct {
	// SubscriptionID is the subscription the node shows.
	SubscriptionID string
	ResourceGroup  string
	Location       string
	// ServerFarmID (an App Service plan) or ManagedEnvironmentID (an Azure
	// Container Apps environment) hosts the function apps.
	ServerFarmID         string
	ManagedEnvironmentID string
	// StorageConnection is the AzureWebJobsStorage setting the Functions
	// host needs (a secret: never logged).
	StorageConnection string
	// RegistryUseManagedIdentity pulls images with the app's managed
	// identity instead of registry credentials.
	RegistryUseManagedIdentity bool
	// RegistryServer, RegistryUsername and RegistryPassword are registry
	// credentials from the node's config (never from pods); the password is
	// a secret and never logged.
	RegistryServer, RegistryUsername, RegistryPassword string
	// KuduEndpoint is the apps' SCM site, with {app} for the app's name;
	// default https://{app}.scm.azurewebsites.net. A follow of kubectl logs
	// reads its /api/logstream.
	KuduEndpoint string
	// Credential signs Kudu requests (the same identity as ARM's).
	Credential azcore.TokenCredential
	// HTTPClient carries Kudu and HTTP trigger requests; nil uses
	// http.DefaultClient.
	HTTPClient *http.Client
	// AppEndpoint is where an app's HTTP triggers are reached, with {host}
	// for its default host name and {app} for its name; default
	// https://{host}.
	AppEndpoint string
	// Metrics reads Azure Monitor's metrics of the apps (kubectl top);
	// nil reports no usage.
	Metrics MetricsAPI
	// Now is the clock an invocation's duration is read on (how its end is
	// told); nil is time.Now.
	Now func() time.Time
}

// Pod annotation naming the HTTP-triggered function a run-once pod invokes;
// default the pod's container name.
const AnnotationFunction = "faas-kubelet.io/function"

// tagFunction records on the app which function a run-once pod invokes.
const tagFunction = "faas-kubelet.io/function"

// Backend implements provider.Backend on Azure Functions.
type Backend struct {
	api  API
	tags TagsAPI
	opts Options

	mu sync.Mutex
	// pollers follow the deployments this process started.
	pollers map[string]*deployment
	// retry names the apps whose deployment this process saw fail: their
	// next Deploy puts them again.
	retry map[string]bool
	// hostUp names the apps whose Functions host this process saw answer
	// since their last deployment.
	hostUp map[string]bool
	// usageReads keeps metrics reads within Azure Monitor's quota.
	usageReads *rate.Limiter
	// plans reads the plan's tier, which says which metrics the apps
	// offer; nil when the tags client cannot. planTier caches it.
	plans    PlanAPI
	planTier string
	// listed is what the last listing showed of the node's apps, by name,
	// for adoption from it (see AdoptListed).
	listed map[string]*armappservice.Site
}

var _ provider.Backend = (*Backend)(nil)

// New builds a backend over a Web Apps client and an ARM tags client (see
// NewClients); a tags client that is also a PlanAPI reads the plan's tier
// for Usage.
func New(api API, tags TagsAPI, opts Options) *Backend {
	b := &Backend{api: api, tags: tags, opts: opts, pollers: map[string]*deployment{}, retry: map[string]bool{}, hostUp: map[string]bool{},
		usageReads: rate.NewLimiter(usageReadsPerSecond, 10)}
	b.plans, _ = tags.(PlanAPI)
	return b
}

// deployment is a PUT of an app that this process follows.
type deployment struct {
	poller *runtime.Poller[armappservice.WebAppsClientCreateOrUpdateResponse]
	// serving says the app ran before this update: App Service keeps the
	// running version until the new one is deployed, so the app stays
	// Active meanwhile.
	serving bool
}

// Cloud returns "azure-functions".
func (b *Backend) Cloud() string { return Name }

// Ping lists the first page of the resource group's sites: it proves the
// endpoint answers, the token is accepted and the resource group exists.
func (b *Backend) Ping(ctx context.Context) error {
	_, err := b.api.NewListByResourceGroupPager(b.opts.ResourceGroup, nil).NextPage(ctx)
	return mapError("ListByResourceGroup", err)
}

// syncSettings makes the app's settings (the function's environment) the
// wanted ones: a pod's env changes when a Secret or ConfigMap it reads
// does. The app restarts with them, as Azure does on any settings change;
// it reports whether they changed.
func (b *Backend) syncSettings(ctx context.Context, site *armappservice.Site, want []*armappservice.NameValuePair) (bool, error) {
	name := str(site.Name)
	cur, err := b.api.ListApplicationSettings(ctx, b.opts.ResourceGroup, name, nil)
	if err != nil {
		return false, deployError("ListApplicationSettings", err)
	}
	wanted := map[string]*string{}
	for _, kv := range want {
		wanted[str(kv.Name)] = kv.Value
	}
	if maps.EqualFunc(cur.Properties, wanted, func(a, b *string) bool { return str(a) == str(b) }) {
		return false, nil
	}
	if decodeTags(site.Tags)[translate.SpecDigestKey] != "" {
		// Unsealed first: a restart in the middle must not adopt the app
		// from the listing as either spec.
		if err := b.tags.MergeTags(ctx, str(site.ID), map[string]*string{encodeKey(translate.SpecDigestKey): to.Ptr("")}); err != nil {
			return false, deployError("UpdateTagsAtScope", err)
		}
	}
	if _, err := b.api.UpdateApplicationSettings(ctx, b.opts.ResourceGroup, name, armappservice.StringDictionary{Properties: wanted}, nil); err != nil {
		return false, deployError("UpdateApplicationSettings", err)
	}
	log.G(ctx).WithField("settings", len(wanted)).Info("function app settings updated")
	return true, nil
}

// Account pings as Ping does and names the subscription. The Web Apps API
// reports no subscription-wide quota for function apps, so the node shows
// the subscription and no quota.
func (b *Backend) Account(ctx context.Context) (*translate.Account, error) {
	if err := b.Ping(ctx); err != nil {
		return nil, err
	}
	return &translate.Account{ID: b.opts.SubscriptionID, Service: "Azure Functions", Runtime: "azure-functions://" + functionsVersion}, nil
}

// Deploy creates the function app, or adopts the one a retried create or a
// restart finds: it updates the app when the pod's image changed, puts it
// again when its last deployment failed (a refusal the kubelet retries with
// backoff), and otherwise brings its settings up to date. An app that
// serves stays Active while it is updated, as App Service keeps the running
// version until the new one is deployed; Notes say an update is rolling in,
// and which of the pod's labels do not fit in Azure's tags (see tagsFor).
func (b *Backend) Deploy(ctx context.Context, fn *translate.Function) (*translate.FunctionState, error) {
	st, err := b.deploy(ctx, fn)
	if st != nil {
		st.Notes = append(tagNotes(fn), st.Notes...)
	}
	return st, err
}

func (b *Backend) deploy(ctx context.Context, fn *translate.Function) (*translate.FunctionState, error) {
	b.takeListed(fn.Name) // this process now knows better than the listing
	site, err := siteFor(fn, &b.opts)
	if err != nil {
		return nil, err
	}
	image := *site.Properties.SiteConfig.LinuxFxVersion
	serving := false
	cur, err := b.api.Get(ctx, b.opts.ResourceGroup, fn.Name, nil)
	if errdefs.IsNotFound(mapError("Get", err)) {
		// A new app's tags carry its spec's digest (AdoptListed): the app
		// is whole once its pod has run. An update's PUT replaces the
		// tags without it.
		if d := b.specDigest(site); d != "" {
			site.Tags[encodeKey(translate.SpecDigestKey)] = to.Ptr(d)
		}
	}
	switch {
	case err == nil:
		tags := decodeTags(cur.Tags)
		if uid := tags[translate.TagPodUID]; uid != fn.Tags[translate.TagPodUID] {
			return nil, provider.Refused(provider.ReasonCreateError,
				fmt.Errorf("function app %s exists but belongs to pod UID %q, not %q", fn.Name, uid, fn.Tags[translate.TagPodUID]))
		}
		st := b.observe(ctx, &cur.Site)
		st.Tags = tags
		b.mu.Lock()
		retry := b.retry[fn.Name]
		delete(b.retry, fn.Name)
		b.mu.Unlock()
		serving = st.Phase == translate.PhaseActive
		if linuxFx(&cur.Site) == image && st.Phase != translate.PhaseFailed && !retry {
			changed, err := b.syncSettings(ctx, &cur.Site, site.Properties.SiteConfig.AppSettings)
			if err != nil {
				return nil, err
			}
			if changed {
				st.Notes = append(st.Notes, fmt.Sprintf("function app %s: application settings updated; the app restarts with them", fn.Name))
			} else if d := b.specDigest(site); d != "" && tags[translate.SpecDigestKey] != d {
				st.Unsealed = st.Phase == translate.PhaseActive
			}
			return st, nil
		}
	case !errdefs.IsNotFound(mapError("Get", err)):
		return nil, deployError("Get", err)
	}
	poller, err := b.api.BeginCreateOrUpdate(ctx, b.opts.ResourceGroup, fn.Name, site, nil)
	if err != nil {
		return nil, deployError("CreateOrUpdate", err)
	}
	if !serving {
		b.mu.Lock()
		delete(b.hostUp, fn.Name)
		b.mu.Unlock()
	}
	if poller.Done() {
		// The RP finished within the PUT (200 with a terminal
		// provisioningState): its answer is the app, nothing to poll.
		res, err := poller.Result(ctx)
		if err != nil {
			return nil, deployError("CreateOrUpdate", err)
		}
		st := b.observe(ctx, &res.Site)
		st.Name, st.Tags = fn.Name, decodeTags(res.Tags)
		return st, nil
	}
	b.mu.Lock()
	b.pollers[fn.Name] = &deployment{poller: poller, serving: serving}
	b.mu.Unlock()
	tags, _ := tagsFor(fn)
	if serving {
		return &translate.FunctionState{Name: fn.Name, Phase: translate.PhaseActive, ImageID: linuxFx(&cur.Site), Tags: tags,
			Notes: []string{fmt.Sprintf("function app %s is being updated to %s; the running version serves until it is deployed", fn.Name, image)}}, nil
	}
	return &translate.FunctionState{Name: fn.Name, Phase: translate.PhasePending, Message: "the function app is being deployed", Tags: tags}, nil
}

// Get reads the app: while this process follows its deployment, the
// operation's outcome decides (Pending, or Active while an update of a
// serving app deploys, or Failed with ARM's error); after that, the site's
// state (Running is Active; an app stopped because its image could not be
// pulled is Failed).
func (b *Backend) Get(ctx context.Context, name string) (*translate.FunctionState, error) {
	b.mu.Lock()
	d := b.pollers[name]
	b.mu.Unlock()
	if d != nil {
		if _, err := d.poller.Poll(ctx); err != nil {
			return nil, mapError("CreateOrUpdate", err)
		}
		if !d.poller.Done() {
			if d.serving {
				return &translate.FunctionState{Name: name, Phase: translate.PhaseActive, Message: "an update of the function app is being deployed"}, nil
			}
			return &translate.FunctionState{Name: name, Phase: translate.PhasePending, Message: "the function app is being deployed"}, nil
		}
		b.mu.Lock()
		delete(b.pollers, name)
		b.mu.Unlock()
		res, err := d.poller.Result(ctx)
		if err != nil {
			return b.failed(name, deployError("CreateOrUpdate", err)), nil
		}
		// The poller read the app when the deployment finished: no
		// second read.
		st := b.observe(ctx, &res.Site)
		st.Name, st.Tags = name, decodeTags(res.Tags)
		return st, nil
	}
	out, err := b.api.Get(ctx, b.opts.ResourceGroup, name, nil)
	if err != nil {
		return nil, mapError("Get", err)
	}
	st := b.observe(ctx, &out.Site)
	st.Tags = decodeTags(out.Tags)
	return st, nil
}

// failed is the state of an app whose deployment failed with err (a
// refusal); its next Deploy puts it again.
func (b *Backend) failed(name string, err error) *translate.FunctionState {
	_, reason := provider.Classify(err)
	b.mu.Lock()
	b.retry[name] = true
	b.mu.Unlock()
	return &translate.FunctionState{Name: name, Phase: translate.PhaseFailed, Reason: reason, Message: err.Error()}
}

// observe is the app's state as stateOf reads it from the site, except that
// a stopped app that no deployment of this process follows has its docker
// log read (one call): an app whose image could not be pulled is Failed
// with provider.ReasonImageError and the Docker API's answer, which Azure
// shows nowhere else; and a running app is Active only once its Functions
// host answers (see hostReady).
func (b *Backend) observe(ctx context.Context, s *armappservice.Site) *translate.FunctionState {
	st := b.stateOf(ctx, s)
	b.mu.Lock()
	_, deploying := b.pollers[st.Name]
	up := b.hostUp[st.Name]
	b.mu.Unlock()
	if st.Phase == translate.PhaseActive && !up {
		b.hostReady(ctx, st)
		return st
	}
	if st.Phase != translate.PhasePending || deploying || s.Properties == nil || str(s.Properties.State) != "Stopped" {
		return st
	}
	lines, err := b.containerLog(ctx, st.Name)
	if err != nil {
		log.G(ctx).WithError(err).Debug("reading the docker log of a stopped function app")
		return st
	}
	if failure := imagePullFailure(lines); failure != "" {
		st.Phase, st.Reason, st.Message = translate.PhaseFailed, provider.ReasonImageError, "the image could not be pulled: "+failure
	}
	return st
}

// hostReady asks the app's Functions host for its keys (one call, until it
// answers once): a site is Running as soon as its container runs, but its
// host answers only once it started, and until then listkeys answers 400
// "Encountered an error (ServiceUnavailable) from host runtime." A host
// that does not answer yet leaves the function Pending with
// provider.ReasonNotReady, so that the core reads it again with backoff
// and runs no Job before its host does. Any other answer leaves it Active:
// the host's keys are not what the pod waits for.
func (b *Backend) hostReady(ctx context.Context, st *translate.FunctionState) {
	_, err := b.api.ListHostKeys(ctx, b.opts.ResourceGroup, st.Name, nil)
	switch {
	case err == nil:
		b.mu.Lock()
		b.hostUp[st.Name] = true
		b.mu.Unlock()
	case hostNotUp(err):
		st.Phase, st.Reason = translate.PhasePending, provider.ReasonNotReady
		st.Message = "the function app runs but its Functions host does not answer yet: " + hostKeysError(err).Error()
	default:
		log.G(ctx).WithError(err).Debug("reading the host keys of a running function app")
	}
}

// hostNotUp says the Web Apps RP relayed a failure of the app's Functions
// host (Azure/azure-cli#20892): the host has not started, or stopped.
func hostNotUp(err error) bool {
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusBadRequest {
		return false
	}
	_, msg := armError(re)
	return strings.Contains(msg, "from host runtime")
}

// hostKeysError maps an error of ListHostKeys: a host that does not answer
// yet is transient, and nothing ran, so an invocation may be repeated.
func hostKeysError(err error) error {
	if hostNotUp(err) {
		var re *azcore.ResponseError
		errors.As(err, &re)
		_, msg := armError(re)
		var h http.Header
		if re.RawResponse != nil {
			h = re.RawResponse.Header
		}
		return provider.Transient(&cloudError{msg: fmt.Sprintf("azure ListHostKeys: the Functions host does not answer yet: %s (HTTP %d)", msg, re.StatusCode), err: err},
			retryAfter(h), true)
	}
	return mapError("ListHostKeys", err)
}

func (b *Backend) stateOf(_ context.Context, s *armappservice.Site) *translate.FunctionState {
	st := &translate.FunctionState{Name: str(s.Name), Phase: translate.PhasePending, ImageID: linuxFx(s)}
	b.mu.Lock()
	d := b.pollers[st.Name]
	b.mu.Unlock()
	if s.Properties != nil && s.Properties.State != nil && *s.Properties.State == "Running" && (d == nil || d.serving) {
		st.Phase = translate.PhaseActive
	}
	if s.Properties != nil && s.Properties.LastModifiedTimeUTC != nil {
		st.Created = *s.Properties.LastModifiedTimeUTC
	}
	return st
}

// deleteOptions keep the App Service plan when the app deleted was its
// last one: the Web Apps API deletes an empty plan by default
// (WebAppsClientDeleteOptions), and the plan is the node's configuration,
// which every later pod's app needs. The app's Azure Monitor metrics are
// kept (DeleteMetrics false): they age out with Azure Monitor's retention
// and are, once the pod is gone, the only record of what it used; no
// later app reuses them, since app names carry the pod's UID.
var deleteOptions = &armappservice.WebAppsClientDeleteOptions{DeleteEmptyServerFarm: to.Ptr(false), DeleteMetrics: to.Ptr(false)}

// Delete deletes the app and keeps its plan; one already gone counts as
// deleted.
func (b *Backend) Delete(ctx context.Context, name string) error {
	b.mu.Lock()
	delete(b.pollers, name)
	delete(b.retry, name)
	delete(b.hostUp, name)
	b.mu.Unlock()
	_, err := b.api.Delete(ctx, b.opts.ResourceGroup, name, deleteOptions)
	if err = mapError("Delete", err); errdefs.IsNotFound(err) {
		return nil
	}
	return err
}

// List pages the resource group's sites and keeps this node's; what it
// shows of them (tags and state) is kept for AdoptListed.
func (b *Backend) List(ctx context.Context, node string) ([]translate.FunctionState, error) {
	var out []translate.FunctionState
	kept := map[string]*armappservice.Site{}
	pager := b.api.NewListByResourceGroupPager(b.opts.ResourceGroup, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, mapError("ListByResourceGroup", err)
		}
		for _, s := range page.Value {
			tags := decodeTags(s.Tags)
			if tags[translate.TagNode] != node {
				continue
			}
			st := b.stateOf(ctx, s)
			st.Tags = tags
			out = append(out, *st)
			kept[st.Name] = s
		}
	}
	b.mu.Lock()
	b.listed = kept
	b.mu.Unlock()
	return out, nil
}

// Invoke calls the app's HTTP-triggered function (named on the app at
// deploy) with its function key: a 2xx answer is the output, any other
// status a function error with the body as message, whose End says how it
// ended (see invocationEnd).
func (b *Backend) Invoke(ctx context.Context, name string, payload []byte) (*translate.Invocation, error) {
	var sent time.Time
	resp, err := b.callApp(ctx, name, http.MethodPost, func(fn string) string { return "/api/" + fn }, bytes.NewReader(payload), nil, &sent)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 6<<20))
	if err != nil {
		return nil, err
	}
	took := b.now().Sub(sent)
	inv := &translate.Invocation{Output: out, RequestID: resp.Header.Get("x-ms-request-id")}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		inv.FunctionError = fmt.Sprintf("HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(out)))
		inv.End = b.invocationEnd(ctx, name, resp.StatusCode, took)
	}
	return inv, nil
}

// InvokeAsync is not supported: the apps' functions are HTTP-triggered,
// and an HTTP trigger answers only the request that runs it. The Functions
// host's admin API (POST /admin/functions/<function>) runs non-HTTP
// triggers only ("Manually run a non HTTP-triggered function"): for an
// HTTP trigger it answers 202 and the run fails without a request, so an
// id returned for it would name a run that never happened.
func (b *Backend) InvokeAsync(context.Context, string, []byte) (string, error) {
	return "", provider.NotSupportedf("kubectl exec ... invoke --async: Azure's HTTP-triggered functions run only synchronously " +
		"(the Functions host's admin API runs non-HTTP triggers only); use invoke without --async")
}

// HTTP sends req to the function app itself, at its default host name
// with the request's path (the function's HTTP trigger is /api/<function>
// unless the app routes otherwise), with the function key.
func (b *Backend) HTTP(ctx context.Context, name string, req *http.Request) (*http.Response, error) {
	return b.callApp(ctx, name, req.Method, func(string) string { return req.URL.RequestURI() }, req.Body, provider.ForwardedHeader(req.Header), nil)
}

// callApp sends a request to the app with the function key; path names
// the URL path given the app's function. A non-nil sent gets the time the
// request was sent, after the ARM calls that find the app.
func (b *Backend) callApp(ctx context.Context, name, method string, path func(fn string) string, body io.Reader, header http.Header, sent *time.Time) (*http.Response, error) {
	site, err := b.api.Get(ctx, b.opts.ResourceGroup, name, nil)
	if err != nil {
		return nil, mapError("Get", err)
	}
	keys, err := b.api.ListHostKeys(ctx, b.opts.ResourceGroup, name, nil)
	if err != nil {
		return nil, hostKeysError(err)
	}
	fn := decodeTags(site.Tags)[tagFunction]
	host := ""
	if site.Properties != nil {
		host = str(site.Properties.DefaultHostName)
	}
	base := b.opts.AppEndpoint
	if base == "" {
		base = "https://{host}"
	}
	url := strings.NewReplacer("{host}", host, "{app}", name).Replace(base) + path(fn)
	key := str(keys.FunctionKeys["default"])
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return nil, err
	}
	maps.Copy(req.Header, header)
	if req.Header.Get("Content-Type") == "" && method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("x-functions-key", key)
	client := b.opts.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	if sent != nil {
		*sent = b.now()
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("calling function app %s: %w", name, err)
	}
	return resp, nil
}

// Tag merges tags into the app's tags through ARM's Tags API.
func (b *Backend) Tag(ctx context.Context, name string, tags map[string]string) error {
	site, err := b.api.Get(ctx, b.opts.ResourceGroup, name, nil)
	if err != nil {
		return mapError("Get", err)
	}
	return mapError("UpdateTagsAtScope", b.tags.MergeTags(ctx, str(site.ID), encodeTags(tags)))
}

func linuxFx(s *armappservice.Site) string {
	if s.Properties == nil || s.Properties.SiteConfig == nil {
		return ""
	}
	return str(s.Properties.SiteConfig.LinuxFxVersion)
}

// mapError turns SDK errors into errdefs at the edge, for every call but
// Deploy's (see deployError): a 400 is the request's fault there (a
// kubelet API request's parameters).
func mapError(op string, err error) error {
	if err == nil {
		return nil
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		wrapped := fmt.Errorf("azure %s: %s (HTTP %d)", op, re.ErrorCode, re.StatusCode)
		switch {
		case re.StatusCode == http.StatusNotFound:
			return errdefs.AsNotFound(wrapped)
		case re.StatusCode == http.StatusBadRequest:
			return errdefs.AsInvalidInput(fmt.Errorf("azure %s refused the function app: %s: %w", op, re.ErrorCode, err))
		case re.StatusCode == http.StatusTooManyRequests || re.StatusCode >= 500:
			var h http.Header
			if re.RawResponse != nil {
				h = re.RawResponse.Header
			}
			return provider.Transient(fmt.Errorf("%w: %w", wrapped, err), retryAfter(h), re.StatusCode == http.StatusTooManyRequests)
		}
		return fmt.Errorf("%w: %w", wrapped, err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("azure %s: %w", op, err)
	}
	return provider.Transient(fmt.Errorf("azure %s: %w", op, err), 0, false) // no answer
}

// retryAfter reads ARM's retry-after-ms (or x-ms-retry-after-ms) and
// Retry-After (seconds) headers.
func retryAfter(h http.Header) time.Duration {
	for _, k := range []string{"retry-after-ms", "x-ms-retry-after-ms"} {
		if n, err := strconv.Atoi(h.Get(k)); err == nil {
			return time.Duration(n) * time.Millisecond
		}
	}
	if n, err := strconv.Atoi(h.Get("Retry-After")); err == nil {
		return time.Duration(n) * time.Second
	}
	return 0
}
