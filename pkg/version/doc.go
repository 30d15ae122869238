// Package version holds the build's version, stamped by the Makefile with
// -ldflags "-X github.com/faas-kubelet/faas-kubelet/pkg/version.Version=...".
package version
