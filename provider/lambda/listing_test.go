package lambda

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	corev1 "k8s.io/api/core/v1"

	emu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/lambda"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// listed deploys fns, lets them turn Active and lists the node, as a
// restarted process does before it is handed its pods; it returns the
// calls counted so far.
func listed(t *testing.T, b *Backend, s *emu.Server, clk *clock, fns ...*translate.Function) map[string]int {
	t.Helper()
	for _, fn := range fns {
		if _, err := b.Deploy(context.Background(), fn); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(time.Second)
	if _, err := b.List(context.Background(), "vk"); err != nil {
		t.Fatal(err)
	}
	return s.Calls()
}

// editedByHand deploys fn, lets it turn Active, then changes its
// configuration with up, as someone with the console would, and lets that
// update complete.
func editedByHand(t *testing.T, b *Backend, clk *clock, fn *translate.Function, up *sdk.UpdateFunctionConfigurationInput) {
	t.Helper()
	if _, err := b.Deploy(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	up.FunctionName = aws.String(fn.Name)
	if _, err := b.api.UpdateFunctionConfiguration(context.Background(), up); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
}

// A function whose description carries its pod's spec digest, and whose
// listed configuration is the pod's, is adopted from the listing with no
// call of its own.
func TestAdoptedFromTheListingWithNoCall(t *testing.T) {
	clk := newClock()
	b, s := setup(t, emu.DefaultSecretKey, emu.Options{ActivationDelay: 300 * time.Millisecond, Now: clk.Now})
	fn := function(t, ecr, func(p *corev1.Pod) { p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "GREETING", Value: "hi"}} })
	before := listed(t, b, s, clk, fn)
	st, ok := b.AdoptListed(fn)
	if !ok || st.Phase != translate.PhaseActive || st.Name != fn.Name || st.ID == "" || st.Tags[translate.TagPodUID] != "uid-1" {
		t.Fatalf("AdoptListed = %+v, %v; want the Active function with its ARN and owner", st, ok)
	}
	if after := s.Calls(); !maps.Equal(before, after) {
		t.Errorf("calls went from %v to %v; want none", before, after)
	}
	if _, ok := b.AdoptListed(fn); ok {
		t.Errorf("a listed function was adopted twice from one listing")
	}
}

// A pod whose spec changed while faas-kubelet was down is not adopted from
// the listing: its deployment makes the one update it needs.
func TestChangedSpecIsUpdatedOnce(t *testing.T) {
	clk := newClock()
	b, s := setup(t, emu.DefaultSecretKey, emu.Options{Now: clk.Now})
	fn := function(t, ecr, nil)
	before := listed(t, b, s, clk, fn)
	changed := function(t, ecr, func(p *corev1.Pod) { p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "GREETING", Value: "hi"}} })
	if st, ok := b.AdoptListed(changed); ok {
		t.Fatalf("a changed pod was adopted from the listing: %+v", st)
	}
	if _, err := b.Deploy(context.Background(), changed); err != nil {
		t.Fatal(err)
	}
	after := s.Calls()
	if n := after["UpdateFunctionConfiguration"] - before["UpdateFunctionConfiguration"]; n != 1 {
		t.Errorf("%d configuration updates, want 1 (calls %v)", n, after)
	}
	if n := after["UpdateFunctionCode"] - before["UpdateFunctionCode"]; n != 0 {
		t.Errorf("%d code updates, want none", n)
	}
	// Updated, the function no longer claims a spec: the next restart
	// reads it per pod, even with the pod as it was.
	clk.Advance(time.Second)
	if _, err := b.List(context.Background(), "vk"); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.AdoptListed(fn); ok {
		t.Errorf("an updated function was adopted from the listing as the pod's old spec")
	}
}

// What the listing shows is checked too: a function whose environment was
// changed outside faas-kubelet still carries the digest, and is deployed
// per pod, which puts the pod's environment back.
func TestListedDriftIsDeployedPerPod(t *testing.T) {
	clk := newClock()
	b, _ := setup(t, emu.DefaultSecretKey, emu.Options{Now: clk.Now})
	fn := function(t, ecr, nil)
	editedByHand(t, b, clk, fn, &sdk.UpdateFunctionConfigurationInput{Environment: &types.Environment{Variables: map[string]string{"EDITED": "by hand"}}})
	if _, err := b.List(context.Background(), "vk"); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.AdoptListed(fn); ok {
		t.Errorf("a function whose listed environment is not the pod's was adopted")
	}
}

// A function whose description names no owner of this node is neither
// listed as the node's (so never found as an orphan) nor adopted.
func TestListingEntryWithoutOwnerIsLeftAlone(t *testing.T) {
	clk := newClock()
	b, s := setup(t, emu.DefaultSecretKey, emu.Options{Now: clk.Now})
	fn := function(t, ecr, nil)
	in, _, err := createInput(fn, &b.opts)
	if err != nil {
		t.Fatal(err)
	}
	in.Description = aws.String("made by hand")
	if _, err := b.api.CreateFunction(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	got, err := b.List(context.Background(), "vk")
	if err != nil || len(got) != 0 {
		t.Fatalf("List = %v, %v; want no function of the node", got, err)
	}
	if _, ok := b.AdoptListed(fn); ok {
		t.Errorf("a function with no owner in its description was adopted")
	}
	if n := s.Calls()["DeleteFunction"]; n != 0 {
		t.Errorf("a function that names no owner was deleted")
	}
}

// A Deploy forgets what the listing showed of its function: after it, the
// listing no longer speaks for the function, whatever the pod.
func TestDeployForgetsTheListing(t *testing.T) {
	clk := newClock()
	b, s := setup(t, emu.DefaultSecretKey, emu.Options{Now: clk.Now})
	fn := function(t, ecr, nil)
	listed(t, b, s, clk, fn)
	if _, err := b.Deploy(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.AdoptListed(fn); ok {
		t.Errorf("adopted from a listing older than the function's last deployment")
	}
}

// A function of an earlier release (its description has no digest), found
// whole by a restart's deployment, is sealed, and the restart after it
// adopts it from the listing.
func TestFoundWholeIsSealedForTheNextRestart(t *testing.T) {
	clk := newClock()
	b, _ := setup(t, emu.DefaultSecretKey, emu.Options{Now: clk.Now})
	fn := function(t, ecr, nil)
	editedByHand(t, b, clk, fn, &sdk.UpdateFunctionConfigurationInput{Description: aws.String(fn.Description)})
	st, err := b.Deploy(context.Background(), fn)
	if err != nil || !st.Unsealed || st.Phase != translate.PhaseActive {
		t.Fatalf("deploy of a function without digest: %+v %v; want it Active and Unsealed", st, err)
	}
	if err := b.Seal(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	if _, err := b.List(context.Background(), "vk"); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.AdoptListed(fn); !ok {
		t.Errorf("a sealed function was not adopted from the listing")
	}
	if st, err := b.Deploy(context.Background(), fn); err != nil || st.Unsealed {
		t.Errorf("deploy of a sealed function: %+v %v; want it sealed", st, err)
	}
}
