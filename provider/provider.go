package provider

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	"github.com/virtual-kubelet/virtual-kubelet/log"
	"github.com/virtual-kubelet/virtual-kubelet/node"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	"github.com/virtual-kubelet/virtual-kubelet/node/nodeutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Tag keys recording which pod and node own a function.
const (
	TagPodUID       = "faas-kubelet.io/pod-uid"
	TagPodNamespace = "faas-kubelet.io/pod-namespace"
	TagPodName      = "faas-kubelet.io/pod-name"
	TagNode         = "faas-kubelet.io/node"
)

// Options configure a Provider.
type Options struct {
	// NodeName is the virtual node this provider serves.
	NodeName string
	// Backend is the cloud behind the node.
	Backend Backend
	// Now returns the current time; tests set it.
	Now func() time.Time
}

// Provider is the cloud-neutral core for one virtual node.
type Provider struct {
	nodeName string
	backend  Backend
	now      func() time.Time
	started  time.Time

	mu     sync.Mutex
	pods   map[types.UID]*corev1.Pod
	notify func(*corev1.Pod)
}

var (
	_ nodeutil.Provider = (*Provider)(nil)
	_ node.PodNotifier  = (*Provider)(nil)
)

// New returns the core for one node.
func New(opts Options) (*Provider, error) {
	if opts.NodeName == "" || opts.Backend == nil {
		return nil, errors.New("provider: NodeName and Backend are required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Provider{
		nodeName: opts.NodeName,
		backend:  opts.Backend,
		now:      opts.Now,
		started:  opts.Now(),
		pods:     map[types.UID]*corev1.Pod{},
		notify:   func(*corev1.Pod) {},
	}, nil
}

// FunctionName derives the function's name from the pod, so that a retried
// create names the same function and a pod recreated under the same name
// (a new UID) gets a new one.
func FunctionName(pod *corev1.Pod) string {
	sum := sha256.Sum256([]byte(pod.UID))
	base := strings.ToLower(pod.Namespace + "-" + pod.Name)
	if len(base) > 40 {
		base = base[:40]
	}
	return "fk-" + strings.Trim(base, "-") + "-" + hex.EncodeToString(sum[:])[:10]
}

func (p *Provider) functionFor(pod *corev1.Pod) *Function {
	tags := map[string]string{
		TagPodUID:       string(pod.UID),
		TagPodNamespace: pod.Namespace,
		TagPodName:      pod.Name,
		TagNode:         p.nodeName,
	}
	for k, v := range pod.Labels {
		if _, reserved := tags[k]; !reserved {
			tags[k] = v
		}
	}
	fn := &Function{Name: FunctionName(pod), Tags: tags}
	if len(pod.Spec.Containers) > 0 {
		c := pod.Spec.Containers[0]
		fn.Image = c.Image
		fn.Env = map[string]string{}
		for _, e := range c.Env {
			fn.Env[e.Name] = e.Value
		}
	}
	return fn
}

// CreatePod deploys the pod's function and reports its status.
func (p *Provider) CreatePod(ctx context.Context, pod *corev1.Pod) error {
	return p.deploy(ctx, pod)
}

// UpdatePod redeploys the function to match the pod.
func (p *Provider) UpdatePod(ctx context.Context, pod *corev1.Pod) error {
	return p.deploy(ctx, pod)
}

func (p *Provider) deploy(ctx context.Context, pod *corev1.Pod) error {
	fn := p.functionFor(pod)
	ctx = log.WithLogger(ctx, log.G(ctx).WithFields(log.Fields{"pod": pod.Namespace + "/" + pod.Name, "uid": pod.UID, "function": fn.Name}))
	state, err := p.backend.Deploy(ctx, fn)
	if err != nil {
		if errdefs.IsInvalidInput(err) || errors.Is(err, ErrNotSupported) {
			state = &FunctionState{Name: fn.Name, Phase: PhaseFailed, Reason: "InvalidSpec", Message: err.Error()}
		} else {
			return fmt.Errorf("deploying function %s: %w", fn.Name, err)
		}
	}
	log.G(ctx).WithField("phase", state.Phase).Info("function deployed")
	p.store(pod, state)
	return nil
}

func (p *Provider) store(pod *corev1.Pod, state *FunctionState) {
	updated := pod.DeepCopy()
	updated.Status = PodStatus(pod, state, p.now())
	p.mu.Lock()
	p.pods[pod.UID] = updated
	notify := p.notify
	p.mu.Unlock()
	notify(updated.DeepCopy())
}

// DeletePod deletes the function and reports the pod's final status.
func (p *Provider) DeletePod(ctx context.Context, pod *corev1.Pod) error {
	name := FunctionName(pod)
	if err := p.backend.Delete(ctx, name); err != nil {
		return fmt.Errorf("deleting function %s: %w", name, err)
	}
	final := pod.DeepCopy()
	final.Status = TerminatedStatus(pod, p.now())
	p.mu.Lock()
	delete(p.pods, pod.UID)
	notify := p.notify
	p.mu.Unlock()
	log.G(ctx).WithField("function", name).Info("function deleted")
	notify(final)
	return nil
}

// GetPod returns the pod record for namespace/name.
func (p *Provider) GetPod(_ context.Context, namespace, name string) (*corev1.Pod, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pod := range p.pods {
		if pod.Namespace == namespace && pod.Name == name {
			return pod.DeepCopy(), nil
		}
	}
	return nil, errdefs.NotFoundf("pod %s/%s is not known to node %s", namespace, name, p.nodeName)
}

// GetPodStatus returns the status of namespace/name.
func (p *Provider) GetPodStatus(ctx context.Context, namespace, name string) (*corev1.PodStatus, error) {
	pod, err := p.GetPod(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	return &pod.Status, nil
}

// GetPods returns every pod this node runs.
func (p *Provider) GetPods(context.Context) ([]*corev1.Pod, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*corev1.Pod, 0, len(p.pods))
	for _, pod := range p.pods {
		out = append(out, pod.DeepCopy())
	}
	return out, nil
}

// NotifyPods registers the callback that receives status changes.
func (p *Provider) NotifyPods(_ context.Context, cb func(*corev1.Pod)) {
	p.mu.Lock()
	p.notify = cb
	p.mu.Unlock()
}

func (p *Provider) notSupported(what string) error {
	return notSupportedError{NotSupportedf("%s: the %s backend of node %s does not offer it", what, p.backend.Cloud(), p.nodeName)}
}

// GetContainerLogs is not offered until a backend reads its cloud's logs.
func (p *Provider) GetContainerLogs(context.Context, string, string, string, api.ContainerLogOpts) (io.ReadCloser, error) {
	return nil, p.notSupported("container logs")
}

// RunInContainer is not offered yet: functions have no shell.
func (p *Provider) RunInContainer(context.Context, string, string, string, []string, api.AttachIO) error {
	return p.notSupported("exec")
}

// AttachToContainer is not offered: functions have no console.
func (p *Provider) AttachToContainer(context.Context, string, string, string, api.AttachIO) error {
	return p.notSupported("attach")
}

// PortForward is not offered yet.
func (p *Provider) PortForward(context.Context, string, string, int32, io.ReadWriteCloser) error {
	return p.notSupported("port-forward")
}

// GetMetricsResource is not offered yet.
func (p *Provider) GetMetricsResource(context.Context) ([]*dto.MetricFamily, error) {
	return nil, p.notSupported("resource metrics")
}

// nowTime is a helper for metav1 times from the injected clock.
func nowTime(t time.Time) metav1.Time { return metav1.NewTime(t.Truncate(time.Second)) }

// notSupportedError is a request the node cannot serve: the kubelet API
// answers it with 400 and the message, and errors.Is finds ErrNotSupported.
type notSupportedError struct{ error }

func (notSupportedError) InvalidInput() bool { return true }
func (e notSupportedError) Unwrap() error    { return e.error }
