package translate

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
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
// (a new UID) gets a new one. The name fits every cloud's rules at once: at
// most 54 characters of lowercase letters, digits and hyphens, starting with
// a letter (Lambda allows 64, Azure site names are DNS labels of at most 60,
// Function Compute 64), readable from the namespace and name, and made
// unique by a hash of the UID.
func FunctionName(pod *corev1.Pod) string {
	sum := sha256.Sum256([]byte(pod.UID))
	var b strings.Builder
	for _, r := range strings.ToLower(pod.Namespace + "-" + pod.Name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	base := b.String()
	if len(base) > 40 {
		base = base[:40]
	}
	return "fk-" + strings.Trim(base, "-") + "-" + hex.EncodeToString(sum[:])[:10]
}

// NamedFor says whether name is the function FunctionName derives for the
// pod owner describes (tags, or a description read by ParseDescription).
// When the owner's name is not known (a description cut to fit), the name
// must end with the hash of the owner's UID.
func NamedFor(name string, owner map[string]string) bool {
	uid := owner[TagPodUID]
	if uid == "" {
		return false
	}
	pod := &corev1.Pod{}
	pod.UID, pod.Namespace, pod.Name = types.UID(uid), owner[TagPodNamespace], owner[TagPodName]
	if pod.Name != "" {
		return FunctionName(pod) == name
	}
	sum := sha256.Sum256([]byte(uid))
	return strings.HasPrefix(name, "fk-") && strings.HasSuffix(name, "-"+hex.EncodeToString(sum[:])[:10])
}
