package provider

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	"github.com/virtual-kubelet/virtual-kubelet/log"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/faas-kubelet/faas-kubelet/pkg/metrics"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// track is the one status tracker of the node: functions in transition
// (Pending) are read with a per-function backoff; stable functions are left
// alone. Changes reach the pod controller through the NotifyPods callback.
func (p *Provider) track(ctx context.Context) {
	t := time.NewTicker(p.opts.PollInterval)
	defer t.Stop()
	resync := time.NewTicker(p.opts.ResyncInterval)
	defer resync.Stop()
	reconcile := time.NewTicker(p.opts.ReconcileInterval)
	defer reconcile.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-resync.C:
			p.resync(ctx)
		case <-reconcile.C:
			if p.opts.Pods != nil {
				if pods, ok := p.opts.Pods(); ok {
					p.reconcile(pods)
				}
			}
		case <-t.C:
			p.poll(ctx)
		}
	}
}

// poll reads the functions in transition that are due, ends the Jobs'
// back-offs that are over, fails the pods past their active deadline, and
// starts the retries of waiting pods that are due and the deletions of
// expired pods' functions, each on its own; the returned group ends when
// those have.
func (p *Provider) poll(ctx context.Context) *sync.WaitGroup {
	rec := metrics.FromContext(ctx)
	now := p.opts.Now()
	for _, d := range p.due() {
		rec.CheckLag(now.Sub(d.at))
		p.check(ctx, d.uid)
	}
	var retries sync.WaitGroup
	for _, r := range p.jobsDue(now) {
		retries.Go(func() { p.expire(ctx, r) })
	}
	for _, r := range p.dueRetries() {
		retries.Go(func() { p.retryDeploy(ctx, r) })
	}
	return &retries
}

// resync confirms stable functions with one paged listing: a function that
// is missing from it is read once more, and if it is really gone its pod
// fails (FunctionNotFound), so that its controller replaces it.
func (p *Provider) resync(ctx context.Context) {
	listed, err := p.opts.Backend.List(ctx, p.opts.NodeName)
	if err != nil {
		log.G(ctx).WithError(err).Warn("resync: listing functions")
		return
	}
	present := make(map[string]bool, len(listed))
	for _, f := range listed {
		present[f.Name] = true
	}
	if p.opts.Pods != nil {
		if pods, ok := p.opts.Pods(); ok {
			p.deleteOrphans(ctx, listed, pods)
			p.reconcile(pods)
		}
	}
	p.mu.Lock()
	var missing []types.UID
	for uid, r := range p.pods {
		if r.phase == translate.PhaseActive && !present[r.function] {
			missing = append(missing, uid)
		}
	}
	p.mu.Unlock()
	for _, uid := range missing {
		p.mu.Lock()
		r, ok := p.pods[uid]
		if !ok {
			p.mu.Unlock()
			continue
		}
		name, pod := r.function, r.pod
		p.mu.Unlock()
		if _, err := p.opts.Backend.Get(ctx, name); !errdefs.IsNotFound(err) {
			continue
		}
		log.G(ctx).WithField("function", name).Warn("function deleted outside faas-kubelet")
		p.transition(uid, pod, &translate.FunctionState{Name: name, Phase: translate.PhaseFailed, Reason: "FunctionNotFound",
			Message: "the function " + name + " was deleted outside faas-kubelet"})
	}
}

// dueCheck is a pod whose function should be read, and since when.
type dueCheck struct {
	uid types.UID
	at  time.Time
}

// due lists the pods whose function should be read now.
func (p *Provider) due() []dueCheck {
	now := p.opts.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []dueCheck
	for uid, r := range p.pods {
		if r.phase == translate.PhasePending && r.waiting == nil && !now.Before(r.nextCheck) {
			out = append(out, dueCheck{uid, r.nextCheck})
		}
	}
	return out
}

// dueRetries lists the waiting pods whose function should be created
// again now, and marks them in flight.
func (p *Provider) dueRetries() []*podRecord {
	now := p.opts.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*podRecord
	for _, r := range p.pods {
		if w := r.waiting; w != nil && w.pod != nil && !w.inFlight && !r.deleting && !now.Before(w.next) {
			w.inFlight = true
			out = append(out, r)
		}
	}
	return out
}

// retryDeploy deploys a waiting pod's function again. Its outcome replaces
// the record only if the record is still the pod's.
func (p *Provider) retryDeploy(ctx context.Context, r *podRecord) {
	p.mu.Lock()
	w := r.waiting
	if w == nil || w.pod == nil {
		p.mu.Unlock()
		return
	}
	pod := w.pod
	p.mu.Unlock()
	_ = p.deployAs(ctx, pod, r)
	p.mu.Lock()
	if r.waiting == w {
		w.inFlight = false // not recorded (the node stops): try again
	}
	p.mu.Unlock()
}

func (p *Provider) check(ctx context.Context, uid types.UID) {
	p.mu.Lock()
	r, ok := p.pods[uid]
	if !ok {
		p.mu.Unlock()
		return
	}
	name, pod := r.function, r.pod
	var job translate.Job
	if r.state != nil {
		job = r.state.Job
	}
	p.mu.Unlock()

	state, err := p.opts.Backend.Get(ctx, name)
	switch {
	case errdefs.IsNotFound(err):
		state = &translate.FunctionState{Name: name, Phase: translate.PhaseFailed, Reason: "FunctionNotFound",
			Message: "the function " + name + " no longer exists in the cloud"}
	case err != nil:
		log.G(ctx).WithError(err).WithField("function", name).Warn("reading function state")
		wait := p.backOff(uid)
		p.opts.Recorder.Eventf(pod, corev1.EventTypeWarning, "FunctionStatusUnknown", "reading function %s: %v (retrying in %s)", name, err, wait)
		return
	}
	if state.Phase == translate.PhasePending {
		p.backOff(uid)
		return
	}
	if state.Phase == translate.PhaseFailed && IsRetriedReason(state.Reason) && p.redeployLater(ctx, uid, state) {
		return
	}
	state.Job = job
	p.transition(uid, pod, state)
}

// redeployLater makes a pod whose function failed after it was created,
// for a cause outside the pod (an image the cloud may not pull yet), wait
// and be deployed again, as a refusal of the create would. It reports
// whether it did (the pod's spec is kept while its function is Pending).
func (p *Provider) redeployLater(ctx context.Context, uid types.UID, state *translate.FunctionState) bool {
	p.mu.Lock()
	r, ok := p.pods[uid]
	if !ok || r.spec == nil || r.deleting {
		p.mu.Unlock()
		return false
	}
	pod := r.spec
	p.mu.Unlock()
	fn, err := p.translate(pod)
	if err != nil {
		return false
	}
	p.refuse(ctx, pod, fn, Refused(state.Reason, errors.New(state.Message)), r)
	return true
}

// transition records a new phase for a pod still known under uid.
func (p *Provider) transition(uid types.UID, pod *corev1.Pod, state *translate.FunctionState) {
	p.mu.Lock()
	r, ok := p.pods[uid]
	if !ok || r.pod.ResourceVersion != pod.ResourceVersion {
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	p.store(pod, state)
}

// backOff doubles the wait before the pod's function is read again and
// returns it.
func (p *Provider) backOff(uid types.UID) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.pods[uid]
	if !ok {
		return 0
	}
	r.backoff = min(r.backoff*2, maxBackoff)
	r.nextCheck = p.opts.Now().Add(r.backoff)
	return r.backoff
}

// deleteOrphans deletes the functions this node made for pods that no
// longer exist: a function is deleted only when it carries this node's tag
// and a pod UID, its name is the one derived from that pod, no record of
// this process has that UID, and the pod informer (synced) has no pod of
// that UID. Virtual Kubelet's own start-up cleanup compares names only, so
// a function left by a pod deleted and recreated under the same name while
// faas-kubelet was down would otherwise run (and bill) forever.
func (p *Provider) deleteOrphans(ctx context.Context, listed []translate.FunctionState, pods []*corev1.Pod) {
	bound := make(map[types.UID]bool, len(pods))
	for _, pod := range pods {
		bound[pod.UID] = true
	}
	for _, f := range listed {
		uid := types.UID(f.Tags[translate.TagPodUID])
		if uid == "" || f.Tags[translate.TagNode] != p.opts.NodeName || bound[uid] || p.known(uid) {
			continue
		}
		if !translate.NamedFor(f.Name, f.Tags) {
			continue // not a name this node derived: never touch it
		}
		logger := log.G(ctx).WithField("function", f.Name).WithField("uid", uid)
		if err := p.opts.Backend.Delete(ctx, f.Name); err != nil {
			logger.WithError(err).Warn("deleting an orphaned function; will retry at the next resync")
			continue
		}
		logger.Info("deleted a function whose pod no longer exists")
	}
}

// reconcile compares the pods' statuses as the API server has them (from
// the pod informer, every ReconcileInterval and at each resync) with ours,
// as the kubelet does when its pod informer delivers a status change:
//   - conditions others own (a readiness gate's, DisruptionTarget) are
//     taken in, so that no later report wipes them, and Ready is computed
//     again; a pod whose status changed by it is reported at once;
//   - a pod whose phase or readiness there disagrees with ours is reported
//     again: the node lifecycle controller marks pods not Ready while their
//     node is unreachable (an API server outage, a restart) and leaves it
//     to the kubelet to say otherwise once the node is back. A status
//     reported less than reassertAfter ago is still on its way to the API
//     server (Virtual Kubelet writes it from a queue): writing it again
//     would only conflict with that write.
//
// Reports carry the API server's metadata. Virtual Kubelet does not write
// the status of a pod that has finished there, so none is made for one.
func (p *Provider) reconcile(pods []*corev1.Pod) {
	var out []*corev1.Pod
	now := p.opts.Now()
	p.mu.Lock()
	for _, pod := range pods {
		r, ok := p.pods[pod.UID]
		if !ok {
			continue
		}
		changed := p.adopt(r, pod)
		if isFinished(pod) || !changed && (statusAgrees(&pod.Status, &r.pod.Status) || now.Sub(r.reported) < reassertAfter) {
			continue
		}
		r.reported = now
		fixed := *pod
		fixed.Status = r.pod.Status
		out = append(out, report(&fixed))
	}
	notify := p.notify
	p.mu.Unlock()
	for _, pod := range out {
		notify(pod)
	}
}

// reassertAfter is how long a reported status may take to reach the API
// server before the resync reports it again. The node lifecycle controller
// marks pods not Ready only after its grace period (40 s by default).
const reassertAfter = 15 * time.Second

func statusAgrees(a, b *corev1.PodStatus) bool {
	return a.Phase == b.Phase && condition(a, corev1.PodReady) == condition(b, corev1.PodReady) &&
		condition(a, corev1.ContainersReady) == condition(b, corev1.ContainersReady)
}

func condition(s *corev1.PodStatus, t corev1.PodConditionType) corev1.ConditionStatus {
	for _, c := range s.Conditions {
		if c.Type == t {
			return c.Status
		}
	}
	return ""
}
