package provider

import (
	"context"
	"errors"
	"slices"
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
	// function, never per invocation, and keep to the cloud's quota for
	// the calls it makes.
	Usage(ctx context.Context, names []string, since time.Time) ([]translate.UsageSample, error)
}

// ReadEach calls read for every name, workers at a time, and gathers what
// they return; the first error is returned with what was read. Backends
// whose cloud answers usage per function read with it.
func ReadEach[T any](ctx context.Context, names []string, workers int, read func(ctx context.Context, name string) ([]T, error)) ([]T, error) {
	var (
		mu       sync.Mutex
		out      []T
		firstErr error
		wg       sync.WaitGroup
		next     = make(chan string)
	)
	for range min(workers, len(names)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for name := range next {
				got, err := read(ctx, name)
				mu.Lock()
				out = append(out, got...)
				if err != nil && firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	for _, n := range names {
		select {
		case next <- n:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return out, firstErr
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
	// firstUsageLookback bounds the first read of a function.
	firstUsageLookback = time.Hour
	// usageTimeout bounds one backend call.
	usageTimeout = 30 * time.Second
	// usageBatch is how many functions one backend call reads.
	usageBatch = 50
	// usageIdle: the reader stops when nothing asked for the figures for
	// this many intervals.
	usageIdle = 3
)

// usageBook keeps, per function, the cumulative CPU time and the recent
// peak memory its cloud reported. Figures are read in the background, each
// function at most once per interval, only while something (metrics-server)
// asks for them; a scrape answers at once with the figures last read.
type usageBook struct {
	mu      sync.Mutex
	fns     map[string]*fnUsage
	wanted  time.Time // when the figures were last asked for
	reading bool      // the background reader runs
	// nodeCPU only grows: the CPU time of every function the node ran,
	// gone ones included, so that the node's counter never goes back.
	nodeCPU time.Duration
	nodeAt  time.Time
}

type fnUsage struct {
	samples map[string]translate.UsageSample
	folded  time.Duration // CPU of samples no longer kept
	cpu     time.Duration // cumulative CPU at the last read
	memory  uint64        // peak memory within memoryWindow at the last read
	readAt  time.Time     // the last read; zero: never read
	from    time.Time     // where the next read starts
	// prevCPU and prevAt are the figures of the read before, for a rate.
	prevCPU time.Duration
	prevAt  time.Time
	seen    bool // the cloud reported some use
}

// usageFigures is one function's figures at its last read.
type usageFigures struct {
	At     time.Time
	CPU    time.Duration // cumulative since faas-kubelet first read it
	Memory uint64        // working set: peak memory of recent invocations
	// NanoCores is the CPU rate between the last two reads.
	NanoCores uint64
	HasRate   bool
}

// wantUsage records that the figures were asked for and starts the
// background reader when it does not run.
func (p *Provider) wantUsage() {
	if _, ok := p.opts.Backend.(UsageReporter); !ok || p.opts.UsageInterval <= 0 {
		return
	}
	b := &p.usage
	b.mu.Lock()
	b.wanted = p.opts.Now()
	start := !b.reading
	b.reading = true
	b.mu.Unlock()
	if start {
		p.mu.Lock()
		ctx := p.runCtx
		p.mu.Unlock()
		go p.readUsageWhileWanted(ctx)
	}
}

// readUsageWhileWanted reads the functions that are due until nothing has
// asked for the figures for a few intervals, or ctx ends.
func (p *Provider) readUsageWhileWanted(ctx context.Context) {
	b := &p.usage
	defer func() {
		b.mu.Lock()
		b.reading = false
		b.mu.Unlock()
	}()
	pause := min(p.opts.UsageInterval/4, time.Second)
	for {
		b.mu.Lock()
		idle := p.opts.Now().Sub(b.wanted) > usageIdle*p.opts.UsageInterval
		b.mu.Unlock()
		if idle || ctx.Err() != nil {
			return
		}
		p.readUsage(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
	}
}

// activeFunctions returns the functions of the pods that run, with the
// oldest start of each (where a first read begins).
func (p *Provider) activeFunctions() map[string]time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]time.Time, len(p.pods))
	for _, r := range p.pods {
		if r.phase != translate.PhaseActive || r.function == "" || isFinished(r.pod) {
			continue
		}
		start := p.opts.Now()
		if st := r.pod.Status.StartTime; st != nil {
			start = st.Time
		}
		out[r.function] = start
	}
	return out
}

// readUsage reads, in batches, every function whose last read is at least
// an interval old, the longest unread first. A failed call ends the pass;
// the functions it left are the first of the next.
func (p *Provider) readUsage(ctx context.Context) {
	r, ok := p.opts.Backend.(UsageReporter)
	if !ok {
		return
	}
	live := p.activeFunctions()
	b := &p.usage
	now := p.opts.Now()
	b.mu.Lock()
	if b.fns == nil {
		b.fns = map[string]*fnUsage{}
	}
	for name := range b.fns {
		if _, ok := live[name]; !ok {
			delete(b.fns, name)
		}
	}
	type due struct {
		name string
		last time.Time
		from time.Time
	}
	var todo []due
	for name, start := range live {
		f := b.fns[name]
		if f == nil {
			from := start.Add(-time.Minute)
			if limit := now.Add(-firstUsageLookback); from.Before(limit) {
				from = limit
			}
			f = &fnUsage{samples: map[string]translate.UsageSample{}, from: from}
			b.fns[name] = f
		}
		if f.readAt.IsZero() || now.Sub(f.readAt) >= p.opts.UsageInterval {
			todo = append(todo, due{name, f.readAt, f.from})
		}
	}
	b.mu.Unlock()
	slices.SortFunc(todo, func(a, b due) int { return a.last.Compare(b.last) })
	for len(todo) > 0 && ctx.Err() == nil {
		n := min(usageBatch, len(todo))
		batch := make([]string, n)
		since := todo[0].from
		for i, d := range todo[:n] {
			batch[i] = d.name
			if d.from.Before(since) {
				since = d.from
			}
		}
		todo = todo[n:]
		rctx, cancel := context.WithTimeout(ctx, usageTimeout)
		samples, err := r.Usage(rctx, batch, since)
		cancel()
		if err != nil {
			if !errors.Is(err, ErrNotSupported) && ctx.Err() == nil {
				log.G(ctx).WithError(err).Warn("reading the functions' usage")
			}
			return
		}
		b.record(p.opts.Now(), batch, samples)
	}
}

// record merges one read of the named functions into the book.
func (b *usageBook) record(now time.Time, names []string, samples []translate.UsageSample) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range samples {
		f := b.fns[s.Function]
		if f == nil || !slices.Contains(names, s.Function) {
			continue
		}
		if old, ok := f.samples[s.Key]; ok && old.CPU > s.CPU {
			s.CPU = old.CPU // a counter never goes back
		}
		f.samples[s.Key] = s
		f.seen = true
	}
	for _, name := range names {
		f := b.fns[name]
		if f == nil {
			continue // its pod went away during the read
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
		cpu = max(cpu+f.folded, f.cpu)
		b.nodeCPU += cpu - f.cpu
		f.prevCPU, f.prevAt = f.cpu, f.readAt
		f.cpu, f.memory, f.readAt, f.from = cpu, memory, now, now.Add(-usageOverlap)
	}
	b.nodeAt = now
}

// figures returns a function's figures at its last read, if the cloud has
// reported any use of it.
func (b *usageBook) figures(name string) (usageFigures, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f := b.fns[name]
	if f == nil || !f.seen {
		return usageFigures{}, false
	}
	out := usageFigures{At: f.readAt, CPU: f.cpu, Memory: f.memory}
	if !f.prevAt.IsZero() && f.readAt.After(f.prevAt) {
		out.HasRate = true
		out.NanoCores = uint64(float64(f.cpu-f.prevCPU) / f.readAt.Sub(f.prevAt).Seconds())
	}
	return out, true
}

// node returns the node's cumulative CPU and when it was last read.
func (b *usageBook) node() (time.Duration, time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.nodeCPU, b.nodeAt
}
