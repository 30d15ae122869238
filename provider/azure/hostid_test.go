package azure

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	emu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/azure"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// Two pods whose app names share their first 32 characters (long names of
// one Deployment's pods) run side by side on the node's one storage
// account: each app has a host ID of its own.
func TestLongPodNamesDoNotShareAHostID(t *testing.T) {
	b, _ := setup(t, emu.DefaultToken, emu.Options{})
	ctx := context.Background()
	var fns []*translate.Function
	for i, suffix := range []string{"7d4b9c-abcde", "7d4b9c-fghij"} {
		fn := function(t, image, func(p *corev1.Pod) {
			p.Name, p.UID = "checkout-service-with-a-long-name-"+suffix, types.UID("uid-long-"+string(rune('a'+i)))
		})
		if fn.Name[:32] != strings.ToLower(fn.Name[:32]) {
			t.Fatalf("name %s", fn.Name)
		}
		if _, err := b.Deploy(ctx, fn); err != nil {
			t.Fatal(err)
		}
		fns = append(fns, fn)
	}
	if fns[0].Name[:32] != fns[1].Name[:32] {
		t.Fatalf("the test wants names that share 32 characters: %s %s", fns[0].Name, fns[1].Name)
	}
	for _, fn := range fns {
		waitPhase(t, b, fn.Name, translate.PhaseActive)
		if inv, err := b.Invoke(ctx, fn.Name, []byte(`{}`)); err != nil || inv.FunctionError != "" {
			t.Errorf("invoke %s: %+v %v", fn.Name, inv, err)
		}
	}
}

func TestHostIDIsUniqueShortAndValid(t *testing.T) {
	seen := map[string]string{}
	for _, name := range []string{"fk-default-hello-1234567890", "fk-default-checkout-service-with-a-long-name-7-abcdef0123",
		"fk-default-checkout-service-with-a-long-name-7-0123456789", "fk-a--b-0123456789", "ab"} {
		id := hostIDFor(name)
		if len(id) == 0 || len(id) > 32 || strings.Trim(id, "abcdefghijklmnopqrstuvwxyz0123456789-") != "" ||
			strings.HasPrefix(id, "-") || strings.HasSuffix(id, "-") || strings.Contains(id, "--") {
			t.Errorf("host ID of %s = %q", name, id)
		}
		if other, ok := seen[id]; ok {
			t.Errorf("%s and %s have one host ID %q", name, other, id)
		}
		seen[id] = name
	}
}
