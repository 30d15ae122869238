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
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
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

// NewClients builds the Web Apps client and the ARM tags client, which
// also reads the App Service plan (PlanAPI).
func NewClients(o ClientOptions) (*armappservice.WebAppsClient, TagsAPI, error) {
	opts := armOptions(o)
	web, err := armappservice.NewWebAppsClient(o.SubscriptionID, o.Credential, opts)
	if err != nil {
		return nil, nil, err
	}
	c, err := arm.NewClient("faas-kubelet", "v0.1.0", o.Credential, opts)
	if err != nil {
		return nil, nil, err
	}
	return web, &armTags{c}, nil
}

// armTags calls PATCH {resource}/providers/Microsoft.Resources/tags/default.
type armTags struct{ c *arm.Client }

const tagsAPIVersion = "2021-04-01"

// MergeTags merges tags into the resource's tags.
func (t *armTags) MergeTags(ctx context.Context, resourceID string, tags map[string]*string) error {
	req, err := runtime.NewRequest(ctx, http.MethodPatch, runtime.JoinPaths(t.c.Endpoint(), resourceID, "providers/Microsoft.Resources/tags/default"))
	if err != nil {
		return err
	}
	q := req.Raw().URL.Query()
	q.Set("api-version", tagsAPIVersion)
	req.Raw().URL.RawQuery = q.Encode()
	body := map[string]any{"operation": "Merge", "properties": map[string]any{"tags": tags}}
	if err := runtime.MarshalAsJSON(req, body); err != nil {
		return err
	}
	resp, err := t.c.Pipeline().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if !runtime.HasStatusCode(resp, http.StatusOK) {
		return runtime.NewResponseError(resp)
	}
	return nil
}

// PlanAPI reads an App Service plan (GET of the serverFarm).
type PlanAPI interface {
	// PlanTier is the tier of the plan's SKU (Dynamic, ElasticPremium,
	// PremiumV3, ...).
	PlanTier(ctx context.Context, planID string) (string, error)
}

var _ PlanAPI = (*armTags)(nil)

// webAPIVersion is the Web Apps API version the armappservice/v4 client
// speaks.
const webAPIVersion = "2024-04-01"

// PlanTier reads the plan's SKU tier.
func (t *armTags) PlanTier(ctx context.Context, planID string) (string, error) {
	req, err := runtime.NewRequest(ctx, http.MethodGet, runtime.JoinPaths(t.c.Endpoint(), planID))
	if err != nil {
		return "", err
	}
	q := req.Raw().URL.Query()
	q.Set("api-version", webAPIVersion)
	req.Raw().URL.RawQuery = q.Encode()
	resp, err := t.c.Pipeline().Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if !runtime.HasStatusCode(resp, http.StatusOK) {
		return "", runtime.NewResponseError(resp)
	}
	var plan struct {
		SKU struct{ Tier string } `json:"sku"`
	}
	if err := runtime.UnmarshalAsJSON(resp, &plan); err != nil {
		return "", err
	}
	return plan.SKU.Tier, nil
}

func armOptions(o ClientOptions) *arm.ClientOptions {
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
	// Retries are the core's (provider.Limited), which knows which calls
	// are idempotent; the SDK's own would multiply them.
	opts.Retry.MaxRetries = -1
	return opts
}

// StaticToken is a bearer token that never changes: for the emulator, and
// for tests, which must never reach Azure's identity endpoints.
type StaticToken string

// GetToken returns the token.
func (t StaticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(t), ExpiresOn: time.Now().Add(24 * time.Hour)}, nil
}
