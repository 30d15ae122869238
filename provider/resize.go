package provider

import (
	"context"
	"fmt"

	"github.com/virtual-kubelet/virtual-kubelet/log"
	corev1 "k8s.io/api/core/v1"

	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// In-place resize of a function pod (kubectl patch --subresource resize),
// as the kubelet does it (see package translate, resize.go): a change of
// the container's resources that leaves the function as it is (a CPU
// request, where the cloud gives CPU by memory) is allocated at once; one
// that changes the function's memory is applied by deploying the function
// again, with PodResizeInProgress meanwhile, when the backend can
// (MemoryResizer); otherwise, or when the cloud refuses the new size, the
// pod goes on running at its previous size with PodResizePending
// Infeasible saying why. Nothing in a resize fails, restarts or replaces
// the pod.

// MemoryResizer is a Backend whose Deploy brings a function that exists to
// a new Function.MemoryMiB in place. A backend without it is never asked
// to: a resize of its pods' memory is Infeasible.
type MemoryResizer interface {
	// CheckResize says whether Deploy can bring fn's function to
	// fn.MemoryMiB: nil if it can, else an error whose message names
	// fn.MemoryField and the cloud's limit (or, wrapping ErrNotSupported,
	// what decides the memory instead, such as an Azure plan). It makes no
	// call to the cloud.
	CheckResize(fn *translate.Function) error
}

// memoryResizer finds the MemoryResizer behind b (through wrappers such
// as Limited), nil if there is none.
func memoryResizer(b Backend) MemoryResizer {
	for b != nil {
		if r, ok := b.(MemoryResizer); ok {
			return r
		}
		u, ok := b.(interface{ Unwrap() Backend })
		if !ok {
			return nil
		}
		b = u.Unwrap()
	}
	return nil
}

// resizeStep is what UpdatePod does with the pod's resources.
type resizeStep struct {
	// pod is the pod to deploy: the one handed in, or with the allocated
	// resources when its resize is not applied.
	pod *corev1.Pod
	// container is the container resized.
	container string
	// want are the container's resources in the pod handed in.
	want corev1.ResourceRequirements
	// allocate: the function runs want once deployed as usual (the
	// change leaves it as it is): allocated at once.
	allocate bool
	// infeasible is the PodResizePending message of a resize not applied.
	infeasible string
	// apply: want is deployed, with PodResizeInProgress until it is.
	apply bool
	// none: the resources are those allocated; a pending resize is over.
	none bool
	// fn is the function deployed for an applied resize (UpdatePod's);
	// pinned the one the allocated resources make (translate.FromPod's),
	// and alloc those resources.
	fn, pinned *translate.Function
	alloc      corev1.ResourceRequirements
}

// planResize decides what becomes of a change of pod's resources. Only a
// running pod's function is resized. It compares the functions the pod
// and its allocation make with translate.FromPod, which has no side
// effects (the core's translate may ask for a ServiceAccount token);
// UpdatePod then finds, with the function it deploys, whether the
// function runs the pod as it is already (see settleResize).
func (p *Provider) planResize(pod *corev1.Pod) resizeStep {
	step := resizeStep{pod: pod}
	if len(pod.Spec.Containers) != 1 {
		return step // refused for that, by the usual path
	}
	c := pod.Spec.Containers[0]
	step.container, step.want = c.Name, c.Resources
	p.mu.Lock()
	r, ok := p.pods[pod.UID]
	if !ok || r.phase != translate.PhaseActive || isFinished(r.pod) {
		p.mu.Unlock()
		return step
	}
	alloc, has := translate.Allocated(r.pod.Status, c.Name)
	pending := translate.ResizeCondition(r.pod.Status, corev1.PodResizePending)
	p.mu.Unlock()
	switch {
	case translate.SameResources(alloc, step.want):
		step.none = true
		return step
	case !has:
		// Nothing shown yet (a pod from before resources were shown):
		// allocated once its function runs it.
		step.allocate = true
		return step
	}
	sa := p.opts.ServiceAccountAnnotations(pod.Namespace, pod.Spec.ServiceAccountName)
	fn, err := translate.FromPod(pod, p.opts.NodeName, sa)
	if err != nil {
		return step
	}
	pinnedPod := translate.WithResources(pod, alloc)
	pinned, err := translate.FromPod(pinnedPod, p.opts.NodeName, sa)
	if err != nil {
		return step
	}
	step.alloc, step.pinned = alloc, pinned
	if fingerprint(pinned) == fingerprint(fn) {
		step.allocate = true // a change the function is not made of
		return step
	}
	step.pod = pinnedPod
	if pending != nil && pending.Reason == corev1.PodReasonInfeasible && pod.Generation != 0 && pending.ObservedGeneration == pod.Generation {
		step.infeasible = pending.Message // decided for this generation already
		return step
	}
	if msg := p.checkResize(fn, pinned); msg != "" {
		step.infeasible = msg
		return step
	}
	step.pod, step.apply = pod, true
	return step
}

// checkResize is why the backend cannot bring pinned's function to fn's
// memory, "" if it can.
func (p *Provider) checkResize(fn, pinned *translate.Function) string {
	field := fn.MemoryField
	if field == "" {
		field = "spec.containers[0].resources"
	}
	keeps := keepsMemory(pinned)
	rs := memoryResizer(p.opts.Backend)
	if rs == nil {
		return fmt.Sprintf("%s: the %s backend does not change the memory of a function that exists; the function keeps %s", field, p.opts.Backend.Cloud(), keeps)
	}
	if err := rs.CheckResize(fn); err != nil {
		return fmt.Sprintf("%v; the function keeps %s", err, keeps)
	}
	return ""
}

func keepsMemory(fn *translate.Function) string {
	if fn.MemoryMiB == 0 {
		return "the cloud's default memory"
	}
	return fmt.Sprintf("%d MiB", fn.MemoryMiB)
}

// settleResize shows step in r's status before the function is deployed,
// and returns the events to record once p.mu is released. asIs says the
// function runs pod as it is already (a deployment after a restart, or
// before the resources were shown): a resize to apply is then done. An
// allocation at once waits for a deployment that is needed (record
// allocates what it deploys). Called with p.mu held.
func (p *Provider) settleResize(r *podRecord, pod *corev1.Pod, step *resizeStep, asIs bool) (changed bool, events []podEvent) {
	st := &r.pod.Status
	now := p.opts.Now()
	if step.apply && asIs {
		step.apply, step.allocate = false, true
	}
	switch {
	case step.allocate && !asIs:
	case step.none:
		changed = translate.ClearResizeCondition(st, corev1.PodResizePending)
	case step.allocate:
		translate.Allocate(st, step.container, step.want)
		translate.ClearResizeCondition(st, corev1.PodResizePending)
		translate.ClearResizeCondition(st, corev1.PodResizeInProgress)
		changed = true
		events = append(events, podEvent{corev1.EventTypeNormal, translate.EventResizeCompleted, "Pod resize completed: " + translate.ResizeSummary(step.container, step.want)})
	case step.infeasible != "":
		if translate.SetResizeCondition(st, corev1.PodResizePending, corev1.PodReasonInfeasible, step.infeasible, pod.Generation, now) {
			changed = true
			events = append(events, podEvent{corev1.EventTypeWarning, translate.EventResizeInfeasible, "Pod resize Infeasible: " + step.infeasible})
		}
	case step.apply:
		translate.ClearResizeCondition(st, corev1.PodResizePending)
		translate.ClearResizeCondition(st, corev1.PodResizeInProgress)
		translate.SetResizeCondition(st, corev1.PodResizeInProgress, "", "", pod.Generation, now)
		changed = true
		events = append(events, podEvent{corev1.EventTypeNormal, translate.EventResizeStarted, "Pod resize started: " + translate.ResizeSummary(step.container, step.want)})
	}
	return changed, events
}

// podEvent is an event to record on a pod once p.mu is released.
type podEvent struct{ kind, reason, message string }

func (p *Provider) emit(pod *corev1.Pod, events []podEvent) {
	for _, e := range events {
		p.opts.Recorder.Event(pod, e.kind, e.reason, e.message)
	}
}

// allocateOnRecord shows in a status just made from the function's state
// (record) the resources the function runs: those of the pod deployed
// (handed in with its spec, and created), else those shown before. A pod
// the core did not know yet keeps what the API server shows (the node
// showed it before a restart; an update deployed since is allocated at
// the pod's next update, see planResize). An allocated resize whose
// function is active is complete: PodResizeInProgress is cleared.
func (p *Provider) allocateOnRecord(status *corev1.PodStatus, from, pod *corev1.Pod, known bool, state *translate.FunctionState, w *waitingPod) []podEvent {
	translate.CarryAllocation(status, from.Status)
	if len(pod.Spec.Containers) == 0 {
		return nil
	}
	c := pod.Spec.Containers[0]
	_, had := translate.Allocated(from.Status, c.Name)
	deployed := w == nil && !state.NotCreated && state.Phase != translate.PhaseFailed
	if deployed && (len(c.Resources.Requests) > 0 || len(c.Resources.Limits) > 0) && (known || !had) {
		translate.Allocate(status, c.Name, c.Resources)
	}
	if state.Phase == translate.PhaseActive && w == nil && translate.ClearResizeCondition(status, corev1.PodResizeInProgress) {
		r, _ := translate.Allocated(*status, c.Name)
		return []podEvent{{corev1.EventTypeNormal, translate.EventResizeCompleted, "Pod resize completed: " + translate.ResizeSummary(c.Name, r)}}
	}
	return nil
}

// finishResize follows the deployment of an applied resize. A cloud that
// refused the new size as a spec error leaves the function at its previous
// size: the pod shows PodResizePending Infeasible, and what else the
// update changed is deployed at the previous size. A refusal that is
// retried keeps PodResizeInProgress, with reason Error, until the retry
// succeeds.
func (p *Provider) finishResize(ctx context.Context, pod *corev1.Pod, step resizeStep, before string) error {
	refused := func() (*podRecord, *waitingPod) {
		r, ok := p.pods[pod.UID]
		if !ok || r.waiting == nil || !r.waiting.update || r.waiting.key != fingerprint(step.fn) {
			return nil, nil // deployed (record allocated it), or superseded
		}
		return r, r.waiting
	}
	p.mu.Lock()
	r, w := refused()
	if r == nil {
		p.mu.Unlock()
		return nil
	}
	r.pod = r.pod.DeepCopy()
	if w.pod != nil {
		// Retried with backoff: still in progress.
		msg := fmt.Sprintf("the %s cloud has not taken the new size yet; it is tried again (see the pod's events)", p.opts.Backend.Cloud())
		translate.SetResizeCondition(&r.pod.Status, corev1.PodResizeInProgress, corev1.PodReasonError, msg, pod.Generation, p.opts.Now())
		p.reportLocked(r, true)
		return nil
	}
	p.mu.Unlock()
	// A spec error: the function serves the pod at its allocated size,
	// and what else the update changed is deployed at that size.
	pinnedPod := translate.WithResources(pod, step.alloc)
	pinned, err := p.translate(pinnedPod)
	p.mu.Lock()
	if again, w2 := refused(); again != r || w2 != w {
		p.mu.Unlock()
		return nil
	}
	msg := fmt.Sprintf("%s: the %s cloud refused %d MiB (see the pod's events); the function keeps %s", step.fn.MemoryField, p.opts.Backend.Cloud(), step.fn.MemoryMiB, keepsMemory(step.pinned))
	r.pod = r.pod.DeepCopy()
	translate.ClearResizeCondition(&r.pod.Status, corev1.PodResizeInProgress)
	translate.SetResizeCondition(&r.pod.Status, corev1.PodResizePending, corev1.PodReasonInfeasible, msg, pod.Generation, p.opts.Now())
	redeploy := err != nil || fingerprint(pinned) != before
	if !redeploy {
		r.waiting, r.deployed = nil, before // nothing else changed
	}
	p.reportLocked(r, true)
	p.opts.Recorder.Event(pod, corev1.EventTypeWarning, translate.EventResizeInfeasible, "Pod resize Infeasible: "+msg)
	if !redeploy {
		return nil
	}
	log.G(ctx).Info("resize refused; deploying the rest of the update at the allocated size")
	return p.deploy(ctx, pinnedPod)
}
