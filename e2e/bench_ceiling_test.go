//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"
	"k8s.io/client-go/util/workqueue"

	"github.com/faas-kubelet/faas-kubelet/pkg/config"
	"github.com/faas-kubelet/faas-kubelet/pkg/kubewatch"
)

// The API server's ceiling is the fastest bare kubelet this harness can be,
// doing the writes faas-kubelet's run did, with nothing between them: the
// same 32 creators; on the kubelet's side a watch of the node's pods
// (spec.nodeName, resumed as faas-kubelet's is) feeding a queue without a
// rate limit and as many status writers as faas-kubelet has workers, on a
// client with faas-kubelet's settings (clientQPS, clientBurst, protobuf);
// events on a client of their own (eventQPS, eventBurst), one writer, as
// many as faas-kubelet's run wrote, on the way up and on the way down; and
// deletions confirmed (grace period 0) as the kubelet confirms them. Its
// clock stops when the harness's watch has seen every pod Running, as
// faas-kubelet's does. faas-kubelet does all of this and more per pod, so
// its ratio to the ceiling is at most 1 up to noise.

// kubeletSideClient is a client as faas-kubelet makes them (pkg/cli).
func kubeletSideClient(t *testing.T, qps float32, burst int) kubernetes.Interface {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", cluster.env["KUBECONFIG"])
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = qps, burst
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	return kubernetes.NewForConfigOrDie(cfg)
}

// readyNode registers a Node that reports Ready, so that the node lifecycle
// controller leaves its pods alone during a run.
func readyNode(t *testing.T, prefix string) string {
	t.Helper()
	node := fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()%100000)
	created, err := cluster.client.CoreV1().Nodes().Create(context.Background(), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		now := metav1.Now()
		created.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: now, LastTransitionTime: now}}
		_, err := cluster.client.CoreV1().Nodes().UpdateStatus(context.Background(), created, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			if cur, gerr := cluster.client.CoreV1().Nodes().Get(context.Background(), node, metav1.GetOptions{}); gerr == nil {
				created = cur
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cluster.client.CoreV1().Nodes().Delete(context.Background(), node, metav1.DeleteOptions{}) })
	return node
}

// share is how many of total events the k-th of n pods gets, so that n
// pods get total events between them, spread evenly.
func share(total, n, k int) int {
	if n == 0 {
		return 0
	}
	return (k+1)*total/n - k*total/n
}

// eventWriter writes events one at a time, as a client-go event
// broadcaster's sink does, never holding up the status writers.
type eventWriter struct {
	client kubernetes.Interface
	source string
	queue  chan *corev1.Pod
	done   chan struct{}
	failed atomic.Int64
}

func newEventWriter(client kubernetes.Interface, source string, capacity int) *eventWriter {
	w := &eventWriter{client: client, source: source, queue: make(chan *corev1.Pod, capacity), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for pod := range w.queue {
			now := metav1.Now()
			ev := &corev1.Event{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s.%x", pod.Name, time.Now().UnixNano()), Namespace: pod.Namespace},
				InvolvedObject: corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: pod.Namespace, Name: pod.Name,
					UID: pod.UID, ResourceVersion: pod.ResourceVersion},
				Reason: "BenchCeiling", Message: "the bare kubelet's share of faas-kubelet's events", Type: corev1.EventTypeNormal,
				Source: corev1.EventSource{Component: w.source}, FirstTimestamp: now, LastTimestamp: now, Count: 1,
			}
			if _, err := w.client.CoreV1().Events(pod.Namespace).Create(context.Background(), ev, metav1.CreateOptions{}); err != nil {
				w.failed.Add(1)
			}
		}
	}()
	return w
}

// add queues k events about pod; the queue holds every event of the run.
func (w *eventWriter) add(pod *corev1.Pod, k int) {
	for range k {
		select {
		case w.queue <- pod:
		default:
			w.failed.Add(1)
		}
	}
}

// benchCeiling runs the bare kubelet for n pods, writing eventsUp events
// between all pods on their way to Running and eventsDown on their way out
// (what faas-kubelet's run before it wrote).
func benchCeiling(t *testing.T, n, eventsUp, eventsDown int) benchRun {
	node := readyNode(t, "bench-ceiling")
	c := benchClient(t) // the creators' client: the one faas-kubelet's run used
	kc := kubeletSideClient(t, config.DefaultClientQPS, config.DefaultClientBurst)
	events := newEventWriter(kubeletSideClient(t, config.DefaultEventQPS, config.DefaultEventBurst), node+"/pod-controller", eventsUp+eventsDown+1)
	ns := namespace(t)
	rw := watchRunning(t, c, ns, n)

	// The kubelet's side: its node's pods, all namespaces, as faas-kubelet
	// watches them.
	informer := cache.NewSharedIndexInformer(kubewatch.Pods(kc, corev1.NamespaceAll, func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", node).String()
	}), &corev1.Pod{}, 0, cache.Indexers{})
	// Failed writes back off per pod, as faas-kubelet's queues do.
	queue := workqueue.NewTypedRateLimitingQueue[string](workqueue.NewTypedItemExponentialFailureRateLimiter[string](5*time.Millisecond, 30*time.Second))
	enqueue := func(obj any) {
		if key, err := cache.MetaNamespaceKeyFunc(obj); err == nil {
			queue.Add(key)
		}
	}
	_, _ = informer.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: enqueue, UpdateFunc: func(_, obj any) { enqueue(obj) }})
	stop := make(chan struct{})
	go informer.Run(stop)
	if !cache.WaitForCacheSync(stop, informer.HasSynced) {
		t.Fatal("the ceiling's pod informer did not sync")
	}
	var written sync.Map // pod name → when its Running status was written
	var upCount, downCount atomic.Int64
	var failures atomic.Int64
	handle := func(key string) {
		obj, exists, err := informer.GetStore().GetByKey(key)
		if err != nil || !exists {
			return
		}
		pod := obj.(*corev1.Pod).DeepCopy()
		switch {
		case pod.DeletionTimestamp != nil:
			err := kc.CoreV1().Pods(pod.Namespace).Delete(context.Background(), pod.Name,
				metav1.DeleteOptions{GracePeriodSeconds: aws.Int64(0), Preconditions: metav1.NewUIDPreconditions(string(pod.UID))})
			if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
				failures.Add(1)
				queue.AddRateLimited(key)
				return
			}
			queue.Forget(key)
			if err == nil {
				events.add(pod, share(eventsDown, n, int(downCount.Add(1))-1))
			}
		case pod.Status.Phase != corev1.PodRunning:
			now := metav1.Now()
			status := corev1.PodStatus{Phase: corev1.PodRunning, StartTime: &now, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
				ContainerStatuses: []corev1.ContainerStatus{{Name: "fn", Ready: true, Image: pod.Spec.Containers[0].Image, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}}}}
			err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
				pod.Status = status
				_, err := kc.CoreV1().Pods(pod.Namespace).UpdateStatus(context.Background(), pod, metav1.UpdateOptions{})
				if apierrors.IsConflict(err) {
					if cur, gerr := kc.CoreV1().Pods(pod.Namespace).Get(context.Background(), pod.Name, metav1.GetOptions{}); gerr == nil {
						pod = cur
					}
				}
				return err
			})
			switch {
			case err == nil:
				queue.Forget(key)
				written.Store(pod.Name, time.Now())
				events.add(pod, share(eventsUp, n, int(upCount.Add(1))-1))
			case !apierrors.IsNotFound(err):
				failures.Add(1)
				queue.AddRateLimited(key)
			}
		}
	}
	var workers sync.WaitGroup
	for range config.DefaultWorkers {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for {
				key, quit := queue.Get()
				if quit {
					return
				}
				handle(key)
				queue.Done(key)
			}
		}()
	}
	defer func() {
		queue.ShutDown()
		workers.Wait()
		close(stop)
	}()

	start := time.Now()
	parallel(n, 32, func(i int) {
		if _, err := c.CoreV1().Pods(ns).Create(context.Background(), boundPod(ns, node, i), metav1.CreateOptions{}); err != nil {
			t.Errorf("create: %v", err)
		}
	})
	select {
	case <-rw.done:
	case <-time.After(10 * time.Minute):
		t.Fatalf("ceiling: only %d of %d pods Running after 10 min", len(rw.at), n)
	}
	run := benchRun{Name: "API server ceiling", Pods: n, RunningPerSec: float64(n) / time.Since(start).Seconds(), EventsUp: eventsUp, EventsDown: eventsDown}
	// How late this harness sees a status after it was written: the floor
	// under faas-kubelet's "seen" figures.
	var lags []float64
	rw.mu.Lock()
	for uid, at := range rw.at {
		if w, ok := written.Load(rw.name[uid]); ok {
			lags = append(lags, float64(at.Sub(w.(time.Time)).Milliseconds()))
		}
	}
	rw.mu.Unlock()
	sort.Float64s(lags)
	run.P50SeenMs, run.P99SeenMs = percentile(lags, 0.50), percentile(lags, 0.99)

	start = time.Now()
	parallel(n, 32, func(i int) {
		if err := c.CoreV1().Pods(ns).Delete(context.Background(), fmt.Sprintf("bench-%05d", i), metav1.DeleteOptions{}); err != nil {
			t.Errorf("delete: %v", err)
		}
	})
	waitNoPods(t, c, ns, "ceiling", 100*time.Millisecond)
	run.DeletePerSec = float64(n) / time.Since(start).Seconds()
	// The events still queued are written before the next run starts.
	close(events.queue)
	select {
	case <-events.done:
	case <-time.After(10 * time.Minute):
		t.Errorf("ceiling: events still being written after 10 min")
	}
	if f := failures.Load() + events.failed.Load(); f > 0 {
		t.Logf("ceiling: %d writes failed (retried where they were status or deletion writes)", f)
	}
	return run
}

// waitNoPods waits until ns has no pods left, asking every interval for
// one pod only (a list of thousands would load the API server it measures).
func waitNoPods(t *testing.T, c kubernetes.Interface, ns, what string, interval time.Duration) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Minute)
	for {
		list, err := c.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{Limit: 1})
		if err == nil && len(list.Items) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: pods left 10 min after deleting", what)
		}
		time.Sleep(interval)
	}
}
