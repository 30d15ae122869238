// Package lambda is a local AWS Lambda + CloudWatch Logs that the real
// aws-sdk-go-v2 clients cannot tell from AWS for everything faas-kubelet uses.
// Point the SDKs at it with BaseEndpoint; both services share one listener
// (Lambda's restJson1 paths, and Logs' awsJson1_1 POST / with X-Amz-Target).
//
// Faithful to the cloud: the same paths and status codes (CreateFunction 201,
// DeleteFunction 204, Invoke 200 / Event 202 / DryRun 204), errors typed by
// the X-Amzn-ErrorType header and a JSON body, SigV4 signatures verified (a
// wrong secret gets 403), function names or percent-escaped ARNs, State
// (Pending → Active after ActivationDelay) and LastUpdateStatus (InProgress →
// Successful after UpdateDelay, 409 to an update while one is in progress),
// ListFunctions paged with Marker/NextMarker and, as on AWS, without State.
//
// Emulated functions behave deterministically:
//   - Invoke echoes the payload (an empty payload answers {}).
//   - A payload {"fail": "msg"}, or the function environment variable
//     EMULATOR_FAIL=msg, makes the invocation a function error
//     (X-Amz-Function-Error: Unhandled, body {"errorMessage": "msg", ...}).
//   - A payload {"sleepMs": N} sleeps N ms (at most 30 s) before answering.
//   - The function environment variable EMULATOR_LOG=text adds that line to
//     each invocation's log, between START and END/REPORT.
//   - Every invocation ends with Lambda's REPORT line (Duration, Billed
//     Duration, Memory Size, Max Memory Used); Max Memory Used is the
//     environment variable EMULATOR_MEMORY_MB, else 42, at most Memory Size.
//   - An image whose tag is "fail-create" makes the function go Failed
//     (StateReasonCode ImageAccessDenied) instead of Active.
//
// Knobs: latency per request, injected errors per operation (status and
// count), and counters of calls per operation; in process through Options and
// methods, out of process through /_emulator/faults and /_emulator/calls.
package lambda
