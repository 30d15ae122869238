package kubewatch

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Pods lists and watches the pods of namespace (all for "") that tweak
// selects, as client-go's pod informer does, with a watch that is resumed
// when the API server closes it.
func Pods(client kubernetes.Interface, namespace string, tweak func(*metav1.ListOptions)) cache.ListerWatcher {
	pods := client.CoreV1().Pods(namespace)
	if tweak == nil {
		tweak = func(*metav1.ListOptions) {}
	}
	list := func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
		tweak(&o)
		return pods.List(ctx, o)
	}
	watchPods := Resuming(func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
		tweak(&o)
		return pods.Watch(ctx, o)
	})
	return cache.ToListWatcherWithWatchListSemantics(&cache.ListWatch{
		ListWithContextFunc:  list,
		WatchFuncWithContext: cache.WatchFuncWithContext(watchPods),
		ListFunc:             func(o metav1.ListOptions) (runtime.Object, error) { return list(context.Background(), o) },
		WatchFunc:            func(o metav1.ListOptions) (watch.Interface, error) { return watchPods(context.Background(), o) },
	}, client)
}
