package lambda

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/faas-kubelet/faas-kubelet/provider/translate"

	"github.com/faas-kubelet/faas-kubelet/pkg/golden"
)

// TestGoldenCreateInput maps testdata/*.input.yaml pods to the
// CreateFunction request (or the refusal) in *.output.yaml.
func TestGoldenCreateInput(t *testing.T) {
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
			fn, err := translate.FromPod(&pod, "vk-lambda", nil)
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]any{}
			req, notes, err := createInput(fn, &Options{DefaultRole: "arn:aws:iam::123456789012:role/default"})
			if err != nil {
				out["error"] = err.Error()
			} else {
				out["createFunction"] = req
				if len(notes) > 0 {
					out["notes"] = notes
				}
			}
			if name == "public-image" {
				req, notes, err := createInput(fn, &Options{DefaultRole: "arn:aws:iam::123456789012:role/default", ECRPullThroughPrefix: "123456789012.dkr.ecr.us-east-1.amazonaws.com/docker-hub"})
				if err != nil {
					t.Fatal(err)
				}
				out["withPullThroughCache"] = map[string]any{"imageUri": req.Code.ImageUri, "notes": notes}
			}
			got, err := yaml.Marshal(out)
			if err != nil {
				t.Fatal(err)
			}
			goldenFile := filepath.Join("testdata", name+".output.yaml")
			golden.Check(t, goldenFile, got)
		})
	}
}
