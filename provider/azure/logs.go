package azure

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/virtual-kubelet/virtual-kubelet/log"

	"github.com/faas-kubelet/faas-kubelet/provider/logstream"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// followEvery is how often a follow reads the container log again.
var followEvery = 2 * time.Second

// Logs serves kubectl logs from the app's container log snapshot
// (GetWebSiteContainerLogs): each line starts with its RFC 3339 timestamp,
// which --since and --timestamps use; --tail and --limit-bytes cut the
// snapshot. A follow then reads Kudu's log stream; where that cannot be
// opened, it reads the snapshot again every few seconds and writes the lines
// it has not written yet.
func (b *Backend) Logs(ctx context.Context, name string, opts translate.LogOptions) (io.ReadCloser, error) {
	all, err := b.containerLog(ctx, name)
	if err != nil {
		return nil, err
	}
	seen := len(all)
	first := logstream.Tail(logstream.Since(all, opts.Since), opts)
	if opts.Follow {
		if next, err := b.kuduStream(ctx, name); err == nil {
			return logstream.Stream(ctx, opts, first, followEvery/4, next), nil
		} else {
			log.G(ctx).WithError(err).Warn("Kudu log stream unavailable; following the container log snapshot instead")
		}
	}
	next := func(ctx context.Context) ([]logstream.Line, error) {
		all, err := b.containerLog(ctx, name)
		if err != nil || len(all) <= seen {
			return nil, err
		}
		fresh := all[seen:]
		seen = len(all)
		return fresh, nil
	}
	return logstream.Stream(ctx, opts, first, followEvery, next), nil
}

// kuduStream opens the app's /api/logstream and returns a Next that hands
// out the lines read so far (the welcome line is dropped).
func (b *Backend) kuduStream(ctx context.Context, name string) (logstream.Next, error) {
	if b.opts.Credential == nil {
		return nil, errors.New("no credential for Kudu")
	}
	base := b.opts.KuduEndpoint
	if base == "" {
		base = "https://{app}.scm.azurewebsites.net"
	}
	tok, err := b.opts.Credential.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://management.azure.com/.default"}})
	if err != nil {
		return nil, fmt.Errorf("token for Kudu: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.ReplaceAll(base, "{app}", name)+"/api/logstream", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	client := b.opts.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("kudu logstream: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("kudu logstream: HTTP %d", resp.StatusCode)
	}
	var mu sync.Mutex
	var pending []logstream.Line
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			l := parseLine(sc.Text(), "")
			if strings.HasPrefix(l.Text, "Welcome, you are now connected to log-streaming service") {
				continue
			}
			mu.Lock()
			pending = append(pending, l)
			mu.Unlock()
		}
	}()
	return func(context.Context) ([]logstream.Line, error) {
		mu.Lock()
		defer mu.Unlock()
		out := pending
		pending = nil
		return out, nil
	}, nil
}

// parseLine splits a leading RFC 3339 timestamp from the text.
func parseLine(text, id string) logstream.Line {
	l := logstream.Line{Text: text, ID: id}
	if first, rest, ok := strings.Cut(text, " "); ok {
		if ts, err := time.Parse(time.RFC3339Nano, first); err == nil {
			l.Time, l.Text = ts, rest
		}
	}
	return l
}

// containerLog reads the snapshot; a line's ID is its position, since the
// snapshot only grows.
func (b *Backend) containerLog(ctx context.Context, name string) ([]logstream.Line, error) {
	out, err := b.api.GetWebSiteContainerLogs(ctx, b.opts.ResourceGroup, name, nil)
	if err != nil {
		return nil, mapError("GetWebSiteContainerLogs", err)
	}
	if out.Body == nil {
		return nil, nil
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, err
	}
	var lines []logstream.Line
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, parseLine(sc.Text(), fmt.Sprint(len(lines))))
	}
	return lines, sc.Err()
}
