package alibaba

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	fc "github.com/alibabacloud-go/fc-open-20210406/v2/client"
	"github.com/alibabacloud-go/tea/tea"
	sls "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/faas-kubelet/faas-kubelet/provider"
	"github.com/faas-kubelet/faas-kubelet/provider/logstream"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// LogsAPI is the part of the Log Service client this backend uses.
type LogsAPI interface {
	GetLogsV2(project, logstore string, req *sls.GetLogRequest) (*sls.GetLogsResponse, error)
}

var _ LogsAPI = (sls.ClientInterface)(nil)

// Log Service answers at most 100 lines per GetLogs; a read without a tail
// stops after maxLines.
const (
	pageLines  = 100
	maxLines   = 10000
	followPoll = time.Second
)

// Logs reads the function's lines from the logstore its service logs to:
// Function Compute 2.0 writes each line with the service as __topic__ and
// the function as functionName. A tail reads newest first; since,
// timestamps and limit-bytes are applied as the kubelet applies them; a
// follow polls every second from the newest line it has seen.
func (b *Backend) Logs(ctx context.Context, name string, opts translate.LogOptions) (io.ReadCloser, error) {
	svc, err := b.api.GetServiceWithOptions(tea.String(name), &fc.GetServiceRequest{}, &fc.GetServiceHeaders{}, rt())
	if err != nil {
		return nil, mapError("GetService", err)
	}
	lc := svc.Body.LogConfig
	if lc == nil || tea.StringValue(lc.Project) == "" || tea.StringValue(lc.Logstore) == "" {
		return nil, provider.NotSupportedf("kubectl logs: service %s has no logConfig (set the node's alibaba.logProject and alibaba.logStore)", name)
	}
	if b.logs == nil {
		return nil, provider.NotSupportedf("kubectl logs: no Log Service client")
	}
	q := &logQuery{api: b.logs, project: tea.StringValue(lc.Project), logstore: tea.StringValue(lc.Logstore),
		// message: * keeps the function's log lines, not its request
		// metrics entries (whose topic names the service too).
		query: fmt.Sprintf(`__topic__: "%s" and functionName: "%s" and message: *`, name, name)}
	from := time.Now().Add(-24 * time.Hour)
	if t, ok := parseTime(tea.StringValue(svc.Body.CreatedTime)); ok {
		from = t.Add(-time.Minute)
	}
	if !opts.Since.IsZero() {
		from = opts.Since
	}
	var first []logstream.Line
	switch {
	case from.After(time.Now()):
		// A --since-time ahead: nothing yet (Log Service refuses a from
		// later than its to); a follow starts there.
	case opts.HasTail:
		first, err = q.tail(ctx, from, opts.Tail)
	default:
		first, err = q.read(ctx, from, maxLines)
	}
	if err != nil {
		return nil, err
	}
	last := from
	for _, l := range first {
		last = maxTime(last, l.Time)
	}
	// A follow reads again from the second of the newest line written (Log
	// Service works in seconds) and keeps only lines at least as new as it;
	// the stream drops the ones it already wrote by their ID. Lines older
	// than the newest written were either written or left out by --tail.
	next := func(ctx context.Context) ([]logstream.Line, error) {
		if last.After(time.Now()) {
			return nil, nil // following from a --since-time still ahead
		}
		lines, err := q.read(ctx, last.Truncate(time.Second), maxLines)
		fresh := lines[:0]
		for _, l := range lines {
			if !l.Time.Before(last) {
				fresh = append(fresh, l)
			}
		}
		for _, l := range fresh {
			last = maxTime(last, l.Time)
		}
		return fresh, err
	}
	return logstream.Stream(ctx, opts, first, followPoll, next), nil
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

type logQuery struct {
	api               LogsAPI
	project, logstore string
	query             string
}

func (q *logQuery) page(ctx context.Context, from time.Time, offset, lines int64, reverse bool) ([]logstream.Line, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	resp, err := getLogs(ctx, q.api, q.project, q.logstore, &sls.GetLogRequest{
		From: from.Unix(), To: time.Now().Unix() + 1, Query: q.query, Lines: lines, Offset: offset, Reverse: reverse,
	})
	if err != nil {
		return nil, err
	}
	out := make([]logstream.Line, 0, len(resp.Logs))
	for _, e := range resp.Logs {
		out = append(out, lineOf(e))
	}
	return out, nil
}

// Log Service answers a query that has not read all the data with progress
// Incomplete, and then "you must repeat the request" (GetLogs): it is
// repeated, at most maxIncomplete times, incompletePause apart.
const (
	maxIncomplete   = 10
	incompletePause = 100 * time.Millisecond
)

// getLogs calls GetLogs until its answer is complete.
func getLogs(ctx context.Context, api LogsAPI, project, logstore string, req *sls.GetLogRequest) (*sls.GetLogsResponse, error) {
	for attempt := 1; ; attempt++ {
		resp, err := api.GetLogsV2(project, logstore, req)
		if err != nil {
			return nil, fmt.Errorf("log service GetLogs %s/%s: %w", project, logstore, err)
		}
		if resp.IsComplete() {
			return resp, nil
		}
		if attempt == maxIncomplete {
			return nil, fmt.Errorf("log service GetLogs %s/%s: the query is still incomplete after %d attempts", project, logstore, attempt)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(incompletePause):
		}
	}
}

// read returns up to limit lines from from, oldest first.
func (q *logQuery) read(ctx context.Context, from time.Time, limit int) ([]logstream.Line, error) {
	var out []logstream.Line
	for len(out) < limit {
		page, err := q.page(ctx, from, int64(len(out)), pageLines, false)
		if err != nil {
			return out, err
		}
		out = append(out, page...)
		if len(page) < pageLines {
			break
		}
	}
	return out, nil
}

// tail returns the newest n lines from from, oldest first.
func (q *logQuery) tail(ctx context.Context, from time.Time, n int) ([]logstream.Line, error) {
	var newest []logstream.Line
	for len(newest) < n {
		want := min(pageLines, n-len(newest))
		page, err := q.page(ctx, from, int64(len(newest)), int64(want), true)
		if err != nil {
			return nil, err
		}
		newest = append(newest, page...)
		if len(page) < want {
			break
		}
	}
	out := make([]logstream.Line, len(newest))
	for i, l := range newest {
		out[len(newest)-1-i] = l
	}
	return out, nil
}

// lineOf reads one Log Service entry: __time__ in seconds, with the
// nanoseconds in __time_ns_part__ when the entry has them.
func lineOf(e map[string]string) logstream.Line {
	sec, _ := strconv.ParseInt(e["__time__"], 10, 64)
	ns, _ := strconv.ParseInt(e["__time_ns_part__"], 10, 64)
	t := time.Unix(sec, ns)
	return logstream.Line{Time: t, Text: e["message"], ID: fmt.Sprintf("%d.%09d/%s", sec, ns, e["message"])}
}
