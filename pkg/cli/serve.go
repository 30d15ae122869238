package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/log"
	"k8s.io/client-go/tools/leaderelection"

	"github.com/faas-kubelet/faas-kubelet/pkg/metrics"
)

// probes answers /healthz and /readyz.
//
// /healthz fails only when the process should be restarted: a leader that
// could not renew its Lease for 20 s past its deadline.
// /readyz succeeds once every node this replica runs has registered and its
// controllers run, or while the replica stands by for the Lease (a standby
// is ready to take over; failing it would stall a rolling update).
type probes struct {
	mu       sync.Mutex
	standby  bool
	nodes    map[string]bool // node → running
	watchdog *leaderelection.HealthzAdaptor
}

func newProbes() *probes { return &probes{nodes: map[string]bool{}} }

func (p *probes) setStandby(standby bool) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.standby = standby
	p.mu.Unlock()
}

// nodeStarting records a node this replica runs, not ready yet.
func (p *probes) nodeStarting(name string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.nodes[name] = false
	p.mu.Unlock()
}

// nodeStopped forgets a node this replica no longer runs.
func (p *probes) nodeStopped(name string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	delete(p.nodes, name)
	p.mu.Unlock()
}

// nodeReady records that a node's controllers run.
func (p *probes) nodeReady(name string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.nodes[name] = true
	p.mu.Unlock()
}

func (p *probes) watchdogOrNil() *leaderelection.HealthzAdaptor {
	if p == nil {
		return nil
	}
	return p.watchdog
}

func (p *probes) healthz(w http.ResponseWriter, r *http.Request) {
	if p.watchdog != nil {
		if err := p.watchdog.Check(r); err != nil {
			http.Error(w, "leader election: "+err.Error(), http.StatusInternalServerError)
			return
		}
	}
	fmt.Fprintln(w, "ok")
}

func (p *probes) readyz(w http.ResponseWriter, _ *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.standby {
		fmt.Fprintln(w, "ok: standing by for the leader election Lease")
		return
	}
	if len(p.nodes) == 0 {
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return
	}
	var waiting []string
	for name, ready := range p.nodes {
		if !ready {
			waiting = append(waiting, name)
		}
	}
	if len(waiting) > 0 {
		slices.Sort(waiting)
		http.Error(w, "nodes not running yet: "+strings.Join(waiting, ", "), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

// serveMetrics serves /metrics, /healthz and /readyz on addr until ctx
// ends. They show no secret and take no input.
func serveMetrics(ctx context.Context, addr string, m *metrics.Metrics, p *probes) (net.Addr, error) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	mux.HandleFunc("GET /healthz", p.healthz)
	mux.HandleFunc("GET /readyz", p.readyz)
	return serveHTTP(ctx, addr, mux, "/metrics, /healthz and /readyz")
}

// serveHTTP serves h on addr until ctx ends, and logs where; what names
// the endpoints in the logs.
func serveHTTP(ctx context.Context, addr string, h http.Handler, what string) (net.Addr, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.G(ctx).WithError(err).Warn("server of " + what + " stopped")
		}
	}()
	log.G(ctx).WithField("address", l.Addr().String()).Info("serving " + what)
	return l.Addr(), nil
}
