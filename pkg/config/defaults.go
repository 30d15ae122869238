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
}

func bracketIPv6(addr string) string {
	for _, r := range addr {
		if r == ':' {
			return "[" + addr + "]"
		}
	}
	return addr
}
