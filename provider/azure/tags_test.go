package azure

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	emu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/azure"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// Azure allows 50 tags on an app: the node's own (identity, function, the
// three a Job records later, the spec digest) come first, and the pod's labels that do
// not fit are left out with one Note naming them, instead of refusing the
// pod.
func TestLabelsBeyondTheTagBudgetAreLeftOut(t *testing.T) {
	for _, labels := range []int{45, 60} {
		t.Run(fmt.Sprint(labels), func(t *testing.T) {
			b, _ := setup(t, emu.DefaultToken, emu.Options{})
			ctx := context.Background()
			fn := function(t, image, func(p *corev1.Pod) {
				p.Labels = map[string]string{}
				for i := range labels {
					p.Labels[fmt.Sprintf("example.com/label-%02d", i)] = "v"
				}
			})
			st, err := b.Deploy(ctx, fn)
			if err != nil {
				t.Fatalf("deploy: %v", err)
			}
			kept := 0
			for k := range st.Tags {
				if strings.HasPrefix(k, "example.com/") {
					kept++
				}
			}
			if kept != 50-9 || st.Tags[translate.TagPodUID] != "uid-1" || st.Tags[tagFunction] != "app" {
				t.Errorf("%d labels kept, want 41; tags %v", kept, st.Tags)
			}
			dropped := fmt.Sprintf("example.com/label-%02d", labels-1)
			if len(st.Notes) != 1 || !strings.Contains(st.Notes[0], "metadata.labels") || !strings.Contains(st.Notes[0], dropped) ||
				strings.Contains(st.Notes[0], "example.com/label-00") {
				t.Errorf("notes = %q", st.Notes)
			}
			if err := b.Tag(ctx, fn.Name, translate.JobTags(translate.Job{State: translate.JobRunning})); err != nil {
				t.Errorf("recording a Job's progress: %v", err)
			}
		})
	}
}
