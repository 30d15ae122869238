package node

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	"github.com/faas-kubelet/faas-kubelet/pkg/memorybackend"
	"github.com/faas-kubelet/faas-kubelet/provider"
)

func gatewayPod(ns, name string, port int32) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, UID: types.UID("uid-" + ns + "-" + name), Labels: map[string]string{"app": "fn"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "fn", Image: "example.com/fn:1",
			Ports: []corev1.ContainerPort{{ContainerPort: port}}}}},
	}
}

func gatewayService(ns, name string, clusterIP string) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.ServiceSpec{ClusterIP: clusterIP, ClusterIPs: []string{clusterIP}, Selector: map[string]string{"app": "fn"}}}
}

// gatewaySlice is an EndpointSlice of Service ns/svc, as the EndpointSlice
// controller writes it: port is the target port, endpoints are in ns.
func gatewaySlice(ns, svc, name string, port int32, endpoints ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Port: ptr.To(port), Protocol: ptr.To(corev1.ProtocolTCP)}},
		Endpoints:   endpoints,
	}
}

// gatewayEndpoint is a pod's endpoint at the node's (loopback) address.
func gatewayEndpoint(ns, pod string, ready bool) discoveryv1.Endpoint {
	return discoveryv1.Endpoint{Addresses: []string{"127.0.0.1"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(ready)},
		NodeName: ptr.To("vk"), TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: pod}}
}

// freePorts are n loopback ports nothing listens on.
func freePorts(t *testing.T, n int) []int32 {
	t.Helper()
	var ports []int32
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports = append(ports, int32(l.Addr().(*net.TCPAddr).Port))
	}
	return ports
}

// startGateway runs a node on 127.0.0.1 with pods, the cluster's Services
// and EndpointSlices read through informers of a fake clientset as a node
// reads them, and the gateway listening on ports.
func startGateway(t *testing.T, ports []int32, pods []*corev1.Pod, objs ...runtime.Object) *gateway {
	t.Helper()
	core, err := provider.New(provider.Options{NodeName: "vk", Backend: memorybackend.New(memorybackend.Options{}), PodIP: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	core.NotifyPods(ctx, func(*corev1.Pod) {})
	for _, p := range pods {
		if err := core.CreatePod(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	f := informers.NewSharedInformerFactory(fake.NewClientset(objs...), 0)
	g := &gateway{address: "127.0.0.1", cores: map[*provider.Provider]int32{}, nodeCaches: map[*provider.Provider]gatewayCaches{},
		listeners: map[int32]*http.Server{}, warned: map[int32]bool{}}
	g.add(ctx, 10250, core, f.Core().V1().Services().Lister(), f.Discovery().V1().EndpointSlices().Informer())
	f.Start(ctx.Done())
	for typ, ok := range f.WaitForCacheSync(ctx.Done()) {
		if !ok {
			t.Fatalf("cache of %v not synced", typ)
		}
	}
	t.Cleanup(func() { cancel(); f.Shutdown() })
	g.sync(ctx, ports)
	t.Cleanup(func() { g.sync(ctx, nil) })
	for _, port := range ports {
		if g.listeners[port] == nil {
			t.Fatalf("the gateway does not listen on %d", port)
		}
	}
	return g
}

type gatewayReply struct {
	status    int
	pod, body string
}

// callGateway posts to the gateway on port over loopback, with Host.
func callGateway(t *testing.T, port int32, host string) gatewayReply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/orders?id=1", port), strings.NewReader("hello"))
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK && (string(data) != "hello" || resp.Header.Get("X-Memory-Path") != "/orders?id=1") {
		t.Errorf("Host %q: the function got another request: %q %v", host, data, resp.Header)
	}
	return gatewayReply{status: resp.StatusCode, pod: resp.Header.Get("X-Faas-Kubelet-Pod"), body: string(data)}
}

// servedBy calls the gateway once per Host and lists the pods that served.
func servedBy(t *testing.T, port int32, hosts ...string) string {
	t.Helper()
	var pods []string
	for _, host := range hosts {
		r := callGateway(t, port, host)
		if r.status != http.StatusOK {
			t.Errorf("Host %q on port %d: HTTP %d %s", host, port, r.status, r.body)
		}
		pods = append(pods, r.pod)
	}
	return strings.Join(pods, ",")
}

// refused asserts that the gateway answers Host on port with status and a
// body holding each of want, and that no pod served it.
func refused(t *testing.T, port int32, host string, status int, want ...string) {
	t.Helper()
	r := callGateway(t, port, host)
	if r.status != status || r.pod != "" {
		t.Errorf("Host %q on port %d: HTTP %d served by %q, want %d from no pod: %s", host, port, r.status, r.pod, status, r.body)
	}
	for _, w := range want {
		if !strings.Contains(r.body, w) {
			t.Errorf("Host %q on port %d: body %q lacks %q", host, port, r.body, w)
		}
	}
}

// Service web in namespaces a (two pods) and b (one pod), both on one
// target port of the node.
func twoNamespacesOnOnePort(port int32) ([]*corev1.Pod, []runtime.Object) {
	return []*corev1.Pod{gatewayPod("a", "web-1", port), gatewayPod("a", "web-2", port), gatewayPod("b", "web-1", port)},
		[]runtime.Object{
			gatewayService("a", "web", "10.96.0.10"), gatewayService("b", "web", "10.96.0.20"),
			gatewaySlice("a", "web", "web-x1", port, gatewayEndpoint("a", "web-1", true), gatewayEndpoint("a", "web-2", true)),
			gatewaySlice("b", "web", "web-y1", port, gatewayEndpoint("b", "web-1", true)),
		}
}

// Two Services on the same port in two namespaces: each request reaches
// the pods of the Service its Host names, by name or ClusterIP, round
// robin, and never a pod of the other namespace.
func TestGatewayTwoServicesOnOnePortReachOnlyTheirOwnPods(t *testing.T) {
	ports := freePorts(t, 1)
	pods, objs := twoNamespacesOnOnePort(ports[0])
	startGateway(t, ports, pods, objs...)
	if got := servedBy(t, ports[0], "web.a.svc.cluster.local", "web.a", "web.a.svc:80", "10.96.0.10", "10.96.0.10:80", "Web.A."); got != "a/web-1,a/web-2,a/web-1,a/web-2,a/web-1,a/web-2" {
		t.Errorf("Service a/web served by %s, want its two pods in turn", got)
	}
	if got := servedBy(t, ports[0], "web.b.svc.cluster.local", "web.b", "10.96.0.20:80", "web.b.svc.cluster.local:80"); got != "b/web-1,b/web-1,b/web-1,b/web-1" {
		t.Errorf("Service b/web served by %s, want its one pod", got)
	}
}

// With no caller namespace, a short name that two namespaces' Services on
// the port bear is ambiguous, and so is a Host that names no Service (an
// address, an Ingress hostname): the gateway says which Services serve
// there and how to ask for one.
func TestGatewayShortNameInTwoNamespacesIsAmbiguous(t *testing.T) {
	ports := freePorts(t, 1)
	pods, objs := twoNamespacesOnOnePort(ports[0])
	startGateway(t, ports, pods, objs...)
	at := fmt.Sprintf("127.0.0.1:%d", ports[0])
	for _, host := range []string{"web", "web:80"} {
		refused(t, ports[0], host, http.StatusNotFound, fmt.Sprintf(`Host %q names 2 Services at %s on this node (a/web, b/web)`, host, at), "send Host as <service>.<namespace>")
	}
	for _, host := range []string{"shop.example.com", at, "web.nowhere", "localhost"} {
		refused(t, ports[0], host, http.StatusNotFound,
			fmt.Sprintf(`no Service of this node serves Host %q on port %d; 2 Services do (a/web, b/web): send Host as <service>.<namespace>`, host, ports[0]))
	}
}

// A request whose Host names a Service of another namespace than the pods
// at the dialled port is refused, whoever wrote the EndpointSlices: a
// slice leads only to pods of its own namespace.
func TestGatewayRefusesCrossNamespaceRequests(t *testing.T) {
	ports := freePorts(t, 2)
	web, api := ports[0], ports[1]
	startGateway(t, ports, []*corev1.Pod{gatewayPod("a", "web-1", web), gatewayPod("b", "api-1", api)},
		gatewayService("a", "web", "10.96.0.10"), gatewayService("b", "api", "10.96.0.20"), gatewayService("c", "db", "10.96.0.30"),
		gatewaySlice("a", "web", "web-x1", web, gatewayEndpoint("a", "web-1", true)),
		gatewaySlice("b", "api", "api-x1", api, gatewayEndpoint("b", "api-1", true)),
		// Written by hand in namespace c, pointing at a's pod, and at a
		// pod c/web-1 the node does not have.
		gatewaySlice("c", "db", "db-forged", web, gatewayEndpoint("a", "web-1", true), gatewayEndpoint("", "web-1", true)),
	)
	for _, host := range []string{"web.a", "web.a.svc.cluster.local", "10.96.0.10:80"} {
		refused(t, api, host, http.StatusNotFound, fmt.Sprintf(`Service a/web (Host %q) has no endpoint at 127.0.0.1:%d on this node`, host, api))
	}
	refused(t, api, "web", http.StatusNotFound, fmt.Sprintf(`Host "web" names no Service with an endpoint at 127.0.0.1:%d on this node`, api))
	refused(t, api, "web.b.svc.cluster.local", http.StatusNotFound, "Service b/web")
	for _, host := range []string{"db.c", "db.c.svc.cluster.local", "10.96.0.30"} {
		refused(t, web, host, http.StatusNotFound, fmt.Sprintf(`Service c/db (Host %q) has no endpoint at 127.0.0.1:%d on this node`, host, web))
	}
	// The forged slice makes no candidate: a's Service is the only one on
	// its port, so a Host naming no Service reaches it.
	if got := servedBy(t, web, "web.a", "web", "shop.example.com"); got != "a/web-1,a/web-1,a/web-1" {
		t.Errorf("port %d served by %s", web, got)
	}
	if got := servedBy(t, api, "api.b", "api", "10.96.0.20"); got != "b/api-1,b/api-1,b/api-1" {
		t.Errorf("port %d served by %s", api, got)
	}
}

// Where one Service has endpoints at the dialled port, an Ingress
// hostname, the node's address and the Service's addresses reach its Ready
// pods; a Service without a Ready pod here is a 503, and a port no
// Service's endpoints use a 404.
func TestGatewayIngressHostReachesTheOneService(t *testing.T) {
	ports := freePorts(t, 3)
	api, cold, lone := ports[0], ports[1], ports[2]
	svc := gatewayService("a", "api", "10.96.0.40")
	svc.Spec.ExternalIPs = []string{"192.0.2.10"}
	startGateway(t, ports,
		[]*corev1.Pod{gatewayPod("a", "api-1", api), gatewayPod("a", "api-2", api), gatewayPod("a", "cold-1", cold), gatewayPod("a", "lone-1", lone)},
		svc, gatewayService("a", "cold", "10.96.0.41"),
		gatewaySlice("a", "api", "api-x1", api, gatewayEndpoint("a", "api-1", true), gatewayEndpoint("a", "api-2", true)),
		// A second slice listing a pod again, and one not ready.
		gatewaySlice("a", "api", "api-x2", api, gatewayEndpoint("a", "api-2", true), gatewayEndpoint("a", "api-3", true)),
		gatewaySlice("a", "cold", "cold-x1", cold, gatewayEndpoint("a", "cold-1", false)),
	)
	hosts := []string{"shop.example.com", fmt.Sprintf("127.0.0.1:%d", api), "10.96.0.40:80", "example.com", "192.0.2.10", "api.a.svc.cluster.local"}
	if got := servedBy(t, api, hosts...); got != "a/api-1,a/api-2,a/api-1,a/api-2,a/api-1,a/api-2" {
		t.Errorf("Service a/api served by %s, want its two Ready pods in turn", got)
	}
	for _, host := range []string{"cold.a", "shop.example.com"} {
		refused(t, cold, host, http.StatusServiceUnavailable, fmt.Sprintf("Service a/cold has no Ready pod on this node at 127.0.0.1:%d", cold))
	}
	refused(t, lone, "shop.example.com", http.StatusNotFound, fmt.Sprintf(`no Service of this node serves Host "shop.example.com" at 127.0.0.1:%d`, lone))
}

// Listeners follow the ports Running pods declare, which report the node's
// address as their IP; the node's own port is never taken.
func TestGatewayListensOnThePortsPodsDeclare(t *testing.T) {
	core, err := provider.New(provider.Options{NodeName: "vk", Backend: memorybackend.New(memorybackend.Options{}), PodIP: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	var reported []*corev1.Pod
	core.NotifyPods(context.Background(), func(p *corev1.Pod) { reported = append(reported, p) })
	free := freePorts(t, 1)[0]
	for _, p := range []*corev1.Pod{gatewayPod("shop", "web-1", 8080), gatewayPod("shop", "other", 9090), gatewayPod("shop", "live", free)} {
		if err := core.CreatePod(context.Background(), p); err != nil {
			t.Fatal(err)
		}
	}
	if ip := reported[0].Status.PodIP; ip != "127.0.0.1" {
		t.Errorf("a Running pod reports IP %q, want the node's", ip)
	}
	if got := fmt.Sprint(core.ServedPorts()); got != fmt.Sprintf("[8080 9090 %d]", free) && got != fmt.Sprintf("[%d 8080 9090]", free) {
		t.Errorf("served ports %s", got)
	}
	g := &gateway{address: "127.0.0.1", cores: map[*provider.Provider]int32{core: 10250}, nodeCaches: map[*provider.Provider]gatewayCaches{},
		listeners: map[int32]*http.Server{}, warned: map[int32]bool{}}
	g.sync(context.Background(), []int32{free, 10250})
	defer g.sync(context.Background(), nil)
	if g.listeners[10250] != nil {
		t.Error("the gateway took the kubelet port")
	}
	// No EndpointSlice leads here: the listener answers, and says so.
	refused(t, free, "live.shop", http.StatusNotFound, "no Service of this node serves")
	g.sync(context.Background(), nil)
	if _, err := (&http.Client{Timeout: 5 * time.Second}).Get(fmt.Sprintf("http://127.0.0.1:%d/", free)); err == nil {
		t.Error("the listener stayed open once no pod declares its port")
	}
}

// Nodes sharing an address share a gateway; routing reads the cluster
// caches of a node that still runs when the first one stops.
func TestGatewayCachesFollowTheNodesThatRun(t *testing.T) {
	if gatewayFor("192.0.2.77") != gatewayFor("192.0.2.77") {
		t.Fatal("two gateways for one address")
	}
	g := &gateway{address: "192.0.2.78", cores: map[*provider.Provider]int32{}, nodeCaches: map[*provider.Provider]gatewayCaches{},
		listeners: map[int32]*http.Server{}, warned: map[int32]bool{}}
	lister := func(name string) corev1listers.ServiceLister {
		idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
		_ = idx.Add(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop"}})
		return corev1listers.NewServiceLister(idx)
	}
	core := func() *provider.Provider {
		p, err := provider.New(provider.Options{NodeName: "vk", Backend: memorybackend.New(memorybackend.Options{})})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	first, second := core(), core()
	if !g.add(context.Background(), 10250, first, lister("first"), nil) {
		t.Error("the first node does not start the gateway")
	}
	if g.add(context.Background(), 10251, second, lister("second"), nil) {
		t.Error("the second node starts the gateway again")
	}
	g.remove(first)
	c := g.clusterCaches()
	if c.service(types.NamespacedName{Namespace: "shop", Name: "first"}) != nil || c.service(types.NamespacedName{Namespace: "shop", Name: "second"}) == nil {
		t.Error("after the first node stopped, routing does not read the running node's Services")
	}
}
