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
// this process is alive (it always succeeds), and the node's Ready
// condition stays True with it: a NotReady node has its pods evicted, and a
// cloud that does not answer for a while (an outage of its control plane,
// an expired credential) leaves the functions running. The cloud's health
// is checked here and shown as the CloudReachable condition, with the
// ping's error as its message, and while it is False the node carries
// TaintCloudUnreachable so that new pods go elsewhere.
//
// There is no hysteresis: one failed ping turns CloudReachable False and
// one good ping True again. The taint only stops new placements, so a
// spurious one costs little, and the condition tells what the last ping
// saw.
type health struct {
	cloud    Pinger
	interval time.Duration
	timeout  time.Duration
	now      func() time.Time
	taint    *cloudTaint // nil: conditions only

	mu   sync.Mutex
	node *corev1.Node
}

var _ vknode.NodeProvider = (*health)(nil)

func newHealth(cloud Pinger, node *corev1.Node, interval time.Duration, taint *cloudTaint) *health {
	timeout := interval
	if timeout > 10*time.Second {
		timeout = 10 * time.Second
	}
	return &health{cloud: cloud, node: node.DeepCopy(), interval: interval, timeout: timeout, now: time.Now, taint: taint}
}

// Ping reports that this process can serve the node.
func (h *health) Ping(ctx context.Context) error { return ctx.Err() }

// NotifyNodeStatus starts the cloud health loop; cb receives the node each
// time its CloudReachable condition or the account's figures change.
// Virtual Kubelet writes the whole status it was last given, heartbeat
// included, so the condition is kept between changes.
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

// check pings the cloud (reading the account where the backend can), asks
// for the taint to follow, and returns the updated node when
// CloudReachable or the account's figures changed.
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
	if h.taint != nil {
		h.taint.set(err != nil)
	}
	cond := cloudCondition(err)
	h.mu.Lock()
	defer h.mu.Unlock()
	changed := account != nil && showAccount(h.node, account)
	transition, set := setCondition(h.node, cond, h.now())
	if transition && err == nil {
		log.G(ctx).Info("cloud reachable")
	} else if transition {
		log.G(ctx).WithField("message", cond.Message).Warn("cloud unreachable: new pods are kept off the node")
	}
	if !changed && !set {
		return nil
	}
	return h.node.DeepCopy()
}

// cloudCondition is CloudReachable after a ping that returned err.
func cloudCondition(err error) corev1.NodeCondition {
	if err == nil {
		return corev1.NodeCondition{Type: ConditionCloudReachable, Status: corev1.ConditionTrue, Reason: ReasonReachable,
			Message: "the cloud answers; functions can be created"}
	}
	return corev1.NodeCondition{Type: ConditionCloudReachable, Status: corev1.ConditionFalse, Reason: ReasonUnreachable,
		Message: "cloud ping failed: " + redact(err.Error())}
}

// setCondition writes c into the node's conditions (its transition time
// when the status changes) and says whether the status changed and
// whether anything did.
func setCondition(n *corev1.Node, c corev1.NodeCondition, now time.Time) (transition, changed bool) {
	for i := range n.Status.Conditions {
		old := &n.Status.Conditions[i]
		if old.Type != c.Type {
			continue
		}
		if old.Status == c.Status && old.Reason == c.Reason && old.Message == c.Message {
			return false, false
		}
		transition = old.Status != c.Status
		c.LastHeartbeatTime, c.LastTransitionTime = old.LastHeartbeatTime, old.LastTransitionTime
		if transition {
			c.LastTransitionTime = metav1.NewTime(now)
		}
		*old = c
		return transition, true
	}
	c.LastTransitionTime = metav1.NewTime(now)
	n.Status.Conditions = append(n.Status.Conditions, c)
	return true, true
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
