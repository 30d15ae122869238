package node

import (
	"context"
	"time"

	"github.com/faas-kubelet/faas-kubelet/provider/translate"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	corev1listers "k8s.io/client-go/listers/core/v1"
)

// statusWriter is the pod client Virtual Kubelet writes pod statuses with.
//
// The pods/status endpoint writes a pod's metadata as well as its status:
// it resets only spec, metadata.deletionTimestamp and
// metadata.ownerReferences (podStatusStrategy in k8s.io/kubernetes
// pkg/registry/core/pod). Virtual Kubelet sends the pod its provider last
// reported, with the resourceVersion of the pod it last synced, so labels,
// annotations or finalizers set since the provider took the pod were
// written back as they had been: a label a Service selects on, added while
// the function was being updated, vanished with the pod's endpoint. A
// kubelet sends the status alone. Each status here goes with the metadata
// of the pod as the informer's cache has it, resourceVersion included, so
// only the status changes; a cache behind the API server gets a conflict,
// and Virtual Kubelet writes again from the newer pod.
//
// The conditions others own (DisruptionTarget, a readiness gate's) are
// taken from that same cached pod, and Ready is computed again for its
// readiness gates, as the kubelet's status manager merges them just
// before each write: a condition written after the provider's report and
// before Virtual Kubelet's queued write is kept, not wiped; one written
// after the cache was read makes the write conflict.
//
// A status equal to the one the cache has is not written, as the kubelet's
// status manager does not write a status the API server has: Virtual
// Kubelet writes whatever its provider reports first, so a restart that
// adopts 10,000 running pods would otherwise write 10,000 unchanged
// statuses before any new pod's.
type statusWriter struct {
	corev1client.PodsGetter
	cached  corev1listers.PodLister
	now     func() time.Time // a Ready that turns with a gate is stamped with it; nil: time.Now
	backlog *statusBacklog   // told of each status written; nil: none
}

func (w statusWriter) Pods(namespace string) corev1client.PodInterface {
	now := w.now
	if now == nil {
		now = time.Now
	}
	return podStatusWriter{PodInterface: w.PodsGetter.Pods(namespace), cached: w.cached.Pods(namespace), now: now, backlog: w.backlog}
}

type podStatusWriter struct {
	corev1client.PodInterface
	cached  corev1listers.PodNamespaceLister
	now     func() time.Time
	backlog *statusBacklog
}

func (w podStatusWriter) UpdateStatus(ctx context.Context, pod *corev1.Pod, opts metav1.UpdateOptions) (*corev1.Pod, error) {
	out, err := w.updateStatus(ctx, pod, opts)
	if w.backlog != nil && (err == nil || apierrors.IsNotFound(err)) {
		w.backlog.written(pod.UID)
	}
	return out, err
}

func (w podStatusWriter) updateStatus(ctx context.Context, pod *corev1.Pod, opts metav1.UpdateOptions) (*corev1.Pod, error) {
	if cur, err := w.cached.Get(pod.Name); err == nil && cur.UID == pod.UID {
		status := translate.MergeConditions(cur, pod.Status, cur.Status.Conditions, w.now())
		if apiequality.Semantic.DeepEqual(cur.Status, status) {
			return cur.DeepCopy(), nil
		}
		out := *pod // the caller's pod is left as it was
		out.ObjectMeta = *cur.ObjectMeta.DeepCopy()
		out.Status = status
		pod = &out
	}
	return w.PodInterface.UpdateStatus(ctx, pod, opts)
}
