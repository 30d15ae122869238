package kubewatch

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// server plays the API server for Resuming: each open is recorded
// and answered with the next scripted watch.
type server struct {
	mu      sync.Mutex
	opens   []metav1.ListOptions
	watches []*watch.FakeWatcher
	failAt  int // the open (1-based) that fails; 0: none
}

func (s *server) open(_ context.Context, o metav1.ListOptions) (watch.Interface, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opens = append(s.opens, o)
	if len(s.opens) == s.failAt {
		return nil, errors.New("connection refused")
	}
	w := watch.NewFakeWithChanSize(10, false)
	s.watches = append(s.watches, w)
	return w, nil
}

func (s *server) watch(t *testing.T, i int) *watch.FakeWatcher {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		if i < len(s.watches) {
			w := s.watches[i]
			s.mu.Unlock()
			return w
		}
		s.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("watch %d was never opened (%d opens)", i+1, len(s.opens))
		}
		time.Sleep(time.Millisecond)
	}
}

func (s *server) opened(i int) metav1.ListOptions {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.opens[i]
}

func (s *server) openCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.opens)
}

func podAt(name, rv string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", ResourceVersion: rv}}
}

// next reads the next event, failing if the channel closes or nothing comes.
func next(t *testing.T, w watch.Interface) watch.Event {
	t.Helper()
	select {
	case ev, ok := <-w.ResultChan():
		if !ok {
			t.Fatal("the watch was closed; want an event")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s")
	}
	return watch.Event{}
}

func closed(t *testing.T, w watch.Interface) {
	t.Helper()
	select {
	case ev, ok := <-w.ResultChan():
		if ok {
			t.Fatalf("got %s %v; want the watch closed", ev.Type, ev.Object)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the watch is still open after 10 s")
	}
}

func TestClosedWatchResumesFromTheLastVersion(t *testing.T) {
	s := &server{}
	timeout := int64(300)
	w, err := Resuming(s.open)(context.Background(), metav1.ListOptions{ResourceVersion: "10", FieldSelector: "spec.nodeName=n", AllowWatchBookmarks: true, TimeoutSeconds: &timeout})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	first := s.watch(t, 0)
	first.Add(podAt("a", "11"))
	first.Modify(podAt("a", "12"))
	if ev := next(t, w); ev.Type != watch.Added || ev.Object.(*corev1.Pod).ResourceVersion != "11" {
		t.Fatalf("first event %s %v", ev.Type, ev.Object)
	}
	next(t, w)
	first.Stop() // the API server closes the watch

	second := s.watch(t, 1)
	second.Add(podAt("b", "13"))
	if ev := next(t, w); ev.Object.(*corev1.Pod).Name != "b" {
		t.Fatalf("after the close got %v; want pod b from the resumed watch", ev.Object)
	}
	o := s.opened(1)
	if o.ResourceVersion != "12" || o.FieldSelector != "spec.nodeName=n" || !o.AllowWatchBookmarks || o.SendInitialEvents != nil {
		t.Fatalf("resumed with %+v; want resourceVersion 12, the same selector, bookmarks and no initial events", o)
	}
	// A bookmark moves the version the next resume starts from.
	second.Action(watch.Bookmark, podAt("", "20"))
	next(t, w)
	second.Stop()
	s.watch(t, 2)
	if got := s.opened(2).ResourceVersion; got != "20" {
		t.Fatalf("resumed after a bookmark from %q; want 20", got)
	}
}

// started opens a resuming watch from version 10 on s and has the server's
// first watch deliver pod a at 11.
func started(t *testing.T, ctx context.Context, s *server) (watch.Interface, *watch.FakeWatcher) {
	t.Helper()
	w, err := Resuming(s.open)(ctx, metav1.ListOptions{ResourceVersion: "10"})
	if err != nil {
		t.Fatal(err)
	}
	first := s.watch(t, 0)
	first.Add(podAt("a", "11"))
	next(t, w)
	return w, first
}

func TestErrorEventIsPassedOnAndNotResumed(t *testing.T) {
	s := &server{}
	w, first := started(t, context.Background(), s)
	gone := &metav1.Status{Status: metav1.StatusFailure, Code: 410, Reason: metav1.StatusReasonExpired}
	first.Error(gone)
	if ev := next(t, w); ev.Type != watch.Error {
		t.Fatalf("got %s; want the error event passed on", ev.Type)
	}
	closed(t, w)
	if n := s.openCount(); n != 1 {
		t.Fatalf("%d opens after an error event; want 1 (the reflector decides)", n)
	}
}

func TestInitialEventsAreNotResumedUntilTheirEnd(t *testing.T) {
	yes := true
	opts := metav1.ListOptions{SendInitialEvents: &yes, ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan, AllowWatchBookmarks: true}

	s := &server{}
	w, _ := Resuming(s.open)(context.Background(), opts)
	first := s.watch(t, 0)
	first.Add(podAt("a", "11"))
	next(t, w)
	first.Stop()
	closed(t, w)
	if n := s.openCount(); n != 1 {
		t.Fatalf("a streaming list closed half-way was re-opened (%d opens); the reflector must list again", n)
	}

	s = &server{}
	w, _ = Resuming(s.open)(context.Background(), opts)
	defer w.Stop()
	first = s.watch(t, 0)
	first.Add(podAt("a", "11"))
	end := podAt("", "15")
	end.Annotations = map[string]string{metav1.InitialEventsAnnotationKey: "true"}
	first.Action(watch.Bookmark, end)
	next(t, w)
	next(t, w)
	first.Stop()
	s.watch(t, 1)
	if o := s.opened(1); o.ResourceVersion != "15" || o.SendInitialEvents != nil || o.ResourceVersionMatch != "" {
		t.Fatalf("resumed with %+v; want a plain watch from 15", o)
	}
}

func TestWatchesThatDeliverNothingAreGivenUp(t *testing.T) {
	s := &server{}
	w, first := started(t, context.Background(), s)
	first.Stop()
	// Every resumed watch is closed before it delivers anything.
	for i := 1; ; i++ {
		ws := s.watch(t, i)
		ws.Stop()
		if i == 6 {
			break
		}
	}
	closed(t, w)
	// The first, one resumed at once (the first delivered), then one
	// after each pause of 50, 100, 200, 400 and 800 ms.
	if n := s.openCount(); n != 7 {
		t.Fatalf("%d opens; want 7", n)
	}
}

func TestFailedResumeClosesTheWatch(t *testing.T) {
	s := &server{failAt: 2}
	w, first := started(t, context.Background(), s)
	first.Stop()
	closed(t, w)
}

func TestStopEndsTheWatch(t *testing.T) {
	s := &server{}
	w, _ := Resuming(s.open)(context.Background(), metav1.ListOptions{ResourceVersion: "10"})
	first := s.watch(t, 0)
	w.Stop()
	w.Stop() // twice is fine, as with any watch
	closed(t, w)
	if !first.IsStopped() {
		t.Fatal("the server's watch was left open")
	}
	if n := s.openCount(); n != 1 {
		t.Fatalf("%d opens after Stop; want 1", n)
	}
}

func TestContextEndsTheWatch(t *testing.T) {
	s := &server{}
	ctx, cancel := context.WithCancel(context.Background())
	w, first := started(t, ctx, s)
	cancel()
	first.Stop() // a client's watch ends with its context
	closed(t, w)
	if n := s.openCount(); n != 1 {
		t.Fatalf("%d opens after the context ended; want 1", n)
	}
}
