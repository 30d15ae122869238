package node

import (
	"context"
	"errors"
	"testing"
	"time"

	vknode "github.com/virtual-kubelet/virtual-kubelet/node"
	"github.com/virtual-kubelet/virtual-kubelet/node/nodeutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// Virtual Kubelet's node controller writes the status it was last given,
// CloudReachable included, on every heartbeat; Ready stays True.
func TestVirtualKubeletKeepsCloudReachable(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	spec, err := Spec(testNodeConfig(), "v", time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	client := fake.NewClientset()
	statusPatches := make(chan struct{}, 100)
	client.PrependReactor("patch", "nodes", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.GetSubresource() == "status" {
			statusPatches <- struct{}{}
		}
		return false, nil, nil
	})
	h := newHealth(&pinger{err: errors.New("dial tcp: connection refused")}, spec, time.Hour, nil)
	nc, err := vknode.NewNodeController(h, spec, client.CoreV1().Nodes(),
		vknode.WithNodeEnableLeaseV1(nodeutil.NodeLeaseV1Client(client), vknode.DefaultLeaseDuration),
		vknode.WithNodeStatusUpdateInterval(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	go nc.Run(ctx) //nolint:errcheck
	for range 5 {  // registration, our report, heartbeats
		select {
		case <-statusPatches:
		case <-time.After(10 * time.Second):
			t.Fatal("no status written")
		}
	}
	cancel()
	<-nc.Done()
	n, err := client.CoreV1().Nodes().Get(context.Background(), spec.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c := condition(n, corev1.NodeReady); c.Status != corev1.ConditionTrue {
		t.Errorf("Ready: %+v", c)
	}
	if c := condition(n, ConditionCloudReachable); c.Status != corev1.ConditionFalse || c.Reason != ReasonUnreachable || c.LastHeartbeatTime.IsZero() {
		t.Errorf("CloudReachable: %+v", c)
	}
}
