package azure

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/faas-kubelet/faas-kubelet/pkg/emulator/faults"
)

// Defaults for a local emulator.
const (
	DefaultSubscription = "00000000-0000-0000-0000-00000000f00d"
	DefaultToken        = "faas-kubelet-local-token"
	DefaultLocation     = "westeurope"
	APIVersion          = "2024-04-01"
	// DefaultFrontEndTimeout is the longest an HTTP trigger may take to
	// answer, whatever the function timeout.
	DefaultFrontEndTimeout = 230 * time.Second
)

// Options configure the emulator.
type Options struct {
	Subscription string
	// Token is the bearer token requests must carry.
	Token string
	// ProvisionDelay is how long a create or update operation runs.
	ProvisionDelay time.Duration
	// PageSize is how many sites a list page holds.
	PageSize int
	// HostStartDelay is how long an app's Functions host takes to answer
	// once its container runs (after each deployment and settings change):
	// until then the site is Running, listkeys answers 400 "Encountered an
	// error (ServiceUnavailable) from host runtime." and triggers 503.
	HostStartDelay time.Duration
	// FrontEndTimeout is how long App Service's front end waits for an
	// HTTP trigger to answer before it answers 502 itself (default
	// DefaultFrontEndTimeout, Azure's 230 seconds; tests shorten it).
	FrontEndTimeout time.Duration
	// PlanSKU is the SKU of every plan not PUT with one (default
	// DefaultPlanSKU, Consumption Y1); its tier decides which Azure
	// Monitor metrics the plan's apps offer.
	PlanSKU SKU
	// Latency is added to every request.
	Latency time.Duration
	Now     func() time.Time
	// Sleep is how a trigger call's {"sleepMs": N} passes N ms; nil
	// sleeps for real, at most 30 s. Tests set it to step their clock, so
	// that a run past a timeout ends there without waiting.
	Sleep func(time.Duration)
}

// Server is the emulator; it is an http.Handler.
type Server struct {
	opts Options
	mux  *http.ServeMux

	mu    sync.Mutex
	sites map[string]*site // key: resourceGroup/name (lower case)
	// deletedPlans are the App Service plans (serverFarm IDs, lower case)
	// deleted since the emulator started; every other plan exists.
	deletedPlans map[string]bool
	// planSKUs are the SKUs of the plans PUT (serverFarm IDs, lower case);
	// every other plan has Options.PlanSKU.
	planSKUs map[string]SKU
	ops      map[string]*operation
	refusals faults.RefusalBook

	*faults.Injector
}

// Fault is an error injected into the next calls of an operation; its Code
// is ARM's error code, derived from Status when empty.
type Fault = faults.Fault

type site struct {
	ResourceGroup string
	Body          map[string]any // the site as PUT, with read-only fields filled
	Settings      map[string]string
	Logs          []string
	readyAt       time.Time
	failed        *armError
	// pullError is the Docker API's answer to the last pull of the image,
	// "" when it was pulled.
	pullError string
	// serving says the previous deployment runs until readyAt, as App
	// Service keeps an app's running version while an update deploys.
	serving bool
	// executions feed Azure Monitor's metrics of the app.
	executions []execution
	// hostUpAt is when the Functions host answers, after the container
	// started (a deployment) or restarted (a settings change).
	hostUpAt time.Time
	// collided says the host shut down on a host ID collision (and logged
	// it).
	collided bool
}

// execution is one run of a function, as Azure Monitor counts it.
type execution struct {
	at  time.Time
	cpu time.Duration
}

type operation struct {
	doneAt time.Time
	err    *armError
}

type armError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	// rp: the Web Apps RP's own shape (see rpError).
	rp bool
}

func (e *armError) Error() string { return e.Code + ": " + e.Message }

// New returns an emulator with no sites.
func New(opts Options) *Server {
	if opts.Subscription == "" {
		opts.Subscription = DefaultSubscription
	}
	if opts.Token == "" {
		opts.Token = DefaultToken
	}
	if opts.PageSize == 0 {
		opts.PageSize = 20
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.PlanSKU.Tier == "" {
		opts.PlanSKU = DefaultPlanSKU
	}
	if opts.FrontEndTimeout <= 0 {
		opts.FrontEndTimeout = DefaultFrontEndTimeout
	}
	s := &Server{opts: opts, sites: map[string]*site{}, ops: map[string]*operation{}, deletedPlans: map[string]bool{}, planSKUs: map[string]SKU{}, Injector: faults.New()}
	m := http.NewServeMux()
	const sites = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Web/sites"
	m.HandleFunc("PUT "+sites+"/{name}", s.wrap("CreateOrUpdate", s.putSite))
	m.HandleFunc("GET "+sites+"/{name}", s.wrap("Get", s.getSite))
	m.HandleFunc("DELETE "+sites+"/{name}", s.wrap("Delete", s.deleteSite))
	m.HandleFunc("GET "+sites, s.wrap("ListByResourceGroup", s.listSites))
	m.HandleFunc("POST "+sites+"/{name}/config/appsettings/list", s.wrap("ListApplicationSettings", s.listSettings))
	m.HandleFunc("PUT "+sites+"/{name}/config/appsettings", s.wrap("UpdateApplicationSettings", s.putSettings))
	m.HandleFunc("POST "+sites+"/{name}/containerlogs", s.wrap("GetWebSiteContainerLogs", s.containerLogs))
	m.HandleFunc("GET /subscriptions/{sub}/providers/Microsoft.Web/locations/{loc}/operations/{id}", s.wrap("GetOperation", s.getOperation))
	m.HandleFunc("GET /subscriptions/{sub}/resourceGroups/{rg}", s.wrap("GetResourceGroup", s.getResourceGroup))
	const plans = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Web/serverfarms/{plan}"
	m.HandleFunc("GET "+plans, s.wrap("GetPlan", s.getPlan))
	m.HandleFunc("PUT "+plans, s.wrap("CreateOrUpdatePlan", s.putPlan))
	m.HandleFunc("POST "+sites+"/{name}/host/default/listkeys", s.wrap("ListHostKeys", s.listHostKeys))
	m.HandleFunc("PATCH "+sites+"/{name}/providers/Microsoft.Resources/tags/default", s.wrap("UpdateTagsAtScope", s.patchTags))
	m.HandleFunc("GET "+sites+"/{name}/providers/Microsoft.Insights/metrics", s.wrap("ListMetrics", s.listMetrics))
	m.HandleFunc("GET /_kudu/{name}/api/logstream", s.logStream)
	s.refusals.Serve(m)
	m.HandleFunc("/_apps/{name}/api/{function}", s.invokeApp)
	m.HandleFunc("POST /_apps/{name}/admin/functions/{function}", s.invokeAdmin)
	s.Register(m)
	s.mux = m
	return s
}

// ServeHTTP serves the ARM API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// AppendLog adds a line to an app's container log.
func (s *Server) AppendLog(resourceGroup, name, line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.sites[key(resourceGroup, name)]; ok {
		st.Logs = append(st.Logs, s.opts.Now().UTC().Format(time.RFC3339Nano)+" "+line)
	}
}

func key(rg, name string) string { return strings.ToLower(rg + "/" + name) }

// siteOf is the site a request's path names, or ARM's 404; s.mu is held.
func (s *Server) siteOf(r *http.Request) (*site, error) {
	st, ok := s.sites[key(r.PathValue("rg"), r.PathValue("name"))]
	if !ok {
		return nil, notFound(r.PathValue("rg"), r.PathValue("name"))
	}
	return st, nil
}

// siteNamed finds a site by name in any resource group (site names are
// global, as the app and Kudu host names built from them); s.mu is held.
func (s *Server) siteNamed(name string) *site {
	for _, st := range s.sites {
		if strings.EqualFold(st.Body["name"].(string), name) {
			return st
		}
	}
	return nil
}

type handler func(w http.ResponseWriter, r *http.Request) error

func (s *Server) wrap(op string, h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c := s.Begin(op, w, r) // the ledger and holds
		defer c.End()
		w = c.W
		f, faulty := c.Fault()
		if s.opts.Latency > 0 {
			time.Sleep(s.opts.Latency)
		}
		if r.Header.Get("Authorization") != "Bearer "+s.opts.Token {
			writeError(w, &armError{Status: http.StatusUnauthorized, Code: "InvalidAuthenticationToken", Message: "The access token is invalid."})
			return
		}
		if r.URL.Query().Get("api-version") == "" {
			writeError(w, &armError{Status: http.StatusBadRequest, Code: "MissingApiVersionParameter", Message: "The api-version query parameter (?api-version=) is required for all requests."})
			return
		}
		if !strings.EqualFold(r.PathValue("sub"), s.opts.Subscription) {
			writeError(w, &armError{Status: http.StatusNotFound, Code: "SubscriptionNotFound", Message: fmt.Sprintf("The subscription '%s' could not be found.", r.PathValue("sub"))})
			return
		}
		if faulty {
			code := f.Code
			if code == "" {
				code = map[bool]string{true: "TooManyRequests", false: "InternalServerError"}[f.Status == http.StatusTooManyRequests]
			}
			if f.After {
				_ = h(c.Discard(), r) // done, but the answer is lost
			}
			if f.RetryAfter > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
			}
			writeError(w, &armError{Status: f.Status, Code: code, Message: "injected fault for " + op})
			return
		}
		if err := h(w, r); err != nil {
			writeError(w, err)
		}
	}
}

func writeError(w http.ResponseWriter, err error) {
	ae, ok := err.(*armError)
	if !ok {
		ae = &armError{Status: http.StatusInternalServerError, Code: "InternalServerError", Message: err.Error()}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if ae.rp {
		w.WriteHeader(ae.Status)
		_, _ = w.Write(ae.rpBody())
		return
	}
	w.Header().Set("x-ms-error-code", ae.Code)
	w.WriteHeader(ae.Status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": ae})
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

// maxTags is ARM's limit of tags on a resource.
const maxTags = 50

func tooManyTags(n int) *armError {
	return &armError{Status: http.StatusBadRequest, Code: "BadRequest",
		Message: fmt.Sprintf("The resource would have %d tags; a resource can have at most %d tag name-value pairs.", n, maxTags)}
}

func notFound(rg, name string) *armError {
	return &armError{Status: http.StatusNotFound, Code: "ResourceNotFound",
		Message: fmt.Sprintf("The Resource 'Microsoft.Web/sites/%s' under resource group '%s' was not found.", name, rg)}
}

func (s *Server) siteID(rg, name string) string {
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Web/sites/%s", s.opts.Subscription, rg, name)
}

// view is the site as GET returns it now.
func (s *Server) view(st *site) map[string]any {
	out := map[string]any{}
	for k, v := range st.Body {
		out[k] = v
	}
	props, _ := out["properties"].(map[string]any)
	cp := map[string]any{}
	for k, v := range props {
		cp[k] = v
	}
	state := "Running"
	if !s.running(st) {
		state = "Stopped"
	}
	s.hostDown(st) // a collision shows in the app's log, not in its state
	cp["state"] = state
	out["properties"] = cp
	return out
}

// running says the site serves: its deployment is done and its image
// pulled, or, while an update deploys, the previous one served.
func (s *Server) running(st *site) bool {
	if s.opts.Now().Before(st.readyAt) {
		return st.serving
	}
	return st.failed == nil && st.pullError == ""
}

func (s *Server) getResourceGroup(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, map[string]any{"id": "/subscriptions/" + s.opts.Subscription + "/resourceGroups/" + r.PathValue("rg"),
		"name": r.PathValue("rg"), "location": DefaultLocation, "properties": map[string]string{"provisioningState": "Succeeded"}})
}

func (s *Server) putSite(w http.ResponseWriter, r *http.Request) error {
	rg, name := r.PathValue("rg"), r.PathValue("name")
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		return &armError{Status: http.StatusBadRequest, Code: "InvalidRequestContent", Message: "The request content was invalid and could not be deserialized: " + err.Error()}
	}
	if err := validateSite(name, body); err != nil {
		return err
	}
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	props := body["properties"].(map[string]any)
	props["defaultHostName"] = strings.ToLower(name) + ".azurewebsites.net"
	props["enabled"] = true
	props["hostNames"] = []string{strings.ToLower(name) + ".azurewebsites.net"}
	body["id"], body["name"], body["type"] = s.siteID(rg, name), name, "Microsoft.Web/sites"
	k := key(rg, name)
	st, exists := s.sites[k]
	if err := s.refuse(rg, name, body, exists); err != nil {
		return err
	}
	if !exists {
		faults.Note(r.Context(), "created") // the ledger tells a create from an update
		st = &site{ResourceGroup: rg, Settings: map[string]string{}}
		s.sites[k] = st
	}
	st.serving = exists && s.running(st)
	st.Body = body
	st.Settings = appSettings(props)
	st.readyAt = now.Add(s.opts.ProvisionDelay)
	st.hostUpAt = st.readyAt.Add(s.opts.HostStartDelay)
	if st.serving {
		// App Service swaps in the new container once it started.
		st.hostUpAt = st.readyAt
	}
	st.failed = nil
	image := linuxFx(props)
	if strings.HasSuffix(image, ":fail-create") {
		st.failed = &armError{Code: "ImagePullFailure", Message: "Image pull failed for " + image + " (emulated failure for tag fail-create)"}
	}
	stamp := now.UTC().Format(time.RFC3339Nano) + " "
	st.Logs = append(st.Logs, stamp+"Site "+name+" deployed: "+image, stamp+"INFO  - Pulling image: "+image)
	st.pullError = s.pullFailure(image, st.Settings)
	if st.pullError != "" {
		for _, l := range pullLog(name, st.pullError) {
			st.Logs = append(st.Logs, stamp+l)
		}
	}
	if s.opts.ProvisionDelay <= 0 && st.failed == nil {
		// Done within the request: the Web Apps RP answers 200 with the
		// site, whose provisioningState is terminal, and nothing to poll.
		out := s.view(st)
		out["properties"].(map[string]any)["provisioningState"] = "Succeeded"
		return writeJSON(w, http.StatusOK, out)
	}
	id := fmt.Sprintf("%d", len(s.ops)+1)
	s.ops[id] = &operation{doneAt: st.readyAt, err: st.failed}
	loc, _ := body["location"].(string)
	opURL := fmt.Sprintf("%s://%s/subscriptions/%s/providers/Microsoft.Web/locations/%s/operations/%s?api-version=%s",
		scheme(r), r.Host, s.opts.Subscription, strings.ReplaceAll(strings.ToLower(loc), " ", ""), id, APIVersion)
	w.Header().Set("Azure-AsyncOperation", opURL)
	w.Header().Set("Retry-After", "1")
	w.Header().Set("retry-after-ms", "250")
	return writeJSON(w, http.StatusAccepted, s.view(st))
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

func linuxFx(props map[string]any) string {
	sc, _ := props["siteConfig"].(map[string]any)
	fx, _ := sc["linuxFxVersion"].(string)
	return strings.TrimPrefix(fx, "DOCKER|")
}

func appSettings(props map[string]any) map[string]string {
	out := map[string]string{}
	sc, _ := props["siteConfig"].(map[string]any)
	list, _ := sc["appSettings"].([]any)
	for _, item := range list {
		kv, _ := item.(map[string]any)
		n, _ := kv["name"].(string)
		v, _ := kv["value"].(string)
		if n != "" {
			out[n] = v
		}
	}
	return out
}

func validateSite(name string, body map[string]any) error {
	bad := func(msg string) error {
		return &armError{Status: http.StatusBadRequest, Code: "BadRequest", Message: msg}
	}
	if len(name) < 2 || len(name) > 60 || strings.Trim(name, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" || strings.HasPrefix(name, "-") || strings.HasSuffix(name, "-") {
		return bad(fmt.Sprintf("The site name '%s' is invalid: use 2-60 lowercase letters, digits and hyphens.", name))
	}
	if tags, _ := body["tags"].(map[string]any); len(tags) > maxTags {
		return tooManyTags(len(tags))
	}
	if loc, _ := body["location"].(string); loc == "" {
		return &armError{Status: http.StatusBadRequest, Code: "LocationRequired", Message: "The location property is required for this definition."}
	}
	props, ok := body["properties"].(map[string]any)
	if !ok {
		return bad("The parameter properties has an invalid value.")
	}
	farm, _ := props["serverFarmId"].(string)
	env, _ := props["managedEnvironmentId"].(string)
	if farm == "" && env == "" {
		return bad("The parameter ServerFarmId (or managedEnvironmentId) has an invalid value.")
	}
	if farm != "" && !(strings.HasPrefix(farm, "/subscriptions/") && strings.Contains(strings.ToLower(farm), "/providers/microsoft.web/serverfarms/")) {
		return &armError{Status: http.StatusNotFound, Code: "NotFound", Message: fmt.Sprintf("Cannot find ServerFarm with name %s.", farm)}
	}
	if env != "" && !(strings.HasPrefix(env, "/subscriptions/") && strings.Contains(strings.ToLower(env), "/providers/microsoft.app/managedenvironments/")) {
		return &armError{Status: http.StatusNotFound, Code: "NotFound", Message: fmt.Sprintf("Cannot find managed environment %s.", env)}
	}
	if fx := linuxFx(props); fx == "" {
		return bad("The parameter LinuxFxVersion has an invalid value.")
	}
	return nil
}

func (s *Server) getSite(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.siteOf(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.view(st))
}

// deleteSite deletes the site and, unless deleteEmptyServerFarm=false, its
// App Service plan when no other site is left on it, as the Web Apps RP
// does by default.
func (s *Server) deleteSite(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	keepPlan := false
	for _, p := range []string{"deleteEmptyServerFarm", "deleteMetrics"} {
		v := q.Get(p)
		if v != "" && v != "true" && v != "false" {
			return &armError{Status: http.StatusBadRequest, Code: "BadRequest", Message: fmt.Sprintf("The value '%s' is not valid for %s.", v, p)}
		}
		keepPlan = keepPlan || p == "deleteEmptyServerFarm" && v == "false"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := key(r.PathValue("rg"), r.PathValue("name"))
	st, ok := s.sites[k]
	if !ok {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	delete(s.sites, k)
	if farm := serverFarm(st.Body); farm != "" && !keepPlan && !s.planUsed(farm) {
		s.deletedPlans[strings.ToLower(farm)] = true
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// serverFarm is the plan a site body names, "" on a Container Apps
// environment.
func serverFarm(body map[string]any) string {
	props, _ := body["properties"].(map[string]any)
	farm, _ := props["serverFarmId"].(string)
	return farm
}

// planUsed says whether a site is on the plan; s.mu is held.
func (s *Server) planUsed(farm string) bool {
	for _, st := range s.sites {
		if strings.EqualFold(serverFarm(st.Body), farm) {
			return true
		}
	}
	return false
}

// PlanExists says whether the App Service plan (a serverFarm ID) exists:
// every plan does until it is deleted.
func (s *Server) PlanExists(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.deletedPlans[strings.ToLower(id)]
}

func (s *Server) planID(r *http.Request) string {
	return fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Web/serverfarms/%s", s.opts.Subscription, r.PathValue("rg"), r.PathValue("plan"))
}

// planBody is the plan as GET answers it; s.mu is held.
func (s *Server) planBody(r *http.Request, sites int) map[string]any {
	sku := s.planSKU(s.planID(r))
	return map[string]any{"id": s.planID(r), "name": r.PathValue("plan"), "type": "Microsoft.Web/serverfarms", "location": DefaultLocation,
		"kind": "linux", "sku": map[string]string{"name": sku.Name, "tier": sku.Tier},
		"properties": map[string]any{"numberOfSites": sites, "reserved": true, "provisioningState": "Succeeded"}}
}

// planSKU is the SKU of a plan (a serverFarm ID); s.mu is held.
func (s *Server) planSKU(id string) SKU {
	if sku, ok := s.planSKUs[strings.ToLower(id)]; ok {
		return sku
	}
	return s.opts.PlanSKU
}

func (s *Server) getPlan(w http.ResponseWriter, r *http.Request) error {
	id := s.planID(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.deletedPlans[strings.ToLower(id)] {
		return &armError{Status: http.StatusNotFound, Code: "ResourceNotFound",
			Message: fmt.Sprintf("The Resource 'Microsoft.Web/serverFarms/%s' under resource group '%s' was not found.", r.PathValue("plan"), r.PathValue("rg"))}
	}
	n := 0
	for _, st := range s.sites {
		if strings.EqualFold(serverFarm(st.Body), id) {
			n++
		}
	}
	return writeJSON(w, http.StatusOK, s.planBody(r, n))
}

// putPlan creates (again) a plan: an admin's fix for a deleted one.
func (s *Server) putPlan(w http.ResponseWriter, r *http.Request) error {
	id := s.planID(r)
	var body struct {
		SKU *SKU `json:"sku"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil && err != io.EOF {
		return &armError{Status: http.StatusBadRequest, Code: "InvalidRequestContent", Message: err.Error()}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.deletedPlans, strings.ToLower(id))
	if body.SKU != nil && body.SKU.Tier != "" {
		s.planSKUs[strings.ToLower(id)] = *body.SKU
	}
	return writeJSON(w, http.StatusOK, s.planBody(r, 0))
}

func (s *Server) listSites(w http.ResponseWriter, r *http.Request) error {
	rg := r.PathValue("rg")
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for k, st := range s.sites {
		if strings.EqualFold(st.ResourceGroup, rg) {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	skip, _ := strconv.Atoi(r.URL.Query().Get("$skipToken"))
	end := min(skip+s.opts.PageSize, len(names))
	skip = min(skip, end)
	page := []any{}
	for _, k := range names[skip:end] {
		page = append(page, s.view(s.sites[k]))
	}
	out := map[string]any{"value": page}
	if end < len(names) {
		out["nextLink"] = fmt.Sprintf("%s://%s%s?api-version=%s&$skipToken=%d", scheme(r), r.Host, r.URL.Path, APIVersion, end)
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) getOperation(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	op, ok := s.ops[r.PathValue("id")]
	s.mu.Unlock()
	if !ok {
		return &armError{Status: http.StatusNotFound, Code: "NotFound", Message: "operation not found"}
	}
	switch {
	case s.opts.Now().Before(op.doneAt):
		w.Header().Set("Retry-After", "1")
		return writeJSON(w, http.StatusOK, map[string]any{"status": "InProgress"})
	case op.err != nil:
		return writeJSON(w, http.StatusOK, map[string]any{"status": "Failed", "error": op.err})
	}
	return writeJSON(w, http.StatusOK, map[string]any{"status": "Succeeded"})
}

func (s *Server) listSettings(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.siteOf(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"id": s.siteID(st.ResourceGroup, r.PathValue("name")) + "/config/appsettings",
		"name": "appsettings", "type": "Microsoft.Web/sites/config", "properties": st.Settings})
}

// putSettings replaces the whole set, as App Service does.
func (s *Server) putSettings(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Properties map[string]string `json:"properties"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		return &armError{Status: http.StatusBadRequest, Code: "InvalidRequestContent", Message: err.Error()}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.siteOf(r)
	if err != nil {
		return err
	}
	st.Settings = body.Properties
	if st.Settings == nil {
		st.Settings = map[string]string{}
	}
	st.Logs = append(st.Logs, s.opts.Now().UTC().Format(time.RFC3339Nano)+" Application settings updated; site restarting")
	st.hostUpAt = maxTime(s.opts.Now(), st.readyAt).Add(s.opts.HostStartDelay)
	return writeJSON(w, http.StatusOK, map[string]any{"name": "appsettings", "properties": st.Settings})
}

func (s *Server) containerLogs(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	st, err := s.siteOf(r)
	var lines []string
	if err == nil {
		s.hostDown(st)
		lines = append(lines, st.Logs...)
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if len(lines) == 0 {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.WriteHeader(http.StatusOK)
	_, err = w.Write([]byte(strings.Join(lines, "\n") + "\n"))
	return err
}

// logStream is Kudu's /api/logstream for one app (the emulator serves every
// app's SCM site under /_kudu/<app>): a welcome line, then each line the app
// logs from now on, until the client goes away or the app is deleted.
func (s *Server) logStream(w http.ResponseWriter, r *http.Request) {
	s.Call("LogStream")
	if r.Header.Get("Authorization") != "Bearer "+s.opts.Token {
		http.Error(w, "401 Unauthorized", http.StatusUnauthorized)
		return
	}
	name := r.PathValue("name")
	s.mu.Lock()
	st := s.siteNamed(name)
	sent := 0
	if st != nil {
		sent = len(st.Logs)
	}
	s.mu.Unlock()
	if st == nil {
		http.Error(w, "site not found", http.StatusNotFound)
		return
	}
	fl, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, s.opts.Now().UTC().Format(time.RFC3339Nano)+" Welcome, you are now connected to log-streaming service.\n")
	if fl != nil {
		fl.Flush()
	}
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		cur := s.siteNamed(name)
		var fresh []string
		if cur != nil {
			s.hostDown(cur)
		}
		if cur != nil && len(cur.Logs) > sent {
			fresh = append(fresh, cur.Logs[sent:]...)
			sent = len(cur.Logs)
		}
		s.mu.Unlock()
		if cur == nil {
			return
		}
		for _, l := range fresh {
			if _, err := io.WriteString(w, l+"\n"); err != nil {
				return
			}
		}
		if fl != nil && len(fresh) > 0 {
			fl.Flush()
		}
	}
}

// hostKey is the emulated apps' function key.
func hostKey(name string) string { return "emulated-function-key-" + strings.ToLower(name) }

func (s *Server) listHostKeys(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	st, err := s.siteOf(r)
	down := ""
	if err == nil {
		down = s.hostDown(st)
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if down != "" {
		// The keys are the host's: ARM relays its failure as the RP's 400.
		return rpError(http.StatusBadRequest, "BadRequest", "Encountered an error (ServiceUnavailable) from host runtime.")
	}
	k := hostKey(r.PathValue("name"))
	return writeJSON(w, http.StatusOK, map[string]any{"masterKey": "master-" + k, "functionKeys": map[string]string{"default": k}, "systemKeys": map[string]string{}})
}

// patchTags is ARM's Tags API at a site's scope (operation Merge, Replace
// or Delete).
func (s *Server) patchTags(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		Operation  string `json:"operation"`
		Properties struct {
			Tags map[string]string `json:"tags"`
		} `json:"properties"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		return &armError{Status: http.StatusBadRequest, Code: "InvalidRequestContent", Message: err.Error()}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.siteOf(r)
	if err != nil {
		return err
	}
	tags := map[string]any{}
	if cur, ok := st.Body["tags"].(map[string]any); ok && body.Operation != "Replace" {
		for k, v := range cur {
			tags[k] = v
		}
	}
	for k, v := range body.Properties.Tags {
		if strings.ContainsAny(k, "<>%&\\?/") {
			return &armError{Status: http.StatusBadRequest, Code: "InvalidTagNameCharacters", Message: "The tag names '" + k + "' have reserved characters '<,>,%,&,\\,?,/' or control characters."}
		}
		if body.Operation == "Delete" {
			delete(tags, k)
		} else {
			tags[k] = v
		}
	}
	if len(tags) > maxTags {
		return tooManyTags(len(tags))
	}
	st.Body["tags"] = tags
	return writeJSON(w, http.StatusOK, map[string]any{"id": s.siteID(st.ResourceGroup, r.PathValue("name")) + "/providers/Microsoft.Resources/tags/default",
		"name": "default", "type": "Microsoft.Resources/tags", "properties": map[string]any{"tags": tags}})
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// maxExecutions bounds the executions an app keeps for its metrics.
const maxExecutions = 10000

// metricsAPIVersion is Azure Monitor's metrics API version the SDK speaks.
const metricsAPIVersion = "2021-05-01"

// listMetrics serves Azure Monitor's metrics of an app at a PT1M grain
// over timespan (start/end, ISO 8601): only those its plan's tier offers
// (see metricsOffered), any other name answering 400.
//   - FunctionExecutionCount (Total): the executions in each minute.
//   - FunctionExecutionUnits (Total, MB-milliseconds): each execution's
//     duration times its memory rounded up to 128 MB.
//   - MemoryWorkingSet (bytes, Average and Maximum): the app setting
//     EMULATOR_MEMORY_MB, else 42 MB, in every minute since the app runs.
func (s *Server) listMetrics(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	if v := q.Get("api-version"); v != metricsAPIVersion {
		return &armError{Status: http.StatusBadRequest, Code: "InvalidApiVersionParameter", Message: "The api-version '" + v + "' is invalid. The supported versions are '" + metricsAPIVersion + "'."}
	}
	if iv := q.Get("interval"); iv != "" && iv != "PT1M" {
		return &armError{Status: http.StatusBadRequest, Code: "BadRequest", Message: "Invalid interval '" + iv + "': the emulator serves PT1M."}
	}
	start, end, err := timespan(q.Get("timespan"), s.opts.Now())
	if err != nil {
		return err
	}
	names := strings.Split(q.Get("metricnames"), ",")
	s.mu.Lock()
	st, err := s.siteOf(r)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	offered := metricsOffered(s.planSKU(serverFarm(st.Body)).Tier, serverFarm(st.Body) == "")
	memMB := 42
	if n, err := strconv.Atoi(st.Settings["EMULATOR_MEMORY_MB"]); err == nil && n > 0 {
		memMB = n
	}
	execs := append([]execution(nil), st.executions...)
	up := st.readyAt
	id := s.siteID(st.ResourceGroup, r.PathValue("name"))
	s.mu.Unlock()
	for _, name := range names {
		if !slices.Contains(offered, name) {
			return &armError{Status: http.StatusBadRequest, Code: "BadRequest", Message: "Failed to find metric configuration for provider: Microsoft.Web, resource Type: sites, metric: " + name + ", Valid metrics: " + strings.Join(offered, ",")}
		}
	}
	billedMB := float64((memMB + 127) / 128 * 128)
	var value []map[string]any
	for _, name := range names {
		var data []map[string]any
		for t := start.Truncate(time.Minute); t.Before(end); t = t.Add(time.Minute) {
			point := map[string]any{"timeStamp": t.UTC().Format(time.RFC3339)}
			var count, units float64
			for _, e := range execs {
				if !e.at.Before(t) && e.at.Before(t.Add(time.Minute)) {
					count++
					units += float64(e.cpu.Milliseconds()) * billedMB
				}
			}
			switch name {
			case "FunctionExecutionCount":
				point["total"] = count
			case "FunctionExecutionUnits":
				point["total"] = units
			case "MemoryWorkingSet":
				if !t.Add(time.Minute).Before(up) {
					v := float64(memMB << 20)
					point["average"], point["maximum"] = v, v
				}
			}
			data = append(data, point)
		}
		unit := map[string]string{"MemoryWorkingSet": "Bytes"}[name]
		if unit == "" {
			unit = "Count"
		}
		value = append(value, map[string]any{
			"id": id + "/providers/Microsoft.Insights/metrics/" + name, "type": "Microsoft.Insights/metrics",
			"name": map[string]string{"value": name, "localizedValue": name}, "unit": unit, "errorCode": "Success",
			"timeseries": []map[string]any{{"metadatavalues": []any{}, "data": data}},
		})
	}
	return writeJSON(w, http.StatusOK, map[string]any{
		"cost": 0, "timespan": start.UTC().Format(time.RFC3339) + "/" + end.UTC().Format(time.RFC3339), "interval": "PT1M",
		"namespace": "Microsoft.Web/sites", "resourceregion": DefaultLocation, "value": value,
	})
}

// timespan reads start/end; empty is the last hour.
func timespan(v string, now time.Time) (time.Time, time.Time, error) {
	if v == "" {
		return now.Add(-time.Hour), now, nil
	}
	a, b, ok := strings.Cut(v, "/")
	start, err1 := time.Parse(time.RFC3339, a)
	end, err2 := time.Parse(time.RFC3339, b)
	if !ok || err1 != nil || err2 != nil || !start.Before(end) {
		return time.Time{}, time.Time{}, &armError{Status: http.StatusBadRequest, Code: "BadRequest", Message: "Invalid timespan '" + v + "': want start/end in ISO 8601."}
	}
	if end.Sub(start) > 24*time.Hour {
		return time.Time{}, time.Time{}, &armError{Status: http.StatusBadRequest, Code: "BadRequest", Message: "The timespan is longer than the emulator serves (24 hours)."}
	}
	return start, end, nil
}
