package lambda

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	cwltypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	sdk "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/virtual-kubelet/virtual-kubelet/log"

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
	pr, pw := io.Pipe()
	go func() {
		w := &limitWriter{w: pw, left: opts.LimitBytes}
		seen := map[string]bool{}
		var last int64
		if since != nil {
			last = *since
		}
		write := func(evs []event) error {
			for _, e := range evs {
				if seen[e.id] {
					continue
				}
				seen[e.id] = true
				last = max(last, e.ts)
				line := e.msg
				if !strings.HasSuffix(line, "\n") {
					line += "\n"
				}
				if opts.Timestamps {
					line = time.UnixMilli(e.ts).UTC().Format(time.RFC3339Nano) + " " + line
				}
				if _, err := io.WriteString(w, line); err != nil {
					return err
				}
			}
			return nil
		}
		if err := write(first); err != nil || !opts.Follow {
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
			evs, err := b.filter(ctx, group, aws.Int64(last), nil)
			if err != nil && !isMissingGroup(err) {
				if ctx.Err() == nil {
					log.G(ctx).WithError(err).Warn("following logs")
				}
				continue
			}
			if err := write(evs); err != nil {
				pw.CloseWithError(ignoreLimit(err))
				return
			}
		}
	}()
	return pr, nil
}

// filter pages FilterLogEvents from since.
func (b *Backend) filter(ctx context.Context, group string, since *int64, streams []string) ([]event, error) {
	var out []event
	p := cwl.NewFilterLogEventsPaginator(b.logs, &cwl.FilterLogEventsInput{LogGroupName: aws.String(group), StartTime: since, LogStreamNames: streams})
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

var errLimit = errors.New("limit reached")

// limitWriter stops after left bytes (0: no limit), cutting the last write.
type limitWriter struct {
	w    io.Writer
	left int
	used bool
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.left == 0 && !l.used {
		return l.w.Write(p)
	}
	l.used = true
	if l.left <= 0 {
		return 0, errLimit
	}
	if len(p) > l.left {
		n, err := l.w.Write(p[:l.left])
		l.left = 0
		if err != nil {
			return n, err
		}
		return n, errLimit
	}
	n, err := l.w.Write(p)
	l.left -= n
	return n, err
}

func ignoreLimit(err error) error {
	if errors.Is(err, errLimit) {
		return nil
	}
	return err
}
