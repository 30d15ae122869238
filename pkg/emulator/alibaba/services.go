package alibaba

import (
	"encoding/json"
	"maps"
	"net/http"
	"regexp"
	"slices"
)

// Wire shapes, camelCase members as FC 2.0 sends them.
type (
	logConfig struct {
		Project               string `json:"project"`
		Logstore              string `json:"logstore"`
		LogBeginRule          string `json:"logBeginRule,omitempty"`
		EnableRequestMetrics  bool   `json:"enableRequestMetrics"`
		EnableInstanceMetrics bool   `json:"enableInstanceMetrics"`
	}
	// serviceConfig is a service as FC returns it.
	serviceConfig struct {
		ServiceName      string          `json:"serviceName"`
		ServiceID        string          `json:"serviceId"`
		Description      string          `json:"description"`
		Role             string          `json:"role"`
		InternetAccess   bool            `json:"internetAccess"`
		LogConfig        logConfig       `json:"logConfig"`
		VpcConfig        json.RawMessage `json:"vpcConfig,omitempty"`
		NasConfig        json.RawMessage `json:"nasConfig,omitempty"`
		OssMountConfig   json.RawMessage `json:"ossMountConfig,omitempty"`
		TracingConfig    json.RawMessage `json:"tracingConfig,omitempty"`
		CreatedTime      string          `json:"createdTime"`
		LastModifiedTime string          `json:"lastModifiedTime"`
	}
	// serviceInput is the body of CreateService and UpdateService; absent
	// members leave the service as it is.
	serviceInput struct {
		ServiceName    *string         `json:"serviceName"`
		Description    *string         `json:"description"`
		Role           *string         `json:"role"`
		InternetAccess *bool           `json:"internetAccess"`
		LogConfig      *logConfig      `json:"logConfig"`
		VpcConfig      json.RawMessage `json:"vpcConfig"`
		NasConfig      json.RawMessage `json:"nasConfig"`
		OssMountConfig json.RawMessage `json:"ossMountConfig"`
		TracingConfig  json.RawMessage `json:"tracingConfig"`
	}
)

// service is one stored service with its functions and tags.
type service struct {
	cfg       serviceConfig
	tags      map[string]string
	functions map[string]*function
}

var (
	serviceNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_-]{0,127}$`)
	roleRE        = regexp.MustCompile(`^acs:ram::[0-9]+:role/[a-zA-Z0-9._-]{1,64}$`)
	projectRE     = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)
	logstoreRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]$`)
)

// FC answers empty VPC and NAS configurations rather than none.
var (
	emptyVPC = json.RawMessage(`{"vpcId":"","vSwitchIds":[],"securityGroupId":""}`)
	emptyNAS = json.RawMessage(`{"userId":-1,"groupId":-1,"mountPoints":[]}`)
)

func (in *serviceInput) apply(c *serviceConfig) error {
	if in.Description != nil {
		c.Description = *in.Description
	}
	if in.Role != nil {
		if *in.Role != "" && !roleRE.MatchString(*in.Role) {
			return invalid("role '%s' is not a valid RAM role ARN (acs:ram::<accountId>:role/<name>)", *in.Role)
		}
		c.Role = *in.Role
	}
	if in.InternetAccess != nil {
		c.InternetAccess = *in.InternetAccess
	}
	if lc := in.LogConfig; lc != nil {
		if (lc.Project == "") != (lc.Logstore == "") {
			return invalid("logConfig must name both project and logstore, or neither")
		}
		if lc.Project != "" && !projectRE.MatchString(lc.Project) {
			return invalid("logConfig.project '%s' is not a valid SLS project name (3 to 63 lowercase letters, digits and hyphens)", lc.Project)
		}
		if lc.Logstore != "" && !logstoreRE.MatchString(lc.Logstore) {
			return invalid("logConfig.logstore '%s' is not a valid SLS logstore name (3 to 63 lowercase letters, digits, hyphens and underscores)", lc.Logstore)
		}
		switch lc.LogBeginRule {
		case "":
			lc.LogBeginRule = "None"
		case "None", "DefaultRegex":
		default:
			return invalid("logConfig.logBeginRule must be None or DefaultRegex, got '%s'", lc.LogBeginRule)
		}
		c.LogConfig = *lc
	}
	set := func(dst *json.RawMessage, src json.RawMessage) {
		if len(src) > 0 && string(src) != "null" {
			*dst = src
		}
	}
	set(&c.VpcConfig, in.VpcConfig)
	set(&c.NasConfig, in.NasConfig)
	set(&c.OssMountConfig, in.OssMountConfig)
	set(&c.TracingConfig, in.TracingConfig)
	return nil
}

func (s *Server) service(name string) (*service, error) {
	svc, ok := s.services[name]
	if !ok {
		return nil, notFound("ServiceNotFound", "service '%s' does not exist", name)
	}
	return svc, nil
}

func (s *Server) createService(w http.ResponseWriter, _ *http.Request, body []byte) error {
	var in serviceInput
	if err := decode(body, &in); err != nil {
		return err
	}
	if in.ServiceName == nil || *in.ServiceName == "" {
		return invalid("serviceName is required")
	}
	name := *in.ServiceName
	if !serviceNameRE.MatchString(name) {
		return invalid("invalid service name '%s': it can contain letters, digits, underscores (_) and hyphens (-), cannot start with a digit or a hyphen, and must be 1 to 128 characters long", name)
	}
	now := s.now()
	cfg := serviceConfig{
		ServiceName: name, ServiceID: newID(), InternetAccess: true,
		LogConfig: logConfig{LogBeginRule: "None"}, VpcConfig: emptyVPC, NasConfig: emptyNAS,
		CreatedTime: now, LastModifiedTime: now,
	}
	if err := in.apply(&cfg); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.refusedRole(cfg.Role); err != nil {
		return err
	}
	if _, exists := s.services[name]; exists {
		return conflict("ServiceAlreadyExists", "service '%s' already exists", name)
	}
	if err := s.refusedQuota("services"); err != nil {
		return err
	}
	s.services[name] = &service{cfg: cfg, tags: map[string]string{}, functions: map[string]*function{}}
	s.ensureLogstore(cfg.LogConfig)
	return writeJSON(w, http.StatusOK, cfg)
}

func (s *Server) getService(w http.ResponseWriter, r *http.Request, _ []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	svc, err := s.service(r.PathValue("service"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, svc.cfg)
}

func (s *Server) updateService(w http.ResponseWriter, r *http.Request, body []byte) error {
	var in serviceInput
	if err := decode(body, &in); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	svc, err := s.service(r.PathValue("service"))
	if err != nil {
		return err
	}
	cfg := svc.cfg
	if err := in.apply(&cfg); err != nil {
		return err
	}
	if in.Role != nil {
		if err := s.refusedRole(cfg.Role); err != nil {
			return err
		}
	}
	cfg.LastModifiedTime = s.now()
	svc.cfg = cfg
	s.ensureLogstore(cfg.LogConfig)
	return writeJSON(w, http.StatusOK, cfg)
}

// deleteService refuses while functions remain, as FC does; the service's
// tags go with it.
func (s *Server) deleteService(w http.ResponseWriter, r *http.Request, _ []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	svc, err := s.service(r.PathValue("service"))
	if err != nil {
		return err
	}
	if n := len(svc.functions); n > 0 {
		return notEmpty("ServiceNotEmpty", "service '%s' is not empty: delete its %d function(s) first", svc.cfg.ServiceName, n)
	}
	delete(s.services, svc.cfg.ServiceName)
	return writeJSON(w, http.StatusNoContent, nil)
}

func (s *Server) listServices(w http.ResponseWriter, r *http.Request, _ []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	picked, next, err := page(slices.Collect(maps.Keys(s.services)), r.URL.Query())
	if err != nil {
		return err
	}
	out := struct {
		Services  []serviceConfig `json:"services"`
		NextToken string          `json:"nextToken,omitempty"`
	}{Services: []serviceConfig{}, NextToken: next}
	for _, n := range picked {
		out.Services = append(out.Services, s.services[n].cfg)
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) getAccountSettings(w http.ResponseWriter, _ *http.Request, _ []byte) error {
	r := s.opts.Region
	return writeJSON(w, http.StatusOK, map[string]any{
		"availableAZs": []string{r + "-b", r + "-g", r + "-h"},
		"defaultRole":  "acs:ram::" + s.opts.AccountID + ":role/aliyunfcdefaultrole",
	})
}
