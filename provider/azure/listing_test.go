package azure

import (
	"context"
	"maps"
	"testing"

	corev1 "k8s.io/api/core/v1"

	emu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/azure"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// listedApp deploys fn, waits for it to run and lists the node, as a
// restarted process does before it is handed its pods (a new backend: the
// process that deployed the app is gone); it returns that backend and the
// calls counted so far.
func listedApp(t *testing.T, fn *translate.Function) (*Backend, *emu.Server, map[string]int) {
	t.Helper()
	b, s := setup(t, emu.DefaultToken, emu.Options{})
	if _, err := b.Deploy(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, b, fn.Name, translate.PhaseActive)
	restarted := New(b.api, b.tags, b.opts)
	if _, err := restarted.List(context.Background(), "vk-azure"); err != nil {
		t.Fatal(err)
	}
	return restarted, s, s.Calls()
}

// An app whose tags carry its pod's keyed spec digest, and which the
// listing shows Running, is adopted from the listing with no call.
func TestAppAdoptedFromTheListingWithNoCall(t *testing.T) {
	fn := function(t, image, nil)
	b, s, before := listedApp(t, fn)
	st, ok := b.AdoptListed(fn)
	if !ok || st.Phase != translate.PhaseActive || st.Tags[translate.TagPodUID] != "uid-1" || st.ImageID != "DOCKER|"+image {
		t.Fatalf("AdoptListed = %+v, %v; want the running app", st, ok)
	}
	if after := s.Calls(); !maps.Equal(before, after) {
		t.Errorf("calls went from %v to %v; want none", before, after)
	}
	if d := st.Tags[translate.SpecDigestKey]; d == "" || d == fn.Env["GREETING"] {
		t.Errorf("spec digest tag %q", d)
	}
}

// A pod whose environment changed while faas-kubelet was down is deployed
// per pod: its settings are updated once, and the digest leaves the tags
// first, so that the next restart reads the app per pod too.
func TestChangedSettingsAreUpdatedOnceAndUnsealed(t *testing.T) {
	fn := function(t, image, nil)
	b, s, before := listedApp(t, fn)
	changed := function(t, image, func(p *corev1.Pod) { p.Spec.Containers[0].Env[0].Value = "hello" })
	if st, ok := b.AdoptListed(changed); ok {
		t.Fatalf("a changed pod was adopted from the listing: %+v", st)
	}
	if _, err := b.Deploy(context.Background(), changed); err != nil {
		t.Fatal(err)
	}
	after := s.Calls()
	if n := after["UpdateApplicationSettings"] - before["UpdateApplicationSettings"]; n != 1 {
		t.Errorf("%d settings updates, want 1 (calls %v)", n, after)
	}
	if n := after["CreateOrUpdate"] - before["CreateOrUpdate"]; n != 0 {
		t.Errorf("%d PUTs, want none", n)
	}
	if _, err := b.List(context.Background(), "vk-azure"); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.AdoptListed(fn); ok {
		t.Errorf("an app whose settings were updated was adopted from the listing as the pod's old spec")
	}
}

// An app of another owner, or without the digest (a node with no storage
// connection to key it with), is not adopted from the listing.
func TestAppListingWithoutOwnerOrDigestIsLeftAlone(t *testing.T) {
	fn := function(t, image, nil)
	b, _, _ := listedApp(t, fn)
	other := function(t, image, func(p *corev1.Pod) { p.UID = "uid-2" })
	other.Name = fn.Name
	if _, ok := b.AdoptListed(other); ok {
		t.Errorf("another pod's app was adopted")
	}

	b, s := setup(t, emu.DefaultToken, emu.Options{})
	b.opts.StorageConnection = ""
	if _, err := b.Deploy(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, b, fn.Name, translate.PhaseActive)
	listed, err := b.List(context.Background(), "vk-azure")
	if err != nil || len(listed) != 1 || listed[0].Tags[translate.SpecDigestKey] != "" {
		t.Fatalf("List = %+v, %v; want the app without a digest", listed, err)
	}
	before := s.Calls()
	if _, ok := b.AdoptListed(fn); ok {
		t.Errorf("an app with no digest was adopted")
	}
	if after := s.Calls(); !maps.Equal(before, after) {
		t.Errorf("AdoptListed made calls: %v, then %v", before, after)
	}
}

// An app found whole by a restart's deployment but without the digest is
// sealed (one tags merge), and the restart after it adopts it.
func TestAppFoundWholeIsSealed(t *testing.T) {
	fn := function(t, image, nil)
	b, s, _ := listedApp(t, fn)
	if err := b.tags.MergeTags(context.Background(), str(b.listed[fn.Name].ID), map[string]*string{encodeKey(translate.SpecDigestKey): new(string)}); err != nil {
		t.Fatal(err)
	}
	st, err := b.Deploy(context.Background(), fn)
	if err != nil || !st.Unsealed {
		t.Fatalf("deploy of an app without digest: %+v %v; want it Unsealed", st, err)
	}
	if err := b.Seal(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
	if _, err := b.List(context.Background(), "vk-azure"); err != nil {
		t.Fatal(err)
	}
	before := s.Calls()
	if _, ok := b.AdoptListed(fn); !ok {
		t.Errorf("a sealed app was not adopted from the listing")
	}
	if after := s.Calls(); !maps.Equal(before, after) {
		t.Errorf("adoption made calls")
	}
}
