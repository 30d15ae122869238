package node

import (
	"context"
	"encoding/json"
	"maps"
	"slices"

	"github.com/virtual-kubelet/virtual-kubelet/log"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"github.com/faas-kubelet/faas-kubelet/provider"
)

// Live configuration: a function's environment follows the Secrets and
// ConfigMaps its pod's env refers to. A kubelet reads them once, at start;
// a function keeps running, so when one changes, or is created, the pods
// that refer to it are marked with the object's new revision (the
// faas-kubelet.io/env-from annotation). The mark is a change Virtual
// Kubelet syncs like any other: it hands the pod to the core, which
// resolves the env again from the node's caches (the core resolves env,
// not Virtual Kubelet) and redeploys the function only when the resolved
// environment differs, and says so in an event. A pod that waits for a
// ConfigMap, Secret or key that did not exist (CreateContainerConfigError)
// is created that way once it does.

// liveConfig marks the pods of one node whose env sources changed.
type liveConfig struct {
	client   kubernetes.Interface
	pods     corev1listers.PodLister
	recorder record.EventRecorder
}

// watch registers on the Secret and ConfigMap informers.
func (l *liveConfig) watch(ctx context.Context, secrets, configMaps cache.SharedIndexInformer) error {
	for _, inf := range []cache.SharedIndexInformer{secrets, configMaps} {
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerDetailedFuncs{
			// The initial list is what the pods were resolved from.
			AddFunc: func(obj any, initial bool) {
				if !initial {
					l.added(ctx, obj)
				}
			},
			UpdateFunc: func(oldObj, newObj any) { l.changed(ctx, oldObj, newObj) },
		}); err != nil {
			return err
		}
	}
	return nil
}

func (l *liveConfig) changed(ctx context.Context, oldObj, newObj any) {
	var kind, ns, name, rv string
	switch n := newObj.(type) {
	case *corev1.Secret:
		o, ok := oldObj.(*corev1.Secret)
		if !ok || maps.EqualFunc(o.Data, n.Data, slices.Equal) && maps.Equal(o.StringData, n.StringData) {
			return
		}
		kind, ns, name, rv = "Secret", n.Namespace, n.Name, n.ResourceVersion
	case *corev1.ConfigMap:
		o, ok := oldObj.(*corev1.ConfigMap)
		if !ok || maps.Equal(o.Data, n.Data) && maps.EqualFunc(o.BinaryData, n.BinaryData, slices.Equal) {
			return
		}
		kind, ns, name, rv = "ConfigMap", n.Namespace, n.Name, n.ResourceVersion
	default:
		return
	}
	l.mark(ctx, kind, ns, name, rv, "changed")
}

// added marks the pods that refer to a Secret or ConfigMap created after
// the informer's initial list: one they may be waiting for.
func (l *liveConfig) added(ctx context.Context, obj any) {
	switch o := obj.(type) {
	case *corev1.Secret:
		l.mark(ctx, "Secret", o.Namespace, o.Name, o.ResourceVersion, "created")
	case *corev1.ConfigMap:
		l.mark(ctx, "ConfigMap", o.Namespace, o.Name, o.ResourceVersion, "created")
	}
}

// mark annotates the live pods of namespace ns that refer to kind/name
// with its revision rv.
func (l *liveConfig) mark(ctx context.Context, kind, ns, name, rv, what string) {
	pods, err := l.pods.Pods(ns).List(labels.Everything())
	if err != nil {
		return
	}
	for _, pod := range pods {
		if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed || !EnvRefersTo(pod, kind, name) {
			continue
		}
		mark := kind + "/" + name + "@" + rv
		if pod.Annotations[provider.AnnotationEnvFrom] == mark {
			continue
		}
		patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{provider.AnnotationEnvFrom: mark}}})
		if _, err := l.client.CoreV1().Pods(ns).Patch(ctx, pod.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			log.G(ctx).WithError(err).WithField("pod", ns+"/"+pod.Name).Warn("marking a pod whose env source changed")
			continue
		}
		l.recorder.Eventf(pod, corev1.EventTypeNormal, "EnvSourceChanged", "%s %s %s: the function's environment is resolved again", kind, name, what)
	}
}

// EnvRefersTo says whether the pod's containers take env from the Secret
// or ConfigMap (env valueFrom or envFrom).
func EnvRefersTo(pod *corev1.Pod, kind, name string) bool {
	for _, c := range slices.Concat(pod.Spec.InitContainers, pod.Spec.Containers) {
		for _, e := range c.EnvFrom {
			if kind == "Secret" && e.SecretRef != nil && e.SecretRef.Name == name ||
				kind == "ConfigMap" && e.ConfigMapRef != nil && e.ConfigMapRef.Name == name {
				return true
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom == nil {
				continue
			}
			if kind == "Secret" && e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Name == name ||
				kind == "ConfigMap" && e.ValueFrom.ConfigMapKeyRef != nil && e.ValueFrom.ConfigMapKeyRef.Name == name {
				return true
			}
		}
	}
	return false
}
