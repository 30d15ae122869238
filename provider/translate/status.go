package translate

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Host is what a pod's status says of where it runs.
type Host struct {
	// Cloud names the backend ("aws-lambda"): the scheme of containerID,
	// as a runtime's name is ("containerd://…").
	Cloud string
	// IP is the node's address, reported as hostIP and, once the pod's
	// function exists, as podIP (the node's gateway serves the pod's
	// ports). Empty: no address is reported.
	IP string
}

// PodStatus is the pod status a kubelet would report for a pod whose
// function is in the given state: Pending while the function is created or
// updated, Running and Ready when it is active, Failed with the cloud's
// reason when it fails. A run-once pod (a Job's) ends Succeeded (exit code 0)
// or Failed after its invocation, with the exit code and reason of how the
// invocation ended (see InvocationEnd, ExitInvocationRefused) and the
// function's error as message. Under OnFailure, the wait between a failed
// attempt and the next shows as the kubelet's CrashLoopBackOff: the
// container Waiting, its last attempt as lastState, the pod Running and
// not Ready; retries count as restarts. A pod failed at its
// activeDeadlineSeconds shows the kubelet's DeadlineExceeded.
//
// pod.Status is the previous status (the API server's, or the one last
// reported): the conditions others own in it (DisruptionTarget, readiness
// gates' conditions) are kept as they are, as the kubelet keeps them, and
// Ready is True only when every readiness gate's condition is True too.
// hostIP is reported in every phase, as the kubelet reports it for a pod it
// syncs; podIP once the function exists (the kubelet's, once the pod's
// sandbox does), and a pod keeps the addresses it had when it ends.
func PodStatus(pod *corev1.Pod, fn *FunctionState, host Host, now time.Time) corev1.PodStatus {
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
		if fn.Job.State == JobFailed {
			cs.Terminated = jobTerminated(fn.Job, started, t)
		}
	case fn.Phase == PhaseActive && fn.Job.State == JobSucceeded:
		status.Phase = corev1.PodSucceeded
		cs.Terminated = &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed", StartedAt: started, FinishedAt: t}
	case fn.Phase == PhaseActive && fn.Job.State == JobFailed:
		status.Phase = corev1.PodFailed
		if fn.Job.DeadlineExceeded {
			status.Reason, status.Message = ReasonDeadlineExceeded, MessageDeadlineExceeded
		}
		cs.Terminated = jobTerminated(fn.Job, started, t)
	case fn.Phase == PhaseActive && fn.Job.State == "" && fn.Job.Restarts > 0:
		// Between a failed attempt and the next: the kubelet's
		// CrashLoopBackOff (the message is per container, below).
		status.Phase = corev1.PodRunning
		cs.Waiting = &corev1.ContainerStateWaiting{Reason: ReasonCrashLoopBackOff}
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
	backingOff := cs.Waiting != nil && cs.Waiting.Reason == ReasonCrashLoopBackOff
	for _, c := range pod.Spec.Containers {
		s := corev1.ContainerStatus{Name: c.Name, Image: c.Image, ImageID: fn.ImageID, Ready: ready, State: *cs.DeepCopy(),
			Started: boolPtr(cs.Running != nil), RestartCount: fn.Job.Restarts}
		if cs.Waiting == nil || backingOff {
			// A container backing off was created, as the kubelet's was.
			s.ContainerID = containerID(pod, c.Name, fn, host.Cloud)
		}
		if backingOff {
			s.State.Waiting.Message = BackOffMessage(fn.Job.Backoff, c.Name, pod)
		}
		if last := lastTermination(fn.Job, started, t); last != nil {
			s.LastTerminationState.Terminated = last
		}
		status.ContainerStatuses = append(status.ContainerStatuses, s)
	}
	setAddresses(&status, pod, fn, host.IP)
	var unready []string
	if !ready {
		for _, c := range pod.Spec.Containers {
			unready = append(unready, c.Name)
		}
	}
	containersReady := containersReadyCondition(status.Phase, unready)
	status.Conditions = conditions(pod.Status.Conditions, t, pod.Spec.ReadinessGates,
		corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
		corev1.PodCondition{Type: corev1.PodInitialized, Status: corev1.ConditionTrue},
		corev1.PodCondition{Type: corev1.PodReadyToStartContainers, Status: corev1.ConditionTrue},
		containersReady,
	)
	return status
}

// The kubelet's words for a pod past its active deadline
// (k8s.io/kubernetes/pkg/kubelet/active_deadline.go) and for a container
// waiting to be restarted (kuberuntime's doBackOff).
const (
	ReasonDeadlineExceeded  = "DeadlineExceeded"
	MessageDeadlineExceeded = "Pod was active on the node longer than the specified deadline"
	ReasonCrashLoopBackOff  = "CrashLoopBackOff"
)

// The exit code and reason of an invocation the cloud refused: Invoke
// failed, so the function's code reported no result (throttled, no
// permission, the function gone, the call cut off on its way). 126 is the
// shell's "found but could not be invoked", distinct from the ends the
// function's code reports (see InvocationEnd) so that a podFailurePolicy
// can tell a refusal (often worth retrying, or ignoring) from a failure of
// the code.
const (
	ExitInvocationRefused   int32 = 126
	ReasonInvocationRefused       = "InvocationRefused"
)

// The exit code and reason of an attempt in flight when the pod's active
// deadline passed: the kubelet kills the container (SIGKILL: 128+9), and
// containerd reports a non-zero exit as Error.
const (
	ExitKilled   int32 = 137
	ReasonKilled       = "Error"
)

// ReasonContainerStatusUnknown is the kubelet's reason for a container it
// can no longer find that was running (kubelet_pods.go, exit code 137): a
// Job's invocation whose outcome a restart of faas-kubelet lost.
const ReasonContainerStatusUnknown = "ContainerStatusUnknown"

// BackOffMessage is the kubelet's message for a container waiting to be
// restarted: "back-off 20s restarting failed container=app
// pod=name_namespace(uid)".
func BackOffMessage(backoff time.Duration, container string, pod *corev1.Pod) string {
	return fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)", backoff, container, pod.Name, pod.Namespace, pod.UID)
}

// jobEnd is the terminated state of the Job's last failed attempt (exit
// code 1, Error, when its end was not recorded).
func jobEnd(j Job, started, t metav1.Time) *corev1.ContainerStateTerminated {
	code, reason := j.ExitCode, j.Reason
	if code == 0 {
		code = 1
	}
	if reason == "" {
		reason = "Error"
	}
	return &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason, Message: j.Message, StartedAt: started, FinishedAt: t}
}

// jobTerminated is the container's state when the Job failed: its last
// attempt's end, or the kill of the attempt in flight at the deadline.
func jobTerminated(j Job, started, t metav1.Time) *corev1.ContainerStateTerminated {
	if j.Killed {
		return &corev1.ContainerStateTerminated{ExitCode: ExitKilled, Reason: ReasonKilled, StartedAt: started, FinishedAt: t}
	}
	return jobEnd(j, started, t)
}

// lastTermination is the container's lastState: the last failed attempt
// of a Job that retried (for an attempt killed at the deadline, the one
// before it).
func lastTermination(j Job, started, t metav1.Time) *corev1.ContainerStateTerminated {
	if j.Restarts == 0 {
		return nil
	}
	return jobEnd(j, started, t)
}

// containerID is "<cloud>://<the function's ID>", for a container that was
// created: the ID the cloud reports (Lambda: the function's ARN), else the
// one the container already had, else the function's name. A container
// whose function was never created has none.
func containerID(pod *corev1.Pod, name string, fn *FunctionState, cloud string) string {
	if fn.NotCreated || cloud == "" {
		return ""
	}
	if fn.ID != "" {
		return cloud + "://" + fn.ID
	}
	for _, s := range pod.Status.ContainerStatuses {
		if s.Name == name && s.ContainerID != "" {
			return s.ContainerID
		}
	}
	return cloud + "://" + fn.Name
}

// setAddresses reports the node's address as hostIP in every phase and as
// podIP once the function exists; addresses reported before are kept (a
// pod that ends keeps them).
func setAddresses(status *corev1.PodStatus, pod *corev1.Pod, fn *FunctionState, ip string) {
	status.HostIP, status.HostIPs = pod.Status.HostIP, pod.Status.HostIPs
	status.PodIP, status.PodIPs = pod.Status.PodIP, pod.Status.PodIPs
	if ip == "" {
		return
	}
	status.HostIP, status.HostIPs = ip, []corev1.HostIP{{IP: ip}}
	if !fn.NotCreated {
		status.PodIP, status.PodIPs = ip, []corev1.PodIP{{IP: ip}}
	}
}

// Reasons of the Ready and ContainersReady conditions, as the kubelet
// writes them (k8s.io/kubernetes/pkg/kubelet/status).
const (
	ReasonContainersNotReady     = "ContainersNotReady"
	ReasonPodCompleted           = "PodCompleted"
	ReasonReadinessGatesNotReady = "ReadinessGatesNotReady"
)

// containersReadyCondition is the kubelet's ContainersReady for the pod's
// phase and its containers that are not ready.
func containersReadyCondition(phase corev1.PodPhase, unready []string) corev1.PodCondition {
	switch {
	case phase == corev1.PodSucceeded:
		return corev1.PodCondition{Type: corev1.ContainersReady, Status: corev1.ConditionFalse, Reason: ReasonPodCompleted}
	case len(unready) > 0:
		return corev1.PodCondition{Type: corev1.ContainersReady, Status: corev1.ConditionFalse, Reason: ReasonContainersNotReady,
			Message: fmt.Sprintf("containers with unready status: %v", unready)}
	}
	return corev1.PodCondition{Type: corev1.ContainersReady, Status: corev1.ConditionTrue}
}

// readyCondition is the kubelet's Ready (GeneratePodReadyCondition): as
// ContainersReady while that is not True, then True only when every
// readiness gate's condition (among conds) is True.
func readyCondition(containersReady corev1.PodCondition, gates []corev1.PodReadinessGate, conds []corev1.PodCondition) corev1.PodCondition {
	if containersReady.Status != corev1.ConditionTrue {
		return corev1.PodCondition{Type: corev1.PodReady, Status: containersReady.Status, Reason: containersReady.Reason, Message: containersReady.Message}
	}
	var unready []string
	for _, g := range gates {
		c := findCondition(conds, g.ConditionType)
		switch {
		case c == nil:
			unready = append(unready, fmt.Sprintf("corresponding condition of pod readiness gate %q does not exist.", string(g.ConditionType)))
		case c.Status != corev1.ConditionTrue:
			unready = append(unready, fmt.Sprintf("the status of pod readiness gate %q is not \"True\", but %v", string(g.ConditionType), c.Status))
		}
	}
	if len(unready) > 0 {
		return corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: ReasonReadinessGatesNotReady, Message: strings.Join(unready, ", ")}
	}
	return corev1.PodCondition{Type: corev1.PodReady, Status: corev1.ConditionTrue}
}

// Owned says whether faas-kubelet writes a condition of this type; the
// others (DisruptionTarget, readiness gates' conditions) belong to whoever
// wrote them and are reported as the API server has them.
func Owned(t corev1.PodConditionType) bool {
	switch t {
	case corev1.PodScheduled, corev1.PodInitialized, corev1.PodReadyToStartContainers, corev1.ContainersReady, corev1.PodReady:
		return true
	}
	return false
}

// conditions is the conditions others own in prev, as they are, then ours
// (want, and Ready computed from want's ContainersReady and the readiness
// gates). A condition of ours keeps its LastTransitionTime while its
// status holds, as the kubelet's does.
func conditions(prev []corev1.PodCondition, t metav1.Time, gates []corev1.PodReadinessGate, want ...corev1.PodCondition) []corev1.PodCondition {
	out := make([]corev1.PodCondition, 0, len(prev)+len(want)+1)
	for _, c := range prev {
		if !Owned(c.Type) {
			out = append(out, c)
		}
	}
	foreign := len(out)
	out = append(out, want...)
	if cr := findCondition(want, corev1.ContainersReady); cr != nil {
		out = append(out, readyCondition(*cr, gates, out))
	}
	for i := foreign; i < len(out); i++ {
		out[i].LastTransitionTime = t
		if p := findCondition(prev, out[i].Type); p != nil && p.Status == out[i].Status && !p.LastTransitionTime.IsZero() {
			out[i].LastTransitionTime = p.LastTransitionTime
		}
	}
	return out
}

// MergeConditions is status with the conditions others own taken from api
// (the pod's conditions as the API server has them now) and Ready computed
// again for the pod's readiness gates: what the kubelet does before each
// status write, so that a condition another controller wrote after our
// last report is neither wiped nor ignored.
func MergeConditions(pod *corev1.Pod, status corev1.PodStatus, api []corev1.PodCondition, now time.Time) corev1.PodStatus {
	out := *status.DeepCopy()
	var ours []corev1.PodCondition
	for _, c := range status.Conditions {
		if Owned(c.Type) && c.Type != corev1.PodReady {
			ours = append(ours, c)
		}
	}
	if len(ours) == 0 {
		return out // not a status we made (no conditions of ours yet)
	}
	prev := make([]corev1.PodCondition, 0, len(api)+len(status.Conditions))
	for _, c := range api {
		if !Owned(c.Type) && !isResizeCondition(c.Type) {
			prev = append(prev, *c.DeepCopy())
		}
	}
	for _, c := range status.Conditions {
		if Owned(c.Type) || isResizeCondition(c.Type) {
			prev = append(prev, c)
		}
	}
	out.Conditions = conditions(prev, nowTime(now), pod.Spec.ReadinessGates, ours...)
	return out
}

func findCondition(conds []corev1.PodCondition, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}

// TerminatedStatus is the final status of a pod whose function was deleted.
// A pod that had finished keeps its outcome. Any other pod did not
// complete: its function was deleted under it, as a kubelet kills a
// container, so it ends Failed with exit code 137 and reason
// FunctionDeleted. A deleted pod never counts as a Job's completion. The
// conditions others own and the pod's addresses are kept.
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
	var names []string
	for _, cs := range status.ContainerStatuses {
		names = append(names, cs.Name)
	}
	notReady := containersReadyCondition(status.Phase, names)
	for i := range status.Conditions {
		c := &status.Conditions[i]
		if c.Type == corev1.PodReady || c.Type == corev1.ContainersReady {
			if c.Status != corev1.ConditionFalse || c.LastTransitionTime.IsZero() {
				c.LastTransitionTime = t
			}
			c.Status, c.Reason, c.Message = corev1.ConditionFalse, notReady.Reason, notReady.Message
		}
	}
	return status
}

// ReasonFunctionDeleted ends a pod whose function was deleted before the
// pod finished.
const ReasonFunctionDeleted = "FunctionDeleted"

// TerminatingStatus is the status of a pod whose deletion has begun while
// its function still serves what it was sent: as the kubelet keeps a pod
// Running until its containers exit, the pod stays Running with its
// containers running, but its function takes no new request, so the
// containers, ContainersReady and Ready are not ready (the EndpointSlice
// controller then shows the endpoint not ready, not serving, terminating).
// A pod that had finished keeps its status. The conditions others own and
// the pod's addresses are kept.
func TerminatingStatus(pod *corev1.Pod, now time.Time) corev1.PodStatus {
	t := nowTime(now)
	status := *pod.Status.DeepCopy()
	if status.Phase == corev1.PodSucceeded || status.Phase == corev1.PodFailed {
		return status
	}
	var names []string
	for i := range status.ContainerStatuses {
		status.ContainerStatuses[i].Ready = false
		names = append(names, status.ContainerStatuses[i].Name)
	}
	if len(names) == 0 {
		for _, c := range pod.Spec.Containers {
			names = append(names, c.Name)
		}
	}
	notReady := corev1.PodCondition{Status: corev1.ConditionFalse, Reason: ReasonContainersNotReady}
	if len(names) > 0 {
		notReady = containersReadyCondition(status.Phase, names)
	}
	for i := range status.Conditions {
		c := &status.Conditions[i]
		if c.Type == corev1.PodReady || c.Type == corev1.ContainersReady {
			if c.Status != corev1.ConditionFalse || c.LastTransitionTime.IsZero() {
				c.LastTransitionTime = t
			}
			c.Status, c.Reason, c.Message = corev1.ConditionFalse, notReady.Reason, notReady.Message
		}
	}
	return status
}

func boolPtr(b bool) *bool { return &b }

// nowTime truncates to seconds, as the API server stores times.
func nowTime(t time.Time) metav1.Time { return metav1.NewTime(t.Truncate(time.Second)) }

// isResizeCondition says whether a condition is one of a resize's
// (PodResizePending, PodResizeInProgress): the kubelet's own, so the core's
// status decides them, not the API server's copy of an earlier report. They
// are not Owned, since the core sets them only while a resize is under way.
func isResizeCondition(t corev1.PodConditionType) bool {
	return t == corev1.PodResizePending || t == corev1.PodResizeInProgress
}
