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

// ConditionCloudReachable is the node condition that shows whether the
// node's cloud answers its health ping. It is kept apart from Ready: Ready
// says this process serves the node (as a kubelet's does), and a NotReady
// node has its pods evicted, while a cloud that does not answer for a while
// leaves the functions running. The node lifecycle controller and the
// scheduler ignore conditions they do not know; the node's
// TaintCloudUnreachable is what keeps new pods off.
const ConditionCloudReachable corev1.NodeConditionType = "CloudReachable"

// Reasons of the node's conditions.
const (
	// ReasonReady is Ready's reason, always True while the node is served.
	ReasonReady = "KubeletReady"
	// ReasonNotChecked is CloudReachable's reason (Unknown) until the
	// first ping ends.
	ReasonNotChecked = "CloudNotChecked"
	// ReasonReachable is CloudReachable's reason while the cloud answers.
	ReasonReachable = "CloudReachable"
	// ReasonUnreachable is CloudReachable's reason while the ping fails.
	ReasonUnreachable = "CloudUnreachable"
)

// readyMessage is Ready's message; it says where the cloud's health is
// shown, for whoever looks for it on Ready.
const readyMessage = "faas-kubelet is posting ready status; the cloud's health is the CloudReachable condition"

// Spec is the Node object a node config registers. It is Ready from the
// start (this process serves it once it is registered) and its cloud is not
// checked yet; it never carries TaintCloudUnreachable, which the health
// loop adds only once a ping has failed.
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
			Phase:       corev1.NodeRunning,
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
				{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: ReasonReady, Message: readyMessage},
				{Type: ConditionCloudReachable, Status: corev1.ConditionUnknown, Reason: ReasonNotChecked, Message: "the cloud has not been pinged yet"},
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
