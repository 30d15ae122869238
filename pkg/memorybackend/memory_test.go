package memorybackend

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/virtual-kubelet/virtual-kubelet/errdefs"

	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

func TestPingFailsWhileTheFaultFileExists(t *testing.T) {
	f := filepath.Join(t.TempDir(), "fault")
	b := New(Options{FaultFile: f})
	if err := b.Ping(context.Background()); err != nil {
		t.Fatalf("ping without a fault file: %v", err)
	}
	if err := os.WriteFile(f, []byte("cable cut\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := b.Ping(context.Background()); err == nil || !strings.Contains(err.Error(), "cable cut") {
		t.Errorf("ping with a fault file: %v", err)
	}
}

func TestDeployGetDelete(t *testing.T) {
	b := New(Options{})
	ctx := context.Background()
	st, err := b.Deploy(ctx, &translate.Function{Name: "f", Image: "img", Tags: map[string]string{"k": "v"}})
	if err != nil || st.Phase != translate.PhaseActive || st.ImageID == "" {
		t.Fatalf("Deploy = %+v, %v", st, err)
	}
	again, _ := b.Deploy(ctx, &translate.Function{Name: "f", Image: "img2"})
	if again.Created != st.Created || again.ImageID == st.ImageID {
		t.Errorf("redeploy should keep creation time and change the image id: %+v vs %+v", again, st)
	}
	if _, err := b.Get(ctx, "f"); err != nil {
		t.Error(err)
	}
	if err := b.Delete(ctx, "f"); err != nil {
		t.Error(err)
	}
	if err := b.Delete(ctx, "f"); err != nil {
		t.Errorf("deleting twice: %v", err)
	}
	if _, err := b.Get(ctx, "f"); !errdefs.IsNotFound(err) {
		t.Errorf("Get after delete: %v", err)
	}
	if _, err := b.Deploy(ctx, &translate.Function{Name: "g"}); !errdefs.IsInvalidInput(err) {
		t.Errorf("Deploy without image: %v", err)
	}
}
