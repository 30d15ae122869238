package provider

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	corev1 "k8s.io/api/core/v1"

	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// kubectl logs --tail=0 prints nothing, as the kubelet's does; with -f it
// prints only what is written from then on. Without --tail, every line.
func TestLogsTailZeroGivesNoOldLines(t *testing.T) {
	b := &fakeBackend{}
	p, _ := newProvider(t, b)
	pod := newPod("uid-1", "hello")
	if err := p.CreatePod(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	rc, err := p.GetContainerLogs(WithTailZero(context.Background()), "default", "hello", "app", api.ContainerLogOpts{})
	if err != nil {
		t.Fatal(err)
	}
	if data, _ := io.ReadAll(rc); len(data) != 0 {
		t.Errorf("--tail=0 printed %q, want nothing", data)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rc, err = p.GetContainerLogs(WithTailZero(ctx), "default", "hello", "app", api.ContainerLogOpts{Follow: true, SinceSeconds: 600})
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	b.mu.Lock()
	o := b.logOpts
	b.mu.Unlock()
	if !o.Follow || o.HasTail || !o.Since.Equal(now) {
		t.Errorf("-f --tail=0 asked the cloud for %+v, want a follow of the lines since now (%v)", o, now)
	}

	rc, err = p.GetContainerLogs(context.Background(), "default", "hello", "app", api.ContainerLogOpts{})
	if err != nil {
		t.Fatal(err)
	}
	if data, _ := io.ReadAll(rc); string(data) != "log of "+translate.FunctionName(pod)+"\n" {
		t.Errorf("logs without --tail = %q, want every line", data)
	}
}

// After a restart, Virtual Kubelet does not hand the core the pods that
// finished before it: a finished Job pod's logs are still served from its
// function, found through the pods bound to the node, and a follow of
// them ends with the log, as a terminated container's does. A pod of
// another node is not served.
func TestLogsOfAFinishedPodTheCoreDoesNotTrack(t *testing.T) {
	b := &fakeBackend{}
	finished := newPod("uid-9", "job-abc")
	finished.Spec.RestartPolicy = corev1.RestartPolicyNever
	finished.Spec.NodeName = "vk"
	finished.Status.Phase = corev1.PodSucceeded
	elsewhere := newPod("uid-8", "other")
	elsewhere.Spec.NodeName = "another-node"
	p, err := New(Options{NodeName: "vk", Backend: b, Now: func() time.Time { return now },
		Pods: func() ([]*corev1.Pod, bool) { return []*corev1.Pod{finished, elsewhere}, true }})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := p.GetContainerLogs(context.Background(), "default", "job-abc", "", api.ContainerLogOpts{Follow: true})
	if err != nil {
		t.Fatalf("logs of a finished pod after a restart: %v", err)
	}
	data, _ := io.ReadAll(rc)
	if string(data) != "log of "+translate.FunctionName(finished)+"\n" {
		t.Errorf("logs = %q", data)
	}
	b.mu.Lock()
	follow := b.logOpts.Follow
	b.mu.Unlock()
	if follow {
		t.Errorf("a finished pod's follow asked the cloud to keep following")
	}
	if _, err := p.GetContainerLogs(context.Background(), "default", "other", "", api.ContainerLogOpts{}); !errdefs.IsNotFound(err) {
		t.Errorf("a pod of another node: %v, want not found", err)
	}
}

// kubectl debug -it falls back to the debug container's log when it
// cannot attach: the log says why the container did not run.
func TestLogsOfADebugContainerSayWhy(t *testing.T) {
	b := &fakeBackend{}
	p, _ := newProvider(t, b)
	pod := newPod("uid-1", "hello")
	if err := p.CreatePod(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	debugged := pod.DeepCopy()
	debugged.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debugger-x", Image: "busybox"}}}
	if err := p.UpdatePod(context.Background(), debugged); err != nil {
		t.Fatal(err)
	}
	rc, err := p.GetContainerLogs(context.Background(), "default", "hello", "debugger-x", api.ContainerLogOpts{})
	if err != nil {
		t.Fatalf("logs of the debug container: %v", err)
	}
	data, _ := io.ReadAll(rc)
	if !strings.Contains(string(data), "invoke") {
		t.Errorf("the debug container's log %q: want it to say how to invoke the function", data)
	}
}
