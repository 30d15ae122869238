package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeCloud serves two operations the way every emulator's wrap does:
// Begin, End, Fault, and Discard for a Fault.After call. Each carried-out
// Create counts in made.
type fakeCloud struct {
	i    *Injector
	srv  *httptest.Server
	made atomic.Int32
}

func newFakeCloud(t *testing.T) *fakeCloud {
	t.Helper()
	f := &fakeCloud{i: New()}
	work := func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			f.made.Add(1)
			Note(r.Context(), "created")
		}
		w.Header().Set("X-Made", "yes")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, "made "+r.PathValue("name"))
	}
	wrap := func(op string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			c := f.i.Begin(op, w, r)
			defer c.End()
			w = c.W
			if fault, faulty := c.Fault(); faulty {
				if fault.After {
					work(c.Discard(), r)
				}
				w.WriteHeader(fault.Status)
				return
			}
			work(w, r)
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /functions", wrap("Create"))
	mux.HandleFunc("DELETE /functions/{name}", wrap("Delete"))
	mux.HandleFunc("GET /functions", wrap("List"))
	f.i.Register(mux)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

type answer struct {
	status int
	header string
	body   string
	err    error
}

// do sends one call as agent and returns what the caller got.
func (f *fakeCloud) do(method, path, body, agent string) answer {
	req, _ := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	req.Header.Set("User-Agent", agent)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header.Get("X-Made"), body: string(b), err: err}
}

// async sends a call in the background.
func (f *fakeCloud) async(method, path, body string) <-chan answer {
	ch := make(chan answer, 1)
	go func() { ch <- f.do(method, path, body, "aws-sdk-go-v2/1.0 app/replica-a") }()
	return ch
}

func (f *fakeCloud) knob(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (f *fakeCloud) hold(t *testing.T, h string) string {
	t.Helper()
	code, body := f.knob(t, http.MethodPost, "/_emulator/holds", h)
	var out struct{ ID string }
	if code != http.StatusCreated || json.Unmarshal([]byte(body), &out) != nil || out.ID == "" {
		t.Fatalf("POST /_emulator/holds %s = %d %s", h, code, body)
	}
	return out.ID
}

func (f *fakeCloud) state(t *testing.T, id string, wait string) HoldState {
	t.Helper()
	code, body := f.knob(t, http.MethodGet, "/_emulator/holds/"+id+"?wait="+wait, "")
	var st HoldState
	if code != http.StatusOK || json.Unmarshal([]byte(body), &st) != nil {
		t.Fatalf("GET hold %s = %d %s", id, code, body)
	}
	return st
}

func (f *fakeCloud) release(t *testing.T, id string, drop bool) {
	t.Helper()
	if code, body := f.knob(t, http.MethodPost, "/_emulator/holds/"+id+"/release", fmt.Sprintf(`{"drop": %v}`, drop)); code != http.StatusNoContent {
		t.Fatalf("release %s = %d %s", id, code, body)
	}
}

func (f *fakeCloud) ledger(t *testing.T, query string) []Entry {
	t.Helper()
	code, body := f.knob(t, http.MethodGet, "/_emulator/ledger"+query, "")
	var out []Entry
	if code != http.StatusOK || json.Unmarshal([]byte(body), &out) != nil {
		t.Fatalf("GET /_emulator/ledger%s = %d %s", query, code, body)
	}
	return out
}

// The ledger names each call's resource (from the path or the body), its
// caller's User-Agent, its answer and whether its work was carried out:
// a Fault.After call answered 503 did its work, a plain 503 did not.
func TestLedgerRecordsWhatWasAskedAnsweredAndDone(t *testing.T) {
	f := newFakeCloud(t)
	if a := f.do(http.MethodPost, "/functions", `{"FunctionName": "fn-a"}`, "app/replica-a"); a.status != http.StatusCreated || a.body != "made " {
		t.Fatalf("create = %+v", a)
	}
	f.i.Inject(Fault{Op: "Delete", Status: 503, After: true})
	f.i.Inject(Fault{Op: "Delete", Status: 503})
	if a := f.do(http.MethodDelete, "/functions/fn-a", "", "app/replica-b"); a.status != 503 {
		t.Fatalf("delete with a lost answer = %+v", a)
	}
	if a := f.do(http.MethodDelete, "/functions/fn-a", "", "app/replica-b"); a.status != 503 {
		t.Fatalf("refused delete = %+v", a)
	}
	_ = f.do(http.MethodPost, "/functions", `{"serviceName": "svc-b"}`, "app/replica-a")
	_ = f.do(http.MethodPost, "/functions", `{"resourceArn": "acs:fc:cn-hangzhou:1:services/svc-c", "tags": {}}`, "x")
	_ = f.do(http.MethodGet, "/functions", "", "x")

	all := f.ledger(t, "")
	if len(all) != 6 {
		t.Fatalf("%d entries, want 6: %+v", len(all), all)
	}
	type row struct {
		op, name    string
		status      int
		work        int
		fault       bool
		applied     bool
		notedCreate bool
	}
	want := []row{
		{"Create", "fn-a", 201, 201, false, true, true},
		{"Delete", "fn-a", 503, 201, true, true, false},
		{"Delete", "fn-a", 503, 0, true, false, false},
		{"Create", "svc-b", 201, 201, false, true, true},
		{"Create", "svc-c", 201, 201, false, true, true},
		{"List", "", 201, 201, false, true, false},
	}
	for n, e := range all {
		got := row{e.Op, e.Name, e.Status, e.Work, e.Fault, e.Applied(), len(e.Notes) == 1 && e.Notes[0] == "created"}
		if got != want[n] || e.Seq != n+1 || !e.Done || e.At.IsZero() {
			t.Errorf("entry %d = %+v, want %+v", n, e, want[n])
		}
	}
	if got := f.ledger(t, "?op=Delete&agent=replica-b"); len(got) != 2 || got[0].Agent != "app/replica-b" {
		t.Errorf("Deletes by replica-b = %+v", got)
	}
	if got := f.ledger(t, "?since=4&op=Create&op=List"); len(got) != 2 || got[0].Name != "svc-c" || got[1].Op != "List" {
		t.Errorf("since 4 = %+v", got)
	}
	if got := f.ledger(t, "?agent=nobody"); len(got) != 0 {
		t.Errorf("agent nobody = %+v", got)
	}
	if code, _ := f.knob(t, http.MethodGet, "/_emulator/ledger?since=x", ""); code != http.StatusBadRequest {
		t.Errorf("since=x = %d", code)
	}
}

// A test's own calls are recorded but never faulted: chaos failing every
// call leaves them alone, and they do not count as injected.
func TestHarnessCallsAreNeverFaulted(t *testing.T) {
	f := newFakeCloud(t)
	f.i.SetChaos(&Chaos{ServerErrorRate: 1})
	if a := f.do(http.MethodGet, "/functions", "", "aws-sdk-go-v2 app/"+HarnessAgent); a.status != http.StatusCreated {
		t.Errorf("harness call = %+v", a)
	}
	if a := f.do(http.MethodGet, "/functions", "", "aws-sdk-go-v2"); a.status != 503 {
		t.Errorf("node call under chaos = %+v", a)
	}
	if f.i.Injected() != 1 || f.i.Calls()["List"] != 2 {
		t.Errorf("injected %d, calls %v", f.i.Injected(), f.i.Calls())
	}
	if e := f.ledger(t, ""); len(e) != 2 || !e[0].Harness || e[1].Harness || e[0].Fault || !e[1].Fault {
		t.Errorf("ledger = %+v", e)
	}
}

// A call held before its work waits while later calls of other
// operations go by; dropped, its caller gets no answer and the work is
// never carried out.
func TestHoldBeforeTheWorkThenDrop(t *testing.T) {
	f := newFakeCloud(t)
	id := f.hold(t, `{"op": "Create", "nth": 2}`)
	if st := f.state(t, id, "0"); st.Holding || st.Seen != 0 {
		t.Errorf("before any call: %+v", st)
	}
	if a := f.do(http.MethodPost, "/functions", `{"FunctionName": "first"}`, "x"); a.status != http.StatusCreated {
		t.Fatalf("first create = %+v", a)
	}
	held := f.async(http.MethodPost, "/functions", `{"FunctionName": "second"}`)
	st := f.state(t, id, "30")
	if !st.Holding || st.Seen != 2 || st.Call == nil || st.Call.Name != "second" || !st.Call.Held || st.Call.Agent != "aws-sdk-go-v2/1.0 app/replica-a" {
		t.Fatalf("held state = %+v", st)
	}
	if a := f.do(http.MethodDelete, "/functions/first", "", "x"); a.status != http.StatusCreated {
		t.Errorf("a delete while a create is held = %+v", a)
	}
	if n := f.made.Load(); n != 1 {
		t.Errorf("%d creates carried out while the second is held before its work, want 1", n)
	}
	f.release(t, id, true)
	if a := <-held; a.err == nil {
		t.Errorf("a dropped call was answered: %+v", a)
	}
	if n := f.made.Load(); n != 1 {
		t.Errorf("%d creates carried out, want 1: the dropped call was carried out", n)
	}
	e := f.ledger(t, "?op=Create")
	if len(e) != 2 || !e[1].Dropped || e[1].Applied() || e[1].Status != 0 || !e[1].Done {
		t.Errorf("ledger = %+v", e)
	}
	if code, _ := f.knob(t, http.MethodGet, "/_emulator/holds/"+id, ""); code != http.StatusNotFound {
		t.Errorf("a released hold is still there: %d", code)
	}
}

// A call held at its answer is carried out first; released, its caller
// gets the handler's exact answer, and later calls are not held.
func TestHoldTheAnswerThenRelease(t *testing.T) {
	f := newFakeCloud(t)
	id := f.hold(t, `{"op": "Create", "answer": true}`)
	held := f.async(http.MethodPost, "/functions", `{"FunctionName": "fn"}`)
	st := f.state(t, id, "30")
	if !st.Holding || st.Call.Name != "fn" {
		t.Fatalf("state = %+v", st)
	}
	if n := f.made.Load(); n != 1 {
		t.Errorf("%d creates carried out while the answer is held, want 1", n)
	}
	select {
	case a := <-held:
		t.Fatalf("answered while held: %+v", a)
	default:
	}
	if e := f.ledger(t, ""); len(e) != 1 || e[0].Done || e[0].Status != 0 {
		t.Errorf("ledger while held = %+v", e)
	}
	f.release(t, id, false)
	if a := <-held; a.err != nil || a.status != http.StatusCreated || a.header != "yes" || a.body != "made " {
		t.Errorf("released answer = %+v", a)
	}
	if a := f.do(http.MethodPost, "/functions", `{"FunctionName": "fn2"}`, "x"); a.status != http.StatusCreated {
		t.Errorf("the next call = %+v", a)
	}
	if e := f.ledger(t, ""); len(e) != 2 || !e[0].Held || e[0].Status != 201 || !e[0].Applied() || e[1].Held {
		t.Errorf("ledger = %+v", e)
	}
}

// A held answer that is dropped was carried out all the same: the caller
// cannot tell, as after a lost answer.
func TestHoldTheAnswerThenDrop(t *testing.T) {
	f := newFakeCloud(t)
	id := f.hold(t, `{"op": "Delete", "answer": true, "name": "b"}`)
	if a := f.do(http.MethodDelete, "/functions/a", "", "x"); a.status != http.StatusCreated {
		t.Fatalf("a delete of another name was held: %+v", a)
	}
	held := f.async(http.MethodDelete, "/functions/b", "")
	if st := f.state(t, id, "30"); !st.Holding || st.Seen != 1 || st.Call.Name != "b" {
		t.Fatalf("state = %+v", st)
	}
	f.release(t, id, true)
	if a := <-held; a.err == nil {
		t.Errorf("a dropped answer arrived: %+v", a)
	}
	e := f.ledger(t, "?op=Delete")
	if len(e) != 2 || !e[1].Dropped || e[1].Status != 0 || e[1].Work != http.StatusCreated || !e[1].Applied() {
		t.Errorf("ledger = %+v", e)
	}
}

// Nobody releasing a hold drops the call after its timeout; harness calls
// are never held; DELETE releases every hold; bad bodies are refused.
func TestHoldTimeoutHarnessAndKnob(t *testing.T) {
	f := newFakeCloud(t)
	id := f.hold(t, `{"op": "Create", "timeoutMs": 1}`)
	if a := f.do(http.MethodPost, "/functions", `{}`, HarnessAgent); a.status != http.StatusCreated {
		t.Errorf("a harness call was held: %+v", a)
	}
	if a := f.do(http.MethodPost, "/functions", `{}`, "x"); a.err == nil {
		t.Errorf("a call held past its timeout was answered: %+v", a)
	}
	if st := f.state(t, id, "0"); !st.Released || st.Holding || st.Seen != 1 {
		t.Errorf("after the timeout: %+v", st)
	}
	f.release(t, id, false) // removing a hold that has let go is fine

	a, b := f.hold(t, `{"op": "Create"}`), f.hold(t, `{"op": "Delete", "answer": true}`)
	ca := f.async(http.MethodPost, "/functions", `{}`)
	cb := f.async(http.MethodDelete, "/functions/x", "")
	f.state(t, a, "30")
	f.state(t, b, "30")
	if code, _ := f.knob(t, http.MethodDelete, "/_emulator/holds", ""); code != http.StatusNoContent {
		t.Errorf("DELETE = %d", code)
	}
	if r := <-ca; r.status != http.StatusCreated {
		t.Errorf("released create = %+v", r)
	}
	if r := <-cb; r.status != http.StatusCreated {
		t.Errorf("released delete = %+v", r)
	}
	for _, bad := range []string{`{}`, `{"op": "Create", "nht": 2}`, `nope`} {
		if code, _ := f.knob(t, http.MethodPost, "/_emulator/holds", bad); code != http.StatusBadRequest {
			t.Errorf("POST %s = %d, want 400", bad, code)
		}
	}
	if code, _ := f.knob(t, http.MethodPost, "/_emulator/holds/99/release", ""); code != http.StatusNotFound {
		t.Errorf("release of an unknown hold = %d", code)
	}
	if code, _ := f.knob(t, http.MethodGet, "/_emulator/holds/99", ""); code != http.StatusNotFound {
		t.Errorf("GET of an unknown hold = %d", code)
	}
	if code, _ := f.knob(t, http.MethodGet, "/_emulator/holds/"+a+"?wait=-1", ""); code != http.StatusBadRequest {
		t.Errorf("wait=-1 = %d", code)
	}
}

// In process: HoldState waits no longer than its context, Release of a
// hold that never held removes it, and Note outside a call does nothing.
func TestHoldInProcess(t *testing.T) {
	i := New()
	id := i.Hold(Hold{Op: "Create"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	st, err := i.HoldState(ctx, id)
	if err != nil || st.Holding || st.Hold.Nth != 1 || st.Hold.TimeoutMs != 120000 {
		t.Errorf("state = %+v %v", st, err)
	}
	if err := i.Release(id, false); err != nil {
		t.Error(err)
	}
	if _, err := i.HoldState(context.Background(), id); err != ErrNoHold {
		t.Errorf("after release: %v", err)
	}
	Note(context.Background(), "nothing") // no call: no panic
}

// A long-running emulator forgets the older half of its ledger past the
// limit; sequence numbers go on, so that ?since= still reads what is new.
func TestLedgerForgetsItsOlderHalfPastTheLimit(t *testing.T) {
	f := newFakeCloud(t)
	f.i.ledger.limit = 4
	for range 5 {
		_ = f.do(http.MethodGet, "/functions", "", "x")
	}
	got := f.ledger(t, "")
	if len(got) != 3 || got[0].Seq != 3 || got[2].Seq != 5 {
		t.Fatalf("after 5 calls with a limit of 4: %+v", got)
	}
	_ = f.do(http.MethodGet, "/functions", "", "x")
	if got := f.ledger(t, "?since=5"); len(got) != 1 || got[0].Seq != 6 {
		t.Errorf("since 5 = %+v", got)
	}
}
