package cli

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	alicredentials "github.com/aliyun/credentials-go/credentials"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"sigs.k8s.io/yaml"

	"github.com/faas-kubelet/faas-kubelet/pkg/config"
	"github.com/faas-kubelet/faas-kubelet/pkg/memorybackend"
	"github.com/faas-kubelet/faas-kubelet/pkg/metrics"
	"github.com/faas-kubelet/faas-kubelet/provider"
	"github.com/faas-kubelet/faas-kubelet/provider/alibaba"
	"github.com/faas-kubelet/faas-kubelet/provider/azure"
	"github.com/faas-kubelet/faas-kubelet/provider/lambda"
)

// BackendFactory builds the backend for one node.
type BackendFactory func(ctx context.Context, node *config.Node) (provider.Backend, error)

// Registry maps the config's cloud names to backends.
type Registry map[string]BackendFactory

// Backends is every backend this build offers, registered by name. This is
// the only place a backend is wired in. getenv reads the environment (for
// the "env" credential source).
func Backends(getenv func(string) string) Registry {
	return Registry{
		memorybackend.Name: func(_ context.Context, n *config.Node) (provider.Backend, error) {
			var opts memorybackend.Options
			if n.Memory != nil {
				opts.FaultFile = n.Memory.FaultFile
			}
			return memorybackend.New(opts), nil
		},
		azure.Name: func(_ context.Context, n *config.Node) (provider.Backend, error) {
			a := n.Azure
			cred, err := azureCredential(n, getenv)
			if err != nil {
				return nil, fmt.Errorf("node %s: %w", n.Name, err)
			}
			co := azure.ClientOptions{SubscriptionID: a.SubscriptionID, Endpoint: a.Endpoint, Credential: cred, HTTPClient: throttledClient(n)}
			client, tags, err := azure.NewClients(co)
			if err != nil {
				return nil, fmt.Errorf("node %s: %w", n.Name, err)
			}
			metrics, err := azure.NewMetricsClient(co)
			if err != nil {
				return nil, fmt.Errorf("node %s: %w", n.Name, err)
			}
			o := azure.Options{SubscriptionID: a.SubscriptionID, ResourceGroup: a.ResourceGroup, Location: n.Region, ServerFarmID: a.ServerFarmID,
				ManagedEnvironmentID: a.ManagedEnvironmentID, RegistryUseManagedIdentity: a.RegistryUseManagedIdentity,
				KuduEndpoint: a.KuduEndpoint, AppEndpoint: a.AppEndpoint, Credential: cred,
				RegistryServer: a.RegistryServer, RegistryUsername: a.RegistryUsername, Metrics: metrics}
			if a.RegistryPasswordFile != "" {
				data, err := os.ReadFile(a.RegistryPasswordFile)
				if err != nil {
					return nil, fmt.Errorf("node %s: azure.registryPasswordFile: %w", n.Name, err)
				}
				o.RegistryPassword = strings.TrimSpace(string(data))
			}
			if a.StorageConnectionFile != "" {
				data, err := os.ReadFile(a.StorageConnectionFile)
				if err != nil {
					return nil, fmt.Errorf("node %s: azure.storageConnectionFile: %w", n.Name, err)
				}
				o.StorageConnection = strings.TrimSpace(string(data))
			}
			return azure.New(client, tags, o), nil
		},
		alibaba.Name: func(ctx context.Context, n *config.Node) (provider.Backend, error) {
			a := n.Alibaba
			cred, secret, err := alibabaCredential(n, getenv)
			if err != nil {
				return nil, fmt.Errorf("node %s: %w", n.Name, err)
			}
			co := alibaba.ClientOptions{Region: n.Region, AccountID: a.AccountID, Endpoint: a.Endpoint,
				LogEndpoint: a.LogEndpoint, LogDialAddress: a.LogDialAddress, Credential: cred, Limiter: provider.NewLimiter(limitsOf(n)),
				Metrics: metrics.FromContext(ctx)}
			client, err := alibaba.NewClient(co)
			if err != nil {
				return nil, fmt.Errorf("node %s: %w", n.Name, err)
			}
			return alibaba.New(client, alibaba.NewLogsClient(co), alibaba.Options{Region: n.Region, AccountID: a.AccountID,
				Role: a.Role, LogProject: a.LogProject, LogStore: a.LogStore, RegistryInstances: a.RegistryInstances, DigestKey: secret}), nil
		},
		lambda.Name: func(ctx context.Context, n *config.Node) (provider.Backend, error) {
			o := lambda.Options{Region: n.Region, HTTPClient: &http.Client{
				Transport: provider.ThrottleIf(provider.NewLimiter(limitsOf(n)), nil, lambda.CountsAgainstQuota)}}
			if l := n.Lambda; l != nil {
				o.Endpoint, o.DefaultRole, o.ECRPullThroughPrefix = l.Endpoint, l.ExecutionRoleArn, l.ECRPullThroughPrefix
			}
			cfg, err := awsCredentials(ctx, n, getenv, &o)
			if err != nil {
				return nil, fmt.Errorf("node %s: %w", n.Name, err)
			}
			return lambda.New(lambda.NewClient(cfg, o), lambda.NewLogsClient(cfg, o), o).ReadImages(lambda.NewECRClient(cfg, o)), nil
		},
	}
}

// staticKeys is the shape of a credentials file (a mounted Secret).
type staticKeys struct {
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
	SessionToken    string `json:"sessionToken,omitempty"`
}

// awsCredentials resolves the node's credential source. "default" is the
// SDK's chain (environment, shared profile, IRSA web identity, instance
// role); "env" and "file" are static keys and never consult a metadata
// service.
func awsCredentials(ctx context.Context, n *config.Node, getenv func(string) string, o *lambda.Options) (aws.Config, error) {
	switch n.Credentials.Source {
	case config.CredentialSourceEnv:
		id, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
		if id == "" || secret == "" {
			return aws.Config{}, fmt.Errorf(`credentials source "env" needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`)
		}
		o.Credentials = credentials.NewStaticCredentialsProvider(id, secret, getenv("AWS_SESSION_TOKEN"))
		return staticConfig(n, getenv), nil
	case config.CredentialSourceFile:
		data, err := os.ReadFile(n.Credentials.File)
		if err != nil {
			return aws.Config{}, fmt.Errorf("credentials file: %w", err)
		}
		var k staticKeys
		if err := yaml.UnmarshalStrict(data, &k); err != nil || k.AccessKeyID == "" || k.SecretAccessKey == "" {
			return aws.Config{}, fmt.Errorf("credentials file %s: want accessKeyId and secretAccessKey", n.Credentials.File)
		}
		o.Credentials = credentials.NewStaticCredentialsProvider(k.AccessKeyID, k.SecretAccessKey, k.SessionToken)
		return staticConfig(n, getenv), nil
	}
	return awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion(n.Region))
}

// staticConfig is the SDK config of a node with static keys. It reads no
// shared files and no metadata service, but keeps AWS_SDK_UA_APP_ID, the
// application id the SDK documents for its User-Agent (app/<id>), as the
// default chain would: it tells an account's CloudTrail which process
// called.
func staticConfig(n *config.Node, getenv func(string) string) aws.Config {
	return aws.Config{Region: n.Region, AppID: getenv("AWS_SDK_UA_APP_ID")}
}

// azureCredential resolves the node's credential source for Azure:
// "default" is azidentity's chain (environment, workload identity, managed
// identity, Azure CLI); "env" is a static bearer token in AZURE_ACCESS_TOKEN
// and "file" one in a file, for the emulator and for tokens minted outside.
func azureCredential(n *config.Node, getenv func(string) string) (azcore.TokenCredential, error) {
	switch n.Credentials.Source {
	case config.CredentialSourceEnv:
		tok := getenv("AZURE_ACCESS_TOKEN")
		if tok == "" {
			return nil, fmt.Errorf(`credentials source "env" needs AZURE_ACCESS_TOKEN`)
		}
		return azure.StaticToken(tok), nil
	case config.CredentialSourceFile:
		data, err := os.ReadFile(n.Credentials.File)
		if err != nil {
			return nil, fmt.Errorf("credentials file: %w", err)
		}
		return azure.StaticToken(strings.TrimSpace(string(data))), nil
	}
	return azidentity.NewDefaultAzureCredential(nil)
}

// alibabaKeys is the shape of an Alibaba Cloud credentials file (a mounted
// Secret).
type alibabaKeys struct {
	AccessKeyID     string `json:"accessKeyId"`
	AccessKeySecret string `json:"accessKeySecret"`
	SecurityToken   string `json:"securityToken,omitempty"`
}

// alibabaCredential resolves the node's credential source for Alibaba
// Cloud: "default" is the credentials-go chain (environment, RRSA/OIDC for
// pods, profile, instance RAM role); "env" reads ALIBABA_CLOUD_ACCESS_KEY_ID,
// ALIBABA_CLOUD_ACCESS_KEY_SECRET and ALIBABA_CLOUD_SECURITY_TOKEN only, and
// "file" static keys from a file; neither consults a metadata service.
// alibabaCredential is the node's credential, with its AccessKey secret
// when it is a static one (the key of the spec digest, alibaba.Options):
// the default chain's keys rotate, so with it no digest is written.
func alibabaCredential(n *config.Node, getenv func(string) string) (alicredentials.Credential, string, error) {
	switch n.Credentials.Source {
	case config.CredentialSourceEnv:
		id, secret := getenv("ALIBABA_CLOUD_ACCESS_KEY_ID"), getenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
		if id == "" || secret == "" {
			return nil, "", fmt.Errorf(`credentials source "env" needs ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET`)
		}
		c, err := alibaba.StaticCredential(id, secret, getenv("ALIBABA_CLOUD_SECURITY_TOKEN"))
		return c, staticSecret(secret, getenv("ALIBABA_CLOUD_SECURITY_TOKEN")), err
	case config.CredentialSourceFile:
		data, err := os.ReadFile(n.Credentials.File)
		if err != nil {
			return nil, "", fmt.Errorf("credentials file: %w", err)
		}
		var k alibabaKeys
		if err := yaml.UnmarshalStrict(data, &k); err != nil || k.AccessKeyID == "" || k.AccessKeySecret == "" {
			return nil, "", fmt.Errorf("credentials file %s: want accessKeyId and accessKeySecret", n.Credentials.File)
		}
		c, err := alibaba.StaticCredential(k.AccessKeyID, k.AccessKeySecret, k.SecurityToken)
		return c, staticSecret(k.AccessKeySecret, k.SecurityToken), err
	}
	c, err := alibaba.DefaultCredential()
	return c, "", err
}

// staticSecret is an AccessKey secret that lasts: an STS one (with a
// security token) expires within hours, and keys nothing.
func staticSecret(secret, token string) string {
	if token != "" {
		return ""
	}
	return secret
}

// Names lists the registered cloud names, sorted.
func (r Registry) Names() []string {
	names := make([]string, 0, len(r))
	for n := range r {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// New builds the backend a node names, behind the node's limits: a bound
// on operations in flight and retries of transient errors (the factories
// put the rate limit on each HTTP request).
func (r Registry) New(ctx context.Context, n *config.Node) (provider.Backend, error) {
	f, ok := r[n.Cloud]
	if !ok {
		return nil, fmt.Errorf("node %s: no backend named %q", n.Name, n.Cloud)
	}
	b, err := f(ctx, n)
	if err != nil {
		return nil, err
	}
	return provider.Limit(b, limitsOf(n)), nil
}

// limitsOf reads the node's limits (defaulted by config.SetDefaults).
func limitsOf(n *config.Node) provider.Limits {
	l := config.DefaultLimits(n.Cloud)
	if n.Limits != nil {
		l = *n.Limits
	}
	out := provider.Limits{Burst: l.Burst, MaxConcurrent: l.MaxConcurrent}
	if l.QPS != nil {
		out.QPS = *l.QPS
	}
	if l.MaxRetries != nil {
		out.MaxRetries = *l.MaxRetries
	}
	return out
}

// throttledClient is an HTTP client whose requests wait for the node's rate
// limit.
func throttledClient(n *config.Node) *http.Client {
	return &http.Client{Transport: provider.Throttle(provider.NewLimiter(limitsOf(n)), nil)}
}
