package logstream

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/log"

	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// Line is one log line.
type Line struct {
	// Time is when it was written (zero: unknown, never prefixed).
	Time time.Time
	Text string
	// ID identifies the line so a follow writes it once; empty IDs are
	// never deduplicated.
	ID string
}

// Next returns the lines written since the last call, for a follow.
type Next func(ctx context.Context) ([]Line, error)

var errLimit = errors.New("limit reached")

// Stream writes first, then, when opts.Follow, polls next every interval
// until ctx ends. The reader ends when the output is complete, the byte
// limit is reached, or ctx ends.
func Stream(ctx context.Context, opts translate.LogOptions, first []Line, every time.Duration, next Next) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		w := &writer{w: pw, limit: opts.LimitBytes, timestamps: opts.Timestamps, seen: map[string]bool{}}
		if err := w.write(first); err != nil || !opts.Follow {
			pw.CloseWithError(ignoreLimit(err))
			return
		}
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				pw.Close()
				return
			case <-t.C:
			}
			lines, err := next(ctx)
			if err != nil {
				if ctx.Err() == nil {
					log.G(ctx).WithError(err).Warn("following logs")
				}
				continue
			}
			if err := w.write(lines); err != nil {
				pw.CloseWithError(ignoreLimit(err))
				return
			}
		}
	}()
	return pr
}

type writer struct {
	w          io.Writer
	limit      int // 0: none
	written    int
	timestamps bool
	seen       map[string]bool
}

func (w *writer) write(lines []Line) error {
	for _, l := range lines {
		if l.ID != "" {
			if w.seen[l.ID] {
				continue
			}
			w.seen[l.ID] = true
		}
		s := l.Text
		if !strings.HasSuffix(s, "\n") {
			s += "\n"
		}
		if w.timestamps && !l.Time.IsZero() {
			s = l.Time.UTC().Format(time.RFC3339Nano) + " " + s
		}
		if w.limit > 0 {
			if w.written >= w.limit {
				return errLimit
			}
			if len(s) > w.limit-w.written {
				s = s[:w.limit-w.written]
			}
		}
		n, err := io.WriteString(w.w, s)
		w.written += n
		if err != nil {
			return err
		}
		if w.limit > 0 && w.written >= w.limit {
			return errLimit
		}
	}
	return nil
}

func ignoreLimit(err error) error {
	if errors.Is(err, errLimit) {
		return nil
	}
	return err
}

// Since keeps the lines at or after t (all of them when t is zero; lines
// without a time are kept).
func Since(lines []Line, t time.Time) []Line {
	if t.IsZero() {
		return lines
	}
	var out []Line
	for _, l := range lines {
		if l.Time.IsZero() || !l.Time.Before(t) {
			out = append(out, l)
		}
	}
	return out
}

// Tail keeps the last n lines when opts ask for a tail.
func Tail(lines []Line, opts translate.LogOptions) []Line {
	if opts.HasTail && len(lines) > opts.Tail {
		return lines[len(lines)-opts.Tail:]
	}
	return lines
}
