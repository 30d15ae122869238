package mock

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The copy is the provider make bench compares against as shipped: any
// difference would make the tuned row measure another provider.
func TestCopyIsVirtualKubeletsMockUnchanged(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/virtual-kubelet/virtual-kubelet").Output()
	if err != nil {
		t.Fatalf("go list -m github.com/virtual-kubelet/virtual-kubelet: %v", err)
	}
	dir := strings.TrimSpace(string(out))
	if !strings.HasSuffix(dir, "@v1.13.0") {
		t.Fatalf("the module is %s; copy mock.go from that version (and say so in doc.go)", dir)
	}
	upstream, err := os.ReadFile(filepath.Join(dir, "cmd", "virtual-kubelet", "internal", "provider", "mock", "mock.go"))
	if err != nil {
		t.Fatal(err)
	}
	ours, err := os.ReadFile("mock.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ours, upstream) {
		t.Errorf("mock.go differs from %s's mock provider: copy it again unchanged", dir)
	}
}
