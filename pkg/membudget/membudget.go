// Package membudget keeps a faas-kubelet process within a memory budget per
// tracked pod.
//
// Most of the process's memory is long-lived copies of pods (the informer's,
// Virtual Kubelet's last report, the core's record). Left to its default
// (GOGC=100), the Go collector lets the heap grow to twice what is live
// before collecting, so the resident set is about twice the live heap. The
// budget sets the runtime's soft memory limit (debug.SetMemoryLimit) to
// what the process held at start plus PerPod for each tracked pod: the
// collector works harder only when the process would go over it. The limit
// never leaves less than a quarter of the live heap, and never less than
// 32 MiB, above the live heap: a burst of work (a thousand pods created at
// once) has room, and the collector is never driven to collect without end
// when pods are larger than the budget assumes. GOMEMLIMIT, when set, is
// the operator's own limit and wins.
package membudget

import (
	"context"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/log"
)

// Options configure Run.
type Options struct {
	// PerPod is the budget in bytes for each tracked pod; 0 disables.
	PerPod int64
	// Tracked returns the number of pods the process tracks now.
	Tracked func() int
	// Every is how often the limit follows the pod count (default 5 s).
	Every time.Duration
}

// MinHeadroom is the least room the limit leaves above the live heap.
const MinHeadroom = 32 << 20

// Limit is the soft memory limit for n tracked pods, given the process's
// memory at start (base) and its live heap now.
func Limit(base, live uint64, perPod int64, n int) int64 {
	budget := int64(base) + perPod*int64(n)
	floor := int64(base + live + max(live/4, MinHeadroom))
	return max(budget, floor)
}

// Run follows the pod count until ctx ends, then restores the runtime's
// previous limit.
func Run(ctx context.Context, o Options) {
	if o.PerPod <= 0 || o.Tracked == nil || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	every := o.Every
	if every <= 0 {
		every = 5 * time.Second
	}
	samples := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/gc/heap/live:bytes"}}
	metrics.Read(samples)
	base := samples[0].Value.Uint64()
	previous := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(previous)
	log.G(ctx).WithField("perPodBytes", o.PerPod).Debug("memory budget per tracked pod")
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		metrics.Read(samples)
		debug.SetMemoryLimit(Limit(base, samples[1].Value.Uint64(), o.PerPod, o.Tracked()))
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
