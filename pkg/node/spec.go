package node

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/faas-kubelet/faas-kubelet/pkg/config"
)

// Labels every virtual node carries.
const (
	LabelCloud        = "faas-kubelet.io/cloud"
	LabelType         = "type"
	LabelTypeValue    = "virtual-kubelet"
	LabelRole         = "kubernetes.io/role"
	LabelInstanceType = corev1.LabelInstanceTypeStable
	LabelRegion       = corev1.LabelTopologyRegion
)

// Reasons of the node's Ready condition.
const (
	ReasonReady       = "KubeletReady"
	ReasonNotChecked  = "CloudNotChecked"
	ReasonUnreachable = "CloudUnreachable"
)

// Spec is the Node object a node config registers. It starts NotReady: the
// first successful ping of the cloud turns it Ready.
func Spec(c *config.Node, kubeletVersion string, now time.Time) (*corev1.Node, error) {
	labels := map[string]string{}
	for k, v := range c.Labels {
		labels[k] = v
	}
	for k, v := range map[string]string{
		LabelType:                        LabelTypeValue,
		LabelRole:                        "agent",
		corev1.LabelOSStable:             "linux",
		corev1.LabelHostname:             c.Name,
		LabelInstanceType:                c.InstanceType,
		LabelRegion:                      c.Region,
		LabelCloud:                       c.Cloud,
		corev1.LabelNodeExcludeBalancers: "true",
	} {
		labels[k] = v
	}
	capacity := corev1.ResourceList{}
	for name, q := range map[corev1.ResourceName]string{
		corev1.ResourceCPU:              c.Capacity.CPU,
		corev1.ResourceMemory:           c.Capacity.Memory,
		corev1.ResourcePods:             c.Capacity.Pods,
		corev1.ResourceEphemeralStorage: c.Capacity.EphemeralStorage,
	} {
		v, err := resource.ParseQuantity(q)
		if err != nil {
			return nil, fmt.Errorf("capacity %s %q: %w", name, q, err)
		}
		capacity[name] = v
	}
	n := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: c.Name, Labels: labels},
		Status: corev1.NodeStatus{
			Phase:       corev1.NodePending,
			Capacity:    capacity,
			Allocatable: capacity.DeepCopy(),
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeInternalIP, Address: c.Address},
				{Type: corev1.NodeHostName, Address: c.Name},
			},
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: c.KubeletPort}},
			NodeInfo: corev1.NodeSystemInfo{
				OperatingSystem: "linux",
				Architecture:    "amd64",
				KubeletVersion:  kubeletVersion,
			},
			Conditions: []corev1.NodeCondition{
				{Type: corev1.NodeReady, Status: corev1.ConditionFalse, Reason: ReasonNotChecked, Message: "the cloud has not been pinged yet"},
				{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientMemory", Message: "functions run in the cloud"},
				{Type: corev1.NodeDiskPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasNoDiskPressure", Message: "functions run in the cloud"},
				{Type: corev1.NodePIDPressure, Status: corev1.ConditionFalse, Reason: "KubeletHasSufficientPID", Message: "functions run in the cloud"},
				{Type: corev1.NodeNetworkUnavailable, Status: corev1.ConditionFalse, Reason: "RouteCreated", Message: "functions are reached through the cloud"},
			},
		},
	}
	for i := range n.Status.Conditions {
		n.Status.Conditions[i].LastTransitionTime = metav1.NewTime(now.Truncate(time.Second))
	}
	if !c.Taint.Disabled {
		n.Spec.Taints = []corev1.Taint{{Key: c.Taint.Key, Value: c.Taint.Value, Effect: corev1.TaintEffect(c.Taint.Effect)}}
	}
	return n, nil
}
