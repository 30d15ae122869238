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

type event struct {
	ts  int64
	id  string
	msg string
}

// Logs reads the function's log group (its LoggingConfig, else
// /aws/lambda/<name>): a tail reads the newest streams backwards instead of
// the whole group; since, timestamps and limit-bytes are applied as the
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
	last := aws.ToInt64(since)
	for _, e := range first {
		last = max(last, e.ts)
	}
	// A follow reads from the last timestamp written, inclusive, and drops
	// events it already wrote by their eventId. Lines read by a tail carry no
	// eventId, so until the follow has read something itself it starts just
	// after them.
	exclusive := opts.HasTail && len(first) > 0
	next := func(ctx context.Context) ([]logstream.Line, error) {
		start := last
		if exclusive {
			start++
		}
		evs, err := b.filter(ctx, group, aws.Int64(start), nil)
		if err != nil && !isMissingGroup(err) {
			return nil, err
		}
		for _, e := range evs {
			last = max(last, e.ts)
			exclusive = false
		}
		return lines(evs), nil
	}
	return logstream.Stream(ctx, opts, lines(first), followEvery, next), nil
}

func lines(evs []event) []logstream.Line {
	out := make([]logstream.Line, len(evs))
	for i, e := range evs {
		out[i] = logstream.Line{Time: time.UnixMilli(e.ts), Text: e.msg, ID: e.id}
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
			out = append(out, event{ts: aws.ToInt64(e.Timestamp), id: aws.ToString(e.EventId), msg: aws.ToString(e.Message)})
		}
	}
	return out, nil
}

// tail reads the newest n events: the streams with the latest events first,
// each backwards, stopping once no older stream can add to the newest n.
func (b *Backend) tail(ctx context.Context, group string, n int, since *int64) ([]event, error) {
	streams, err := b.logs.DescribeLogStreams(ctx, &cwl.DescribeLogStreamsInput{
		LogGroupName: aws.String(group), OrderBy: cwltypes.OrderByLastEventTime, Descending: aws.Bool(true), Limit: aws.Int32(50),
	})
	if err != nil {
		return nil, fmt.Errorf("cloudwatch logs DescribeLogStreams %s: %w", group, err)
	}
	var out []event
	for _, st := range streams.LogStreams {
		if len(out) >= n {
			sort.Slice(out, func(i, j int) bool { return out[i].ts > out[j].ts })
			if aws.ToInt64(st.LastEventTimestamp) < out[n-1].ts {
				break
			}
		}
		page, err := b.logs.GetLogEvents(ctx, &cwl.GetLogEventsInput{
			LogGroupName: aws.String(group), LogStreamName: st.LogStreamName, StartTime: since,
			StartFromHead: aws.Bool(false), Limit: aws.Int32(int32(min(n, 10000))),
		})
		if err != nil {
			return nil, fmt.Errorf("cloudwatch logs GetLogEvents %s: %w", group, err)
		}
		for i, e := range page.Events {
			out = append(out, event{ts: aws.ToInt64(e.Timestamp), id: fmt.Sprintf("%s/%d/%d", aws.ToString(st.LogStreamName), aws.ToInt64(e.Timestamp), i), msg: aws.ToString(e.Message)})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ts < out[j].ts })
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return out, nil
}

func isMissingGroup(err error) bool {
	var nf *cwltypes.ResourceNotFoundException
	return errors.As(err, &nf)
}
