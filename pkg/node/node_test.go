package node

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/faas-kubelet/faas-kubelet/pkg/config"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

func testNodeConfig() *config.Node {
	c := &config.Config{Nodes: []config.Node{{
		Name: "vk-lambda", Cloud: "aws-lambda", Region: "eu-west-1", Address: "10.0.0.5",
		Labels: map[string]string{"team": "a"}, Capacity: config.Capacity{Pods: "50"},
	}}}
	c.SetDefaults()
	return &c.Nodes[0]
}

func TestSpecCarriesLabelsTaintCapacityAndEndpoint(t *testing.T) {
	n, err := Spec(testNodeConfig(), "v1.35.4-test", time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"type": "virtual-kubelet", "kubernetes.io/role": "agent", "kubernetes.io/os": "linux",
		"kubernetes.io/hostname": "vk-lambda", "node.kubernetes.io/instance-type": "aws-lambda",
		"topology.kubernetes.io/region": "eu-west-1", "faas-kubelet.io/cloud": "aws-lambda", "team": "a",
	} {
		if n.Labels[k] != want {
			t.Errorf("label %s = %q, want %q", k, n.Labels[k], want)
		}
	}
	want := corev1.Taint{Key: "virtual-kubelet.io/provider", Value: "aws-lambda", Effect: corev1.TaintEffectNoSchedule}
	if len(n.Spec.Taints) != 1 || n.Spec.Taints[0] != want {
		t.Errorf("taints = %v", n.Spec.Taints)
	}
	pods := n.Status.Capacity[corev1.ResourcePods]
	if pods.Cmp(resource.MustParse("50")) != 0 || n.Status.Allocatable.Memory().Cmp(resource.MustParse(config.DefaultCapacityMemory)) != 0 {
		t.Errorf("capacity = %v allocatable = %v", n.Status.Capacity, n.Status.Allocatable)
	}
	if n.Status.DaemonEndpoints.KubeletEndpoint.Port != config.DefaultKubeletPort || n.Status.Addresses[0].Address != "10.0.0.5" {
		t.Errorf("endpoint = %v addresses = %v", n.Status.DaemonEndpoints, n.Status.Addresses)
	}
	if ready := readyCondition(n); ready.Status != corev1.ConditionFalse || ready.Reason != ReasonNotChecked {
		t.Errorf("a new node must start NotReady until the cloud answers: %+v", ready)
	}
}

func TestSpecWithoutTaint(t *testing.T) {
	c := testNodeConfig()
	c.Taint = config.Taint{Disabled: true}
	n, err := Spec(c, "v", time.Unix(0, 0))
	if err != nil || len(n.Spec.Taints) != 0 {
		t.Errorf("taints = %v, err %v", n.Spec.Taints, err)
	}
}

type pinger struct {
	mu  sync.Mutex
	err error
}

func (p *pinger) Ping(context.Context) error { p.mu.Lock(); defer p.mu.Unlock(); return p.err }
func (p *pinger) set(err error)              { p.mu.Lock(); p.err = err; p.mu.Unlock() }

func readyCondition(n *corev1.Node) corev1.NodeCondition {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c
		}
	}
	return corev1.NodeCondition{}
}

func TestHealthFollowsTheCloud(t *testing.T) {
	spec, err := Spec(testNodeConfig(), "v", time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	p := &pinger{}
	h := newHealth(p, spec, time.Hour)
	ctx := context.Background()

	n := h.check(ctx)
	if n == nil || readyCondition(n).Status != corev1.ConditionTrue || n.Status.Phase != corev1.NodeRunning {
		t.Fatalf("after a good ping: %+v", n)
	}
	if again := h.check(ctx); again != nil {
		t.Errorf("an unchanged condition was reported again")
	}
	p.set(errors.New("dial tcp: connection refused"))
	n = h.check(ctx)
	c := readyCondition(n)
	if c.Status != corev1.ConditionFalse || c.Reason != ReasonUnreachable || c.Message != "cloud ping failed: dial tcp: connection refused" {
		t.Errorf("after a failed ping: %+v", c)
	}
	if n.Status.Capacity.Pods().IsZero() || len(n.Labels) == 0 {
		t.Error("the reported node lost its capacity or labels")
	}
	p.set(nil)
	if c := readyCondition(h.check(ctx)); c.Status != corev1.ConditionTrue || c.Reason != ReasonReady {
		t.Errorf("after recovery: %+v", c)
	}
}

func TestHealthLoopNotifies(t *testing.T) {
	spec, _ := Spec(testNodeConfig(), "v", time.Unix(0, 0))
	p := &pinger{err: errors.New("down")}
	h := newHealth(p, spec, 10*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan corev1.ConditionStatus, 10)
	h.NotifyNodeStatus(ctx, func(n *corev1.Node) { got <- readyCondition(n).Status })
	if s := <-got; s != corev1.ConditionFalse {
		t.Fatalf("first report %s, want False", s)
	}
	p.set(nil)
	select {
	case s := <-got:
		if s != corev1.ConditionTrue {
			t.Errorf("second report %s, want True", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("recovery was not reported")
	}
}

func TestSelfSignedCertCoversNameAndAddress(t *testing.T) {
	cert, err := selfSigned([]string{"vk", "10.0.0.5"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(cert.Certificate) != 1 || cert.PrivateKey == nil {
		t.Fatal("incomplete certificate")
	}
}

// accountPinger reports an account with a concurrency quota.
type accountPinger struct {
	pinger
	free int64
}

func (a *accountPinger) Account(ctx context.Context) (*translate.Account, error) {
	if err := a.Ping(ctx); err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return &translate.Account{ID: "123456789012", Service: "AWS Lambda", Runtime: "aws-lambda://2015-03-31",
		Capacity: map[string]int64{"concurrent-executions": 1000}, Allocatable: map[string]int64{"concurrent-executions": a.free}}, nil
}

// The node shows the account (OS image, container runtime) and its quota as
// an extended resource; a change of the quota's free part is reported at
// the next check, an unchanged one is not.
func TestHealthShowsTheAccountAndItsQuota(t *testing.T) {
	spec, err := Spec(testNodeConfig(), "v", time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	a := &accountPinger{free: 1000}
	h := newHealth(a, spec, time.Hour)
	ctx := context.Background()
	n := h.check(ctx)
	const res = corev1.ResourceName("faas-kubelet.io/concurrent-executions")
	if n == nil || n.Status.NodeInfo.OSImage != "AWS Lambda, account 123456789012" || n.Status.NodeInfo.ContainerRuntimeVersion != "aws-lambda://2015-03-31" {
		t.Fatalf("node info: %+v", n)
	}
	if c, al := n.Status.Capacity[res], n.Status.Allocatable[res]; c.Value() != 1000 || al.Value() != 1000 {
		t.Errorf("quota: capacity %s, allocatable %s", c.String(), al.String())
	}
	if n.Status.Capacity.Pods().Value() != 50 {
		t.Errorf("pods capacity lost: %s", n.Status.Capacity.Pods())
	}
	if again := h.check(ctx); again != nil {
		t.Error("an unchanged account was reported again")
	}
	a.mu.Lock()
	a.free = 750
	a.mu.Unlock()
	n = h.check(ctx)
	if n == nil {
		t.Fatal("a changed quota was not reported")
	}
	if al := n.Status.Allocatable[res]; al.Value() != 750 {
		t.Errorf("allocatable after a reservation: %s", al.String())
	}
}
