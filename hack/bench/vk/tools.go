//go:build tools

// Package vk pins the Virtual Kubelet command (with its mock provider) that
// make bench measures faas-kubelet against, at the version faas-kubelet
// builds on. It is a module of its own so that the root go.mod stays clean.
package vk

import _ "github.com/virtual-kubelet/virtual-kubelet/cmd/virtual-kubelet"
