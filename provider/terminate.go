package provider

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	"github.com/virtual-kubelet/virtual-kubelet/log"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"

	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// Graceful deletion, as a kubelet terminates a pod (kuberuntime's
// killContainer): once a pod has a deletionTimestamp, its function takes
// no new request (the pod stays Running but is not Ready, and the gateway,
// port-forward and exec no longer send it anything), its container's
// preStop hook runs, and the calls in flight are waited for, all within
// the pod's grace period; then the function is deleted and the pod's final
// status reported, upon which Virtual Kubelet deletes the pod. Calls still
// running when the grace period ends are cut off, as the kubelet kills a
// container at the end of its grace period.

// defaultGracePeriod is the API server's default
// terminationGracePeriodSeconds.
const defaultGracePeriod = 30 * time.Second

// jobPoll is how often a termination looks whether a Job's invocation in
// flight has ended (job.go records its end in the pod's record only).
const jobPoll = time.Second

// Event reasons of a termination. Killing and FailedPreStopHook are the
// kubelet's (k8s.io/kubernetes/pkg/kubelet/events).
const (
	ReasonKilling             = "Killing"
	ReasonFailedPreStopHook   = "FailedPreStopHook"
	ReasonPreStopHookNotRun   = "PreStopHookNotRun"
	ReasonGracePeriodExceeded = "GracePeriodExceeded"
)

// errTerminating refuses a call to a pod whose deletion has begun.
type errTerminating struct{ namespace, name string }

func (e errTerminating) Error() string {
	return fmt.Sprintf("pod %s/%s is terminating: its function takes no new calls", e.namespace, e.name)
}

// InvalidInput makes the kubelet API answer a refused exec or port-forward
// with 400 and the message.
func (errTerminating) InvalidInput() bool { return true }

// termination is a pod's graceful deletion under way (podRecord.term);
// its fields are guarded by Provider.mu.
type termination struct {
	// start is when the deletion began, on the node's clock.
	start time.Time
	// deadline is the end of the grace period, on the node's clock; a
	// later deletion with a shorter grace period brings it forward.
	deadline time.Time
	// over: the calls in flight were cut off (or none was left) and the
	// function is being deleted; no call is accepted any longer.
	over bool
	// kick wakes the termination: a call ended, or the deadline moved.
	kick chan struct{}
	// stopHook cancels the preStop hook's request.
	stopHook context.CancelFunc
	// draining is closed once the preStop hook is over and the calls in
	// flight are waited for.
	draining chan struct{}
}

// wake kicks the termination without blocking.
func (t *termination) wake() {
	select {
	case t.kick <- struct{}{}:
	default:
	}
}

// calls are a pod's calls in flight (podRecord.calls): the cancel of each
// call's context, by call number. Guarded by Provider.mu.
type calls struct {
	next   uint64
	cancel map[uint64]context.CancelFunc
}

// gracePeriod is the time a deletion leaves the pod's function:
// deletionGracePeriodSeconds, else spec.terminationGracePeriodSeconds,
// else 30s. A pod without a deletionTimestamp is no longer in the API
// server (deleted with --force --grace-period=0, or by Virtual Kubelet at
// the end of its grace period, or never there): it is deleted at once.
func gracePeriod(pod *corev1.Pod) time.Duration {
	if pod.DeletionTimestamp == nil {
		return 0
	}
	s := int64(defaultGracePeriod / time.Second)
	switch {
	case pod.DeletionGracePeriodSeconds != nil:
		s = *pod.DeletionGracePeriodSeconds
	case pod.Spec.TerminationGracePeriodSeconds != nil:
		s = *pod.Spec.TerminationGracePeriodSeconds
	}
	return time.Duration(max(s, 0)) * time.Second
}

// clock is the node's clock for timers.
func (p *Provider) clock() clock.WithTicker {
	if p.opts.Clock == nil {
		return clock.RealClock{}
	}
	return p.opts.Clock
}

// running says whether a container of the pod runs (Virtual Kubelet's
// test: it deletes a pod at once that has none).
func running(s *corev1.PodStatus) bool {
	for _, cs := range s.ContainerStatuses {
		if cs.State.Terminated == nil && cs.State.Waiting == nil {
			return true
		}
	}
	return false
}

// beginTermination starts the graceful deletion of r's pod if it has a
// grace period and its function serves, and reports whether it did; else
// the caller deletes the function at once. A pod already terminating is
// not terminated twice: a shorter grace period brings its deadline
// forward, and grace period 0 ends it (the caller does). Called with p.mu
// held; it releases it when it reports true.
func (p *Provider) beginTermination(ctx context.Context, r *podRecord, pod *corev1.Pod, grace time.Duration) bool {
	now := p.clock().Now()
	if t := r.term; t != nil {
		if grace == 0 || t.over {
			return false
		}
		if d := now.Add(grace); d.Before(t.deadline) {
			t.deadline = d
			t.wake()
		}
		p.mu.Unlock()
		return true
	}
	if grace == 0 || r.pod.Status.Phase != corev1.PodRunning || !running(&r.pod.Status) {
		return false
	}
	runCtx := log.WithLogger(p.runCtx, log.G(ctx))
	hookCtx, stopHook := context.WithCancel(runCtx)
	t := &termination{start: now, deadline: now.Add(grace), kick: make(chan struct{}, 1), stopHook: stopHook, draining: make(chan struct{})}
	r.term = t
	p.adopt(r, pod) // a DisruptionTarget written just before the deletion
	r.pod = r.pod.DeepCopy()
	r.pod.Status = translate.TerminatingStatus(r.pod, p.opts.Now())
	r.reported = p.opts.Now()
	out := report(r.pod)
	notify := p.notify
	p.mu.Unlock()
	for _, c := range pod.Spec.Containers {
		p.opts.Recorder.Eventf(pod, corev1.EventTypeNormal, ReasonKilling, "Stopping container %s", c.Name)
	}
	log.G(ctx).WithField("gracePeriod", grace).Info("pod terminating: its function takes no new calls")
	notify(out)
	go p.terminate(runCtx, hookCtx, r, pod.DeepCopy())
	return true
}

// terminate runs a pod's termination: the preStop hook, the wait for the
// calls in flight, and the deletion of the function, tried again with
// backoff until it is done or the node stops. A deletion with grace
// period 0 meanwhile ends the wait and deletes the function itself (see
// DeletePod).
func (p *Provider) terminate(ctx, hookCtx context.Context, r *podRecord, pod *corev1.Pod) {
	p.mu.Lock()
	t := r.term
	p.mu.Unlock()
	defer t.stopHook()
	p.preStop(ctx, hookCtx, t, pod)
	close(t.draining)
	p.drain(ctx, r, t)
	if ctx.Err() != nil || !p.kill(ctx, r, pod) {
		return // the node stops, or a deletion with grace period 0 took over
	}
	backoff := firstCheck
	for p.finish(ctx, pod, r) != nil && ctx.Err() == nil {
		timer := p.clock().NewTimer(backoff)
		select {
		case <-ctx.Done():
		case <-timer.C():
		}
		timer.Stop()
		backoff = min(backoff*2, maxBackoff)
	}
}

// wait waits for the first of: the close of done (nil: never), the time
// at (zero: none), the deadline, a kick (a call ended, the deadline
// moved), the end of the termination or of the node. It reports whether
// the termination goes on (not over, and the node runs).
func (p *Provider) wait(ctx context.Context, t *termination, done <-chan struct{}, at time.Time) bool {
	p.mu.Lock()
	over, end := t.over, t.deadline
	p.mu.Unlock()
	if over || ctx.Err() != nil {
		return false
	}
	if !at.IsZero() && at.Before(end) {
		end = at
	}
	left := end.Sub(p.clock().Now())
	if left <= 0 {
		return true
	}
	timer := p.clock().NewTimer(left)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-done:
	case <-t.kick:
	case <-timer.C():
	}
	return true
}

// past says whether the termination's grace period is over.
func (p *Provider) past(t *termination) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.clock().Now().Before(t.deadline)
}

// preStop runs the containers' preStop hooks within the grace period, as
// the kubelet's executePreStopHook: an httpGet is sent to the function's
// HTTP endpoint (its path, query and headers; a function has one
// endpoint, whatever the port), a sleep is waited for; an exec cannot
// run, as a function has no processes, and an event says so. A hook that
// fails is a FailedPreStopHook event and the termination goes on; one
// that has not completed at the end of the grace period is given up.
func (p *Provider) preStop(ctx, hookCtx context.Context, t *termination, pod *corev1.Pod) {
	for _, c := range pod.Spec.Containers {
		if c.Lifecycle == nil || c.Lifecycle.PreStop == nil {
			continue
		}
		h := c.Lifecycle.PreStop
		logger := log.G(ctx).WithField("container", c.Name)
		switch {
		case h.HTTPGet != nil:
			done := make(chan struct{})
			go func() {
				defer close(done)
				if err := p.preStopHTTP(hookCtx, pod, h.HTTPGet); err != nil && hookCtx.Err() == nil {
					logger.WithError(err).Warn("preStop hook failed")
					// As the kubelet's, the event carries no message, so
					// that nothing the request carried leaks.
					p.opts.Recorder.Eventf(pod, corev1.EventTypeWarning, ReasonFailedPreStopHook, "PreStopHook failed")
				}
			}()
			for !isClosed(done) {
				if p.past(t) {
					logger.Info("preStop hook not completed in the grace period")
					return
				}
				if !p.wait(ctx, t, done, time.Time{}) {
					return
				}
			}
		case h.Sleep != nil:
			end := t.start.Add(time.Duration(h.Sleep.Seconds) * time.Second)
			for p.clock().Now().Before(end) {
				if p.past(t) {
					logger.Info("preStop sleep not completed in the grace period")
					return
				}
				if !p.wait(ctx, t, nil, end) {
					return
				}
			}
		case h.Exec != nil:
			p.opts.Recorder.Eventf(pod, corev1.EventTypeWarning, ReasonPreStopHookNotRun,
				"the preStop exec hook of container %s was not run: function %s has no processes to exec in (httpGet and sleep hooks run)", c.Name, translate.FunctionName(pod))
		}
	}
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// preStopHTTP sends a preStop httpGet to the function, as the kubelet's
// lifecycle handler does to the container: a GET with the hook's headers,
// and User-Agent kube-lifecycle and Accept */* unless they set them. As
// the kubelet's, only a request that gets no response fails: the
// response's status is not looked at.
func (p *Provider) preStopHTTP(ctx context.Context, pod *corev1.Pod, get *corev1.HTTPGetAction) error {
	u, err := url.Parse(get.Path)
	if err != nil {
		u = &url.URL{Path: get.Path}
	}
	target := &url.URL{Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}
	if target.Path == "" || target.Path[0] != '/' {
		target.Path, target.RawPath = "/"+target.Path, ""
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target.String(), http.NoBody)
	if err != nil {
		return err
	}
	for _, h := range get.HTTPHeaders {
		req.Header.Add(h.Name, h.Value)
	}
	if _, ok := req.Header["User-Agent"]; !ok {
		req.Header.Set("User-Agent", "kube-lifecycle/faas-kubelet")
	}
	if _, ok := req.Header["Accept"]; !ok {
		req.Header.Set("Accept", "*/*")
	} else if req.Header.Get("Accept") == "" {
		req.Header.Del("Accept")
	}
	req.Host = req.Header.Get("Host")
	resp, err := p.opts.Backend.HTTP(ctx, translate.FunctionName(pod), req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 10<<10))
	return nil
}

// drain waits, until the deadline, for the pod's calls in flight and a
// Job's invocation in flight to end.
func (p *Provider) drain(ctx context.Context, r *podRecord, t *termination) {
	for {
		p.mu.Lock()
		n, job := len(r.calls.cancel), r.run.cancel != nil
		p.mu.Unlock()
		if n == 0 && !job || p.past(t) {
			return
		}
		var at time.Time
		if job {
			at = p.clock().Now().Add(jobPoll)
		}
		if !p.wait(ctx, t, nil, at) {
			return
		}
	}
}

// kill ends the termination's wait: the pod's calls still in flight are
// cut off (an event says so), and no call is accepted any longer. It
// reports whether this caller ended it (false: none was under way, or
// another caller had ended it).
func (p *Provider) kill(ctx context.Context, r *podRecord, pod *corev1.Pod) bool {
	p.mu.Lock()
	t := r.term
	if t == nil || t.over {
		p.mu.Unlock()
		return false
	}
	t.over = true
	t.stopHook()
	t.wake()
	cut := len(r.calls.cancel)
	for _, cancel := range r.calls.cancel {
		cancel()
	}
	job := r.run.cancel != nil
	p.mu.Unlock()
	name := translate.FunctionName(pod)
	if cut > 0 {
		log.G(ctx).WithField("calls", cut).Warn("grace period over: cutting off the calls in flight")
		p.opts.Recorder.Eventf(pod, corev1.EventTypeWarning, ReasonGracePeriodExceeded,
			"the grace period ended with %d call(s) to function %s in flight: they were cut off", cut, name)
	}
	if job {
		p.opts.Recorder.Eventf(pod, corev1.EventTypeWarning, ReasonGracePeriodExceeded,
			"the grace period ended with the Job's invocation of function %s in flight: the function is deleted under it", name)
	}
	return true
}

// finish deletes the pod's function and reports the pod's final status
// (translate.TerminatedStatus). With r set, it does so only while r is
// still the pod's record (a deletion that ended it first has reported).
func (p *Provider) finish(ctx context.Context, pod *corev1.Pod, r *podRecord) error {
	name := translate.FunctionName(pod)
	if r != nil && !p.isRecord(r) {
		return nil
	}
	if err := p.opts.Backend.Delete(ctx, name); err != nil {
		if r != nil && !p.isRecord(r) {
			return nil
		}
		p.opts.Recorder.Eventf(pod, corev1.EventTypeWarning, "FunctionDeleteFailed", "deleting function %s: %v (will retry)", name, err)
		return fmt.Errorf("deleting function %s: %w", name, err)
	}
	p.mu.Lock()
	last := pod
	cur, ok := p.pods[pod.UID]
	if r != nil && (!ok || cur != r) {
		p.mu.Unlock()
		return nil
	}
	if ok {
		p.adopt(cur, pod) // a DisruptionTarget written just before the deletion
		last = cur.pod
		delete(p.pods, pod.UID)
		p.unindexLocked(cur.pod.Namespace+"/"+cur.pod.Name, pod.UID)
		if !p.released {
			tracked.Add(-1)
		}
	}
	notify := p.notify
	p.mu.Unlock()
	if t := p.opts.ServiceAccountTokens; t != nil {
		t.forget(pod.UID) // its refresh would only request a token for nothing
	}
	final := pod.DeepCopy()
	final.Status = translate.TerminatedStatus(last, p.opts.Now())
	log.G(ctx).WithField("function", name).Info("function deleted")
	notify(final)
	if pod.DeletionTimestamp != nil && p.opts.RemovePod != nil {
		go p.remove(log.WithLogger(p.runCtx, log.G(ctx)), pod)
	}
	return nil
}

// isRecord says whether r is still its pod's record.
func (p *Provider) isRecord(r *podRecord) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	cur, ok := p.pods[r.pod.UID]
	return ok && cur == r
}

// beginCall counts a call to the pod's function as in flight until end is
// called, and returns the context the call runs in: a termination that
// reaches the end of its grace period cancels it. A pod that terminates
// takes no new call unless draining and the call is one it may still
// take (the gateway's, whose route was chosen before the termination);
// once the function is being deleted it takes none. A pod no longer known
// was deleted since the caller looked it up: a port-forward or exec call
// is refused, the gateway's is sent uncounted.
func (p *Provider) beginCall(ctx context.Context, pod *corev1.Pod, whileDraining bool) (context.Context, func(), error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.pods[pod.UID]
	if !ok && !whileDraining {
		return nil, nil, errdefs.NotFoundf("pod %s/%s no longer runs on node %s", pod.Namespace, pod.Name, p.opts.NodeName)
	}
	if !ok {
		return ctx, func() {}, nil
	}
	if t := r.term; t != nil && (t.over || !whileDraining) {
		return nil, nil, errTerminating{pod.Namespace, pod.Name}
	}
	if r.calls.cancel == nil {
		r.calls.cancel = map[uint64]context.CancelFunc{}
	}
	id := r.calls.next
	r.calls.next++
	cctx, cancel := context.WithCancel(ctx)
	r.calls.cancel[id] = cancel
	var once sync.Once
	return cctx, func() {
		once.Do(func() {
			cancel()
			p.mu.Lock()
			delete(r.calls.cancel, id)
			if r.term != nil {
				r.term.wake()
			}
			p.mu.Unlock()
		})
	}, nil
}

// terminating says whether the pod's deletion has begun.
func (p *Provider) terminating(uid types.UID) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.pods[uid]
	return ok && r.term != nil
}

// endOnClose ends a call when its response body is closed.
type endOnClose struct {
	io.ReadCloser
	end func()
}

func (b *endOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.end()
	return err
}

// How long remove waits for the API server to show a deleted pod's final
// status before it removes the pod anyway, and how often it looks.
const (
	removeWait  = 10 * time.Second
	removeCheck = 100 * time.Millisecond
)

// remove takes a deleted pod whose function is gone out of the API server,
// once the API server shows its final status (a Job's controller reads the
// outcome from it), as the kubelet removes a pod whose containers have
// stopped instead of waiting out the rest of its grace period.
func (p *Provider) remove(ctx context.Context, pod *corev1.Pod) {
	deadline := p.clock().Now().Add(removeWait)
	for ctx.Err() == nil && p.clock().Now().Before(deadline) && !p.finalShown(pod) {
		timer := p.clock().NewTimer(removeCheck)
		select {
		case <-ctx.Done():
		case <-timer.C():
		}
		timer.Stop()
	}
	if ctx.Err() != nil {
		return
	}
	if err := p.opts.RemovePod(ctx, pod.Namespace, pod.Name, pod.UID); err != nil {
		log.G(ctx).WithError(err).Debug("removing the deleted pod; Virtual Kubelet removes it at the end of its grace period")
	}
}

// finalShown says whether the API server shows the pod finished, or gone.
func (p *Provider) finalShown(pod *corev1.Pod) bool {
	if p.opts.Pods == nil && p.opts.Pod == nil {
		return true
	}
	api, ok := p.lookupPod(pod.Namespace, pod.Name)
	if !ok {
		return false
	}
	if api == nil || api.UID != pod.UID {
		return true
	}
	return api.Status.Phase == corev1.PodSucceeded || api.Status.Phase == corev1.PodFailed
}

// lookupPod is the pod of that namespace and name as the pod informer has
// it (nil: none), and whether the informer could answer. Checks made per
// pod, such as finalShown every 100 ms while a deleted pod's final status
// is on its way, look it up by key: a scan of every pod from each of a
// thousand deletions under way was most of the node's CPU.
func (p *Provider) lookupPod(namespace, name string) (*corev1.Pod, bool) {
	if p.opts.Pod != nil {
		return p.opts.Pod(namespace, name)
	}
	if p.opts.Pods == nil {
		return nil, false
	}
	pods, ok := p.opts.Pods()
	for _, api := range pods {
		if api.Namespace == namespace && api.Name == name {
			return api, ok
		}
	}
	return nil, ok
}

// unindexLocked takes uid out of byName's entry for key. Called with p.mu
// held.
func (p *Provider) unindexLocked(key string, uid types.UID) {
	uids := slices.DeleteFunc(p.byName[key], func(u types.UID) bool { return u == uid })
	if len(uids) == 0 {
		delete(p.byName, key)
		return
	}
	p.byName[key] = uids
}
