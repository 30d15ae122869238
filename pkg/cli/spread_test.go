package cli

import (
	"context"
	"errors"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	"github.com/faas-kubelet/faas-kubelet/pkg/config"
)

func TestShareOfTheNodes(t *testing.T) {
	for _, tc := range []struct{ nodes, alive, want int }{
		{4, 2, 2}, {5, 2, 3}, {4, 1, 4}, {4, 0, 4}, {1, 3, 1}, {4, 3, 2},
	} {
		if got := share(tc.nodes, tc.alive); got != tc.want {
			t.Errorf("share(%d nodes, %d replicas) = %d, want %d", tc.nodes, tc.alive, got, tc.want)
		}
	}
}

func testElection() config.LeaderElection {
	return config.LeaderElection{Enabled: true, Namespace: "kube-system", Name: "faas-kubelet-n1",
		LeaseDuration: metav1.Duration{Duration: 12 * time.Second}, RenewDeadline: metav1.Duration{Duration: 8 * time.Second},
		RetryPeriod: metav1.Duration{Duration: 2 * time.Second}}
}

func testNodes() []config.Node {
	return []config.Node{{Name: "n1"}, {Name: "n2"}, {Name: "n3"}, {Name: "n4"}}
}

// Replicas count each other alive from their member Leases, judged on their
// own clock: one whose Lease stopped changing for LeaseDuration is gone,
// and so is one that stopped cleanly (its Lease deleted).
func TestReplicasCountEachOtherAlive(t *testing.T) {
	client := fake.NewClientset()
	now := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	a := newSpreader(client, testElection(), testNodes(), "host-a_1", nil, nil)
	b := newSpreader(client, testElection(), testNodes(), "host-b_2", nil, nil)
	a.now, b.now = clock, clock
	ctx := context.Background()
	beat := func(s *spreader) {
		t.Helper()
		if err := s.beat(ctx); err != nil {
			t.Fatal(err)
		}
	}
	beat(a)
	beat(b)
	beat(a)
	if a.alive != 2 || b.alive != 2 || share(4, a.alive) != 2 {
		t.Fatalf("alive: a sees %d, b sees %d; want 2 each", a.alive, b.alive)
	}
	// b stops renewing: a counts it gone once its Lease has not changed
	// for a RetryPeriod less than LeaseDuration (10 s), on a's clock, so
	// that a has room for b's nodes when their Leases expire (12 s).
	for range 4 {
		now = now.Add(2 * time.Second)
		beat(a)
	}
	if a.alive != 2 {
		t.Errorf("after 8 s without b's renewal a sees %d alive, want 2 still", a.alive)
	}
	now = now.Add(2 * time.Second)
	beat(a)
	if a.alive != 1 {
		t.Errorf("after 10 s without b's renewal a sees %d alive, want 1", a.alive)
	}
	// b comes back, then stops cleanly: its Lease goes at once.
	beat(b)
	beat(a)
	if a.alive != 2 {
		t.Fatalf("b renewed again: a sees %d alive, want 2", a.alive)
	}
	b.forget()
	beat(a)
	if a.alive != 1 {
		t.Errorf("b stopped cleanly: a sees %d alive, want 1", a.alive)
	}
}

// A replica of an earlier release runs every node under the first node's
// Lease and has no member Lease: while it renews that Lease, no node is
// taken.
func TestNoNodeTakenWhileAnEarlierReleaseLeads(t *testing.T) {
	client := fake.NewClientset()
	now := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
	s := newSpreader(client, testElection(), testNodes(), "host-a_1", nil, nil)
	s.now = func() time.Time { return now }
	ctx := context.Background()
	old, renew := "old-host_7", metav1.NewMicroTime(now)
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "faas-kubelet-n1", Namespace: "kube-system"},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: &old, RenewTime: &renew}}
	if _, err := client.CoordinationV1().Leases("kube-system").Create(ctx, lease, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.beat(ctx); err != nil {
		t.Fatal(err)
	}
	if s.reserve(1) {
		t.Fatalf("took a node while a replica of an earlier release leads")
	}
	// It stops renewing: once its Lease is expired, nodes are taken.
	now = now.Add(13 * time.Second)
	if err := s.beat(ctx); err != nil {
		t.Fatal(err)
	}
	if !s.reserve(1) {
		t.Errorf("no node taken after the earlier release's Lease expired")
	}
}

// A replica takes nodes up to its share, lets the one it took last go when
// over it, and does not take that one back for LeaseDuration.
func TestReplicaKeepsToItsShare(t *testing.T) {
	now := time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)
	s := newSpreader(fake.NewClientset(), testElection(), testNodes(), "host-a_1", nil, nil)
	s.now = func() time.Time { return now }
	for i := range 4 {
		if !s.reserve(i) {
			t.Fatalf("alone, node %d not taken", i)
		}
		s.started(i, func() {})
	}
	s.alive = 2
	stopped := -1
	s.running[1] = func() { stopped = 1 }
	s.running[3] = func() { stopped = 3 }
	s.rebalance(context.Background())
	if stopped != 3 {
		t.Fatalf("over its share the replica stopped node %d, want the last taken (3)", stopped)
	}
	s.stopped(3)
	var reserved = true
	s.unreserve(&reserved)
	if s.reserve(3) {
		t.Errorf("took back at once the node it let go")
	}
	if s.reserve(2) {
		t.Errorf("took a node over its share")
	}
	now = now.Add(13 * time.Second)
	s.rebalance(context.Background())
	if stopped != 3 {
		t.Errorf("at its share the replica stopped node %d", stopped)
	}
}

// fakeLock records the writes a LeaderElector makes.
type fakeLock struct {
	resourcelock.Interface
	holder string
}

func (f *fakeLock) Identity() string { return "me" }
func (f *fakeLock) Get(context.Context) (*resourcelock.LeaderElectionRecord, []byte, error) {
	return &resourcelock.LeaderElectionRecord{HolderIdentity: f.holder}, []byte(f.holder), nil
}
func (f *fakeLock) Update(_ context.Context, r resourcelock.LeaderElectionRecord) error {
	f.holder = r.HolderIdentity
	return nil
}

// Taking a Lease needs room; renewing and releasing it never do.
func TestGatedLockTakesOnlyWithRoom(t *testing.T) {
	ctx := context.Background()
	room := false
	taken, given := 0, 0
	g := &gatedLock{Interface: &fakeLock{holder: "other"}, take: func() bool { taken++; return room }, untake: func() { given++ }}
	if _, _, err := g.Get(ctx); err != nil {
		t.Fatal(err)
	}
	if err := g.Update(ctx, resourcelock.LeaderElectionRecord{HolderIdentity: "me"}); !errors.Is(err, errNoRoom) {
		t.Fatalf("taking without room: %v", err)
	}
	room = true
	if err := g.Update(ctx, resourcelock.LeaderElectionRecord{HolderIdentity: "me"}); err != nil {
		t.Fatal(err)
	}
	room = false
	if err := g.Update(ctx, resourcelock.LeaderElectionRecord{HolderIdentity: "me"}); err != nil {
		t.Errorf("renewing without room: %v", err)
	}
	if err := g.Update(ctx, resourcelock.LeaderElectionRecord{HolderIdentity: ""}); err != nil {
		t.Errorf("releasing: %v", err)
	}
	if taken != 2 || given != 0 {
		t.Errorf("room asked %d times (want 2: the two takes), given back %d", taken, given)
	}
}
