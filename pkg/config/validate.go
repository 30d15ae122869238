package config

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

var (
	logLevels   = []string{"debug", "info", "warn", "error"}
	logFormats  = []string{"text", "json"}
	taintEffect = []string{"NoSchedule", "PreferNoSchedule", "NoExecute"}
	credSources = []string{CredentialSourceDefault, CredentialSourceEnv, CredentialSourceFile}
)

// Validate checks every field and returns all problems at once, each naming
// its path (for example "nodes[0].capacity.memory"). clouds lists the
// backend names the caller's registry knows. Call it after SetDefaults.
func (c *Config) Validate(clouds []string) field.ErrorList {
	var errs field.ErrorList
	if c.ClientQPS <= 0 {
		errs = append(errs, field.Invalid(field.NewPath("clientQPS"), c.ClientQPS, "must be greater than 0"))
	}
	if c.ClientBurst <= 0 {
		errs = append(errs, field.Invalid(field.NewPath("clientBurst"), c.ClientBurst, "must be greater than 0"))
	}
	if c.EventQPS <= 0 {
		errs = append(errs, field.Invalid(field.NewPath("eventQPS"), c.EventQPS, "must be greater than 0"))
	}
	if c.EventBurst <= 0 {
		errs = append(errs, field.Invalid(field.NewPath("eventBurst"), c.EventBurst, "must be greater than 0"))
	}
	if c.Workers <= 0 {
		errs = append(errs, field.Invalid(field.NewPath("workers"), c.Workers, "must be greater than 0"))
	}
	if c.MemoryPerPod != nil && c.MemoryPerPod.Sign() < 0 {
		errs = append(errs, field.Invalid(field.NewPath("memoryPerPod"), c.MemoryPerPod.String(), "must not be negative (0 disables the budget)"))
	}
	if !slices.Contains(logLevels, c.Log.Level) {
		errs = append(errs, field.NotSupported(field.NewPath("log", "level"), c.Log.Level, logLevels))
	}
	if !slices.Contains(logFormats, c.Log.Format) {
		errs = append(errs, field.NotSupported(field.NewPath("log", "format"), c.Log.Format, logFormats))
	}
	tlsPath := field.NewPath("tls")
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		errs = append(errs, field.Required(tlsPath.Child("keyFile"), "certFile and keyFile go together: give both, or neither for a self-signed certificate"))
	}
	if le := c.LeaderElection; le.Enabled {
		lp := field.NewPath("leaderElection")
		if !(le.LeaseDuration.Duration > le.RenewDeadline.Duration && le.RenewDeadline.Duration > le.RetryPeriod.Duration && le.RetryPeriod.Duration > 0) {
			errs = append(errs, field.Invalid(lp, fmt.Sprintf("%s/%s/%s", le.LeaseDuration.Duration, le.RenewDeadline.Duration, le.RetryPeriod.Duration),
				"want leaseDuration > renewDeadline > retryPeriod > 0"))
		}
		for _, msg := range validation.IsDNS1123Subdomain(le.Name) {
			errs = append(errs, field.Invalid(lp.Child("name"), le.Name, msg))
		}
	}
	nodesPath := field.NewPath("nodes")
	if len(c.Nodes) == 0 {
		errs = append(errs, field.Required(nodesPath, "at least one virtual node"))
	}
	names := map[string]bool{}
	listen := map[string]bool{}
	for i := range c.Nodes {
		p := nodesPath.Index(i)
		n := &c.Nodes[i]
		errs = append(errs, n.validate(p, clouds)...)
		if names[n.Name] {
			errs = append(errs, field.Duplicate(p.Child("name"), n.Name))
		}
		names[n.Name] = true
		if listen[n.ListenAddress] {
			errs = append(errs, field.Duplicate(p.Child("listenAddress"), n.ListenAddress))
		}
		listen[n.ListenAddress] = true
	}
	return errs
}

func (n *Node) validate(p *field.Path, clouds []string) field.ErrorList {
	var errs field.ErrorList
	if n.Name == "" {
		errs = append(errs, field.Required(p.Child("name"), "the Node object's name"))
	} else {
		for _, msg := range validation.IsDNS1123Subdomain(n.Name) {
			errs = append(errs, field.Invalid(p.Child("name"), n.Name, msg))
		}
	}
	switch {
	case n.Cloud == "":
		errs = append(errs, field.Required(p.Child("cloud"), "one of: "+strings.Join(clouds, ", ")))
	case !slices.Contains(clouds, n.Cloud):
		errs = append(errs, field.NotSupported(p.Child("cloud"), n.Cloud, clouds))
	}
	if n.Region == "" {
		errs = append(errs, field.Required(p.Child("region"), "the cloud region functions are created in"))
	}
	if net.ParseIP(n.Address) == nil {
		errs = append(errs, field.Invalid(p.Child("address"), n.Address, "must be an IP address"))
	}
	if n.KubeletPort < 1 || n.KubeletPort > 65535 {
		errs = append(errs, field.Invalid(p.Child("kubeletPort"), n.KubeletPort, "must be between 1 and 65535"))
	}
	if _, _, err := net.SplitHostPort(n.ListenAddress); err != nil {
		errs = append(errs, field.Invalid(p.Child("listenAddress"), n.ListenAddress, "must be host:port"))
	}
	for k, v := range n.Labels {
		for _, msg := range validation.IsQualifiedName(k) {
			errs = append(errs, field.Invalid(p.Child("labels").Key(k), k, msg))
		}
		for _, msg := range validation.IsValidLabelValue(v) {
			errs = append(errs, field.Invalid(p.Child("labels").Key(k), v, msg))
		}
	}
	if !n.Taint.Disabled {
		tp := p.Child("taint")
		for _, msg := range validation.IsQualifiedName(n.Taint.Key) {
			errs = append(errs, field.Invalid(tp.Child("key"), n.Taint.Key, msg))
		}
		for _, msg := range validation.IsValidLabelValue(n.Taint.Value) {
			errs = append(errs, field.Invalid(tp.Child("value"), n.Taint.Value, msg))
		}
		if !slices.Contains(taintEffect, n.Taint.Effect) {
			errs = append(errs, field.NotSupported(tp.Child("effect"), n.Taint.Effect, taintEffect))
		}
	}
	if n.PodIdentity != nil {
		for i, g := range n.PodIdentity.Allow {
			if err := translate.ValidateGrant(g); err != nil {
				errs = append(errs, field.Invalid(p.Child("podIdentity", "allow").Index(i), g.Namespace, err.Error()))
			}
		}
	}
	cp := p.Child("capacity")
	for name, q := range map[string]string{"cpu": n.Capacity.CPU, "memory": n.Capacity.Memory, "pods": n.Capacity.Pods, "ephemeralStorage": n.Capacity.EphemeralStorage} {
		v, err := resource.ParseQuantity(q)
		if err != nil {
			errs = append(errs, field.Invalid(cp.Child(name), q, "not a quantity (examples: 1000, 500m, 4Ti): "+err.Error()))
		} else if v.Sign() <= 0 {
			errs = append(errs, field.Invalid(cp.Child(name), q, "must be greater than 0"))
		}
	}
	crp := p.Child("credentials")
	if !slices.Contains(credSources, n.Credentials.Source) {
		errs = append(errs, field.NotSupported(crp.Child("source"), n.Credentials.Source, credSources))
	}
	if n.Credentials.Source == CredentialSourceFile && n.Credentials.File == "" {
		errs = append(errs, field.Required(crp.Child("file"), `the credentials file, when source is "file"`))
	}
	if n.HealthCheckInterval.Duration <= 0 {
		errs = append(errs, field.Invalid(p.Child("healthCheckInterval"), n.HealthCheckInterval.Duration.String(), "must be greater than 0"))
	}
	if t := n.ServiceAccountTokens; t != nil {
		tp := p.Child("serviceAccountTokens")
		if t.APIServer == "" {
			errs = append(errs, field.Required(tp.Child("apiServer"), "the API server's URL as functions reach it"))
		} else if u, err := url.Parse(t.APIServer); err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			errs = append(errs, field.Invalid(tp.Child("apiServer"), t.APIServer, "must be an https URL (https://host[:port][/path]): a token is never sent in the clear"))
		}
	}
	if l := n.Lambda; l != nil {
		lp := p.Child("lambda")
		if n.Cloud != "aws-lambda" {
			errs = append(errs, field.Forbidden(lp, `only for cloud "aws-lambda"`))
		}
		if l.Endpoint != "" {
			if u, err := url.Parse(l.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				errs = append(errs, field.Invalid(lp.Child("endpoint"), l.Endpoint, "must be an http(s) URL"))
			}
		}
		if l.ExecutionRoleArn != "" && !strings.HasPrefix(l.ExecutionRoleArn, "arn:aws") {
			errs = append(errs, field.Invalid(lp.Child("executionRoleArn"), l.ExecutionRoleArn, "must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)"))
		}
	}
	if a := n.Azure; a != nil || n.Cloud == "azure-functions" {
		ap := p.Child("azure")
		switch {
		case n.Cloud != "azure-functions":
			errs = append(errs, field.Forbidden(ap, `only for cloud "azure-functions"`))
		case a == nil:
			errs = append(errs, field.Required(ap, "subscriptionId, resourceGroup and serverFarmId or managedEnvironmentId"))
		default:
			if a.SubscriptionID == "" {
				errs = append(errs, field.Required(ap.Child("subscriptionId"), ""))
			}
			if a.ResourceGroup == "" {
				errs = append(errs, field.Required(ap.Child("resourceGroup"), ""))
			}
			if (a.ServerFarmID == "") == (a.ManagedEnvironmentID == "") {
				errs = append(errs, field.Required(ap.Child("serverFarmId"), "exactly one of serverFarmId (an App Service plan) and managedEnvironmentId (a Container Apps environment)"))
			}
			if (a.RegistryUsername == "") != (a.RegistryPasswordFile == "") {
				errs = append(errs, field.Required(ap.Child("registryPasswordFile"), "registryUsername and registryPasswordFile go together"))
			}
			if a.RegistryUsername != "" && a.RegistryServer == "" {
				errs = append(errs, field.Required(ap.Child("registryServer"), "the registry the username is for"))
			}
			if a.Endpoint != "" {
				if u, err := url.Parse(a.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					errs = append(errs, field.Invalid(ap.Child("endpoint"), a.Endpoint, "must be an http(s) URL"))
				}
			}
		}
	}
	errs = append(errs, n.validateAlibaba(p)...)
	if l := n.Limits; l != nil {
		lp := p.Child("limits")
		if l.QPS != nil && *l.QPS < 0 {
			errs = append(errs, field.Invalid(lp.Child("qps"), *l.QPS, "must not be negative (0: unlimited)"))
		}
		if l.QPS != nil && *l.QPS > 0 && l.Burst < 1 {
			errs = append(errs, field.Invalid(lp.Child("burst"), l.Burst, "must be at least 1"))
		}
		if l.MaxConcurrent < 1 {
			errs = append(errs, field.Invalid(lp.Child("maxConcurrent"), l.MaxConcurrent, "must be at least 1"))
		}
		if l.MaxRetries != nil && (*l.MaxRetries < 0 || *l.MaxRetries > 20) {
			errs = append(errs, field.Invalid(lp.Child("maxRetries"), *l.MaxRetries, "must be between 0 and 20"))
		}
	}
	if n.ResyncInterval.Duration <= 0 {
		errs = append(errs, field.Invalid(p.Child("resyncInterval"), n.ResyncInterval.Duration.String(), "must be greater than 0"))
	}
	if n.UsageInterval.Duration < time.Second {
		errs = append(errs, field.Invalid(p.Child("usageInterval"), n.UsageInterval.Duration.String(), "must be at least 1s"))
	}
	if n.Memory != nil && n.Cloud != "memory" {
		errs = append(errs, field.Forbidden(p.Child("memory"), `only for cloud "memory"`))
	}
	return errs
}

func (n *Node) validateAlibaba(p *field.Path) field.ErrorList {
	var errs field.ErrorList
	a := n.Alibaba
	if a == nil && n.Cloud != "alibaba-fc" {
		return nil
	}
	ap := p.Child("alibaba")
	switch {
	case n.Cloud != "alibaba-fc":
		return append(errs, field.Forbidden(ap, `only for cloud "alibaba-fc"`))
	case a == nil:
		return append(errs, field.Required(ap, "accountId, and logProject and logStore for kubectl logs"))
	}
	if a.AccountID == "" {
		errs = append(errs, field.Required(ap.Child("accountId"), "the Alibaba Cloud account ID (UID) that owns the functions"))
	} else if strings.Trim(a.AccountID, "0123456789") != "" {
		errs = append(errs, field.Invalid(ap.Child("accountId"), a.AccountID, "must be the numeric account ID"))
	}
	for name, v := range map[string]string{"endpoint": a.Endpoint, "logEndpoint": a.LogEndpoint} {
		if v == "" {
			continue
		}
		if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			errs = append(errs, field.Invalid(ap.Child(name), v, "must be an http(s) URL with no path"))
		}
	}
	if a.Role != "" && !strings.HasPrefix(a.Role, "acs:ram::") {
		errs = append(errs, field.Invalid(ap.Child("role"), a.Role, "must be a RAM role ARN (acs:ram::<account>:role/<name>)"))
	}
	if (a.LogProject == "") != (a.LogStore == "") {
		errs = append(errs, field.Required(ap.Child("logStore"), "logProject and logStore go together"))
	}
	if a.LogDialAddress != "" {
		if _, _, err := net.SplitHostPort(a.LogDialAddress); err != nil {
			errs = append(errs, field.Invalid(ap.Child("logDialAddress"), a.LogDialAddress, "must be host:port"))
		}
	}
	return errs
}
