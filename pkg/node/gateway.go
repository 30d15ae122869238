package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/log"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/faas-kubelet/faas-kubelet/provider"
)

// The Service gateway. A Running function pod reports the node's address
// as its IP, so the endpoints of a Service that selects it are
// <node address>:<target port>, and kube-proxy (DNAT of the ClusterIP) or
// an Ingress controller (proxying to the endpoints, keeping Host) sends
// the Service's traffic there. The gateway listens on every TCP port that
// Running pods of the node declare and routes each HTTP request by Service,
// never by port alone:
//
//   - The candidates are the Services whose EndpointSlices list an
//     endpoint at the address and port the caller dialled (the
//     connection's local address, and the listener's port, which is the
//     slices' target port) whose targetRef is a pod of this node in the
//     slice's own namespace.
//   - The Host header narrows them: a Service name ("web", "web.shop",
//     "web.shop.svc", "web.shop.svc.cluster.local"; a short name is
//     ambiguous when candidates of two namespaces bear it, as no caller
//     namespace is known), a Service's address (ClusterIP, external or
//     load-balancer IP), or the dialled address itself (no narrowing). A
//     Host that names no Service (an Ingress hostname) reaches the one
//     candidate if there is exactly one.
//   - One Service left: round robin over its endpoints that are ready in
//     the slice and whose pod is Ready on this node (503 if none).
//     Anything else is a 404 whose body says what was asked and how to ask.
//
// The response carries the pod that served it in X-Faas-Kubelet-Pod.

// gateway serves the ports of the pods of every node of the process that
// has its address (nodes sharing an address share its ports).
type gateway struct {
	address string
	// caches are the cluster caches used when no node gave any.
	caches gatewayCaches

	mu         sync.Mutex
	cores      map[*provider.Provider]int32         // each node's core, and its kubelet port
	nodeCaches map[*provider.Provider]gatewayCaches // each node's cluster caches
	running    bool
	listeners  map[int32]*http.Server
	warned     map[int32]bool // ports that could not be served (logged once; binding is tried again)
	next       sync.Map       // round-robin counter per route
}

// gatewayCaches are the cluster caches a node lends the gateway.
type gatewayCaches struct {
	services corev1listers.ServiceLister
	// slices holds EndpointSlices indexed by endpoint address
	// (sliceAddressIndex).
	slices cache.Indexer
}

// sliceAddressIndex indexes EndpointSlices by the addresses of their
// endpoints, so that a request reads only the slices of its address.
const sliceAddressIndex = "faas-kubelet.io/endpoint-address"

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
		g = &gateway{address: address, cores: map[*provider.Provider]int32{}, nodeCaches: map[*provider.Provider]gatewayCaches{},
			listeners: map[int32]*http.Server{}, warned: map[int32]bool{}}
		gateways[address] = g
	}
	return g
}

// serve adds a node's core and its cluster caches (Services, and the
// EndpointSlices informer, which must be registered with its factory
// before the factory starts) to the gateway, starting the gateway with the
// first node, until ctx ends.
func (g *gateway) serve(ctx context.Context, kubeletPort int32, core *provider.Provider, services corev1listers.ServiceLister, slices cache.SharedIndexInformer) {
	if first := g.add(ctx, kubeletPort, core, services, slices); first {
		go g.run(context.WithoutCancel(ctx), time.Second)
	}
	<-ctx.Done()
	g.remove(core)
}

// add adds a node to the gateway and says whether the gateway must start.
func (g *gateway) add(ctx context.Context, kubeletPort int32, core *provider.Provider, services corev1listers.ServiceLister, slices cache.SharedIndexInformer) bool {
	c := gatewayCaches{services: services}
	if slices != nil {
		if err := slices.AddIndexers(cache.Indexers{sliceAddressIndex: sliceAddresses}); err != nil {
			log.G(ctx).WithError(err).Warn("gateway: EndpointSlices are not indexed by address; each request reads them all")
		}
		c.slices = slices.GetIndexer()
	}
	gatewaysMu.Lock()
	defer gatewaysMu.Unlock()
	g.mu.Lock()
	defer g.mu.Unlock()
	first := len(g.cores) == 0 && !g.running
	g.cores[core] = kubeletPort
	g.nodeCaches[core] = c
	g.running = true
	return first
}

// remove takes a node off the gateway; the gateway stops at its next
// tick once no node is left.
func (g *gateway) remove(core *provider.Provider) {
	gatewaysMu.Lock()
	defer gatewaysMu.Unlock()
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.cores, core)
	delete(g.nodeCaches, core)
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

// route sends one request to a pod of the Service it is for.
func (g *gateway) route(w http.ResponseWriter, r *http.Request, port int32) {
	dialled := g.dialled(r)
	svc, status, msg := g.choose(r.Host, dialled, port)
	if status != 0 {
		http.Error(w, "faas-kubelet gateway: "+msg, status)
		return
	}
	counter, _ := g.next.LoadOrStore(svc.key.String()+"@"+net.JoinHostPort(dialled.String(), strconv.Itoa(int(port))), new(atomic.Uint64))
	target := svc.ready[int(counter.(*atomic.Uint64).Add(1)-1)%len(svc.ready)]
	pod := target.pod
	req := r.Clone(r.Context())
	req.RequestURI = ""
	resp, err := target.core.CallHTTP(r.Context(), pod, req)
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

// dialled is the address the caller connected to: the connection's local
// address, else the gateway's.
func (g *gateway) dialled(r *http.Request) net.IP {
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(*net.TCPAddr); ok && a.IP != nil && !a.IP.IsUnspecified() {
		return a.IP
	}
	return net.ParseIP(g.address)
}

// clusterCaches are the cluster caches of a node that still runs.
func (g *gateway) clusterCaches() gatewayCaches {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, c := range g.nodeCaches {
		if c.services != nil || c.slices != nil {
			return c
		}
	}
	return g.caches
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

// servedService is a candidate: a Service with endpoints at the dialled
// address and port that are pods of this node.
type servedService struct {
	key types.NamespacedName
	// ready are its endpoints ready in the slice whose pod is Ready here,
	// by pod name.
	ready []servedPod
}

type servedPod struct {
	pod  *corev1.Pod
	core *provider.Provider
}

// choose finds the Service a request is for, or the status and message
// that refuse it.
func (g *gateway) choose(host string, dialled net.IP, port int32) (*servedService, int, string) {
	at := net.JoinHostPort(dialled.String(), strconv.Itoa(int(port)))
	c := g.clusterCaches()
	served := g.served(c.slices, dialled, port)
	name := hostName(host)
	var picked []*servedService
	named := ""        // the Service the Host names, when it is no candidate
	shortName := false // the Host is a Service's name without namespace
	if ip := net.ParseIP(name); ip != nil {
		if ip.Equal(dialled) {
			picked = served
		} else {
			for _, svc := range served {
				if hasIP(c.service(svc.key), ip) {
					picked = append(picked, svc)
				}
			}
			if len(picked) == 0 {
				named = c.serviceWithIP(ip)
			}
		}
	} else if parts := strings.Split(name, "."); len(parts) == 1 && name != "" {
		for _, svc := range served {
			if svc.key.Name == name {
				picked = append(picked, svc)
			}
		}
		shortName = len(picked) > 0
		if len(picked) == 0 && c.hasServiceNamed(name) {
			return nil, http.StatusNotFound, fmt.Sprintf("Host %q names no Service with an endpoint at %s on this node", host, at)
		}
	} else if len(parts) == 2 || len(parts) > 2 && parts[2] == "svc" {
		key := types.NamespacedName{Namespace: parts[1], Name: parts[0]}
		for _, svc := range served {
			if svc.key == key {
				picked = append(picked, svc)
			}
		}
		// "web.shop.svc…" is always a Service name; "a.b" only when
		// Service b/a exists, else it may be an Ingress hostname.
		if len(picked) == 0 && (len(parts) > 2 || c.service(key) != nil) {
			named = key.String()
		}
	}
	if named != "" {
		return nil, http.StatusNotFound, fmt.Sprintf("Service %s (Host %q) has no endpoint at %s on this node", named, host, at)
	}
	if picked == nil {
		// A Host that names no Service: an Ingress hostname, say.
		picked = served
	}
	switch {
	case len(picked) == 1 && len(picked[0].ready) == 0:
		return nil, http.StatusServiceUnavailable, fmt.Sprintf("Service %s has no Ready pod on this node at %s", picked[0].key, at)
	case len(picked) == 1:
		return picked[0], 0, ""
	case len(served) == 0:
		return nil, http.StatusNotFound, fmt.Sprintf("no Service of this node serves Host %q at %s: no Service's EndpointSlices list a pod of this node there", host, at)
	default:
		keys := make([]string, len(picked))
		for i, svc := range picked {
			keys[i] = svc.key.String()
		}
		if shortName {
			return nil, http.StatusNotFound, fmt.Sprintf("Host %q names %d Services at %s on this node (%s) and names no namespace: send Host as <service>.<namespace>",
				host, len(picked), at, strings.Join(keys, ", "))
		}
		return nil, http.StatusNotFound, fmt.Sprintf("no Service of this node serves Host %q on port %d; %d Services do (%s): send Host as <service>.<namespace> or the Service's ClusterIP",
			host, port, len(picked), strings.Join(keys, ", "))
	}
}

// served are the candidates at dialled:port, by namespace and name: the
// Services whose EndpointSlices list an endpoint there for that target
// port whose targetRef is a pod of this node in the slice's namespace.
func (g *gateway) served(slices cache.Indexer, dialled net.IP, port int32) []*servedService {
	if slices == nil || dialled == nil {
		return nil
	}
	objs, err := slices.ByIndex(sliceAddressIndex, dialled.String())
	if err != nil {
		objs = slices.List()
	}
	type ref struct {
		svc, pod types.NamespacedName
		ready    bool
	}
	var refs []ref
	names := map[types.NamespacedName]bool{}
	for _, obj := range objs {
		s, ok := obj.(*discoveryv1.EndpointSlice)
		if !ok || s.Labels[discoveryv1.LabelServiceName] == "" || !slicePort(s, port) {
			continue
		}
		svc := types.NamespacedName{Namespace: s.Namespace, Name: s.Labels[discoveryv1.LabelServiceName]}
		for _, e := range s.Endpoints {
			t := e.TargetRef
			// A slice may only lead to pods of its own namespace, whoever
			// wrote it.
			if t == nil || t.Kind != "Pod" || t.Name == "" || t.Namespace != "" && t.Namespace != s.Namespace || !hasAddress(e.Addresses, dialled) {
				continue
			}
			pod := types.NamespacedName{Namespace: s.Namespace, Name: t.Name}
			refs = append(refs, ref{svc: svc, pod: pod, ready: e.Conditions.Ready == nil || *e.Conditions.Ready})
			names[pod] = true
		}
	}
	type known struct {
		servedPod
		serving bool
	}
	pods := map[types.NamespacedName]known{}
	for _, core := range g.coreList() {
		for key, p := range core.GatewayPods(names) {
			if prev, ok := pods[key]; !ok || !prev.serving {
				pods[key] = known{servedPod{p.Pod, core}, p.Serving}
			}
		}
	}
	byKey := map[types.NamespacedName]*servedService{}
	added := map[ref]bool{}
	for _, rf := range refs {
		p, ok := pods[rf.pod]
		if !ok {
			continue
		}
		svc := byKey[rf.svc]
		if svc == nil {
			svc = &servedService{key: rf.svc}
			byKey[rf.svc] = svc
		}
		if once := (ref{svc: rf.svc, pod: rf.pod}); rf.ready && p.serving && !added[once] {
			added[once] = true
			svc.ready = append(svc.ready, p.servedPod)
		}
	}
	out := make([]*servedService, 0, len(byKey))
	for _, svc := range byKey {
		sort.Slice(svc.ready, func(i, j int) bool { return svc.ready[i].pod.Name < svc.ready[j].pod.Name })
		out = append(out, svc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key.String() < out[j].key.String() })
	return out
}

// slicePort says whether an EndpointSlice's ports hold TCP port.
func slicePort(s *discoveryv1.EndpointSlice, port int32) bool {
	for _, p := range s.Ports {
		if p.Port != nil && *p.Port == port && (p.Protocol == nil || *p.Protocol == corev1.ProtocolTCP) {
			return true
		}
	}
	return false
}

func hasAddress(addresses []string, ip net.IP) bool {
	for _, a := range addresses {
		if net.ParseIP(a).Equal(ip) {
			return true
		}
	}
	return false
}

// sliceAddresses is the sliceAddressIndex function: the addresses of a
// slice's endpoints, in canonical form.
func sliceAddresses(obj any) ([]string, error) {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return nil, nil
	}
	var out []string
	for _, e := range s.Endpoints {
		for _, a := range e.Addresses {
			if ip := net.ParseIP(a); ip != nil && !slices.Contains(out, ip.String()) {
				out = append(out, ip.String())
			}
		}
	}
	return out, nil
}

// hostName is a Host header's name: lower case, without port, brackets or
// a final dot.
func hostName(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	return strings.TrimSuffix(strings.ToLower(host), ".")
}

// service is the Service of key, or nil.
func (c gatewayCaches) service(key types.NamespacedName) *corev1.Service {
	if c.services == nil {
		return nil
	}
	svc, err := c.services.Services(key.Namespace).Get(key.Name)
	if err != nil {
		return nil
	}
	return svc
}

// hasServiceNamed says whether a Service of that name exists in any
// namespace.
func (c gatewayCaches) hasServiceNamed(name string) bool {
	if c.services == nil {
		return false
	}
	all, _ := c.services.List(labels.Everything())
	return slices.ContainsFunc(all, func(svc *corev1.Service) bool { return svc.Name == name })
}

// serviceWithIP is the namespace/name of a Service that has address ip,
// or "".
func (c gatewayCaches) serviceWithIP(ip net.IP) string {
	if c.services == nil {
		return ""
	}
	all, _ := c.services.List(labels.Everything())
	for _, svc := range all {
		if hasIP(svc, ip) {
			return svc.Namespace + "/" + svc.Name
		}
	}
	return ""
}

// hasIP says whether ip is one of a Service's addresses: its ClusterIPs,
// external IPs and load-balancer IPs, where kube-proxy sends traffic to
// its endpoints keeping the Host the caller wrote.
func hasIP(svc *corev1.Service, ip net.IP) bool {
	if svc == nil {
		return false
	}
	addrs := append([]string{svc.Spec.ClusterIP}, svc.Spec.ClusterIPs...)
	addrs = append(addrs, svc.Spec.ExternalIPs...)
	for _, in := range svc.Status.LoadBalancer.Ingress {
		addrs = append(addrs, in.IP)
	}
	return hasAddress(addrs, ip)
}
