package azure

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/appservice/armappservice/v4"
)

// ClientOptions say where the Web Apps client goes and how it signs in.
type ClientOptions struct {
	SubscriptionID string
	// Endpoint overrides Azure Resource Manager's (an emulator); empty is
	// Azure's public cloud. An http:// endpoint sends the bearer token in
	// clear text: it is meant for the local emulator and its static token.
	Endpoint   string
	Credential azcore.TokenCredential
	HTTPClient *http.Client
}

// NewClient builds the Web Apps client.
func NewClient(o ClientOptions) (*armappservice.WebAppsClient, error) {
	opts := &arm.ClientOptions{}
	if o.Endpoint != "" {
		opts.Cloud = cloud.Configuration{
			ActiveDirectoryAuthorityHost: cloud.AzurePublic.ActiveDirectoryAuthorityHost,
			Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
				cloud.ResourceManager: {Endpoint: o.Endpoint, Audience: cloud.AzurePublic.Services[cloud.ResourceManager].Audience},
			},
		}
		opts.InsecureAllowCredentialWithHTTP = strings.HasPrefix(o.Endpoint, "http://")
		opts.DisableRPRegistration = true
	}
	if o.HTTPClient != nil {
		opts.Transport = o.HTTPClient
	}
	return armappservice.NewWebAppsClient(o.SubscriptionID, o.Credential, opts)
}

// StaticToken is a bearer token that never changes: for the emulator, and
// for tests, which must never reach Azure's identity endpoints.
type StaticToken string

// GetToken returns the token.
func (t StaticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(t), ExpiresOn: time.Now().Add(24 * time.Hour)}, nil
}
