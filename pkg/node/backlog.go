package node

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"github.com/faas-kubelet/faas-kubelet/provider"
)

// Status writes before new functions.
//
// Virtual Kubelet creates pods and writes their statuses from two queues
// that share the API server. At thousands of pods the creates run ahead:
// a function turned Active while its pod's status waited behind thousands
// of others (at 10,000 pods, 40 s at p99 from Active to Running). A
// kubelet starts no container faster than it can say so either. So a
// node holds each new pod's create while the statuses its pods reported
// and not yet written pass a bound (statusBacklog): the statuses of
// functions already running go first, and the cloud is asked for new
// functions at the pace the API server takes what they report.
//
// A report counts when the informer's cache shows the pod with another
// status (one equal to it needs no write: Virtual Kubelet or the status
// writer skips it), until the status writer writes it, the cache shows
// the pod's status changed (a write landed) or the pod deleted. The hold
// is never a stop: a create waits at most backlogMaxWait, and a report
// older than backlogForget no longer counts (one Virtual Kubelet chose not
// to write), so a lost count slows the node for a moment at worst.

// backlogMaxWait bounds how long one create waits for the backlog.
const backlogMaxWait = 10 * time.Second

// backlogForget is the age past which a report not yet written no longer
// counts.
const backlogForget = 30 * time.Second

// statusBacklog counts the pods whose status the provider reported and
// the node has not written yet.
type statusBacklog struct {
	limit  int
	clock  clock.Clock
	cached corev1listers.PodLister // nil: every report counts

	mu      sync.Mutex
	pending map[types.UID]time.Time // when first reported since the last write
	drained chan struct{}           // closed and replaced when an entry goes
}

func newStatusBacklog(limit int, c clock.Clock, cached corev1listers.PodLister) *statusBacklog {
	if limit < 1 {
		limit = 1
	}
	return &statusBacklog{limit: limit, clock: c, cached: cached, pending: map[types.UID]time.Time{}, drained: make(chan struct{})}
}

// reported counts a status the provider reported, unless the cache shows
// the pod with it already.
func (b *statusBacklog) reported(pod *corev1.Pod) {
	if b.cached != nil {
		if cur, err := b.cached.Pods(pod.Namespace).Get(pod.Name); err == nil && cur.UID == pod.UID &&
			apiequality.Semantic.DeepEqual(cur.Status, pod.Status) {
			return
		}
	}
	b.mu.Lock()
	if _, ok := b.pending[pod.UID]; !ok {
		b.pending[pod.UID] = b.clock.Now()
	}
	b.mu.Unlock()
}

// written takes a pod out of the backlog: its status was written (or
// found written), or the pod is gone.
func (b *statusBacklog) written(uid types.UID) {
	b.mu.Lock()
	if _, ok := b.pending[uid]; ok {
		delete(b.pending, uid)
		close(b.drained)
		b.drained = make(chan struct{})
	}
	b.mu.Unlock()
}

// size is the backlog now, forgetting reports older than backlogForget;
// called with b.mu held.
func (b *statusBacklog) sizeLocked() int {
	now := b.clock.Now()
	for uid, at := range b.pending {
		if now.Sub(at) >= backlogForget {
			delete(b.pending, uid)
		}
	}
	return len(b.pending)
}

// Len is the backlog now.
func (b *statusBacklog) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sizeLocked()
}

// wait returns once the backlog is under its limit, after backlogMaxWait,
// or when ctx ends; it says how long it waited.
func (b *statusBacklog) wait(ctx context.Context) time.Duration {
	start := b.clock.Now()
	deadline := b.clock.NewTimer(backlogMaxWait)
	defer deadline.Stop()
	for {
		b.mu.Lock()
		if b.sizeLocked() < b.limit {
			b.mu.Unlock()
			return b.clock.Since(start)
		}
		drained := b.drained
		b.mu.Unlock()
		select {
		case <-drained:
		case <-deadline.C():
			return b.clock.Since(start)
		case <-ctx.Done():
			return b.clock.Since(start)
		}
	}
}

// backpressured is the core as Virtual Kubelet sees it: each report
// counts in the backlog, and a create waits for it (see above).
type backpressured struct {
	*provider.Provider
	backlog *statusBacklog
}

func (p backpressured) NotifyPods(ctx context.Context, cb func(*corev1.Pod)) {
	p.Provider.NotifyPods(ctx, func(pod *corev1.Pod) {
		p.backlog.reported(pod)
		cb(pod)
	})
}

// CreatePod waits for the backlog before a pod's function is created. A
// pod the API server shows Running already (a restart hands in every pod
// of the node again) has its function and is adopted: it goes at once.
func (p backpressured) CreatePod(ctx context.Context, pod *corev1.Pod) error {
	if pod.Status.Phase != corev1.PodRunning {
		p.backlog.wait(ctx)
	}
	return p.Provider.CreatePod(ctx, pod)
}

// watch takes out of the backlog a pod whose status the cache shows
// changed (a write landed, Virtual Kubelet's or another) and a pod
// deleted from the API server (its status will never be written).
func (b *statusBacklog) watch(informer cache.SharedIndexInformer) error {
	_, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(oldObj, newObj any) {
			o, ok1 := oldObj.(*corev1.Pod)
			n, ok2 := newObj.(*corev1.Pod)
			if ok1 && ok2 && o.UID == n.UID && !apiequality.Semantic.DeepEqual(o.Status, n.Status) {
				b.written(n.UID)
			}
		},
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if pod, ok := obj.(*corev1.Pod); ok {
				b.written(pod.UID)
			}
		},
	})
	return err
}
