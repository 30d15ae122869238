// Command vkmock-tuned runs Virtual Kubelet's mock provider (v1.13.0, the
// provider of `virtual-kubelet --provider mock`, copied unchanged into
// ./mock) with the settings faas-kubelet runs Virtual Kubelet's controllers
// with, for make bench's "VK mock, tuned" baseline:
//
//   - a client of 500 QPS and a burst of 1000 speaking protobuf (the
//     command as shipped uses client-go's defaults: 5 QPS, 10 burst, JSON),
//     and events on a client of their own (100 QPS, 500 burst);
//   - 64 pod workers (shipped: 10);
//   - pod controller queues that back off only a failed pod, 5 ms doubling
//     to 30 s (shipped: client-go's controller limiter, 10 pods/s after a
//     burst of 100).
//
// nodeutil.NewNode has no option for the queues' limiters, so the pod and
// node controllers are wired here as nodeutil wires them, as faas-kubelet's
// pkg/node does. The mock keeps its pods in a map without a lock; calls into
// it are serialized (each takes microseconds), which the shipped command's
// slower client hid. It serves no kubelet API: the benchmark does not use it.
//
// The e2e benchmark builds it from this module, as it builds faas-kubelet.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path"
	"runtime"
	"sync"
	"syscall"
	"time"

	vklog "github.com/virtual-kubelet/virtual-kubelet/log"
	vkslog "github.com/virtual-kubelet/virtual-kubelet/log/slog"
	"github.com/virtual-kubelet/virtual-kubelet/node"
	"github.com/virtual-kubelet/virtual-kubelet/node/nodeutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/faas-kubelet/faas-kubelet/hack/vkmock-tuned/mock"
)

type options struct {
	nodeName, providerConfig, kubeconfig string
	workers                              int
	qps, eventQPS                        float64
	burst, eventBurst                    int
}

func main() {
	var o options
	flag.StringVar(&o.nodeName, "nodename", "virtual-kubelet", "the node's name")
	flag.StringVar(&o.providerConfig, "provider-config", "", "the mock provider's config (JSON, by node name)")
	flag.StringVar(&o.kubeconfig, "kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig of the API server")
	flag.IntVar(&o.workers, "workers", 64, "pod workers (faas-kubelet's default)")
	flag.Float64Var(&o.qps, "client-qps", 500, "API server requests per second (faas-kubelet's clientQPS)")
	flag.IntVar(&o.burst, "client-burst", 1000, "API server request burst (faas-kubelet's clientBurst)")
	flag.Float64Var(&o.eventQPS, "event-qps", 100, "event writes per second (faas-kubelet's eventQPS)")
	flag.IntVar(&o.eventBurst, "event-burst", 500, "event write burst (faas-kubelet's eventBurst)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	vklog.L = vkslog.FromSlog(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if err := run(vklog.WithLogger(ctx, vklog.L), o); err != nil {
		fmt.Fprintln(os.Stderr, "vkmock-tuned:", err)
		os.Exit(1)
	}
}

func clients(o options) (client, events kubernetes.Interface, err error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", o.kubeconfig)
	if err != nil {
		return nil, nil, err
	}
	cfg.QPS, cfg.Burst = float32(o.qps), o.burst
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	cfg.UserAgent = "vkmock-tuned"
	if client, err = kubernetes.NewForConfig(cfg); err != nil {
		return nil, nil, err
	}
	ecfg := rest.CopyConfig(cfg)
	ecfg.QPS, ecfg.Burst = float32(o.eventQPS), o.eventBurst
	events, err = kubernetes.NewForConfig(ecfg)
	return client, events, err
}

// queueLimiter is faas-kubelet's: a failed pod backs off, no other waits.
func queueLimiter() workqueue.TypedRateLimiter[any] {
	return workqueue.NewTypedItemExponentialFailureRateLimiter[any](5*time.Millisecond, 30*time.Second)
}

func run(ctx context.Context, o options) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	client, eventClient, err := clients(o)
	if err != nil {
		return err
	}
	p, err := mock.NewMockProvider(o.providerConfig, o.nodeName, "linux", os.Getenv("VKUBELET_POD_IP"), 10250)
	if err != nil {
		return err
	}
	// The node as nodeutil.NewNode describes it, configured by the provider
	// as the shipped command does.
	spec := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: o.nodeName, Labels: map[string]string{
		"type": "virtual-kubelet", "kubernetes.io/role": "agent", "kubernetes.io/hostname": o.nodeName}}}
	p.ConfigureNode(ctx, spec)
	spec.Status.NodeInfo.KubeletVersion = "v1.13.0-mock-tuned"
	spec.Status.NodeInfo.Architecture = runtime.GOARCH

	podFactory := informers.NewSharedInformerFactoryWithOptions(client, time.Minute, nodeutil.PodInformerFilter(o.nodeName))
	refFactory := informers.NewSharedInformerFactoryWithOptions(client, time.Minute)
	eb := record.NewBroadcaster()
	eb.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: eventClient.CoreV1().Events(corev1.NamespaceAll)})
	defer eb.Shutdown()
	pc, err := node.NewPodController(node.PodControllerConfig{
		PodClient:                            client.CoreV1(),
		EventRecorder:                        eb.NewRecorder(scheme.Scheme, corev1.EventSource{Component: path.Join(o.nodeName, "pod-controller")}),
		Provider:                             &serialized{p: p},
		PodInformer:                          podFactory.Core().V1().Pods(),
		SecretInformer:                       refFactory.Core().V1().Secrets(),
		ConfigMapInformer:                    refFactory.Core().V1().ConfigMaps(),
		ServiceInformer:                      refFactory.Core().V1().Services(),
		SyncPodsFromKubernetesRateLimiter:    queueLimiter(),
		DeletePodsFromKubernetesRateLimiter:  queueLimiter(),
		SyncPodStatusFromProviderRateLimiter: queueLimiter(),
	})
	if err != nil {
		return err
	}
	nc, err := node.NewNodeController(node.NewNaiveNodeProvider(), spec, client.CoreV1().Nodes(),
		node.WithNodeEnableLeaseV1(nodeutil.NodeLeaseV1Client(client), node.DefaultLeaseDuration))
	if err != nil {
		return err
	}
	podFactory.Start(ctx.Done())
	refFactory.Start(ctx.Done())
	errc := make(chan error, 2)
	go func() { errc <- pc.Run(ctx, o.workers) }()
	select {
	case <-pc.Ready():
	case err := <-errc:
		return err
	}
	// Ready once the pod controller is, as nodeutil's setNodeReady marks it.
	spec.Status.Phase = corev1.NodeRunning
	for i := range spec.Status.Conditions {
		if c := &spec.Status.Conditions[i]; c.Type == corev1.NodeReady {
			now := metav1.Now()
			c.Status, c.Reason, c.Message = corev1.ConditionTrue, "KubeletReady", "Kubelet is ready"
			c.LastHeartbeatTime, c.LastTransitionTime = now, now
		}
	}
	go func() { errc <- nc.Run(ctx) }()
	vklog.G(ctx).Info("Ready")
	select {
	case <-ctx.Done():
		return nil
	case err := <-errc:
		return err
	}
}

// serialized calls the mock one call at a time, and calls the pod
// controller's notifier (which may wait) outside the lock, with a copy of
// what the mock notified.
type serialized struct {
	mu      sync.Mutex
	p       *mock.MockProvider
	notify  func(*corev1.Pod)
	pending []*corev1.Pod
}

var _ interface {
	node.PodLifecycleHandler
	node.PodNotifier
} = (*serialized)(nil)

func (s *serialized) NotifyPods(ctx context.Context, f func(*corev1.Pod)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notify = f
	s.p.NotifyPods(ctx, func(pod *corev1.Pod) { s.pending = append(s.pending, pod.DeepCopy()) })
}

func (s *serialized) do(f func() error) error {
	s.mu.Lock()
	err := f()
	pending, notify := s.pending, s.notify
	s.pending = nil
	s.mu.Unlock()
	for _, pod := range pending {
		notify(pod)
	}
	return err
}

func (s *serialized) CreatePod(ctx context.Context, pod *corev1.Pod) error {
	return s.do(func() error { return s.p.CreatePod(ctx, pod) })
}

func (s *serialized) UpdatePod(ctx context.Context, pod *corev1.Pod) error {
	return s.do(func() error { return s.p.UpdatePod(ctx, pod) })
}

func (s *serialized) DeletePod(ctx context.Context, pod *corev1.Pod) error {
	return s.do(func() error { return s.p.DeletePod(ctx, pod) })
}

func (s *serialized) GetPod(ctx context.Context, namespace, name string) (pod *corev1.Pod, err error) {
	err = s.do(func() error {
		pod, err = s.p.GetPod(ctx, namespace, name)
		if pod != nil {
			pod = pod.DeepCopy()
		}
		return err
	})
	return pod, err
}

func (s *serialized) GetPodStatus(ctx context.Context, namespace, name string) (status *corev1.PodStatus, err error) {
	err = s.do(func() error {
		status, err = s.p.GetPodStatus(ctx, namespace, name)
		if status != nil {
			status = status.DeepCopy()
		}
		return err
	})
	return status, err
}

func (s *serialized) GetPods(ctx context.Context) (pods []*corev1.Pod, err error) {
	err = s.do(func() error {
		pods, err = s.p.GetPods(ctx)
		for i := range pods {
			pods[i] = pods[i].DeepCopy()
		}
		return err
	})
	return pods, err
}
