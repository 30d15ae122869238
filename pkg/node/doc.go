// Package node runs one virtual node: it builds the Node object (labels,
// taint, capacity, addresses), keeps it Ready while this process serves it,
// shows the cloud's health as its CloudReachable condition (and keeps new
// pods off with a NoSchedule taint while the cloud does not answer), serves
// the kubelet API over TLS with the kubelet's own authentication (client
// certificates and TokenReview) and authorization (SubjectAccessReview),
// and drives Virtual Kubelet's node and pod controllers over the
// cloud-neutral provider.
package node
