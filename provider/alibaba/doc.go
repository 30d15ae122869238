// Package alibaba is the Alibaba Cloud Function Compute backend: each pod
// becomes a Function Compute 2.0 service holding one custom-container
// function (and an HTTP trigger when the pod has a container port), and
// kubectl logs reads the service's Simple Log Service logstore.
//
// Why a service per pod: in Function Compute 2.0 only services carry tags,
// and a service is the unit Alibaba Cloud bills and allocates cost by. A
// service per pod carries the pod's identity (UID, namespace, name, node)
// and its labels as tags, and its description names the owner from the
// moment it is created, before the tags are written. Everything else the pod
// needs lives inside its service and goes with it, so one paged
// ListServices finds every resource this node created, even one half-made
// when the process died, and nothing is found by its name alone.
package alibaba
