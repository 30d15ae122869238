package provider

import (
	"context"
	"time"

	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
	"k8s.io/utils/ptr"

	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// podUsage is one tracked pod with its function's figures.
type podUsage struct {
	pod      *corev1.Pod
	function string
	fig      usageFigures
	hasFig   bool
	running  bool
}

// usageOfPods returns the node's pods with their functions' figures as
// last read, and asks for the next reads (in the background: a scrape never
// waits on the cloud). Figures belong to the function, shown on the pod's
// first container (the one the function runs). Only the core's records are
// read: no listing of the cloud per scrape.
func (p *Provider) usageOfPods(_ context.Context) []podUsage {
	p.wantUsage()
	p.mu.Lock()
	out := make([]podUsage, 0, len(p.pods))
	for _, r := range p.pods {
		out = append(out, podUsage{pod: r.pod, function: r.function, running: r.phase == translate.PhaseActive && !isFinished(r.pod)})
	}
	p.mu.Unlock()
	for i := range out {
		if out[i].running {
			out[i].fig, out[i].hasFig = p.usage.figures(out[i].function)
		}
	}
	return out
}

// GetStatsSummary lists the node and its pods the way the kubelet's
// /stats/summary does, with the usage the cloud reported: CPU time
// (cumulative, and its rate between the last two reads) and memory (the
// peak of the last minutes' invocations as the working set). A pod whose
// function the cloud reported no use of yet has no figures: an absent
// figure is honest, a zero is not.
func (p *Provider) GetStatsSummary(ctx context.Context) (*statsv1alpha1.Summary, error) {
	pods := p.usageOfPods(ctx)
	s := &statsv1alpha1.Summary{Node: statsv1alpha1.NodeStats{NodeName: p.opts.NodeName, StartTime: metav1.NewTime(p.started)}}
	var nodeMem uint64
	var nodeRate uint64
	var measured bool
	for _, u := range pods {
		pod := u.pod
		ps := statsv1alpha1.PodStats{
			PodRef: statsv1alpha1.PodReference{Name: pod.Name, Namespace: pod.Namespace, UID: string(pod.UID)},
		}
		if pod.Status.StartTime != nil {
			ps.StartTime = *pod.Status.StartTime
		}
		for i, cs := range pod.Status.ContainerStatuses {
			c := statsv1alpha1.ContainerStats{Name: cs.Name}
			if cs.State.Running != nil {
				c.StartTime = cs.State.Running.StartedAt
			}
			if i == 0 && u.hasFig {
				c.CPU, c.Memory = cpuStats(u.fig), memoryStats(u.fig)
				ps.CPU, ps.Memory = cpuStats(u.fig), memoryStats(u.fig)
				nodeMem += u.fig.Memory
				nodeRate += u.fig.NanoCores
				measured = true
			}
			ps.Containers = append(ps.Containers, c)
		}
		s.Pods = append(s.Pods, ps)
	}
	if measured {
		cpu, at := p.usage.node()
		t := metav1.NewTime(at)
		s.Node.CPU = &statsv1alpha1.CPUStats{Time: t, UsageNanoCores: ptr.To(nodeRate), UsageCoreNanoSeconds: ptr.To(uint64(cpu))}
		s.Node.Memory = &statsv1alpha1.MemoryStats{Time: t, WorkingSetBytes: ptr.To(nodeMem), UsageBytes: ptr.To(nodeMem)}
	}
	return s, nil
}

func cpuStats(f usageFigures) *statsv1alpha1.CPUStats {
	c := &statsv1alpha1.CPUStats{Time: metav1.NewTime(f.At), UsageCoreNanoSeconds: ptr.To(uint64(f.CPU))}
	if f.HasRate {
		c.UsageNanoCores = ptr.To(f.NanoCores)
	}
	return c
}

func memoryStats(f usageFigures) *statsv1alpha1.MemoryStats {
	return &statsv1alpha1.MemoryStats{Time: metav1.NewTime(f.At), WorkingSetBytes: ptr.To(f.Memory), UsageBytes: ptr.To(f.Memory)}
}

// GetMetricsResource serves the kubelet's /metrics/resource: the same
// figures as GetStatsSummary under the kubelet's metric names and labels,
// each stamped with when the cloud's figures were read (what
// metrics-server computes CPU rates from).
func (p *Provider) GetMetricsResource(ctx context.Context) ([]*dto.MetricFamily, error) {
	pods := p.usageOfPods(ctx)
	containerCPU := family("container_cpu_usage_seconds_total", "Cumulative cpu time consumed by the container in core-seconds", dto.MetricType_COUNTER)
	containerMem := family("container_memory_working_set_bytes", "Current working set of the container in bytes", dto.MetricType_GAUGE)
	containerStart := family("container_start_time_seconds", "Start time of the container since unix epoch in seconds", dto.MetricType_GAUGE)
	podCPU := family("pod_cpu_usage_seconds_total", "Cumulative cpu time consumed by the pod in core-seconds", dto.MetricType_COUNTER)
	podMem := family("pod_memory_working_set_bytes", "Current working set of the pod in bytes", dto.MetricType_GAUGE)
	var nodeMem uint64
	var measured bool
	for _, u := range pods {
		if !u.hasFig || len(u.pod.Status.ContainerStatuses) == 0 {
			continue
		}
		measured = true
		cs := u.pod.Status.ContainerStatuses[0]
		ms := ms(u.fig.At)
		cl := labels("container", cs.Name, "namespace", u.pod.Namespace, "pod", u.pod.Name)
		pl := labels("namespace", u.pod.Namespace, "pod", u.pod.Name)
		cpu := u.fig.CPU.Seconds()
		mem := float64(u.fig.Memory)
		containerCPU.Metric = append(containerCPU.Metric, &dto.Metric{Label: cl, Counter: &dto.Counter{Value: &cpu}, TimestampMs: &ms})
		containerMem.Metric = append(containerMem.Metric, &dto.Metric{Label: cl, Gauge: &dto.Gauge{Value: &mem}, TimestampMs: &ms})
		if cs.State.Running != nil {
			start := float64(cs.State.Running.StartedAt.Unix())
			startMs := cs.State.Running.StartedAt.UnixMilli()
			containerStart.Metric = append(containerStart.Metric, &dto.Metric{Label: cl, Gauge: &dto.Gauge{Value: &start}, TimestampMs: &startMs})
		}
		podCPU.Metric = append(podCPU.Metric, &dto.Metric{Label: pl, Counter: &dto.Counter{Value: &cpu}, TimestampMs: &ms})
		podMem.Metric = append(podMem.Metric, &dto.Metric{Label: pl, Gauge: &dto.Gauge{Value: &mem}, TimestampMs: &ms})
		nodeMem += u.fig.Memory
	}
	scrapeError := 0.0
	out := []*dto.MetricFamily{}
	if measured {
		cpu, at := p.usage.node()
		nodeMs := ms(at)
		nodeCPU, mem := cpu.Seconds(), float64(nodeMem)
		n1 := family("node_cpu_usage_seconds_total", "Cumulative cpu time consumed by the node in core-seconds", dto.MetricType_COUNTER)
		n1.Metric = []*dto.Metric{{Counter: &dto.Counter{Value: &nodeCPU}, TimestampMs: &nodeMs}}
		n2 := family("node_memory_working_set_bytes", "Current working set of the node in bytes", dto.MetricType_GAUGE)
		n2.Metric = []*dto.Metric{{Gauge: &dto.Gauge{Value: &mem}, TimestampMs: &nodeMs}}
		out = append(out, n1, n2)
	}
	for _, f := range []*dto.MetricFamily{containerCPU, containerMem, containerStart, podCPU, podMem} {
		if len(f.Metric) > 0 {
			out = append(out, f)
		}
	}
	se := family("resource_scrape_error", "1 if there was an error while getting container metrics, 0 otherwise", dto.MetricType_GAUGE)
	se.Metric = []*dto.Metric{{Gauge: &dto.Gauge{Value: &scrapeError}}}
	return append(out, se), nil
}

func family(name, help string, t dto.MetricType) *dto.MetricFamily {
	return &dto.MetricFamily{Name: ptr.To(name), Help: ptr.To("[STABLE] " + help), Type: t.Enum()}
}

func labels(kv ...string) []*dto.LabelPair {
	out := make([]*dto.LabelPair, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, &dto.LabelPair{Name: ptr.To(kv[i]), Value: ptr.To(kv[i+1])})
	}
	return out
}

func ms(t time.Time) int64 { return t.UnixMilli() }
