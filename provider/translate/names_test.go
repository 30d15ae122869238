package translate

import (
	"regexp"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

var portable = regexp.MustCompile(`^[a-z][a-z0-9-]{1,52}[a-z0-9]$`)

func TestFunctionNameFitsEveryCloud(t *testing.T) {
	for _, tc := range []struct{ ns, name string }{
		{"default", "hello"},
		{"team.a", "web-7d9f.v2"},
		{"kube-system", strings.Repeat("x", 253)},
		{"n", "UPPER_case"},
	} {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: tc.ns, Name: tc.name, UID: types.UID("uid-" + tc.name)}}
		got := FunctionName(pod)
		if !portable.MatchString(got) {
			t.Errorf("FunctionName(%s/%s) = %q does not fit every cloud's naming rules", tc.ns, tc.name, got)
		}
	}
}
