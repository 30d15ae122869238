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

// Exit codes of `kubectl exec POD -- …`, as a shell would give them.
const (
	exitFunctionError = 1   // the function ran and failed
	exitUsage         = 2   // invoke's own flags were wrong
	exitNoShell       = 126 // anything but invoke: there is nothing to run
)

const invokeUsage = `usage: invoke [--async] < payload
  Invokes the pod's function with the payload read from stdin ({} when stdin
  is not attached) and writes its response to stdout; a function error goes
  to stderr and the exit code is 1.
  --async  invoke asynchronously and print the request id
`

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
	payload := []byte("{}")
	if in := attach.Stdin(); in != nil {
		b, err := io.ReadAll(io.LimitReader(in, maxPayload+1))
		if err != nil {
			return fmt.Errorf("reading the payload: %w", err)
		}
		if len(b) > maxPayload {
			fmt.Fprintf(stderr, "invoke: the payload is larger than %d bytes\n", maxPayload)
			return utilexec.CodeExitError{Err: errors.New("payload too large"), Code: exitUsage}
		}
		if len(strings.TrimSpace(string(b))) > 0 {
			payload = b
		}
	}
	name := translate.FunctionName(pod)
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
		return utilexec.CodeExitError{Err: errors.New(inv.FunctionError), Code: exitFunctionError}
	}
	_, err = stdout.Write(inv.Output)
	return err
}

func (p *Provider) invokeError(err error) error {
	if errors.Is(err, ErrNotSupported) {
		return notSupportedError{err}
	}
	return err
}
