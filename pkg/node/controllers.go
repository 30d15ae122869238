package node

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/log"
	vknode "github.com/virtual-kubelet/virtual-kubelet/node"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	"github.com/virtual-kubelet/virtual-kubelet/node/nodeutil"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"github.com/faas-kubelet/faas-kubelet/provider"
)

// This file wires Virtual Kubelet's pod and node controllers the way
// nodeutil.NewNode does, with what that helper does not let us set:
//
//   - The pod controller's queues have no overall rate limit. The library's
//     default is client-go's controller limiter, whose token bucket (10
//     items/s after a burst of 100) applies to every pod added, not only to
//     retries: it capped a virtual node at 10 new pods/s however fast the
//     cloud and the API server were. Failed items still back off per pod;
//     calls are limited where they are made (limits.qps towards the cloud,
//     clientQPS towards the API server).
//   - Informers drop managedFields, which a virtual kubelet never reads and
//     which are a large part of every cached pod, Secret and ConfigMap.
//   - The pod informer's watch is resumed when the API server closes it
//     under load, instead of the reflector's back-off and relist (resume.go).

// resyncPeriod is how often the informers replay their caches to the
// controllers, as in nodeutil.
const resyncPeriod = time.Minute

// nodeInformers are the caches of one virtual node: its own pods, and the
// Secrets, ConfigMaps and Services its pods' env may refer to.
type nodeInformers struct {
	podFactory, refFactory informers.SharedInformerFactory
	pods                   coreinformers.PodInformer
	secrets                coreinformers.SecretInformer
	configMaps             coreinformers.ConfigMapInformer
	services               coreinformers.ServiceInformer
}

func newNodeInformers(client kubernetes.Interface, nodeName string) *nodeInformers {
	var cached podCache
	pf := informers.NewSharedInformerFactoryWithOptions(client, resyncPeriod, informers.WithTransform(cached.transform))
	rf := informers.NewSharedInformerFactoryWithOptions(client, resyncPeriod, informers.WithTransform(dropManagedFields))
	// Registered first, so that the factory's pod informer is this one.
	pf.InformerFor(&corev1.Pod{}, func(c kubernetes.Interface, resync time.Duration) cache.SharedIndexInformer {
		return newPodInformer(c, nodeName, resync)
	})
	pods := pf.Core().V1().Pods()
	cached.store = pods.Informer().GetStore()
	return &nodeInformers{
		podFactory: pf, refFactory: rf,
		pods:       pods,
		secrets:    rf.Core().V1().Secrets(),
		configMaps: rf.Core().V1().ConfigMaps(),
		services:   rf.Core().V1().Services(),
	}
}

func (i *nodeInformers) start(stop <-chan struct{}) {
	i.podFactory.Start(stop)
	i.refFactory.Start(stop)
}

func (i *nodeInformers) shutdown() {
	i.podFactory.Shutdown()
	i.refFactory.Shutdown()
}

// dropManagedFields is an informer transform: server-side apply bookkeeping
// is never read here. A status update sent without managedFields leaves
// them as they are on the server.
func dropManagedFields(obj any) (any, error) {
	if m, err := meta.Accessor(obj); err == nil {
		m.SetManagedFields(nil)
	}
	return obj, nil
}

// slimPod is the pod informer's transform: no managedFields, and no
// ServiceAccount token volume (kube-api-access-*, which the ServiceAccount
// admission plugin adds to every pod and a function never mounts: the
// translation ignores it). Together they were about a third of each cached
// pod, and Virtual Kubelet keeps up to two versions of each.
func slimPod(obj any) (any, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return dropManagedFields(obj)
	}
	pod.ManagedFields = nil
	pod.Spec.Volumes = withoutTokenVolume(pod.Spec.Volumes, func(v corev1.Volume) bool { return isTokenVolume(v.Name) && v.Projected != nil })
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			cs[i].VolumeMounts = withoutTokenVolume(cs[i].VolumeMounts, func(m corev1.VolumeMount) bool { return isTokenVolume(m.Name) })
		}
	}
	return pod, nil
}

// podCache is the pod informer's transform with its store at hand: a new
// version of a pod shares every part that did not change with the version
// it replaces. Virtual Kubelet keeps the version it last synced (after a
// status write that is the previous one), so without sharing each pod's
// spec, labels and annotations were held twice.
type podCache struct {
	store cache.Store // set before the informer starts
}

func (c *podCache) transform(obj any) (any, error) {
	out, err := slimPod(obj)
	pod, ok := out.(*corev1.Pod)
	if err != nil || !ok {
		return out, err
	}
	if c.store == nil {
		return pod, nil
	}
	if prev, exists, _ := c.store.GetByKey(pod.Namespace + "/" + pod.Name); exists {
		if old, ok := prev.(*corev1.Pod); ok && old.UID == pod.UID {
			shareUnchanged(old, pod)
		}
	}
	return pod, nil
}

// shareUnchanged points pod's unchanged parts at old's. Cached objects are
// never written to (every consumer copies before changing one), so sharing
// is safe.
func shareUnchanged(old, pod *corev1.Pod) {
	// Strings decoded again are equal copies: point at the old bytes.
	pod.Name, pod.Namespace, pod.GenerateName, pod.UID = old.Name, old.Namespace, old.GenerateName, old.UID
	if equality.Semantic.DeepEqual(old.Spec, pod.Spec) {
		pod.Spec = old.Spec
	}
	if maps.Equal(old.Labels, pod.Labels) {
		pod.Labels = old.Labels
	}
	if maps.Equal(old.Annotations, pod.Annotations) {
		pod.Annotations = old.Annotations
	}
	if equality.Semantic.DeepEqual(old.OwnerReferences, pod.OwnerReferences) {
		pod.OwnerReferences = old.OwnerReferences
	}
	if slices.Equal(old.Finalizers, pod.Finalizers) {
		pod.Finalizers = old.Finalizers
	}
	for i := range pod.Status.Conditions {
		if i < len(old.Status.Conditions) && equality.Semantic.DeepEqual(old.Status.Conditions[i], pod.Status.Conditions[i]) {
			// strings only: the condition itself is inline in the slice
			pod.Status.Conditions[i] = old.Status.Conditions[i]
		}
	}
}

func isTokenVolume(name string) bool { return strings.HasPrefix(name, "kube-api-access-") }

// withoutTokenVolume filters in place; nil when nothing is left, as the API
// server would have sent it.
func withoutTokenVolume[T any](items []T, token func(T) bool) []T {
	out := items[:0]
	for _, it := range items {
		if !token(it) {
			out = append(out, it)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// queueLimiter backs off a pod whose handling failed (5 ms doubling to
// 30 s) and does not delay any other.
func queueLimiter() workqueue.TypedRateLimiter[any] {
	return workqueue.NewTypedItemExponentialFailureRateLimiter[any](5*time.Millisecond, 30*time.Second)
}

// podRoutes serves the kubelet API's pod routes (logs, exec, pods, stats).
func podRoutes(p *provider.Provider, pods corev1listers.PodLister) http.Handler {
	return logParams(api.PodHandler(api.PodHandlerConfig{
		RunInContainer:    p.RunInContainer,
		AttachToContainer: p.AttachToContainer,
		GetContainerLogs:  p.GetContainerLogs,
		GetPods:           p.GetPods,
		GetPodsFromKubernetes: func(context.Context) ([]*corev1.Pod, error) {
			return pods.List(labels.Everything())
		},
		GetStatsSummary:       p.GetStatsSummary,
		GetMetricsResource:    p.GetMetricsResource,
		PortForward:           p.PortForward,
		StreamIdleTimeout:     4 * time.Hour,
		StreamCreationTimeout: 30 * time.Second,
	}, true))
}

type controllerConfig struct {
	client        kubernetes.Interface
	spec          *corev1.Node
	provider      vknode.PodLifecycleHandler
	health        vknode.NodeProvider
	informers     *nodeInformers
	recorder      record.EventRecorder
	workers       int
	onStatusError vknode.ErrorHandler
	backlog       *statusBacklog // the statuses reported and not yet written; nil: not counted
}

// virtualNode runs the pod and node controllers of one node.
type virtualNode struct {
	pc        *vknode.PodController
	nc        *vknode.NodeController
	informers *nodeInformers
	workers   int
	ready     chan struct{}
}

func newVirtualNode(cfg controllerConfig) (*virtualNode, error) {
	nc, err := vknode.NewNodeController(cfg.health, cfg.spec, cfg.client.CoreV1().Nodes(),
		vknode.WithNodeEnableLeaseV1(nodeutil.NodeLeaseV1Client(cfg.client), vknode.DefaultLeaseDuration),
		vknode.WithNodeStatusUpdateErrorHandler(cfg.onStatusError))
	if err != nil {
		return nil, fmt.Errorf("creating node controller: %w", err)
	}
	pc, err := vknode.NewPodController(vknode.PodControllerConfig{
		PodClient:                            statusWriter{PodsGetter: cfg.client.CoreV1(), cached: cfg.informers.pods.Lister(), backlog: cfg.backlog},
		EventRecorder:                        cfg.recorder,
		Provider:                             cfg.provider,
		PodInformer:                          cfg.informers.pods,
		SecretInformer:                       cfg.informers.secrets,
		ConfigMapInformer:                    cfg.informers.configMaps,
		ServiceInformer:                      cfg.informers.services,
		SyncPodsFromKubernetesRateLimiter:    queueLimiter(),
		DeletePodsFromKubernetesRateLimiter:  queueLimiter(),
		SyncPodStatusFromProviderRateLimiter: queueLimiter(),
		// The core resolves env as the kubelet does (translate.ResolveEnv):
		// the library cannot resolve the pod's IP, the node's, or
		// resourceFieldRef, and a pod asking for an IP would never be
		// created.
		SkipDownwardAPIResolution: true,
	})
	if err != nil {
		return nil, fmt.Errorf("creating pod controller: %w", err)
	}
	workers := cfg.workers
	if workers < 1 {
		workers = 1
	}
	return &virtualNode{pc: pc, nc: nc, informers: cfg.informers, workers: workers, ready: make(chan struct{})}, nil
}

// run serves the kubelet API on addr and runs the controllers until ctx
// ends or one of them fails: the pod controller first (its caches synced),
// then the node controller, which registers the node. ready is closed
// once both are running.
func (n *virtualNode) run(ctx context.Context, addr string, tlsConfig *tls.Config, h http.Handler) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	l, err := tls.Listen("tcp", addr, tlsConfig)
	if err != nil {
		return fmt.Errorf("kubelet API listener: %w", err)
	}
	// Requests carry the node's context values (logger, metrics recorder).
	srv := &http.Server{Handler: h, TLSConfig: tlsConfig, ReadHeaderTimeout: 30 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			log.G(ctx).WithError(err).Error("kubelet API server stopped")
		}
	}()
	defer srv.Close() //nolint:errcheck

	n.informers.start(ctx.Done())
	defer n.informers.shutdown()
	// Pods' env is resolved from these caches: a pod handled before they
	// have synced would wait for a ConfigMap that exists, and miss the
	// Service variables, as the kubelet waits for its Service cache.
	if !cache.WaitForNamedCacheSync("env sources", ctx.Done(), n.informers.secrets.Informer().HasSynced,
		n.informers.configMaps.Informer().HasSynced, n.informers.services.Informer().HasSynced) {
		return ctx.Err()
	}
	go n.pc.Run(ctx, n.workers) //nolint:errcheck
	defer func() {
		cancel()
		<-n.pc.Done()
	}()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-n.pc.Ready():
	case <-n.pc.Done():
		return n.pc.Err()
	}

	go n.nc.Run(ctx) //nolint:errcheck
	defer func() {
		cancel()
		<-n.nc.Done()
	}()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-n.nc.Ready():
	case <-n.nc.Done():
		return n.nc.Err()
	}
	close(n.ready)

	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-n.nc.Done():
		return n.nc.Err()
	case <-n.pc.Done():
		return n.pc.Err()
	}
}
