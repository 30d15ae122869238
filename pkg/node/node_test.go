package node

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

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
	if ready := condition(n, corev1.NodeReady); ready.Status != corev1.ConditionTrue || ready.Reason != ReasonReady || n.Status.Phase != corev1.NodeRunning {
		t.Errorf("a new node is Ready (Running) while this process serves it: %+v, phase %s", ready, n.Status.Phase)
	}
	if cloud := condition(n, ConditionCloudReachable); cloud.Status != corev1.ConditionUnknown || cloud.Reason != ReasonNotChecked {
		t.Errorf("a new node's cloud is not checked yet: %+v", cloud)
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

func condition(n *corev1.Node, typ corev1.NodeConditionType) corev1.NodeCondition {
	for _, c := range n.Status.Conditions {
		if c.Type == typ {
			return c
		}
	}
	return corev1.NodeCondition{}
}

// taintsOf reads the node's taints from the API server.
func taintsOf(t *testing.T, client *fake.Clientset, name string) []corev1.Taint {
	t.Helper()
	n, err := client.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return n.Spec.Taints
}

// A failed ping leaves the node Ready, turns CloudReachable False with the
// error and taints the node NoSchedule, once; a good ping turns it back
// and removes the taint, keeping the taints others put on the node.
func TestHealthFollowsTheCloud(t *testing.T) {
	spec, err := Spec(testNodeConfig(), "v", time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	client := fake.NewClientset(spec.DeepCopy())
	taint := newCloudTaint(client.CoreV1().Nodes(), spec.Name)
	p := &pinger{}
	h := newHealth(p, spec, time.Hour, taint)
	now := time.Unix(1000, 0)
	h.now = func() time.Time { return now }
	ctx := context.Background()
	provTaint := spec.Spec.Taints[0]
	ours := corev1.Taint{Key: TaintCloudUnreachable, Effect: corev1.TaintEffectNoSchedule}

	n := h.check(ctx)
	if c := condition(n, ConditionCloudReachable); c.Status != corev1.ConditionTrue || c.Reason != ReasonReachable || !c.LastTransitionTime.Time.Equal(now) {
		t.Fatalf("after a good ping: %+v", c)
	}
	client.ClearActions()
	if err := taint.sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := taintsOf(t, client, spec.Name); !reflect.DeepEqual(got, []corev1.Taint{provTaint}) {
		t.Errorf("taints while the cloud answers: %v", got)
	}
	for _, a := range client.Actions() {
		if a.GetVerb() == "patch" {
			t.Errorf("an untainted node was patched: %v", a)
		}
	}
	if again := h.check(ctx); again != nil {
		t.Errorf("an unchanged condition was reported again")
	}

	now = now.Add(time.Minute)
	p.set(errors.New("dial tcp: connection refused"))
	n = h.check(ctx)
	if n == nil {
		t.Fatal("a failed ping was not reported")
	}
	if c := condition(n, corev1.NodeReady); c.Status != corev1.ConditionTrue || c.Reason != ReasonReady {
		t.Errorf("Ready after a failed ping: %+v", c)
	}
	c := condition(n, ConditionCloudReachable)
	if c.Status != corev1.ConditionFalse || c.Reason != ReasonUnreachable || c.Message != "cloud ping failed: dial tcp: connection refused" || !c.LastTransitionTime.Time.Equal(now) {
		t.Errorf("CloudReachable after a failed ping: %+v", c)
	}
	if n.Status.Capacity.Pods().IsZero() || len(n.Labels) == 0 {
		t.Error("the reported node lost its capacity or labels")
	}
	if err := taint.sync(ctx); err != nil {
		t.Fatal(err)
	}
	h.check(ctx) // still failing: nothing more to write
	if err := taint.sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := taintsOf(t, client, spec.Name); !reflect.DeepEqual(got, []corev1.Taint{provTaint, ours}) {
		t.Errorf("taints while the cloud fails: %v", got)
	}

	// Someone else taints the node meanwhile.
	node, _ := client.CoreV1().Nodes().Get(ctx, spec.Name, metav1.GetOptions{})
	maintenance := corev1.Taint{Key: "example.com/maintenance", Effect: corev1.TaintEffectPreferNoSchedule}
	node.Spec.Taints = append(node.Spec.Taints, maintenance)
	if _, err := client.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	p.set(nil)
	if c := condition(h.check(ctx), ConditionCloudReachable); c.Status != corev1.ConditionTrue || c.Reason != ReasonReachable {
		t.Errorf("after recovery: %+v", c)
	}
	if err := taint.sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := taintsOf(t, client, spec.Name); !reflect.DeepEqual(got, []corev1.Taint{provTaint, maintenance}) {
		t.Errorf("taints after recovery: %v", got)
	}
}

// The condition shows the ping's error, masking what looks like a
// credential: backends promise error texts without secrets, and an SDK's
// signed URL or token must not reach everyone who can read nodes.
func TestCloudConditionShowsTheErrorWithoutSecrets(t *testing.T) {
	err := errors.New(`Get "https://ak:s3cr3t-pass@fc.cn-hangzhou.aliyuncs.com/?AccessKeyId=LTAI&Signature=c2lnbmF0dXJl&X-Amz-Security-Token=sess-tok": ` +
		`dial tcp: connection refused; body {"SecretAccessKey": "wJalrXUtn"}; Authorization: Bearer eyJhbGciOi.payload.sig`)
	c := cloudCondition(err)
	if c.Status != corev1.ConditionFalse || c.Reason != ReasonUnreachable {
		t.Errorf("condition: %+v", c)
	}
	for _, secret := range []string{"s3cr3t-pass", "c2lnbmF0dXJl", "sess-tok", "wJalrXUtn", "eyJhbGciOi"} {
		if strings.Contains(c.Message, secret) {
			t.Errorf("message carries %q: %s", secret, c.Message)
		}
	}
	for _, shown := range []string{"cloud ping failed: Get ", "fc.cn-hangzhou.aliyuncs.com", "dial tcp: connection refused"} {
		if !strings.Contains(c.Message, shown) {
			t.Errorf("message lost %q: %s", shown, c.Message)
		}
	}
	long := cloudCondition(errors.New(strings.Repeat("é", 2*maxMessage)))
	if len(long.Message) > len("cloud ping failed: ")+maxMessage+len("…") || !utf8.ValidString(long.Message) {
		t.Errorf("a long error is not cut cleanly: %d bytes", len(long.Message))
	}
}

func TestHealthLoopNotifies(t *testing.T) {
	spec, _ := Spec(testNodeConfig(), "v", time.Unix(0, 0))
	p := &pinger{err: errors.New("down")}
	h := newHealth(p, spec, 10*time.Millisecond, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan corev1.ConditionStatus, 10)
	h.NotifyNodeStatus(ctx, func(n *corev1.Node) { got <- condition(n, ConditionCloudReachable).Status })
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
	h := newHealth(a, spec, time.Hour, nil)
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
