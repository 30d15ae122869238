package translate

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PodStatus is the pod status a kubelet would report for a pod whose
// function is in the given state.
func PodStatus(pod *corev1.Pod, fn *FunctionState, now time.Time) corev1.PodStatus {
	t := nowTime(now)
	start := pod.Status.StartTime
	if start == nil {
		start = &t
	}
	status := corev1.PodStatus{StartTime: start, QOSClass: corev1.PodQOSBestEffort}
	if pod.Status.QOSClass != "" {
		status.QOSClass = pod.Status.QOSClass
	}
	ready := corev1.ConditionFalse
	switch fn.Phase {
	case PhaseActive:
		status.Phase = corev1.PodRunning
		ready = corev1.ConditionTrue
	case PhaseFailed:
		status.Phase = corev1.PodFailed
		status.Reason = fn.Reason
		status.Message = fn.Message
	default:
		status.Phase = corev1.PodPending
	}
	started := metav1.NewTime(fn.Created.Truncate(time.Second))
	if fn.Created.IsZero() {
		started = t
	}
	for _, c := range pod.Spec.Containers {
		cs := corev1.ContainerStatus{Name: c.Name, Image: c.Image, ImageID: fn.ImageID, Ready: ready == corev1.ConditionTrue}
		switch fn.Phase {
		case PhaseActive:
			cs.Started = boolPtr(true)
			cs.State.Running = &corev1.ContainerStateRunning{StartedAt: started}
		case PhaseFailed:
			cs.Started = boolPtr(false)
			cs.State.Terminated = &corev1.ContainerStateTerminated{ExitCode: 1, Reason: fn.Reason, Message: fn.Message, StartedAt: started, FinishedAt: t}
		default:
			cs.Started = boolPtr(false)
			cs.State.Waiting = &corev1.ContainerStateWaiting{Reason: "FunctionPending", Message: fn.Message}
		}
		status.ContainerStatuses = append(status.ContainerStatuses, cs)
	}
	status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: t},
		{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: t},
		{Type: corev1.PodReadyToStartContainers, Status: corev1.ConditionTrue, LastTransitionTime: t},
		{Type: corev1.ContainersReady, Status: ready, LastTransitionTime: t},
		{Type: corev1.PodReady, Status: ready, LastTransitionTime: t},
	}
	return status
}

// TerminatedStatus is the final status of a pod whose function was deleted.
func TerminatedStatus(pod *corev1.Pod, now time.Time) corev1.PodStatus {
	t := nowTime(now)
	status := *pod.Status.DeepCopy()
	if status.Phase != corev1.PodFailed {
		status.Phase = corev1.PodSucceeded
	}
	for i := range status.ContainerStatuses {
		cs := &status.ContainerStatuses[i]
		if cs.State.Terminated != nil {
			continue
		}
		started := t
		if cs.State.Running != nil {
			started = cs.State.Running.StartedAt
		}
		cs.Ready = false
		cs.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 0, Reason: "Completed", Message: "function deleted", StartedAt: started, FinishedAt: t,
		}}
	}
	for i := range status.Conditions {
		if status.Conditions[i].Type == corev1.PodReady || status.Conditions[i].Type == corev1.ContainersReady {
			status.Conditions[i].Status = corev1.ConditionFalse
			status.Conditions[i].LastTransitionTime = t
		}
	}
	return status
}

func boolPtr(b bool) *bool { return &b }

// nowTime truncates to seconds, as the API server stores times.
func nowTime(t time.Time) metav1.Time { return metav1.NewTime(t.Truncate(time.Second)) }
