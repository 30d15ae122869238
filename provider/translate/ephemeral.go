package translate

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// The state a debug container (kubectl debug's ephemeral container) shows:
// a function has no shell, processes or namespaces to join, so none is
// ever started. It ends at once, before it ran, as a container whose
// command cannot be invoked: exit code 126, as exec's own refusal (see
// provider/exec.go).
const (
	ReasonFunctionHasNoShell       = "FunctionHasNoShell"
	ExitNoShell              int32 = 126
)

// NoShellMessage is what a debug container's status and event say: why it
// did not start, and how a function is reached instead.
func NoShellMessage(pod *corev1.Pod, container string) string {
	return fmt.Sprintf("pod %s/%s runs as function %s, which has no shell or processes to attach to: debug container %s was not started and the function was left as it is. "+
		"Invoke the function instead: kubectl exec -i %s -- invoke < payload.json (its logs: kubectl logs %s)",
		pod.Namespace, pod.Name, FunctionName(pod), container, pod.Name, pod.Name)
}

// EphemeralContainerStatuses is the status of pod's ephemeral containers:
// those prev already shows keep it (a terminated container never changes),
// and each of pod.Spec.EphemeralContainers that has none ends at once,
// terminated with ReasonFunctionHasNoShell. A terminated state is what
// makes kubectl debug -it stop waiting (a waiting one keeps it waiting
// for good). added names the containers given a status now. pod may carry
// no ephemeral containers (a record of the pod that keeps none): prev is
// kept as it is.
func EphemeralContainerStatuses(pod *corev1.Pod, prev []corev1.ContainerStatus, now time.Time) (out []corev1.ContainerStatus, added []string) {
	t := nowTime(now)
	seen := make(map[string]bool, len(prev))
	for _, s := range prev {
		out = append(out, *s.DeepCopy())
		seen[s.Name] = true
	}
	for _, c := range pod.Spec.EphemeralContainers {
		if seen[c.Name] {
			continue
		}
		seen[c.Name] = true
		added = append(added, c.Name)
		out = append(out, corev1.ContainerStatus{
			Name:    c.Name,
			Image:   c.Image,
			Started: boolPtr(false),
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: ExitNoShell, Reason: ReasonFunctionHasNoShell, Message: NoShellMessage(pod, c.Name), StartedAt: t, FinishedAt: t,
			}},
		})
	}
	return out, added
}

// WithoutEphemeralContainers is pod without its ephemeral containers (pod
// itself when it has none): what its function is made of. Kubernetes adds
// them to a running pod only (kubectl debug), and never removes them.
func WithoutEphemeralContainers(pod *corev1.Pod) *corev1.Pod {
	if len(pod.Spec.EphemeralContainers) == 0 {
		return pod
	}
	out := pod.DeepCopy()
	out.Spec.EphemeralContainers = nil
	return out
}
