// Package config holds faas-kubelet's one configuration struct: the virtual
// nodes to run, the cloud behind each, and how the process talks to the
// Kubernetes API. It loads YAML strictly (an unknown key is an error naming
// its path), fills defaults from the Default* constants and validates every
// field before anything is registered with the cluster.
//
// Environment variables are not read here; the CLI layer does that.
package config
