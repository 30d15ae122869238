package memorybackend

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/errdefs"

	"github.com/faas-kubelet/faas-kubelet/provider"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// Name is the backend's name in the config.
const Name = "memory"

// Options configure the backend.
type Options struct {
	// FaultFile, while it exists, makes Ping fail with its contents.
	FaultFile string
	// Now returns the current time; tests set it.
	Now func() time.Time
}

// Backend keeps functions in a map.
type Backend struct {
	opts Options
	mu   sync.Mutex
	fns  map[string]translate.FunctionState
	// asyncCount numbers asynchronous invocations.
	asyncCount atomic.Int64
}

var _ provider.Backend = (*Backend)(nil)

// New returns an empty in-memory backend.
func New(opts Options) *Backend {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Backend{opts: opts, fns: map[string]translate.FunctionState{}}
}

// Cloud returns "memory".
func (b *Backend) Cloud() string { return Name }

// Ping fails while the fault file exists.
func (b *Backend) Ping(context.Context) error {
	if b.opts.FaultFile == "" {
		return nil
	}
	data, err := os.ReadFile(b.opts.FaultFile)
	if err != nil {
		return nil
	}
	msg := strings.TrimSpace(string(data))
	if msg == "" {
		msg = "fault injected"
	}
	return fmt.Errorf("memory backend unreachable: %s", msg)
}

// Deploy stores the function as Active.
func (b *Backend) Deploy(_ context.Context, fn *translate.Function) (*translate.FunctionState, error) {
	if fn.Image == "" {
		return nil, errdefs.InvalidInput("spec.containers[0].image: an image is required")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	st, ok := b.fns[fn.Name]
	if !ok {
		st = translate.FunctionState{Name: fn.Name, Created: b.opts.Now()}
	}
	sum := sha256.Sum256([]byte(fn.Image))
	st.Phase = translate.PhaseActive
	st.ImageID = "sha256:" + hex.EncodeToString(sum[:])
	// Tags merge, as the clouds' do: a redeploy keeps those Tag recorded
	// (a Job's progress).
	tags := maps.Clone(st.Tags)
	if tags == nil {
		tags = map[string]string{}
	}
	maps.Copy(tags, fn.Tags)
	st.Tags = tags
	b.fns[fn.Name] = st
	return &st, nil
}

// Delete forgets the function; deleting a missing function succeeds.
func (b *Backend) Delete(_ context.Context, name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.fns, name)
	return nil
}

// Get returns the function's state or errdefs.NotFound.
func (b *Backend) Get(_ context.Context, name string) (*translate.FunctionState, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	st, ok := b.fns[name]
	if !ok {
		return nil, errdefs.NotFoundf("function %s not found", name)
	}
	return &st, nil
}

// Invoke echoes the payload.
func (b *Backend) Invoke(_ context.Context, name string, payload []byte) (*translate.Invocation, error) {
	if _, err := b.Get(context.Background(), name); err != nil {
		return nil, err
	}
	return &translate.Invocation{RequestID: "memory", Output: payload}, nil
}

// InvokeAsync accepts the invocation and discards it.
func (b *Backend) InvokeAsync(ctx context.Context, name string, _ []byte) (string, error) {
	if _, err := b.Get(ctx, name); err != nil {
		return "", err
	}
	return "memory-" + strconv.FormatInt(b.asyncCount.Add(1), 10), nil
}

// HTTP echoes the request: its method and path in headers, its body as the
// response body.
func (b *Backend) HTTP(ctx context.Context, name string, req *http.Request) (*http.Response, error) {
	if _, err := b.Get(ctx, name); err != nil {
		return nil, err
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	h := http.Header{"Content-Type": {"application/octet-stream"}, "X-Memory-Method": {req.Method}, "X-Memory-Path": {req.URL.RequestURI()}}
	return &http.Response{StatusCode: http.StatusOK, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body))}, nil
}

// Tag merges tags.
func (b *Backend) Tag(_ context.Context, name string, tags map[string]string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	st, ok := b.fns[name]
	if !ok {
		return errdefs.NotFoundf("function %s not found", name)
	}
	if st.Tags == nil {
		st.Tags = map[string]string{}
	}
	maps.Copy(st.Tags, tags)
	b.fns[name] = st
	return nil
}

// List returns the functions tagged with node.
func (b *Backend) List(_ context.Context, node string) ([]translate.FunctionState, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []translate.FunctionState
	for _, st := range b.fns {
		if st.Tags[translate.TagNode] == node {
			out = append(out, st)
		}
	}
	return out, nil
}
