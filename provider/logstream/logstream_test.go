package logstream

import (
	"context"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

func read(t *testing.T, rc io.ReadCloser) string {
	t.Helper()
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var t0 = time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)

func lines() []Line {
	return []Line{{Time: t0, Text: "one", ID: "1"}, {Time: t0.Add(time.Second), Text: "two\n", ID: "2"}, {Text: "three"}}
}

func TestOptions(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		opts translate.LogOptions
		in   []Line
		want string
	}{
		{"plain", translate.LogOptions{}, lines(), "one\ntwo\nthree\n"},
		{"timestamps", translate.LogOptions{Timestamps: true}, lines()[:2], "2026-11-22T06:00:00Z one\n2026-11-22T06:00:01Z two\n"},
		{"limit cuts a line", translate.LogOptions{LimitBytes: 6}, lines(), "one\ntw"},
		{"tail", translate.LogOptions{}, Tail(lines(), translate.LogOptions{Tail: 1, HasTail: true}), "three\n"},
		{"tail 0", translate.LogOptions{}, Tail(lines(), translate.LogOptions{Tail: 0, HasTail: true}), ""},
		{"since", translate.LogOptions{}, Since(lines(), t0.Add(time.Second)), "two\nthree\n"},
	} {
		if got := read(t, Stream(ctx, tc.opts, tc.in, time.Hour, nil)); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestFollowWritesNewLinesOnceUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	calls := 0
	next := func(context.Context) ([]Line, error) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		return []Line{{Text: "again", ID: "1"}, {Text: "new", ID: "n"}}, nil
	}
	rc := Stream(ctx, translate.LogOptions{Follow: true}, []Line{{Text: "first", ID: "1"}}, 5*time.Millisecond, next)
	buf := make([]byte, 64)
	got := ""
	for len(got) < len("first\nnew\n") {
		n, err := rc.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got += string(buf[:n])
	}
	if got != "first\nnew\n" {
		t.Errorf("follow wrote %q", got)
	}
	cancel()
	if _, err := io.ReadAll(rc); err != nil {
		t.Errorf("after cancel: %v", err)
	}
}
