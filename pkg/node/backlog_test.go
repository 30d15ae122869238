package node

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/faas-kubelet/faas-kubelet/pkg/memorybackend"
	"github.com/faas-kubelet/faas-kubelet/provider"
)

func podUID(uid types.UID) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: string(uid), UID: uid}}
}

// waitIn runs b.wait and returns a channel that gets how long it waited.
func waitIn(b *statusBacklog) <-chan time.Duration {
	out := make(chan time.Duration, 1)
	go func() { out <- b.wait(context.Background()) }()
	return out
}

// waitersOf waits until a create waits on the fake clock.
func waitersOf(t *testing.T, c *clocktesting.FakeClock) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(context.Background(), time.Millisecond, 5*time.Second, true,
		func(context.Context) (bool, error) { return c.HasWaiters(), nil }); err != nil {
		t.Fatal("the create never waited")
	}
}

// A create goes at once while the statuses not yet written are under the
// bound, waits while they are at it, and goes when one is written.
func TestCreatesWaitForTheStatusBacklog(t *testing.T) {
	c := clocktesting.NewFakeClock(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
	b := newStatusBacklog(2, c, nil)
	b.reported(podUID("a"))
	if d := <-waitIn(b); d != 0 {
		t.Errorf("one status pending of 2: waited %v", d)
	}
	b.reported(podUID("a")) // the same pod again: still one
	b.reported(podUID("b"))
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
	b := newStatusBacklog(1, c, nil)
	b.reported(podUID("lost"))
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
	b.reported(podUID("x"))
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
	b := newStatusBacklog(10, c, nil)
	live := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", UID: "u1", ResourceVersion: "7"}}
	client := fake.NewSimpleClientset(live.DeepCopy())
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	if err := indexer.Add(live.DeepCopy()); err != nil {
		t.Fatal(err)
	}
	w := statusWriter{PodsGetter: client.CoreV1(), cached: corev1listers.NewPodLister(indexer), backlog: b}
	for _, uid := range []types.UID{"u1", "gone"} {
		b.reported(podUID(uid))
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

// A report the cache already shows needs no write and does not count; a
// status change the cache shows (a write landed) takes the pod out.
func TestBacklogCountsOnlyStatusesToWrite(t *testing.T) {
	live := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web", UID: "u1"}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	client := fake.NewSimpleClientset(live.DeepCopy())
	factory := informers.NewSharedInformerFactory(client, 0)
	inf := factory.Core().V1().Pods()
	b := newStatusBacklog(10, clocktesting.NewFakeClock(time.Now()), inf.Lister())
	if err := b.watch(inf.Informer()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())

	b.reported(live.DeepCopy())
	if n := b.Len(); n != 0 {
		t.Errorf("a report equal to the cached status counted: backlog %d", n)
	}
	failed := live.DeepCopy()
	failed.Status.Phase = corev1.PodFailed
	b.reported(failed)
	if n := b.Len(); n != 1 {
		t.Fatalf("backlog %d after a new status, want 1", n)
	}
	if _, err := client.CoreV1().Pods("ns").UpdateStatus(ctx, failed, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := wait.PollUntilContextTimeout(ctx, 5*time.Millisecond, 5*time.Second, true,
		func(context.Context) (bool, error) { return b.Len() == 0, nil }); err != nil {
		t.Fatal("the cache showed the new status and the pod still counts")
	}
}

// A new pod's create waits for the backlog; a restart hands in every
// Running pod again, and those are adopted, not created: they never wait.
func TestRunningPodsHandedInAgainDoNotWait(t *testing.T) {
	core, err := provider.New(provider.Options{NodeName: "vk", Backend: memorybackend.New(memorybackend.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	c := clocktesting.NewFakeClock(time.Now())
	b := newStatusBacklog(1, c, nil)
	b.reported(podUID("busy"))
	p := backpressured{Provider: core, backlog: b}
	pod := func(name string, phase corev1.PodPhase) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: types.UID("uid-" + name)},
			Spec:   corev1.PodSpec{NodeName: "vk", Containers: []corev1.Container{{Name: "app", Image: "example.com/app:1"}}},
			Status: corev1.PodStatus{Phase: phase}}
	}
	create := func(p2 *corev1.Pod) <-chan error {
		out := make(chan error, 1)
		go func() { out <- p.CreatePod(context.Background(), p2) }()
		return out
	}
	select {
	case err := <-create(pod("adopted", corev1.PodRunning)):
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a Running pod handed in again waited for the backlog")
	}
	fresh := create(pod("new", corev1.PodPending))
	waitersOf(t, c)
	select {
	case <-fresh:
		t.Fatal("a new pod was created with the backlog at its bound")
	default:
	}
	b.written("busy")
	if err := <-fresh; err != nil {
		t.Fatal(err)
	}
}
