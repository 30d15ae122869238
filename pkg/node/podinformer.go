package node

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/faas-kubelet/faas-kubelet/pkg/kubewatch"
)

// newPodInformer is Virtual Kubelet's pod informer (nodeutil's filter: the
// node's pods only) with a watch that is resumed when the API server closes
// it under load (see package kubewatch).
func newPodInformer(client kubernetes.Interface, nodeName string, resync time.Duration) cache.SharedIndexInformer {
	selector := fields.OneTermEqualSelector("spec.nodeName", nodeName).String()
	lw := kubewatch.Pods(client, metav1.NamespaceAll, func(o *metav1.ListOptions) { o.FieldSelector = selector })
	return cache.NewSharedIndexInformer(lw, &corev1.Pod{}, resync, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
}
