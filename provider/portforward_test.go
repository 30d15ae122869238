package provider

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// kubectl port-forward: HTTP requests on the forwarded stream reach the
// function's endpoint, several on one connection, responses streamed back
// (chunked when the length is unknown); a failing endpoint is a 502 and
// the connection goes on; Connection: close ends it.
func TestPortForwardCarriesHTTPRequests(t *testing.T) {
	b := &fakeBackend{}
	p, _ := newProvider(t, b)
	pod := newPod("uid-1", "web")
	pod.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 8080}}
	if err := p.CreatePod(context.Background(), pod); err != nil {
		t.Fatal(err)
	}
	client, server := net.Pipe()
	done := make(chan error, 1)
	go func() { done <- p.PortForward(context.Background(), "default", "web", 8080, server) }()
	br := bufio.NewReader(client)
	send := func(method, path, body string, close bool) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, "http://localhost:8080"+path, strings.NewReader(body))
		req.Close = close
		go func() { _ = req.Write(client) }()
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for i, path := range []string{"/orders?id=1", "/health"} {
		resp := send(http.MethodPost, path, "n"+string(rune('0'+i)), false)
		data, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(data) != "echo:n"+string(rune('0'+i)) || resp.Header.Get("X-Path") != path {
			t.Errorf("request %d: %d %q %v", i, resp.StatusCode, data, resp.Header)
		}
	}
	resp := send(http.MethodPost, "/", "fail", false)
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(data), "the endpoint is down") {
		t.Errorf("failing endpoint: %d %q", resp.StatusCode, data)
	}
	resp = send(http.MethodGet, "/last", "", true)
	_, _ = io.ReadAll(resp.Body)
	if err := <-done; err != nil {
		t.Errorf("PortForward after Connection: close: %v", err)
	}
	if last := b.invoked[len(b.invoked)-1]; !strings.HasSuffix(last, ":GET /last") {
		t.Errorf("last request reached the backend as %q", last)
	}

	// A port the pod does not declare is refused.
	_, server2 := net.Pipe()
	if err := p.PortForward(context.Background(), "default", "web", 9999, server2); err == nil || !strings.Contains(err.Error(), "does not declare port 9999") {
		t.Errorf("undeclared port: %v", err)
	}
}
