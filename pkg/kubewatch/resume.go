package kubewatch

import (
	"context"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/klog/v2"
)

// Opener opens a watch, as a ListWatch's WatchFuncWithContext does.
type Opener func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)

// Pauses before re-opening a watch that delivered nothing: doubled each
// time, and past resumeMaxDelay the watch is given up.
const (
	resumeFirstDelay = 50 * time.Millisecond
	resumeMaxDelay   = time.Second
)

// Resuming wraps open so that the watches it returns outlive the
// server closing them.
func Resuming(open Opener) Opener {
	return func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
		w, err := open(ctx, opts)
		if err != nil {
			return nil, err
		}
		r := &resumingWatch{open: open, opts: opts, result: make(chan watch.Event), done: make(chan struct{})}
		go r.run(ctx, w)
		return r, nil
	}
}

type resumingWatch struct {
	open   Opener
	opts   metav1.ListOptions
	result chan watch.Event
	done   chan struct{}
	once   sync.Once
}

func (r *resumingWatch) ResultChan() <-chan watch.Event { return r.result }

func (r *resumingWatch) Stop() { r.once.Do(func() { close(r.done) }) }

func (r *resumingWatch) run(ctx context.Context, w watch.Interface) {
	defer close(r.result)
	var deadline time.Time
	if t := r.opts.TimeoutSeconds; t != nil && *t > 0 {
		deadline = time.Now().Add(time.Duration(*t) * time.Second)
	}
	rv := r.opts.ResourceVersion
	initial := r.opts.SendInitialEvents != nil && *r.opts.SendInitialEvents
	var delay time.Duration
	for {
		delivered, resume := r.forward(w, &rv, &initial)
		w.Stop()
		if !resume || initial || rv == "" || rv == "0" || ctx.Err() != nil ||
			(!deadline.IsZero() && time.Now().After(deadline)) {
			return
		}
		switch {
		case delivered:
			delay = 0
		case delay == 0:
			delay = resumeFirstDelay
		default:
			delay *= 2
		}
		if delay > resumeMaxDelay {
			return
		}
		if delay > 0 {
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-r.done:
				t.Stop()
				return
			case <-ctx.Done():
				t.Stop()
				return
			}
		}
		opts := r.opts
		opts.ResourceVersion, opts.ResourceVersionMatch, opts.SendInitialEvents = rv, "", nil
		next, err := r.open(ctx, opts)
		if err != nil {
			return
		}
		klog.FromContext(ctx).V(4).Info("Watch resumed after the server closed it", "resourceVersion", rv)
		w = next
	}
}

// forward passes w's events on until w ends. It records the last resource
// version delivered and the end of a streaming list's initial events, and
// says whether any event was delivered and whether w may be resumed: not
// after Stop or an error event (which it passes on: the reflector decides).
func (r *resumingWatch) forward(w watch.Interface, rv *string, initial *bool) (delivered, resume bool) {
	for {
		select {
		case <-r.done:
			return delivered, false
		case ev, open := <-w.ResultChan():
			if !open {
				return delivered, true
			}
			if ev.Type != watch.Error {
				if m, err := meta.Accessor(ev.Object); err == nil {
					if v := m.GetResourceVersion(); v != "" {
						*rv = v
					}
					if ev.Type == watch.Bookmark && m.GetAnnotations()[metav1.InitialEventsAnnotationKey] == "true" {
						*initial = false
					}
				}
			}
			select {
			case r.result <- ev:
			case <-r.done:
				return delivered, false
			}
			if ev.Type == watch.Error {
				return delivered, false
			}
			delivered = true
		}
	}
}
