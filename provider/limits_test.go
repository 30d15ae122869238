package provider

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/errdefs"

	"github.com/faas-kubelet/faas-kubelet/pkg/metrics"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// flaky fails the first n calls of each operation with err.
type flaky struct {
	fakeBackend
	n     int
	err   error
	calls atomic.Int32
}

func (f *flaky) Deploy(ctx context.Context, fn *translate.Function) (*translate.FunctionState, error) {
	if int(f.calls.Add(1)) <= f.n {
		return nil, f.err
	}
	return f.fakeBackend.Deploy(ctx, fn)
}

func (f *flaky) Invoke(ctx context.Context, name string, payload []byte) (*translate.Invocation, error) {
	if int(f.calls.Add(1)) <= f.n {
		return nil, f.err
	}
	return &translate.Invocation{Output: payload}, nil
}

func recordSleeps(l *Limited) *[]time.Duration {
	var waits []time.Duration
	l.sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	return &waits
}

func TestLimitedRetriesTransientErrorsHonouringRetryAfter(t *testing.T) {
	b := &flaky{n: 2, err: Transient(errors.New("throttled"), 3*time.Second, true)}
	l := Limit(b, Limits{MaxRetries: 5})
	waits := recordSleeps(l)
	if _, err := l.Deploy(context.Background(), &translate.Function{Name: "fn"}); err != nil {
		t.Fatal(err)
	}
	if n := b.calls.Load(); n != 3 {
		t.Errorf("%d calls, want 3", n)
	}
	if len(*waits) != 2 || (*waits)[0] < 3*time.Second || (*waits)[1] < 3*time.Second {
		t.Errorf("waits %v: each must honour Retry-After (3s)", *waits)
	}
}

func TestLimitedBacksOffWithJitterAndGivesUp(t *testing.T) {
	b := &flaky{n: 100, err: Transient(errors.New("HTTP 503"), 0, false)}
	l := Limit(b, Limits{MaxRetries: 4, BaseDelay: 100 * time.Millisecond, MaxDelay: 250 * time.Millisecond})
	waits := recordSleeps(l)
	_, err := l.Deploy(context.Background(), &translate.Function{Name: "fn"})
	var te *TransientError
	if !errors.As(err, &te) {
		t.Fatalf("the last transient error must come back: %v", err)
	}
	if n := b.calls.Load(); n != 5 {
		t.Errorf("%d calls, want 1 + 4 retries", n)
	}
	for i, w := range *waits {
		ceiling := min(100*time.Millisecond<<i, 250*time.Millisecond)
		if w < 0 || w > ceiling {
			t.Errorf("wait %d = %v, want within [0, %v]", i, w, ceiling)
		}
	}
}

func TestLimitedDoesNotRetryPermanentErrorsOrUnthrottledInvocations(t *testing.T) {
	for name, tc := range map[string]struct {
		err    error
		invoke bool
		calls  int32
	}{
		"invalid input":                  {errdefs.InvalidInput("bad"), false, 1},
		"not found":                      {errdefs.NotFound("gone"), false, 1},
		"plain error":                    {errors.New("HTTP 409"), false, 1},
		"invoke 5xx (may have run)":      {Transient(errors.New("HTTP 502"), 0, false), true, 1},
		"invoke throttled (did not run)": {Transient(errors.New("HTTP 429"), 0, true), true, 2},
	} {
		t.Run(name, func(t *testing.T) {
			b := &flaky{n: 1, err: tc.err}
			l := Limit(b, Limits{MaxRetries: 3})
			recordSleeps(l)
			if tc.invoke {
				_, _ = l.Invoke(context.Background(), "fn", nil)
			} else {
				_, _ = l.Deploy(context.Background(), &translate.Function{Name: "fn"})
			}
			if n := b.calls.Load(); n != tc.calls {
				t.Errorf("%d calls, want %d", n, tc.calls)
			}
		})
	}
}

// blocking holds every Deploy until released, counting how many run at once.
type blocking struct {
	fakeBackend
	release        chan struct{}
	inFlight, most atomic.Int32
}

func (b *blocking) Deploy(ctx context.Context, fn *translate.Function) (*translate.FunctionState, error) {
	n := b.inFlight.Add(1)
	for {
		m := b.most.Load()
		if n <= m || b.most.CompareAndSwap(m, n) {
			break
		}
	}
	<-b.release
	b.inFlight.Add(-1)
	return &translate.FunctionState{Name: fn.Name, Phase: translate.PhaseActive}, nil
}

func TestLimitedBoundsOperationsInFlight(t *testing.T) {
	b := &blocking{release: make(chan struct{})}
	l := Limit(b, Limits{MaxConcurrent: 3})
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); _, _ = l.Deploy(context.Background(), &translate.Function{Name: "fn"}) }()
	}
	time.Sleep(100 * time.Millisecond)
	close(b.release)
	wg.Wait()
	if m := b.most.Load(); m != 3 {
		t.Errorf("%d operations ran at once, want the bound of 3", m)
	}
}

func TestThrottleSpacesRequests(t *testing.T) {
	var n atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { n.Add(1) }))
	defer ts.Close()
	c := &http.Client{Transport: Throttle(NewLimiter(Limits{QPS: 20, Burst: 1}), nil)}
	start := time.Now()
	for i := 0; i < 5; i++ {
		resp, err := c.Get(ts.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	// 5 requests at 20/s with a burst of 1 take at least 4 intervals of 50 ms.
	if took := time.Since(start); took < 190*time.Millisecond || n.Load() != 5 {
		t.Errorf("5 requests took %v (%d served), want >= 200ms at 20 QPS", took, n.Load())
	}
}

// Each attempt is recorded with the node's labels: what an operator sees of
// a throttled create that succeeded on its third try.
func TestLimitedRecordsEachAttempt(t *testing.T) {
	m := metrics.New()
	ctx := metrics.WithNode(context.Background(), m.Node("vk", "aws-lambda"))
	b := &flaky{n: 2, err: Transient(errors.New("throttled"), 0, true)}
	l := Limit(b, Limits{MaxRetries: 5})
	recordSleeps(l)
	if _, err := l.Deploy(ctx, &translate.Function{Name: "fn"}); err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "faas_kubelet_cloud_operations_total" {
			continue
		}
		for _, s := range f.GetMetric() {
			labels := map[string]string{}
			for _, lp := range s.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			got[labels["operation"]+"/"+labels["result"]] = s.GetCounter().GetValue()
		}
	}
	if got["Deploy/throttled"] != 2 || got["Deploy/ok"] != 1 || len(got) != 2 {
		t.Errorf("cloud_operations_total = %v, want Deploy throttled 2, ok 1", got)
	}
}
