package cli

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestPprofServesProfilesUntilCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	addr, err := servePprof(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr.String() + "/debug/pprof/heap?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "heap profile") {
		t.Fatalf("GET heap profile: %d %.80q", resp.StatusCode, body)
	}
	cancel()
	for i := 0; i < 100; i++ {
		if _, err = http.Get("http://" + addr.String() + "/debug/pprof/"); err != nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Error("profiles still served after the context ended")
}
