package node

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
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
// A status equal to the one the cache has is not written, as the kubelet's
// status manager does not write a status the API server has: Virtual
// Kubelet writes whatever its provider reports first, so a restart that
// adopts 10,000 running pods would otherwise write 10,000 unchanged
// statuses before any new pod's.
type statusWriter struct {
	corev1client.PodsGetter
	cached corev1listers.PodLister
}

func (w statusWriter) Pods(namespace string) corev1client.PodInterface {
	return podStatusWriter{PodInterface: w.PodsGetter.Pods(namespace), cached: w.cached.Pods(namespace)}
}

type podStatusWriter struct {
	corev1client.PodInterface
	cached corev1listers.PodNamespaceLister
}

func (w podStatusWriter) UpdateStatus(ctx context.Context, pod *corev1.Pod, opts metav1.UpdateOptions) (*corev1.Pod, error) {
	if cur, err := w.cached.Get(pod.Name); err == nil && cur.UID == pod.UID {
		if apiequality.Semantic.DeepEqual(cur.Status, pod.Status) {
			return cur.DeepCopy(), nil
		}
		out := *pod // the caller's pod is left as it was
		out.ObjectMeta = *cur.ObjectMeta.DeepCopy()
		pod = &out
	}
	return w.PodInterface.UpdateStatus(ctx, pod, opts)
}
