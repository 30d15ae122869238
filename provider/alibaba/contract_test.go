package alibaba_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	emu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/alibaba"
	"github.com/faas-kubelet/faas-kubelet/provider"
	"github.com/faas-kubelet/faas-kubelet/provider/alibaba"
	"github.com/faas-kubelet/faas-kubelet/provider/backendtest"
)

const contractRole = "acs:ram::" + emu.DefaultAccountID + ":role/contract"

func TestContract(t *testing.T) {
	backendtest.Run(t, backendtest.Harness{
		Start: func(t *testing.T) *backendtest.Cloud {
			s := emu.New(emu.Options{})
			ts := httptest.NewServer(s)
			t.Cleanup(ts.Close)
			cred, err := alibaba.StaticCredential(emu.DefaultAccessKeyID, emu.DefaultAccessKeySecret, "")
			if err != nil {
				t.Fatal(err)
			}
			co := alibaba.ClientOptions{Region: emu.DefaultRegion, AccountID: emu.DefaultAccountID, Endpoint: ts.URL,
				LogEndpoint: ts.URL, LogDialAddress: strings.TrimPrefix(ts.URL, "http://"), Credential: cred}
			o := alibaba.Options{Region: emu.DefaultRegion, AccountID: emu.DefaultAccountID, Role: contractRole,
				LogProject: "k8s-functions", LogStore: "fc-logs"}
			return &backendtest.Cloud{
				New: func() provider.Backend {
					c, err := alibaba.NewClient(co)
					if err != nil {
						t.Fatal(err)
					}
					return alibaba.New(c, alibaba.NewLogsClient(co), o)
				},
				Refuse: s.SetRefusals,
				Inject: s.Inject,
			}
		},
		Node:         "vk-fc",
		Image:        "registry.cn-hangzhou.aliyuncs.com/shop/contract:1",
		Role:         contractRole,
		CreateOp:     "CreateService", // a pod's service is made first, then its function
		ListPageSize: 100,             // ListServices' Limit: too many to make one more cheaply
		// FC pulls images only from its own region's Container Registry.
		Unrunnable: func(p *corev1.Pod) { p.Spec.Containers[0].Image = "registry.eu-central-1.aliyuncs.com/shop/contract:1" },
	})
}
