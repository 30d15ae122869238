package translate

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PodStatus is the pod status a kubelet would report for a pod whose
// function is in the given state: Pending while the function is created or
// updated, Running and Ready when it is active, Failed with the cloud's
// reason when it fails. A run-once pod (a Job's) ends Succeeded (exit code 0)
// or Failed (exit code 1, the function's error as message) after its
// invocation; OnFailure retries show as restarts.
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
	started := metav1.NewTime(fn.Created.Truncate(time.Second))
	if fn.Created.IsZero() {
		started = t
	}
	var cs corev1.ContainerState
	ready := false
	switch {
	case fn.Phase == PhaseFailed:
		status.Phase, status.Reason, status.Message = corev1.PodFailed, fn.Reason, fn.Message
		cs.Terminated = &corev1.ContainerStateTerminated{ExitCode: 1, Reason: fn.Reason, Message: fn.Message, StartedAt: started, FinishedAt: t}
	case fn.Phase == PhaseActive && fn.Job.State == JobSucceeded:
		status.Phase = corev1.PodSucceeded
		cs.Terminated = &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed", StartedAt: started, FinishedAt: t}
	case fn.Phase == PhaseActive && fn.Job.State == JobFailed:
		status.Phase = corev1.PodFailed
		cs.Terminated = &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error", Message: fn.Job.Message, StartedAt: started, FinishedAt: t}
	case fn.Phase == PhaseActive:
		status.Phase = corev1.PodRunning
		ready = true
		cs.Running = &corev1.ContainerStateRunning{StartedAt: started}
	default:
		// A function being created, or one the cloud refused for now: the
		// container waits with the reason, as a kubelet's does while it
		// pulls an image or backs off.
		status.Phase = corev1.PodPending
		reason := fn.Reason
		if reason == "" {
			reason = "FunctionPending"
		}
		cs.Waiting = &corev1.ContainerStateWaiting{Reason: reason, Message: fn.Message}
	}
	for _, c := range pod.Spec.Containers {
		s := corev1.ContainerStatus{Name: c.Name, Image: c.Image, ImageID: fn.ImageID, Ready: ready, State: cs,
			Started: boolPtr(cs.Running != nil), RestartCount: fn.Job.Restarts}
		if fn.Job.Restarts > 0 {
			s.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error", Message: fn.Job.Message, StartedAt: started, FinishedAt: t}
		}
		status.ContainerStatuses = append(status.ContainerStatuses, s)
	}
	readyStatus := corev1.ConditionFalse
	if ready {
		readyStatus = corev1.ConditionTrue
	}
	status.Conditions = conditions(pod.Status.Conditions, t,
		corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
		corev1.PodCondition{Type: corev1.PodInitialized, Status: corev1.ConditionTrue},
		corev1.PodCondition{Type: corev1.PodReadyToStartContainers, Status: corev1.ConditionTrue},
		corev1.PodCondition{Type: corev1.ContainersReady, Status: readyStatus},
		corev1.PodCondition{Type: corev1.PodReady, Status: readyStatus},
	)
	return status
}

// conditions keeps a condition's LastTransitionTime while its status holds,
// as the kubelet does.
func conditions(prev []corev1.PodCondition, t metav1.Time, want ...corev1.PodCondition) []corev1.PodCondition {
	for i := range want {
		want[i].LastTransitionTime = t
		for _, p := range prev {
			if p.Type == want[i].Type && p.Status == want[i].Status && !p.LastTransitionTime.IsZero() {
				want[i].LastTransitionTime = p.LastTransitionTime
			}
		}
	}
	return want
}

// TerminatedStatus is the final status of a pod whose function was deleted.
// A pod that had finished keeps its outcome. Any other pod did not
// complete: its function was deleted under it, as a kubelet kills a
// container, so it ends Failed with exit code 137 and reason
// FunctionDeleted. A deleted pod never counts as a Job's completion.
func TerminatedStatus(pod *corev1.Pod, now time.Time) corev1.PodStatus {
	t := nowTime(now)
	status := *pod.Status.DeepCopy()
	if status.Phase == corev1.PodSucceeded || status.Phase == corev1.PodFailed {
		return status
	}
	status.Phase = corev1.PodFailed
	status.Reason, status.Message = ReasonFunctionDeleted, "the pod was deleted and its function with it"
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
		cs.Started = boolPtr(false)
		cs.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: 137, Reason: ReasonFunctionDeleted, Message: "function deleted with its pod", StartedAt: started, FinishedAt: t,
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

// ReasonFunctionDeleted ends a pod whose function was deleted before the
// pod finished.
const ReasonFunctionDeleted = "FunctionDeleted"

func boolPtr(b bool) *bool { return &b }

// nowTime truncates to seconds, as the API server stores times.
func nowTime(t time.Time) metav1.Time { return metav1.NewTime(t.Truncate(time.Second)) }
