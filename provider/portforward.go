package provider

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	"github.com/virtual-kubelet/virtual-kubelet/log"
	corev1 "k8s.io/api/core/v1"

	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// PortForward serves kubectl port-forward POD LOCAL:PORT. A function has
// no socket to connect to: each HTTP/1.1 request read from the forwarded
// stream is sent to the function's HTTP endpoint and its response written
// back, several requests per connection, until the client closes it or
// asks to. Anything but HTTP/1.x gets a 400 and the stream is closed. A
// pod that terminates takes no new request: the stream gets a 503 and is
// closed.
func (p *Provider) PortForward(ctx context.Context, namespace, podName string, port int32, stream io.ReadWriteCloser) error {
	defer stream.Close()
	pod, err := p.GetPod(ctx, namespace, podName)
	if err != nil {
		return err
	}
	if err := forwardablePort(pod, port); err != nil {
		return err
	}
	if pod.Status.Phase != corev1.PodRunning {
		return errdefs.InvalidInputf("pod %s/%s is %s: only a Running pod's function can be reached", namespace, podName, pod.Status.Phase)
	}
	if p.terminating(pod.UID) {
		return errTerminating{namespace, podName}
	}
	name := translate.FunctionName(pod)
	ctx = log.WithLogger(ctx, log.G(ctx).WithField("pod", namespace+"/"+podName).WithField("function", name))
	br := bufio.NewReader(stream)
	for {
		req, err := http.ReadRequest(br)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || ctx.Err() != nil {
			return nil
		}
		if err != nil {
			writeError(stream, http.StatusBadRequest, "faas-kubelet port-forward speaks HTTP/1.x to the function: "+err.Error())
			return nil
		}
		// Each request is a call in flight until its response is
		// written; once the pod terminates, a request that follows on
		// the connection is refused and the connection closed.
		cctx, end, err := p.beginCall(ctx, pod, false)
		if err != nil {
			_ = req.Body.Close()
			_ = writeError(stream, http.StatusServiceUnavailable, "faas-kubelet port-forward: "+err.Error())
			return nil
		}
		closeAfter, err := p.forward(cctx, name, req, stream)
		end()
		if err != nil {
			log.G(ctx).WithError(err).Debug("port-forward: stream closed")
			return nil
		}
		if closeAfter {
			return nil
		}
	}
}

// forward sends one request and writes its response; it reports whether
// the connection ends after it.
func (p *Provider) forward(ctx context.Context, name string, req *http.Request, w io.Writer) (closeAfter bool, err error) {
	defer req.Body.Close()
	req = req.WithContext(ctx)
	req.RequestURI = ""
	resp, err := p.opts.Backend.HTTP(ctx, name, req)
	if err != nil {
		log.G(ctx).WithError(err).Warn("port-forward: the function's endpoint failed")
		return req.Close, writeError(w, http.StatusBadGateway, "faas-kubelet: "+err.Error())
	}
	defer resp.Body.Close()
	resp.Proto, resp.ProtoMajor, resp.ProtoMinor = "HTTP/1.1", 1, 1
	resp.Request = req
	resp.Close = req.Close
	// Hop-by-hop headers describe the cloud's connection, not this one.
	for _, h := range []string{"Connection", "Keep-Alive", "Transfer-Encoding"} {
		resp.Header.Del(h)
	}
	if resp.ContentLength < 0 {
		resp.TransferEncoding = []string{"chunked"}
	}
	return req.Close, resp.Write(w)
}

// ForwardedHeader is a request's header as a proxy passes it on: without
// the hop-by-hop headers, which describe the caller's connection.
func ForwardedHeader(h http.Header) http.Header {
	out := h.Clone()
	for _, k := range []string{"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade"} {
		out.Del(k)
	}
	return out
}

func writeError(w io.Writer, code int, msg string) error {
	resp := &http.Response{StatusCode: code, ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{"Content-Type": {"text/plain; charset=utf-8"}},
		Body: io.NopCloser(strings.NewReader(msg + "\n")), ContentLength: int64(len(msg) + 1)}
	return resp.Write(w)
}

// forwardablePort accepts a port the pod's container declares, or any
// port when it declares none: a function has one HTTP endpoint.
func forwardablePort(pod *corev1.Pod, port int32) error {
	var declared []int32
	for _, c := range pod.Spec.Containers {
		for _, cp := range c.Ports {
			declared = append(declared, cp.ContainerPort)
		}
	}
	if len(declared) == 0 || slices.Contains(declared, port) {
		return nil
	}
	return errdefs.InvalidInput(fmt.Sprintf("pod %s/%s does not declare port %d (its function's HTTP endpoint is on %v)", pod.Namespace, pod.Name, port, declared))
}
