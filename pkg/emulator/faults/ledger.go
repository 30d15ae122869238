package faults

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// HarnessAgent marks a test's own calls: a call whose User-Agent contains
// it is recorded in the ledger (as Harness) but never faulted, throttled or
// held, so that what a test reads does not change what it measures.
const HarnessAgent = "faas-kubelet-e2e-harness"

// Entry is one call in the ledger: what was asked, by whom, what the
// caller was answered and whether the work was carried out.
type Entry struct {
	Seq int       `json:"seq"`
	At  time.Time `json:"at"`
	Op  string    `json:"op"`
	// Name is the resource the call is about: the function, function app
	// or Function Compute service (from the path, else the request body's
	// name or resourceArn); empty for listings.
	Name    string `json:"name,omitempty"`
	Agent   string `json:"agent,omitempty"`
	Harness bool   `json:"harness,omitempty"`
	// Status is the HTTP status the caller was answered (0 while the call
	// is in flight, or when its answer was dropped).
	Status int `json:"status"`
	// Work is the status of the call carried out: Status, except for an
	// injected fault (0: not carried out; a Fault.After call's own status).
	Work int `json:"work"`
	// Fault says the answer was an injected fault (queued, chaos or quota).
	Fault bool `json:"fault,omitempty"`
	// Held says a hold stopped the call; Dropped that it was then dropped
	// (the connection closed without an answer).
	Held    bool `json:"held,omitempty"`
	Dropped bool `json:"dropped,omitempty"`
	Done    bool `json:"done"`
	// Notes are facts only the emulator's handler knows, e.g. "created"
	// when a create-or-update call created the resource.
	Notes []string `json:"notes,omitempty"`
}

// Applied says the call's work was carried out and succeeded.
func (e Entry) Applied() bool { return e.Work >= 200 && e.Work < 300 }

// ledgerLimit bounds the ledger of a long-running emulator (a demo): past
// it, the older half is forgotten (sequence numbers go on).
const ledgerLimit = 1 << 20

// ledger is the log of every call an emulator served.
type ledger struct {
	mu      sync.Mutex
	entries []*Entry
	seq     int
	limit   int // 0: ledgerLimit
}

func (l *ledger) add(e *Entry) {
	l.mu.Lock()
	l.seq++
	e.Seq = l.seq
	l.entries = append(l.entries, e)
	limit := l.limit
	if limit == 0 {
		limit = ledgerLimit
	}
	if len(l.entries) > limit {
		l.entries = append([]*Entry(nil), l.entries[len(l.entries)/2:]...)
	}
	l.mu.Unlock()
}

func (l *ledger) update(f func()) {
	l.mu.Lock()
	f()
	l.mu.Unlock()
}

// LedgerQuery selects entries: Since is a Seq (entries after it), Ops and
// Agent (a substring of the User-Agent) narrow them when set.
type LedgerQuery struct {
	Since int
	Ops   []string
	Agent string
}

func (q LedgerQuery) match(e *Entry) bool {
	if e.Seq <= q.Since || q.Agent != "" && !strings.Contains(e.Agent, q.Agent) {
		return false
	}
	if len(q.Ops) == 0 {
		return true
	}
	for _, op := range q.Ops {
		if op == e.Op {
			return true
		}
	}
	return false
}

// Ledger returns copies of the entries q selects, oldest first.
func (i *Injector) Ledger(q LedgerQuery) []Entry {
	i.ledger.mu.Lock()
	defer i.ledger.mu.Unlock()
	var out []Entry
	for _, e := range i.ledger.entries {
		if q.match(e) {
			c := *e
			c.Notes = append([]string(nil), e.Notes...)
			out = append(out, c)
		}
	}
	return out
}

// Call is one call being served, from Begin to End.
type Call struct {
	i       *Injector
	op      string
	harness bool
	entry   *Entry
	hold    *hold // an answer hold this call matched
	// W is what the handler answers through: it records the status, and
	// buffers the answer when a hold waits to release it.
	W   http.ResponseWriter
	ctx context.Context
}

type callKey struct{}

// Begin records the call of op in the ledger and waits out a hold set
// before the call (see Hold); the handler then answers through c.W, asks
// c.Fault for an injected fault and defers c.End. A hold released with
// Drop aborts the handler (http.ErrAbortHandler): the connection closes
// with no answer and the call is not carried out.
func (i *Injector) Begin(op string, w http.ResponseWriter, r *http.Request) *Call {
	agent := r.UserAgent()
	e := &Entry{At: time.Now(), Op: op, Name: resourceName(r), Agent: agent, Harness: strings.Contains(agent, HarnessAgent)}
	i.ledger.add(e)
	c := &Call{i: i, op: op, harness: e.Harness, entry: e}
	// The handler's request carries the call from here on, for Note.
	c.ctx = context.WithValue(r.Context(), callKey{}, c)
	*r = *r.WithContext(c.ctx)
	if !e.Harness {
		if h := i.holds.match(op, e.Name, false); h != nil {
			i.ledger.update(func() { e.Held = true })
			if h.wait(c) {
				i.ledger.update(func() { e.Dropped, e.Done = true, true })
				panic(http.ErrAbortHandler)
			}
		}
		c.hold = i.holds.match(op, e.Name, true)
	}
	rec := &recorder{w: w, c: c}
	if c.hold != nil {
		rec.buf = &bytes.Buffer{}
		rec.header = http.Header{}
	}
	c.W = rec
	return c
}

// Fault counts the call and returns the fault to answer it with, as Call
// does; a harness call is counted and never faulted.
func (c *Call) Fault() (Fault, bool) {
	if c.harness {
		c.i.mu.Lock()
		c.i.calls[c.op]++
		c.i.mu.Unlock()
		return Fault{}, false
	}
	f, ok := c.i.Call(c.op)
	if ok {
		c.i.ledger.update(func() { c.entry.Fault = true })
	}
	return f, ok
}

// Discard is where a handler carries out a call answered with a
// Fault.After error: what it writes is dropped, its status is the ledger's
// Work.
func (c *Call) Discard() http.ResponseWriter {
	return &workRecorder{discard: discard{h: http.Header{}}, c: c}
}

// End completes the call: an answer hold waits for its release here, then
// the buffered answer is written (or, dropped, the connection aborted).
func (c *Call) End() {
	rec := c.W.(*recorder)
	if rec.status == 0 && rec.wrote {
		rec.status = http.StatusOK
	}
	if c.hold != nil {
		c.i.ledger.update(func() { c.entry.Held = true })
		if c.hold.wait(c) {
			c.i.ledger.update(func() {
				if !c.entry.Fault {
					c.entry.Work = rec.status // carried out, the answer lost
				}
				c.entry.Dropped, c.entry.Done = true, true
			})
			panic(http.ErrAbortHandler)
		}
		for k, v := range rec.header {
			rec.w.Header()[k] = v
		}
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		rec.w.WriteHeader(status)
		_, _ = rec.w.Write(rec.buf.Bytes())
	}
	c.i.ledger.update(func() {
		c.entry.Status = rec.status
		if !c.entry.Fault {
			c.entry.Work = rec.status
		}
		c.entry.Done = true
	})
}

// Note adds a fact to the ledger entry of the call ctx belongs to (the
// request's context after Begin); without one it does nothing.
func Note(ctx context.Context, note string) {
	c, ok := ctx.Value(callKey{}).(*Call)
	if !ok {
		return
	}
	c.i.ledger.update(func() { c.entry.Notes = append(c.entry.Notes, note) })
}

// recorder notes the answer's status and, for a held answer, buffers it.
type recorder struct {
	w      http.ResponseWriter
	c      *Call
	status int
	wrote  bool
	buf    *bytes.Buffer
	header http.Header
}

func (r *recorder) Header() http.Header {
	if r.buf != nil {
		return r.header
	}
	return r.w.Header()
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	if r.buf == nil {
		r.w.WriteHeader(code)
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	if r.buf != nil {
		return r.buf.Write(b)
	}
	return r.w.Write(b)
}

// Flush passes a streamed answer on (a held answer is sent at once at the
// end).
func (r *recorder) Flush() {
	if f, ok := r.w.(http.Flusher); ok && r.buf == nil {
		f.Flush()
	}
}

// Hijack lets a handler take the connection over, as with the bare writer.
func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(r.w).Hijack()
}

// Unwrap serves http.ResponseController.
func (r *recorder) Unwrap() http.ResponseWriter { return r.w }

type workRecorder struct {
	discard
	c    *Call
	done bool
}

func (w *workRecorder) WriteHeader(code int) {
	if !w.done {
		w.done = true
		w.c.i.ledger.update(func() { w.c.entry.Work = code })
	}
}

func (w *workRecorder) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return len(b), nil
}

// peekLimit bounds how much of a request body is read for its name.
const peekLimit = 64 << 10

// resourceName is the resource a request is about: the path's name,
// service or function app, else the JSON body's FunctionName (Lambda),
// serviceName (Function Compute) or the service in a resourceArn (FC's
// tags). The body is put back for the handler.
func resourceName(r *http.Request) string {
	for _, k := range []string{"service", "name"} {
		if v := r.PathValue(k); v != "" {
			if _, fn, ok := strings.Cut(v, ":function:"); ok { // a Lambda ARN
				v, _, _ = strings.Cut(fn, ":")
			}
			return v
		}
	}
	if r.Body == nil || r.Method != http.MethodPost {
		return ""
	}
	head, err := io.ReadAll(io.LimitReader(r.Body, peekLimit))
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(head), r.Body), r.Body}
	if err != nil {
		return ""
	}
	var body struct {
		FunctionName, ServiceName, ResourceArn string
	}
	if json.Unmarshal(head, &body) != nil {
		return ""
	}
	switch {
	case body.FunctionName != "":
		return body.FunctionName
	case body.ServiceName != "":
		return body.ServiceName
	}
	if _, rest, ok := strings.Cut(body.ResourceArn, ":services/"); ok {
		name, _, _ := strings.Cut(rest, "/")
		return name
	}
	return ""
}

// serveLedger serves GET /_emulator/ledger?since=<seq>&op=<op>&agent=<s>.
func (i *Injector) serveLedger(mux *http.ServeMux) {
	mux.HandleFunc("GET /_emulator/ledger", func(w http.ResponseWriter, r *http.Request) {
		q := LedgerQuery{Ops: r.URL.Query()["op"], Agent: r.URL.Query().Get("agent")}
		if s := r.URL.Query().Get("since"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil {
				http.Error(w, "since is a sequence number", http.StatusBadRequest)
				return
			}
			q.Since = n
		}
		out := i.Ledger(q)
		if out == nil {
			out = []Entry{}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	})
}
