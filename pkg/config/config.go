package config

import (
	"fmt"
	"os"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// Defaults. Flags and the golden test of SetDefaults take their values from
// these constants.
const (
	// DefaultClientQPS is generous on purpose: client-go's own default of 5
	// requests/s caps a virtual node at about 4.5 pod starts per second,
	// and each pod costs a few writes (status when it runs and when it is
	// deleted, the delete, events). The API server's priority and fairness
	// protects it from a busy client.
	DefaultClientQPS   float32 = 500
	DefaultClientBurst int     = 1000
	// DefaultEventQPS and DefaultEventBurst limit event writes, apart from
	// the client's other requests (the kubelet's --event-qps/--event-burst).
	DefaultEventQPS   float32 = 100
	DefaultEventBurst int     = 500

	DefaultKubeletPort      int32 = 10250
	DefaultAddress                = "127.0.0.1"
	DefaultTaintKey               = "virtual-kubelet.io/provider"
	DefaultTaintEffect            = "NoSchedule"
	DefaultCapacityCPU            = "1000"
	DefaultCapacityMemory         = "4Ti"
	DefaultCapacityPods           = "1000"
	DefaultCapacityStorage        = "10Ti"
	DefaultCredentialSource       = CredentialSourceDefault
	DefaultLogLevel               = "info"
	DefaultLogFormat              = "text"
	DefaultWorkers                = 64
	// DefaultMaxConcurrent bounds a node's cloud operations in flight.
	DefaultMaxConcurrent = 16
	// DefaultMaxRetries is how often a transient cloud error is retried.
	DefaultMaxRetries = 5
)

// DefaultHealthCheckInterval is how often a node pings its cloud to drive
// the node's CloudReachable condition.
var DefaultHealthCheckInterval = metav1.Duration{Duration: 10 * time.Second}

// Leader election defaults: a standby takes over within 12 s + 2 s of the
// leader's last renewal.
var (
	DefaultLeaseDuration = metav1.Duration{Duration: 12 * time.Second}
	DefaultRenewDeadline = metav1.Duration{Duration: 8 * time.Second}
	DefaultRetryPeriod   = metav1.Duration{Duration: 2 * time.Second}
)

// DefaultShutdownGracePeriod fits in Kubernetes' default 30 s termination
// grace period with room for the Lease release.
// DefaultMemoryPerPod is the memory budget per tracked pod: the pod's
// copies (about 11 KiB live at 10,000 pods) with room for the collector.
var DefaultMemoryPerPod = resource.MustParse("18Ki")

var DefaultShutdownGracePeriod = metav1.Duration{Duration: 10 * time.Second}

// DefaultLeaderElectionNamespace holds the Lease when the pod's namespace
// is not known.
const DefaultLeaderElectionNamespace = "kube-system"

// DefaultResyncInterval is how often stable functions are confirmed.
var DefaultResyncInterval = metav1.Duration{Duration: time.Minute}

// DefaultUsageInterval is how often, at most, the functions' usage is read.
var DefaultUsageInterval = metav1.Duration{Duration: time.Minute}

// Credential sources a node may name.
const (
	// CredentialSourceDefault is the cloud SDK's own default chain
	// (environment, shared profile, workload identity).
	CredentialSourceDefault = "default"
	// CredentialSourceEnv reads static keys from the process environment only.
	CredentialSourceEnv = "env"
	// CredentialSourceFile reads static keys from a file (a mounted Secret).
	CredentialSourceFile = "file"
)

// Config is the whole configuration of one faas-kubelet process.
type Config struct {
	// ClientQPS and ClientBurst limit requests to the Kubernetes API server.
	ClientQPS   float32 `json:"clientQPS,omitempty"`
	ClientBurst int     `json:"clientBurst,omitempty"`
	// EventQPS and EventBurst limit event writes on a client of their own,
	// so that a burst of events never delays pod status writes.
	EventQPS   float32 `json:"eventQPS,omitempty"`
	EventBurst int     `json:"eventBurst,omitempty"`
	// Workers is the number of pods each node reconciles at once.
	Workers int `json:"workers,omitempty"`
	// Log sets the level (debug, info, warn, error) and format (text, json).
	Log Log `json:"log"`
	// TLS is the kubelet API's serving certificate and client CA, shared by
	// every node of the process.
	TLS TLS `json:"tls"`
	// Nodes are the virtual nodes this process registers.
	Nodes []Node `json:"nodes"`
	// LeaderElection lets several replicas run with the same config: each
	// node has a Lease of its own, and the replicas share the nodes, each
	// running at most its share (the nodes over the replicas alive).
	LeaderElection LeaderElection `json:"leaderElection"`
	// ShutdownGracePeriod is how long SIGTERM waits for invocations in
	// flight to finish and their outcome to be recorded.
	ShutdownGracePeriod metav1.Duration `json:"shutdownGracePeriod,omitempty"`
	// MemoryPerPod is the process's memory budget for each pod it tracks,
	// on top of what it holds at start (default 18Ki; 0 leaves the Go
	// runtime's collector at its defaults). The collector works harder
	// only when the process would go over it; GOMEMLIMIT, when set, wins.
	MemoryPerPod *resource.Quantity `json:"memoryPerPod,omitempty"`
}

// LeaderElection configures the nodes' Leases, which pick the replica
// running each node. The others take a node over at most LeaseDuration + 2
// RetryPeriods after its replica stops renewing; a replica that stops
// cleanly releases its Leases at once. Each replica also renews a member
// Lease of its own (<name>-replica-<hash>, labelled
// faas-kubelet.io/replicas-of=<name>), by which the replicas count each
// other.
type LeaderElection struct {
	Enabled bool `json:"enabled,omitempty"`
	// Namespace of the Leases (default: the pod's namespace, else
	// kube-system), and Name of the first node's (default
	// faas-kubelet-<first node's name>; the one Lease of earlier releases,
	// which ran every node under it: while one of those still holds it, no
	// node is taken). Every other node's Lease is faas-kubelet-<node's name>.
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name,omitempty"`
	// LeaseDuration, RenewDeadline and RetryPeriod are client-go's leader
	// election timings.
	LeaseDuration metav1.Duration `json:"leaseDuration,omitempty"`
	RenewDeadline metav1.Duration `json:"renewDeadline,omitempty"`
	RetryPeriod   metav1.Duration `json:"retryPeriod,omitempty"`
}

// Log configures the process logger.
type Log struct {
	Level  string `json:"level,omitempty"`
	Format string `json:"format,omitempty"`
}

// TLS configures the kubelet API server.
type TLS struct {
	// CertFile and KeyFile name the serving certificate. Both empty: a
	// self-signed certificate is generated at start.
	CertFile string `json:"certFile,omitempty"`
	KeyFile  string `json:"keyFile,omitempty"`
	// ClientCAFile verifies client certificates (the API server's kubelet
	// client certificate). Empty: only bearer tokens authenticate, through
	// TokenReview.
	ClientCAFile string `json:"clientCAFile,omitempty"`
}

// Node is one virtual node and the cloud behind it.
type Node struct {
	// Name of the Kubernetes Node object.
	Name string `json:"name"`
	// Cloud names the backend: one of the names the backend registry knows.
	Cloud string `json:"cloud"`
	// Region of the cloud the functions are created in.
	Region string `json:"region,omitempty"`
	// Address is reported as the node's InternalIP; the kubelet API listens
	// on Address:KubeletPort unless ListenAddress says otherwise.
	Address       string `json:"address,omitempty"`
	KubeletPort   int32  `json:"kubeletPort,omitempty"`
	ListenAddress string `json:"listenAddress,omitempty"`
	// InstanceType is the node.kubernetes.io/instance-type label; defaults
	// to the cloud's name.
	InstanceType string `json:"instanceType,omitempty"`
	// Labels are added to the node's labels.
	Labels map[string]string `json:"labels,omitempty"`
	// Taint keeps ordinary pods off the node; pods tolerate it to opt in.
	Taint Taint `json:"taint"`
	// Capacity is reported as the node's capacity and allocatable.
	Capacity Capacity `json:"capacity"`
	// Credentials says where the backend finds the cloud's credentials.
	Credentials Credentials `json:"credentials"`
	// HealthCheckInterval is how often the cloud is pinged for the node's
	// CloudReachable condition.
	HealthCheckInterval metav1.Duration `json:"healthCheckInterval,omitempty"`
	// ResyncInterval is how often stable functions are confirmed against
	// the cloud by a paged listing.
	ResyncInterval metav1.Duration `json:"resyncInterval,omitempty"`
	// UsageInterval is how often, at most, the functions' usage (CPU time,
	// memory) is read from the cloud for the node's resource metrics, and
	// only while something (metrics-server) asks for them.
	UsageInterval metav1.Duration `json:"usageInterval,omitempty"`
	// Limits bound the node's calls to its cloud; the defaults depend on the
	// cloud (DefaultLimits).
	Limits *Limits `json:"limits,omitempty"`
	// PodIdentity says which pods may name their own role, subnets or
	// security groups (annotations faas-kubelet.io/role-arn,
	// vpc-subnet-ids, vpc-security-group-ids). Without a grant a pod runs
	// as its ServiceAccount's role or the node's default, and a pod that
	// names another is refused.
	PodIdentity *PodIdentity `json:"podIdentity,omitempty"`
	// ServiceAccountTokens lets the functions of pods that opt in (the
	// annotation faas-kubelet.io/service-account-token: "true", or
	// spec.automountServiceAccountToken: true) call the Kubernetes API with
	// their ServiceAccount's token. Unset: no function gets a token.
	ServiceAccountTokens *ServiceAccountTokens `json:"serviceAccountTokens,omitempty"`
	// Memory configures the in-memory test backend (cloud "memory").
	Memory *MemoryBackend `json:"memory,omitempty"`
	// Lambda configures the AWS Lambda backend (cloud "aws-lambda").
	Lambda *Lambda `json:"lambda,omitempty"`
	// Azure configures the Azure Functions backend (cloud "azure-functions").
	Azure *Azure `json:"azure,omitempty"`
	// Alibaba configures the Function Compute backend (cloud "alibaba-fc").
	Alibaba *Alibaba `json:"alibaba,omitempty"`
}

// PodIdentity holds the grants of a node's pods to choose their identity
// and network.
type PodIdentity struct {
	// Allow lists, per namespace (and ServiceAccount), the roles, subnets
	// and security groups its pods may name.
	Allow []translate.IdentityGrant `json:"allow,omitempty"`
}

// ServiceAccountTokens says how functions reach the API server with the
// tokens they are given.
type ServiceAccountTokens struct {
	// APIServer is the API server's URL as functions reach it (https): a
	// function runs in the cloud, outside the cluster's network, where the
	// kubernetes Service's address means nothing.
	APIServer string `json:"apiServer"`
	// CAFile is the PEM bundle that verifies APIServer's certificate, for
	// an endpoint whose certificate the cluster's CA did not sign. Empty:
	// the cluster's CA, from the kube-root-ca.crt ConfigMap of the pod's
	// namespace (what the kubelet mounts as ca.crt). Read at each token.
	CAFile string `json:"caFile,omitempty"`
}

// Alibaba configures the Alibaba Cloud Function Compute backend.
type Alibaba struct {
	// AccountID is the Alibaba Cloud account (UID) that owns the functions;
	// Function Compute's endpoint and resource names include it.
	AccountID string `json:"accountId"`
	// Endpoint overrides Function Compute's
	// (https://<accountId>.<region>.fc.aliyuncs.com), for the emulator or a
	// VPC endpoint (https://<accountId>.<region>-internal.fc.aliyuncs.com).
	Endpoint string `json:"endpoint,omitempty"`
	// Role is the RAM role the services run as (acs:ram::<account>:role/<name>):
	// it pulls images from Container Registry and writes logs to Log Service.
	// Pods may name their own with an annotation.
	Role string `json:"role,omitempty"`
	// LogProject and LogStore are the Simple Log Service project and logstore
	// every service logs to; kubectl logs reads them. Empty: no logs.
	LogProject string `json:"logProject,omitempty"`
	LogStore   string `json:"logStore,omitempty"`
	// LogEndpoint overrides Log Service's (https://<region>.log.aliyuncs.com).
	// Requests go to <project>.<host of LogEndpoint>.
	LogEndpoint string `json:"logEndpoint,omitempty"`
	// RegistryInstances maps Container Registry Enterprise Edition instance
	// names (the <instance> of <instance>-registry.<region>.cr.aliyuncs.com)
	// to their instance IDs (cri-...), which Function Compute needs for
	// images of such an instance.
	RegistryInstances map[string]string `json:"registryInstances,omitempty"`
	// LogDialAddress, when set, is where every Log Service connection goes
	// whatever the project's host name (the emulator: SLS host names are
	// virtual-hosted, which loopback cannot resolve).
	LogDialAddress string `json:"logDialAddress,omitempty"`
}

// Azure configures the Azure Functions backend.
type Azure struct {
	// Endpoint overrides Azure Resource Manager's (the emulator).
	Endpoint       string `json:"endpoint,omitempty"`
	SubscriptionID string `json:"subscriptionId"`
	ResourceGroup  string `json:"resourceGroup"`
	// ServerFarmID (an App Service plan) or ManagedEnvironmentID (an Azure
	// Container Apps environment) hosts the function apps: exactly one.
	ServerFarmID         string `json:"serverFarmId,omitempty"`
	ManagedEnvironmentID string `json:"managedEnvironmentId,omitempty"`
	// StorageConnectionFile holds the AzureWebJobsStorage connection string
	// (a mounted Secret); it is never logged.
	StorageConnectionFile string `json:"storageConnectionFile,omitempty"`
	// RegistryUseManagedIdentity pulls images with the apps' managed identity.
	RegistryUseManagedIdentity bool `json:"registryUseManagedIdentity,omitempty"`
	// RegistryServer, RegistryUsername and RegistryPasswordFile (a mounted
	// Secret) are registry credentials for the apps; pods never carry them.
	RegistryServer       string `json:"registryServer,omitempty"`
	RegistryUsername     string `json:"registryUsername,omitempty"`
	RegistryPasswordFile string `json:"registryPasswordFile,omitempty"`
	// KuduEndpoint is the apps' SCM site with {app} for the app's name
	// (default https://{app}.scm.azurewebsites.net); kubectl logs -f reads
	// its log stream.
	KuduEndpoint string `json:"kuduEndpoint,omitempty"`
	// AppEndpoint is where the apps' HTTP triggers are reached, with {host}
	// for an app's default host name and {app} for its name (default
	// https://{host}); run-once pods invoke their function there.
	AppEndpoint string `json:"appEndpoint,omitempty"`
}

// Lambda configures the AWS Lambda backend.
type Lambda struct {
	// Endpoint overrides the Lambda and CloudWatch Logs endpoint, for the
	// emulator (faas-kubelet emulator) or a VPC endpoint.
	Endpoint string `json:"endpoint,omitempty"`
	// ExecutionRoleArn is the role for pods that name none (no annotation,
	// no IRSA annotation on their ServiceAccount).
	ExecutionRoleArn string `json:"executionRoleArn,omitempty"`
	// ECRPullThroughPrefix lets pods use public images through an ECR
	// pull-through cache (<account>.dkr.ecr.<region>.amazonaws.com/<prefix>).
	ECRPullThroughPrefix string `json:"ecrPullThroughPrefix,omitempty"`
}

// Limits bound one node's calls to its cloud.
type Limits struct {
	// QPS and Burst are a token bucket for the HTTP requests to the cloud
	// that count against its quota; QPS 0 means unlimited (unset: the
	// cloud's default).
	QPS   *float64 `json:"qps,omitempty"`
	Burst int      `json:"burst,omitempty"`
	// MaxConcurrent bounds the cloud operations in flight at once.
	MaxConcurrent int `json:"maxConcurrent,omitempty"`
	// MaxRetries is how often an operation that met throttling, a server
	// error or no answer is tried again, with jittered exponential backoff
	// (from 200 ms, doubling to 30 s, never sooner than Retry-After).
	MaxRetries *int `json:"maxRetries,omitempty"`
}

// Taint is the node taint pods must tolerate.
type Taint struct {
	Key    string `json:"key,omitempty"`
	Value  string `json:"value,omitempty"`
	Effect string `json:"effect,omitempty"`
	// Disabled registers the node without a taint.
	Disabled bool `json:"disabled,omitempty"`
}

// Capacity holds resource quantities ("1000", "4Ti").
type Capacity struct {
	CPU              string `json:"cpu,omitempty"`
	Memory           string `json:"memory,omitempty"`
	Pods             string `json:"pods,omitempty"`
	EphemeralStorage string `json:"ephemeralStorage,omitempty"`
}

// Credentials names the source of cloud credentials. Secret values never
// appear in this file: only where to find them.
type Credentials struct {
	Source string `json:"source,omitempty"`
	// File is read when Source is "file".
	File string `json:"file,omitempty"`
}

// MemoryBackend configures the in-memory backend used by tests and the demo.
type MemoryBackend struct {
	// FaultFile: while this file exists, pings fail with its contents, so
	// tests can take the node's "cloud" away and bring it back.
	FaultFile string `json:"faultFile,omitempty"`
}

// Load reads a YAML (or JSON) config file strictly, without defaults.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes YAML strictly: unknown and duplicate keys are errors that
// name the key's path.
func Parse(data []byte) (*Config, error) {
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, fmt.Errorf("not valid YAML: %w", err)
	}
	var c Config
	strict, err := sigsjson.UnmarshalStrict(js, &c, sigsjson.DisallowUnknownFields)
	if err != nil {
		return nil, fmt.Errorf("decoding: %w", err)
	}
	if len(strict) > 0 {
		return nil, joinStrict(strict)
	}
	return &c, nil
}

func joinStrict(errs []error) error {
	msg := ""
	for i, e := range errs {
		if i > 0 {
			msg += "; "
		}
		msg += e.Error()
	}
	return fmt.Errorf("%s", msg)
}
