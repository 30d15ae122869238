package version

// Version of this build.
var Version = "v0.1.0-dev"

// KubeletVersion is what virtual nodes report as their kubelet version: the
// Kubernetes minor they are built against and this build.
func KubeletVersion() string { return "v1.35.4-faas-kubelet-" + Version }
