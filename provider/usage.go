package provider

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/log"

	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// UsageReporter is a backend that reads what its cloud reports of the
// functions' use of CPU and memory, for the kubelet's resource metrics
// (/stats/summary, /metrics/resource, and so kubectl top and the HPA).
type UsageReporter interface {
	// Usage returns the samples of the named functions that ended at or
	// after since. It should cost a call per page of a listing or per
	// function, never per invocation.
	Usage(ctx context.Context, names []string, since time.Time) ([]translate.UsageSample, error)
}

// Windows of the usage book.
const (
	// usageOverlap is how far back of the last read the next one starts:
	// clouds deliver logs and metric points late.
	usageOverlap = 2 * time.Minute
	// usageKeep is how long a sample is kept by its key (a later read may
	// report it again) before it is folded into the function's total.
	usageKeep = 10 * time.Minute
	// memoryWindow is how long a function's peak memory counts as its
	// working set: roughly how long clouds keep an idle instance.
	memoryWindow = 5 * time.Minute
	// firstUsageLookback bounds the first read after a start.
	firstUsageLookback = time.Hour
	// usageTimeout bounds one read (metrics-server waits 10 s for a node).
	usageTimeout = 8 * time.Second
)

// usageBook keeps, per function, the cumulative CPU time and the recent
// peak memory its cloud reported. It is read again at most every interval,
// and only when something asks for the figures.
type usageBook struct {
	refreshMu sync.Mutex // one read at a time

	mu        sync.Mutex
	refreshed time.Time // when the figures were last read; zero: never
	readFrom  time.Time // where the next read starts
	fns       map[string]*fnUsage
	// nodeCPU only grows: the CPU time of every function the node ran,
	// gone ones included, so that the node's counter never goes back.
	nodeCPU time.Duration
}

type fnUsage struct {
	samples map[string]translate.UsageSample
	folded  time.Duration // CPU of samples no longer kept
	cpu     time.Duration // cumulative CPU at the last read
	// prevCPU and prevAt are the figures of the read before, for a rate.
	prevCPU time.Duration
	prevAt  time.Time
	memory  uint64 // peak memory within memoryWindow at the last read
}

// usageFigures is one function's figures at the last read.
type usageFigures struct {
	At     time.Time
	CPU    time.Duration // cumulative since faas-kubelet first read it
	Memory uint64        // working set: peak memory of recent invocations
	// NanoCores is the CPU rate between the last two reads (0 when there
	// is one read only).
	NanoCores uint64
	HasRate   bool
}

// refreshUsage reads the cloud's usage of the named functions when the
// last read is older than interval. Failures keep the last figures.
func (p *Provider) refreshUsage(ctx context.Context, names []string, oldest time.Time) {
	r, ok := p.opts.Backend.(UsageReporter)
	if !ok || p.opts.UsageInterval <= 0 {
		return
	}
	b := &p.usage
	b.refreshMu.Lock()
	defer b.refreshMu.Unlock()
	now := p.opts.Now()
	b.mu.Lock()
	due := b.refreshed.IsZero() || now.Sub(b.refreshed) >= p.opts.UsageInterval
	from := b.readFrom
	b.mu.Unlock()
	if !due {
		return
	}
	if from.IsZero() {
		from = oldest.Add(-time.Minute)
		if limit := now.Add(-firstUsageLookback); from.Before(limit) {
			from = limit
		}
	}
	var samples []translate.UsageSample
	if len(names) > 0 {
		rctx, cancel := context.WithTimeout(ctx, usageTimeout)
		var err error
		samples, err = r.Usage(rctx, names, from)
		cancel()
		if err != nil {
			if !errors.Is(err, ErrNotSupported) {
				log.G(ctx).WithError(err).Warn("reading the functions' usage")
			}
			return
		}
	}
	b.record(now, names, samples)
}

// record merges a read's samples into the book.
func (b *usageBook) record(now time.Time, names []string, samples []translate.UsageSample) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fns == nil {
		b.fns = map[string]*fnUsage{}
	}
	live := make(map[string]bool, len(names))
	for _, n := range names {
		live[n] = true
	}
	for _, s := range samples {
		if !live[s.Function] {
			continue
		}
		f := b.fns[s.Function]
		if f == nil {
			f = &fnUsage{samples: map[string]translate.UsageSample{}}
			b.fns[s.Function] = f
		}
		if old, ok := f.samples[s.Key]; ok && old.CPU > s.CPU {
			s.CPU = old.CPU // a counter never goes back
		}
		f.samples[s.Key] = s
	}
	for name, f := range b.fns {
		if !live[name] {
			delete(b.fns, name)
			continue
		}
		var cpu time.Duration
		var memory uint64
		for k, s := range f.samples {
			if now.Sub(s.At) > usageKeep {
				f.folded += s.CPU
				delete(f.samples, k)
				continue
			}
			cpu += s.CPU
			if now.Sub(s.At) <= memoryWindow {
				memory = max(memory, s.MemoryBytes)
			}
		}
		cpu += f.folded
		if cpu > f.cpu {
			b.nodeCPU += cpu - f.cpu
		}
		if !b.refreshed.IsZero() {
			f.prevCPU, f.prevAt = f.cpu, b.refreshed
		}
		f.cpu, f.memory = max(cpu, f.cpu), memory
	}
	b.refreshed = now
	b.readFrom = now.Add(-usageOverlap)
}

// figures returns a function's figures at the last read, if the cloud has
// reported any use of it.
func (b *usageBook) figures(name string) (usageFigures, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f := b.fns[name]
	if f == nil {
		return usageFigures{}, false
	}
	out := usageFigures{At: b.refreshed, CPU: f.cpu, Memory: f.memory}
	if !f.prevAt.IsZero() && b.refreshed.After(f.prevAt) {
		out.HasRate = true
		out.NanoCores = uint64(float64(f.cpu-f.prevCPU) / b.refreshed.Sub(f.prevAt).Seconds())
	}
	return out, true
}

// node returns the node's cumulative CPU and when it was read.
func (b *usageBook) node() (time.Duration, time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.nodeCPU, b.refreshed
}
