// Package backendtest is the contract every provider.Backend keeps, written
// once and run against each backend over its emulator (see Run). The cases
// are what the core relies on: an idempotent Deploy that a restarted node
// adopts, List by node, Job progress in tags, an idempotent Delete, Invoke
// and Logs, and the errors the core classifies (a refusal that heals, a
// transient answer, a spec the cloud cannot run).
//
// The suite steers the emulators with the knobs they share: the
// faults.Refusals and faults.Fault of pkg/emulator/faults, and the function
// environment variables EMULATOR_LOG (a line each invocation logs) and
// EMULATOR_FAIL (a function error), which every emulator's package doc
// describes. A backend that cannot do something the contract asks says so
// with a Caps flag, which its contract test sets with the reason; the case
// then checks what the backend does instead (ErrNotSupported) or skips with
// the flag's name, never silently.
package backendtest
