package translate

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// A pod's probes are kept, and a note says they are not run, naming them.
func TestProbesAreNotedAsNotRun(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{
		Name: "web", Image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1",
		ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz"}}},
		LivenessProbe:  &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}},
	}}}}
	pod.Name, pod.Namespace, pod.UID = "web", "default", "uid-1"
	fn, err := FromPod(pod, "vk", nil)
	if err != nil {
		t.Fatal(err)
	}
	var note string
	for _, n := range fn.Notes {
		if strings.Contains(n, "not run") {
			note = n
		}
	}
	if !strings.Contains(note, "livenessProbe, readinessProbe of container web not run") {
		t.Errorf("notes %q: want one naming the probes that are not run", fn.Notes)
	}
	pod.Spec.Containers[0].ReadinessProbe, pod.Spec.Containers[0].LivenessProbe = nil, nil
	fn, err = FromPod(pod, "vk", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range fn.Notes {
		if strings.Contains(n, "Probe") {
			t.Errorf("a pod without probes got the note %q", n)
		}
	}
}

// A debug container added by kubectl debug is no part of the function: the
// pod translates to the same function with or without it, and is not
// refused (after a restart, the core is handed pods that have one).
func TestEphemeralContainersLeaveTheFunctionAlone(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{
		Name: "web", Image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1"}}}}
	pod.Name, pod.Namespace, pod.UID = "web", "default", "uid-1"
	plain, err := FromPod(pod, "vk", nil)
	if err != nil {
		t.Fatal(err)
	}
	debugged := pod.DeepCopy()
	debugged.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debugger-x", Image: "busybox"}}}
	fn, err := FromPod(debugged, "vk", nil)
	if err != nil {
		t.Fatalf("a pod with a debug container: %v", err)
	}
	if !reflect.DeepEqual(fn, plain) {
		t.Errorf("the debug container changed the function:\n%+v\nwant\n%+v", fn, plain)
	}
}
