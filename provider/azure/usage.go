package azure

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/monitor/armmonitor"
	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	"github.com/virtual-kubelet/virtual-kubelet/log"

	"github.com/faas-kubelet/faas-kubelet/provider"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// MetricsAPI is the part of Azure Monitor's metrics client this backend
// uses.
type MetricsAPI interface {
	List(ctx context.Context, resourceURI string, options *armmonitor.MetricsClientListOptions) (armmonitor.MetricsClientListResponse, error)
}

var _ MetricsAPI = (*armmonitor.MetricsClient)(nil)

// NewMetricsClient builds Azure Monitor's metrics client (the same ARM
// endpoint and credential as the Web Apps client).
func NewMetricsClient(o ClientOptions) (*armmonitor.MetricsClient, error) {
	return armmonitor.NewMetricsClient(o.SubscriptionID, o.Credential, armOptions(o))
}

// usageReaders bounds the apps read at once.
const usageReaders = 4

// usageReadsPerSecond keeps metrics reads within Azure Monitor's 12,000
// metric API calls an hour.
const usageReadsPerSecond = 3

// Usage reads each app's Azure Monitor metrics since since at a one-minute
// grain (one call per app), the metrics its plan's tier offers (the plan
// is read once):
//   - Consumption (tier Dynamic): FunctionExecutionUnits (MB-milliseconds),
//     FunctionExecutionCount and MemoryWorkingSet. CPU is derived: the
//     units divided by the memory they were billed for (the minute's peak
//     working set rounded up to 128 MB), the executions' time, as if each
//     kept one core busy; memory and invocations are measured.
//   - Elastic Premium, Dedicated plans and Container Apps environments:
//     MemoryWorkingSet only (measured). Azure reports no CPU of a Linux
//     function app there (CpuTime is a Web Apps metric; the execution
//     metrics are not reported on Linux), and the plan's CpuPercentage is
//     every app's and instance's, so no CPU is reported.
//
// A minute is a sample, read again while it fills.
func (b *Backend) Usage(ctx context.Context, names []string, since time.Time) ([]translate.UsageSample, error) {
	if b.opts.Metrics == nil {
		return nil, nil
	}
	consumption := b.consumption(ctx)
	return provider.ReadEach(ctx, names, usageReaders, func(ctx context.Context, name string) ([]translate.UsageSample, error) {
		return b.usageOf(ctx, name, since, consumption)
	})
}

// consumption says whether the apps' plan is a Consumption plan (tier
// Dynamic), reading its tier the first time. A plan that cannot be read
// counts as not Consumption this time: its apps' memory is read, the one
// metric every plan offers.
func (b *Backend) consumption(ctx context.Context) bool {
	if b.opts.ManagedEnvironmentID != "" || b.opts.ServerFarmID == "" || b.plans == nil {
		return false
	}
	b.mu.Lock()
	tier := b.planTier
	b.mu.Unlock()
	if tier == "" {
		t, err := b.plans.PlanTier(ctx, b.opts.ServerFarmID)
		if err != nil || t == "" {
			log.G(ctx).WithError(mapError("GetPlan", err)).Warn("reading the App Service plan's tier; reading memory only")
			return false
		}
		b.mu.Lock()
		b.planTier, tier = t, t
		b.mu.Unlock()
	}
	return strings.EqualFold(tier, "Dynamic")
}

// billedMB is the memory Consumption bills an execution for: the working
// set rounded up to 128 MB.
func billedMB(bytes uint64) float64 {
	mb := (bytes + 1<<20 - 1) >> 20
	return float64((mb + 127) / 128 * 128)
}

func (b *Backend) usageOf(ctx context.Context, name string, since time.Time, consumption bool) ([]translate.UsageSample, error) {
	now := time.Now().UTC()
	if !since.Before(now) {
		return nil, nil
	}
	if err := b.usageReads.Wait(ctx); err != nil {
		return nil, err
	}
	metrics, aggregation := "MemoryWorkingSet", "Maximum"
	if consumption {
		metrics, aggregation = "FunctionExecutionUnits,FunctionExecutionCount,MemoryWorkingSet", "Total,Maximum"
	}
	id := fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Web/sites/%s", b.opts.SubscriptionID, b.opts.ResourceGroup, name)
	resp, err := b.opts.Metrics.List(ctx, id, &armmonitor.MetricsClientListOptions{
		Timespan:    to.Ptr(since.UTC().Truncate(time.Minute).Format(time.RFC3339) + "/" + now.Add(time.Minute).Truncate(time.Minute).Format(time.RFC3339)),
		Interval:    to.Ptr("PT1M"),
		Metricnames: to.Ptr(metrics),
		Aggregation: to.Ptr(aggregation),
	})
	if err != nil {
		err = mapError("ListMetrics", err)
		if errdefs.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	minutes := map[time.Time]*translate.UsageSample{}
	units := map[time.Time]float64{}
	for _, m := range resp.Value {
		if m == nil || m.Name == nil || m.Name.Value == nil {
			continue
		}
		for _, ts := range m.Timeseries {
			for _, v := range ts.Data {
				if v == nil || v.TimeStamp == nil {
					continue
				}
				s := minutes[*v.TimeStamp]
				if s == nil {
					s = &translate.UsageSample{Function: name, Key: v.TimeStamp.UTC().Format(time.RFC3339), At: v.TimeStamp.Add(time.Minute)}
					minutes[*v.TimeStamp] = s
				}
				switch *m.Name.Value {
				case "FunctionExecutionUnits":
					if v.Total != nil {
						units[*v.TimeStamp] = *v.Total
					}
				case "FunctionExecutionCount":
					if v.Total != nil {
						s.Invocations = int(*v.Total)
					}
				case "MemoryWorkingSet":
					if v.Maximum != nil {
						s.MemoryBytes = uint64(*v.Maximum)
					}
				}
			}
		}
	}
	out := make([]translate.UsageSample, 0, len(minutes))
	for t, s := range minutes {
		if u := units[t]; u > 0 && s.MemoryBytes > 0 {
			s.CPU = time.Duration(u / billedMB(s.MemoryBytes) * float64(time.Millisecond))
		}
		if s.CPU > 0 || s.MemoryBytes > 0 || s.Invocations > 0 {
			out = append(out, *s)
		}
	}
	return out, nil
}
