package faults

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Fault is an error injected into the next Count calls of Op.
type Fault struct {
	Op     string `json:"op"`
	Status int    `json:"status"`
	// Code is the cloud's error code; the emulator derives one from Status
	// when empty.
	Code  string `json:"code,omitempty"`
	Count int    `json:"count"`
	// RetryAfter, in seconds, is sent as a Retry-After header when set.
	RetryAfter int `json:"retryAfter,omitempty"`
	// After makes the emulator carry the call out and then answer with the
	// error, as a cloud does when a response is lost: the caller cannot
	// tell whether it happened.
	After bool `json:"after,omitempty"`
}

// Chaos makes a share of all calls fail or slow down until it is cleared:
// for fault-injection runs. Rates are fractions of calls (0.2 = 20 %).
type Chaos struct {
	// ServerErrorRate of calls answer 503 (half of them after carrying the
	// call out, see Fault.After).
	ServerErrorRate float64 `json:"serverErrorRate,omitempty"`
	// ThrottleRate of calls answer 429 with Retry-After: RetryAfter seconds.
	ThrottleRate float64 `json:"throttleRate,omitempty"`
	RetryAfter   int     `json:"retryAfter,omitempty"`
	// SpikeRate of calls are delayed by SpikeMs first.
	SpikeRate float64 `json:"spikeRate,omitempty"`
	SpikeMs   int     `json:"spikeMs,omitempty"`
	// ExceptOps are left alone (for example the health check).
	ExceptOps []string `json:"exceptOps,omitempty"`
}

// Quotas shape calls the way a cloud account does: a latency per
// operation, and a rate per operation beyond which calls are throttled
// (429 with Retry-After: 1), as a control plane's request quota does.
type Quotas struct {
	// LatencyMs delays each call of an operation, e.g. {"CreateFunction": 200}.
	LatencyMs map[string]int `json:"latencyMs,omitempty"`
	// PerSecond is each operation's sustained rate, with a burst of one
	// second's worth, e.g. {"CreateFunction": 15}.
	PerSecond map[string]float64 `json:"perSecond,omitempty"`
}

// Injector counts calls and hands out injected faults.
type Injector struct {
	mu        sync.Mutex
	calls     map[string]int
	faults    map[string][]Fault
	chaos     *Chaos
	injected  int
	rnd       *rand.Rand
	quotas    Quotas
	buckets   map[string]*rate.Limiter
	throttled int
	ledger    ledger
	holds     holdBook
}

// New returns an injector with no faults.
func New() *Injector {
	return &Injector{calls: map[string]int{}, faults: map[string][]Fault{}, rnd: rand.New(rand.NewPCG(1, 2))}
}

// Call counts a call of op and returns the fault to answer it with, if any:
// a queued fault first, else one drawn by the chaos settings. A latency
// spike is slept here, before returning.
func (i *Injector) Call(op string) (Fault, bool) {
	i.mu.Lock()
	i.calls[op]++
	if q := i.faults[op]; len(q) > 0 {
		f := q[0]
		q[0].Count--
		if q[0].Count <= 0 {
			i.faults[op] = q[1:]
		}
		i.injected++
		i.mu.Unlock()
		return f, true
	}
	if b := i.buckets[op]; b != nil && !b.Allow() {
		i.throttled++
		i.mu.Unlock()
		return Fault{Op: op, Status: http.StatusTooManyRequests, RetryAfter: 1}, true
	}
	latency := time.Duration(i.quotas.LatencyMs[op]) * time.Millisecond
	c := i.chaos
	if c == nil || slices.Contains(c.ExceptOps, op) {
		i.mu.Unlock()
		time.Sleep(latency)
		return Fault{}, false
	}
	spike := i.rnd.Float64() < c.SpikeRate
	r := i.rnd.Float64()
	var f Fault
	switch {
	case r < c.ThrottleRate:
		f = Fault{Op: op, Status: 429, RetryAfter: c.RetryAfter}
	case r < c.ThrottleRate+c.ServerErrorRate:
		f = Fault{Op: op, Status: 503, After: i.rnd.IntN(2) == 0}
	}
	if f.Status != 0 {
		i.injected++
	}
	i.mu.Unlock()
	if spike {
		latency += time.Duration(c.SpikeMs) * time.Millisecond
	}
	time.Sleep(latency)
	return f, f.Status != 0
}

// SetQuotas replaces the per-operation latencies and rates (the zero value
// removes them).
func (i *Injector) SetQuotas(q Quotas) {
	buckets := map[string]*rate.Limiter{}
	for op, perSec := range q.PerSecond {
		if perSec > 0 {
			buckets[op] = rate.NewLimiter(rate.Limit(perSec), max(1, int(math.Ceil(perSec))))
		}
	}
	i.mu.Lock()
	i.quotas, i.buckets = q, buckets
	i.mu.Unlock()
}

// Throttled is how many calls the quotas refused.
func (i *Injector) Throttled() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.throttled
}

// SetChaos starts (or, with nil, stops) random faults on every call.
func (i *Injector) SetChaos(c *Chaos) {
	i.mu.Lock()
	i.chaos = c
	i.mu.Unlock()
}

// Injected is how many calls were answered with an injected fault.
func (i *Injector) Injected() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.injected
}

// Calls returns the number of calls per operation so far.
func (i *Injector) Calls() map[string]int {
	i.mu.Lock()
	defer i.mu.Unlock()
	out := make(map[string]int, len(i.calls))
	for k, v := range i.calls {
		out[k] = v
	}
	return out
}

// Inject makes the next f.Count (at least one) calls of f.Op fail.
func (i *Injector) Inject(f Fault) {
	if f.Count <= 0 {
		f.Count = 1
	}
	i.mu.Lock()
	i.faults[f.Op] = append(i.faults[f.Op], f)
	i.mu.Unlock()
}

// Register serves the knobs on mux: GET /_emulator/ledger (see Ledger),
// /_emulator/holds (see Hold), GET /_emulator/calls, POST
// /_emulator/faults with a Fault as JSON, PUT (start), DELETE (stop) and
// GET (settings and the count of injected faults) /_emulator/chaos, and
// PUT, DELETE and GET (settings and the count of throttled calls)
// /_emulator/quotas.
func (i *Injector) Register(mux *http.ServeMux) {
	i.serveLedger(mux)
	i.serveHolds(mux)
	mux.HandleFunc("PUT /_emulator/chaos", func(w http.ResponseWriter, r *http.Request) {
		var c Chaos
		if err := json.NewDecoder(r.Body).Decode(&c); err != nil {
			http.Error(w, `want {"serverErrorRate": 0.2, "throttleRate": 0.1, "retryAfter": 1, "spikeRate": 0.05, "spikeMs": 2000, "exceptOps": ["GetAccountSettings"]}`, http.StatusBadRequest)
			return
		}
		i.SetChaos(&c)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /_emulator/chaos", func(w http.ResponseWriter, _ *http.Request) {
		i.SetChaos(nil)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /_emulator/chaos", func(w http.ResponseWriter, _ *http.Request) {
		i.mu.Lock()
		out := map[string]any{"chaos": i.chaos, "injected": i.injected}
		i.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	})
	mux.HandleFunc("PUT /_emulator/quotas", func(w http.ResponseWriter, r *http.Request) {
		var q Quotas
		if err := json.NewDecoder(r.Body).Decode(&q); err != nil {
			http.Error(w, `want {"latencyMs": {"CreateFunction": 200}, "perSecond": {"CreateFunction": 15}}`, http.StatusBadRequest)
			return
		}
		i.SetQuotas(q)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /_emulator/quotas", func(w http.ResponseWriter, _ *http.Request) {
		i.SetQuotas(Quotas{})
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /_emulator/quotas", func(w http.ResponseWriter, _ *http.Request) {
		i.mu.Lock()
		out := map[string]any{"quotas": i.quotas, "throttled": i.throttled}
		i.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	})
	mux.HandleFunc("GET /_emulator/calls", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(i.Calls())
	})
	mux.HandleFunc("POST /_emulator/faults", func(w http.ResponseWriter, r *http.Request) {
		var f Fault
		if err := json.NewDecoder(r.Body).Decode(&f); err != nil || f.Op == "" || f.Status == 0 {
			http.Error(w, `want {"op": "<operation>", "status": 429, "count": 3, "retryAfter": 1}`, http.StatusBadRequest)
			return
		}
		i.Inject(f)
		w.WriteHeader(http.StatusNoContent)
	})
}

// Discard is a ResponseWriter that drops what is written: an emulator
// carries a call out into it before answering with a Fault.After error.
func Discard() http.ResponseWriter { return &discard{h: http.Header{}} }

type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}
