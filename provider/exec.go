package provider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	corev1 "k8s.io/api/core/v1"
	utilexec "k8s.io/utils/exec"

	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// maxPayload is the largest payload `invoke` reads from stdin: Lambda's
// synchronous limit, the smallest of the three clouds' own.
const maxPayload = 6 << 20

// Exit codes of `kubectl exec POD -- …`, as a shell would give them. A
// function that ran and failed exits as its Job's pod would show it
// (translate.InvocationEnd: 1 an error, 124 a timeout, 137 out of memory,
// 128 code that could not start).
const (
	exitUsage       = 2   // invoke's own flags were wrong
	exitNoShell     = 126 // anything but invoke: there is nothing to run
	exitInterrupted = 130 // Ctrl-C at the terminal (128 + SIGINT)
)

const invokeUsage = `usage: invoke [--async] < payload
  Invokes the pod's function with the payload read from stdin ({} when stdin
  is not attached) and writes its response to stdout; a function error goes
  to stderr and the exit code says how it ended: 1 an error, 124 a timeout,
  137 out of memory, 128 code that could not start.
  With a terminal (kubectl exec -it), the payload is the line typed: Enter
  sends it, Ctrl-D on an empty line sends {}, Ctrl-C cancels (exit 130).
  --async  invoke asynchronously and print the request id
`

// ttyPrompt tells a person at a terminal what invoke waits for.
const ttyPrompt = "payload (one line; Enter sends it, Ctrl-D sends {}, Ctrl-C cancels): "

// errInterrupted is Ctrl-C typed at the terminal.
var errInterrupted = errors.New("interrupted")

// readTTYLine reads one payload from a terminal in raw mode, as kubectl
// exec -it leaves it: there is no line discipline on our side, so Enter
// arrives as \r, Ctrl-D as 0x04 and Ctrl-C as 0x03, and nothing is echoed
// unless we echo it. It ends at the first line end, at Ctrl-D, or at the
// end of the stream.
func readTTYLine(in io.Reader, echo io.Writer, limit int) ([]byte, error) {
	var line []byte
	b := make([]byte, 1)
	for {
		n, err := in.Read(b)
		if n == 1 {
			switch c := b[0]; c {
			case '\r', '\n', 0x04:
				_, _ = io.WriteString(echo, "\r\n")
				return line, nil
			case 0x03:
				_, _ = io.WriteString(echo, "^C\r\n")
				return nil, errInterrupted
			case 0x7f, 0x08: // backspace erases the last byte typed
				if len(line) > 0 {
					line = line[:len(line)-1]
					_, _ = io.WriteString(echo, "\b \b")
				}
			default:
				if len(line) >= limit {
					return nil, errPayloadTooLarge
				}
				line = append(line, c)
				_, _ = echo.Write(b)
			}
		}
		if errors.Is(err, io.EOF) {
			return line, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

var errPayloadTooLarge = errors.New("payload too large")

// RunInContainer serves kubectl exec. A function has no shell or processes:
// the one command is `invoke`, which calls the function.
func (p *Provider) RunInContainer(ctx context.Context, namespace, podName, containerName string, cmd []string, attach api.AttachIO) error {
	pod, err := p.GetPod(ctx, namespace, podName)
	if err != nil {
		return err
	}
	if containerName != "" && containerName != pod.Spec.Containers[0].Name {
		return errdefs.NotFoundf("container %s is not in pod %s/%s", containerName, namespace, podName)
	}
	var stdout, stderr io.Writer = io.Discard, io.Discard
	if w := attach.Stdout(); w != nil {
		stdout, stderr = w, w // with a TTY, kubectl merges them
	}
	if w := attach.Stderr(); w != nil {
		stderr = w
	}
	if len(cmd) == 0 || cmd[0] != "invoke" {
		fmt.Fprintf(stderr, "pod %s/%s runs as function %s, which has no shell or processes to exec into.\n"+
			"Invoke it instead: kubectl exec -i %s -- invoke < payload.json (add --async for an asynchronous invocation)\n",
			namespace, podName, translate.FunctionName(pod), podName)
		return utilexec.CodeExitError{Err: errors.New("functions have no shell"), Code: exitNoShell}
	}
	async := false
	for _, arg := range cmd[1:] {
		switch arg {
		case "--async", "-async":
			async = true
		case "-h", "--help":
			fmt.Fprint(stdout, invokeUsage)
			return nil
		default:
			fmt.Fprintf(stderr, "invoke: unknown argument %q\n%s", arg, invokeUsage)
			return utilexec.CodeExitError{Err: fmt.Errorf("unknown argument %q", arg), Code: exitUsage}
		}
	}
	if pod.Status.Phase != corev1.PodRunning {
		return errdefs.InvalidInputf("pod %s/%s is %s: only a Running pod's function can be invoked", namespace, podName, pod.Status.Phase)
	}
	if p.terminating(pod.UID) {
		return errTerminating{namespace, podName}
	}
	payload := []byte("{}")
	if in := attach.Stdin(); in != nil {
		var b []byte
		if attach.TTY() {
			fmt.Fprint(stdout, ttyPrompt)
			b, err = readTTYLine(in, stdout, maxPayload)
		} else {
			b, err = io.ReadAll(io.LimitReader(in, maxPayload+1))
			if err == nil && len(b) > maxPayload {
				err = errPayloadTooLarge
			}
		}
		switch {
		case errors.Is(err, errInterrupted):
			return utilexec.CodeExitError{Err: err, Code: exitInterrupted}
		case errors.Is(err, errPayloadTooLarge):
			fmt.Fprintf(stderr, "invoke: the payload is larger than %d bytes\n", maxPayload)
			return utilexec.CodeExitError{Err: err, Code: exitUsage}
		case err != nil:
			return fmt.Errorf("reading the payload: %w", err)
		}
		if len(strings.TrimSpace(string(b))) > 0 {
			payload = b
		}
	}
	name := translate.FunctionName(pod)
	// The invocation is in flight, and a termination of the pod waits
	// for it, until it returns.
	ctx, end, err := p.beginCall(ctx, pod, false)
	if err != nil {
		return err
	}
	defer end()
	if async {
		id, err := p.opts.Backend.InvokeAsync(ctx, name, payload)
		if err != nil {
			return p.invokeError(err)
		}
		fmt.Fprintln(stdout, id)
		return nil
	}
	inv, err := p.opts.Backend.Invoke(ctx, name, payload)
	if err != nil {
		return p.invokeError(err)
	}
	if inv.FunctionError != "" {
		fmt.Fprintln(stderr, inv.FunctionError)
		return utilexec.CodeExitError{Err: errors.New(inv.FunctionError), Code: int(inv.End.ExitCode())}
	}
	_, err = stdout.Write(inv.Output)
	if err == nil && attach.TTY() {
		_, err = io.WriteString(stdout, "\r\n") // leave the prompt on a line of its own
	}
	return err
}

func (p *Provider) invokeError(err error) error {
	if errors.Is(err, ErrNotSupported) {
		return notSupportedError{err}
	}
	return err
}
