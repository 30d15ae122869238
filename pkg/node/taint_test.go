package node

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

var (
	providerTaint = corev1.Taint{Key: "virtual-kubelet.io/provider", Value: "aws-lambda", Effect: corev1.TaintEffectNoSchedule}
	oursTaint     = corev1.Taint{Key: TaintCloudUnreachable, Effect: corev1.TaintEffectNoSchedule}
	adminTaint    = corev1.Taint{Key: "example.com/maintenance", Effect: corev1.TaintEffectPreferNoSchedule}
)

func TestWithCloudTaint(t *testing.T) {
	noExecute := corev1.Taint{Key: TaintCloudUnreachable, Effect: corev1.TaintEffectNoExecute}
	for _, tc := range []struct {
		name    string
		in      []corev1.Taint
		present bool
		want    []corev1.Taint
		changed bool
	}{
		{"added after the others", []corev1.Taint{providerTaint, adminTaint}, true, []corev1.Taint{providerTaint, adminTaint, oursTaint}, true},
		{"added to none", nil, true, []corev1.Taint{oursTaint}, true},
		{"already there", []corev1.Taint{oursTaint, providerTaint}, true, []corev1.Taint{oursTaint, providerTaint}, false},
		{"one left of two", []corev1.Taint{oursTaint, providerTaint, oursTaint}, true, []corev1.Taint{oursTaint, providerTaint}, true},
		{"never NoExecute", []corev1.Taint{noExecute, providerTaint}, true, []corev1.Taint{providerTaint, oursTaint}, true},
		{"removed, others kept", []corev1.Taint{providerTaint, oursTaint, adminTaint}, false, []corev1.Taint{providerTaint, adminTaint}, true},
		{"every effect removed", []corev1.Taint{noExecute}, false, []corev1.Taint{}, true},
		{"nothing to remove", []corev1.Taint{providerTaint}, false, []corev1.Taint{providerTaint}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, changed := withCloudTaint(tc.in, tc.present)
			if !reflect.DeepEqual(got, tc.want) || changed != tc.changed {
				t.Errorf("got %v (changed %v), want %v (changed %v)", got, changed, tc.want, tc.changed)
			}
		})
	}
}

func taintedNode(rv string, taints ...corev1.Taint) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "vk", ResourceVersion: rv}, Spec: corev1.NodeSpec{Taints: taints}}
}

var nodesResource = schema.GroupVersionResource{Version: "v1", Resource: "nodes"}

// The patch replaces spec.taints (it has no merge key) and names the
// resourceVersion it was computed from, so that a concurrent change is a
// conflict rather than lost.
func TestCloudTaintPatchIsConditionalOnTheNodeRead(t *testing.T) {
	client := fake.NewClientset(taintedNode("7", providerTaint))
	var patch []byte
	client.PrependReactor("patch", "nodes", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.PatchAction)
		if p.GetPatchType() != "application/strategic-merge-patch+json" || p.GetSubresource() != "" {
			t.Errorf("patch type %s of subresource %q", p.GetPatchType(), p.GetSubresource())
		}
		patch = p.GetPatch()
		return false, nil, nil
	})
	ct := newCloudTaint(client.CoreV1().Nodes(), "vk")
	ct.set(true)
	if err := ct.sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Metadata struct {
			ResourceVersion string `json:"resourceVersion"`
		} `json:"metadata"`
		Spec struct {
			Taints []corev1.Taint `json:"taints"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(patch, &got); err != nil {
		t.Fatalf("patch %s: %v", patch, err)
	}
	if got.Metadata.ResourceVersion != "7" || !reflect.DeepEqual(got.Spec.Taints, []corev1.Taint{providerTaint, oursTaint}) {
		t.Errorf("patch %s", patch)
	}
}

// A conflict (someone changed the node between our read and our patch) is
// read again: their taint and ours are both kept.
func TestCloudTaintRetriesOnConflict(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset(taintedNode("1", providerTaint))
	conflicts := 1
	client.PrependReactor("patch", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
		if conflicts == 0 {
			return false, nil, nil
		}
		conflicts--
		// The admin's write lands first.
		if err := client.Tracker().Update(nodesResource, taintedNode("2", providerTaint, adminTaint), ""); err != nil {
			t.Fatal(err)
		}
		return true, nil, apierrors.NewConflict(schema.GroupResource{Resource: "nodes"}, "vk", errors.New("the object has been modified"))
	})
	ct := newCloudTaint(client.CoreV1().Nodes(), "vk")
	ct.set(true)
	if err := ct.sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := taintsOf(t, client, "vk"); !reflect.DeepEqual(got, []corev1.Taint{providerTaint, adminTaint, oursTaint}) {
		t.Errorf("taints: %v", got)
	}
	var verbs []string
	for _, a := range client.Actions() {
		verbs = append(verbs, a.GetVerb())
	}
	if want := []string{"get", "patch", "get", "patch", "get"}; !reflect.DeepEqual(verbs, want) {
		t.Errorf("calls %v, want %v", verbs, want)
	}
}

// Before the node is registered there is nothing to untaint, and a taint
// waits for the node.
func TestCloudTaintBeforeRegistration(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset()
	ct := newCloudTaint(client.CoreV1().Nodes(), "vk")
	ct.set(false)
	if err := ct.sync(ctx); err != nil {
		t.Errorf("no node, no taint wanted: %v", err)
	}
	ct.set(true)
	if err := ct.sync(ctx); !apierrors.IsNotFound(err) {
		t.Errorf("no node, taint wanted: %v", err)
	}
	if _, err := client.CoreV1().Nodes().Create(ctx, taintedNode("", providerTaint), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := ct.sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := taintsOf(t, client, "vk"); !reflect.DeepEqual(got, []corev1.Taint{providerTaint, oursTaint}) {
		t.Errorf("taints: %v", got)
	}
}

// The loop retries a failed write after its back-off (the node registered
// meanwhile).
func TestCloudTaintLoopRetries(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := fake.NewClientset()
	patched := make(chan struct{}, 1)
	client.PrependReactor("patch", "nodes", func(k8stesting.Action) (bool, runtime.Object, error) {
		patched <- struct{}{}
		return false, nil, nil
	})
	fc := clocktesting.NewFakeClock(time.Unix(0, 0))
	ct := newCloudTaint(client.CoreV1().Nodes(), "vk")
	ct.clock = fc
	done := make(chan struct{})
	go func() { ct.run(ctx); close(done) }()
	ct.set(true)

	deadline := time.Now().Add(10 * time.Second)
	for !fc.HasWaiters() { // the first write failed: the loop waits out its back-off
		if time.Now().After(deadline) {
			t.Fatal("the loop never backed off")
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := client.CoreV1().Nodes().Create(ctx, taintedNode("", providerTaint), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	fc.Step(taintRetryFirst)
	select {
	case <-patched:
	case <-time.After(10 * time.Second):
		t.Fatal("the taint was not written after the back-off")
	}
	cancel()
	<-done
	if got := taintsOf(t, client, "vk"); !reflect.DeepEqual(got, []corev1.Taint{providerTaint, oursTaint}) {
		t.Errorf("taints: %v", got)
	}
}

// A node deleted while the cloud fails is registered again with the taint.
func TestRecreatedNodeKeepsTheTaint(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset()
	spec, err := Spec(testNodeConfig(), "v", time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	ct := newCloudTaint(client.CoreV1().Nodes(), spec.Name)
	ct.set(true)
	handle := recreateNode(client, spec, ct)
	if err := handle(ctx, apierrors.NewNotFound(schema.GroupResource{Resource: "nodes"}, spec.Name)); err != nil {
		t.Fatal(err)
	}
	if got := taintsOf(t, client, spec.Name); !reflect.DeepEqual(got, []corev1.Taint{providerTaint, oursTaint}) {
		t.Errorf("taints: %v", got)
	}
	if len(spec.Spec.Taints) != 1 {
		t.Errorf("the spec was changed: %v", spec.Spec.Taints)
	}
}
