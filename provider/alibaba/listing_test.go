package alibaba

import (
	"context"
	"maps"
	"testing"

	"github.com/alibabacloud-go/tea/tea"
	corev1 "k8s.io/api/core/v1"

	fc "github.com/alibabacloud-go/fc-open-20210406/v2/client"

	emu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/alibaba"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// listedService deploys fn and lists the node, as a restarted process does
// before it is handed its pods; it returns the calls counted so far.
func listedService(t *testing.T, e *env, fn *translate.Function) map[string]int {
	t.Helper()
	if _, err := e.b.Deploy(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
	if _, err := e.b.List(context.Background(), "vk-fc"); err != nil {
		t.Fatal(err)
	}
	return e.s.Calls()
}

// A service whose description carries its pod's keyed spec digest is
// adopted from the listing with no call.
func TestServiceAdoptedFromTheListingWithNoCall(t *testing.T) {
	e := setup(t, emu.DefaultAccessKeySecret)
	fn := function(t, image, nil)
	before := listedService(t, e, fn)
	st, ok := e.b.AdoptListed(fn)
	if !ok || st.Phase != translate.PhaseActive || st.Name != fn.Name || st.Tags[translate.TagPodUID] != "uid-1" {
		t.Fatalf("AdoptListed = %+v, %v; want the Active function", st, ok)
	}
	if after := e.s.Calls(); !maps.Equal(before, after) {
		t.Errorf("calls went from %v to %v; want none", before, after)
	}
	got, err := e.fc.GetServiceWithOptions(tea.String(fn.Name), &fc.GetServiceRequest{}, &fc.GetServiceHeaders{}, rt())
	if err != nil {
		t.Fatal(err)
	}
	if d := tea.StringValue(got.Body.Description); len(d) > maxDescription {
		t.Errorf("description of %d characters", len(d))
	}
}

// A pod whose spec changed while faas-kubelet was down is deployed per pod:
// one update of the function, after the digest left the service's
// description, so the next restart reads it per pod too.
func TestChangedFunctionIsUpdatedOnceAndUnsealed(t *testing.T) {
	e := setup(t, emu.DefaultAccessKeySecret)
	fn := function(t, image, nil)
	before := listedService(t, e, fn)
	changed := function(t, image, func(p *corev1.Pod) { p.Spec.Containers[0].Env[0].Value = "hello" })
	if st, ok := e.b.AdoptListed(changed); ok {
		t.Fatalf("a changed pod was adopted from the listing: %+v", st)
	}
	if _, err := e.b.Deploy(context.Background(), changed); err != nil {
		t.Fatal(err)
	}
	after := e.s.Calls()
	if n := after["UpdateFunction"] - before["UpdateFunction"]; n != 1 {
		t.Errorf("%d function updates, want 1 (calls %v)", n, after)
	}
	if _, err := e.b.List(context.Background(), "vk-fc"); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.b.AdoptListed(fn); ok {
		t.Errorf("an updated function was adopted from the listing as the pod's old spec")
	}
}

// A service of another owner, or without a digest (a node whose
// credentials key none), is not adopted from the listing.
func TestServiceListingWithoutOwnerOrDigestIsLeftAlone(t *testing.T) {
	e := setup(t, emu.DefaultAccessKeySecret)
	fn := function(t, image, nil)
	listedService(t, e, fn)
	other := function(t, image, func(p *corev1.Pod) { p.UID = "uid-2" })
	other.Name = fn.Name
	if _, ok := e.b.AdoptListed(other); ok {
		t.Errorf("another pod's service was adopted")
	}

	e = setup(t, emu.DefaultAccessKeySecret)
	e.b.opts.DigestKey = ""
	listedService(t, e, fn)
	if _, ok := e.b.AdoptListed(fn); ok {
		t.Errorf("a service with no digest was adopted")
	}
}

// A service found whole by a restart's deployment but without the digest
// is sealed, and the restart after it adopts it.
func TestServiceFoundWholeIsSealed(t *testing.T) {
	e := setup(t, emu.DefaultAccessKeySecret)
	fn := function(t, image, nil)
	listedService(t, e, fn)
	if _, err := e.fc.UpdateServiceWithOptions(tea.String(fn.Name), &fc.UpdateServiceRequest{Description: tea.String(fn.Description)}, &fc.UpdateServiceHeaders{}, rt()); err != nil {
		t.Fatal(err)
	}
	st, err := e.b.Deploy(context.Background(), fn)
	if err != nil || !st.Unsealed {
		t.Fatalf("deploy of a service without digest: %+v %v; want it Unsealed", st, err)
	}
	if err := e.b.Seal(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
	if _, err := e.b.List(context.Background(), "vk-fc"); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.b.AdoptListed(fn); !ok {
		t.Errorf("a sealed service was not adopted from the listing")
	}
}
