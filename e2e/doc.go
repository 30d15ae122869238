// Package e2e holds faas-kubelet's end-to-end tests. They run only with the
// "e2e" build tag (make e2e, or make test): TestMain brings up the real
// control plane from hack/cluster.sh, builds the faas-kubelet binary, and each
// test starts its own faas-kubelet process and asserts through the real API
// server and the real kubectl.
package e2e
