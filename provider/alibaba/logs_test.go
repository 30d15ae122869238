package alibaba

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	emu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/alibaba"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// TestIncompleteLogsAreRepeated: while Log Service answers a query
// Incomplete, the request is repeated, for kubectl logs and for usage.
func TestIncompleteLogsAreRepeated(t *testing.T) {
	e := setup(t, emu.DefaultAccessKeySecret)
	ctx := context.Background()
	fn := function(t, image, nil)
	if _, err := e.b.Deploy(ctx, fn); err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(-2 * time.Second)
	if _, err := e.b.Invoke(ctx, fn.Name, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	e.s.SetIncompleteLogs(2)
	rc, err := e.b.Logs(ctx, fn.Name, translate.LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(rc)
	rc.Close()
	if !strings.Contains(string(out), "FC Invoke Start") {
		t.Errorf("logs after two Incomplete answers = %q", out)
	}
	e.s.SetIncompleteLogs(2)
	samples, err := e.b.Usage(ctx, []string{fn.Name}, start)
	if err != nil || len(samples) != 1 {
		t.Errorf("usage after two Incomplete answers = %+v, %v", samples, err)
	}
}
