package node

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	clocktesting "k8s.io/utils/clock/testing"
)

// waitIn runs b.wait and returns a channel that gets how long it waited.
func waitIn(b *statusBacklog) <-chan time.Duration {
	out := make(chan time.Duration, 1)
	go func() { out <- b.wait(context.Background()) }()
	return out
}

func waitersOf(t *testing.T, c *clocktesting.FakeClock) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !c.HasWaiters(); {
		if time.Now().After(deadline) {
			t.Fatal("the create never waited")
		}
		time.Sleep(time.Millisecond)
	}
}

// A create goes at once while the statuses not yet written are under the
// bound, waits while they are at it, and goes when one is written.
func TestCreatesWaitForTheStatusBacklog(t *testing.T) {
	c := clocktesting.NewFakeClock(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	b := newStatusBacklog(2, c)
	b.reported("a")
	if d := <-waitIn(b); d != 0 {
		t.Errorf("one status pending of 2: waited %v", d)
	}
	b.reported("a") // the same pod again: still one
	b.reported("b")
	done := waitIn(b)
	waitersOf(t, c)
	select {
	case <-done:
		t.Fatal("a create went with the backlog at its bound")
	default:
	}
	c.Step(time.Second)
	b.written("a")
	if d := <-done; d != time.Second {
		t.Errorf("the create waited %v, want the 1s until a status was written", d)
	}
	if n := b.Len(); n != 1 {
		t.Errorf("backlog %d, want 1", n)
	}
}

// The hold is never a stop: a create waits at most backlogMaxWait, and a
// report older than backlogForget (a pod whose status will never be
// written) no longer counts.
func TestBacklogNeverStopsCreates(t *testing.T) {
	c := clocktesting.NewFakeClock(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	b := newStatusBacklog(1, c)
	b.reported("lost")
	done := waitIn(b)
	waitersOf(t, c)
	c.Step(backlogMaxWait)
	if d := <-done; d != backlogMaxWait {
		t.Errorf("waited %v, want at most %v", d, backlogMaxWait)
	}
	c.Step(backlogForget)
	if d := <-waitIn(b); d != 0 {
		t.Errorf("a report %v old still held a create for %v", backlogForget+backlogMaxWait, d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.reported("x")
	out := make(chan time.Duration, 1)
	go func() { out <- b.wait(ctx) }()
	waitersOf(t, c)
	cancel()
	<-out
}

// A status written, found written, or of a pod that is gone takes the pod
// out of the backlog; one that failed otherwise (a conflict, written again
// by Virtual Kubelet) keeps it.
func TestStatusWritesDrainTheBacklog(t *testing.T) {
	c := clocktesting.NewFakeClock(time.Now())
	b := newStatusBacklog(10, c)
	live := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", UID: "u1", ResourceVersion: "7"}}
	client := fake.NewSimpleClientset(live.DeepCopy())
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	if err := indexer.Add(live.DeepCopy()); err != nil {
		t.Fatal(err)
	}
	w := statusWriter{PodsGetter: client.CoreV1(), cached: corev1listers.NewPodLister(indexer), backlog: b}
	for _, uid := range []types.UID{"u1", "gone"} {
		b.reported(uid)
	}
	running := live.DeepCopy()
	running.Status.Phase = corev1.PodRunning
	if _, err := w.Pods("ns").UpdateStatus(context.Background(), running, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	gone := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "gone", UID: "gone"}, Status: corev1.PodStatus{Phase: corev1.PodFailed}}
	if _, err := w.Pods("ns").UpdateStatus(context.Background(), gone, metav1.UpdateOptions{}); err == nil {
		t.Fatal("a status write of a pod the API server does not have succeeded")
	}
	if n := b.Len(); n != 0 {
		t.Errorf("backlog %d after the writes, want 0", n)
	}
}
