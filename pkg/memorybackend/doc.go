// Package memorybackend is an in-memory Backend for tests and the demo. It is
// not a cloud and runs nothing: a deployed "function" is a map entry that is
// Active at once. Its one knob is a fault file: while that file exists,
// Ping fails with the file's contents, so a test can take the node's backend
// away and bring it back.
package memorybackend
