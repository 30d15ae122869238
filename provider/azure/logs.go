package azure

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// followEvery is how often a follow reads the container log again.
var followEvery = 2 * time.Second

type logLine struct {
	ts   time.Time
	text string // without the timestamp
}

// Logs serves kubectl logs from the app's container log snapshot
// (GetWebSiteContainerLogs): each line starts with its RFC 3339 timestamp,
// which --since and --timestamps use; --tail and --limit-bytes cut the
// snapshot; a follow reads the snapshot again every few seconds and writes
// the lines it has not written yet.
func (b *Backend) Logs(ctx context.Context, name string, opts translate.LogOptions) (io.ReadCloser, error) {
	lines, err := b.containerLog(ctx, name)
	if err != nil {
		return nil, err
	}
	seen := len(lines)
	lines = since(lines, opts.Since)
	if opts.HasTail && len(lines) > opts.Tail {
		lines = lines[len(lines)-opts.Tail:]
	}
	pr, pw := io.Pipe()
	go func() {
		left := opts.LimitBytes
		write := func(ls []logLine) error {
			for _, l := range ls {
				s := l.text + "\n"
				if opts.Timestamps && !l.ts.IsZero() {
					s = l.ts.UTC().Format(time.RFC3339Nano) + " " + s
				}
				if opts.LimitBytes > 0 {
					if left <= 0 {
						return errLimit
					}
					if len(s) > left {
						s = s[:left]
					}
					left -= len(s)
				}
				if _, err := io.WriteString(pw, s); err != nil {
					return err
				}
			}
			return nil
		}
		if err := write(lines); err != nil || !opts.Follow {
			pw.CloseWithError(ignoreLimit(err))
			return
		}
		t := time.NewTicker(followEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				pw.Close()
				return
			case <-t.C:
			}
			all, err := b.containerLog(ctx, name)
			if err != nil || len(all) <= seen {
				continue
			}
			fresh := all[seen:]
			seen = len(all)
			if err := write(fresh); err != nil {
				pw.CloseWithError(ignoreLimit(err))
				return
			}
		}
	}()
	return pr, nil
}

func (b *Backend) containerLog(ctx context.Context, name string) ([]logLine, error) {
	out, err := b.api.GetWebSiteContainerLogs(ctx, b.opts.ResourceGroup, name, nil)
	if err != nil {
		return nil, mapError("GetWebSiteContainerLogs", err)
	}
	if out.Body == nil {
		return nil, nil
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, err
	}
	var lines []logLine
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		text := sc.Text()
		l := logLine{text: text}
		if first, rest, ok := strings.Cut(text, " "); ok {
			if ts, err := time.Parse(time.RFC3339Nano, first); err == nil {
				l = logLine{ts: ts, text: rest}
			}
		}
		lines = append(lines, l)
	}
	return lines, sc.Err()
}

func since(lines []logLine, t time.Time) []logLine {
	if t.IsZero() {
		return lines
	}
	var out []logLine
	for _, l := range lines {
		if l.ts.IsZero() || !l.ts.Before(t) {
			out = append(out, l)
		}
	}
	return out
}

var errLimit = errors.New("limit reached")

func ignoreLimit(err error) error {
	if errors.Is(err, errLimit) {
		return nil
	}
	return err
}
