package translate

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Tag keys recording which pod and node own a function.
const (
	TagPodUID       = "faas-kubelet.io/pod-uid"
	TagPodNamespace = "faas-kubelet.io/pod-namespace"
	TagPodName      = "faas-kubelet.io/pod-name"
	TagNode         = "faas-kubelet.io/node"
)

// FunctionName derives the function's name from the pod, so that a retried
// create names the same function and a pod recreated under the same name
// (a new UID) gets a new one.
func FunctionName(pod *corev1.Pod) string {
	sum := sha256.Sum256([]byte(pod.UID))
	base := strings.ToLower(pod.Namespace + "-" + pod.Name)
	if len(base) > 40 {
		base = base[:40]
	}
	return "fk-" + strings.Trim(base, "-") + "-" + hex.EncodeToString(sum[:])[:10]
}
