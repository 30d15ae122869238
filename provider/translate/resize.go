package translate

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
)

// In-place resize, as the kubelet reports it (Kubernetes 1.35,
// pkg/kubelet/allocation handlePodResourcesResize and the status manager's
// resize conditions): a change of a running container's resources is
// allocated, then actuated. A pod's status shows, per container,
// allocatedResources (the requests allocated) and resources (the requests
// and limits that run); PodResizeInProgress while an allocated resize
// rolls in, PodResizePending with reason Infeasible when the node cannot
// take it. A resize never restarts, replaces or fails the pod.

// The kubelet's resize events (pkg/kubelet/events).
const (
	EventResizeStarted    = "ResizeStarted"
	EventResizeCompleted  = "ResizeCompleted"
	EventResizeInfeasible = "ResizeInfeasible"
)

// Allocated is the resources the status shows allocated to the named
// container, and whether it shows any.
func Allocated(status corev1.PodStatus, container string) (corev1.ResourceRequirements, bool) {
	for _, s := range status.ContainerStatuses {
		if s.Name == container && s.Resources != nil {
			return *s.Resources.DeepCopy(), true
		}
	}
	return corev1.ResourceRequirements{}, false
}

// Allocate shows r as the named container's resources: allocatedResources
// are its requests (the kubelet's Container.Resources.Requests), resources
// its requests and limits. A container whose resources are empty shows
// none.
func Allocate(status *corev1.PodStatus, container string, r corev1.ResourceRequirements) {
	for i := range status.ContainerStatuses {
		s := &status.ContainerStatuses[i]
		if s.Name != container {
			continue
		}
		s.Resources, s.AllocatedResources = nil, nil
		if len(r.Requests) == 0 && len(r.Limits) == 0 {
			return
		}
		s.Resources = &corev1.ResourceRequirements{Requests: r.Requests.DeepCopy(), Limits: r.Limits.DeepCopy()}
		if len(r.Requests) > 0 {
			s.AllocatedResources = r.Requests.DeepCopy()
		}
	}
}

// CarryAllocation shows in status (freshly made from the function's state)
// the resources prev showed for each container of the same name.
func CarryAllocation(status *corev1.PodStatus, prev corev1.PodStatus) {
	for i := range status.ContainerStatuses {
		s := &status.ContainerStatuses[i]
		for _, p := range prev.ContainerStatuses {
			if p.Name == s.Name {
				if p.Resources != nil {
					s.Resources = p.Resources.DeepCopy()
				}
				s.AllocatedResources = p.AllocatedResources.DeepCopy()
			}
		}
	}
}

// SameResources says whether two containers ask for the same requests and
// limits (1Gi and 1024Mi are the same).
func SameResources(a, b corev1.ResourceRequirements) bool {
	return apiequality.Semantic.DeepEqual(nonEmpty(a.Requests), nonEmpty(b.Requests)) &&
		apiequality.Semantic.DeepEqual(nonEmpty(a.Limits), nonEmpty(b.Limits))
}

func nonEmpty(l corev1.ResourceList) corev1.ResourceList {
	if len(l) == 0 {
		return nil
	}
	return l
}

// WithResources is pod with its first container's resources replaced by
// r: the pod as it runs while a resize is not applied.
func WithResources(pod *corev1.Pod, r corev1.ResourceRequirements) *corev1.Pod {
	out := pod.DeepCopy()
	out.Spec.Containers[0].Resources.Requests = r.Requests.DeepCopy()
	out.Spec.Containers[0].Resources.Limits = r.Limits.DeepCopy()
	return out
}

// ResizeCondition returns the status's condition of type t
// (PodResizePending or PodResizeInProgress), nil if it has none.
func ResizeCondition(status corev1.PodStatus, t corev1.PodConditionType) *corev1.PodCondition {
	if c := findCondition(status.Conditions, t); c != nil {
		return c.DeepCopy()
	}
	return nil
}

// SetResizeCondition sets the condition of type t, True, with reason and
// message, for the pod's generation, as the kubelet's status manager does:
// its transition time holds while its reason does. It reports whether the
// reason or generation changed (the kubelet then records an event).
func SetResizeCondition(status *corev1.PodStatus, t corev1.PodConditionType, reason, message string, generation int64, now time.Time) bool {
	at := nowTime(now)
	c := corev1.PodCondition{Type: t, Status: corev1.ConditionTrue, Reason: reason, Message: message, ObservedGeneration: generation, LastProbeTime: at, LastTransitionTime: at}
	for i := range status.Conditions {
		old := &status.Conditions[i]
		if old.Type != t {
			continue
		}
		changed := old.Reason != reason || old.ObservedGeneration != generation
		if old.Reason == reason {
			c.LastTransitionTime = old.LastTransitionTime
		}
		if !changed && old.Message == message {
			c.LastProbeTime = old.LastProbeTime // nothing new to report
		}
		*old = c
		return changed
	}
	status.Conditions = append(status.Conditions, c)
	return true
}

// ClearResizeCondition removes the condition of type t and reports whether
// there was one.
func ClearResizeCondition(status *corev1.PodStatus, t corev1.PodConditionType) bool {
	for i := range status.Conditions {
		if status.Conditions[i].Type == t {
			status.Conditions = append(status.Conditions[:i:i], status.Conditions[i+1:]...)
			return true
		}
	}
	return false
}

// KeepResizeConditions makes status's resize conditions those of ours
// (the status last reported): the API server's copy may not show our
// last report yet, and the resize conditions are the node's own.
func KeepResizeConditions(status *corev1.PodStatus, ours corev1.PodStatus) {
	for _, t := range []corev1.PodConditionType{corev1.PodResizePending, corev1.PodResizeInProgress} {
		ClearResizeCondition(status, t)
		if c := findCondition(ours.Conditions, t); c != nil {
			status.Conditions = append(status.Conditions, *c.DeepCopy())
		}
	}
}

// ResizeSummary is what the kubelet's resize events say of a container's
// resources: "app: requests memory=1Gi, limits memory=1Gi".
func ResizeSummary(container string, r corev1.ResourceRequirements) string {
	return fmt.Sprintf("%s: requests %s, limits %s", container, listString(r.Requests), listString(r.Limits))
}

func listString(l corev1.ResourceList) string {
	if len(l) == 0 {
		return "none"
	}
	out := ""
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage} {
		if q, ok := l[name]; ok {
			if out != "" {
				out += " "
			}
			out += string(name) + "=" + q.String()
		}
	}
	return out
}
