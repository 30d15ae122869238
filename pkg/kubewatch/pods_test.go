package kubewatch

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

func TestPodsListsAndWatchesWhatTheTweakSelects(t *testing.T) {
	client := fake.NewClientset()
	lw := Pods(client, "team-a", func(o *metav1.ListOptions) { o.FieldSelector = "spec.nodeName=vn" })
	if _, err := lw.List(metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	w, err := lw.Watch(metav1.ListOptions{ResourceVersion: "5"})
	if err != nil {
		t.Fatal(err)
	}
	w.Stop()
	var seen []string
	for _, a := range client.Actions() {
		var sel string
		switch a := a.(type) {
		case k8stesting.ListActionImpl:
			sel = a.GetListRestrictions().Fields.String()
		case k8stesting.WatchActionImpl:
			sel = a.GetWatchRestrictions().Fields.String()
		default:
			continue
		}
		if a.GetNamespace() != "team-a" || a.GetResource().Resource != "pods" || sel != "spec.nodeName=vn" {
			t.Errorf("%s %s in %q with fields %q; want pods in team-a with spec.nodeName=vn", a.GetVerb(), a.GetResource().Resource, a.GetNamespace(), sel)
		}
		seen = append(seen, a.GetVerb())
	}
	if len(seen) != 2 {
		t.Fatalf("calls %v; want a list and a watch", seen)
	}
}
