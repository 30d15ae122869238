package azure

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	emu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/azure"
)

// A pod's timeout annotation becomes host.json's functionTimeout (through
// its app setting) up to 230 s; a longer one is refused naming the
// annotation, since Azure cuts every HTTP-triggered call, which all of
// this node's calls are, at 230 s whatever the function timeout. A call
// past the front end's timeout is a function error with its 502.
func TestTimeoutWithinAzureHTTPLimit(t *testing.T) {
	b, _ := setup(t, emu.DefaultToken, emu.Options{FrontEndTimeout: 100 * time.Millisecond})
	ctx := context.Background()
	for _, bad := range []string{"231", "900", "0", "soon"} {
		fn := function(t, image, func(p *corev1.Pod) { p.Annotations = map[string]string{AnnotationTimeout: bad} })
		_, err := b.Deploy(ctx, fn)
		if !errdefs.IsInvalidInput(err) || !strings.Contains(err.Error(), "metadata.annotations["+AnnotationTimeout+"]") || !strings.Contains(err.Error(), "230") {
			t.Errorf("timeout %q: %v, want InvalidInput naming the annotation and 230 s", bad, err)
		}
	}
	// A Job's deadline past 230 s cannot be kept: its run is an HTTP call.
	long := function(t, image, func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = ptr.To[int64](600) })
	if _, err := b.Deploy(ctx, long); !errdefs.IsInvalidInput(err) || !strings.Contains(err.Error(), "spec.activeDeadlineSeconds") {
		t.Errorf("activeDeadlineSeconds 600: %v, want InvalidInput naming it", err)
	}
	env := function(t, image, func(p *corev1.Pod) {
		p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "AzureFunctionsJobHost__functionTimeout", Value: "01:00:00"}}
	})
	if _, err := b.Deploy(ctx, env); !errdefs.IsInvalidInput(err) {
		t.Errorf("the timeout setting in env: %v, want InvalidInput", err)
	}

	fn := function(t, image, func(p *corev1.Pod) { p.Annotations = map[string]string{AnnotationTimeout: "230"} })
	if _, err := b.Deploy(ctx, fn); err != nil {
		t.Fatal(err)
	}
	settings, err := b.api.ListApplicationSettings(ctx, b.opts.ResourceGroup, fn.Name, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := str(settings.Properties[settingFunctionTimeout]); got != "00:03:50" {
		t.Errorf("%s = %q, want 00:03:50", settingFunctionTimeout, got)
	}
	waitPhase(t, b, fn.Name, "Active")
	inv, err := b.Invoke(ctx, fn.Name, []byte(`{"sleepMs": 300}`))
	if err != nil || !strings.Contains(inv.FunctionError, "HTTP 502") {
		t.Errorf("a call past the front end's timeout: %+v %v, want its 502 as the function error", inv, err)
	}
}
