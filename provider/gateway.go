package provider

import (
	"context"
	"net/http"
	"slices"
	"sort"

	corev1 "k8s.io/api/core/v1"

	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// The pieces of the node's Service gateway that belong to the core: which
// pods serve which port, and sending a request to one of them. The
// listeners and the routing by Service are the node's (pkg/node).

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

// ServingPods are the Running, Ready pods that declare port, in a stable
// order (namespace, name). They are the core's records: metadata, status
// and container names, images and ports.
func (p *Provider) ServingPods(port int32) []*corev1.Pod {
	p.mu.Lock()
	var out []*corev1.Pod
	for _, r := range p.pods {
		if r.pod.Status.Phase != corev1.PodRunning || r.pod.DeletionTimestamp != nil || !ready(&r.pod.Status) {
			continue
		}
		for _, c := range r.pod.Spec.Containers {
			if slices.ContainsFunc(c.Ports, func(cp corev1.ContainerPort) bool { return cp.ContainerPort == port }) {
				out = append(out, r.pod)
				break
			}
		}
	}
	p.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Namespace != out[j].Namespace {
			return out[i].Namespace < out[j].Namespace
		}
		return out[i].Name < out[j].Name
	})
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

// CallHTTP sends req to the HTTP endpoint of pod's function.
func (p *Provider) CallHTTP(ctx context.Context, pod *corev1.Pod, req *http.Request) (*http.Response, error) {
	return p.opts.Backend.HTTP(ctx, translate.FunctionName(pod), req)
}
