package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/log"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	corev1listers "k8s.io/client-go/listers/core/v1"

	"github.com/faas-kubelet/faas-kubelet/provider"
)

// The Service gateway. A Running function pod reports the node's address
// as its IP, so the endpoints of a Service that selects it are
// <node address>:<container port>, and kube-proxy (or an Ingress
// controller) sends the Service's traffic there. The gateway listens on
// every TCP port that Running pods of the node declare and sends each HTTP
// request to one of the Ready pods that declare the port, round robin:
// among the pods of the Service the Host header names ("web",
// "web.shop", "web.shop.svc", "web.shop.svc.cluster.local"), else among
// all of them. The response carries the pod that served it in
// X-Faas-Kubelet-Pod.

// gateway serves the ports of the pods of every node of the process that
// has its address (nodes sharing an address share its ports).
type gateway struct {
	address string
	// services is the Services lister used when no node gave one.
	services corev1listers.ServiceLister

	mu        sync.Mutex
	cores     map[*provider.Provider]int32                       // each node's core, and its kubelet port
	listers   map[*provider.Provider]corev1listers.ServiceLister // each node's Services cache
	running   bool
	listeners map[int32]*http.Server
	warned    map[int32]bool // ports that could not be served (logged once; binding is tried again)
	next      sync.Map       // round-robin counter per route
}

var (
	gatewaysMu sync.Mutex
	gateways   = map[string]*gateway{}
)

// gatewayFor returns the gateway of an address, made on first use.
func gatewayFor(address string) *gateway {
	gatewaysMu.Lock()
	defer gatewaysMu.Unlock()
	g := gateways[address]
	if g == nil {
		g = &gateway{address: address, cores: map[*provider.Provider]int32{}, listers: map[*provider.Provider]corev1listers.ServiceLister{},
			listeners: map[int32]*http.Server{}, warned: map[int32]bool{}}
		gateways[address] = g
	}
	return g
}

// serve adds a node's core (and its Services cache, for routing by Host)
// to the gateway, starting the gateway with the first node, until ctx ends.
func (g *gateway) serve(ctx context.Context, kubeletPort int32, core *provider.Provider, services corev1listers.ServiceLister) {
	gatewaysMu.Lock()
	g.mu.Lock()
	first := len(g.cores) == 0 && !g.running
	g.cores[core] = kubeletPort
	g.listers[core] = services
	g.running = true
	g.mu.Unlock()
	gatewaysMu.Unlock()
	if first {
		go g.run(context.WithoutCancel(ctx), time.Second)
	}
	<-ctx.Done()
	gatewaysMu.Lock()
	g.mu.Lock()
	delete(g.cores, core)
	delete(g.listers, core)
	g.mu.Unlock()
	gatewaysMu.Unlock()
}

// ensure opens listeners for ports at once (a pod about to be reported
// Running declares them): its Service's traffic may follow within
// milliseconds. The periodic sync closes what is no longer declared.
func (g *gateway) ensure(ctx context.Context, ports []int32) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, port := range ports {
		g.listenLocked(ctx, port)
	}
}

// run follows the ports Running pods declare until no node is left.
func (g *gateway) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for range t.C {
		gatewaysMu.Lock()
		g.mu.Lock()
		done := len(g.cores) == 0
		if done {
			delete(gateways, g.address)
			g.running = false
		}
		g.mu.Unlock()
		gatewaysMu.Unlock()
		if done {
			g.sync(ctx, nil)
			return
		}
		var ports []int32
		for _, core := range g.coreList() {
			ports = append(ports, core.ServedPorts()...)
		}
		g.sync(ctx, ports)
	}
}

func (g *gateway) coreList() []*provider.Provider {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]*provider.Provider, 0, len(g.cores))
	for c := range g.cores {
		out = append(out, c)
	}
	return out
}

// reserved says whether port is a node's own (its kubelet API).
func (g *gateway) reservedLocked(port int32) bool {
	for _, p := range g.cores {
		if p == port {
			return true
		}
	}
	return false
}

// sync opens a listener for each wanted port and closes the others.
func (g *gateway) sync(ctx context.Context, ports []int32) {
	g.mu.Lock()
	defer g.mu.Unlock()
	want := map[int32]bool{}
	for _, port := range ports {
		if g.reservedLocked(port) {
			if !g.warned[port] {
				log.G(ctx).WithField("port", port).Warn("gateway: a pod declares a port the node itself serves; it is not forwarded")
				g.warned[port] = true
			}
			continue
		}
		want[port] = true
		g.listenLocked(ctx, port)
	}
	for port, srv := range g.listeners {
		if !want[port] {
			_ = srv.Close()
			delete(g.listeners, port)
		}
	}
	for port := range g.warned {
		if !want[port] && !g.reservedLocked(port) {
			delete(g.warned, port)
		}
	}
}

// listenLocked opens a listener for port unless one is open or the port
// is a node's own.
func (g *gateway) listenLocked(ctx context.Context, port int32) {
	if g.listeners[port] != nil || g.reservedLocked(port) {
		return
	}
	l, err := net.Listen("tcp", net.JoinHostPort(g.address, strconv.Itoa(int(port))))
	if err != nil {
		if !g.warned[port] {
			log.G(ctx).WithError(err).WithField("port", port).Warn("gateway: cannot listen on a port pods declare (trying again every second)")
			g.warned[port] = true
		}
		return
	}
	delete(g.warned, port)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { g.route(w, r, port) }),
		ReadHeaderTimeout: 30 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	g.listeners[port] = srv
	go func() { _ = srv.Serve(l) }()
	log.G(ctx).WithField("port", port).Debug("gateway: serving a port pods declare")
}

// route sends one request to a pod's function.
func (g *gateway) route(w http.ResponseWriter, r *http.Request, port int32) {
	var pods []*corev1.Pod
	owner := map[*corev1.Pod]*provider.Provider{}
	for _, core := range g.coreList() {
		for _, p := range core.ServingPods(port) {
			pods = append(pods, p)
			owner[p] = core
		}
	}
	sort.Slice(pods, func(i, j int) bool {
		return pods[i].Namespace+"/"+pods[i].Name < pods[j].Namespace+"/"+pods[j].Name
	})
	route := strconv.Itoa(int(port))
	if svc := g.service(r.Host); svc != nil {
		sel := labels.SelectorFromSet(svc.Spec.Selector)
		var selected []*corev1.Pod
		for _, p := range pods {
			if p.Namespace == svc.Namespace && len(svc.Spec.Selector) > 0 && sel.Matches(labels.Set(p.Labels)) {
				selected = append(selected, p)
			}
		}
		pods, route = selected, svc.Namespace+"/"+svc.Name+":"+route
	}
	if len(pods) == 0 {
		http.Error(w, fmt.Sprintf("faas-kubelet gateway: no Ready function pod serves port %d for %q", port, r.Host), http.StatusServiceUnavailable)
		return
	}
	counter, _ := g.next.LoadOrStore(route, new(atomic.Uint64))
	pod := pods[int(counter.(*atomic.Uint64).Add(1)-1)%len(pods)]
	req := r.Clone(r.Context())
	req.RequestURI = ""
	resp, err := owner[pod].CallHTTP(r.Context(), pod, req)
	if err != nil {
		http.Error(w, "faas-kubelet gateway: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		if k == "Connection" || k == "Keep-Alive" || k == "Transfer-Encoding" {
			continue
		}
		w.Header()[k] = vs
	}
	w.Header().Set("X-Faas-Kubelet-Pod", pod.Namespace+"/"+pod.Name)
	w.WriteHeader(resp.StatusCode)
	if _, err := io.Copy(flushWriter{w}, resp.Body); err != nil && !errors.Is(err, context.Canceled) {
		log.G(r.Context()).WithError(err).Debug("gateway: copying a response")
	}
}

// serviceLister is the Services cache of a node that still runs.
func (g *gateway) serviceLister() corev1listers.ServiceLister {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, l := range g.listers {
		if l != nil {
			return l
		}
	}
	return g.services
}

// service finds the Service a Host header names, if any.
func (g *gateway) service(host string) *corev1.Service {
	services := g.serviceLister()
	if services == nil {
		return nil
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	parts := strings.Split(host, ".")
	if net.ParseIP(host) != nil || len(parts) == 0 || parts[0] == "" {
		return nil
	}
	if len(parts) >= 2 && (len(parts) == 2 || parts[2] == "svc") {
		if svc, err := services.Services(parts[1]).Get(parts[0]); err == nil {
			return svc
		}
		return nil
	}
	if len(parts) > 1 {
		return nil
	}
	// A bare name: the Service of that name, if only one namespace has one.
	all, err := services.List(labels.Everything())
	if err != nil {
		return nil
	}
	var found *corev1.Service
	for _, svc := range all {
		if svc.Name == parts[0] {
			if found != nil {
				return nil
			}
			found = svc
		}
	}
	return found
}

// flushWriter streams a response as it comes.
type flushWriter struct{ w http.ResponseWriter }

func (f flushWriter) Write(b []byte) (int, error) {
	n, err := f.w.Write(b)
	if fl, ok := f.w.(http.Flusher); ok {
		fl.Flush()
	}
	return n, err
}
