package azure

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/errdefs"

	emu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/azure"
	"github.com/faas-kubelet/faas-kubelet/provider"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// A Running site whose Functions host does not answer yet (listkeys: 400
// "Encountered an error (ServiceUnavailable) from host runtime.") is a
// function that is not ready: Pending with ReasonNotReady, so that a Job
// is not invoked before its host runs, and Active once the host answers.
// An invocation meanwhile is a transient refusal that ran nothing (the
// core may repeat it), never the request's fault.
func TestFunctionsHostNotUpYetIsNotReady(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	step := func(d time.Duration) { mu.Lock(); defer mu.Unlock(); now = now.Add(d) }
	b, _ := setup(t, emu.DefaultToken, emu.Options{HostStartDelay: 30 * time.Second, Now: clock})
	ctx := context.Background()
	fn := function(t, image, nil)
	st, err := b.Deploy(ctx, fn)
	if err != nil || st.Phase != translate.PhasePending || st.Reason != provider.ReasonNotReady || !strings.Contains(st.Message, "from host runtime") {
		t.Fatalf("deploy while the host starts: %+v %v", st, err)
	}
	_, err = b.Invoke(ctx, fn.Name, []byte(`{}`))
	var te *provider.TransientError
	if !errors.As(err, &te) || !te.Throttled || errdefs.IsInvalidInput(err) {
		t.Errorf("invoke while the host starts: %v, want a transient refusal before anything ran", err)
	}
	if st, err := b.Get(ctx, fn.Name); err != nil || st.Phase != translate.PhasePending || st.Reason != provider.ReasonNotReady {
		t.Errorf("get while the host starts: %+v %v", st, err)
	}
	step(30 * time.Second)
	if st, err := b.Get(ctx, fn.Name); err != nil || st.Phase != translate.PhaseActive {
		t.Errorf("get once the host started: %+v %v", st, err)
	}
	if inv, err := b.Invoke(ctx, fn.Name, []byte(`{}`)); err != nil || inv.FunctionError != "" {
		t.Errorf("invoke once the host started: %+v %v", inv, err)
	}
}
