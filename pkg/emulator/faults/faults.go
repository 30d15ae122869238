package faults

import (
	"encoding/json"
	"net/http"
	"sync"
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
}

// Injector counts calls and hands out injected faults.
type Injector struct {
	mu     sync.Mutex
	calls  map[string]int
	faults map[string][]Fault
}

// New returns an injector with no faults.
func New() *Injector {
	return &Injector{calls: map[string]int{}, faults: map[string][]Fault{}}
}

// Call counts a call of op and returns the fault to answer it with, if any.
func (i *Injector) Call(op string) (Fault, bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.calls[op]++
	q := i.faults[op]
	if len(q) == 0 {
		return Fault{}, false
	}
	f := q[0]
	q[0].Count--
	if q[0].Count <= 0 {
		i.faults[op] = q[1:]
	}
	return f, true
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

// Register serves the knobs on mux: GET /_emulator/calls and
// POST /_emulator/faults with a Fault as JSON.
func (i *Injector) Register(mux *http.ServeMux) {
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
