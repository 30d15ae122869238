//go:build tools

// Package kwok pins kwok's controller (sigs.k8s.io/kwok/cmd/kwok), which
// make bench runs as a baseline: a node whose pods only get statuses
// written, the fastest kubelet a cluster can have. It is a module of its
// own so that the root go.mod stays clean.
package kwok

import _ "sigs.k8s.io/kwok/cmd/kwok"
