package alibaba

import (
	"encoding/json"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
)

// proxyPrefix is where FC 2.0 serves HTTP triggers:
// /2016-08-15/proxy/<service>.<qualifier>/<function>/<path>.
const proxyPrefix = "/2016-08-15/proxy/"

type (
	// triggerConfig is a trigger as FC returns it; TriggerConfig is the
	// trigger's own configuration as a JSON string.
	triggerConfig struct {
		TriggerID        string `json:"triggerId"`
		TriggerName      string `json:"triggerName"`
		TriggerType      string `json:"triggerType"`
		TriggerConfig    string `json:"triggerConfig"`
		Description      string `json:"description"`
		Qualifier        string `json:"qualifier"`
		InvocationRole   string `json:"invocationRole,omitempty"`
		SourceArn        string `json:"sourceArn,omitempty"`
		URLInternet      string `json:"urlInternet,omitempty"`
		URLIntranet      string `json:"urlIntranet,omitempty"`
		CreatedTime      string `json:"createdTime"`
		LastModifiedTime string `json:"lastModifiedTime"`
	}
	triggerInput struct {
		TriggerName    string `json:"triggerName"`
		TriggerType    string `json:"triggerType"`
		TriggerConfig  string `json:"triggerConfig"`
		Description    string `json:"description"`
		Qualifier      string `json:"qualifier"`
		InvocationRole string `json:"invocationRole"`
		SourceArn      string `json:"sourceArn"`
	}
	httpTriggerConfig struct {
		AuthType           string   `json:"authType"`
		Methods            []string `json:"methods"`
		DisableURLInternet bool     `json:"disableURLInternet"`
	}
	timerTriggerConfig struct {
		CronExpression string `json:"cronExpression"`
		Enable         *bool  `json:"enable,omitempty"`
		Payload        string `json:"payload,omitempty"`
	}
)

type trigger struct {
	cfg  triggerConfig
	http *httpTriggerConfig
}

var (
	triggerNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_-]{0,127}$`)
	httpMethods   = []string{"GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS"}
)

// parseTriggerConfig validates a trigger's configuration and returns it as
// FC stores it.
func parseTriggerConfig(typ, raw string) (string, *httpTriggerConfig, error) {
	switch typ {
	case "http":
		var hc httpTriggerConfig
		if err := json.Unmarshal([]byte(raw), &hc); err != nil {
			return "", nil, invalid("triggerConfig of an http trigger must be JSON like {\"authType\": \"anonymous\", \"methods\": [\"GET\"]}: %v", err)
		}
		if hc.AuthType != "anonymous" && hc.AuthType != "function" {
			return "", nil, invalid("triggerConfig.authType must be anonymous or function, got '%s'", hc.AuthType)
		}
		if len(hc.Methods) == 0 {
			return "", nil, invalid("triggerConfig.methods must name at least one HTTP method")
		}
		for i, m := range hc.Methods {
			hc.Methods[i] = strings.ToUpper(m)
			if !slices.Contains(httpMethods, hc.Methods[i]) {
				return "", nil, invalid("triggerConfig.methods: '%s' is not one of %s", m, strings.Join(httpMethods, ", "))
			}
		}
		b, _ := json.Marshal(hc)
		return string(b), &hc, nil
	case "timer":
		var tc timerTriggerConfig
		if err := json.Unmarshal([]byte(raw), &tc); err != nil || tc.CronExpression == "" {
			return "", nil, invalid("triggerConfig of a timer trigger must be JSON with a cronExpression")
		}
		b, _ := json.Marshal(tc)
		return string(b), nil, nil
	}
	return "", nil, invalid("triggerType '%s' is not emulated: use http or timer", typ)
}

func (s *Server) createTrigger(w http.ResponseWriter, r *http.Request, body []byte) error {
	var in triggerInput
	if err := decode(body, &in); err != nil {
		return err
	}
	if !triggerNameRE.MatchString(in.TriggerName) {
		return invalid("invalid trigger name '%s': it can contain letters, digits, underscores (_) and hyphens (-), cannot start with a digit or a hyphen, and must be 1 to 128 characters long", in.TriggerName)
	}
	stored, hc, err := parseTriggerConfig(in.TriggerType, in.TriggerConfig)
	if err != nil {
		return err
	}
	if in.Qualifier == "" {
		in.Qualifier = "LATEST"
	}
	if err := qualifier(in.Qualifier, r.PathValue("service")); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	svc, f, err := s.function(r.PathValue("service"), r.PathValue("function"))
	if err != nil {
		return err
	}
	if _, exists := f.triggers[in.TriggerName]; exists {
		return conflict("TriggerAlreadyExists", "trigger '%s' already exists in function '%s'", in.TriggerName, f.cfg.FunctionName)
	}
	if hc != nil && slices.ContainsFunc(slices.Collect(maps.Values(f.triggers)), func(t *trigger) bool { return t.http != nil }) {
		return invalid("function '%s' already has an http trigger: a function can have only one", f.cfg.FunctionName)
	}
	now := s.now()
	t := &trigger{http: hc, cfg: triggerConfig{
		TriggerID: newID(), TriggerName: in.TriggerName, TriggerType: in.TriggerType, TriggerConfig: stored,
		Description: in.Description, Qualifier: in.Qualifier, InvocationRole: in.InvocationRole, SourceArn: in.SourceArn,
		CreatedTime: now, LastModifiedTime: now,
	}}
	if hc != nil {
		url := "http://" + r.Host + proxyPrefix + svc.cfg.ServiceName + "." + in.Qualifier + "/" + f.cfg.FunctionName + "/"
		t.cfg.URLIntranet = url
		if !hc.DisableURLInternet {
			t.cfg.URLInternet = url
		}
	}
	f.triggers[in.TriggerName] = t
	return writeJSON(w, http.StatusOK, t.cfg)
}

func (s *Server) trigger(r *http.Request) (*function, *trigger, error) {
	_, f, err := s.function(r.PathValue("service"), r.PathValue("function"))
	if err != nil {
		return nil, nil, err
	}
	t, ok := f.triggers[r.PathValue("trigger")]
	if !ok {
		return nil, nil, notFound("TriggerNotFound", "trigger '%s' does not exist in function '%s'", r.PathValue("trigger"), f.cfg.FunctionName)
	}
	return f, t, nil
}

func (s *Server) getTrigger(w http.ResponseWriter, r *http.Request, _ []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, t, err := s.trigger(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, t.cfg)
}

func (s *Server) deleteTrigger(w http.ResponseWriter, r *http.Request, _ []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, t, err := s.trigger(r)
	if err != nil {
		return err
	}
	delete(f.triggers, t.cfg.TriggerName)
	return writeJSON(w, http.StatusNoContent, nil)
}

func (s *Server) listTriggers(w http.ResponseWriter, r *http.Request, _ []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, f, err := s.function(r.PathValue("service"), r.PathValue("function"))
	if err != nil {
		return err
	}
	picked, next, err := page(slices.Collect(maps.Keys(f.triggers)), r.URL.Query())
	if err != nil {
		return err
	}
	out := struct {
		Triggers  []triggerConfig `json:"triggers"`
		NextToken string          `json:"nextToken,omitempty"`
	}{Triggers: []triggerConfig{}, NextToken: next}
	for _, n := range picked {
		out.Triggers = append(out.Triggers, f.triggers[n].cfg)
	}
	return writeJSON(w, http.StatusOK, out)
}

// httpTrigger serves a request to an HTTP trigger's URL as an invocation of
// its function, answering with the function's result as the HTTP response.
func (s *Server) httpTrigger(w http.ResponseWriter, r *http.Request, body []byte) error {
	svcName, q, _ := strings.Cut(r.PathValue("qualified"), ".")
	if err := qualifier(q, svcName); err != nil {
		return err
	}
	s.mu.Lock()
	svc, f, err := s.function(svcName, r.PathValue("function"))
	var hc *httpTriggerConfig
	if err == nil {
		for _, t := range f.triggers {
			if t.http != nil {
				hc = t.http
			}
		}
		if hc == nil {
			err = notFound("TriggerNotFound", "function '%s' of service '%s' has no http trigger", f.cfg.FunctionName, svcName)
		}
	}
	var inv invocation
	if err == nil {
		inv = s.invocation(svc, f)
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if !slices.Contains(hc.Methods, r.Method) {
		return &apiError{Status: http.StatusMethodNotAllowed, Code: "MethodNotAllowed",
			Message: "method " + r.Method + " is not allowed by the http trigger: allowed " + strings.Join(hc.Methods, ", ")}
	}
	if hc.AuthType == "function" {
		if err := s.verifyFCSignature(r, body); err != nil {
			return err
		}
	}
	if err := notStarted(inv); err != nil {
		return err
	}
	if r.URL.Query().Get("env") == "1" {
		body = []byte(`{"env":true}`)
	}
	res := s.run(inv, body, newID())
	ct := r.Header.Get("Content-Type")
	if ct == "" || len(body) == 0 {
		ct = "application/json"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("X-Fc-Request-Id", res.requestID)
	if res.fnErr != "" {
		w.Header().Set("X-Fc-Error-Type", "UnhandledInvocationError")
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, err = w.Write(res.body)
	}
	return err
}
