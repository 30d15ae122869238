package lambda

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	cwltypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	sdk "github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/faas-kubelet/faas-kubelet/provider/logstream"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// LogsAPI is the part of the CloudWatch Logs client this backend uses.
type LogsAPI interface {
	FilterLogEvents(context.Context, *cwl.FilterLogEventsInput, ...func(*cwl.Options)) (*cwl.FilterLogEventsOutput, error)
	GetLogEvents(context.Context, *cwl.GetLogEventsInput, ...func(*cwl.Options)) (*cwl.GetLogEventsOutput, error)
	DescribeLogStreams(context.Context, *cwl.DescribeLogStreamsInput, ...func(*cwl.Options)) (*cwl.DescribeLogStreamsOutput, error)
}

var _ LogsAPI = (*cwl.Client)(nil)

// NewLogsClient builds the CloudWatch Logs client for the options.
func NewLogsClient(cfg aws.Config, o Options) *cwl.Client {
	return cwl.NewFromConfig(cfg, func(so *cwl.Options) {
		so.Region = o.Region
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
		if o.Credentials != nil {
			so.Credentials = o.Credentials
		}
		if o.HTTPClient != nil {
			so.HTTPClient = o.HTTPClient
		}
	})
}

// followEvery is how often a follow polls for new lines.
const followEvery = time.Second

// followOverlap is how far back from the newest line written each poll of
// a follow reads again: CloudWatch Logs makes an event readable some time
// after it is written, with its original timestamp, so a line can arrive
// after newer ones; the events read again are dropped by their eventId.
const followOverlap = 30 * time.Second

type event struct {
	ts     int64
	id     string // FilterLogEvents' eventId; GetLogEvents gives none
	stream string
	msg    string
}

// key identifies an event without an eventId (one read by GetLogEvents).
func (e event) key() string { return fmt.Sprintf("%s\x00%d\x00%s", e.stream, e.ts, e.msg) }

// Logs reads the function's log group (its LoggingConfig, else
// /aws/lambda/<name>): a tail reads the streams backwards instead of the
// whole group; since, timestamps and limit-bytes are applied as the
// kubelet applies them; a follow polls for new lines until ctx ends.
func (b *Backend) Logs(ctx context.Context, name string, opts translate.LogOptions) (io.ReadCloser, error) {
	if b.logs == nil {
		return nil, errors.New("lambda: no CloudWatch Logs client")
	}
	group := "/aws/lambda/" + name
	if out, err := b.api.GetFunction(ctx, &sdk.GetFunctionInput{FunctionName: aws.String(name)}); err != nil {
		return nil, mapError("GetFunction", err)
	} else if lc := out.Configuration.LoggingConfig; lc != nil && aws.ToString(lc.LogGroup) != "" {
		group = aws.ToString(lc.LogGroup)
	}
	var since *int64
	if !opts.Since.IsZero() {
		since = aws.Int64(opts.Since.UnixMilli())
	}
	var first []event
	var err error
	if opts.HasTail {
		first, err = b.tail(ctx, group, opts.Tail, since)
	} else {
		first, err = b.filter(ctx, group, since, nil)
	}
	if err != nil && !isMissingGroup(err) {
		return nil, err
	}
	if !opts.Follow {
		return logstream.Stream(ctx, opts, lines(first), followEvery, nil), nil
	}
	f := &follow{b: b, group: group, since: aws.ToInt64(since), seen: map[string]int64{}, overlap: b.followOverlap}
	if f.overlap == 0 {
		f.overlap = followOverlap
	}
	for _, e := range first {
		f.newest = max(f.newest, e.ts)
		if e.id != "" {
			f.seen[e.id] = e.ts
		}
	}
	if opts.HasTail {
		// A tail leaves out older lines on purpose, and its lines carry no
		// eventId: what the follow's window holds now was either written or
		// left out, so it is marked seen; lines newer than the tail's are
		// new and written.
		if len(first) == 0 {
			f.newest = max(f.newest, time.Now().UnixMilli())
		}
		fresh, err := f.baseline(ctx, first)
		if err != nil && !isMissingGroup(err) {
			return nil, err
		}
		first = append(first, fresh...)
	}
	every := b.followPoll
	if every == 0 {
		every = followEvery
	}
	return logstream.Stream(ctx, opts, lines(first), every, f.next), nil
}

// follow is the state of a follow: the events it has written (or left out)
// within the window it reads again, by eventId.
type follow struct {
	b       *Backend
	group   string
	since   int64
	overlap time.Duration
	newest  int64            // the newest timestamp written
	seen    map[string]int64 // eventId -> timestamp, within the window
}

// start is where the next read begins: overlap before the newest line.
func (f *follow) start() int64 {
	return max(f.since, f.newest-f.overlap.Milliseconds())
}

// baseline reads the window after a tail: events the tail wrote (matched
// by stream, timestamp and message) and older ones are marked seen, newer
// ones are returned to be written.
func (f *follow) baseline(ctx context.Context, tail []event) ([]event, error) {
	evs, err := f.b.filter(ctx, f.group, aws.Int64(f.start()), nil)
	if err != nil {
		return nil, err
	}
	written := map[string]int{}
	for _, e := range tail {
		written[e.key()]++
	}
	newest := f.newest
	var fresh []event
	for _, e := range evs {
		switch {
		case written[e.key()] > 0:
			written[e.key()]--
		case e.ts > newest:
			fresh = append(fresh, e)
			f.newest = max(f.newest, e.ts)
		}
		f.seen[e.id] = e.ts
	}
	return fresh, nil
}

// next reads the window again and returns the events not yet seen; seen
// events older than the window are forgotten (no read returns them again).
func (f *follow) next(ctx context.Context) ([]logstream.Line, error) {
	evs, err := f.b.filter(ctx, f.group, aws.Int64(f.start()), nil)
	if err != nil && !isMissingGroup(err) {
		return nil, err
	}
	var fresh []event
	for _, e := range evs {
		if _, ok := f.seen[e.id]; ok && e.id != "" {
			continue
		}
		f.seen[e.id] = e.ts
		f.newest = max(f.newest, e.ts)
		fresh = append(fresh, e)
	}
	start := f.start()
	for id, ts := range f.seen {
		if ts < start {
			delete(f.seen, id)
		}
	}
	return lines(fresh), nil
}

func lines(evs []event) []logstream.Line {
	out := make([]logstream.Line, len(evs))
	for i, e := range evs {
		// No ID: the follow drops what it has seen itself, and forgets it
		// once it is out of the window.
		out[i] = logstream.Line{Time: time.UnixMilli(e.ts), Text: e.msg}
	}
	return out
}

// filter pages FilterLogEvents from since.
func (b *Backend) filter(ctx context.Context, group string, since *int64, streams []string) ([]event, error) {
	return b.filterEvents(ctx, &cwl.FilterLogEventsInput{LogGroupName: aws.String(group), StartTime: since, LogStreamNames: streams})
}

// filterPattern pages the events from since that match a filter pattern.
func (b *Backend) filterPattern(ctx context.Context, group string, since *int64, pattern string) ([]event, error) {
	return b.filterEvents(ctx, &cwl.FilterLogEventsInput{LogGroupName: aws.String(group), StartTime: since, FilterPattern: aws.String(pattern)})
}

func (b *Backend) filterEvents(ctx context.Context, in *cwl.FilterLogEventsInput) ([]event, error) {
	var out []event
	group := aws.ToString(in.LogGroupName)
	p := cwl.NewFilterLogEventsPaginator(b.logs, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return out, fmt.Errorf("cloudwatch logs FilterLogEvents %s: %w", group, err)
		}
		for _, e := range page.Events {
			out = append(out, event{ts: aws.ToInt64(e.Timestamp), id: aws.ToString(e.EventId), stream: aws.ToString(e.LogStreamName), msg: aws.ToString(e.Message)})
		}
	}
	return out, nil
}

// maxTailStreams bounds the streams a tail reads: one DescribeLogStreams
// page, newest first by lastEventTimestamp. That value is eventually
// consistent (it "typically updates in less than an hour from ingestion",
// LogStream), so it only orders the streams: none is skipped for it.
const maxTailStreams = 50

// tail reads the newest n events: each stream's newest n, read backwards
// (GetLogEvents with startFromHead false) following nextBackwardToken
// through partial and empty pages until it comes back unchanged, the end
// of the stream (GetLogEvents reference).
func (b *Backend) tail(ctx context.Context, group string, n int, since *int64) ([]event, error) {
	if n <= 0 {
		return nil, nil
	}
	streams, err := b.logs.DescribeLogStreams(ctx, &cwl.DescribeLogStreamsInput{
		LogGroupName: aws.String(group), OrderBy: cwltypes.OrderByLastEventTime, Descending: aws.Bool(true), Limit: aws.Int32(maxTailStreams),
	})
	if err != nil {
		return nil, fmt.Errorf("cloudwatch logs DescribeLogStreams %s: %w", group, err)
	}
	var out []event
	for _, st := range streams.LogStreams {
		evs, err := b.streamTail(ctx, group, aws.ToString(st.LogStreamName), n, since)
		if err != nil {
			return nil, err
		}
		out = append(out, evs...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ts < out[j].ts })
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return out, nil
}

// streamTail reads a stream's newest n events, oldest first.
func (b *Backend) streamTail(ctx context.Context, group, stream string, n int, since *int64) ([]event, error) {
	var out []event
	var token *string
	for len(out) < n {
		page, err := b.logs.GetLogEvents(ctx, &cwl.GetLogEventsInput{
			LogGroupName: aws.String(group), LogStreamName: aws.String(stream), StartTime: since,
			StartFromHead: aws.Bool(false), Limit: aws.Int32(int32(min(n, 10000))), NextToken: token,
		})
		if err != nil {
			return nil, fmt.Errorf("cloudwatch logs GetLogEvents %s: %w", group, err)
		}
		evs := make([]event, 0, len(page.Events)+len(out))
		for _, e := range page.Events {
			evs = append(evs, event{ts: aws.ToInt64(e.Timestamp), stream: stream, msg: aws.ToString(e.Message)})
		}
		out = append(evs, out...)
		next := page.NextBackwardToken
		if next == nil || token != nil && *next == *token {
			break
		}
		token = next
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return out, nil
}

func isMissingGroup(err error) bool {
	var nf *cwltypes.ResourceNotFoundException
	return errors.As(err, &nf)
}
