package azure_test

import (
	"net/http/httptest"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	emu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/azure"
	"github.com/faas-kubelet/faas-kubelet/provider"
	"github.com/faas-kubelet/faas-kubelet/provider/azure"
	"github.com/faas-kubelet/faas-kubelet/provider/backendtest"
)

func TestContract(t *testing.T) {
	backendtest.Run(t, backendtest.Harness{
		Start: func(t *testing.T) *backendtest.Cloud {
			// A short deployment, so that Get is seen Pending first, and
			// pages of two sites, so that List pages.
			s := emu.New(emu.Options{ProvisionDelay: 50 * time.Millisecond, PageSize: 2})
			ts := httptest.NewServer(s)
			t.Cleanup(ts.Close)
			co := azure.ClientOptions{SubscriptionID: emu.DefaultSubscription, Endpoint: ts.URL, Credential: azure.StaticToken(emu.DefaultToken)}
			o := azure.Options{AppEndpoint: ts.URL + "/_apps/{app}", ResourceGroup: "rg-contract", Location: emu.DefaultLocation,
				SubscriptionID:    emu.DefaultSubscription,
				ServerFarmID:      "/subscriptions/" + emu.DefaultSubscription + "/resourceGroups/rg-contract/providers/Microsoft.Web/serverfarms/plan",
				StorageConnection: "DefaultEndpointsProtocol=https;AccountName=x;AccountKey=secret"}
			return &backendtest.Cloud{
				New: func() provider.Backend {
					web, tags, err := azure.NewClients(co)
					if err != nil {
						t.Fatal(err)
					}
					return azure.New(web, tags, o)
				},
				Refuse: s.SetRefusals,
				Inject: s.Inject,
			}
		},
		Node:         "vk-azure",
		Image:        "myregistry.azurecr.io/contract:1",
		CreateOp:     "CreateOrUpdate",
		ListPageSize: 2, // the emulator's PageSize: List follows nextLink
		// The backend manages AzureWebJobsStorage; a pod may not set it.
		Unrunnable: func(p *corev1.Pod) {
			p.Spec.Containers[0].Env = append(p.Spec.Containers[0].Env, corev1.EnvVar{Name: "AzureWebJobsStorage", Value: "mine"})
		},
		Caps: backendtest.Caps{
			// The backend's function apps name no user-assigned
			// identity (the emulator refuses one with
			// FailedIdentityOperation, TestMissingIdentityIsARoleError),
			// so Deploy has no role to be refused.
			NoRoleRefusal: true,
			// App Service pulls the image after it accepted the app: the
			// app stops and its docker log says why (see
			// pkg/emulator/azure and TestMissingImageFailsTheCreatedAppUntilPushed).
			ImageRefusedAfterCreate: true,
		},
	})
}
