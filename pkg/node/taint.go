package node

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/log"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/clock"
)

// TaintCloudUnreachable is the key of the NoSchedule taint a node carries
// while its CloudReachable condition is False: pods already on the node
// stay (their functions keep running in the cloud), new ones go elsewhere.
// It is never NoExecute.
const TaintCloudUnreachable = "faas-kubelet.io/cloud-unreachable"

// Back-off of a taint write that failed (the API server is away, or the
// node is not registered yet).
const (
	taintRetryFirst = 500 * time.Millisecond
	taintRetryMax   = 30 * time.Second
)

// cloudTaint keeps TaintCloudUnreachable on the node while the cloud does
// not answer. Taints are in the node's spec, which Virtual Kubelet's node
// controller never writes after registering the node (it patches the
// status subresource only), so they are written here, apart from the
// health loop: a slow API server never delays a ping.
type cloudTaint struct {
	nodes corev1client.NodeInterface
	name  string
	clock clock.Clock
	kick  chan struct{}

	mu     sync.Mutex
	want   bool // the node should carry the taint
	synced bool // the node was last seen or written as want
}

func newCloudTaint(nodes corev1client.NodeInterface, name string) *cloudTaint {
	return &cloudTaint{nodes: nodes, name: name, clock: clock.RealClock{}, kick: make(chan struct{}, 1)}
}

// set records whether the node should carry the taint; run writes it. It
// may be called after every ping: an unchanged wish that is already on the
// node costs nothing.
func (t *cloudTaint) set(present bool) {
	t.mu.Lock()
	if t.want == present && t.synced {
		t.mu.Unlock()
		return
	}
	t.want, t.synced = present, false
	t.mu.Unlock()
	t.wake()
}

// resync makes run read the node again, which may have been replaced.
func (t *cloudTaint) resync() {
	t.mu.Lock()
	t.synced = false
	t.mu.Unlock()
	t.wake()
}

func (t *cloudTaint) wake() {
	select {
	case t.kick <- struct{}{}:
	default:
	}
}

// present says whether the node should carry the taint now.
func (t *cloudTaint) present() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.want
}

// run writes the taint each time set or resync asks, until ctx ends; a
// failed write is tried again with a back-off, or at once when asked again.
func (t *cloudTaint) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.kick:
		}
		for delay := taintRetryFirst; ; delay = min(2*delay, taintRetryMax) {
			err := t.sync(ctx)
			if err == nil || ctx.Err() != nil {
				break
			}
			log.G(ctx).WithError(err).WithField("retryIn", delay.String()).Warn("could not write the node's cloud-unreachable taint")
			select {
			case <-ctx.Done():
				return
			case <-t.clock.After(delay):
			case <-t.kick:
			}
		}
	}
}

// sync reads the node and patches its taints when ours is not as wanted.
// spec.taints has no merge key, so a strategic merge patch replaces the
// whole list: the patch carries the list read, with ours added or removed,
// and the node's resourceVersion, so that a concurrent change of the taints
// (the node lifecycle controller's, an admin's) is a conflict, read again
// and kept. This is how the node lifecycle controller writes taints
// (PatchNodeTaints in k8s.io/kubernetes/pkg/controller).
func (t *cloudTaint) sync(ctx context.Context) error {
	t.mu.Lock()
	want, synced := t.want, t.synced
	t.mu.Unlock()
	if synced {
		return nil
	}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		n, err := t.nodes.Get(ctx, t.name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) && !want {
			return nil // it will be registered from Spec, without the taint
		}
		if err != nil {
			return err
		}
		taints, changed := withCloudTaint(n.Spec.Taints, want)
		if !changed {
			return nil
		}
		meta := map[string]any{}
		if n.ResourceVersion != "" {
			meta["resourceVersion"] = n.ResourceVersion
		}
		patch, err := json.Marshal(map[string]any{"metadata": meta, "spec": map[string]any{"taints": taints}})
		if err != nil {
			return err
		}
		if _, err := t.nodes.Patch(ctx, t.name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
			return err
		}
		if want {
			log.G(ctx).Info("cloud unreachable: node tainted " + TaintCloudUnreachable + ":NoSchedule")
		} else {
			log.G(ctx).Info("cloud reachable: taint " + TaintCloudUnreachable + " removed")
		}
		return nil
	})
	if err != nil {
		return err
	}
	t.mu.Lock()
	if t.want == want {
		t.synced = true
	}
	t.mu.Unlock()
	return nil
}

// withCloudTaint returns taints with exactly one TaintCloudUnreachable
// (NoSchedule, no value) when present, none otherwise, every other taint
// kept in its place; changed is false when taints already were so.
func withCloudTaint(taints []corev1.Taint, present bool) (_ []corev1.Taint, changed bool) {
	out := make([]corev1.Taint, 0, len(taints)+1)
	kept := false
	for _, tn := range taints {
		if tn.Key != TaintCloudUnreachable {
			out = append(out, tn)
			continue
		}
		if present && !kept && tn.Effect == corev1.TaintEffectNoSchedule && tn.Value == "" {
			out = append(out, tn)
			kept = true
		}
	}
	if present && !kept {
		out = append(out, corev1.Taint{Key: TaintCloudUnreachable, Effect: corev1.TaintEffectNoSchedule})
	}
	return out, !equality.Semantic.DeepEqual(out, taints)
}
