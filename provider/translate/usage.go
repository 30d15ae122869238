package translate

import "time"

// UsageSample is what a cloud reported of a function's use of resources:
// one invocation (Key is its request id) or one metric interval (Key names
// the interval). A sample read again under the same Key replaces the first
// reading (an interval still filling up grows).
type UsageSample struct {
	Function string
	Key      string
	// At is when the invocation ended, or the interval's end.
	At time.Time
	// CPU is the CPU time used. Whether the cloud measured it or it is
	// derived (duration × the vCPUs the function is allocated) is the
	// backend's to say in its documentation.
	CPU time.Duration
	// MemoryBytes is the peak memory used.
	MemoryBytes uint64
	// Invocations is how many invocations the sample covers.
	Invocations int
}

// VCPUsForMemory is the share of a vCPU a function gets for its memory on
// clouds that allocate CPU in proportion to memory: mibPerVCPU MiB buy one
// vCPU (Lambda: 1,769 MB).
func VCPUsForMemory(memoryMiB, mibPerVCPU float64) float64 {
	if memoryMiB <= 0 || mibPerVCPU <= 0 {
		return 0
	}
	return memoryMiB / mibPerVCPU
}
