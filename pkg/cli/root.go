package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/virtual-kubelet/virtual-kubelet/log"
	vkslog "github.com/virtual-kubelet/virtual-kubelet/log/slog"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/faas-kubelet/faas-kubelet/pkg/config"
	"github.com/faas-kubelet/faas-kubelet/pkg/membudget"
	"github.com/faas-kubelet/faas-kubelet/pkg/metrics"
	"github.com/faas-kubelet/faas-kubelet/pkg/node"
	"github.com/faas-kubelet/faas-kubelet/pkg/version"
	"github.com/faas-kubelet/faas-kubelet/provider"
)

// Environment variables the CLI reads (and nothing else does).
const (
	EnvConfig      = "FAAS_KUBELET_CONFIG"
	EnvKubeconfig  = "KUBECONFIG"
	EnvNodeAddress = "VKUBELET_POD_IP"
	// EnvPodNamespace is where the leader election Lease goes by default
	// (set from the downward API in the Helm chart).
	EnvPodNamespace = "POD_NAMESPACE"
)

type rootOptions struct {
	configPath string
	kubeconfig string
	logLevel   string
	address    string
	pprofAddr  string
	metrics    string
}

// NewRootCommand returns the faas-kubelet command with its subcommands.
// getenv is os.Getenv outside tests.
func NewRootCommand(backends Registry, getenv func(string) string) *cobra.Command {
	o := &rootOptions{}
	cmd := &cobra.Command{
		Use:   "faas-kubelet",
		Short: "Run virtual Kubernetes nodes whose pods are serverless functions",
		Long: `faas-kubelet registers one or more virtual nodes in a Kubernetes cluster.
Pods scheduled onto a virtual node (nodeSelector plus a toleration for its
taint) become functions in the cloud the node names, and the function's state
is reported back as the pod's status.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd.Context(), o, backends, getenv, cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.configPath, "config", "c", getenv(EnvConfig), "config file (YAML); env "+EnvConfig)
	f.StringVar(&o.kubeconfig, "kubeconfig", getenv(EnvKubeconfig), "kubeconfig of the cluster to join; empty: in-cluster config; env "+EnvKubeconfig)
	f.StringVar(&o.logLevel, "log-level", "", "log level (debug, info, warn, error); overrides the config's log.level")
	f.StringVar(&o.address, "node-address", getenv(EnvNodeAddress), "InternalIP for nodes whose config gives no address; env "+EnvNodeAddress)
	f.StringVar(&o.metrics, "metrics-address", "", "serve Prometheus /metrics, /healthz and /readyz on this address, e.g. :10255; off when empty")
	f.StringVar(&o.pprofAddr, "pprof-address", "", "serve Go's profiles (/debug/pprof/) on this address, e.g. 127.0.0.1:6060; off when empty. Unauthenticated: keep it on loopback")
	cmd.AddCommand(newVersionCommand(), newConfigCommand(backends, getenv), newEmulatorCommand())
	return cmd
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "faas-kubelet %s (kubelet version %s)\n", version.Version, version.KubeletVersion())
		},
	}
}

func newConfigCommand(backends Registry, getenv func(string) string) *cobra.Command {
	cfg := &cobra.Command{Use: "config", Short: "Work with config files"}
	var file string
	validate := &cobra.Command{
		Use:   "validate -f FILE",
		Short: "Check a config file and print every problem with its field path",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := loadConfig(file, "", getenv(EnvPodNamespace), backends); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: valid\n", file)
			return nil
		},
	}
	validate.Flags().StringVarP(&file, "file", "f", getenv(EnvConfig), "config file")
	cfg.AddCommand(validate)
	return cfg
}

// loadConfig reads, defaults and validates the config; every problem is
// reported with its field path.
func loadConfig(path, address, podNamespace string, backends Registry) (*config.Config, error) {
	if path == "" {
		return nil, fmt.Errorf("no config file: pass --config FILE or set %s", EnvConfig)
	}
	c, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	for i := range c.Nodes {
		if c.Nodes[i].Address == "" {
			c.Nodes[i].Address = address
		}
	}
	if c.LeaderElection.Namespace == "" {
		c.LeaderElection.Namespace = podNamespace
	}
	c.SetDefaults()
	if errs := c.Validate(backends.Names()); len(errs) > 0 {
		lines := make([]string, 0, len(errs))
		for _, e := range errs {
			lines = append(lines, "  "+e.Error())
		}
		return nil, fmt.Errorf("invalid config %s:\n%s", path, strings.Join(lines, "\n"))
	}
	return c, nil
}

func run(ctx context.Context, o *rootOptions, backends Registry, getenv func(string) string, stderr io.Writer) error {
	c, err := loadConfig(o.configPath, o.address, getenv(EnvPodNamespace), backends)
	if err != nil {
		return err
	}
	if o.logLevel != "" {
		c.Log.Level = o.logLevel
	}
	ctx = withLogger(ctx, c.Log, stderr)
	if o.pprofAddr != "" {
		if _, err := servePprof(ctx, o.pprofAddr); err != nil {
			return fmt.Errorf("--pprof-address: %w", err)
		}
	}
	restCfg, err := restConfig(o.kubeconfig)
	if err != nil {
		return err
	}
	restCfg.QPS, restCfg.Burst = c.ClientQPS, c.ClientBurst
	// Protocol buffers, as the kubelet speaks: a fraction of JSON's cost to
	// encode and decode, on both sides of every pod and status write.
	restCfg.ContentType = "application/vnd.kubernetes.protobuf"
	restCfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	restCfg.UserAgent = "faas-kubelet/" + version.Version
	client, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	eventCfg := rest.CopyConfig(restCfg)
	eventCfg.QPS, eventCfg.Burst = c.EventQPS, c.EventBurst
	eventClient, err := kubernetes.NewForConfig(eventCfg)
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	log.G(ctx).WithField("version", version.Version).WithField("nodes", len(c.Nodes)).Info("faas-kubelet starting")
	stopTracing, err := startTracing(ctx, getenv)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := stopTracing(sctx); err != nil {
			log.G(ctx).WithError(err).Warn("flushing traces")
		}
	}()
	go membudget.Run(ctx, membudget.Options{PerPod: c.MemoryPerPod.Value(), Tracked: provider.Tracked})
	m, pr := metrics.New(), newProbes()
	if o.metrics != "" {
		if _, err := serveMetrics(ctx, o.metrics, m, pr); err != nil {
			return fmt.Errorf("--metrics-address: %w", err)
		}
	}
	run := func(ctx context.Context, n *config.Node) error {
		return runNode(ctx, c, n, client, eventClient, backends, m, pr)
	}
	if c.LeaderElection.Enabled {
		// Each node has a Lease of its own: the replicas that run this
		// config share its nodes.
		err = newSpreader(client, c.LeaderElection, c.Nodes, identity(getenv), pr, run).spread(ctx)
	} else {
		err = runNodes(ctx, c, run)
	}
	if err != nil {
		return err
	}
	log.G(ctx).Info("faas-kubelet stopped")
	return nil
}

// runNodes runs every node of the config until ctx ends or one fails.
func runNodes(ctx context.Context, c *config.Config, run func(context.Context, *config.Node) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for i := range c.Nodes {
		wg.Go(func() {
			if err := run(ctx, &c.Nodes[i]); err != nil {
				cancel(err)
			}
		})
	}
	<-ctx.Done()
	wg.Wait()
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return nil
}

// runNode runs one node, with a backend of its own, until ctx ends.
func runNode(ctx context.Context, c *config.Config, n *config.Node, client, eventClient kubernetes.Interface, backends Registry, m *metrics.Metrics, pr *probes) error {
	pr.nodeStarting(n.Name)
	ctx = metrics.WithNode(ctx, m.Node(n.Name, n.Cloud))
	backend, err := backends.New(ctx, n)
	if err != nil {
		return err
	}
	err = node.Run(ctx, node.Options{
		Node: n, TLS: c.TLS, Client: client, EventClient: eventClient, Backend: backend,
		Workers: c.Workers, KubeletVersion: version.KubeletVersion(), ShutdownGrace: c.ShutdownGracePeriod.Duration,
		OnRunning: func() { pr.nodeReady(n.Name) },
	})
	if ctx.Err() != nil {
		return nil // stopped
	}
	return err
}

// identity names this replica in the leader election Lease.
func identity(getenv func(string) string) string {
	host := getenv("HOSTNAME")
	if host == "" {
		host, _ = os.Hostname()
	}
	return fmt.Sprintf("%s_%d", host, os.Getpid())
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig == "" {
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("no kubeconfig given and not running in a cluster: %w", err)
		}
		return cfg, nil
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
	}
	return cfg, nil
}

// withLogger points Virtual Kubelet's and client-go's loggers at one slog
// logger and carries it in the context.
func withLogger(ctx context.Context, c config.Log, w io.Writer) context.Context {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if c.Format == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	logger := slog.New(h)
	klog.SetSlogLogger(logger)
	log.L = vkslog.FromSlog(logger)
	return log.WithLogger(ctx, log.L)
}
