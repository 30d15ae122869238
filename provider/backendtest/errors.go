package backendtest

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/errdefs"

	"github.com/faas-kubelet/faas-kubelet/pkg/emulator/faults"
	"github.com/faas-kubelet/faas-kubelet/provider"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// retries is how often the core's limiter retries a transient error in
// these cases; its waits are a few milliseconds.
const retries = 2

// limited is b behind the core's limiter, as the core calls it.
func limited(b provider.Backend) provider.Backend {
	return provider.Limit(b, provider.Limits{MaxRetries: retries, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond})
}

// wantRefused checks that err leaves the pod waiting with reason: a
// healable refusal, never a spec error.
func wantRefused(t *testing.T, err error, reason string) {
	t.Helper()
	failure, got := provider.Classify(err)
	if failure != provider.FailureHealable || got != reason {
		t.Errorf("Deploy = %v: classified %v %q, want healable %q", err, failure, got, reason)
	}
	if errdefs.IsInvalidInput(err) {
		t.Errorf("Deploy = %v is InvalidInput: the pod would fail for good", err)
	}
}

// skipWithoutCloud skips a case that needs an emulator's knobs.
func skipWithoutCloud(t *testing.T, h *Harness) {
	t.Helper()
	if h.Caps.NoCloud {
		t.Skip("Caps.NoCloud: nothing refuses the backend and no answer can fail")
	}
}

// healsOnceLifted lifts the refusals and checks that the kubelet's next
// Deploy makes the function, and one only.
func healsOnceLifted(t *testing.T, h *Harness, c *Cloud, b provider.Backend, fn *translate.Function) {
	t.Helper()
	c.Refuse(faults.Refusals{})
	deploy(t, b, fn)
	waitPhase(t, b, fn.Name, translate.PhaseActive)
	if listed := list(t, b, h.Node); len(listed) != 1 || listed[0].Name != fn.Name {
		t.Errorf("List once healed = %v, want [%s]", names(listed), fn.Name)
	}
}

// An execution role that does not exist yet, or that the service may not
// assume (IAM propagation), keeps the pod waiting until it can.
func refusedRole(t *testing.T, h *Harness) {
	skipWithoutCloud(t, h)
	if h.Caps.NoRoleRefusal {
		t.Skip("Caps.NoRoleRefusal: the backend's functions name no identity")
	}
	c := h.start(t)
	b := c.New()
	c.Refuse(faults.Refusals{Roles: []string{h.Role}})
	fn := h.function(t, "role", nil)
	for range 2 { // the kubelet's retries while the role is missing
		_, err := b.Deploy(context.Background(), fn)
		wantRefused(t, err, provider.ReasonRoleError)
	}
	healsOnceLifted(t, h, c, b, fn)
}

// An image not pushed yet keeps the pod waiting until it is.
func missingImage(t *testing.T, h *Harness) {
	skipWithoutCloud(t, h)
	c := h.start(t)
	b := c.New()
	c.Refuse(faults.Refusals{Images: []string{h.Image}})
	fn := h.function(t, "image", nil)
	if !h.Caps.ImageRefusedAfterCreate {
		_, err := b.Deploy(context.Background(), fn)
		wantRefused(t, err, provider.ReasonImageError)
		healsOnceLifted(t, h, c, b, fn)
		return
	}
	t.Log("Caps.ImageRefusedAfterCreate: the function is created and then fails to pull its image")
	deploy(t, b, fn)
	deadline := time.Now().Add(wait)
	for {
		st, err := b.Get(context.Background(), fn.Name)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		if st.Phase == translate.PhaseFailed {
			if st.Reason != provider.ReasonImageError || !provider.IsRetriedReason(st.Reason) {
				t.Errorf("Failed with reason %q (%s), want %s, which the core retries", st.Reason, st.Message, provider.ReasonImageError)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the function never failed to pull its missing image: %+v", st)
		}
		time.Sleep(tick)
	}
	healsOnceLifted(t, h, c, b, fn)
}

// An account limit used up keeps the pod waiting until there is room.
func quotaExceeded(t *testing.T, h *Harness) {
	skipWithoutCloud(t, h)
	c := h.start(t)
	b := c.New()
	c.Refuse(faults.Refusals{QuotaExceeded: true})
	fn := h.function(t, "quota", nil)
	_, err := b.Deploy(context.Background(), fn)
	wantRefused(t, err, provider.ReasonQuotaExceeded)
	healsOnceLifted(t, h, c, b, fn)
}

// A create the cloud carried out but whose answer was lost (a 503 after
// the fact) is retried by the core, and the retry adopts what was made.
func lostAnswerRetried(t *testing.T, h *Harness) {
	skipWithoutCloud(t, h)
	c := h.start(t)
	b := limited(c.New())
	c.Inject(faults.Fault{Op: h.CreateOp, Status: http.StatusServiceUnavailable, Count: 1, After: true})
	fn := h.function(t, "lost", nil)
	deploy(t, b, fn)
	if listed := list(t, b, h.Node); len(listed) != 1 || listed[0].Name != fn.Name {
		t.Errorf("List after the retried create = %v, want [%s]", names(listed), fn.Name)
	}
	waitPhase(t, b, fn.Name, translate.PhaseActive)
}

// wantTransient injects status into every attempt the core makes and
// checks that Deploy's error is transient: the pod waits, and its next
// Deploy, once the cloud answers, makes the function.
func wantTransient(t *testing.T, h *Harness, status int) *provider.TransientError {
	t.Helper()
	skipWithoutCloud(t, h)
	c := h.start(t)
	b := limited(c.New())
	c.Inject(faults.Fault{Op: h.CreateOp, Status: status, Count: retries + 1})
	fn := h.function(t, "transient", nil)
	_, err := b.Deploy(context.Background(), fn)
	var te *provider.TransientError
	if !errors.As(err, &te) {
		t.Fatalf("Deploy after %d answers %d = %v, want a *provider.TransientError", retries+1, status, err)
	}
	if f, _ := provider.Classify(err); f != provider.FailureTransient || errdefs.IsInvalidInput(err) {
		t.Errorf("Deploy = %v: classified %v, want transient", err, f)
	}
	deploy(t, b, fn)
	if listed := list(t, b, h.Node); len(listed) != 1 || listed[0].Name != fn.Name {
		t.Errorf("List once the cloud answers = %v, want [%s]", names(listed), fn.Name)
	}
	return te
}

// A cloud that keeps failing (503) leaves the pod waiting, not failed.
func serverErrorIsTransient(t *testing.T, h *Harness) {
	wantTransient(t, h, http.StatusServiceUnavailable)
}

// A throttled cloud (429) leaves the pod waiting, and says the call did
// not run, so that even an invocation may be repeated.
func throttlingIsTransient(t *testing.T, h *Harness) {
	if te := wantTransient(t, h, http.StatusTooManyRequests); te != nil && !te.Throttled {
		t.Errorf("a 429 is a TransientError with Throttled false: %v", te)
	}
}

// A pod the cloud can never run fails at once, with the pod's field in
// the message, and nothing is made in the cloud.
func unrunnableSpec(t *testing.T, h *Harness) {
	if h.Caps.AcceptsEverySpec {
		t.Skip("Caps.AcceptsEverySpec: the backend runs every pod translate accepts")
	}
	b := h.start(t).New()
	fn := h.function(t, "unrunnable", h.Unrunnable)
	_, err := b.Deploy(context.Background(), fn)
	if f, reason := provider.Classify(err); f != provider.FailureSpec || reason != provider.ReasonInvalidSpec || !errdefs.IsInvalidInput(err) {
		t.Fatalf("Deploy = %v: classified %v %q, want an InvalidInput spec failure", err, f, reason)
	}
	if msg := err.Error(); !strings.Contains(msg, "spec.") && !strings.Contains(msg, "metadata.") {
		t.Errorf("Deploy = %q names no pod field", msg)
	}
	if listed := list(t, b, h.Node); len(listed) != 0 {
		t.Errorf("a refused pod left functions in the cloud: %v", names(listed))
	}
}
