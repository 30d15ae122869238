package provider

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	utilexec "k8s.io/utils/exec"

	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

type buffer struct{ bytes.Buffer }

func (*buffer) Close() error { return nil }

// attachIO is kubectl exec's streams: stdin (nil when -i is not given),
// stdout and stderr.
type attachIO struct {
	in       io.Reader
	out, err buffer
	tty      bool
}

func (a *attachIO) Stdin() io.Reader            { return a.in }
func (a *attachIO) Stdout() io.WriteCloser      { return &a.out }
func (a *attachIO) Stderr() io.WriteCloser      { return &a.err }
func (a *attachIO) TTY() bool                   { return a.tty }
func (a *attachIO) Resize() <-chan api.TermSize { return nil }
func exitCode(err error) int {
	var e utilexec.ExitError
	if errors.As(err, &e) {
		return e.ExitStatus()
	}
	return -1
}

// kubectl exec POD -- invoke: the payload from stdin, the response on
// stdout; a function error on stderr with exit code 1; --async prints the
// request id; anything else says how to invoke.
func TestExecInvokes(t *testing.T) {
	b := &fakeBackend{}
	p, _ := newProvider(t, b)
	if err := p.CreatePod(context.Background(), newPod("uid-1", "a")); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	exec := func(stdin io.Reader, cmd ...string) (*attachIO, error) {
		a := &attachIO{in: stdin}
		return a, p.RunInContainer(ctx, "default", "a", "app", cmd, a)
	}

	a, err := exec(strings.NewReader(`{"n":1}`), "invoke")
	if err != nil || a.out.String() != `{"n":1}` || a.err.Len() != 0 {
		t.Errorf("invoke: err %v, stdout %q, stderr %q", err, a.out.String(), a.err.String())
	}
	a, err = exec(nil, "invoke")
	if err != nil || a.out.String() != `{}` {
		t.Errorf("invoke without stdin: err %v, stdout %q", err, a.out.String())
	}

	b.invokeFn = func(int) (*translate.Invocation, error) {
		return &translate.Invocation{Output: []byte(`{"errorMessage":"boom"}`), FunctionError: "EmulatedError: boom"}, nil
	}
	a, err = exec(strings.NewReader(`{}`), "invoke")
	if exitCode(err) != 1 || !strings.Contains(a.err.String(), "EmulatedError: boom") || a.out.Len() != 0 {
		t.Errorf("function error: exit %d (%v), stdout %q, stderr %q", exitCode(err), err, a.out.String(), a.err.String())
	}
	b.invokeFn = func(int) (*translate.Invocation, error) { return nil, errors.New("connection refused") }
	if _, err = exec(nil, "invoke"); err == nil || exitCode(err) != -1 {
		t.Errorf("a failed call is an error of the exec itself, got %v", err)
	}

	a, err = exec(strings.NewReader(`{"later":true}`), "invoke", "--async")
	if err != nil || !strings.HasPrefix(a.out.String(), "req-") {
		t.Errorf("invoke --async: err %v, stdout %q", err, a.out.String())
	}
	if last := b.invoked[len(b.invoked)-1]; last != `async:`+translate.FunctionName(newPod("uid-1", "a"))+`:{"later":true}` {
		t.Errorf("async invocation sent %q", last)
	}

	a, err = exec(nil, "sh")
	if exitCode(err) != 126 || !strings.Contains(a.err.String(), "no shell") || !strings.Contains(a.err.String(), "-- invoke") {
		t.Errorf("sh: exit %d, stderr %q", exitCode(err), a.err.String())
	}
	a, err = exec(nil, "invoke", "--sync")
	if exitCode(err) != 2 || !strings.Contains(a.err.String(), `unknown argument "--sync"`) {
		t.Errorf("invoke --sync: exit %d, stderr %q", exitCode(err), a.err.String())
	}
	if err := p.RunInContainer(ctx, "default", "a", "sidecar", []string{"invoke"}, &attachIO{}); err == nil {
		t.Error("exec into a container the pod does not have succeeded")
	}
	if err := p.RunInContainer(ctx, "default", "missing", "", []string{"invoke"}, &attachIO{}); err == nil {
		t.Error("exec into a pod the node does not run succeeded")
	}
}

// kubectl exec -it POD -- invoke: the terminal is in raw mode, so stdin
// never ends. Enter sends the line typed (echoed, backspace honoured),
// Ctrl-D on an empty line sends {}, Ctrl-C cancels with exit code 130 and
// invokes nothing; an ended invocation's exit code says how it ended.
func TestExecInvokesFromATerminal(t *testing.T) {
	b := &fakeBackend{}
	p, _ := newProvider(t, b)
	ctx := context.Background()
	if err := p.CreatePod(ctx, newPod("uid-1", "a")); err != nil {
		t.Fatal(err)
	}
	invokes := func() int { b.mu.Lock(); defer b.mu.Unlock(); return len(b.invoked) }
	// stdin is a pipe that stays open after the keys, as a terminal does.
	exec := func(keys string) (*attachIO, error) {
		r, w := io.Pipe()
		defer w.Close()
		go func() { _, _ = w.Write([]byte(keys)) }()
		a := &attachIO{in: r, tty: true}
		return a, p.RunInContainer(ctx, "default", "a", "app", []string{"invoke"}, a)
	}

	a, err := exec(`{"n":12` + "\x7f" + `}` + "\r" + `ignored`)
	if err != nil {
		t.Fatalf("Enter: %v", err)
	}
	if out := a.out.String(); !strings.HasPrefix(out, ttyPrompt) || !strings.HasSuffix(out, `{"n":1}`+"\r\n") {
		t.Errorf("Enter: terminal shows %q, want the prompt, the echoed line and the response {\"n\":1}", out)
	}

	a, err = exec("\x04")
	if err != nil || !strings.HasSuffix(a.out.String(), "{}\r\n") {
		t.Errorf("Ctrl-D: err %v, terminal %q; want {} sent", err, a.out.String())
	}

	calls := invokes()
	a, err = exec(`{"half":` + "\x03")
	if exitCode(err) != exitInterrupted || !strings.Contains(a.out.String(), "^C") {
		t.Errorf("Ctrl-C: exit %d (%v), terminal %q; want exit 130 and ^C", exitCode(err), err, a.out.String())
	}
	if invokes() != calls {
		t.Errorf("Ctrl-C invoked the function")
	}

	b.invokeFn = func(int) (*translate.Invocation, error) {
		return &translate.Invocation{FunctionError: "Sandbox.Timedout: Task timed out after 3.00 seconds", End: translate.EndTimeout}, nil
	}
	if _, err = exec("{}\r"); exitCode(err) != 124 {
		t.Errorf("a timed-out invocation: exit %d (%v), want 124", exitCode(err), err)
	}
}
