package azure

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/faas-kubelet/faas-kubelet/provider/logstream"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// followEvery is how often a follow reads the container log again.
var followEvery = 2 * time.Second

// Logs serves kubectl logs from the app's container log snapshot
// (GetWebSiteContainerLogs): each line starts with its RFC 3339 timestamp,
// which --since and --timestamps use; --tail and --limit-bytes cut the
// snapshot; a follow reads the snapshot again every few seconds and writes
// the lines it has not written yet.
func (b *Backend) Logs(ctx context.Context, name string, opts translate.LogOptions) (io.ReadCloser, error) {
	all, err := b.containerLog(ctx, name)
	if err != nil {
		return nil, err
	}
	seen := len(all)
	first := logstream.Tail(logstream.Since(all, opts.Since), opts)
	next := func(ctx context.Context) ([]logstream.Line, error) {
		all, err := b.containerLog(ctx, name)
		if err != nil || len(all) <= seen {
			return nil, err
		}
		fresh := all[seen:]
		seen = len(all)
		return fresh, nil
	}
	return logstream.Stream(ctx, opts, first, followEvery, next), nil
}

// containerLog reads the snapshot; a line's ID is its position, since the
// snapshot only grows.
func (b *Backend) containerLog(ctx context.Context, name string) ([]logstream.Line, error) {
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
	var lines []logstream.Line
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		l := logstream.Line{Text: sc.Text(), ID: fmt.Sprint(len(lines))}
		if first, rest, ok := strings.Cut(l.Text, " "); ok {
			if ts, err := time.Parse(time.RFC3339Nano, first); err == nil {
				l.Time, l.Text = ts, rest
			}
		}
		lines = append(lines, l)
	}
	return lines, sc.Err()
}
