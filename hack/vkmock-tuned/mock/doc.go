// Package mock is Virtual Kubelet's mock provider, mock.go copied unchanged
// from github.com/virtual-kubelet/virtual-kubelet v1.13.0
// (cmd/virtual-kubelet/internal/provider/mock, Apache License 2.0, the
// virtual-kubelet authors). It lives under internal/ there, so a program
// outside that module can only run it from a copy; copy_test.go checks that
// the copy is still the file in the module cache, so that make bench's
// "VK mock, tuned" row runs the same provider as the as-shipped row.
package mock
