package provider

import (
	"context"
	"net/http"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// The pieces of the node's Service gateway that belong to the core: which
// pods serve which port, which of the pods an EndpointSlice names are this
// node's and serve, and sending a request to one of them. The listeners and
// the routing by Service are the node's (pkg/node).

// ServedPorts are the container ports that Running pods declare, sorted.
func (p *Provider) ServedPorts() []int32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	seen := map[int32]bool{}
	for _, r := range p.pods {
		if r.pod.Status.Phase != corev1.PodRunning {
			continue
		}
		for _, port := range declaredPorts(r.pod) {
			seen[port] = true
		}
	}
	out := make([]int32, 0, len(seen))
	for port := range seen {
		out = append(out, port)
	}
	slices.Sort(out)
	return out
}

// declaredPorts are the TCP ports a pod's containers declare.
func declaredPorts(pod *corev1.Pod) []int32 {
	var out []int32
	for _, c := range pod.Spec.Containers {
		for _, cp := range c.Ports {
			if cp.Protocol == "" || cp.Protocol == corev1.ProtocolTCP {
				out = append(out, cp.ContainerPort)
			}
		}
	}
	return out
}

// GatewayPod is one pod of the node as the Service gateway sees it: the
// core's record (metadata, status and container names, images and ports)
// and whether it serves requests now (Running, Ready, not being deleted
// nor terminating).
type GatewayPod struct {
	Pod     *corev1.Pod
	Serving bool
}

// GatewayPods looks up pods by namespace and name: the result holds those
// of names that this node has. The gateway asks with the pods an
// EndpointSlice lists, so one call per request reads the core once.
func (p *Provider) GatewayPods(names map[types.NamespacedName]bool) map[types.NamespacedName]GatewayPod {
	out := map[types.NamespacedName]GatewayPod{}
	if len(names) == 0 {
		return out
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.pods {
		key := types.NamespacedName{Namespace: r.pod.Namespace, Name: r.pod.Name}
		if !names[key] {
			continue
		}
		serving := r.pod.Status.Phase == corev1.PodRunning && r.pod.DeletionTimestamp == nil && r.term == nil && ready(&r.pod.Status)
		// Two records of one name: a pod deleted and made again; the one
		// that serves wins.
		if prev, ok := out[key]; ok && prev.Serving && !serving {
			continue
		}
		out[key] = GatewayPod{Pod: r.pod, Serving: serving}
	}
	return out
}

func ready(s *corev1.PodStatus) bool {
	for _, c := range s.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// CallHTTP sends req to the HTTP endpoint of pod's function. The call is
// in flight, and a termination of the pod waits for it, until the
// response's body is closed. A pod that terminates is no longer offered
// (GatewayPods); a request routed to it just before is still served
// until its function is being deleted, and refused after.
func (p *Provider) CallHTTP(ctx context.Context, pod *corev1.Pod, req *http.Request) (*http.Response, error) {
	ctx, end, err := p.beginCall(ctx, pod, true)
	if err != nil {
		return nil, err
	}
	resp, err := p.opts.Backend.HTTP(ctx, translate.FunctionName(pod), req.WithContext(ctx))
	if err != nil {
		end()
		return nil, err
	}
	resp.Body = &endOnClose{ReadCloser: resp.Body, end: end}
	return resp, nil
}
