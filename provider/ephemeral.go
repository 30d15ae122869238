package provider

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// Debug containers (kubectl debug's ephemeral containers). Kubernetes adds
// them to a running pod through the ephemeralcontainers subresource;
// Virtual Kubelet's pod informer sees spec.ephemeralContainers change
// (podShouldEnqueue compares them) and hands the pod to UpdatePod. A
// function has nothing to attach a container to, so the core never
// touches the pod or its function for one: the function is made of the
// pod without them (translate.WithoutEphemeralContainers), and each shows
// in status.ephemeralContainerStatuses terminated at once
// (translate.EphemeralContainerStatuses), with a Warning event once. The
// status is kept by every later report: record carries it from the status
// last reported, and what Virtual Kubelet writes to pods/status is that
// status whole.

// debugContainers shows pod's new ephemeral containers in status and
// returns their events (recorded once p.mu is released). Called with p.mu
// held when status is a record's.
func (p *Provider) debugContainers(status *corev1.PodStatus, prev []corev1.ContainerStatus, pod *corev1.Pod) (changed bool, events []podEvent) {
	out, added := translate.EphemeralContainerStatuses(pod, prev, p.opts.Now())
	status.EphemeralContainerStatuses = out
	for _, name := range added {
		events = append(events, podEvent{corev1.EventTypeWarning, translate.ReasonFunctionHasNoShell, translate.NoShellMessage(pod, name)})
	}
	return len(added) > 0, events
}
