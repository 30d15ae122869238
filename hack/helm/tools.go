//go:build tools

// Package helm pins the Helm command that the chart's tests lint and
// render with. It is a module of its own so that the root go.mod stays
// clean.
package helm

import _ "helm.sh/helm/v3/cmd/helm"
