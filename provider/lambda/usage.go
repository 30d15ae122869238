package lambda

import (
	"context"
	"regexp"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/faas-kubelet/faas-kubelet/provider"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// mibPerVCPU is Lambda's allocation of CPU: in proportion to memory, one
// vCPU at 1,769 MB.
const mibPerVCPU = 1769

// usageReaders bounds the log groups read at once.
const usageReaders = 4

// usageReadsPerSecond is CloudWatch Logs' FilterLogEvents quota per account
// and region; usage reads keep within it, leaving kubectl logs what the
// quota's burst allows.
const usageReadsPerSecond = 5

// reportLine is the line Lambda writes to a function's log group at the end
// of every invocation.
var reportLine = regexp.MustCompile(`REPORT RequestId: (\S+)\s+Duration: ([0-9.]+) ms\s+Billed Duration: [0-9]+ ms\s+Memory Size: ([0-9]+) MB\s+Max Memory Used: ([0-9]+) MB`)

// Usage reads the REPORT lines of the functions' log groups since since
// (one FilterLogEvents page per function and 10,000 invocations, at most 5
// functions a second: the API's quota): each is
// an invocation with its measured duration and peak memory. CPU time is
// derived: the duration times the vCPUs Lambda allocates for the
// function's memory size (1,769 MB buy one).
func (b *Backend) Usage(ctx context.Context, names []string, since time.Time) ([]translate.UsageSample, error) {
	if b.logs == nil {
		return nil, nil
	}
	return provider.ReadEach(ctx, names, usageReaders, func(ctx context.Context, name string) ([]translate.UsageSample, error) {
		return b.usageOf(ctx, name, since)
	})
}

func (b *Backend) usageOf(ctx context.Context, name string, since time.Time) ([]translate.UsageSample, error) {
	if err := b.usageReads.Wait(ctx); err != nil {
		return nil, err
	}
	evs, err := b.filterPattern(ctx, "/aws/lambda/"+name, aws.Int64(since.UnixMilli()), `"REPORT RequestId"`)
	if err != nil && !isMissingGroup(err) {
		return nil, err
	}
	out := make([]translate.UsageSample, 0, len(evs))
	for _, e := range evs {
		if s, ok := parseReport(name, e); ok {
			out = append(out, s)
		}
	}
	return out, nil
}

// parseReport reads one REPORT line.
func parseReport(name string, e event) (translate.UsageSample, bool) {
	m := reportLine.FindStringSubmatch(e.msg)
	if m == nil {
		return translate.UsageSample{}, false
	}
	ms, err1 := strconv.ParseFloat(m[2], 64)
	size, err2 := strconv.ParseFloat(m[3], 64)
	used, err3 := strconv.ParseUint(m[4], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return translate.UsageSample{}, false
	}
	cpu := time.Duration(ms * float64(time.Millisecond) * translate.VCPUsForMemory(size, mibPerVCPU))
	return translate.UsageSample{Function: name, Key: m[1], At: time.UnixMilli(e.ts), CPU: cpu, MemoryBytes: used << 20, Invocations: 1}, true
}
