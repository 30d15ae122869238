package provider

import (
	"context"
	"errors"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/log"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// AnnotationPayload is the JSON a Job's pod invokes its function with.
const AnnotationPayload = "faas-kubelet.io/payload"

// Backoff between retries of a failed invocation under OnFailure.
const (
	jobFirstBackoff = 2 * time.Second
	jobMaxBackoff   = time.Minute
)

// jobOnDeploy reads a run-once pod's progress from its function's tags. An
// invocation recorded as running that this process is not running was cut
// off by a restart: its outcome cannot be known, and running it again could
// run it twice, so the pod fails saying so, as the kubelet ends a container
// it can no longer find that was running: exit code 137,
// ContainerStatusUnknown (not the end of an earlier attempt, which a
// podFailurePolicy would take for this one's).
func (p *Provider) jobOnDeploy(ctx context.Context, pod *corev1.Pod, st *translate.FunctionState) translate.Job {
	if !translate.IsJob(pod) {
		return translate.Job{}
	}
	p.mu.Lock()
	r, known := p.pods[pod.UID]
	if known && r.state != nil && (r.jobRunning || r.state.Job.State != "") {
		job := r.state.Job
		p.mu.Unlock()
		return job
	}
	p.mu.Unlock()
	job := translate.JobFromTags(st.Tags)
	if job.State == "" && job.Restarts > 0 {
		job.Backoff = jobBackoffAfter(p.opts.JobBackoff, job.Restarts)
	}
	if job.State == translate.JobRunning {
		job.State = translate.JobFailed
		job.ExitCode, job.Reason = translate.ExitKilled, translate.ReasonContainerStatusUnknown
		job.Message = "faas-kubelet restarted while the invocation was running; its outcome is unknown and it is not run again"
		if err := p.opts.Backend.Tag(ctx, st.Name, translate.JobTags(job)); err != nil {
			log.G(ctx).WithError(err).Warn("recording the lost invocation")
		}
	}
	return job
}

// jobRun is what the core keeps of a pod's run-once machinery and of its
// active deadline, in its podRecord (guarded by Provider.mu).
type jobRun struct {
	// cancel ends the wait for the attempt in flight.
	cancel context.CancelFunc
	// wake, when set, ends the back-off before the next attempt: the
	// tracker's poll closes it once the node's clock reaches retryAt.
	wake    chan struct{}
	retryAt time.Time
	// expired: the pod failed at its active deadline; nothing of it runs
	// again and no status but that one is recorded.
	expired bool
	// reported: the deadline's status was stored. deleting: the deletion
	// of the function is under way; deleted: it is done; deleteAt: when
	// a failed deletion is tried again.
	reported, deleting, deleted bool
	deleteAt                    time.Time
}

// runJob invokes a run-once pod's function: once for restartPolicy Never;
// until it succeeds, with backoff, for OnFailure. Each attempt is recorded
// in the function's tags before the call, and its outcome after. A Job
// whose record shows a back-off (faas-kubelet restarted during one) goes
// on with its restart count and starts the next attempt at once, as a
// restarted kubelet does (its back-off is kept in memory only).
func (p *Provider) runJob(uid types.UID, name string) {
	p.mu.Lock()
	ctx := p.runCtx
	r, ok := p.pods[uid]
	if !ok {
		p.mu.Unlock()
		return
	}
	pod := r.pod
	job := translate.Job{}
	if r.state != nil && r.state.Job.State == "" {
		job = r.state.Job
	}
	p.mu.Unlock()
	ctx = log.WithLogger(ctx, log.G(ctx).WithFields(log.Fields{"pod": pod.Namespace + "/" + pod.Name, "function": name}))
	payload := []byte(pod.Annotations[AnnotationPayload])
	if len(payload) == 0 {
		payload = []byte("{}")
	}
	backoff := p.opts.JobBackoff
	if job.Restarts > 0 {
		backoff = min(jobBackoffAfter(p.opts.JobBackoff, job.Restarts)*2, jobMaxBackoff)
	}
	for ctx.Err() == nil && p.known(uid) && !p.expired(uid) && !p.terminating(uid) {
		job.State, job.Backoff = translate.JobRunning, 0
		if err := p.opts.Backend.Tag(ctx, name, translate.JobTags(job)); errors.Is(err, ErrNotSupported) {
			job.State, job.Message = translate.JobFailed, "run-once pods are not supported on this cloud yet: "+err.Error()
			p.opts.Recorder.Eventf(pod, corev1.EventTypeWarning, "InvocationFailed", "%s", job.Message)
			p.updateJob(uid, job)
			return
		} else if err != nil {
			log.G(ctx).WithError(err).Warn("recording the invocation before running it; will retry")
			p.sleep(ctx, backoff)
			continue
		}
		p.updateJob(uid, job)
		// The invocation and the record of its outcome outlive a shutdown
		// until Drain gives up on them: a graceful stop finishes them.
		wake := p.invoke(ctx, uid, name, pod, payload, &job, backoff)
		if wake == nil {
			return
		}
		container := pod.Spec.Containers[0].Name
		p.opts.Recorder.Eventf(pod, corev1.EventTypeWarning, "BackOff", "Back-off restarting failed container %s in pod %s_%s(%s)", container, pod.Name, pod.Namespace, pod.UID)
		if !p.awaitBackoff(ctx, uid, wake, backoff) {
			return
		}
		backoff = min(backoff*2, jobMaxBackoff)
	}
}

// jobBackoffAfter is the back-off that follows the given number of
// restarts: first, doubling after each, up to jobMaxBackoff.
func jobBackoffAfter(first time.Duration, restarts int32) time.Duration {
	d := first
	for i := int32(1); i < restarts && d < jobMaxBackoff; i++ {
		d *= 2
	}
	return min(d, jobMaxBackoff)
}

// invoke runs one attempt on the drain context and records its outcome:
// a final one, or under OnFailure the back-off (restarts counted) that
// comes before the next attempt; it returns the back-off's wake (see
// armBackoff) if the Job goes on, else nil. An
// attempt still in flight at the pod's active deadline is no longer waited
// for: the deadline records the pod's end (see expire).
func (p *Provider) invoke(ctx context.Context, uid types.UID, name string, pod *corev1.Pod, payload []byte, job *translate.Job, backoff time.Duration) <-chan struct{} {
	p.invocations.Add(1)
	defer p.invocations.Done()
	dctx := log.WithLogger(p.drainCtx, log.G(ctx))
	ictx, cancel := context.WithCancel(dctx)
	defer cancel()
	if !p.setAttempt(uid, cancel) {
		return nil
	}
	inv, err := p.opts.Backend.Invoke(ictx, name, payload)
	p.setAttempt(uid, nil)
	if p.expired(uid) {
		return nil
	}
	switch {
	case err != nil:
		// The cloud refused the call: the function's code reported nothing.
		job.Message = "invoking: " + err.Error()
		job.ExitCode, job.Reason = translate.ExitInvocationRefused, translate.ReasonInvocationRefused
	case inv.FunctionError != "":
		job.Message = inv.FunctionError
		job.ExitCode, job.Reason = inv.End.ExitCode(), inv.End.Reason()
	default:
		job.State, job.Message, job.ExitCode, job.Reason = translate.JobSucceeded, "", 0, ""
		p.finishJob(dctx, uid, name, *job)
		p.opts.Recorder.Eventf(pod, corev1.EventTypeNormal, "InvocationSucceeded", "function %s returned %d bytes", name, len(inv.Output))
		return nil
	}
	p.opts.Recorder.Eventf(pod, corev1.EventTypeWarning, "InvocationFailed", "function %s: exit code %d (%s): %s", name, job.ExitCode, job.Reason, job.Message)
	if pod.Spec.RestartPolicy != corev1.RestartPolicyOnFailure {
		job.State = translate.JobFailed
		p.finishJob(dctx, uid, name, *job)
		return nil
	}
	job.Restarts++
	job.State, job.Backoff = "", backoff
	// The attempt is over: a restart during the back-off goes on with the
	// next attempt rather than report this one's outcome unknown.
	if err := p.opts.Backend.Tag(dctx, name, translate.JobTags(*job)); err != nil {
		log.G(ctx).WithError(err).Warn("recording the back-off before the next attempt")
	}
	wake := p.armBackoff(uid, backoff)
	p.updateJob(uid, *job)
	return wake
}

// setAttempt records how to cut off the attempt starting (cancel) or
// that none is in flight (nil); it reports false once the pod's deadline
// has passed (no attempt may start).
func (p *Provider) setAttempt(uid types.UID, cancel context.CancelFunc) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.pods[uid]
	if !ok {
		return false
	}
	if cancel == nil || !r.run.expired {
		r.run.cancel = cancel
	}
	return !r.run.expired
}

// armBackoff starts the back-off of d before the next attempt, on the
// node's clock: the tracker's poll closes the returned channel once the
// clock reaches its end, or at once when the pod's deadline passes. It
// returns nil when no attempt may follow (the pod is gone or expired).
func (p *Provider) armBackoff(uid types.UID, d time.Duration) <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.pods[uid]
	if !ok || r.run.expired {
		return nil
	}
	wake := make(chan struct{})
	r.run.wake, r.run.retryAt = wake, p.opts.Now().Add(d)
	return wake
}

// awaitBackoff waits for the back-off's wake, or for a timer of d,
// whichever comes first (the timer keeps the wait to d where the
// tracker's polls are sparse). It reports whether the Job goes on: not
// when the node stops, the pod is gone or its deadline passed.
func (p *Provider) awaitBackoff(ctx context.Context, uid types.UID, wake <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	case <-wake:
	}
	p.mu.Lock()
	if r, ok := p.pods[uid]; ok && r.run.wake == wake {
		r.run.wake = nil
	}
	p.mu.Unlock()
	// A terminating pod's container is not restarted, as on a kubelet.
	return ctx.Err() == nil && p.known(uid) && !p.expired(uid) && !p.terminating(uid)
}

func (p *Provider) expired(uid types.UID) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.pods[uid]
	return ok && r.run.expired
}

// jobsDue runs at each poll of the tracker, on the node's clock: it ends
// the back-offs that are over, and marks the pods past their active
// deadline, returning them and those whose function is still to delete.
// A pod is past its deadline, as the kubelet's activeDeadlineHandler has
// it, once spec.activeDeadlineSeconds have passed since status.startTime,
// whatever its restart policy, unless it has finished.
func (p *Provider) jobsDue(now time.Time) []*podRecord {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*podRecord
	for _, r := range p.pods {
		run := &r.run
		if run.wake != nil && !now.Before(run.retryAt) {
			close(run.wake)
			run.wake = nil
		}
		if !run.expired && !r.deleting && !isFinished(r.pod) && pastDeadline(r.pod, now) {
			run.expired = true
			if run.cancel != nil {
				run.cancel()
			}
			if run.wake != nil {
				close(run.wake)
				run.wake = nil
			}
			r.waiting = nil // no retry creates its function again
		}
		if run.expired && !run.deleting && !run.deleted && !r.deleting && !now.Before(run.deleteAt) {
			run.deleting = true
			out = append(out, r)
		}
	}
	return out
}

// pastDeadline is the kubelet's pastActiveDeadline.
func pastDeadline(pod *corev1.Pod, now time.Time) bool {
	if pod.Spec.ActiveDeadlineSeconds == nil || pod.Status.StartTime.IsZero() {
		return false
	}
	return now.Sub(pod.Status.StartTime.Time) >= time.Duration(*pod.Spec.ActiveDeadlineSeconds)*time.Second
}

// expire ends a pod past its active deadline as the kubelet does: the pod
// Failed with reason DeadlineExceeded, its container terminated (an
// attempt in flight, or a container that serves, killed: exit code 137;
// a Job backing off shows its last attempt), and an event. Its function
// is then deleted from the cloud; the pod object stays, Failed, until it
// is deleted. A deletion that fails is tried again at a later poll.
func (p *Provider) expire(ctx context.Context, r *podRecord) {
	p.mu.Lock()
	pod, first := r.pod, !r.run.reported
	prev := translate.FunctionState{Name: r.function, Phase: r.phase}
	if r.state != nil {
		prev = *r.state
	}
	r.run.reported = true
	p.mu.Unlock()
	name := r.function
	logger := log.G(ctx).WithFields(log.Fields{"pod": pod.Namespace + "/" + pod.Name, "function": name})
	if first {
		st := deadlineState(prev, name)
		logger.Info("pod past its active deadline; deleting its function")
		p.opts.Recorder.Eventf(pod, corev1.EventTypeNormal, translate.ReasonDeadlineExceeded, "%s", translate.MessageDeadlineExceeded)
		if translate.IsJob(pod) && !prev.NotCreated {
			// Should the deletion not be done before a restart, the
			// function's record says how the pod ended.
			if err := p.opts.Backend.Tag(ctx, name, translate.JobTags(st.Job)); err != nil && !errors.Is(err, ErrNotSupported) {
				logger.WithError(err).Warn("recording the deadline in the function's tags")
			}
		}
		p.storeAs(pod, &st, r)
	}
	err := p.opts.Backend.Delete(ctx, name)
	p.mu.Lock()
	r.run.deleting = false
	if err == nil {
		r.run.deleted = true
	} else {
		r.run.deleteAt = p.opts.Now().Add(maxBackoff)
	}
	p.mu.Unlock()
	if err != nil {
		logger.WithError(err).Warn("deleting the function of a pod past its deadline; will retry")
		p.opts.Recorder.Eventf(pod, corev1.EventTypeWarning, "FunctionDeleteFailed", "deleting function %s: %v (will retry)", name, err)
	}
}

// deadlineState is the state of a pod failed at its active deadline,
// from the state it had.
func deadlineState(prev translate.FunctionState, name string) translate.FunctionState {
	job := prev.Job
	backingOff := prev.Phase == translate.PhaseActive && job.State == "" && job.Restarts > 0
	job.State, job.DeadlineExceeded, job.Backoff = translate.JobFailed, true, 0
	job.Killed = !backingOff
	return translate.FunctionState{Name: name, ID: prev.ID, Phase: translate.PhaseFailed, NotCreated: prev.NotCreated,
		Reason: translate.ReasonDeadlineExceeded, Message: translate.MessageDeadlineExceeded,
		ImageID: prev.ImageID, Created: prev.Created, Endpoint: prev.Endpoint, Job: job}
}

// finishJob records the outcome in the function's tags, then in the pod.
func (p *Provider) finishJob(ctx context.Context, uid types.UID, name string, job translate.Job) {
	for attempt := 0; ctx.Err() == nil && p.known(uid); attempt++ {
		err := p.opts.Backend.Tag(ctx, name, translate.JobTags(job))
		if err == nil || errors.Is(err, ErrNotSupported) {
			break
		}
		log.G(ctx).WithError(err).Warn("recording the invocation's outcome; will retry")
		p.sleep(ctx, min(jobFirstBackoff<<attempt, jobMaxBackoff))
	}
	p.updateJob(uid, job)
}

// updateJob reports a Job's progress as the pod's status.
func (p *Provider) updateJob(uid types.UID, job translate.Job) {
	p.mu.Lock()
	r, ok := p.pods[uid]
	if !ok || r.state == nil {
		p.mu.Unlock()
		return
	}
	st := *r.state
	st.Job = job
	pod := r.pod
	if job.State == translate.JobSucceeded || job.State == translate.JobFailed {
		r.jobRunning = false
	}
	p.mu.Unlock()
	p.store(pod, &st)
}

func (p *Provider) known(uid types.UID) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.pods[uid]
	return ok
}

func (p *Provider) sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
