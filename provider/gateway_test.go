package provider

import (
	"context"
	"testing"

	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// The gateway asks which of the pods an EndpointSlice names are this
// node's, and which of those serve now: only a Running, Ready pod does.
func TestGatewayPodsSaysWhichPodsOfTheNodeServe(t *testing.T) {
	b := &fakeBackend{deployFn: func(fn *translate.Function) (*translate.FunctionState, error) {
		switch fn.Tags[translate.TagPodName] {
		case "starting":
			return &translate.FunctionState{Name: fn.Name, Phase: translate.PhasePending}, nil
		case "refused":
			return nil, errdefs.InvalidInput("spec.containers[0].image: not from ECR")
		}
		return &translate.FunctionState{Name: fn.Name, Phase: translate.PhaseActive}, nil
	}}
	p, _ := newProvider(t, b)
	for i, name := range []string{"web", "starting", "refused", "unasked"} {
		if err := p.CreatePod(context.Background(), newPod(string(rune('a'+i)), name)); err != nil {
			t.Fatal(err)
		}
	}
	key := func(ns, name string) types.NamespacedName { return types.NamespacedName{Namespace: ns, Name: name} }
	got := p.GatewayPods(map[types.NamespacedName]bool{
		key("default", "web"): true, key("default", "starting"): true, key("default", "refused"): true,
		key("default", "elsewhere"): true, key("other", "web"): true,
	})
	want := map[string]bool{"web": true, "starting": false, "refused": false}
	if len(got) != len(want) {
		t.Errorf("GatewayPods returned %d pods, want %d (only the node's pods that were asked for): %v", len(got), len(want), got)
	}
	for name, serving := range want {
		gp, ok := got[key("default", name)]
		if !ok {
			t.Errorf("pod default/%s of the node is missing", name)
			continue
		}
		if gp.Serving != serving || gp.Pod.Name != name {
			t.Errorf("pod default/%s: serving %v (phase %s), want %v", name, gp.Serving, gp.Pod.Status.Phase, serving)
		}
	}
	if gp := got[key("default", "web")]; gp.Pod != nil && gp.Pod.Status.Phase != corev1.PodRunning {
		t.Errorf("the serving pod is %s", gp.Pod.Status.Phase)
	}
	if len(p.GatewayPods(nil)) != 0 {
		t.Error("no names asked, pods returned")
	}
}
