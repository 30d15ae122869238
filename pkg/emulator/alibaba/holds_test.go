package alibaba

import (
	"context"
	"testing"
	"time"

	fc "github.com/alibabacloud-go/fc-open-20210406/v2/client"
	"github.com/alibabacloud-go/tea/tea"

	"github.com/faas-kubelet/faas-kubelet/pkg/emulator/faults"
)

// A TagResource held before its work and dropped (its caller killed
// between CreateService and TagResource) leaves the service untagged; the
// ledger names the service of every call of the create sequence.
func TestHeldTagResourceDroppedLeavesTheServiceUntagged(t *testing.T) {
	e := start(t, Options{})
	id := e.s.Hold(faults.Hold{Op: "TagResource"})
	createService(t, e.fc, "pod-a", false)
	arn := "acs:fc:" + DefaultRegion + ":" + DefaultAccountID + ":services/pod-a"
	done := make(chan error, 1)
	go func() {
		_, err := e.fc.TagResourceWithOptions(&fc.TagResourceRequest{ResourceArn: tea.String(arn),
			Tags: map[string]*string{"faas-kubelet.io/pod-uid": tea.String("uid-a")}}, &fc.TagResourceHeaders{}, rt)
		done <- err
	}()
	wait, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := e.s.HoldState(wait, id)
	if err != nil || !st.Holding || st.Call.Name != "pod-a" {
		t.Fatalf("hold = %+v %v", st, err)
	}
	if err := e.s.Release(id, true); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err == nil {
		t.Error("a dropped TagResource was answered")
	}
	tags, err := e.fc.GetResourceTagsWithOptions(&fc.GetResourceTagsRequest{ResourceArn: tea.String(arn)}, &fc.GetResourceTagsHeaders{}, rt)
	if err != nil {
		t.Fatal(err)
	}
	if len(tags.Body.Tags) != 0 {
		t.Errorf("tags after a dropped TagResource = %v", tags.Body.Tags)
	}
	createFunction(t, e.fc, "pod-a", "pod-a", nil)
	got := e.s.Ledger(faults.LedgerQuery{Ops: []string{"CreateService", "TagResource", "CreateFunction"}})
	if len(got) != 3 {
		t.Fatalf("ledger = %+v", got)
	}
	for n, op := range []string{"CreateService", "TagResource", "CreateFunction"} {
		if got[n].Op != op || got[n].Name != "pod-a" {
			t.Errorf("entry %d = %+v, want %s of pod-a", n, got[n], op)
		}
	}
	if !got[0].Applied() || got[1].Applied() || !got[1].Dropped || !got[2].Applied() {
		t.Errorf("ledger = %+v: want the service and function made, the tags not", got)
	}
}
