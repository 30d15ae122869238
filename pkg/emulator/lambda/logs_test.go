package lambda

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	cwltypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
)

const group = "/aws/lambda/fk-logs"

// An event written with an ingestion delay is invisible until the delay
// has passed, then read with its original timestamp; DescribeLogStreams'
// lastEventTimestamp lags further (LogStream reference: "updates on an
// eventual consistency basis").
func TestLogsIngestionDelayAndStaleStreamStats(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)}
	s, _, logs := start(t, Options{Now: c.Now, Logs: LogsBehaviour{IngestionDelayMs: 500, StreamStatsDelayMs: 60000}})
	ctx := context.Background()
	written := c.Now().Add(-3 * time.Second)
	s.PutLogEvents(group, "a", written, "late line")
	filter := func() []cwltypes.FilteredLogEvent {
		out, err := logs.FilterLogEvents(ctx, &cwl.FilterLogEventsInput{LogGroupName: aws.String(group)})
		if err != nil {
			t.Fatal(err)
		}
		return out.Events
	}
	if evs := filter(); len(evs) != 0 {
		t.Fatalf("visible before the ingestion delay: %+v", evs)
	}
	c.Advance(500 * time.Millisecond)
	evs := filter()
	if len(evs) != 1 || aws.ToInt64(evs[0].Timestamp) != written.UnixMilli() || aws.ToString(evs[0].EventId) == "" {
		t.Fatalf("after the delay: %+v", evs)
	}
	st, err := logs.DescribeLogStreams(ctx, &cwl.DescribeLogStreamsInput{LogGroupName: aws.String(group)})
	if err != nil || len(st.LogStreams) != 1 || st.LogStreams[0].LastEventTimestamp != nil {
		t.Fatalf("lastEventTimestamp before the stats delay: %+v %v", st, err)
	}
	c.Advance(time.Minute)
	st, _ = logs.DescribeLogStreams(ctx, &cwl.DescribeLogStreamsInput{LogGroupName: aws.String(group)})
	if aws.ToInt64(st.LogStreams[0].LastEventTimestamp) != written.UnixMilli() {
		t.Errorf("lastEventTimestamp after the stats delay: %+v", st.LogStreams[0])
	}
}

// GetLogEvents pages "might only be partially full, or even empty" and
// the end is the token passed in coming back (GetLogEvents reference):
// with a page cap of 2 and 2 empty pages, reading 5 events backwards takes
// empty pages, then pages of 2, 2 and 1, then the repeated token.
func TestGetLogEventsPartialAndEmptyPagesEndOnARepeatedToken(t *testing.T) {
	s, _, logs := start(t, Options{Logs: LogsBehaviour{PageSize: 2, EmptyPages: 2}})
	ctx := context.Background()
	t0 := time.Now()
	for i := range 5 {
		s.PutLogEvents(group, "a", t0.Add(time.Duration(i)*time.Millisecond), string(rune('a'+i)))
	}
	var sizes []int
	var got string
	var token *string
	for range 20 {
		out, err := logs.GetLogEvents(ctx, &cwl.GetLogEventsInput{LogGroupName: aws.String(group), LogStreamName: aws.String("a"),
			StartFromHead: aws.Bool(false), NextToken: token, Limit: aws.Int32(100)})
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(out.Events))
		page := ""
		for _, e := range out.Events {
			page += aws.ToString(e.Message)
		}
		got = page + got
		if token != nil && aws.ToString(out.NextBackwardToken) == *token {
			break
		}
		token = out.NextBackwardToken
	}
	if got != "a\nb\nc\nd\ne\n" || len(sizes) != 6 || sizes[0] != 0 || sizes[1] != 0 || sizes[2] != 2 || sizes[5] != 0 {
		t.Errorf("pages %v read %q", sizes, got)
	}
	// FilterLogEvents pages the same way and ends without a nextToken.
	p := cwl.NewFilterLogEventsPaginator(logs, &cwl.FilterLogEventsInput{LogGroupName: aws.String(group)})
	n, pages := 0, 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		n += len(out.Events)
	}
	if n != 5 || pages != 5 {
		t.Errorf("FilterLogEvents: %d events in %d pages, want 5 in 5", n, pages)
	}
}
