package node

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/faas-kubelet/faas-kubelet/provider"
	corev1 "k8s.io/api/core/v1"
)

// logParams reads the kubelet log parameters Virtual Kubelet's log
// options do not carry:
//   - tailLines=0, which those options cannot tell from no tailLines at
//     all (see provider.WithTailZero);
//   - stream (kubectl logs --stream, Kubernetes 1.32+): a function's log
//     in the cloud's log service does not keep stdout and stderr apart,
//     so the node answers as a kubelet without the PodLogsQuerySplitStreams
//     gate (its default in v1.35) does: All is the whole log, any other
//     stream a 400 (k8s.io/kubernetes pkg/kubelet/server/server.go).
func logParams(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/containerLogs/") {
			next.ServeHTTP(w, r)
			return
		}
		q := r.URL.Query()
		if s, ok := q["stream"]; ok && len(s) > 0 && s[0] != string(corev1.LogStreamAll) {
			http.Error(w, fmt.Sprintf("unable to return the given log stream: %q: a function's log in the cloud does not keep stdout and stderr apart; ask for %q", s[0], corev1.LogStreamAll), http.StatusBadRequest)
			return
		}
		if q.Get("tailLines") == "0" {
			r = r.WithContext(provider.WithTailZero(r.Context()))
		}
		next.ServeHTTP(w, r)
	})
}
