package alibaba

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/faas-kubelet/faas-kubelet/pkg/golden"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// TestGoldenSpec maps testdata/*.input.yaml pods to the CreateService,
// CreateFunction and CreateTrigger requests and tags (or the refusal) in
// *.output.yaml.
func TestGoldenSpec(t *testing.T) {
	golden.EachPod(t, func(t *testing.T, _ string, pod *corev1.Pod) any {
		fn, err := translate.FromPod(pod, "vk-fc", nil)
		if err != nil {
			t.Fatal(err)
		}
		s, err := specFor(fn, &Options{Region: "cn-hangzhou", AccountID: "1234567890123456", Role: "acs:ram::1234567890123456:role/fc-default", LogProject: "k8s-functions", LogStore: "fc-logs",
			RegistryInstances: map[string]string{"shop": "cri-shop0000000001"}})
		if err != nil {
			return map[string]string{"error": err.Error()}
		}
		return s
	})
}
