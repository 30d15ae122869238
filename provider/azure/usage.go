package azure

import (
	"context"
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/monitor/armmonitor"
	"github.com/virtual-kubelet/virtual-kubelet/errdefs"

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
// grain (one call per app): CpuTime (the CPU seconds the app used in the
// minute) and MemoryWorkingSet (its peak working set in the minute). Both
// are measured by Azure; a minute is a sample, read again while it fills.
func (b *Backend) Usage(ctx context.Context, names []string, since time.Time) ([]translate.UsageSample, error) {
	if b.opts.Metrics == nil {
		return nil, nil
	}
	return provider.ReadEach(ctx, names, usageReaders, func(ctx context.Context, name string) ([]translate.UsageSample, error) {
		return b.usageOf(ctx, name, since)
	})
}

func (b *Backend) usageOf(ctx context.Context, name string, since time.Time) ([]translate.UsageSample, error) {
	now := time.Now().UTC()
	if !since.Before(now) {
		return nil, nil
	}
	if err := b.usageReads.Wait(ctx); err != nil {
		return nil, err
	}
	id := fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Web/sites/%s", b.opts.SubscriptionID, b.opts.ResourceGroup, name)
	resp, err := b.opts.Metrics.List(ctx, id, &armmonitor.MetricsClientListOptions{
		Timespan:    to.Ptr(since.UTC().Truncate(time.Minute).Format(time.RFC3339) + "/" + now.Add(time.Minute).Truncate(time.Minute).Format(time.RFC3339)),
		Interval:    to.Ptr("PT1M"),
		Metricnames: to.Ptr("CpuTime,MemoryWorkingSet"),
		Aggregation: to.Ptr("Total,Maximum"),
	})
	if err != nil {
		err = mapError("ListMetrics", err)
		if errdefs.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	minutes := map[time.Time]*translate.UsageSample{}
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
				case "CpuTime":
					if v.Total != nil {
						s.CPU = time.Duration(*v.Total * float64(time.Second))
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
	for _, s := range minutes {
		if s.CPU > 0 || s.MemoryBytes > 0 {
			out = append(out, *s)
		}
	}
	return out, nil
}
