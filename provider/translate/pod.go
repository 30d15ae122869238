package translate

import (
	"fmt"
	"sort"
	"strings"

	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Annotations users set on pods.
const (
	// AnnotationArchitecture asks for "amd64" or "arm64" when the pod has no
	// kubernetes.io/arch node selector.
	AnnotationArchitecture = "faas-kubelet.io/architecture"
)

const mib = 1024 * 1024

// FromPod translates a pod into the function that node deploys for it.
// saAnnotations are the annotations of the pod's ServiceAccount. What no
// function can run is refused with errdefs.InvalidInput naming the field.
func FromPod(pod *corev1.Pod, node string, saAnnotations map[string]string) (*Function, error) {
	if err := validatePod(pod); err != nil {
		return nil, errdefs.AsInvalidInput(err)
	}
	c := pod.Spec.Containers[0]
	fn := &Function{
		Name:                      FunctionName(pod),
		Container:                 c.Name,
		Image:                     c.Image,
		Command:                   c.Command,
		Args:                      c.Args,
		WorkingDir:                c.WorkingDir,
		Annotations:               copyMap(pod.Annotations),
		ServiceAccountAnnotations: copyMap(saAnnotations),
		Tags:                      Tags(pod, node),
		Description:               Description(pod, node),
	}
	fn.Env, fn.ServiceLinks, fn.Notes = splitEnv(pod, &c)
	if note := probeNote(&c); note != "" {
		fn.Notes = append(fn.Notes, note)
	}
	if d := pod.Spec.ActiveDeadlineSeconds; d != nil && *d > 0 {
		fn.ActiveDeadlineSeconds = *d
	}
	if q, field := quantity(c.Resources, corev1.ResourceMemory); q != nil {
		fn.MemoryMiB = ceilMiB(q)
		fn.MemoryField = field
	}
	if q, _ := quantity(c.Resources, corev1.ResourceEphemeralStorage); q != nil {
		fn.EphemeralStorageMiB = ceilMiB(q)
	}
	for _, p := range c.Ports {
		fn.Ports = append(fn.Ports, p.ContainerPort)
	}
	fn.Architecture = pod.Spec.NodeSelector[corev1.LabelArchStable]
	if a := pod.Annotations[AnnotationArchitecture]; a != "" {
		fn.Architecture = a
	}
	if fn.Architecture != "" && fn.Architecture != "amd64" && fn.Architecture != "arm64" {
		return nil, errdefs.InvalidInputf("metadata.annotations[%s]: architecture %q is not amd64 or arm64", AnnotationArchitecture, fn.Architecture)
	}
	return fn, nil
}

// Tags are the pod's identity and labels, as the cloud tags its function.
func Tags(pod *corev1.Pod, node string) map[string]string {
	tags := map[string]string{}
	for k, v := range pod.Labels {
		tags[k] = v
	}
	tags[TagPodUID] = string(pod.UID)
	tags[TagPodNamespace] = pod.Namespace
	tags[TagPodName] = pod.Name
	tags[TagNode] = node
	return tags
}

func validatePod(pod *corev1.Pod) error {
	spec := &pod.Spec
	switch {
	case len(spec.Containers) != 1:
		return fmt.Errorf("spec.containers: a function runs exactly one container; this pod has %d", len(spec.Containers))
	case len(spec.InitContainers) > 0:
		return fmt.Errorf("spec.initContainers: functions have no init containers (%s)", spec.InitContainers[0].Name)
	case spec.HostNetwork:
		return fmt.Errorf("spec.hostNetwork: functions have no host network")
	case spec.HostPID:
		return fmt.Errorf("spec.hostPID: functions have no host PID namespace")
	case spec.HostIPC:
		return fmt.Errorf("spec.hostIPC: functions have no host IPC namespace")
	}
	for i, v := range spec.Volumes {
		if isTokenVolume(v) {
			continue // a token volume Kubernetes or an identity webhook added (see splitEnv)
		}
		return fmt.Errorf("spec.volumes[%d].%s: functions cannot mount volumes (volume %q)", i, volumeSource(v), v.Name)
	}
	c := &spec.Containers[0]
	p := "spec.containers[0]"
	if c.Image == "" {
		return fmt.Errorf("%s.image: an image is required", p)
	}
	if sc := c.SecurityContext; sc != nil {
		if sc.Privileged != nil && *sc.Privileged {
			return fmt.Errorf("%s.securityContext.privileged: functions cannot run privileged", p)
		}
		if sc.Capabilities != nil && len(sc.Capabilities.Add) > 0 {
			return fmt.Errorf("%s.securityContext.capabilities.add: functions cannot gain capabilities (%s)", p, sc.Capabilities.Add[0])
		}
	}
	tokens := map[string]bool{}
	for _, v := range spec.Volumes {
		if isTokenVolume(v) {
			tokens[v.Name] = true
		}
	}
	for i, m := range c.VolumeMounts {
		if tokens[m.Name] {
			continue
		}
		return fmt.Errorf("%s.volumeMounts[%d]: functions cannot mount volumes (%s)", p, i, m.MountPath)
	}
	if len(c.VolumeDevices) > 0 {
		return fmt.Errorf("%s.volumeDevices: functions have no block devices", p)
	}
	if c.Stdin {
		return fmt.Errorf("%s.stdin: functions have no interactive console", p)
	}
	if c.TTY {
		return fmt.Errorf("%s.tty: functions have no interactive console", p)
	}
	for i, port := range c.Ports {
		if port.HostPort != 0 {
			return fmt.Errorf("%s.ports[%d].hostPort: functions have no host ports", p, i)
		}
		if port.Protocol != "" && port.Protocol != corev1.ProtocolTCP {
			return fmt.Errorf("%s.ports[%d].protocol: functions serve HTTP over TCP only, not %s", p, i, port.Protocol)
		}
	}
	if len(c.Ports) > 1 {
		return fmt.Errorf("%s.ports: a function has one HTTP endpoint; this container declares %d ports", p, len(c.Ports))
	}
	return nil
}

func volumeSource(v corev1.Volume) string {
	switch {
	case v.HostPath != nil:
		return "hostPath"
	case v.EmptyDir != nil:
		return "emptyDir"
	case v.PersistentVolumeClaim != nil:
		return "persistentVolumeClaim"
	case v.ConfigMap != nil:
		return "configMap"
	case v.Secret != nil:
		return "secret"
	case v.Projected != nil:
		return "projected"
	case v.NFS != nil:
		return "nfs"
	default:
		return "volumeSource"
	}
}

// quantity returns the limit, else the request, and the field it came from.
func quantity(r corev1.ResourceRequirements, name corev1.ResourceName) (*resource.Quantity, string) {
	if q, ok := r.Limits[name]; ok {
		return &q, "spec.containers[0].resources.limits." + string(name)
	}
	if q, ok := r.Requests[name]; ok {
		return &q, "spec.containers[0].resources.requests." + string(name)
	}
	return nil, ""
}

func ceilMiB(q *resource.Quantity) int64 {
	return (q.Value() + mib - 1) / mib
}

func copyMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out[k] = m[k]
	}
	return out
}

// MaxDescription is the longest description a function may have: Lambda's
// Description and Function Compute's service description both take at most
// 256 characters (Lambda API reference, CreateFunction; FC CreateService).
const MaxDescription = 256

// descriptionCut ends a description whose pod name was cut to fit: a pod
// name (a DNS subdomain) never ends with a dot.
const descriptionCut = "..."

// Description names the pod that owns a function, for listings that carry no
// tags: "faas-kubelet pod <namespace>/<name> uid=<uid> node=<node>". A pod
// whose namespace and name make that longer than MaxDescription (names go
// up to 253 characters) is described as "faas-kubelet uid=<uid>
// node=<node> pod=<namespace>/<name>", the name cut to fit and ending in
// "...": the owner's UID and node, which listings are read by, always
// survive, where cutting the first form would lose them and with them the
// function (never listed as the node's, never found as an orphan).
func Description(pod *corev1.Pod, node string) string {
	d := fmt.Sprintf("faas-kubelet pod %s/%s uid=%s node=%s", pod.Namespace, pod.Name, pod.UID, node)
	if len(d) <= MaxDescription {
		return d
	}
	d = fmt.Sprintf("faas-kubelet uid=%s node=%s pod=%s/%s", pod.UID, node, pod.Namespace, pod.Name)
	if len(d) > MaxDescription {
		d = d[:max(MaxDescription-len(descriptionCut), 0)] + descriptionCut
	}
	return d
}

// SpecDigestKey is the owner key (see ParseDescription) of the digest of
// the spec a function was deployed from, as its backend wrote it where the
// cloud's listing shows it (the description, a tag): a restart that finds
// the digest of the pod's spec there adopts the function from the listing,
// with no call of its own.
const SpecDigestKey = "faas-kubelet.io/spec"

// SealDescription adds digest (" spec=<digest>") to a description written
// by Description, still within MaxDescription: the short form takes it at
// its end; when that would not fit, the long form takes it before the pod's
// name, which is cut to fit. digest "" removes it (Unseal).
func SealDescription(d, digest string) string {
	d = UnsealDescription(d)
	if digest == "" || strings.ContainsAny(digest, " ") {
		return d
	}
	owner, ok := ParseDescription(d)
	if !ok {
		return d
	}
	if strings.HasPrefix(d, "faas-kubelet pod ") {
		if s := d + " spec=" + digest; len(s) <= MaxDescription {
			return s
		}
		pod, _, _ := strings.Cut(strings.TrimPrefix(d, "faas-kubelet pod "), " uid=")
		d = fmt.Sprintf("faas-kubelet uid=%s node=%s pod=%s", owner[TagPodUID], owner[TagNode], pod)
	}
	head, pod, _ := strings.Cut(d, " pod=")
	s := head + " spec=" + digest + " pod=" + pod
	if len(s) > MaxDescription {
		s = strings.TrimSuffix(s, descriptionCut)
		s = s[:max(MaxDescription-len(descriptionCut), 0)] + descriptionCut
	}
	return s
}

// UnsealDescription is d without the spec digest SealDescription added.
func UnsealDescription(d string) string {
	i := strings.Index(d, " spec=")
	if i < 0 || !strings.HasPrefix(d, "faas-kubelet ") {
		return d
	}
	end := strings.IndexByte(d[i+1:], ' ')
	if end < 0 {
		return d[:i]
	}
	return d[:i] + d[i+1+end:]
}

// ParseDescription reads the owner written by Description, as tags, with
// the spec digest SealDescription added under SpecDigestKey. When the
// pod's name was cut to fit, TagPodName is left out: the owner is known by
// its UID and node only (see NamedFor).
func ParseDescription(d string) (map[string]string, bool) {
	if rest, ok := strings.CutPrefix(d, "faas-kubelet uid="); ok {
		uid, rest, ok := strings.Cut(rest, " node=")
		if !ok || uid == "" || strings.ContainsAny(uid, " ") {
			return nil, false
		}
		node, pod, ok := strings.Cut(rest, " pod=")
		if !ok || node == "" {
			return nil, false
		}
		node, spec, sealed := strings.Cut(node, " spec=")
		if node == "" || strings.ContainsAny(node, " ") || (sealed && (spec == "" || strings.ContainsAny(spec, " "))) {
			return nil, false
		}
		owner := map[string]string{TagPodUID: uid, TagNode: node}
		if sealed {
			owner[SpecDigestKey] = spec
		}
		if cut, ok := strings.CutSuffix(pod, descriptionCut); ok {
			if ns, _, ok := strings.Cut(cut, "/"); ok {
				owner[TagPodNamespace] = ns
			}
			return owner, true
		}
		ns, name, ok := strings.Cut(pod, "/")
		if !ok || strings.ContainsAny(pod, " ") {
			return nil, false
		}
		owner[TagPodNamespace], owner[TagPodName] = ns, name
		return owner, true
	}
	var ns, name, uid, node string
	rest, ok := strings.CutPrefix(d, "faas-kubelet pod ")
	if !ok {
		return nil, false
	}
	fields := strings.Fields(rest)
	spec := ""
	if len(fields) == 4 {
		var ok bool
		if spec, ok = strings.CutPrefix(fields[3], "spec="); !ok || spec == "" {
			return nil, false
		}
		fields = fields[:3]
	}
	if len(fields) != 3 {
		return nil, false
	}
	ns, name, ok = strings.Cut(fields[0], "/")
	uid, ok2 := strings.CutPrefix(fields[1], "uid=")
	node, ok3 := strings.CutPrefix(fields[2], "node=")
	if !ok || !ok2 || !ok3 || uid == "" || node == "" {
		return nil, false
	}
	owner := map[string]string{TagPodNamespace: ns, TagPodName: name, TagPodUID: uid, TagNode: node}
	if spec != "" {
		owner[SpecDigestKey] = spec
	}
	return owner, true
}
