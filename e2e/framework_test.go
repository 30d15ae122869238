//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	alibabaemu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/alibaba"
	azureemu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/azure"
	lambdaemu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/lambda"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// cluster is what hack/cluster.sh env reports about the running control plane.
var cluster struct {
	env     map[string]string
	kubectl string
	client  kubernetes.Interface
	binary  string
	repo    string
}

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	repo, err := filepath.Abs("..")
	if err != nil {
		panic(err)
	}
	cluster.repo = repo
	script := filepath.Join(repo, "hack", "cluster.sh")
	wasUp := exec.Command(script, "status").Run() == nil
	up := exec.Command(script, "up")
	up.Stdout, up.Stderr = os.Stderr, os.Stderr
	if err := up.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: hack/cluster.sh up failed:", err)
		return 1
	}
	if !wasUp && os.Getenv("E2E_KEEP_CLUSTER") == "" {
		defer func() {
			down := exec.Command(script, "down")
			down.Stdout, down.Stderr = os.Stderr, os.Stderr
			_ = down.Run()
		}()
	}
	out, err := exec.Command(script, "env").Output()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: hack/cluster.sh env:", err)
		return 1
	}
	cluster.env = map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			cluster.env[k] = v
		}
	}
	cluster.kubectl = cluster.env["KUBECTL"]
	cfg, err := clientcmd.BuildConfigFromFlags("", cluster.env["KUBECONFIG"])
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: kubeconfig:", err)
		return 1
	}
	cfg.QPS, cfg.Burst = 50, 100
	cluster.client = kubernetes.NewForConfigOrDie(cfg)

	bin, err := os.MkdirTemp("", "faas-kubelet-e2e-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(bin)
	cluster.binary = filepath.Join(bin, "faas-kubelet")
	build := exec.Command("go", "build", "-o", cluster.binary, "./cmd/faas-kubelet")
	build.Dir, build.Stdout, build.Stderr = repo, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building faas-kubelet:", err)
		return 1
	}
	return m.Run()
}

// kubectl runs the real kubectl against the test cluster.
func kubectl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, cluster.kubectl, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+cluster.env["KUBECONFIG"])
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// mustKubectl fails the test when kubectl does.
func mustKubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := kubectl(t, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// applyYAML pipes a manifest to kubectl apply.
func applyYAML(t *testing.T, ns, manifest string) {
	t.Helper()
	cmd := exec.Command(cluster.kubectl, "apply", "-n", ns, "-f", "-")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+cluster.env["KUBECONFIG"])
	cmd.Stdin = strings.NewReader(manifest)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kubectl apply: %v\n%s", err, out)
	}
}

// eventually polls cond until it returns true or the timeout passes; the
// last description cond gave is reported on failure.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, desc := cond()
		if ok {
			return
		}
		last = desc
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; last seen: %s", timeout, what, last)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

var nextPort atomic.Int32

// kubelet is one faas-kubelet process started by a test.
type kubelet struct {
	cfgPath   string
	node      string
	port      int32
	faultFile string
	logFile   string
	cmd       *exec.Cmd
	exited    chan struct{}
	exitErr   error
	starts    int
	args      []string // extra command-line arguments
	env       []string // extra environment
}

// kubeletOptions tweak the config a test runs faas-kubelet with.
type kubeletOptions struct {
	// cloud is "memory" (default), "aws-lambda" or "azure-functions".
	cloud string
	// lambdaEndpoint is the emulator's URL for cloud "aws-lambda".
	lambdaEndpoint string
	// azureEndpoint is the emulator's URL for cloud "azure-functions".
	azureEndpoint string
	// alibabaEndpoint is the emulator's URL for cloud "alibaba-fc" (Function
	// Compute and Log Service on one listener).
	alibabaEndpoint string
	// leaderElection turns on leader election, so that replicas started
	// with the same config (k.replica) stand by.
	leaderElection bool
	// nodeExtra is appended to the node's config (indented two spaces).
	nodeExtra string
	// pods is the node's pod capacity (default 78).
	pods int
	// logLevel is the process's log level (default debug).
	logLevel string
	// topExtra is prepended to the config (top-level keys).
	topExtra string
	// args are extra command-line arguments.
	args []string
	// resync is the node's resyncInterval (default 2s).
	resync string
	// health is the node's healthCheckInterval (default 1s).
	health string
	// nodeName replaces the node's name (default: after the test).
	nodeName string
	// env adds environment variables (NAME=value).
	env []string
	// extraNodes are more nodes of the config, named so, configured as the
	// first (cleanup deletes them too).
	extraNodes []string
}

// startKubelet writes a config for one node named after the test and runs
// faas-kubelet, inside the control plane's network namespace when there is
// one. Cleanup stops it with SIGTERM, expects a clean exit and deletes the
// Node object.
func startKubelet(t *testing.T, opts kubeletOptions) *kubelet {
	t.Helper()
	dir := t.TempDir()
	k := &kubelet{
		node:      "e2e-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")),
		port:      10300 + nextPort.Add(1),
		faultFile: filepath.Join(dir, "fault"),
		logFile:   filepath.Join(dir, "faas-kubelet.log"),
		exited:    make(chan struct{}),
	}
	if len(k.node) > 60 {
		k.node = k.node[:60]
	}
	if opts.nodeName != "" {
		k.node = opts.nodeName
	}
	cloud := opts.cloud
	if cloud == "" {
		cloud = "memory"
	}
	backend := fmt.Sprintf("  memory: {faultFile: %s}\n", k.faultFile)
	switch cloud {
	case "aws-lambda":
		backend = fmt.Sprintf("  credentials: {source: env}\n  lambda:\n    endpoint: %s\n    executionRoleArn: arn:aws:iam::123456789012:role/e2e\n", opts.lambdaEndpoint)
	case "azure-functions":
		// The Functions host's storage (AzureWebJobsStorage), as a node's
		// config names it: a mounted Secret.
		storage := filepath.Join(dir, "storage")
		if err := os.WriteFile(storage, []byte("DefaultEndpointsProtocol=https;AccountName=e2e;AccountKey=ZTJlLXN0b3JhZ2Uta2V5;EndpointSuffix=core.windows.net\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		backend = fmt.Sprintf("  credentials: {source: env}\n  azure:\n    endpoint: %s\n    subscriptionId: %s\n    resourceGroup: %s\n    serverFarmId: /subscriptions/%s/resourceGroups/%s/providers/Microsoft.Web/serverfarms/plan-e2e\n    kuduEndpoint: %s/_kudu/{app}\n    appEndpoint: %s/_apps/{app}\n    storageConnectionFile: %s\n",
			opts.azureEndpoint, azureemu.DefaultSubscription, e2eResourceGroup, azureemu.DefaultSubscription, e2eResourceGroup, opts.azureEndpoint, opts.azureEndpoint, storage)
	case "alibaba-fc":
		backend = fmt.Sprintf("  credentials: {source: env}\n  alibaba:\n    accountId: %q\n    endpoint: %s\n    logProject: %s\n    logStore: %s\n    logEndpoint: %s\n    logDialAddress: %s\n",
			alibabaemu.DefaultAccountID, opts.alibabaEndpoint, e2eLogProject, e2eLogStore, opts.alibabaEndpoint, strings.TrimPrefix(opts.alibabaEndpoint, "http://"))
	}
	podCapacity := opts.pods
	if podCapacity == 0 {
		podCapacity = 78
	}
	election := ""
	if opts.leaderElection {
		election = "leaderElection: {enabled: true, namespace: kube-system}\n"
	}
	level := opts.logLevel
	if level == "" {
		level = "debug"
	}
	resync, health := opts.resync, opts.health
	if resync == "" {
		resync = "2s"
	}
	if health == "" {
		health = "1s"
	}
	// One node block per node, each with a port of its own: the first
	// named after the test, then opts.extraNodes.
	nodeBlock := func(name string, port int32) string {
		return fmt.Sprintf(`- name: %s
  cloud: %s
  region: %s
  address: %s
  kubeletPort: %d
  healthCheckInterval: %s
  resyncInterval: %s
  capacity: {cpu: "123", memory: 456Gi, pods: "%d"}
  labels: {e2e.faas-kubelet.io/test: "true"}
%s%s`, name, cloud, regionOf(cloud), cluster.env["FAAS_KUBELET_NODE_IP"], port, health, resync, podCapacity, backend, opts.nodeExtra)
	}
	config := fmt.Sprintf("log: {level: %s}\n%s%stls:\n  clientCAFile: %s\nnodes:\n", level, opts.topExtra, election, cluster.env["FAAS_KUBELET_CLIENT_CA"]) +
		nodeBlock(k.node, k.port)
	for _, name := range opts.extraNodes {
		config += nodeBlock(name, 10300+nextPort.Add(1))
	}
	k.cfgPath = filepath.Join(dir, "config.yaml")
	k.args, k.env = opts.args, opts.env
	if err := os.WriteFile(k.cfgPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	k.start(t)
	t.Cleanup(func() {
		k.stop(t)
		for _, n := range append([]string{k.node}, opts.extraNodes...) {
			_ = cluster.client.CoreV1().Nodes().Delete(context.Background(), n, metav1.DeleteOptions{})
		}
		if t.Failed() {
			k.dumpLog(t)
		}
	})
	return k
}

func regionOf(cloud string) string {
	switch cloud {
	case "aws-lambda":
		return lambdaemu.DefaultRegion
	case "azure-functions":
		return azureemu.DefaultLocation
	case "alibaba-fc":
		return alibabaemu.DefaultRegion
	}
	return "local"
}

// start runs the process for k's config, appending to its log.
func (k *kubelet) start(t *testing.T) {
	t.Helper()
	k.exited = make(chan struct{})
	k.exitErr = nil
	k.starts++
	k.cmd = kubeletCommand(append([]string{"--config", k.cfgPath, "--kubeconfig", cluster.env["FAAS_KUBELET_KUBECONFIG"]}, k.args...)...)
	k.cmd.Env = append(os.Environ(), "AWS_EC2_METADATA_DISABLED=true",
		"AWS_ACCESS_KEY_ID="+lambdaemu.DefaultAccessKey, "AWS_SECRET_ACCESS_KEY="+lambdaemu.DefaultSecretKey,
		"AZURE_ACCESS_TOKEN="+azureemu.DefaultToken,
		"ALIBABA_CLOUD_ACCESS_KEY_ID="+alibabaemu.DefaultAccessKeyID, "ALIBABA_CLOUD_ACCESS_KEY_SECRET="+alibabaemu.DefaultAccessKeySecret)
	k.cmd.Env = append(k.cmd.Env, k.env...)
	logf, err := os.OpenFile(k.logFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	k.cmd.Stdout, k.cmd.Stderr = logf, logf
	if err := k.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := k.exited
	cmd := k.cmd
	go func() {
		err := cmd.Wait()
		logf.Close()
		k.exitErr = err
		close(exited)
	}()
}

// replica starts another process with k's config (a second replica of the
// same nodes); cleanup stops it.
func (k *kubelet) replica(t *testing.T, name string) *kubelet {
	t.Helper()
	r := &kubelet{cfgPath: k.cfgPath, node: k.node, port: k.port, faultFile: k.faultFile,
		logFile: filepath.Join(filepath.Dir(k.logFile), name+".log")}
	r.start(t)
	t.Cleanup(func() {
		r.stop(t)
		if t.Failed() {
			r.dumpLog(t)
		}
	})
	return r
}

// waitStarted waits until the latest process has logged its start (its
// signal handlers are installed by then).
func (k *kubelet) waitStarted(t *testing.T) {
	t.Helper()
	eventually(t, 20*time.Second, "faas-kubelet to start", func() (bool, string) {
		log, _ := readFile(k.logFile)
		n := strings.Count(log, `msg="faas-kubelet starting"`)
		return n >= k.starts, fmt.Sprintf("%d starts logged of %d", n, k.starts)
	})
}

// kill ends the process with SIGKILL, as a crash would.
func (k *kubelet) kill(t *testing.T) {
	t.Helper()
	_ = k.cmd.Process.Kill()
	<-k.exited
}

// kubeletCommand runs the faas-kubelet binary where the kubelet API can be
// reached: inside the control plane's network namespace when it has one.
func kubeletCommand(args ...string) *exec.Cmd {
	if ns := cluster.env["FAAS_KUBELET_NETNS"]; ns != "" && ns != "none" {
		return exec.Command("ip", append([]string{"netns", "exec", ns, cluster.binary}, args...)...)
	}
	return exec.Command(cluster.binary, args...)
}

// stop sends SIGTERM and expects faas-kubelet to exit cleanly and quickly.
func (k *kubelet) stop(t *testing.T) {
	t.Helper()
	select {
	case <-k.exited:
		return
	default:
	}
	_ = k.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-k.exited:
		if k.exitErr != nil {
			t.Errorf("faas-kubelet exited uncleanly after SIGTERM: %v", k.exitErr)
		}
	case <-time.After(15 * time.Second):
		_ = k.cmd.Process.Kill()
		<-k.exited
		t.Errorf("faas-kubelet did not exit within 15s of SIGTERM")
	}
}

func (k *kubelet) dumpLog(t *testing.T) {
	data, _ := os.ReadFile(k.logFile)
	lines := strings.Split(string(data), "\n")
	if len(lines) > 60 {
		lines = lines[len(lines)-60:]
	}
	t.Logf("last lines of faas-kubelet log:\n%s", strings.Join(lines, "\n"))
}

// waitNodeReady waits until the node's Ready condition has the status;
// Ready True also waits for the cloud to have answered (CloudReachable
// True, on nodes that have that condition).
func waitNodeReady(t *testing.T, node string, want corev1.ConditionStatus, timeout time.Duration) *corev1.Node {
	t.Helper()
	var got *corev1.Node
	eventually(t, timeout, fmt.Sprintf("node %s Ready=%s", node, want), func() (bool, string) {
		n, err := cluster.client.CoreV1().Nodes().Get(context.Background(), node, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		r, cloud := nodeCondition(n, string(corev1.NodeReady)), nodeCondition(n, "CloudReachable")
		if r == nil {
			return false, "no Ready condition"
		}
		got = n
		desc := fmt.Sprintf("Ready=%s reason=%s message=%q", r.Status, r.Reason, r.Message)
		if cloud != nil {
			desc += fmt.Sprintf(" CloudReachable=%s message=%q", cloud.Status, cloud.Message)
		}
		return r.Status == want && (want != corev1.ConditionTrue || cloud == nil || cloud.Status == corev1.ConditionTrue), desc
	})
	return got
}

// namespace creates a namespace for the test and deletes it afterwards,
// waiting for its pods to go while the test's faas-kubelet still runs.
func namespace(t *testing.T) string {
	t.Helper()
	return namespaceNamed(t, namespaceName())
}

// namespaceName is a new namespace's name, for a test that must name it
// (in a node's config) before the node starts: the namespace is created
// after, with namespaceNamed, so that its pods go while the node runs.
func namespaceName() string { return fmt.Sprintf("e2e-%d", time.Now().UnixNano()%1_000_000_000) }

// namespaceNamed creates the namespace name, as namespace does.
func namespaceNamed(t *testing.T, name string) string {
	t.Helper()
	ctx := context.Background()
	if _, err := cluster.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cluster.client.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{})
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			pods, err := cluster.client.CoreV1().Pods(name).List(ctx, metav1.ListOptions{})
			if err == nil && len(pods.Items) == 0 || apierrors.IsNotFound(err) {
				return
			}
			time.Sleep(250 * time.Millisecond)
		}
		t.Errorf("pods of namespace %s were not deleted within 60s", name)
	})
	return name
}

// functionNameOf is the function name faas-kubelet derives for a pod.
func functionNameOf(p *corev1.Pod) string { return translate.FunctionName(p) }

func readFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}

// syncBuffer is a goroutine-safe output buffer.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// kubectlStream runs kubectl until ctx ends (for -f and --watch).
func kubectlStream(ctx context.Context, t *testing.T, args ...string) *syncBuffer {
	t.Helper()
	out := &syncBuffer{}
	cmd := exec.CommandContext(ctx, cluster.kubectl, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+cluster.env["KUBECONFIG"])
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait() }()
	return out
}
