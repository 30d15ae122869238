package azure

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// invocationEnd tells how a failed call of an app's HTTP trigger ended
// from its status and how long it took (the emulator's documentation names
// the source of each rule):
//   - 500 once the app's functionTimeout passed: the host ended the run at
//     its timeout (FunctionTimeoutException), and answers a run that threw
//     with 500, as it answers any function error: only the duration tells
//     them apart;
//   - 502 or 504 once 230 s passed: App Service's front end cut the call
//     (Azure Load Balancer's idle timeout, HTTP trigger Limits);
//   - anything else is the function's error. A worker killed out of memory
//     is one too: its caller sees a 500 or 502 like any other, and only the
//     host's log names the kill, so no answer tells it.
func (b *Backend) invocationEnd(ctx context.Context, name string, status int, took time.Duration) translate.InvocationEnd {
	switch status {
	case http.StatusBadGateway, http.StatusGatewayTimeout:
		if took >= maxHTTPResponse*time.Second {
			return translate.EndTimeout
		}
	case http.StatusInternalServerError:
		if limit := b.appTimeout(ctx, name); limit > 0 && took >= limit {
			return translate.EndTimeout
		}
	}
	return translate.EndError
}

// appTimeout is the app's functionTimeout as its setting holds it, 0 when
// it sets none (the plans' defaults, 5 and 30 minutes, are past the 230 s
// an HTTP-triggered call may take) or it cannot be read.
func (b *Backend) appTimeout(ctx context.Context, name string) time.Duration {
	settings, err := b.api.ListApplicationSettings(ctx, b.opts.ResourceGroup, name, nil)
	if err != nil {
		return 0
	}
	for k, v := range settings.Properties {
		if strings.EqualFold(k, settingFunctionTimeout) {
			return parseTimeout(str(v))
		}
	}
	return 0
}

// parseTimeout reads the hh:mm:ss this backend writes (functionTimeout).
func parseTimeout(v string) time.Duration {
	parts := strings.Split(strings.TrimSpace(v), ":")
	if len(parts) != 3 {
		return 0
	}
	var d time.Duration
	for i, unit := range []time.Duration{time.Hour, time.Minute, time.Second} {
		n, err := strconv.Atoi(parts[i])
		if err != nil || n < 0 {
			return 0
		}
		d += time.Duration(n) * unit
	}
	return d
}

func (b *Backend) now() time.Time {
	if b.opts.Now != nil {
		return b.opts.Now()
	}
	return time.Now()
}
