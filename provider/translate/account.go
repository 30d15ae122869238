package translate

// Account is what a cloud reports about the account behind a node, shown
// on the Node object: who owns the functions, and the account's quotas.
type Account struct {
	// ID is the AWS account, the Azure subscription or the Alibaba Cloud
	// account (UID).
	ID string
	// Service names the cloud's function service ("AWS Lambda").
	Service string
	// Runtime is the node's container runtime version as the kubelet shows
	// it: the service and its API version ("aws-lambda://2015-03-31").
	Runtime string
	// Capacity and Allocatable are the account's quotas as node extended
	// resources, by name under faas-kubelet.io/ ("concurrent-executions"):
	// the quota, and what of it is still free for new functions. Empty when
	// the cloud reports no quota through its API.
	Capacity, Allocatable map[string]int64
}
