package provider

import (
	"context"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	"github.com/virtual-kubelet/virtual-kubelet/node/api"
	corev1 "k8s.io/api/core/v1"

	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

type tailZeroKey struct{}

// WithTailZero marks a logs request that asked for tailLines=0. Virtual
// Kubelet's ContainerLogOpts reads an absent tailLines and tailLines=0
// alike (Tail 0), while the kubelet returns no lines for tailLines=0 (and,
// with follow, only the lines written from then on); the node's HTTP
// routes mark the request so that the core can tell them apart.
func WithTailZero(ctx context.Context) context.Context {
	return context.WithValue(ctx, tailZeroKey{}, true)
}

func tailZero(ctx context.Context) bool {
	v, _ := ctx.Value(tailZeroKey{}).(bool)
	return v
}

// GetContainerLogs streams the function's logs from the cloud, with the
// kubelet's parameters: tailLines (0 gives no lines), sinceSeconds,
// sinceTime, timestamps, limitBytes and follow. A follow ends when the
// client goes away or the pod is deleted; a finished pod's logs end where
// its function's do, as a terminated container's do.
//
// A pod this process does not track (Virtual Kubelet skips pods that
// finished before it started, so after a restart or a leader change a
// finished Job's pod is not handed to the core) is looked up among the
// pods bound to the node, and its function's logs are served while the
// function exists.
func (p *Provider) GetContainerLogs(ctx context.Context, namespace, podName, containerName string, o api.ContainerLogOpts) (io.ReadCloser, error) {
	pod, err := p.GetPod(ctx, namespace, podName)
	if errdefs.IsNotFound(err) {
		if bound := p.boundPod(namespace, podName); bound != nil {
			pod, err = bound, nil
		}
	}
	if err != nil {
		return nil, err
	}
	if containerName != "" && containerName != pod.Spec.Containers[0].Name {
		// A debug container (kubectl debug) never ran: its log is what its
		// status says, which kubectl debug -it shows when it cannot attach.
		for _, s := range pod.Status.EphemeralContainerStatuses {
			if s.Name == containerName && s.State.Terminated != nil {
				return io.NopCloser(strings.NewReader(s.State.Terminated.Message + "\n")), nil
			}
		}
		return nil, errdefs.NotFoundf("container %s is not in pod %s/%s", containerName, namespace, podName)
	}
	if o.Previous {
		return nil, errdefs.InvalidInputf("previous terminated container %q in pod %q not found: a function has no previous container instance", pod.Spec.Containers[0].Name, podName)
	}
	opts := translate.LogOptions{Tail: o.Tail, HasTail: o.Tail > 0, Timestamps: o.Timestamps, LimitBytes: o.LimitBytes, Follow: o.Follow, Since: o.SinceTime}
	if o.SinceSeconds > 0 {
		opts.Since = p.opts.Now().Add(-time.Duration(o.SinceSeconds) * time.Second)
	}
	if isFinished(pod) {
		opts.Follow = false
	}
	if tailZero(ctx) {
		if !opts.Follow {
			return io.NopCloser(eofReader{}), nil
		}
		// Only what is written from now on: the lines since this moment.
		opts.HasTail, opts.Tail = false, 0
		if now := p.opts.Now(); opts.Since.Before(now) {
			opts.Since = now
		}
	}
	if opts.Follow {
		uid := pod.UID
		fctx, cancel := context.WithCancel(ctx)
		go func() {
			defer cancel()
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-fctx.Done():
					return
				case <-t.C:
					if !p.known(uid) {
						return
					}
				}
			}
		}()
		ctx = fctx
	}
	rc, err := p.opts.Backend.Logs(ctx, translate.FunctionName(pod), opts)
	if errors.Is(err, ErrNotSupported) {
		return nil, notSupportedError{err}
	}
	return rc, err
}

// boundPod is the pod of that name bound to this node as the API server
// has it, or nil.
func (p *Provider) boundPod(namespace, name string) *corev1.Pod {
	if pod, _ := p.lookupPod(namespace, name); pod != nil && pod.Spec.NodeName == p.opts.NodeName {
		return pod
	}
	return nil
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }
