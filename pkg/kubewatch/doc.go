// Package kubewatch keeps a watch of the API server going when the server
// closes it under load.
//
// The API server's watch cache gives a watch of one node's pods (field
// selector spec.nodeName, the kubelet's watch) a buffer of 10 events, and
// closes a watch whose buffer stays full longer than its dispatch budget:
// under a burst of new pods on a busy API server, a virtual node's watch was
// closed dozens of times a minute. The reflector re-opens a closed watch at
// once, but one closed before its first event is an error to it ("very
// short watch"): it backs off 0.8-1.6 s (doubling, up to 30 s, while that
// repeats) and lists everything again, a stall in which no new pod is seen
// (1.3 s in one benchmark run, most of its p99 from function Active to pod
// Running).
//
// Resuming re-opens such a watch from the last resource version it
// delivered, as the reflector would, without the reflector seeing the
// close. It gives up, and the reflector takes over as before, when the
// server sends an error event (410 Gone among them) or refuses to open the
// watch, while the initial events of a streaming list are still coming,
// once the request's timeout has passed, and when the server keeps closing
// watches that deliver nothing.
package kubewatch
