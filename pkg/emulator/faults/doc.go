// Package faults holds the knobs every emulator shares: counters of calls
// per operation, errors injected into the next calls of an operation, a
// ledger of every call (what it was about, who asked, what was answered and
// whether the work was carried out) and holds that stop a chosen call until
// a test releases it, in process and over HTTP (GET /_emulator/calls, POST
// /_emulator/faults, GET /_emulator/ledger, /_emulator/holds).
//
// An emulator serves each call between Begin and End (see Call); a call
// whose User-Agent carries HarnessAgent is a test's own and is never
// faulted or held.
package faults
