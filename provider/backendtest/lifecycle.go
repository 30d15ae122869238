package backendtest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	corev1 "k8s.io/api/core/v1"

	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// The core finds a pod's function again by the tags naming the pod, on
// Get and in List (the status tracker, a restart).
func deployTagsThePod(t *testing.T, h *Harness) {
	b := h.start(t).New()
	pod := h.pod("tagged", nil)
	fn := h.function(t, "tagged", nil)
	if st := deploy(t, b, fn); st.Name != fn.Name {
		t.Errorf("Deploy returned the state of %q, want %q", st.Name, fn.Name)
	}
	listed := list(t, b, h.Node)
	if len(listed) != 1 || listed[0].Name != fn.Name {
		t.Fatalf("List after one Deploy = %v, want [%s]", names(listed), fn.Name)
	}
	got, err := b.Get(context.Background(), fn.Name)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	fromGet, fromList := ownerTags(got.Tags, pod, h.Node), ownerTags(listed[0].Tags, pod, h.Node)
	if fromGet != "" && fromList != "" {
		t.Errorf("neither Get nor List shows the pod's identity: Get %s (tags %v); List %s (tags %v)", fromGet, got.Tags, fromList, listed[0].Tags)
	}
}

// The kubelet retries CreatePod, and a retried create must not make a
// second function.
func deployIsIdempotent(t *testing.T, h *Harness) {
	b := h.start(t).New()
	fn := h.function(t, "twice", nil)
	deploy(t, b, fn)
	if st := deploy(t, b, fn); st.Name != fn.Name || st.Phase == translate.PhaseFailed {
		t.Errorf("second Deploy = %+v", st)
	}
	if listed := list(t, b, h.Node); len(listed) != 1 || listed[0].Name != fn.Name {
		t.Errorf("List after two Deploys = %v, want [%s]", names(listed), fn.Name)
	}
}

// The pod's status follows Get: Pending while the cloud prepares the
// function, then Active.
func getReportsThePhase(t *testing.T, h *Harness) {
	b := h.start(t).New()
	fn := h.function(t, "phase", nil)
	st := deploy(t, b, fn)
	if st.Phase != translate.PhasePending && st.Phase != translate.PhaseActive {
		t.Errorf("Deploy reports phase %q (%s: %s), want Pending or Active", st.Phase, st.Reason, st.Message)
	}
	if got := waitPhase(t, b, fn.Name, translate.PhaseActive); got.Name != fn.Name {
		t.Errorf("Get returned the state of %q, want %q", got.Name, fn.Name)
	}
}

// A restarted faas-kubelet deploys the pods it finds again: each Deploy
// adopts the function its earlier self made.
func restartAdopts(t *testing.T, h *Harness) {
	c := h.start(t)
	fn := h.function(t, "adopted", nil)
	deploy(t, c.New(), fn)
	if h.Caps.NoRestart {
		t.Log("Caps.NoRestart: the restarted backend is the same instance")
	}
	restarted := c.New()
	st := deploy(t, restarted, fn)
	if st.Name != fn.Name || st.Phase == translate.PhaseFailed {
		t.Errorf("Deploy after the restart = %+v", st)
	}
	if got := ownerTags(st.Tags, h.pod("adopted", nil), h.Node); got != "" {
		t.Errorf("Deploy after the restart returns tags %v: %s", st.Tags, got)
	}
	if listed := list(t, restarted, h.Node); len(listed) != 1 || listed[0].Name != fn.Name {
		t.Errorf("List after the restart = %v, want [%s]", names(listed), fn.Name)
	}
	waitPhase(t, restarted, fn.Name, translate.PhaseActive)
}

// After a restart the node learns its pods' functions from List: every
// one of them, across pages, with the tags naming its pod, and none of
// another node's.
func listPagesByNode(t *testing.T, h *Harness) {
	c := h.start(t)
	b := c.New()
	n := 3
	if h.ListPageSize > 0 && h.ListPageSize <= 50 {
		n = h.ListPageSize + 1
	}
	want := map[string]*corev1.Pod{}
	for i := range n {
		name := fmt.Sprintf("page-%02d", i)
		fn := h.function(t, name, nil)
		deploy(t, b, fn)
		want[fn.Name] = h.pod(name, nil)
	}
	other := h.functionOn(t, "another-node", "elsewhere", nil)
	deploy(t, b, other)

	listed := list(t, c.New(), h.Node)
	got := names(listed)
	slices.Sort(got)
	if len(got) != n || slices.Contains(got, other.Name) || len(slices.Compact(slices.Clone(got))) != n {
		t.Fatalf("List = %d functions %v, want this node's %d and not %s", len(got), got, n, other.Name)
	}
	for _, st := range listed {
		pod, ok := want[st.Name]
		if !ok {
			t.Errorf("List shows %s, which this suite did not deploy", st.Name)
			continue
		}
		if miss := ownerTags(st.Tags, pod, h.Node); miss != "" {
			t.Errorf("List shows %s with tags %v: %s", st.Name, st.Tags, miss)
		}
	}
	if others := list(t, b, "another-node"); len(others) != 1 || others[0].Name != other.Name {
		t.Errorf("List of another node = %v, want [%s]", names(others), other.Name)
	}
}

// A run-once pod's progress is recorded in its function's tags (Tag) and
// read back by a restarted node from the state its Deploy returns, as the
// core does, within the cloud's tag budget and next to the pod's labels.
func tagRecordsTheJob(t *testing.T, h *Harness) {
	c := h.start(t)
	b := c.New()
	job := func(p *corev1.Pod) { p.Spec.RestartPolicy = corev1.RestartPolicyOnFailure }
	fn := h.function(t, "job", job)
	deploy(t, b, fn)
	long := "exit status 1: " + strings.Repeat("disk full; ", 40)
	for _, j := range []translate.Job{
		{State: translate.JobRunning},
		{State: translate.JobRunning, Restarts: 1, Message: "fetching https://example.com/report?id=1 failed"},
		{State: translate.JobFailed, Restarts: 2, Message: long},
		{State: translate.JobSucceeded, Restarts: 2},
		{State: translate.JobFailed, Restarts: 1, ExitCode: 124, Reason: "FunctionTimeout", DeadlineExceeded: true, Killed: true},
		{Restarts: 2, ExitCode: 126, Reason: "InvocationRefused", Message: "invoking: throttled"},
	} {
		if err := b.Tag(context.Background(), fn.Name, translate.JobTags(j)); err != nil {
			t.Fatalf("Tag %+v: %v", j, err)
		}
		st := deploy(t, c.New(), fn)
		got := translate.JobFromTags(st.Tags)
		if j.Message == long {
			// Clouds bound tag values (Function Compute: 128
			// characters): a long message may be cut, but its start
			// reads back as written.
			if strings.HasPrefix(got.Message, long[:100]) {
				got.Message = long
			}
		}
		if got != j {
			t.Errorf("recorded %s, a restart reads back %s (tags %v)", short(j), short(got), st.Tags)
		}
		if st.Tags["tier"] != "backend" || ownerTags(st.Tags, h.pod("job", job), h.Node) != "" {
			t.Errorf("after Tag the pod's labels and identity read back as %v", st.Tags)
		}
	}
}

// Virtual Kubelet deletes a pod's function again when it is not sure the
// first delete happened; a deleted function is gone for Get and List.
func deleteIsIdempotent(t *testing.T, h *Harness) {
	b := h.start(t).New()
	ctx := context.Background()
	fn := h.function(t, "deleted", nil)
	deploy(t, b, fn)
	for i := 1; i <= 2; i++ {
		if err := b.Delete(ctx, fn.Name); err != nil {
			t.Errorf("Delete #%d: %v", i, err)
		}
	}
	if _, err := b.Get(ctx, fn.Name); !errdefs.IsNotFound(err) {
		t.Errorf("Get after Delete: %v, want errdefs.NotFound", err)
	}
	if listed := list(t, b, h.Node); len(listed) != 0 {
		t.Errorf("List after Delete = %v", names(listed))
	}
	never := h.function(t, "never-deployed", nil)
	if err := b.Delete(ctx, never.Name); err != nil {
		t.Errorf("Delete of a function that never existed: %v", err)
	}
	if _, err := b.Get(ctx, never.Name); !errdefs.IsNotFound(err) {
		t.Errorf("Get of a function that never existed: %v, want errdefs.NotFound", err)
	}
}

// short shows a Job with its message cut to a line.
func short(j translate.Job) string {
	msg := j.Message
	if len(msg) > 40 {
		msg = msg[:40] + "..."
	}
	return fmt.Sprintf("{%s restarts=%d message=%q}", j.State, j.Restarts, msg)
}
