package provider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/log"
	"golang.org/x/time/rate"

	"github.com/faas-kubelet/faas-kubelet/pkg/metrics"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// TransientError marks a cloud error worth trying again: throttling (429),
// a server error (5xx) or no answer at all. Backends wrap such errors at
// their edge with Transient; the core's limiter retries them.
type TransientError struct {
	Err error
	// After is the wait the cloud asked for (Retry-After), zero if none.
	After time.Duration
	// Throttled says the cloud refused the call before doing anything, so
	// even a call that is not idempotent (an invocation) may be repeated.
	Throttled bool
}

func (e *TransientError) Error() string { return e.Err.Error() }

// ThrottledCall says whether the cloud throttled the call (for metrics).
func (e *TransientError) ThrottledCall() bool { return e.Throttled }
func (e *TransientError) Unwrap() error       { return e.Err }

// Transient wraps err as a TransientError (nil stays nil).
func Transient(err error, after time.Duration, throttled bool) error {
	if err == nil {
		return nil
	}
	return &TransientError{Err: err, After: after, Throttled: throttled}
}

// Limits bound what one node asks of its cloud.
type Limits struct {
	// QPS and Burst are a token bucket shared by every HTTP request to the
	// cloud (see Throttle): a Deploy may make several.
	QPS   float64
	Burst int
	// MaxConcurrent bounds the calls in flight at once.
	MaxConcurrent int
	// MaxRetries is how often a transient error is retried (0: never).
	MaxRetries int
	// BaseDelay is the first wait between attempts; it doubles up to
	// MaxDelay, with full jitter, and is never shorter than the cloud's
	// Retry-After.
	BaseDelay, MaxDelay time.Duration
}

// Limited is a Backend whose calls go through a bound on concurrency and
// retries of transient errors (the rate limit sits below, on each HTTP
// request: see Throttle). Deploy, Delete, Get, List,
// Tag and Ping are idempotent and retried on any transient error; Invoke
// runs user code, so it is retried only when the cloud throttled it before
// it ran; Logs is not retried (kubectl logs answers at once, and a follow
// polls again).
type Limited struct {
	b     Backend
	l     Limits
	slots chan struct{}
	// sleep waits, or returns ctx's error; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
}

var _ Backend = (*Limited)(nil)

// Limit wraps b with l.
func Limit(b Backend, l Limits) *Limited {
	if l.MaxConcurrent <= 0 {
		l.MaxConcurrent = 1 << 20
	}
	if l.BaseDelay <= 0 {
		l.BaseDelay = 200 * time.Millisecond
	}
	if l.MaxDelay < l.BaseDelay {
		l.MaxDelay = 30 * time.Second
	}
	return &Limited{b: b, l: l, slots: make(chan struct{}, min(l.MaxConcurrent, 1<<16)), sleep: sleepCtx}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// do runs call under the limits; retryable says which transient errors may
// be retried.
func (l *Limited) do(ctx context.Context, op string, retryable func(*TransientError) bool, call func() error) error {
	rec := metrics.FromContext(ctx)
	for attempt := 0; ; attempt++ {
		queued := time.Now()
		select {
		case l.slots <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
		start := time.Now()
		rec.SlotWait(start.Sub(queued))
		rec.InFlight(1)
		err := call()
		rec.InFlight(-1)
		rec.Operation(op, time.Since(start), err)
		<-l.slots
		var te *TransientError
		if err == nil || !errors.As(err, &te) || !retryable(te) || attempt >= l.l.MaxRetries {
			return err
		}
		wait := l.backoff(attempt, te.After)
		log.G(ctx).WithError(err).WithField("op", op).WithField("retryIn", wait.String()).Debug("transient cloud error")
		if err := l.sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// backoff is full jitter over BaseDelay·2^attempt capped at MaxDelay, and
// at least what the cloud asked for.
func (l *Limited) backoff(attempt int, after time.Duration) time.Duration {
	ceiling := l.l.MaxDelay
	if attempt < 30 {
		ceiling = min(l.l.BaseDelay<<attempt, l.l.MaxDelay)
	}
	d := time.Duration(rand.Int64N(int64(ceiling) + 1))
	return max(d, after)
}

func anyTransient(*TransientError) bool     { return true }
func throttledOnly(te *TransientError) bool { return te.Throttled }

// Cloud names the wrapped backend.
func (l *Limited) Cloud() string { return l.b.Cloud() }

// Ping checks the cloud. It is not retried: the node's health loop pings
// again.
func (l *Limited) Ping(ctx context.Context) error {
	return l.do(ctx, "Ping", func(*TransientError) bool { return false }, func() error { return l.b.Ping(ctx) })
}

// Deploy creates or adopts the function (idempotent, retried).
func (l *Limited) Deploy(ctx context.Context, fn *translate.Function) (st *translate.FunctionState, err error) {
	err = l.do(ctx, "Deploy", anyTransient, func() error { st, err = l.b.Deploy(ctx, fn); return err })
	return st, err
}

// Delete removes the function (idempotent, retried).
func (l *Limited) Delete(ctx context.Context, name string) error {
	return l.do(ctx, "Delete", anyTransient, func() error { return l.b.Delete(ctx, name) })
}

// Get reads the function (retried).
func (l *Limited) Get(ctx context.Context, name string) (st *translate.FunctionState, err error) {
	err = l.do(ctx, "Get", anyTransient, func() error { st, err = l.b.Get(ctx, name); return err })
	return st, err
}

// Logs opens the function's logs (not retried).
func (l *Limited) Logs(ctx context.Context, name string, opts translate.LogOptions) (rc io.ReadCloser, err error) {
	err = l.do(ctx, "Logs", func(*TransientError) bool { return false }, func() error { rc, err = l.b.Logs(ctx, name, opts); return err })
	return rc, err
}

// Invoke runs the function; retried only when the cloud throttled the call
// before running it.
func (l *Limited) Invoke(ctx context.Context, name string, payload []byte) (inv *translate.Invocation, err error) {
	err = l.do(ctx, "Invoke", throttledOnly, func() error { inv, err = l.b.Invoke(ctx, name, payload); return err })
	return inv, err
}

// InvokeAsync queues an invocation; retried only when throttled.
func (l *Limited) InvokeAsync(ctx context.Context, name string, payload []byte) (id string, err error) {
	err = l.do(ctx, "InvokeAsync", throttledOnly, func() error { id, err = l.b.InvokeAsync(ctx, name, payload); return err })
	return id, err
}

// HTTP sends a request to the function's endpoint; not retried (the
// request's body is read once).
func (l *Limited) HTTP(ctx context.Context, name string, req *http.Request) (resp *http.Response, err error) {
	err = l.do(ctx, "HTTP", func(*TransientError) bool { return false }, func() error { resp, err = l.b.HTTP(ctx, name, req); return err })
	return resp, err
}

// Tag merges tags (idempotent, retried).
func (l *Limited) Tag(ctx context.Context, name string, tags map[string]string) error {
	return l.do(ctx, "Tag", anyTransient, func() error { return l.b.Tag(ctx, name, tags) })
}

// List pages the node's functions (retried as a whole).
func (l *Limited) List(ctx context.Context, node string) (out []translate.FunctionState, err error) {
	err = l.do(ctx, "List", anyTransient, func() error { out, err = l.b.List(ctx, node); return err })
	return out, err
}

// Account reports the account, when the backend can; otherwise it pings.
func (l *Limited) Account(ctx context.Context) (a *translate.Account, err error) {
	r, ok := l.b.(AccountReporter)
	if !ok {
		return nil, l.Ping(ctx)
	}
	err = l.do(ctx, "Account", func(*TransientError) bool { return false }, func() error { a, err = r.Account(ctx); return err })
	return a, err
}

// AdoptListed answers from the wrapped backend's last listing, when it
// keeps one (no call, so not limited).
func (l *Limited) AdoptListed(fn *translate.Function) (*translate.FunctionState, bool) {
	a, ok := l.b.(ListingAdopter)
	if !ok {
		return nil, false
	}
	return a.AdoptListed(fn)
}

// Seal seals through the wrapped backend, when it can (retried as
// idempotent).
func (l *Limited) Seal(ctx context.Context, fn *translate.Function) error {
	s, ok := l.b.(Sealer)
	if !ok {
		return NotSupportedf("the %s backend writes no spec digest", l.b.Cloud())
	}
	return l.do(ctx, "Seal", anyTransient, func() error { return s.Seal(ctx, fn) })
}

// Usage reads the functions' usage, when the backend can (not retried: the
// next scrape reads again).
func (l *Limited) Usage(ctx context.Context, names []string, since time.Time) (out []translate.UsageSample, err error) {
	r, ok := l.b.(UsageReporter)
	if !ok {
		return nil, NotSupportedf("the %s backend reports no usage", l.b.Cloud())
	}
	err = l.do(ctx, "Usage", func(*TransientError) bool { return false }, func() error { out, err = r.Usage(ctx, names, since); return err })
	return out, err
}

// Unwrap returns the wrapped backend.
func (l *Limited) Unwrap() Backend { return l.b }

// Throttle returns a RoundTripper that waits for limiter before each request
// (on the request's context) and then sends it with base (nil:
// http.DefaultTransport). One limiter per node is shared by all of its
// clients, so a node never exceeds its cloud's quota however many calls an
// operation makes.
func Throttle(limiter *rate.Limiter, base http.RoundTripper) http.RoundTripper {
	return ThrottleIf(limiter, base, nil)
}

// ThrottleIf is Throttle for the requests that counts says count against the
// cloud's quota (nil: all of them); the others are sent at once.
func ThrottleIf(limiter *rate.Limiter, base http.RoundTripper, counts func(*http.Request) bool) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &throttled{limiter: limiter, base: base, counts: counts}
}

// NewLimiter is the token bucket of l (QPS <= 0: unlimited).
func NewLimiter(l Limits) *rate.Limiter {
	if l.QPS <= 0 {
		return rate.NewLimiter(rate.Inf, 1)
	}
	return rate.NewLimiter(rate.Limit(l.QPS), max(l.Burst, 1))
}

type throttled struct {
	limiter *rate.Limiter
	base    http.RoundTripper
	counts  func(*http.Request) bool
}

func (t *throttled) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := metrics.FromContext(req.Context())
	if t.counts == nil || t.counts(req) {
		start := time.Now()
		if err := t.limiter.Wait(req.Context()); err != nil {
			return nil, fmt.Errorf("waiting for the client-side rate limit: %w", err)
		}
		rec.LimiterWait(time.Since(start))
	}
	resp, err := t.base.RoundTrip(req)
	rec.Request(resp)
	return resp, err
}
