package lambda

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	emu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/lambda"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// An Inactive function serves (Active, with a note); its first invocation
// fails with ResourceNotReadyException and is made again once Lambda has
// restored the function.
func TestInactiveFunctionServesAndIsInvokedAgain(t *testing.T) {
	clk := newClock()
	b, s := setup(t, emu.DefaultSecretKey, emu.Options{ActivationDelay: time.Second, Now: clk.Now})
	b.restorePoll = time.Millisecond
	ctx := context.Background()
	fn := function(t, ecr, nil)
	if _, err := b.Deploy(ctx, fn); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	if err := s.Deactivate(fn.Name); err != nil {
		t.Fatal(err)
	}
	st, err := b.Get(ctx, fn.Name)
	if err != nil || st.Phase != translate.PhaseActive || !slices.Contains(st.Notes, noteInactive) {
		t.Fatalf("inactive: %+v %v, want Active with a note", st, err)
	}
	seen := s.Calls()["GetFunction"]
	go func() {
		// Once invoke reads the state after the refused call, the restore
		// has begun; it completes a second later.
		for s.Calls()["GetFunction"] <= seen {
			time.Sleep(time.Millisecond)
		}
		clk.Advance(time.Second)
	}()
	inv, err := b.Invoke(ctx, fn.Name, []byte(`{"x":1}`))
	if err != nil || inv.FunctionError != "" || string(inv.Output) != `{"x":1}` {
		t.Fatalf("invoke of an inactive function: %+v %v", inv, err)
	}
	if n := s.Calls()["Invoke"]; n != 2 {
		t.Errorf("Invoke calls = %d, want 2 (one refused, one retried)", n)
	}
}

// A function being deleted is Pending, not Active (it does not serve) nor
// Failed (nothing is wrong with the pod), and is not updated meanwhile.
func TestDeletingIsPending(t *testing.T) {
	c := &types.FunctionConfiguration{FunctionName: aws.String("fn"), State: types.StateDeleting}
	if st := stateOf(c, nil); st.Phase != translate.PhasePending || st.Message == "" {
		t.Errorf("Deleting: %+v, want Pending with a message", st)
	}
	if !updating(c) {
		t.Error("a function being deleted must not be updated")
	}
}
