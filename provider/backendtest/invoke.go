package backendtest

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/faas-kubelet/faas-kubelet/provider"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// A Job's pod runs its function once with Invoke and shows the output.
func invokeReturnsOutput(t *testing.T, h *Harness) {
	b := h.start(t).New()
	fn := h.function(t, "invoked", nil)
	deploy(t, b, fn)
	waitPhase(t, b, fn.Name, translate.PhaseActive)
	inv, err := b.Invoke(context.Background(), fn.Name, []byte(`{"order":42}`))
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	if inv.FunctionError != "" || !strings.Contains(string(inv.Output), `"order"`) {
		t.Errorf("Invoke = output %q, function error %q; want the echoed payload and no error", inv.Output, inv.FunctionError)
	}
}

// A function that ran and failed fails its Job's pod (or restarts it);
// only an error of the call itself is retried.
func functionErrorIsAResult(t *testing.T, h *Harness) {
	if h.Caps.NoFunctionErrors {
		t.Skip("Caps.NoFunctionErrors: the backend runs no code")
	}
	b := h.start(t).New()
	fn := h.function(t, "failing", func(p *corev1.Pod) {
		p.Spec.Containers[0].Env = append(p.Spec.Containers[0].Env, corev1.EnvVar{Name: "EMULATOR_FAIL", Value: "disk full"})
	})
	deploy(t, b, fn)
	waitPhase(t, b, fn.Name, translate.PhaseActive)
	inv, err := b.Invoke(context.Background(), fn.Name, []byte(`{}`))
	if err != nil {
		t.Fatalf("Invoke of a failing function: %v, want a result with FunctionError", err)
	}
	if inv.FunctionError == "" || !strings.Contains(inv.FunctionError+string(inv.Output), "disk full") {
		t.Errorf("Invoke = output %q, function error %q; want the function's error", inv.Output, inv.FunctionError)
	}
}

// logsOf deploys a function, waits for it and invokes it n times, each
// invocation logging logLine.
func logsOf(t *testing.T, h *Harness, b provider.Backend, name string, n int) *translate.Function {
	t.Helper()
	fn := h.function(t, name, nil)
	deploy(t, b, fn)
	waitPhase(t, b, fn.Name, translate.PhaseActive)
	for range n {
		if _, err := b.Invoke(context.Background(), fn.Name, []byte(`{}`)); err != nil {
			t.Fatalf("Invoke: %v", err)
		}
	}
	return fn
}

// readLogs reads name's logs with o to the end.
func readLogs(t *testing.T, b provider.Backend, name string, o translate.LogOptions) string {
	t.Helper()
	rc, err := b.Logs(context.Background(), name, o)
	if err != nil {
		t.Fatalf("Logs %+v: %v", o, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading Logs %+v: %v", o, err)
	}
	return string(data)
}

// lines are the non-empty lines of s.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// kubectl logs --tail and --since show the newest lines, and the lines of
// the last while.
func logsTailAndSince(t *testing.T, h *Harness) {
	b := h.start(t).New()
	if h.Caps.NoLogs {
		notSupported(t, b, h, translate.LogOptions{}, "Caps.NoLogs")
		return
	}
	fn := logsOf(t, h, b, "logged", 3)
	deadline := time.Now().Add(wait)
	all := readLogs(t, b, fn.Name, translate.LogOptions{})
	for strings.Count(all, logLine) < 3 && time.Now().Before(deadline) {
		time.Sleep(tick) // a log service may index lines after the call
		all = readLogs(t, b, fn.Name, translate.LogOptions{})
	}
	if n := strings.Count(all, logLine); n != 3 {
		t.Fatalf("all logs show the line of %d invocations, want 3:\n%s", n, all)
	}
	every := lines(all)
	for _, n := range []int{1, 2} {
		tail := lines(readLogs(t, b, fn.Name, translate.LogOptions{Tail: n, HasTail: true}))
		if len(tail) != n || tail[n-1] != every[len(every)-1] {
			t.Errorf("tail %d = %q, want the last %d of %q", n, tail, n, every)
		}
	}
	if got := readLogs(t, b, fn.Name, translate.LogOptions{Since: time.Now().Add(-time.Hour)}); strings.Count(got, logLine) != 3 {
		t.Errorf("since an hour ago:\n%s\nwant the 3 invocations", got)
	}
	if got := readLogs(t, b, fn.Name, translate.LogOptions{Since: time.Now().Add(time.Hour)}); got != "" {
		t.Errorf("since an hour from now = %q, want nothing", got)
	}
}

// kubectl logs -f shows lines as they are written and ends when the user
// stops it.
func logsFollow(t *testing.T, h *Harness) {
	b := h.start(t).New()
	switch {
	case h.Caps.NoLogs:
		notSupported(t, b, h, translate.LogOptions{Follow: true}, "Caps.NoLogs")
		return
	case h.Caps.NoLogsFollow:
		notSupported(t, b, h, translate.LogOptions{Follow: true}, "Caps.NoLogsFollow")
		return
	}
	fn := logsOf(t, h, b, "followed", 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rc, err := b.Logs(ctx, fn.Name, translate.LogOptions{Follow: true, HasTail: true, Tail: 0})
	if err != nil {
		t.Fatalf("Logs with Follow: %v", err)
	}
	defer rc.Close()
	chunks := make(chan string, 100)
	go func() {
		defer close(chunks)
		buf := make([]byte, 4096)
		for {
			n, err := rc.Read(buf)
			if n > 0 {
				chunks <- string(buf[:n])
			}
			if err != nil {
				return
			}
		}
	}()
	if _, err := b.Invoke(context.Background(), fn.Name, []byte(`{}`)); err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	timeout := time.After(wait)
	got := ""
	for !strings.Contains(got, logLine) {
		select {
		case c, ok := <-chunks:
			if !ok {
				t.Fatalf("the follow ended before the invocation's line; got %q", got)
			}
			got += c
		case <-timeout:
			t.Fatalf("the follow did not show the invocation's line within %s; got %q", wait, got)
		}
	}
	cancel()
	timeout = time.After(wait)
	for {
		select {
		case _, ok := <-chunks:
			if !ok {
				return
			}
		case <-timeout:
			t.Fatalf("the follow went on %s after its context ended", wait)
		}
	}
}

// notSupported checks that a backend without logs says so.
func notSupported(t *testing.T, b provider.Backend, h *Harness, o translate.LogOptions, flag string) {
	t.Helper()
	fn := h.function(t, "unlogged", nil)
	deploy(t, b, fn)
	rc, err := b.Logs(context.Background(), fn.Name, o)
	if rc != nil {
		_ = rc.Close()
	}
	if !errors.Is(err, provider.ErrNotSupported) {
		t.Errorf("%s: Logs %+v = %v, want an error wrapping provider.ErrNotSupported", flag, o, err)
	}
}
