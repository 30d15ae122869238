package alibaba

import (
	"encoding/base64"
	"encoding/json"
	"hash/crc64"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Wire shapes of functions.
type (
	customContainerConfig struct {
		Image            string            `json:"image"`
		Command          string            `json:"command,omitempty"`
		Args             string            `json:"args,omitempty"`
		AccelerationType string            `json:"accelerationType,omitempty"`
		WebServerMode    *bool             `json:"webServerMode,omitempty"`
		InstanceID       string            `json:"instanceID,omitempty"`
		AccelerationInfo *accelerationInfo `json:"accelerationInfo,omitempty"`
	}
	accelerationInfo struct {
		Status string `json:"status"`
	}
	code struct {
		ZipFile       string `json:"zipFile,omitempty"`
		OssBucketName string `json:"ossBucketName,omitempty"`
		OssObjectName string `json:"ossObjectName,omitempty"`
	}
	// functionConfig is a function as FC returns it.
	functionConfig struct {
		FunctionID              string                 `json:"functionId"`
		FunctionName            string                 `json:"functionName"`
		Description             string                 `json:"description"`
		Runtime                 string                 `json:"runtime"`
		Handler                 string                 `json:"handler"`
		Timeout                 int32                  `json:"timeout"`
		MemorySize              int32                  `json:"memorySize"`
		Cpu                     *float32               `json:"cpu,omitempty"`
		DiskSize                int32                  `json:"diskSize"`
		GpuMemorySize           *int32                 `json:"gpuMemorySize,omitempty"`
		InstanceType            string                 `json:"instanceType"`
		InstanceConcurrency     int32                  `json:"instanceConcurrency"`
		InstanceSoftConcurrency *int32                 `json:"instanceSoftConcurrency,omitempty"`
		CaPort                  *int32                 `json:"caPort,omitempty"`
		EnvironmentVariables    map[string]string      `json:"environmentVariables"`
		CustomContainerConfig   *customContainerConfig `json:"customContainerConfig,omitempty"`
		Initializer             string                 `json:"initializer,omitempty"`
		InitializationTimeout   int32                  `json:"initializationTimeout,omitempty"`
		Layers                  []string               `json:"layers,omitempty"`
		InstanceLifecycleConfig json.RawMessage        `json:"instanceLifecycleConfig,omitempty"`
		CustomDNS               json.RawMessage        `json:"customDNS,omitempty"`
		CustomHealthCheckConfig json.RawMessage        `json:"customHealthCheckConfig,omitempty"`
		CustomRuntimeConfig     json.RawMessage        `json:"customRuntimeConfig,omitempty"`
		CodeChecksum            string                 `json:"codeChecksum"`
		CodeSize                int64                  `json:"codeSize"`
		CreatedTime             string                 `json:"createdTime"`
		LastModifiedTime        string                 `json:"lastModifiedTime"`
	}
	// functionInput is the body of CreateFunction and UpdateFunction; absent
	// members leave the function as it is. (UpdateFunction's SDK sends
	// "InstanceConcurrency"; JSON decoding matches it case-insensitively.)
	functionInput struct {
		FunctionName            *string                `json:"functionName"`
		Description             *string                `json:"description"`
		Runtime                 *string                `json:"runtime"`
		Handler                 *string                `json:"handler"`
		Timeout                 *int32                 `json:"timeout"`
		MemorySize              *int32                 `json:"memorySize"`
		Cpu                     *float32               `json:"cpu"`
		DiskSize                *int32                 `json:"diskSize"`
		GpuMemorySize           *int32                 `json:"gpuMemorySize"`
		InstanceType            *string                `json:"instanceType"`
		InstanceConcurrency     *int32                 `json:"instanceConcurrency"`
		InstanceSoftConcurrency *int32                 `json:"instanceSoftConcurrency"`
		CaPort                  *int32                 `json:"caPort"`
		EnvironmentVariables    map[string]string      `json:"environmentVariables"`
		CustomContainerConfig   *customContainerConfig `json:"customContainerConfig"`
		Code                    *code                  `json:"code"`
		Initializer             *string                `json:"initializer"`
		InitializationTimeout   *int32                 `json:"initializationTimeout"`
		Layers                  []string               `json:"layers"`
		InstanceLifecycleConfig json.RawMessage        `json:"instanceLifecycleConfig"`
		CustomDNS               json.RawMessage        `json:"customDNS"`
		CustomHealthCheckConfig json.RawMessage        `json:"customHealthCheckConfig"`
		CustomRuntimeConfig     json.RawMessage        `json:"customRuntimeConfig"`
	}
)

// function is one stored function.
type function struct {
	cfg      functionConfig
	code     code
	readyAt  time.Time // when image acceleration turns Ready
	triggers map[string]*trigger
}

var (
	functionNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_-]{0,63}$`)
	envKeyRE       = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_]*$`)
	runtimes       = []string{"custom-container", "custom", "custom.debian10", "python2.7", "python3", "python3.9", "python3.10",
		"nodejs12", "nodejs14", "nodejs16", "nodejs18", "nodejs20", "java8", "java11", "php7.2", "dotnetcore3.1", "go1"}
)

// instanceTypes are CreateFunction's instanceType values (API 2021-04-06);
// e1 is the default. performanceMemory is what a c1 instance offers.
var (
	instanceTypes     = []string{"e1", "c1", "fc.gpu.tesla.1", "fc.gpu.ampere.1", "g1"}
	performanceMemory = []int32{4096, 8192, 16384, 32768}
)

func customRuntime(r string) bool { return strings.HasPrefix(r, "custom") }

func (in *functionInput) apply(c *functionConfig, fc *code) {
	str := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	num := func(dst *int32, src *int32) {
		if src != nil {
			*dst = *src
		}
	}
	str(&c.Description, in.Description)
	str(&c.Runtime, in.Runtime)
	str(&c.Handler, in.Handler)
	str(&c.InstanceType, in.InstanceType)
	str(&c.Initializer, in.Initializer)
	num(&c.Timeout, in.Timeout)
	num(&c.MemorySize, in.MemorySize)
	num(&c.DiskSize, in.DiskSize)
	num(&c.InstanceConcurrency, in.InstanceConcurrency)
	num(&c.InitializationTimeout, in.InitializationTimeout)
	if in.Cpu != nil {
		c.Cpu = in.Cpu
	}
	if in.GpuMemorySize != nil {
		c.GpuMemorySize = in.GpuMemorySize
	}
	if in.InstanceSoftConcurrency != nil {
		c.InstanceSoftConcurrency = in.InstanceSoftConcurrency
	}
	if in.CaPort != nil {
		c.CaPort = in.CaPort
	}
	if in.EnvironmentVariables != nil {
		c.EnvironmentVariables = maps.Clone(in.EnvironmentVariables)
	}
	if in.CustomContainerConfig != nil {
		cc := *in.CustomContainerConfig
		cc.AccelerationInfo = nil
		if cc.AccelerationType == "" {
			cc.AccelerationType = "Default"
		}
		c.CustomContainerConfig = &cc
	}
	if in.Code != nil {
		*fc = *in.Code
	}
	if in.Layers != nil {
		c.Layers = in.Layers
	}
	for _, raw := range []struct{ dst, src *json.RawMessage }{
		{&c.InstanceLifecycleConfig, &in.InstanceLifecycleConfig}, {&c.CustomDNS, &in.CustomDNS},
		{&c.CustomHealthCheckConfig, &in.CustomHealthCheckConfig}, {&c.CustomRuntimeConfig, &in.CustomRuntimeConfig},
	} {
		if len(*raw.src) > 0 && string(*raw.src) != "null" {
			*raw.dst = *raw.src
		}
	}
	if customRuntime(c.Runtime) && c.CaPort == nil {
		port := int32(9000)
		c.CaPort = &port
	}
	if c.CustomContainerConfig != nil {
		c.CodeChecksum = checksum([]byte(c.CustomContainerConfig.Image))
		c.CodeSize = 0
	} else if in.Code != nil {
		zip, _ := base64.StdEncoding.DecodeString(fc.ZipFile)
		if len(zip) == 0 {
			zip = []byte("oss://" + fc.OssBucketName + "/" + fc.OssObjectName)
		}
		c.CodeChecksum = checksum(zip)
		c.CodeSize = int64(len(zip))
	}
}

// checksum is FC's codeChecksum: the CRC-64 (ECMA) of the code, in decimal.
func checksum(b []byte) string {
	return strconv.FormatUint(crc64.Checksum(b, crc64.MakeTable(crc64.ECMA)), 10)
}

// validate checks a function as FC does before storing it.
func (s *Server) validate(c *functionConfig, fc code) error {
	switch {
	case !functionNameRE.MatchString(c.FunctionName):
		return invalid("invalid function name '%s': it can contain letters, digits, underscores (_) and hyphens (-), cannot start with a digit or a hyphen, and must be 1 to 64 characters long", c.FunctionName)
	case c.Runtime == "":
		return invalid("runtime is required")
	case !slices.Contains(runtimes, c.Runtime):
		return invalid("runtime '%s' is not supported, valid values: %s", c.Runtime, strings.Join(runtimes, ", "))
	case c.Handler == "":
		return invalid("handler is required")
	case !slices.Contains(instanceTypes, c.InstanceType):
		return invalid("instanceType '%s' is not supported, valid values: %s", c.InstanceType, strings.Join(instanceTypes, ", "))
	case c.InstanceType == "e1" && (c.MemorySize < 128 || c.MemorySize > 3072 || c.MemorySize%64 != 0):
		return invalid("memorySize %d MB is invalid for instanceType e1 (elastic instances): it must be a multiple of 64 between 128 and 3072; choose instanceType c1 for more", c.MemorySize)
	case c.InstanceType == "c1" && !slices.Contains(performanceMemory, c.MemorySize):
		return invalid("memorySize %d MB is invalid for instanceType c1 (performance instances): valid values are 4096, 8192, 16384 and 32768", c.MemorySize)
	case c.MemorySize < 128 || c.MemorySize > 32768 || c.MemorySize%64 != 0:
		return invalid("memorySize %d MB is invalid: it must be a multiple of 64 between 128 and 32768", c.MemorySize)
	case c.Timeout < 1 || c.Timeout > 86400:
		return invalid("timeout %d is invalid: it must be between 1 and 86400 seconds", c.Timeout)
	case c.InstanceConcurrency < 1 || c.InstanceConcurrency > 200:
		return invalid("instanceConcurrency %d is invalid: it must be between 1 and 200", c.InstanceConcurrency)
	case c.DiskSize != 512 && c.DiskSize != 10240:
		return invalid("diskSize %d is invalid: valid values are 512 and 10240", c.DiskSize)
	case c.CaPort != nil && (*c.CaPort < 1 || *c.CaPort > 65535):
		return invalid("caPort %d is invalid", *c.CaPort)
	case c.CaPort != nil && !customRuntime(c.Runtime):
		return invalid("caPort is only supported by the custom and custom-container runtimes")
	}
	size := 0
	for k, v := range c.EnvironmentVariables {
		if !envKeyRE.MatchString(k) {
			return invalid("environment variable name '%s' is invalid: it must start with a letter and contain only letters, digits and underscores", k)
		}
		size += len(k) + len(v)
	}
	if size > 4096 {
		return invalid("the environment variables exceed 4 KB (%d bytes)", size)
	}
	if c.Runtime != "custom-container" {
		if c.CustomContainerConfig != nil {
			return invalid("customContainerConfig is only supported by the custom-container runtime")
		}
		if fc.ZipFile == "" && (fc.OssBucketName == "" || fc.OssObjectName == "") {
			return invalid("code is required: set zipFile, or ossBucketName and ossObjectName")
		}
		return nil
	}
	cc := c.CustomContainerConfig
	if cc == nil || cc.Image == "" {
		return invalid("customContainerConfig.image is required for the custom-container runtime")
	}
	if cc.AccelerationType != "Default" && cc.AccelerationType != "None" {
		return invalid("customContainerConfig.accelerationType must be Default or None, got '%s'", cc.AccelerationType)
	}
	for _, field := range []struct{ name, value string }{{"command", cc.Command}, {"args", cc.Args}} {
		var list []string
		if field.value != "" && json.Unmarshal([]byte(field.value), &list) != nil {
			return invalid("customContainerConfig.%s must be a JSON array of strings, got '%s'", field.name, field.value)
		}
	}
	if !s.acrImage(cc.Image) {
		return invalid("image '%s' is invalid: it must be in Alibaba Cloud Container Registry in region %s (registry.%s.aliyuncs.com/<namespace>/<repository>:<tag>, or an Enterprise Edition instance <instance>-registry.%s.cr.aliyuncs.com)",
			cc.Image, s.opts.Region, s.opts.Region, s.opts.Region)
	}
	if enterpriseImage(cc.Image) && cc.InstanceID == "" {
		return invalid("customContainerConfig.instanceID is required: image '%s' is in a Container Registry Enterprise Edition instance; give the instance's ID (cri-...)", cc.Image)
	}
	if imageTag(cc.Image) == "fail-create" {
		return invalid("failed to pull image '%s': the image cannot be pulled (emulated failure for tag fail-create)", cc.Image)
	}
	return nil
}

// acrImage reports whether image lives in Container Registry in the
// emulator's region: registry[-intl][-vpc].<region>.aliyuncs.com for the
// Personal Edition, <instance>-registry[-vpc].<region>.cr.aliyuncs.com (or any
// *.<region>.cr.aliyuncs.com host) for Enterprise Edition instances.
func (s *Server) acrImage(image string) bool {
	host, repo, ok := strings.Cut(image, "/")
	if !ok || !strings.Contains(repo, "/") || strings.HasPrefix(repo, "/") {
		return false
	}
	r := s.opts.Region
	for _, edition := range []string{"registry", "registry-vpc", "registry-intl", "registry-intl-vpc"} {
		if host == edition+"."+r+".aliyuncs.com" {
			return true
		}
	}
	return strings.HasSuffix(host, "."+r+".cr.aliyuncs.com") && len(host) > len("."+r+".cr.aliyuncs.com")
}

// enterpriseImage reports whether image lives in a Container Registry
// Enterprise Edition instance (a *.cr.aliyuncs.com host).
func enterpriseImage(image string) bool {
	host, _, _ := strings.Cut(image, "/")
	return strings.HasSuffix(host, ".cr.aliyuncs.com")
}

func imageTag(image string) string {
	name, _, _ := strings.Cut(image, "@")
	last := name[strings.LastIndex(name, "/")+1:]
	_, tag, _ := strings.Cut(last, ":")
	return tag
}

// accelerate restarts image acceleration after a create or an image change.
func (s *Server) accelerate(f *function) {
	f.readyAt = s.opts.Now().Add(s.opts.AccelerationDelay)
}

// view is the function as GetFunction shows it, with accelerationInfo.
func (s *Server) view(f *function) functionConfig {
	c := f.cfg
	if cc := c.CustomContainerConfig; cc != nil {
		cp := *cc
		if cp.AccelerationType == "Default" {
			status := "Ready"
			if s.opts.Now().Before(f.readyAt) {
				status = "Preparing"
			}
			cp.AccelerationInfo = &accelerationInfo{Status: status}
		}
		c.CustomContainerConfig = &cp
	}
	return c
}

func (s *Server) function(svcName, fnName string) (*service, *function, error) {
	svc, err := s.service(svcName)
	if err != nil {
		return nil, nil, err
	}
	f, ok := svc.functions[fnName]
	if !ok {
		return nil, nil, notFound("FunctionNotFound", "function '%s' does not exist in service '%s'", fnName, svcName)
	}
	return svc, f, nil
}

// qualifier accepts only LATEST: the emulator publishes no versions or aliases.
func qualifier(q, svc string) error {
	if q == "" || q == "LATEST" {
		return nil
	}
	return notFound("AliasNotFound", "alias '%s' of service '%s' does not exist", q, svc)
}

func (s *Server) createFunction(w http.ResponseWriter, r *http.Request, body []byte) error {
	var in functionInput
	if err := decode(body, &in); err != nil {
		return err
	}
	if in.FunctionName == nil || *in.FunctionName == "" {
		return invalid("functionName is required")
	}
	now := s.now()
	c := functionConfig{
		FunctionID: newID(), FunctionName: *in.FunctionName, Timeout: 3, MemorySize: 128, DiskSize: 512,
		InstanceType: "e1", InstanceConcurrency: 1, EnvironmentVariables: map[string]string{},
		CreatedTime: now, LastModifiedTime: now,
	}
	var fc code
	in.apply(&c, &fc)
	if err := s.validate(&c, fc); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	svc, err := s.service(r.PathValue("service"))
	if err != nil {
		return err
	}
	if _, exists := svc.functions[c.FunctionName]; exists {
		return conflict("FunctionAlreadyExists", "function '%s' already exists in service '%s'", c.FunctionName, svc.cfg.ServiceName)
	}
	if err := s.refusedImage(c.CustomContainerConfig); err != nil {
		return err
	}
	if err := s.refusedQuota("functions"); err != nil {
		return err
	}
	f := &function{cfg: c, code: fc, triggers: map[string]*trigger{}}
	s.accelerate(f)
	svc.functions[c.FunctionName] = f
	return writeJSON(w, http.StatusOK, c)
}

func (s *Server) getFunction(w http.ResponseWriter, r *http.Request, _ []byte) error {
	if err := qualifier(r.URL.Query().Get("qualifier"), r.PathValue("service")); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, f, err := s.function(r.PathValue("service"), r.PathValue("function"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.view(f))
}

func (s *Server) updateFunction(w http.ResponseWriter, r *http.Request, body []byte) error {
	var in functionInput
	if err := decode(body, &in); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, f, err := s.function(r.PathValue("service"), r.PathValue("function"))
	if err != nil {
		return err
	}
	c, fc := f.cfg, f.code
	if in.FunctionName != nil && *in.FunctionName != c.FunctionName {
		return invalid("functionName cannot be changed")
	}
	in.apply(&c, &fc)
	if err := s.validate(&c, fc); err != nil {
		return err
	}
	if in.CustomContainerConfig != nil {
		if err := s.refusedImage(c.CustomContainerConfig); err != nil {
			return err
		}
	}
	c.LastModifiedTime = s.now()
	f.cfg, f.code = c, fc
	if in.CustomContainerConfig != nil {
		s.accelerate(f)
	}
	return writeJSON(w, http.StatusOK, c)
}

// deleteFunction refuses while triggers remain, as FC does.
func (s *Server) deleteFunction(w http.ResponseWriter, r *http.Request, _ []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	svc, f, err := s.function(r.PathValue("service"), r.PathValue("function"))
	if err != nil {
		return err
	}
	if len(f.triggers) > 0 {
		return notEmpty("FunctionNotEmpty", "function '%s' has active triggers", f.cfg.FunctionName)
	}
	delete(svc.functions, f.cfg.FunctionName)
	return writeJSON(w, http.StatusNoContent, nil)
}

func (s *Server) listFunctions(w http.ResponseWriter, r *http.Request, _ []byte) error {
	if err := qualifier(r.URL.Query().Get("qualifier"), r.PathValue("service")); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	svc, err := s.service(r.PathValue("service"))
	if err != nil {
		return err
	}
	picked, next, err := page(slices.Collect(maps.Keys(svc.functions)), r.URL.Query())
	if err != nil {
		return err
	}
	out := struct {
		Functions []functionConfig `json:"functions"`
		NextToken string           `json:"nextToken,omitempty"`
	}{Functions: []functionConfig{}, NextToken: next}
	for _, n := range picked {
		out.Functions = append(out.Functions, svc.functions[n].cfg)
	}
	return writeJSON(w, http.StatusOK, out)
}
