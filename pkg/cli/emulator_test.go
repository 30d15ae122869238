package cli

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// faas-kubelet emulator runs the three clouds' emulators (by default on
// 127.0.0.1:9324-9326) and prints each endpoint with its credentials.
func TestEmulatorCommandRunsTheThreeClouds(t *testing.T) {
	cmd := newEmulatorCommand()
	for flag, want := range map[string]string{"lambda-listen": "127.0.0.1:9324", "azure-listen": "127.0.0.1:9325", "alibaba-listen": "127.0.0.1:9326"} {
		if got := cmd.Flags().Lookup(flag).DefValue; got != want {
			t.Errorf("--%s defaults to %q, want %q", flag, got, want)
		}
	}
	var out lockedBuffer
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"--lambda-listen", "127.0.0.1:0", "--azure-listen", "127.0.0.1:0", "--alibaba-listen", "127.0.0.1:0"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(out.String(), "endpoint=") < 3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"aws-lambda endpoint=http://127.0.0.1:", "AWS_SECRET_ACCESS_KEY=", "azure-functions endpoint=http://127.0.0.1:", "AZURE_ACCESS_TOKEN=",
		"alibaba-fc endpoint=http://127.0.0.1:", "ALIBABA_CLOUD_ACCESS_KEY_SECRET="} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
