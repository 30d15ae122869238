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
// run it twice, so the pod fails saying so.
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
	if job.State == translate.JobRunning {
		job.State = translate.JobFailed
		job.Message = "faas-kubelet restarted while the invocation was running; its outcome is unknown and it is not run again"
		if err := p.opts.Backend.Tag(ctx, st.Name, translate.JobTags(job)); err != nil {
			log.G(ctx).WithError(err).Warn("recording the lost invocation")
		}
	}
	return job
}

// runJob invokes a run-once pod's function: once for restartPolicy Never;
// until it succeeds, with backoff, for OnFailure. Each attempt is recorded
// in the function's tags before the call, and its outcome after.
func (p *Provider) runJob(uid types.UID, name string) {
	p.mu.Lock()
	ctx := p.runCtx
	r, ok := p.pods[uid]
	if !ok {
		p.mu.Unlock()
		return
	}
	pod := r.pod
	p.mu.Unlock()
	ctx = log.WithLogger(ctx, log.G(ctx).WithFields(log.Fields{"pod": pod.Namespace + "/" + pod.Name, "function": name}))
	payload := []byte(pod.Annotations[AnnotationPayload])
	if len(payload) == 0 {
		payload = []byte("{}")
	}
	job := translate.Job{}
	backoff := p.opts.JobBackoff
	for ctx.Err() == nil && p.known(uid) {
		job.State = translate.JobRunning
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
		// The invocation and the record of its outcome outlive a shutdown
		// until Drain gives up on them: a graceful stop finishes them.
		if !p.invoke(ctx, uid, name, pod, payload, &job) {
			return
		}
		job.Restarts++
		job.State = ""
		p.updateJob(uid, job)
		p.opts.Recorder.Eventf(pod, corev1.EventTypeWarning, "BackOff", "retrying function %s in %s (restart %d)", name, backoff, job.Restarts)
		p.sleep(ctx, backoff)
		backoff = min(backoff*2, jobMaxBackoff)
	}
}

// invoke runs one attempt on the drain context and records a final outcome;
// it returns whether the Job goes on (a failure under OnFailure).
func (p *Provider) invoke(ctx context.Context, uid types.UID, name string, pod *corev1.Pod, payload []byte, job *translate.Job) bool {
	p.invocations.Add(1)
	defer p.invocations.Done()
	dctx := log.WithLogger(p.drainCtx, log.G(ctx))
	inv, err := p.opts.Backend.Invoke(dctx, name, payload)
	switch {
	case err != nil:
		job.Message = "invoking: " + err.Error()
	case inv.FunctionError != "":
		job.Message = inv.FunctionError
	default:
		job.State, job.Message = translate.JobSucceeded, ""
		p.finishJob(dctx, uid, name, *job)
		p.opts.Recorder.Eventf(pod, corev1.EventTypeNormal, "InvocationSucceeded", "function %s returned %d bytes", name, len(inv.Output))
		return false
	}
	p.opts.Recorder.Eventf(pod, corev1.EventTypeWarning, "InvocationFailed", "function %s: %s", name, job.Message)
	if pod.Spec.RestartPolicy != corev1.RestartPolicyOnFailure {
		job.State = translate.JobFailed
		p.finishJob(dctx, uid, name, *job)
		return false
	}
	return true
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
