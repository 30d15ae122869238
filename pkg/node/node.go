package node

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/log"
	vknode "github.com/virtual-kubelet/virtual-kubelet/node"
	"github.com/virtual-kubelet/virtual-kubelet/node/nodeutil"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apiserver/pkg/server/dynamiccertificates"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"github.com/faas-kubelet/faas-kubelet/pkg/config"
	"github.com/faas-kubelet/faas-kubelet/provider"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// Options configure one virtual node.
type Options struct {
	// Node is the node's validated config (defaults set).
	Node *config.Node
	// TLS is the kubelet API's certificate and client CA.
	TLS config.TLS
	// Client talks to the API server.
	Client kubernetes.Interface
	// EventClient writes events, with a rate limit of its own (as the
	// kubelet's --event-qps): a burst of events never delays pod status
	// writes. Nil: Client.
	EventClient kubernetes.Interface
	// Backend is the cloud behind the node.
	Backend provider.Backend
	// Workers reconcile pods concurrently.
	Workers int
	// KubeletVersion is reported in the node's status.
	KubeletVersion string
	// ShutdownGrace is how long a stopping node waits for invocations in
	// flight to finish and be recorded.
	ShutdownGrace time.Duration
	// OnRunning, if set, is called once the node is registered and its
	// controllers run (for /readyz).
	OnRunning func()
}

// Run registers the node and serves it until ctx ends.
func Run(ctx context.Context, opts Options) error {
	c := opts.Node
	ctx = log.WithLogger(ctx, log.G(ctx).WithFields(log.Fields{"node": c.Name, "cloud": c.Cloud}))
	spec, err := Spec(c, opts.KubeletVersion, time.Now())
	if err != nil {
		return err
	}
	serving, err := servingCert(opts.TLS, c)
	if err != nil {
		return err
	}
	auth, err := webhookAuth(ctx, opts.Client, c.Name, opts.TLS.ClientCAFile)
	if err != nil {
		return err
	}
	taint := newCloudTaint(opts.Client.CoreV1().Nodes(), c.Name)
	go taint.run(ctx)
	hp := newHealth(opts.Backend, spec, c.HealthCheckInterval.Duration, taint)
	mux := http.NewServeMux()

	// One event broadcaster for the library's pod controller and our core.
	eb := record.NewBroadcaster()
	events := opts.EventClient
	if events == nil {
		events = opts.Client
	}
	eb.StartRecordingToSink(&corev1client.EventSinkImpl{Interface: events.CoreV1().Events(corev1.NamespaceAll)})
	defer eb.Shutdown()
	recorder := eb.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "faas-kubelet", Host: c.Name})

	// ServiceAccounts are read from a cache, for workload-identity annotations.
	saInformers := informers.NewSharedInformerFactory(opts.Client, 10*time.Minute)
	saLister := saInformers.Core().V1().ServiceAccounts().Lister()
	saInformers.Start(ctx.Done())
	defer saInformers.Shutdown()

	// The pod informer answers only once the pod controller is ready (its
	// cache synced); before that an empty list would mean nothing.
	var nodeReady atomic.Pointer[<-chan struct{}]
	caches := newNodeInformers(opts.Client, c.Name)
	gw := gatewayFor(c.Address)
	core, err := provider.New(provider.Options{
		Pods: func() ([]*corev1.Pod, bool) {
			if ready := nodeReady.Load(); ready == nil || !isClosed(*ready) {
				return nil, false
			}
			pods, err := caches.pods.Lister().List(labels.Everything())
			if err != nil {
				return nil, false
			}
			return pods, true
		},
		Pod: func(namespace, name string) (*corev1.Pod, bool) {
			if ready := nodeReady.Load(); ready == nil || !isClosed(*ready) {
				return nil, false
			}
			pod, err := caches.pods.Lister().Pods(namespace).Get(name)
			if apierrors.IsNotFound(err) {
				return nil, true
			}
			return pod, err == nil
		},
		NodeName: c.Name, Backend: opts.Backend, Recorder: recorder, ResyncInterval: c.ResyncInterval.Duration, PodIP: c.Address,
		UsageInterval:  c.UsageInterval.Duration,
		IdentityGrants: identityGrants(c),
		EnvSources:     newEnvSources(caches),
		Allocatable:    spec.Status.Allocatable,
		Serving:        func(ports []int32) { gw.ensure(ctx, ports) },
		RemovePod: func(ctx context.Context, ns, name string, uid types.UID) error {
			del := metav1.DeleteOptions{GracePeriodSeconds: new(int64), Preconditions: metav1.NewUIDPreconditions(string(uid))}
			err := opts.Client.CoreV1().Pods(ns).Delete(ctx, name, del)
			if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
				return nil // gone already, or another pod of that name
			}
			return err
		},
		AnnotatePod: func(ctx context.Context, ns, name string, annotations map[string]string) error {
			patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": annotations}})
			if err != nil {
				return err
			}
			_, err = opts.Client.CoreV1().Pods(ns).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
			return err
		},
		ServiceAccountAnnotations: func(ns, name string) map[string]string {
			if name == "" {
				name = "default"
			}
			sa, err := saLister.ServiceAccounts(ns).Get(name)
			if err != nil {
				return nil
			}
			return sa.Annotations
		},
		ServiceAccountTokens: serviceAccountTokens(opts.Client, c, caches.configMaps.Lister()),
	})
	if err != nil {
		return fmt.Errorf("node %s: %w", c.Name, err)
	}
	mux.Handle("/", podRoutes(core, caches.pods.Lister()))
	go gw.serve(ctx, c.KubeletPort, core, caches.services.Lister(), caches.refFactory.Discovery().V1().EndpointSlices().Informer())
	live := &liveConfig{client: opts.Client, pods: caches.pods.Lister(), recorder: recorder}
	if err := live.watch(ctx, caches.secrets.Informer(), caches.configMaps.Informer()); err != nil {
		return fmt.Errorf("node %s: %w", c.Name, err)
	}
	// New pods wait for the statuses of running ones (see backlog.go):
	// half as many as the node writes at once. Measured at 10,000 pods,
	// all the workers' worth gave p99 Active→Running 2.3 s, half 1.1 s,
	// with the 1,000-pod pace unchanged (README, Performance).
	backlog := newStatusBacklog(opts.Workers/2, clock.RealClock{}, caches.pods.Lister())
	if err := backlog.watch(caches.pods.Informer()); err != nil {
		return fmt.Errorf("node %s: %w", c.Name, err)
	}
	n, err := newVirtualNode(controllerConfig{
		client:        opts.Client,
		spec:          spec,
		provider:      backpressured{Provider: core, backlog: backlog},
		backlog:       backlog,
		health:        hp,
		informers:     caches,
		recorder:      recorder,
		workers:       opts.Workers,
		onStatusError: recreateNode(opts.Client, spec, taint),
	})
	if err != nil {
		return fmt.Errorf("node %s: %w", c.Name, err)
	}
	var ready <-chan struct{} = n.ready
	nodeReady.Store(&ready)
	if opts.OnRunning != nil {
		go func() {
			select {
			case <-ready:
				opts.OnRunning()
			case <-ctx.Done():
			}
		}()
	}
	log.G(ctx).WithField("listen", c.ListenAddress).Info("starting virtual node")
	err = n.run(ctx, c.ListenAddress, &tls.Config{
		MinVersion:     tls.VersionTLS12,
		CipherSuites:   nodeutil.DefaultServerCiphers(),
		ClientAuth:     tls.RequestClientCert,
		GetCertificate: serving,
	}, nodeutil.WithAuth(auth, mux))
	// The node has stopped taking work; let invocations in flight finish.
	if !core.Drain(opts.ShutdownGrace) {
		log.G(ctx).WithField("grace", opts.ShutdownGrace.String()).Warn("invocations still running after the grace period were cut off; their pods will report an unknown outcome")
	}
	core.Release()
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("node %s: %w", c.Name, err)
	}
	return nil
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// servingCert returns the kubelet API's certificate source: the configured
// files, reloaded when they are rotated, or a self-signed certificate.
func servingCert(t config.TLS, c *config.Node) (func(*tls.ClientHelloInfo) (*tls.Certificate, error), error) {
	if t.CertFile != "" {
		files, err := newCertFiles(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, err
		}
		return files.GetCertificate, nil
	}
	cert, err := selfSigned([]string{c.Name, c.Address}, time.Now())
	if err != nil {
		return nil, err
	}
	return func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &cert, nil }, nil
}

// webhookAuth authenticates as the kubelet does: client certificates signed
// by the client CA, and bearer tokens through TokenReview; it authorizes
// through SubjectAccessReview. Anonymous requests are refused.
func webhookAuth(ctx context.Context, client kubernetes.Interface, nodeName, clientCA string) (nodeutil.Auth, error) {
	var ca *dynamiccertificates.DynamicFileCAContent
	if clientCA != "" {
		var err error
		ca, err = dynamiccertificates.NewDynamicCAContentFromFile("client-ca", clientCA)
		if err != nil {
			return nil, fmt.Errorf("loading kubelet client CA: %w", err)
		}
		go ca.Run(ctx, 1)
	}
	return nodeutil.WebhookAuth(client, nodeName, func(cfg *nodeutil.WebhookAuthConfig) error {
		if ca != nil {
			cfg.AuthnConfig.ClientCertificateCAContentProvider = ca
		}
		return nil
	})
}

// recreateNode registers the node again when someone deleted it, as a
// kubelet does, with the cloud-unreachable taint if the cloud does not
// answer; any other status update error is returned as it is.
func recreateNode(client kubernetes.Interface, spec *corev1.Node, taint *cloudTaint) vknode.ErrorHandler {
	return func(ctx context.Context, err error) error {
		if !apierrors.IsNotFound(err) {
			return err
		}
		log.G(ctx).Warn("node object was deleted; registering it again")
		n := spec.DeepCopy()
		n.Spec.Taints, _ = withCloudTaint(n.Spec.Taints, taint.present())
		_, cerr := client.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
		// The cloud's health may have changed meanwhile.
		taint.resync()
		return cerr
	}
}

func identityGrants(c *config.Node) []translate.IdentityGrant {
	if c.PodIdentity == nil {
		return nil
	}
	return c.PodIdentity.Allow
}
