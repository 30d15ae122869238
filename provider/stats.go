package provider

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	statsv1alpha1 "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// GetStatsSummary lists the node and its pods the way the kubelet's
// /stats/summary does. Usage figures are left empty until the backend
// reports the cloud's metrics: an absent figure is honest, a zero is not.
func (p *Provider) GetStatsSummary(ctx context.Context) (*statsv1alpha1.Summary, error) {
	pods, err := p.GetPods(ctx)
	if err != nil {
		return nil, err
	}
	s := &statsv1alpha1.Summary{Node: statsv1alpha1.NodeStats{NodeName: p.opts.NodeName, StartTime: metav1.NewTime(p.started)}}
	for _, pod := range pods {
		ps := statsv1alpha1.PodStats{
			PodRef: statsv1alpha1.PodReference{Name: pod.Name, Namespace: pod.Namespace, UID: string(pod.UID)},
		}
		if pod.Status.StartTime != nil {
			ps.StartTime = *pod.Status.StartTime
		}
		for _, cs := range pod.Status.ContainerStatuses {
			c := statsv1alpha1.ContainerStats{Name: cs.Name}
			if cs.State.Running != nil {
				c.StartTime = cs.State.Running.StartedAt
			}
			ps.Containers = append(ps.Containers, c)
		}
		s.Pods = append(s.Pods, ps)
	}
	return s, nil
}
