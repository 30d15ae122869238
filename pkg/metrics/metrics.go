// Package metrics holds faas-kubelet's Prometheus metrics. Each node's
// recorder travels in the context, as the logger does, so that the core,
// the cloud limiter and the HTTP transport record with the node's labels
// without knowing about each other; a context without one records nothing.
package metrics

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
)

const namespace = "faas_kubelet"

// Metrics is one process's registry and metric families.
type Metrics struct {
	reg *prometheus.Registry

	operations   *prometheus.CounterVec
	opDuration   *prometheus.HistogramVec
	requests     *prometheus.CounterVec
	limiterWait  *prometheus.HistogramVec
	slotWait     *prometheus.HistogramVec
	inFlight     *prometheus.GaugeVec
	checkLag     *prometheus.HistogramVec
	nodeStatuses *prometheus.GaugeVec
	adopted      *prometheus.CounterVec

	mu    sync.Mutex
	nodes map[string]*Node
}

// New registers faas-kubelet's metrics and Go's runtime and process
// collectors in a registry of their own.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), nodes: map[string]*Node{}}
	node := []string{"node", "cloud"}
	m.operations = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "cloud_operations_total",
		Help: "Cloud operations (each attempt: deploy, delete, get, list, invoke, logs, tag, ping) by result: ok, not_found, invalid, throttled, transient, canceled, error."},
		append(node, "operation", "result"))
	m.opDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "cloud_operation_duration_seconds",
		Help: "Time each cloud operation attempt took, waits for the rate limit included.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 14)},
		append(node, "operation"))
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "cloud_http_requests_total",
		Help: "HTTP requests to the cloud's APIs by response code (\"error\": no response)."}, append(node, "code"))
	m.limiterWait = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "rate_limiter_wait_seconds",
		Help: "Time HTTP requests to the cloud waited for the node's rate limit (limits.qps).", Buckets: prometheus.ExponentialBuckets(0.001, 4, 10)}, node)
	m.slotWait = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "operation_queue_wait_seconds",
		Help: "Time cloud operations waited for a slot (limits.maxConcurrent).", Buckets: prometheus.ExponentialBuckets(0.001, 4, 10)}, node)
	m.inFlight = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: "cloud_operations_in_flight",
		Help: "Cloud operations running now."}, node)
	m.checkLag = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Name: "status_check_lag_seconds",
		Help: "How late the status tracker read a pending function's state after the check was due.", Buckets: prometheus.ExponentialBuckets(0.01, 4, 8)}, node)
	m.nodeStatuses = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Name: "node_ready",
		Help: "1 while the node's cloud answers its health ping (condition CloudReachable True), else 0."}, node)
	m.adopted = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Name: "functions_adopted_from_listing_total",
		Help: "Functions a start adopted from the cloud's listing, with no call of their own (the others are deployed, which finds an existing function)."}, node)
	m.reg.MustRegister(m.operations, m.opDuration, m.requests, m.limiterWait, m.slotWait, m.inFlight, m.checkLag, m.nodeStatuses, m.adopted,
		&podCollector{m: m}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Registry is where the metrics are registered (tests gather from it).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Node returns the recorder of one virtual node (nil for a nil m).
func (m *Metrics) Node(name, cloud string) *Node {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if n, ok := m.nodes[name]; ok {
		return n
	}
	n := &Node{m: m, name: name, cloud: cloud}
	m.nodes[name] = n
	return n
}

// Node records one virtual node's metrics. A nil *Node records nothing.
type Node struct {
	m           *Metrics
	name, cloud string

	mu       sync.Mutex
	pods     func() map[string]int
	awaiting func() int
}

type nodeKey struct{}

// WithNode returns ctx carrying n.
func WithNode(ctx context.Context, n *Node) context.Context {
	return context.WithValue(ctx, nodeKey{}, n)
}

// FromContext returns the node recorder ctx carries, or nil.
func FromContext(ctx context.Context) *Node {
	n, _ := ctx.Value(nodeKey{}).(*Node)
	return n
}

// Operation records one attempt of a cloud operation.
func (n *Node) Operation(op string, took time.Duration, err error) {
	if n == nil {
		return
	}
	n.m.operations.WithLabelValues(n.name, n.cloud, op, Result(err)).Inc()
	n.m.opDuration.WithLabelValues(n.name, n.cloud, op).Observe(took.Seconds())
}

// Request records one HTTP request to the cloud: its status code, or no
// response (resp nil).
func (n *Node) Request(resp *http.Response) {
	if n == nil {
		return
	}
	code := "error"
	if resp != nil {
		code = strconv.Itoa(resp.StatusCode)
	}
	n.m.requests.WithLabelValues(n.name, n.cloud, code).Inc()
}

// LimiterWait records how long a request waited for the rate limit.
func (n *Node) LimiterWait(d time.Duration) {
	if n != nil {
		n.m.limiterWait.WithLabelValues(n.name, n.cloud).Observe(d.Seconds())
	}
}

// SlotWait records how long an operation waited for a slot.
func (n *Node) SlotWait(d time.Duration) {
	if n != nil {
		n.m.slotWait.WithLabelValues(n.name, n.cloud).Observe(d.Seconds())
	}
}

// InFlight moves the count of operations running by delta.
func (n *Node) InFlight(delta int) {
	if n != nil {
		n.m.inFlight.WithLabelValues(n.name, n.cloud).Add(float64(delta))
	}
}

// CheckLag records how late a due status check ran.
func (n *Node) CheckLag(d time.Duration) {
	if n != nil {
		n.m.checkLag.WithLabelValues(n.name, n.cloud).Observe(d.Seconds())
	}
}

// AdoptedFromListing records a function adopted from the cloud's listing.
func (n *Node) AdoptedFromListing() {
	if n != nil {
		n.m.adopted.WithLabelValues(n.name, n.cloud).Inc()
	}
}

// Ready records whether the node's cloud answers its health ping.
func (n *Node) Ready(ready bool) {
	if n == nil {
		return
	}
	v := 0.0
	if ready {
		v = 1
	}
	n.m.nodeStatuses.WithLabelValues(n.name, n.cloud).Set(v)
}

// CountPods sets the function that counts the node's pods by phase (read
// at each scrape).
func (n *Node) CountPods(f func() map[string]int) {
	if n == nil {
		return
	}
	n.mu.Lock()
	n.pods = f
	n.mu.Unlock()
}

// Result classifies an operation's outcome for the result label.
func Result(err error) string {
	var tr transient
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return "canceled"
	case errdefs.IsNotFound(err):
		return "not_found"
	case errdefs.IsInvalidInput(err):
		return "invalid"
	case errors.As(err, &tr) && tr.ThrottledCall():
		return "throttled"
	case errors.As(err, &tr):
		return "transient"
	}
	return "error"
}

// transient is what provider.TransientError looks like from here (the
// provider package imports this one, not the other way round).
type transient interface {
	error
	ThrottledCall() bool
}

// CountAwaiting sets the function that counts the pods whose function is
// not ready yet, which the status tracker reads until it is (its queue).
func (n *Node) CountAwaiting(f func() int) {
	if n == nil {
		return
	}
	n.mu.Lock()
	n.awaiting = f
	n.mu.Unlock()
}

var awaitingDesc = prometheus.NewDesc(namespace+"_status_checks_queued", "Pods whose function is not ready yet, which the status tracker reads until it is.", []string{"node", "cloud"}, nil)

var podsDesc = prometheus.NewDesc(namespace+"_pods", "Pods each virtual node runs as functions, by phase.", []string{"node", "cloud", "phase"}, nil)

// podCollector reads each node's pod counts at scrape time.
type podCollector struct{ m *Metrics }

func (c *podCollector) Describe(ch chan<- *prometheus.Desc) { ch <- podsDesc; ch <- awaitingDesc }

func (c *podCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.mu.Lock()
	nodes := make([]*Node, 0, len(c.m.nodes))
	for _, n := range c.m.nodes {
		nodes = append(nodes, n)
	}
	c.m.mu.Unlock()
	for _, n := range nodes {
		n.mu.Lock()
		f, awaiting := n.pods, n.awaiting
		n.mu.Unlock()
		if awaiting != nil {
			ch <- prometheus.MustNewConstMetric(awaitingDesc, prometheus.GaugeValue, float64(awaiting()), n.name, n.cloud)
		}
		if f == nil {
			continue
		}
		for phase, count := range f() {
			ch <- prometheus.MustNewConstMetric(podsDesc, prometheus.GaugeValue, float64(count), n.name, n.cloud, phase)
		}
	}
}

// Inject returns a RoundTripper that gives requests whose context carries
// no recorder n's, for SDKs that build requests without the caller's
// context. A nil n returns rt.
func Inject(n *Node, rt http.RoundTripper) http.RoundTripper {
	if n == nil {
		return rt
	}
	return injector{n: n, rt: rt}
}

type injector struct {
	n  *Node
	rt http.RoundTripper
}

func (i injector) RoundTrip(req *http.Request) (*http.Response, error) {
	if FromContext(req.Context()) == nil {
		req = req.WithContext(WithNode(req.Context(), i.n))
	}
	return i.rt.RoundTrip(req)
}
