//go:build tools

// Package metricsserver pins metrics-server, which the end-to-end tests run
// against the virtual nodes so that kubectl top and the resource metrics
// API read what faas-kubelet serves exactly as in a cluster. It is a module
// of its own so that the root go.mod stays clean.
package metricsserver

import _ "sigs.k8s.io/metrics-server/cmd/metrics-server"
