package node

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/log"
	vknode "github.com/virtual-kubelet/virtual-kubelet/node"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/faas-kubelet/faas-kubelet/pkg/metrics"
	"github.com/faas-kubelet/faas-kubelet/provider"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// Pinger is the part of a backend the node's health needs.
type Pinger interface {
	Ping(ctx context.Context) error
}

// health is the node's NodeProvider. Virtual Kubelet's own ping only says
// this process is alive (it always succeeds); the cloud's health is checked
// here and reported as the Ready condition with a message saying why, so a
// node whose cloud is unreachable goes NotReady rather than silently stale.
type health struct {
	cloud    Pinger
	interval time.Duration
	timeout  time.Duration
	now      func() time.Time

	mu   sync.Mutex
	node *corev1.Node
}

var _ vknode.NodeProvider = (*health)(nil)

func newHealth(cloud Pinger, node *corev1.Node, interval time.Duration) *health {
	timeout := interval
	if timeout > 10*time.Second {
		timeout = 10 * time.Second
	}
	return &health{cloud: cloud, node: node.DeepCopy(), interval: interval, timeout: timeout, now: time.Now}
}

// Ping reports that this process can serve the node.
func (h *health) Ping(ctx context.Context) error { return ctx.Err() }

// NotifyNodeStatus starts the cloud health loop; cb receives the node each
// time its Ready condition changes.
func (h *health) NotifyNodeStatus(ctx context.Context, cb func(*corev1.Node)) {
	go func() {
		t := time.NewTicker(h.interval)
		defer t.Stop()
		for {
			if changed := h.check(ctx); changed != nil {
				cb(changed)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// check pings the cloud (reading the account where the backend can) and
// returns the updated node when Ready or the account's figures changed.
func (h *health) check(ctx context.Context) *corev1.Node {
	pctx, cancel := context.WithTimeout(ctx, h.timeout)
	var account *translate.Account
	var err error
	if r, ok := h.cloud.(provider.AccountReporter); ok {
		account, err = r.Account(pctx)
	} else {
		err = h.cloud.Ping(pctx)
	}
	cancel()
	if ctx.Err() != nil {
		return nil
	}
	metrics.FromContext(ctx).Ready(err == nil)
	status, reason, msg := corev1.ConditionTrue, ReasonReady, "the cloud answers; functions can be created"
	if err != nil {
		status, reason, msg = corev1.ConditionFalse, ReasonUnreachable, "cloud ping failed: "+err.Error()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	changed := account != nil && showAccount(h.node, account)
	for i := range h.node.Status.Conditions {
		c := &h.node.Status.Conditions[i]
		if c.Type != corev1.NodeReady {
			continue
		}
		if c.Status == status && c.Message == msg {
			if changed {
				return h.node.DeepCopy()
			}
			return nil
		}
		if c.Status != status {
			c.LastTransitionTime = metav1.NewTime(h.now())
			if status == corev1.ConditionTrue {
				log.G(ctx).Info("cloud reachable: node Ready")
			} else {
				log.G(ctx).WithError(err).Warn("cloud unreachable: node NotReady")
			}
		}
		c.Status, c.Reason, c.Message = status, reason, msg
	}
	if status == corev1.ConditionTrue {
		h.node.Status.Phase = corev1.NodeRunning
	}
	return h.node.DeepCopy()
}

// ResourcePrefix names the node extended resources that show the account's
// quotas (faas-kubelet.io/concurrent-executions).
const ResourcePrefix = "faas-kubelet.io/"

// showAccount writes the account onto the node the way kubectl describe
// node shows a kubelet's machine: the service and account as the OS image,
// the service's API as the container runtime, and the quotas as extended
// resources (the quota as capacity, what is still free as allocatable).
// It reports whether anything changed.
func showAccount(n *corev1.Node, a *translate.Account) bool {
	before := n.Status.DeepCopy()
	info := &n.Status.NodeInfo
	info.OSImage = a.Service
	if a.ID != "" {
		info.OSImage += ", account " + a.ID
	}
	info.ContainerRuntimeVersion = a.Runtime
	for _, rl := range []corev1.ResourceList{n.Status.Capacity, n.Status.Allocatable} {
		for name := range rl {
			if strings.HasPrefix(string(name), ResourcePrefix) {
				delete(rl, name)
			}
		}
	}
	for name, v := range a.Capacity {
		n.Status.Capacity[corev1.ResourceName(ResourcePrefix+name)] = *resource.NewQuantity(v, resource.DecimalSI)
	}
	for name, v := range a.Allocatable {
		n.Status.Allocatable[corev1.ResourceName(ResourcePrefix+name)] = *resource.NewQuantity(v, resource.DecimalSI)
	}
	return !equality.Semantic.DeepEqual(before, &n.Status)
}
