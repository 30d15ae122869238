// Package node runs one virtual node: it builds the Node object (labels,
// taint, capacity, addresses), keeps its Ready condition in step with the
// cloud's health, serves the kubelet API over TLS with the kubelet's own
// authentication (client certificates and TokenReview) and authorization
// (SubjectAccessReview), and drives Virtual Kubelet's node and pod
// controllers over the cloud-neutral provider.
package node
