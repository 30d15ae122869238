package lambda

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	emu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/lambda"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

func readAll(t *testing.T, b *Backend, name string, o translate.LogOptions) string {
	t.Helper()
	rc, err := b.Logs(context.Background(), name, o)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, _ := io.ReadAll(rc)
	return string(data)
}

// A tail follows nextBackwardToken through partial and empty pages until
// the token comes back unchanged (GetLogEvents reference).
func TestTailReadsThroughPartialAndEmptyPages(t *testing.T) {
	b, s := setup(t, emu.DefaultSecretKey, emu.Options{Logs: emu.LogsBehaviour{PageSize: 2, EmptyPages: 2}})
	fn := function(t, ecr, nil)
	if _, err := b.Deploy(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now().Add(-time.Minute)
	for i, l := range []string{"a", "b", "c", "d", "e"} {
		s.PutLogEvents("/aws/lambda/"+fn.Name, "s", t0.Add(time.Duration(i)*time.Second), l)
	}
	if got := readAll(t, b, fn.Name, translate.LogOptions{HasTail: true, Tail: 4}); got != "b\nc\nd\ne\n" {
		t.Errorf("tail 4 = %q", got)
	}
	if got := readAll(t, b, fn.Name, translate.LogOptions{}); got != "a\nb\nc\nd\ne\n" {
		t.Errorf("all = %q", got)
	}
}

// A stream whose lastEventTimestamp has not caught up (it is eventually
// consistent, LogStream reference) is still read by a tail.
func TestTailReadsStreamsWithAStaleLastEventTimestamp(t *testing.T) {
	c := newClock()
	b, s := setup(t, emu.DefaultSecretKey, emu.Options{Now: c.Now, Logs: emu.LogsBehaviour{StreamStatsDelayMs: int(time.Hour.Milliseconds())}})
	fn := function(t, ecr, nil)
	if _, err := b.Deploy(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
	group := "/aws/lambda/" + fn.Name
	s.PutLogEvents(group, "old", c.Now(), "old line")
	c.Advance(2 * time.Hour) // the old stream's lastEventTimestamp is current
	s.PutLogEvents(group, "new", c.Now(), "new line")
	if got := readAll(t, b, fn.Name, translate.LogOptions{HasTail: true, Tail: 1}); got != "new line\n" {
		t.Errorf("tail 1 = %q, want the newest line, from the stream whose lastEventTimestamp lags", got)
	}
}

// output collects what a follow writes.
type output struct {
	mu   sync.Mutex
	data string
	done chan struct{}
}

func collect(rc io.ReadCloser) *output {
	o := &output{done: make(chan struct{})}
	go func() {
		defer close(o.done)
		buf := make([]byte, 4096)
		for {
			n, err := rc.Read(buf)
			o.mu.Lock()
			o.data += string(buf[:n])
			o.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return o
}

func (o *output) waitFor(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		o.mu.Lock()
		got := o.data
		o.mu.Unlock()
		if strings.Contains(got, s) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("follow did not write %q; wrote %q", s, o.data)
}

// A follow writes a line that becomes readable after newer ones, with its
// older timestamp (CloudWatch Logs ingests with a delay), and writes each
// line once: each poll reads the last followOverlap again and drops the
// events it has seen by eventId.
func TestFollowWritesALateLineWithAnOlderTimestampOnce(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts translate.LogOptions
		want string
	}{
		{"from the start", translate.LogOptions{Follow: true}, "before\nnewer\nlate\nlast\n"},
		{"after a tail", translate.LogOptions{Follow: true, HasTail: true, Tail: 1}, "before\nnewer\nlate\nlast\n"},
		{"after --tail=0", translate.LogOptions{Follow: true, HasTail: true, Tail: 0}, "newer\nlate\nlast\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &clock{t: time.Now()}
			b, s := setup(t, emu.DefaultSecretKey, emu.Options{Now: c.Now})
			b.followPoll = 10 * time.Millisecond
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			fn := function(t, ecr, nil)
			if _, err := b.Deploy(ctx, fn); err != nil {
				t.Fatal(err)
			}
			group := "/aws/lambda/" + fn.Name
			s.PutLogEvents(group, "s", c.Now().Add(-time.Minute), "older, left out by a tail")
			s.PutLogEvents(group, "s", c.Now().Add(-time.Second), "before")
			rc, err := b.Logs(ctx, fn.Name, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			out := collect(rc)
			s.SetLogsBehaviour(emu.LogsBehaviour{IngestionDelayMs: 1000})
			t0 := c.Now()
			s.PutLogEvents(group, "s", t0, "newer") // readable at t0+1s
			c.Advance(600 * time.Millisecond)
			s.PutLogEvents(group, "s", t0.Add(-3*time.Second), "late") // readable at t0+1.6s
			c.Advance(500 * time.Millisecond)
			out.waitFor(t, "newer")
			c.Advance(600 * time.Millisecond)
			out.waitFor(t, "late")
			s.PutLogEvents(group, "s", t0.Add(2*time.Second), "last")
			c.Advance(time.Second)
			out.waitFor(t, "last")
			cancel()
			<-out.done
			if got := strings.ReplaceAll(out.data, "older, left out by a tail\n", ""); tc.opts.HasTail && got != out.data {
				t.Errorf("the follow wrote a line the tail left out: %q", out.data)
			}
			if !tc.opts.HasTail {
				tc.want = "older, left out by a tail\n" + tc.want
			}
			if out.data != tc.want {
				t.Errorf("follow wrote %q, want %q", out.data, tc.want)
			}
		})
	}
}
