package node

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/faas-kubelet/faas-kubelet/pkg/memorybackend"
	"github.com/faas-kubelet/faas-kubelet/provider"
)

func gatewayPod(name, app string, port int32) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "shop", UID: types.UID("uid-" + name), Labels: map[string]string{"app": app}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "fn", Image: "example.com/fn:1",
			Ports: []corev1.ContainerPort{{ContainerPort: port}}}}},
	}
}

// The gateway sends a request to the Ready pods that declare its port,
// round robin: among the pods of the Service the Host header names, else
// among all; a running pod reports the node's address as its IP.
func TestGatewayRoutesByServiceRoundRobin(t *testing.T) {
	core, err := provider.New(provider.Options{NodeName: "vk", Backend: memorybackend.New(memorybackend.Options{}), PodIP: "10.0.0.5"})
	if err != nil {
		t.Fatal(err)
	}
	var reported []*corev1.Pod
	core.NotifyPods(context.Background(), func(p *corev1.Pod) { reported = append(reported, p) })
	for _, p := range []*corev1.Pod{gatewayPod("web-1", "web", 8080), gatewayPod("web-2", "web", 8080), gatewayPod("admin-1", "admin", 8080), gatewayPod("other", "web", 9090)} {
		if err := core.CreatePod(context.Background(), p); err != nil {
			t.Fatal(err)
		}
	}
	if ip := reported[0].Status.PodIP; ip != "10.0.0.5" {
		t.Errorf("a Running pod reports IP %q, want the node's", ip)
	}
	if got := fmt.Sprint(core.ServedPorts()); got != "[8080 9090]" {
		t.Errorf("served ports %s", got)
	}
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	_ = idx.Add(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop"}, Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "web"}}})
	g := &gateway{address: "127.0.0.1", services: corev1listers.NewServiceLister(idx), cores: map[*provider.Provider]int32{core: 10250},
		listeners: map[int32]*http.Server{}, warned: map[int32]bool{}}
	call := func(host, body string) (string, string) {
		req := httptest.NewRequest(http.MethodPost, "http://"+host+"/orders?id=1", strings.NewReader(body))
		w := httptest.NewRecorder()
		g.route(w, req, 8080)
		data, _ := io.ReadAll(w.Result().Body)
		if w.Code != http.StatusOK || w.Result().Header.Get("X-Memory-Path") != "/orders?id=1" || string(data) != body {
			t.Errorf("%s: %d %v %q", host, w.Code, w.Result().Header, data)
		}
		return w.Result().Header.Get("X-Faas-Kubelet-Pod"), string(data)
	}
	var bySvc []string
	for _, host := range []string{"web.shop.svc.cluster.local", "web.shop", "web:8080", "web.shop.svc"} {
		pod, _ := call(host, "x")
		bySvc = append(bySvc, pod)
	}
	if strings.Join(bySvc, ",") != "shop/web-1,shop/web-2,shop/web-1,shop/web-2" {
		t.Errorf("by Service name: %v", bySvc)
	}
	seen := map[string]int{}
	for range 6 {
		pod, _ := call("10.0.0.5:8080", "y")
		seen[pod]++
	}
	if len(seen) != 3 || seen["shop/admin-1"] != 2 {
		t.Errorf("by address: %v", seen)
	}
	w := httptest.NewRecorder()
	g.route(w, httptest.NewRequest(http.MethodGet, "http://web.shop/", nil), 7070)
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("a port no pod serves: %d", w.Code)
	}

	// Listeners follow the declared ports; the node's own port is never taken.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	free := int32(l.Addr().(*net.TCPAddr).Port)
	_ = l.Close()
	if err := core.CreatePod(context.Background(), gatewayPod("live", "live", free)); err != nil {
		t.Fatal(err)
	}
	g.sync(context.Background(), []int32{free, 10250})
	defer g.sync(context.Background(), nil)
	if g.listeners[10250] != nil {
		t.Error("the gateway took the kubelet port")
	}
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Post(fmt.Sprintf("http://127.0.0.1:%d/hi", free), "text/plain", strings.NewReader("over the wire"))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(data) != "over the wire" || resp.Header.Get("X-Faas-Kubelet-Pod") != "shop/live" {
		t.Errorf("through the listener: %d %q %v", resp.StatusCode, data, resp.Header)
	}
	g.sync(context.Background(), nil)
	if _, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/", free)); err == nil {
		t.Error("the listener stayed open once no pod declares its port")
	}
}

// Nodes sharing an address share a gateway; Host routing reads the Services
// cache of a node that still runs when the first one stops.
func TestGatewayServicesFollowTheNodesThatRun(t *testing.T) {
	g := gatewayFor("192.0.2.77")
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
	ctx1, stop1 := context.WithCancel(context.Background())
	ctx2, stop2 := context.WithCancel(context.Background())
	defer stop2()
	done1 := make(chan struct{})
	go func() { g.serve(ctx1, 10250, core(), lister("first")); close(done1) }()
	waitForCores := func(n int) {
		deadline := time.Now().Add(5 * time.Second)
		for len(g.coreList()) != n {
			if time.Now().After(deadline) {
				t.Fatalf("%d nodes on the gateway, want %d", len(g.coreList()), n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitForCores(1)
	go g.serve(ctx2, 10251, core(), lister("second"))
	waitForCores(2)
	stop1()
	<-done1
	if g.service("first.shop") != nil || g.service("second.shop") == nil {
		t.Error("after the first node stopped, Host routing does not read the running node's Services")
	}
}
