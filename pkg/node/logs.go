package node

import (
	"net/http"
	"strings"

	"github.com/faas-kubelet/faas-kubelet/provider"
)

// markTailZero tells the core that a logs request asked for tailLines=0,
// which Virtual Kubelet's log options cannot tell from no tailLines at
// all (see provider.WithTailZero).
func markTailZero(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/containerLogs/") && r.URL.Query().Get("tailLines") == "0" {
			r = r.WithContext(provider.WithTailZero(r.Context()))
		}
		next.ServeHTTP(w, r)
	})
}
