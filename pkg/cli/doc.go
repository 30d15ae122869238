// Package cli is faas-kubelet's command line: the root command that runs
// the virtual nodes, and the version and config subcommands. It is the only
// place that reads flags and environment variables, and the one place where
// backends are registered by name.
package cli
