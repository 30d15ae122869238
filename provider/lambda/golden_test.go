package lambda

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/faas-kubelet/faas-kubelet/pkg/golden"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// TestGoldenCreateInput maps testdata/*.input.yaml pods to the
// CreateFunction request (or the refusal) in *.output.yaml.
func TestGoldenCreateInput(t *testing.T) {
	golden.EachPod(t, func(t *testing.T, name string, pod *corev1.Pod) any {
		fn, err := translate.FromPod(pod, "vk-lambda", nil)
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
		return out
	})
}
