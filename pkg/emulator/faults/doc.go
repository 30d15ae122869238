// Package faults holds the knobs every emulator shares: counters of calls
// per operation and errors injected into the next calls of an operation, in
// process and over HTTP (GET /_emulator/calls, POST /_emulator/faults).
package faults
