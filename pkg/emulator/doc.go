// Package emulator holds protocol-faithful local stand-ins for the clouds
// faas-kubelet drives, served over HTTP on loopback and reached only through
// the clouds' real SDKs. Tests, benchmarks and `make demo` run against them.
package emulator
