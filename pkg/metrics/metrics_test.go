package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
)

type throttledErr struct{ throttled bool }

func (e throttledErr) Error() string       { return "slow down" }
func (e throttledErr) ThrottledCall() bool { return e.throttled }

func TestResultClassifiesErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, "ok"},
		{errdefs.NotFound("gone"), "not_found"},
		{errdefs.InvalidInput("bad"), "invalid"},
		{fmt.Errorf("create: %w", throttledErr{true}), "throttled"},
		{throttledErr{false}, "transient"},
		{fmt.Errorf("wait: %w", context.Canceled), "canceled"},
		{errors.New("boom"), "error"},
	} {
		if got := Result(tc.err); got != tc.want {
			t.Errorf("Result(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
}

// What a scrape shows after a node recorded its work.
func TestScrapeShowsEachNodesFigures(t *testing.T) {
	m := New()
	n := m.Node("vk-a", "aws-lambda")
	ctx := WithNode(context.Background(), n)
	FromContext(ctx).Operation("Deploy", 120*time.Millisecond, nil)
	FromContext(ctx).Operation("Deploy", 10*time.Millisecond, throttledErr{true})
	FromContext(ctx).Request(&http.Response{StatusCode: 429})
	FromContext(ctx).Request(nil)
	FromContext(ctx).LimiterWait(50 * time.Millisecond)
	FromContext(ctx).Ready(true)
	n.CountPods(func() map[string]int { return map[string]int{"Running": 3, "Pending": 1} })
	n.CountAwaiting(func() int { return 1 })
	// A context without a recorder records nothing, and does not panic.
	FromContext(context.Background()).Operation("Deploy", time.Second, nil)

	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	for _, want := range []string{
		`faas_kubelet_cloud_operations_total{cloud="aws-lambda",node="vk-a",operation="Deploy",result="ok"} 1`,
		`faas_kubelet_cloud_operations_total{cloud="aws-lambda",node="vk-a",operation="Deploy",result="throttled"} 1`,
		`faas_kubelet_cloud_operation_duration_seconds_count{cloud="aws-lambda",node="vk-a",operation="Deploy"} 2`,
		`faas_kubelet_cloud_http_requests_total{cloud="aws-lambda",code="429",node="vk-a"} 1`,
		`faas_kubelet_cloud_http_requests_total{cloud="aws-lambda",code="error",node="vk-a"} 1`,
		`faas_kubelet_rate_limiter_wait_seconds_count{cloud="aws-lambda",node="vk-a"} 1`,
		`faas_kubelet_node_ready{cloud="aws-lambda",node="vk-a"} 1`,
		`faas_kubelet_pods{cloud="aws-lambda",node="vk-a",phase="Running"} 3`,
		`faas_kubelet_pods{cloud="aws-lambda",node="vk-a",phase="Pending"} 1`,
		`faas_kubelet_status_checks_queued{cloud="aws-lambda",node="vk-a"} 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
}

// Inject gives requests built without the caller's context the node's
// recorder, and keeps one a request already carries.
func TestInjectRecordsRequestsWithoutContext(t *testing.T) {
	m := New()
	a, b := m.Node("a", "alibaba-fc"), m.Node("b", "alibaba-fc")
	var seen []*Node
	rt := Inject(a, roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		seen = append(seen, FromContext(r.Context()))
		return &http.Response{StatusCode: 200, Body: http.NoBody}, nil
	}))
	req, _ := http.NewRequest(http.MethodGet, "http://fc.invalid/", nil)
	_, _ = rt.RoundTrip(req)
	_, _ = rt.RoundTrip(req.WithContext(WithNode(context.Background(), b)))
	if len(seen) != 2 || seen[0] != a || seen[1] != b {
		t.Errorf("recorders seen = %v, want a then b", seen)
	}
	if Inject(nil, http.DefaultTransport) != http.DefaultTransport {
		t.Error("Inject(nil) wrapped the transport")
	}
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
