// Package logstream turns a cloud's log lines into what kubectl logs asks
// for: timestamps prefixed on request, output cut at --limit-bytes, and a
// follow that polls for new lines until the context ends. Backends fetch
// lines their own way and share this.
package logstream
