package cli

import (
	"context"
	"testing"

	"github.com/faas-kubelet/faas-kubelet/pkg/config"
	"github.com/faas-kubelet/faas-kubelet/provider/lambda"
)

// A node with static keys keeps the SDK's AWS_SDK_UA_APP_ID, so its calls
// say which process made them (User-Agent app/<id>), as they do with the
// SDK's default chain.
func TestStaticAWSCredentialsKeepTheAppID(t *testing.T) {
	env := map[string]string{"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SDK_UA_APP_ID": "replica-a"}
	n := &config.Node{Name: "vk", Region: "us-east-1"}
	n.Credentials.Source = config.CredentialSourceEnv
	var o lambda.Options
	cfg, err := awsCredentials(context.Background(), n, func(k string) string { return env[k] }, &o)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AppID != "replica-a" || cfg.Region != "us-east-1" || o.Credentials == nil {
		t.Errorf("config app id %q, region %q, credentials %v; want replica-a, us-east-1 and the static keys", cfg.AppID, cfg.Region, o.Credentials)
	}
}
