package membudget

import (
	"context"
	"runtime/debug"
	"sync/atomic"
	"testing"
	"time"
)

func TestLimitFollowsPodsAndKeepsHeadroom(t *testing.T) {
	const base, kib = 40 << 20, 1 << 10
	if got := Limit(base, 110<<20, 18*kib, 10000); got != base+18*kib*10000 {
		t.Errorf("10,000 pods: limit %d, want base + 18 KiB each", got)
	}
	// Pods larger than the budget: the live heap plus a quarter.
	if got := Limit(base, 400<<20, 18*kib, 10000); got != base+500<<20 {
		t.Errorf("live heap over budget: limit %d, want base + 1.25 × live", got)
	}
	// Few pods: room for a burst above the live heap.
	if got := Limit(base, 20<<20, 18*kib, 1000); got != base+20<<20+MinHeadroom {
		t.Errorf("1,000 pods: limit %d, want base + live + 32 MiB", got)
	}
}

// Run sets the runtime's limit from the pod count, follows it, and
// restores the previous limit when it stops; GOMEMLIMIT disables it.
func TestRunSetsAndRestoresTheLimit(t *testing.T) {
	previous := debug.SetMemoryLimit(-1)
	var pods atomic.Int64
	pods.Store(1000)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, Options{PerPod: 1 << 20, Tracked: func() int { return int(pods.Load()) }, Every: time.Millisecond})
	}()
	waitLimit := func(min int64) int64 {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			l := debug.SetMemoryLimit(-1)
			if l >= min && l < previous {
				return l
			}
			if time.Now().After(deadline) {
				t.Fatalf("limit %d, want at least %d", l, min)
			}
			time.Sleep(time.Millisecond)
		}
	}
	l1 := waitLimit(1000 << 20)
	pods.Store(2000)
	l2 := waitLimit(l1 + 900<<20)
	if l2-l1 < 900<<20 {
		t.Errorf("1,000 more pods raised the limit by %d", l2-l1)
	}
	cancel()
	<-done
	if got := debug.SetMemoryLimit(-1); got != previous {
		t.Errorf("limit after Run: %d, want the previous %d", got, previous)
	}

	t.Setenv("GOMEMLIMIT", "1GiB")
	Run(context.Background(), Options{PerPod: 1 << 20, Tracked: func() int { return 1 }})
	if got := debug.SetMemoryLimit(-1); got != previous {
		t.Errorf("with GOMEMLIMIT set, the limit changed to %d", got)
	}
}
