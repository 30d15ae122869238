package faults

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Hold stops one chosen call until it is released: the Nth call of Op
// (counted from when the hold is set, harness calls left out) on the
// resource Name when set. Before its work (Answer false) the call waits
// before anything is carried out; with Answer the call is carried out and
// its answer waits. A test waits until the hold is holding, kills the
// caller, and releases it; released with Drop the connection closes with
// no answer (a call held before its work is then never carried out).
type Hold struct {
	Op     string `json:"op"`
	Name   string `json:"name,omitempty"`
	Nth    int    `json:"nth,omitempty"` // default 1: the next call
	Answer bool   `json:"answer,omitempty"`
	// TimeoutMs releases the call by itself (dropping it) when nobody
	// does; default 120000.
	TimeoutMs int `json:"timeoutMs,omitempty"`
}

// HoldState is what a hold has done so far.
type HoldState struct {
	ID   string `json:"id"`
	Hold Hold   `json:"hold"`
	// Seen is how many matching calls went by (the held one included).
	Seen     int  `json:"seen"`
	Holding  bool `json:"holding"`
	Released bool `json:"released"`
	// Call is the held call's ledger entry once it holds.
	Call *Entry `json:"call,omitempty"`
}

// ErrNoHold is returned for an unknown hold ID.
var ErrNoHold = errors.New("no such hold")

type hold struct {
	id      string
	spec    Hold
	seen    int
	claimed bool          // a call matched it
	entry   *Entry        // the held call's, once it holds
	holding chan struct{} // closed when a call holds
	release chan bool     // receives drop, once
	done    bool          // released (or timed out)
}

type holdBook struct {
	mu    sync.Mutex
	next  int
	holds map[string]*hold
}

// match returns the hold op's call (of the phase answer) meets, counting
// it; nil when none.
func (b *holdBook) match(op, name string, answer bool) *hold {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, h := range b.holds {
		if h.spec.Op != op || h.spec.Answer != answer || h.claimed || h.spec.Name != "" && h.spec.Name != name {
			continue
		}
		h.seen++
		if h.seen == h.spec.Nth {
			h.claimed = true
			return h
		}
	}
	return nil
}

// wait holds c until the hold is released and says whether to drop it.
func (h *hold) wait(c *Call) (drop bool) {
	c.i.holds.mu.Lock()
	h.entry = c.entry
	c.i.holds.mu.Unlock()
	close(h.holding)
	timeout := time.Duration(h.spec.TimeoutMs) * time.Millisecond
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case drop = <-h.release:
	case <-t.C:
		drop = true
	}
	c.i.holds.mu.Lock()
	h.done = true
	c.i.holds.mu.Unlock()
	return drop
}

// Hold sets a hold and returns its ID.
func (i *Injector) Hold(spec Hold) string {
	if spec.Nth <= 0 {
		spec.Nth = 1
	}
	if spec.TimeoutMs <= 0 {
		spec.TimeoutMs = 120000
	}
	b := &i.holds
	b.mu.Lock()
	defer b.mu.Unlock()
	b.next++
	id := strconv.Itoa(b.next)
	if b.holds == nil {
		b.holds = map[string]*hold{}
	}
	b.holds[id] = &hold{id: id, spec: spec, holding: make(chan struct{}), release: make(chan bool, 1)}
	return id
}

// HoldState reports a hold; with a ctx that ends later, it first waits
// until the hold holds a call (or ctx ends).
func (i *Injector) HoldState(ctx context.Context, id string) (HoldState, error) {
	i.holds.mu.Lock()
	h, ok := i.holds.holds[id]
	i.holds.mu.Unlock()
	if !ok {
		return HoldState{}, ErrNoHold
	}
	select {
	case <-h.holding:
	case <-ctx.Done():
	}
	i.holds.mu.Lock()
	st := HoldState{ID: id, Hold: h.spec, Seen: h.seen, Released: h.done}
	held := h.entry
	i.holds.mu.Unlock()
	select {
	case <-h.holding:
		i.ledger.mu.Lock()
		e := *held
		e.Notes = append([]string(nil), held.Notes...)
		i.ledger.mu.Unlock()
		st.Call = &e
		st.Holding = !st.Released
	default:
	}
	return st, nil
}

// Release lets the held call go on (drop: close its connection with no
// answer) and removes the hold; a hold that has not held yet is removed.
func (i *Injector) Release(id string, drop bool) error {
	i.holds.mu.Lock()
	h, ok := i.holds.holds[id]
	delete(i.holds.holds, id)
	i.holds.mu.Unlock()
	if !ok {
		return ErrNoHold
	}
	select {
	case h.release <- drop:
	default:
	}
	return nil
}

// ReleaseAll releases every hold (without dropping).
func (i *Injector) ReleaseAll() {
	i.holds.mu.Lock()
	ids := make([]string, 0, len(i.holds.holds))
	for id := range i.holds.holds {
		ids = append(ids, id)
	}
	i.holds.mu.Unlock()
	for _, id := range ids {
		_ = i.Release(id, false)
	}
}

// serveHolds serves POST /_emulator/holds (a Hold; answers {"id": ...}),
// GET /_emulator/holds/{id}?wait=<seconds> (its HoldState, waiting up to
// that long for it to hold), POST /_emulator/holds/{id}/release with
// {"drop": bool}, and DELETE /_emulator/holds (release all).
func (i *Injector) serveHolds(mux *http.ServeMux) {
	mux.HandleFunc("POST /_emulator/holds", func(w http.ResponseWriter, r *http.Request) {
		var h Hold
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&h); err != nil || h.Op == "" {
			http.Error(w, `want {"op": "<operation>", "nth": 1, "answer": false, "name": "", "timeoutMs": 120000}`, http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]string{"id": i.Hold(h)})
	})
	mux.HandleFunc("GET /_emulator/holds/{id}", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		if s := r.URL.Query().Get("wait"); s != "" {
			secs, err := strconv.ParseFloat(s, 64)
			if err != nil || secs < 0 {
				http.Error(w, "wait is a number of seconds", http.StatusBadRequest)
				return
			}
			ctx, cancel = context.WithTimeout(ctx, time.Duration(secs*float64(time.Second)))
			defer cancel()
		} else {
			cancel() // answer at once
		}
		st, err := i.HoldState(ctx, r.PathValue("id"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(st)
	})
	mux.HandleFunc("POST /_emulator/holds/{id}/release", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Drop bool `json:"drop"`
		}
		if r.ContentLength != 0 {
			if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
				http.Error(w, `want {"drop": false}`, http.StatusBadRequest)
				return
			}
		}
		if err := i.Release(r.PathValue("id"), in.Drop); err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /_emulator/holds", func(w http.ResponseWriter, _ *http.Request) {
		i.ReleaseAll()
		w.WriteHeader(http.StatusNoContent)
	})
}
