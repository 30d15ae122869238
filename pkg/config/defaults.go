package config

import "fmt"

// SetDefaults fills every empty field with its default.
func (c *Config) SetDefaults() {
	if c.ClientQPS == 0 {
		c.ClientQPS = DefaultClientQPS
	}
	if c.ClientBurst == 0 {
		c.ClientBurst = DefaultClientBurst
	}
	if c.EventQPS == 0 {
		c.EventQPS = DefaultEventQPS
	}
	if c.EventBurst == 0 {
		c.EventBurst = DefaultEventBurst
	}
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	}
	if c.Log.Level == "" {
		c.Log.Level = DefaultLogLevel
	}
	if c.Log.Format == "" {
		c.Log.Format = DefaultLogFormat
	}
	for i := range c.Nodes {
		c.Nodes[i].setDefaults(i)
	}
	if c.MemoryPerPod == nil {
		m := DefaultMemoryPerPod.DeepCopy()
		c.MemoryPerPod = &m
	}
	if c.ShutdownGracePeriod.Duration == 0 {
		c.ShutdownGracePeriod = DefaultShutdownGracePeriod
	}
	le := &c.LeaderElection
	if le.Namespace == "" {
		le.Namespace = DefaultLeaderElectionNamespace
	}
	if le.Name == "" && len(c.Nodes) > 0 {
		le.Name = "faas-kubelet-" + c.Nodes[0].Name
	}
	if le.LeaseDuration.Duration == 0 {
		le.LeaseDuration = DefaultLeaseDuration
	}
	if le.RenewDeadline.Duration == 0 {
		le.RenewDeadline = DefaultRenewDeadline
	}
	if le.RetryPeriod.Duration == 0 {
		le.RetryPeriod = DefaultRetryPeriod
	}
}

func (n *Node) setDefaults(index int) {
	if n.Address == "" {
		n.Address = DefaultAddress
	}
	if n.KubeletPort == 0 {
		n.KubeletPort = DefaultKubeletPort + int32(index)
	}
	if n.ListenAddress == "" {
		n.ListenAddress = fmt.Sprintf("%s:%d", bracketIPv6(n.Address), n.KubeletPort)
	}
	if n.InstanceType == "" {
		n.InstanceType = n.Cloud
	}
	if !n.Taint.Disabled {
		if n.Taint.Key == "" {
			n.Taint.Key = DefaultTaintKey
		}
		if n.Taint.Value == "" {
			n.Taint.Value = n.Cloud
		}
		if n.Taint.Effect == "" {
			n.Taint.Effect = DefaultTaintEffect
		}
	}
	if n.Capacity.CPU == "" {
		n.Capacity.CPU = DefaultCapacityCPU
	}
	if n.Capacity.Memory == "" {
		n.Capacity.Memory = DefaultCapacityMemory
	}
	if n.Capacity.Pods == "" {
		n.Capacity.Pods = DefaultCapacityPods
	}
	if n.Capacity.EphemeralStorage == "" {
		n.Capacity.EphemeralStorage = DefaultCapacityStorage
	}
	if n.Credentials.Source == "" {
		n.Credentials.Source = DefaultCredentialSource
	}
	if n.HealthCheckInterval.Duration == 0 {
		n.HealthCheckInterval = DefaultHealthCheckInterval
	}
	if n.ResyncInterval.Duration == 0 {
		n.ResyncInterval = DefaultResyncInterval
	}
	if n.UsageInterval.Duration == 0 {
		n.UsageInterval = DefaultUsageInterval
	}
	d := DefaultLimits(n.Cloud)
	if n.Limits == nil {
		n.Limits = &Limits{}
	}
	if n.Limits.QPS == nil {
		n.Limits.QPS = d.QPS
	}
	if n.Limits.Burst == 0 {
		n.Limits.Burst = d.Burst
	}
	if n.Limits.MaxConcurrent == 0 {
		n.Limits.MaxConcurrent = d.MaxConcurrent
	}
	if n.Limits.MaxRetries == nil {
		n.Limits.MaxRetries = d.MaxRetries
	}
}

// DefaultLimits are each cloud's client-side limits, at or below the
// cloud's documented default quotas so that one node does not get its
// account throttled: Lambda allows 15 control-plane requests/s per region,
// and only those wait for the limit (invocations, GetFunction and
// CloudWatch Logs have quotas of their own); Azure Resource Manager refills
// a subscription's write bucket at 10/s and its read bucket at 25/s;
// Function Compute is kept at a similar rate. The in-memory test backend is
// unlimited. Lower them when other tools share the account's quota.
func DefaultLimits(cloud string) Limits {
	retries := DefaultMaxRetries
	qps, burst := 10.0, 20
	switch cloud {
	case "aws-lambda":
		qps, burst = 15, 15
	case "azure-functions":
		qps, burst = 8, 20
	case "alibaba-fc":
		qps, burst = 10, 20
	case "memory":
		qps, burst = 0, 0 // unlimited
	}
	l := Limits{QPS: &qps, Burst: burst, MaxConcurrent: DefaultMaxConcurrent, MaxRetries: &retries}
	return l
}

func bracketIPv6(addr string) string {
	for _, r := range addr {
		if r == ':' {
			return "[" + addr + "]"
		}
	}
	return addr
}
