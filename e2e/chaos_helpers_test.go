//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/faas-kubelet/faas-kubelet/pkg/emulator/faults"
)

// knob sends one request to an emulator's /_emulator/ knobs of cloud and
// decodes the JSON answer into out (when not nil).
func (e *emulator) knob(t *testing.T, cloud, method, path string, body any, out any) {
	t.Helper()
	var in io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		in = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.endpointOf(cloud)+path, in)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: HTTP %d %s", method, path, resp.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, data)
		}
	}
}

// ledger reads the calls of ops (all when none) from cloud's emulator.
func (e *emulator) ledger(t *testing.T, cloud string, ops ...string) []faults.Entry {
	t.Helper()
	q := url.Values{"op": ops}
	var out []faults.Entry
	e.knob(t, cloud, http.MethodGet, "/_emulator/ledger?"+q.Encode(), nil, &out)
	return out
}

// events reads the ledger calls the counters look at (creates and
// destructive calls), as callEvents.
func (e *emulator) events(t *testing.T, cloud string) []callEvent {
	t.Helper()
	o := opsOf[cloud]
	var out []callEvent
	for _, en := range e.ledger(t, cloud, append([]string{o.create, o.remove}, o.destructive...)...) {
		out = append(out, callEvent{At: en.At, Op: en.Op, Name: en.Name, Applied: en.Applied(),
			Created: slices.Contains(en.Notes, "created"), Harness: en.Harness})
	}
	return out
}

// hold sets a hold on cloud's emulator and returns its ID.
func (e *emulator) hold(t *testing.T, cloud string, h faults.Hold) string {
	t.Helper()
	var out struct{ ID string }
	e.knob(t, cloud, http.MethodPost, "/_emulator/holds", h, &out)
	return out.ID
}

// waitHolding waits until the hold holds a call and returns it.
func (e *emulator) waitHolding(t *testing.T, cloud, id string, timeout time.Duration) faults.HoldState {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var st faults.HoldState
		e.knob(t, cloud, http.MethodGet, "/_emulator/holds/"+id+"?wait=5", nil, &st)
		if st.Holding && st.Call != nil {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("hold %s (%+v) held no call within %s: %d calls of it seen", id, st.Hold, timeout, st.Seen)
		}
	}
}

// release lets the held call go on (drop: its connection closes with no
// answer).
func (e *emulator) release(t *testing.T, cloud, id string, drop bool) {
	t.Helper()
	e.knob(t, cloud, http.MethodPost, "/_emulator/holds/"+id+"/release", map[string]bool{"drop": drop}, nil)
}

// inject queues a fault on cloud's emulator.
func (e *emulator) inject(t *testing.T, cloud string, f faults.Fault) {
	t.Helper()
	e.knob(t, cloud, http.MethodPost, "/_emulator/faults", f, nil)
}

// chaos starts random faults on cloud's emulator (nil stops them).
func (e *emulator) chaos(t *testing.T, cloud string, c *faults.Chaos) {
	t.Helper()
	if c == nil {
		e.knob(t, cloud, http.MethodDelete, "/_emulator/chaos", nil, nil)
		return
	}
	e.knob(t, cloud, http.MethodPut, "/_emulator/chaos", c, nil)
}

// injected is how many calls cloud's emulator answered with an injected
// fault (queued or chaos; the test's own calls are never faulted).
func (e *emulator) injected(t *testing.T, cloud string) int {
	t.Helper()
	var out struct{ Injected int }
	e.knob(t, cloud, http.MethodGet, "/_emulator/chaos", nil, &out)
	return out.Injected
}

// podRecorder watches a namespace's pods for the whole test and keeps
// each pod's life: when it was first seen, seen terminating, seen gone.
type podRecorder struct {
	mu    sync.Mutex
	lives map[types.UID]*podLife
	// ready says which pods were last seen Running and Ready; lapses are
	// the times such a pod was then seen otherwise.
	ready  map[types.UID]bool
	lapses []lapse
}

// lapse is a Running, Ready pod seen not so.
type lapse struct {
	At   time.Time
	What string
}

// recordPods starts watching ns (re-listing after the watch breaks, as
// during an API server outage) until the test ends.
func recordPods(t *testing.T, ns string) *podRecorder {
	r := &podRecorder{lives: map[types.UID]*podLife{}, ready: map[types.UID]bool{}}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	pods := cluster.client.CoreV1().Pods(ns)
	go func() {
		for ctx.Err() == nil {
			list, err := pods.List(ctx, metav1.ListOptions{})
			if err != nil {
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
				continue
			}
			r.sync(list.Items)
			w, err := pods.Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
			if err != nil {
				continue
			}
			for ev := range w.ResultChan() {
				p, ok := ev.Object.(*corev1.Pod)
				if !ok {
					break // an error event: list again
				}
				r.see(p, ev.Type == watch.Deleted)
			}
			w.Stop()
		}
	}()
	return r
}

func (r *podRecorder) see(p *corev1.Pod, gone bool) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	l, ok := r.lives[p.UID]
	if !ok {
		l = &podLife{UID: string(p.UID), Function: functionNameOf(p), Seen: now}
		r.lives[p.UID] = l
	}
	if p.DeletionTimestamp != nil && l.Terminating.IsZero() {
		l.Terminating = now
	}
	if gone && l.Gone.IsZero() {
		l.Gone = now
	}
	up := !gone && p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning && ready(p)
	if r.ready[p.UID] && !up {
		r.lapses = append(r.lapses, lapse{At: now, What: fmt.Sprintf("%s %s Ready=%v deleted=%v", p.Name, p.Status.Phase, ready(p), gone || p.DeletionTimestamp != nil)})
	}
	r.ready[p.UID] = up
}

// lapsesSince returns the lapses seen after since.
func (r *podRecorder) lapsesSince(since time.Time) []lapse {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []lapse
	for _, l := range r.lapses {
		if l.At.After(since) {
			out = append(out, l)
		}
	}
	return out
}

// sync takes in a listing: pods missing from it went while the watch was
// down.
func (r *podRecorder) sync(pods []corev1.Pod) {
	listed := map[types.UID]bool{}
	for i := range pods {
		listed[pods[i].UID] = true
		r.see(&pods[i], false)
	}
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	for uid, l := range r.lives {
		if !listed[uid] && l.Gone.IsZero() {
			l.Gone = now
		}
	}
}

// all returns every pod's life so far.
func (r *podRecorder) all() []podLife {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]podLife, 0, len(r.lives))
	for _, l := range r.lives {
		out = append(out, *l)
	}
	return out
}

// podSnaps lists the pods of selector as the unconverged counter reads
// them.
func podSnaps(t *testing.T, ns, selector string) []podSnap {
	t.Helper()
	pods := listPods(t, ns, selector)
	out := make([]podSnap, 0, len(pods))
	for i := range pods {
		out = append(out, podSnap{UID: string(pods[i].UID), Function: functionNameOf(&pods[i]),
			Ready: pods[i].Status.Phase == corev1.PodRunning && ready(&pods[i]), Terminating: pods[i].DeletionTimestamp != nil})
	}
	return out
}

// agentOf makes a process's cloud calls tell it apart in the emulator's
// ledger: the AWS SDK adds app/<id> to its User-Agent.
func agentOf(id string) string { return fmt.Sprintf("AWS_SDK_UA_APP_ID=%s", id) }
