package alibaba

import (
	"context"
	"strconv"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// mibPerVCPU is the memory that comes with one vCPU on Function Compute's
// performance instances (1:2 GB); functions here do not set cpu.
const mibPerVCPU = 2048

// maxUsagePages bounds one read of the request metrics (100 invocations a
// page).
const maxUsagePages = 100

// Usage reads Function Compute's request-level metrics, which every
// service's logConfig enables: one entry per invocation in the node's
// logstore, with the measured duration (durationMs) and peak memory
// (memoryUsageMB). One GetLogs call reads 100 invocations of all the
// node's functions. CPU time is derived: the duration times the vCPUs of
// the function's memory (memoryMB / 2,048).
func (b *Backend) Usage(ctx context.Context, names []string, since time.Time) ([]translate.UsageSample, error) {
	if b.logs == nil || b.opts.LogProject == "" || b.opts.LogStore == "" || since.After(time.Now()) {
		return nil, nil
	}
	want := make(map[string]bool, len(names))
	for _, n := range names {
		want[n] = true
	}
	var out []translate.UsageSample
	for page := int64(0); page < maxUsagePages; page++ {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		resp, err := getLogs(ctx, b.logs, b.opts.LogProject, b.opts.LogStore, &sls.GetLogRequest{
			From: since.Unix(), To: time.Now().Unix() + 1, Query: "operation: InvokeFunction",
			Lines: pageLines, Offset: page * pageLines,
		})
		if err != nil {
			return out, err
		}
		for _, e := range resp.Logs {
			if s, ok := requestMetric(e); ok && want[s.Function] {
				out = append(out, s)
			}
		}
		if len(resp.Logs) < pageLines {
			break
		}
	}
	return out, nil
}

// requestMetric reads one request-level metrics entry.
func requestMetric(e map[string]string) (translate.UsageSample, bool) {
	ms, err1 := strconv.ParseFloat(e["durationMs"], 64)
	used, err2 := strconv.ParseFloat(e["memoryUsageMB"], 64)
	size, err3 := strconv.ParseFloat(e["memoryMB"], 64)
	if err1 != nil || err2 != nil || err3 != nil || e["requestId"] == "" {
		return translate.UsageSample{}, false
	}
	at := lineOf(e).Time
	if start, err := strconv.ParseInt(e["invocationStartTimestamp"], 10, 64); err == nil {
		at = time.UnixMilli(start).Add(time.Duration(ms * float64(time.Millisecond)))
	}
	return translate.UsageSample{
		Function: e["serviceName"], Key: e["requestId"], At: at, Invocations: 1,
		CPU:         time.Duration(ms * float64(time.Millisecond) * translate.VCPUsForMemory(size, mibPerVCPU)),
		MemoryBytes: uint64(used * (1 << 20)),
	}, true
}
