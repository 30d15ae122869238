package azure

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"

	emu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/azure"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// Deleting a node's last app keeps the App Service plan the node's
// configuration names (the Web Apps API deletes an empty plan by default),
// so that the next pod's app can be created on it.
func TestDeletingTheLastAppKeepsThePlan(t *testing.T) {
	b, s := setup(t, emu.DefaultToken, emu.Options{})
	ctx := context.Background()
	first := function(t, image, nil)
	if _, err := b.Deploy(ctx, first); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(ctx, first.Name); err != nil {
		t.Fatal(err)
	}
	if !s.PlanExists(b.opts.ServerFarmID) {
		t.Fatalf("deleting the last app deleted the plan %s", b.opts.ServerFarmID)
	}
	next := function(t, image, func(p *corev1.Pod) { p.Name, p.UID = "next", "uid-2" })
	if st, err := b.Deploy(ctx, next); err != nil || st.Phase != translate.PhaseActive {
		t.Errorf("the next app after the last one was deleted: %+v %v", st, err)
	}
}
