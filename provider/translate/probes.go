package translate

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// probeNote says which of the container's probes are not run. A function
// has no process for the kubelet's probes to watch: the cloud's state of
// the function (Lambda's State, the Azure app and its Functions host,
// Function Compute's function) is its health, and the pod is Ready while
// the function is Active. The pod keeps its probes; the note tells the
// user they are not run rather than leaving them silently unused.
func probeNote(c *corev1.Container) string {
	var probes []string
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
	}{{"livenessProbe", c.LivenessProbe}, {"readinessProbe", c.ReadinessProbe}, {"startupProbe", c.StartupProbe}} {
		if p.probe != nil {
			probes = append(probes, p.name)
		}
	}
	if len(probes) == 0 {
		return ""
	}
	return fmt.Sprintf("%s of container %s not run: a function has no process to probe; the pod is Ready while the cloud reports the function active",
		strings.Join(probes, ", "), c.Name)
}
