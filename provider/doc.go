// Package provider is faas-kubelet's cloud-neutral core. It implements
// Virtual Kubelet's nodeutil.Provider and node.PodNotifier once, over the small
// per-cloud Backend interface, keeps one record per pod keyed by the pod's
// UID, and turns function state into pod status.
package provider
