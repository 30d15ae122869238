package provider

import (
	"context"

	"github.com/virtual-kubelet/virtual-kubelet/log"
	corev1 "k8s.io/api/core/v1"

	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// The core resolves a pod's environment itself, as the kubelet does (see
// translate.ResolveEnv), where Virtual Kubelet would have: the node runs
// its pod controller with SkipDownwardAPIResolution. The pod is resolved
// on a copy that is only deployed; the pod recorded and returned by GetPod
// is built from the one Virtual Kubelet handed in.

// resolveEnv returns a copy of pod with its environment resolved.
func (p *Provider) resolveEnv(pod *corev1.Pod) (*corev1.Pod, error) {
	return translate.ResolveEnv(pod, translate.EnvHost{IP: p.opts.PodIP, Allocatable: p.opts.Allocatable}, p.opts.EnvSources)
}

// refuseEnv handles a pod whose environment cannot be resolved (a
// ConfigMap, Secret or key that does not exist): as a kubelet does for the
// container, the pod waits with the reason CreateContainerConfigError and
// the message naming the field, and is never failed for it. Its function
// is created when the pod is handed in again: a ConfigMap or Secret it
// refers to that is created or changed marks the pod (see
// AnnotationEnvFrom), which does. A function that serves keeps serving
// its previous version meanwhile, as a running container keeps running.
// A pod the translation refuses anyway is refused for that.
func (p *Provider) refuseEnv(ctx context.Context, pod *corev1.Pod, envErr error) error {
	if _, err := p.translate(pod); err != nil {
		return p.deploy(ctx, pod)
	}
	err := Refused(translate.ReasonCreateContainerConfigError, envErr)
	_, reason := Classify(err)
	name := translate.FunctionName(pod)
	key := "env: " + err.Error()
	ctx = log.WithLogger(ctx, log.G(ctx).WithFields(log.Fields{"pod": pod.Namespace + "/" + pod.Name, "uid": pod.UID, "function": name}))

	p.mu.Lock()
	r, ok := p.pods[pod.UID]
	if !ok && !translate.IsJob(pod) && pod.Status.Phase == corev1.PodRunning {
		// After a restart, a pod the API server shows Running is one
		// whose function served until now: it goes on serving.
		p.mu.Unlock()
		p.record(pod, &translate.FunctionState{Name: name, Phase: translate.PhaseActive, Created: runningSince(pod)}, nil, nil)
		p.mu.Lock()
		if r, ok = p.pods[pod.UID]; !ok {
			p.mu.Unlock()
			return nil
		}
		r.waiting = &waitingPod{update: true}
	}
	same := ok && r.waiting != nil && r.waiting.key == key
	function := ok && (r.deployed != "" || r.waiting != nil && r.waiting.update)
	if !ok || !same && !function && r.phase == translate.PhasePending {
		// No function yet: the pod waits.
		p.mu.Unlock()
		log.G(ctx).WithError(err).WithField("reason", reason).Warn("environment not resolved; the pod waits for it")
		p.opts.Recorder.Eventf(pod, corev1.EventTypeWarning, reason, "creating function %s: %v (tried again when the ConfigMap or Secret is created or changes)", name, err)
		p.storeWaiting(pod, &translate.FunctionState{Name: name, Phase: translate.PhasePending, NotCreated: true, Reason: reason, Message: err.Error()}, &waitingPod{key: key}, nil)
		return nil
	}
	// Waiting for it already, or the function exists: the pod's metadata
	// and the conditions others own are taken in, as for any update.
	changed := p.adopt(r, pod)
	refreshed := recorded(pod)
	refreshed.Status = *r.pod.Status.DeepCopy()
	r.pod = refreshed
	if changed {
		r.reported = p.opts.Now()
	}
	tell := !same && function && !isFinished(r.pod) && r.phase != translate.PhaseFailed
	if tell && r.phase == translate.PhaseActive {
		// The function serves its previous version; the next pod that
		// resolves is deployed whatever it asks for.
		r.waiting, r.deployed = &waitingPod{key: key, update: true}, ""
	}
	p.reportLocked(r, changed)
	if tell {
		log.G(ctx).WithError(err).WithField("reason", reason).Warn("environment not resolved; the function keeps its previous environment")
		p.opts.Recorder.Eventf(pod, corev1.EventTypeWarning, reason, "updating function %s: %v; the function keeps its previous environment", name, err)
	}
	return nil
}
