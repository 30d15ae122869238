package alibaba

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	fc "github.com/alibabacloud-go/fc-open-20210406/v2/client"
	"github.com/alibabacloud-go/tea/tea"
	"github.com/virtual-kubelet/virtual-kubelet/errdefs"

	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// Pod annotations the Function Compute backend reads.
const (
	// AnnotationRole is the RAM role the pod's service runs as
	// (acs:ram::<account>:role/<name>); default the node's alibaba.role.
	AnnotationRole = "faas-kubelet.io/role-arn"
	// AnnotationTimeout is the function's timeout in seconds.
	AnnotationTimeout = "faas-kubelet.io/timeout"
	// AnnotationInstanceConcurrency is how many requests one instance serves
	// at once (instanceConcurrency).
	AnnotationInstanceConcurrency = "faas-kubelet.io/instance-concurrency"
	// AnnotationHTTPAuth is the HTTP trigger's authType: "function" (signed
	// requests only, the default) or "anonymous".
	AnnotationHTTPAuth = "faas-kubelet.io/http-auth"
	// AnnotationRegistryInstance is the ID (cri-...) of the Container
	// Registry Enterprise Edition instance the pod's image is in; default
	// the node's alibaba registry instances, by the instance name in the
	// image's host.
	AnnotationRegistryInstance = "faas-kubelet.io/acr-instance-id"
)

// Function Compute 2.0's limits for custom-container functions.
const (
	minMemoryMiB    = 128
	maxMemoryMiB    = 32768
	memoryStepMiB   = 64
	maxElasticMiB   = 3072
	defaultTimeout  = 60
	maxTimeout      = 86400
	maxConcurrency  = 200
	maxEnvBytes     = 4096
	maxTags         = 20
	maxTagKey       = 128
	maxDescription  = 256
	defaultCAPort   = 9000
	runtimeName     = "custom-container"
	triggerName     = "http"
	smallDiskMiB    = 512
	largeDiskMiB    = 10240
	reservedJobTags = 3 // room for translate.JobTags on run-once pods
)

// performanceMiB are the memory sizes of a performance instance (c1).
var performanceMiB = []int64{4096, 8192, 16384, 32768}

// acrImage matches Alibaba Cloud Container Registry, capturing the region:
// the personal edition (registry[-vpc|-intl].<region>.aliyuncs.com) and
// enterprise instances (<instance>-registry[-vpc].<region>.cr.aliyuncs.com),
// whose name it captures too.
var acrImage = regexp.MustCompile(`^(?:registry(?:-vpc|-intl|-intl-vpc)?\.([a-z0-9-]+)\.aliyuncs\.com|([a-z0-9-]+)-registry(?:-vpc)?\.([a-z0-9-]+)\.cr\.aliyuncs\.com)/`)

// imageRegion is the region of a Container Registry image ("" if it is not
// one) and, for an Enterprise Edition image, its instance's name.
func imageRegion(image string) (region, instance string) {
	m := acrImage.FindStringSubmatch(image)
	if m == nil {
		return "", ""
	}
	return m[1] + m[3], m[2]
}

var registryInstancePattern = regexp.MustCompile(`^cri-[a-z0-9]+$`)

// registryInstance is the ID FC needs to pull an Enterprise Edition image
// (customContainerConfig.instanceID: "You must specify this parameter if
// you use an image of Container Registry Enterprise Edition", API
// 2021-04-06): the pod's annotation, else the node's entry for the
// instance named in the image's host. The host names the instance, not its
// ID, so one of the two must say it.
func registryInstance(fn *translate.Function, instance string, o *Options) (string, error) {
	if id := fn.Annotations[AnnotationRegistryInstance]; id != "" {
		if !registryInstancePattern.MatchString(id) {
			return "", errdefs.InvalidInputf("metadata.annotations[%s]: %q is not a Container Registry Enterprise Edition instance ID (cri-...)", AnnotationRegistryInstance, id)
		}
		return id, nil
	}
	if id := o.RegistryInstances[instance]; id != "" {
		return id, nil
	}
	return "", errdefs.InvalidInputf("spec.containers[0].image: %s is in Container Registry Enterprise Edition instance %s, and Function Compute pulls such images only with the instance's ID: set metadata.annotations[%s] to it (cri-...), or map the instance to its ID in the node's alibaba registryInstances", fn.Image, instance, AnnotationRegistryInstance)
}

// spec is everything Deploy sends for one pod: its service, its function
// and, for a pod with a container port, its HTTP trigger.
type spec struct {
	Service  *fc.CreateServiceRequest  `json:"createService"`
	Function *fc.CreateFunctionRequest `json:"createFunction"`
	Trigger  *fc.CreateTriggerRequest  `json:"createTrigger,omitempty"`
	// Tags are written on the service (TagResource) after it is created.
	Tags  map[string]string `json:"tags"`
	Notes []string          `json:"notes,omitempty"`
}

// specFor maps a function to Function Compute's requests, refusing with
// errdefs.InvalidInput (naming the pod field) what Function Compute cannot
// run. It is pure: the golden tests pin its output.
func specFor(fn *translate.Function, o *Options) (*spec, error) {
	s := &spec{Tags: fn.Tags}
	if err := checkTags(fn.Tags); err != nil {
		return nil, err
	}
	region, instance := imageRegion(fn.Image)
	if region == "" {
		return nil, errdefs.InvalidInputf("spec.containers[0].image: Function Compute runs images only from Alibaba Cloud Container Registry (registry.<region>.aliyuncs.com/... or <instance>-registry.<region>.cr.aliyuncs.com/...), not %s", fn.Image)
	}
	if o.Region != "" && region != o.Region {
		// FC takes images only from the registry of its own region (and
		// answers InvalidArgument); the message says so for the pod.
		return nil, errdefs.InvalidInputf("spec.containers[0].image: %s is in Container Registry of region %s; Function Compute in %s runs images only from its own region's registry (it refuses others with InvalidArgument)", fn.Image, region, o.Region)
	}
	if fn.WorkingDir != "" {
		return nil, errdefs.InvalidInputf("spec.containers[0].workingDir: Function Compute custom containers start in the image's working directory; remove workingDir or set it in the image")
	}
	if fn.Architecture == "arm64" {
		return nil, errdefs.InvalidInputf("spec.nodeSelector[kubernetes.io/arch] (or metadata.annotations[%s]): Function Compute runs custom containers on amd64 only, not arm64", translate.AnnotationArchitecture)
	}
	role := fn.Annotations[AnnotationRole]
	if role == "" {
		role = o.Role
	}
	if role != "" && !rolePattern.MatchString(role) {
		return nil, errdefs.InvalidInputf("metadata.annotations[%s]: %q is not a RAM role ARN (acs:ram::<account>:role/<name>)", AnnotationRole, role)
	}
	s.Service = &fc.CreateServiceRequest{
		ServiceName:    tea.String(fn.Name),
		Description:    tea.String(truncate(fn.Description, maxDescription)),
		InternetAccess: tea.Bool(true),
	}
	if role != "" {
		s.Service.Role = tea.String(role)
	}
	if o.LogProject != "" {
		s.Service.LogConfig = &fc.LogConfig{Project: tea.String(o.LogProject), Logstore: tea.String(o.LogStore), EnableRequestMetrics: tea.Bool(true)}
	}

	ccc := &fc.CustomContainerConfig{Image: tea.String(fn.Image), AccelerationType: tea.String("Default")}
	if instance != "" {
		id, err := registryInstance(fn, instance, o)
		if err != nil {
			return nil, err
		}
		ccc.InstanceID = tea.String(id)
	}
	if len(fn.Command) > 0 {
		ccc.Command = tea.String(jsonList(fn.Command))
	}
	if len(fn.Args) > 0 {
		ccc.Args = tea.String(jsonList(fn.Args))
	}
	port := int32(defaultCAPort)
	if len(fn.Ports) == 1 {
		port = fn.Ports[0]
	}
	f := &fc.CreateFunctionRequest{
		FunctionName:          tea.String(fn.Name),
		Description:           tea.String(truncate(fn.Description, maxDescription)),
		Runtime:               tea.String(runtimeName),
		Handler:               tea.String("not-used"),
		CustomContainerConfig: ccc,
		CaPort:                tea.Int32(port),
		InstanceType:          tea.String("e1"),
		MemorySize:            tea.Int32(minMemoryMiB),
		Timeout:               tea.Int32(defaultTimeout),
	}
	if err := checkMemory(fn); err != nil {
		return nil, err
	}
	if fn.MemoryMiB != 0 {
		instanceType, mem, note := instanceFor(fn.MemoryMiB)
		if note != "" {
			s.Notes = append(s.Notes, note)
		}
		f.InstanceType, f.MemorySize = tea.String(instanceType), tea.Int32(int32(mem))
	}
	switch d := fn.EphemeralStorageMiB; {
	case d == 0:
	case d <= smallDiskMiB:
		f.DiskSize = tea.Int32(smallDiskMiB)
	case d <= largeDiskMiB:
		f.DiskSize = tea.Int32(largeDiskMiB)
	default:
		return nil, errdefs.InvalidInputf("spec.containers[0].resources.limits.ephemeral-storage: Function Compute offers at most %d MiB of disk; the pod asks for %d MiB", largeDiskMiB, d)
	}
	env, note := fn.EnvWithin(maxEnvBytes, envBytes)
	if note != "" {
		s.Notes = append(s.Notes, note)
	}
	if len(env) > 0 {
		if size := envBytes(env); size > maxEnvBytes {
			return nil, errdefs.InvalidInputf("spec.containers[0].env: Function Compute allows %d bytes of environment variables; the pod's take %d", maxEnvBytes, size)
		}
		f.EnvironmentVariables = map[string]*string{}
		for k, v := range env {
			f.EnvironmentVariables[k] = tea.String(v)
		}
	}
	if d := fn.ActiveDeadlineSeconds; d > 0 {
		// A run-once pod's deadline is its invocation's timeout.
		f.Timeout = tea.Int32(int32(min(d, maxTimeout)))
		if d > maxTimeout {
			s.Notes = append(s.Notes, fmt.Sprintf("spec.activeDeadlineSeconds is %d s; Function Compute ends an invocation after at most %d s", d, maxTimeout))
		}
	}
	if t := fn.Annotations[AnnotationTimeout]; t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 1 || n > maxTimeout {
			return nil, errdefs.InvalidInputf("metadata.annotations[%s]: timeout must be 1-%d seconds, got %q", AnnotationTimeout, maxTimeout, t)
		}
		f.Timeout = tea.Int32(int32(n))
	}
	if c := fn.Annotations[AnnotationInstanceConcurrency]; c != "" {
		n, err := strconv.Atoi(c)
		if err != nil || n < 1 || n > maxConcurrency {
			return nil, errdefs.InvalidInputf("metadata.annotations[%s]: instance concurrency must be 1-%d, got %q", AnnotationInstanceConcurrency, maxConcurrency, c)
		}
		f.InstanceConcurrency = tea.Int32(int32(n))
	}
	s.Function = f

	auth := fn.Annotations[AnnotationHTTPAuth]
	switch auth {
	case "", "function", "anonymous":
	default:
		return nil, errdefs.InvalidInputf("metadata.annotations[%s]: %q is not function or anonymous", AnnotationHTTPAuth, auth)
	}
	if len(fn.Ports) == 1 {
		if auth == "" {
			auth = "function"
		}
		cfg, _ := json.Marshal(map[string]any{"authType": auth, "methods": []string{"GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS"}})
		s.Trigger = &fc.CreateTriggerRequest{TriggerName: tea.String(triggerName), TriggerType: tea.String("http"), TriggerConfig: tea.String(string(cfg))}
	}
	return s, nil
}

// instanceFor picks the instance type for a pod's memory and the memory
// FC gives it (FC 2.0 "Instance types and usage modes"; the sizes as
// ALIYUN::FC::Function lists them): elastic instances (e1) take 128 to
// 3,072 MB in steps of 64; above that only performance instances (c1) of
// 4, 8, 16 or 32 GB. mib is within minMemoryMiB..maxMemoryMiB.
func instanceFor(mib int64) (instanceType string, mem int64, note string) {
	if mib <= maxElasticMiB {
		mem = (mib + memoryStepMiB - 1) / memoryStepMiB * memoryStepMiB
		if mem != mib {
			note = fmt.Sprintf("memory rounded up from %d to %d MiB: Function Compute sizes memory in steps of %d MiB", mib, mem, memoryStepMiB)
		}
		return "e1", mem, note
	}
	for _, mem = range performanceMiB {
		if mem >= mib {
			break
		}
	}
	if mem != mib {
		note = fmt.Sprintf("memory rounded up from %d to %d MiB: above %d MiB Function Compute runs the function on a performance instance (c1), of 4, 8, 16 or 32 GiB", mib, mem, maxElasticMiB)
	}
	return "c1", mem, note
}

// checkMemory refuses a memory Function Compute gives no function:
// instanceFor rounds what is within 128 MB and 32 GB up to a size an
// instance type offers, and nothing offers more (see instanceFor). 0 is
// the function's default, 128 MB on an elastic instance.
func checkMemory(fn *translate.Function) error {
	if fn.MemoryMiB != 0 && (fn.MemoryMiB < minMemoryMiB || fn.MemoryMiB > maxMemoryMiB) {
		return errdefs.InvalidInputf("%s: Function Compute memory must be between %d and %d MiB; the pod asks for %d MiB", fn.MemoryField, minMemoryMiB, maxMemoryMiB, fn.MemoryMiB)
	}
	return nil
}

var rolePattern = regexp.MustCompile(`^acs:ram::\d+:role/[A-Za-z0-9._-]+$`)

// checkTags refuses labels Function Compute cannot keep as tags: at most 20
// tags per service (three are kept for a run-once pod's progress), and keys
// of 1 to 128 characters that do not start with aliyun or acs: and hold no
// http:// or https:// (TagResource, API 2021-04-06). Values are not
// refused: tagValue fits every value to FC's rules.
func checkTags(tags map[string]string) error {
	if len(tags) > maxTags-reservedJobTags {
		return errdefs.InvalidInputf("metadata.labels: Function Compute allows %d tags on a service; the pod's labels and identity make %d, and %d are kept for faas-kubelet", maxTags, len(tags), reservedJobTags)
	}
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		switch {
		case utf8.RuneCountInString(k) > maxTagKey:
			return errdefs.InvalidInputf("metadata.labels[%s]: Function Compute tag keys are at most %d characters", k, maxTagKey)
		case strings.HasPrefix(k, "aliyun") || strings.HasPrefix(k, "acs:"):
			return errdefs.InvalidInputf("metadata.labels[%s]: Function Compute tag keys may not start with aliyun or acs:", k)
		case strings.Contains(strings.ToLower(k), "http://") || strings.Contains(strings.ToLower(k), "https://"):
			return errdefs.InvalidInputf("metadata.labels[%s]: Function Compute tag keys may not contain http:// or https://", k)
		}
	}
	return nil
}

// jsonList is how Function Compute takes a command or its arguments: a
// JSON array in a string.
func jsonList(v []string) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// envBytes measures an environment as Function Compute counts its 4 KB
// limit: names and values.
func envBytes(env map[string]string) int {
	n := 0
	for k, v := range env {
		n += len(k) + len(v)
	}
	return n
}
