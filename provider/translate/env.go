package translate

import (
	"errors"
	"fmt"
	"math"
	"net"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
)

// A container's environment is resolved here as the kubelet resolves it
// (Kubernetes v1.35, pkg/kubelet/kubelet_pods.go makeEnvironmentVariables),
// before the pod is translated: the function is given the values a
// container would be started with. Virtual Kubelet's own resolution is
// turned off (it cannot resolve a pod's or node's IP, and resolves
// resourceFieldRef to nothing).

// ReasonCreateContainerConfigError is the kubelet's Waiting reason for a
// container whose environment cannot be resolved (a missing ConfigMap,
// Secret or key): the pod waits, and is tried again when the object
// appears or changes.
const ReasonCreateContainerConfigError = "CreateContainerConfigError"

// EnvSources are the objects a pod's environment may refer to. A missing
// object is an error for which apierrors.IsNotFound holds (as listers
// return it).
type EnvSources interface {
	ConfigMap(namespace, name string) (*corev1.ConfigMap, error)
	Secret(namespace, name string) (*corev1.Secret, error)
	// Services are the Services of one namespace.
	Services(namespace string) ([]*corev1.Service, error)
}

// EnvHost is what the kubelet knows of the node a pod runs on.
type EnvHost struct {
	// IP is the node's address: a pod's status.podIP and status.hostIP (and
	// the single address of podIPs and hostIPs), as its status reports them
	// (see Host). Empty: those fields resolve to "".
	IP string
	// Allocatable is the node's allocatable resources: a resourceFieldRef
	// to a limit the container does not set resolves to it.
	Allocatable corev1.ResourceList
}

// EnvError is an environment that cannot be resolved; Field names the pod
// field ("spec.containers[0].env[2].valueFrom.configMapKeyRef"). Its text
// names objects and keys, never values.
type EnvError struct {
	Field string
	Err   error
}

func (e *EnvError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *EnvError) Unwrap() error { return e.Err }

// ResolveEnv returns a copy of pod whose containers' (and init
// containers') environment is resolved: each Env holds name/value pairs
// only, sorted by name, and EnvFrom is empty. pod is not changed.
//
// As the kubelet does: envFrom is read first (a Secret's or ConfigMap's
// keys, with the prefix, as they are: no key is skipped), then env, which
// overrides it; a value's $(VAR) references are expanded from the
// variables defined so far and the Service variables ($$ is a literal $,
// an unknown reference stays as written); valueFrom reads a ConfigMap or
// Secret key, a field of the pod, or a resource of a container; and the
// Service variables (see ServiceEnv) are added under every name not
// already set. An optional source that is missing is left out. Anything
// else that cannot be resolved is an *EnvError, the first one found.
func ResolveEnv(pod *corev1.Pod, host EnvHost, src EnvSources) (*corev1.Pod, error) {
	if src == nil {
		src = noSources{}
	}
	services, err := ServiceEnv(pod, src)
	if err != nil {
		return nil, &EnvError{Field: "spec.enableServiceLinks", Err: err}
	}
	out := pod.DeepCopy()
	r := &envResolver{pod: pod, host: host, src: src, services: services,
		configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{}}
	for _, list := range []struct {
		path       string
		containers []corev1.Container
	}{{"spec.initContainers", out.Spec.InitContainers}, {"spec.containers", out.Spec.Containers}} {
		for i := range list.containers {
			c := &list.containers[i]
			env, err := r.container(fmt.Sprintf("%s[%d]", list.path, i), c)
			if err != nil {
				return nil, err
			}
			c.Env, c.EnvFrom = env, nil
		}
	}
	return out, nil
}

type envResolver struct {
	pod        *corev1.Pod
	host       EnvHost
	src        EnvSources
	services   map[string]string
	configMaps map[string]*corev1.ConfigMap
	secrets    map[string]*corev1.Secret
}

func (r *envResolver) container(path string, c *corev1.Container) ([]corev1.EnvVar, error) {
	env := map[string]string{}
	for i, from := range c.EnvFrom {
		switch {
		case from.ConfigMapRef != nil:
			field := fmt.Sprintf("%s.envFrom[%d].configMapRef", path, i)
			cm, err := r.configMap(from.ConfigMapRef.Name)
			if err != nil {
				if apierrors.IsNotFound(err) && isTrue(from.ConfigMapRef.Optional) {
					continue
				}
				return nil, &EnvError{Field: field, Err: err}
			}
			for k, v := range cm.Data {
				env[from.Prefix+k] = v
			}
		case from.SecretRef != nil:
			field := fmt.Sprintf("%s.envFrom[%d].secretRef", path, i)
			s, err := r.secret(from.SecretRef.Name)
			if err != nil {
				if apierrors.IsNotFound(err) && isTrue(from.SecretRef.Optional) {
					continue
				}
				return nil, &EnvError{Field: field, Err: err}
			}
			for k, v := range s.Data {
				env[from.Prefix+k] = string(v)
			}
		}
	}
	for i, e := range c.Env {
		field := fmt.Sprintf("%s.env[%d]", path, i)
		value, ok, err := r.value(field, c, e, env)
		if err != nil {
			return nil, err
		}
		if ok {
			env[e.Name] = value
		}
	}
	for k, v := range r.services {
		if _, set := env[k]; !set {
			env[k] = v
		}
	}
	names := make([]string, 0, len(env))
	for k := range env {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make([]corev1.EnvVar, 0, len(names))
	for _, k := range names {
		out = append(out, corev1.EnvVar{Name: k, Value: env[k]})
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// value resolves one env entry; ok is false for an optional source that is
// missing (the variable is left out).
func (r *envResolver) value(field string, c *corev1.Container, e corev1.EnvVar, defined map[string]string) (string, bool, error) {
	if e.Value != "" {
		return Expand(e.Value, func(name string) (string, bool) {
			if v, ok := defined[name]; ok {
				return v, true
			}
			v, ok := r.services[name]
			return v, ok
		}), true, nil
	}
	from := e.ValueFrom
	switch {
	case from == nil:
		return "", true, nil
	case from.FieldRef != nil:
		v, err := r.fieldRef(from.FieldRef)
		if err != nil {
			return "", false, &EnvError{Field: field + ".valueFrom.fieldRef", Err: err}
		}
		return v, true, nil
	case from.ResourceFieldRef != nil:
		v, err := r.resourceFieldRef(from.ResourceFieldRef, c)
		if err != nil {
			return "", false, &EnvError{Field: field + ".valueFrom.resourceFieldRef", Err: err}
		}
		return v, true, nil
	case from.ConfigMapKeyRef != nil:
		ref := from.ConfigMapKeyRef
		field += ".valueFrom.configMapKeyRef"
		cm, err := r.configMap(ref.Name)
		if err != nil {
			if apierrors.IsNotFound(err) && isTrue(ref.Optional) {
				return "", false, nil
			}
			return "", false, &EnvError{Field: field, Err: err}
		}
		v, ok := cm.Data[ref.Key]
		if !ok {
			if isTrue(ref.Optional) {
				return "", false, nil
			}
			return "", false, &EnvError{Field: field, Err: fmt.Errorf("couldn't find key %s in ConfigMap %s/%s", ref.Key, r.pod.Namespace, ref.Name)}
		}
		return v, true, nil
	case from.SecretKeyRef != nil:
		ref := from.SecretKeyRef
		field += ".valueFrom.secretKeyRef"
		s, err := r.secret(ref.Name)
		if err != nil {
			if apierrors.IsNotFound(err) && isTrue(ref.Optional) {
				return "", false, nil
			}
			return "", false, &EnvError{Field: field, Err: err}
		}
		v, ok := s.Data[ref.Key]
		if !ok {
			if isTrue(ref.Optional) {
				return "", false, nil
			}
			return "", false, &EnvError{Field: field, Err: fmt.Errorf("couldn't find key %s in Secret %s/%s", ref.Key, r.pod.Namespace, ref.Name)}
		}
		return string(v), true, nil
	case from.FileKeyRef != nil:
		return "", false, &EnvError{Field: field + ".valueFrom.fileKeyRef", Err: errors.New("functions mount no volumes to read variables from")}
	}
	return "", true, nil
}

func (r *envResolver) configMap(name string) (*corev1.ConfigMap, error) {
	if cm, ok := r.configMaps[name]; ok {
		return cm, nil
	}
	cm, err := r.src.ConfigMap(r.pod.Namespace, name)
	if err != nil {
		return nil, sourceError("configmap", name, err)
	}
	r.configMaps[name] = cm
	return cm, nil
}

func (r *envResolver) secret(name string) (*corev1.Secret, error) {
	if s, ok := r.secrets[name]; ok {
		return s, nil
	}
	s, err := r.src.Secret(r.pod.Namespace, name)
	if err != nil {
		return nil, sourceError("secret", name, err)
	}
	r.secrets[name] = s
	return s, nil
}

// sourceError says that an object could not be read, keeping it NotFound
// when it is, in the lister's words (`configmap "x" not found`).
func sourceError(kind, name string, err error) error {
	if apierrors.IsNotFound(err) {
		return apierrors.NewNotFound(schemaResource(kind), name)
	}
	return fmt.Errorf("reading %s %q: %w", kind, name, err)
}

// fieldRef resolves a fieldRef as the kubelet does: the field paths the
// Downward API accepts for env, with the pod's and the node's address
// being the node's.
func (r *envResolver) fieldRef(fs *corev1.ObjectFieldSelector) (string, error) {
	if v := fs.APIVersion; v != "" && v != "v1" {
		return "", fmt.Errorf("unsupported pod version: %s", v)
	}
	pod := r.pod
	if path, key, ok := splitSubscript(fs.FieldPath); ok {
		switch path {
		case "metadata.annotations":
			if errs := validation.IsQualifiedName(strings.ToLower(key)); len(errs) != 0 {
				return "", fmt.Errorf("invalid key subscript in %s: %s", fs.FieldPath, strings.Join(errs, ";"))
			}
			return pod.Annotations[key], nil
		case "metadata.labels":
			if errs := validation.IsQualifiedName(key); len(errs) != 0 {
				return "", fmt.Errorf("invalid key subscript in %s: %s", fs.FieldPath, strings.Join(errs, ";"))
			}
			return pod.Labels[key], nil
		}
		return "", fmt.Errorf("field label does not support subscript: %s", fs.FieldPath)
	}
	switch fs.FieldPath {
	case "metadata.annotations":
		return formatMap(pod.Annotations), nil
	case "metadata.labels":
		return formatMap(pod.Labels), nil
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "spec.nodeName", "spec.host":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs":
		// One address, the node's: each list has it alone.
		return r.host.IP, nil
	case "spec.restartPolicy", "spec.schedulerName", "status.phase":
		// Downward API field labels, but not for env (the API server
		// refuses them there); the kubelet cannot resolve them either.
		return "", fmt.Errorf("unsupported fieldPath: %s", fs.FieldPath)
	}
	return "", fmt.Errorf("field label not supported: %s", fs.FieldPath)
}

// splitSubscript splits "metadata.labels['key']" into its path and key.
func splitSubscript(fieldPath string) (string, string, bool) {
	s, ok := strings.CutSuffix(fieldPath, "']")
	if !ok {
		return fieldPath, "", false
	}
	path, key, ok := strings.Cut(s, "['")
	if !ok || path == "" {
		return fieldPath, "", false
	}
	return path, key, true
}

// formatMap is the Downward API's form of a whole map: key="value" lines,
// keys in order, values quoted as Go quotes them.
func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(m[k]))
	}
	return b.String()
}

// resourceFieldRef resolves a resource of c (or of the container it
// names) as the kubelet does (pkg/api/v1/resource): the quantity divided
// by the divisor (1 when unset), rounded up. A cpu, memory or
// ephemeral-storage limit the container does not set is the pod's limit
// (pod-level resources), else the node's allocatable.
func (r *envResolver) resourceFieldRef(fs *corev1.ResourceFieldSelector, c *corev1.Container) (string, error) {
	if fs.ContainerName != "" {
		found := false
		for _, list := range [][]corev1.Container{r.pod.Spec.Containers, r.pod.Spec.InitContainers} {
			for i := range list {
				if list[i].Name == fs.ContainerName {
					c, found = &list[i], true
					break
				}
			}
			if found {
				break
			}
		}
		if !found {
			return "", fmt.Errorf("container %s not found", fs.ContainerName)
		}
	}
	divisor := fs.Divisor
	if divisor.IsZero() {
		divisor = resource.MustParse("1")
	}
	if divisor.Sign() <= 0 {
		return "", fmt.Errorf("divisor %s is not positive", divisor.String())
	}
	limits := r.limits(c)
	requests := c.Resources.Requests
	var (
		q     resource.Quantity
		milli bool
	)
	switch fs.Resource {
	case "limits.cpu":
		q, milli = limits[corev1.ResourceCPU], true
	case "requests.cpu":
		q, milli = requests[corev1.ResourceCPU], true
	case "limits.memory":
		q = limits[corev1.ResourceMemory]
	case "requests.memory":
		q = requests[corev1.ResourceMemory]
	case "limits.ephemeral-storage":
		q = limits[corev1.ResourceEphemeralStorage]
	case "requests.ephemeral-storage":
		q = requests[corev1.ResourceEphemeralStorage]
	default:
		kind, name, _ := strings.Cut(fs.Resource, ".")
		if !strings.HasPrefix(name, corev1.ResourceHugePagesPrefix) || kind != "limits" && kind != "requests" {
			return "", fmt.Errorf("unsupported container resource : %s", fs.Resource)
		}
		list := c.Resources.Requests
		if kind == "limits" {
			list = c.Resources.Limits // hugepages are never overcommitted: no default
		}
		q = list[corev1.ResourceName(name)]
	}
	var v int64
	if milli {
		v = int64(math.Ceil(float64(q.MilliValue()) / float64(divisor.MilliValue())))
	} else {
		v = int64(math.Ceil(float64(q.Value()) / float64(divisor.Value())))
	}
	return strconv.FormatInt(v, 10), nil
}

// limits are c's limits with the kubelet's defaults for the Downward API
// (defaultPodLimitsForDownwardAPI): a cpu, memory or ephemeral-storage
// limit unset or zero is the pod-level limit, else the node's allocatable.
func (r *envResolver) limits(c *corev1.Container) corev1.ResourceList {
	out := corev1.ResourceList{}
	for k, v := range c.Resources.Limits {
		out[k] = v
	}
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage} {
		if q, ok := out[name]; ok && !q.IsZero() {
			continue
		}
		alloc, ok := r.host.Allocatable[name]
		if !ok {
			continue
		}
		if pod := r.pod.Spec.Resources; pod != nil {
			if pq, ok := pod.Limits[name]; ok && !pq.IsZero() {
				alloc = pq
			}
		}
		out[name] = alloc.DeepCopy()
	}
	return out
}

// ServiceEnv are the variables the kubelet sets for Services
// (pkg/kubelet/envvars): those of the "kubernetes" Service of the default
// namespace for every pod, and with enableServiceLinks (the default) those
// of every Service of the pod's namespace, which win over it. Services
// without a cluster IP have none.
func ServiceEnv(pod *corev1.Pod, src EnvSources) (map[string]string, error) {
	if src == nil {
		src = noSources{}
	}
	byName := map[string]*corev1.Service{}
	defaults, err := src.Services(metav1.NamespaceDefault)
	if err != nil {
		return nil, fmt.Errorf("listing services: %w", err)
	}
	for _, s := range defaults {
		if s.Name == "kubernetes" && serviceIPSet(s) {
			byName[s.Name] = s
		}
	}
	if pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks {
		own := defaults
		if pod.Namespace != metav1.NamespaceDefault {
			if own, err = src.Services(pod.Namespace); err != nil {
				return nil, fmt.Errorf("listing services: %w", err)
			}
		}
		for _, s := range own {
			if serviceIPSet(s) {
				byName[s.Name] = s
			}
		}
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	env := map[string]string{}
	for _, n := range names {
		serviceVars(byName[n], env)
	}
	return env, nil
}

func serviceIPSet(s *corev1.Service) bool {
	return s.Spec.ClusterIP != corev1.ClusterIPNone && s.Spec.ClusterIP != "" && len(s.Spec.Ports) > 0
}

// serviceVars adds one Service's variables: {NAME}_SERVICE_HOST and _PORT
// (and _PORT_{PORTNAME} per named port), and the Docker link variables.
func serviceVars(s *corev1.Service, env map[string]string) {
	prefix := strings.ToUpper(strings.ReplaceAll(s.Name, "-", "_"))
	ip := s.Spec.ClusterIP
	env[prefix+"_SERVICE_HOST"] = ip
	env[prefix+"_SERVICE_PORT"] = strconv.Itoa(int(s.Spec.Ports[0].Port))
	for i, sp := range s.Spec.Ports {
		port := strconv.Itoa(int(sp.Port))
		if sp.Name != "" {
			env[prefix+"_SERVICE_PORT_"+strings.ToUpper(strings.ReplaceAll(sp.Name, "-", "_"))] = port
		}
		protocol := string(corev1.ProtocolTCP)
		if sp.Protocol != "" {
			protocol = string(sp.Protocol)
		}
		url := strings.ToLower(protocol) + "://" + net.JoinHostPort(ip, port)
		if i == 0 {
			env[prefix+"_PORT"] = url
		}
		p := prefix + "_PORT_" + port + "_" + strings.ToUpper(protocol)
		env[p] = url
		env[p+"_PROTO"] = strings.ToLower(protocol)
		env[p+"_PORT"] = port
		env[p+"_ADDR"] = ip
	}
}

// Expand replaces $(VAR) references in s as Kubernetes does
// (third_party/forked/golang/expansion): a reference lookup knows is
// replaced by its value; an unknown one, or one left open, stays as
// written; $$ is a literal $, and a $ before anything else stays.
func Expand(s string, lookup func(string) (string, bool)) string {
	var b strings.Builder
	checkpoint := 0
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			continue
		}
		b.WriteString(s[checkpoint:i])
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString("$(")
				i++
				break
			}
			name := s[i+2 : i+2+end]
			if v, ok := lookup(name); ok {
				b.WriteString(v)
			} else {
				b.WriteString("$(" + name + ")")
			}
			i += 2 + end
		default:
			b.WriteByte('$')
			b.WriteByte(s[i+1])
			i++
		}
		checkpoint = i + 1
	}
	return b.String() + s[checkpoint:]
}

// schemaResource names a kind as listers do in their NotFound errors.
func schemaResource(kind string) schema.GroupResource { return schema.GroupResource{Resource: kind} }

func isTrue(b *bool) bool { return b != nil && *b }

// noSources has no objects: every reference is missing.
type noSources struct{}

func (noSources) ConfigMap(_, name string) (*corev1.ConfigMap, error) {
	return nil, apierrors.NewNotFound(schemaResource("configmap"), name)
}
func (noSources) Secret(_, name string) (*corev1.Secret, error) {
	return nil, apierrors.NewNotFound(schemaResource("secret"), name)
}
func (noSources) Services(string) ([]*corev1.Service, error) { return nil, nil }
