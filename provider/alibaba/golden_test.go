package alibaba

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/faas-kubelet/faas-kubelet/pkg/golden"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// TestGoldenSpec maps testdata/*.input.yaml pods to the CreateService,
// CreateFunction and CreateTrigger requests and tags (or the refusal) in
// *.output.yaml.
func TestGoldenSpec(t *testing.T) {
	inputs, _ := filepath.Glob(filepath.Join("testdata", "*.input.yaml"))
	if len(inputs) == 0 {
		t.Fatal("no golden inputs")
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".input.yaml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			var pod corev1.Pod
			if err := yaml.UnmarshalStrict(data, &pod); err != nil {
				t.Fatal(err)
			}
			fn, err := translate.FromPod(&pod, "vk-fc", nil)
			if err != nil {
				t.Fatal(err)
			}
			var out any
			s, err := specFor(fn, &Options{Region: "cn-hangzhou", AccountID: "1234567890123456", Role: "acs:ram::1234567890123456:role/fc-default", LogProject: "k8s-functions", LogStore: "fc-logs"})
			if err != nil {
				out = map[string]string{"error": err.Error()}
			} else {
				out = s
			}
			got, err := yaml.Marshal(out)
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", name+".output.yaml"), got)
		})
	}
}
