package e2e

import (
	"testing"
	"time"
)

// t0 is the start of every made-up run below.
var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

func ev(s float64, op, name string) callEvent {
	return callEvent{At: at(s), Op: op, Name: name, Applied: true}
}

// One create per name is no duplicate; a second successful create of a
// name is (a node that made a function twice, or deleted a live pod's and
// made it again); failed creates, harness creates and Azure's updates are
// not creates.
func TestDuplicatesCountSecondCreatesOfOneName(t *testing.T) {
	lambda, azure := opsOf["aws-lambda"], opsOf["azure-functions"]
	clean := []callEvent{ev(1, "CreateFunction", "a"), ev(2, "CreateFunction", "b"),
		{At: at(3), Op: "CreateFunction", Name: "a"}, // refused: exists
		{At: at(4), Op: "CreateFunction", Name: "a", Applied: true, Harness: true}}
	if n, d := duplicates(lambda, clean); n != 0 {
		t.Errorf("clean run: %d duplicates %v", n, d)
	}
	recreated := append(clean, ev(5, "DeleteFunction", "a"), ev(6, "CreateFunction", "a"), ev(7, "CreateFunction", "b"), ev(8, "CreateFunction", "b"))
	if n, d := duplicates(lambda, recreated); n != 3 || len(d) != 2 || d[0] != "a created 2 times" || d[1] != "b created 3 times" {
		t.Errorf("recreated: %d %v, want 3 (a once, b twice)", n, d)
	}
	puts := []callEvent{{At: at(1), Op: "CreateOrUpdate", Name: "app", Applied: true, Created: true}, ev(2, "CreateOrUpdate", "app"), ev(3, "CreateOrUpdate", "app")}
	if n, _ := duplicates(azure, puts); n != 0 {
		t.Errorf("Azure updates counted as creates: %d", n)
	}
	puts = append(puts, callEvent{At: at(4), Op: "CreateOrUpdate", Name: "app", Applied: true, Created: true})
	if n, _ := duplicates(azure, puts); n != 1 {
		t.Errorf("an Azure app created twice: %d duplicates, want 1", n)
	}
}

// A delete of a live pod's function is wrong, during the rollout or the
// delete phase; a delete after the pod was seen terminating (even a little
// later than the node saw it, within slack), of a function no pod has, or
// by the test itself is not. FC's DeleteFunction inside a live pod's
// service is destructive too; each name counts once.
func TestWronglyDeletedCountsDeletesOfLivePods(t *testing.T) {
	pods := []podLife{
		{UID: "u1", Function: "f1", Seen: at(0), Terminating: at(50), Gone: at(60)},
		{UID: "u2", Function: "f2", Seen: at(0)},
		{UID: "u3", Function: "f3", Seen: at(0), Terminating: at(31)},
	}
	lambda, fc := opsOf["aws-lambda"], opsOf["alibaba-fc"]
	ok := []callEvent{
		ev(52, "DeleteFunction", "f1"), // after its pod terminated
		ev(30, "DeleteFunction", "f3"), // the watch saw it terminating 1 s later
		ev(10, "DeleteFunction", "orphan"),
		{At: at(10), Op: "DeleteFunction", Name: "f2", Applied: true, Harness: true},
		{At: at(10), Op: "DeleteFunction", Name: "f2"}, // refused: nothing deleted
	}
	if n, d := wronglyDeleted(lambda, ok, pods, 2*time.Second); n != 0 {
		t.Errorf("legitimate deletes: %d %v", n, d)
	}
	bad := append(ok, ev(20, "DeleteFunction", "f2"), ev(21, "DeleteFunction", "f2"), ev(40, "DeleteFunction", "f1"))
	if n, d := wronglyDeleted(lambda, bad, pods, 2*time.Second); n != 2 {
		t.Errorf("deletes of live pods f2 (twice) and f1 (before it terminated): %d %v, want 2", n, d)
	}
	if n, _ := wronglyDeleted(fc, []callEvent{ev(5, "DeleteFunction", "f2")}, pods, time.Second); n != 1 {
		t.Errorf("FC DeleteFunction in a live pod's service: %d, want 1", n)
	}
	if n, _ := wronglyDeleted(lambda, []callEvent{ev(29, "DeleteFunction", "f3")}, pods, time.Second); n != 1 {
		t.Errorf("a delete 2 s before the pod terminated, slack 1 s: %d, want 1", n)
	}
}

// A function removed before (or just after) its pod went is no leak; one
// still there, or removed long after its pod, or made for no pod, is, for
// as long as it outlived its pod.
func TestLeaksMeasureHowLongAFunctionOutlivedItsPod(t *testing.T) {
	o := opsOf["alibaba-fc"]
	pods := []podLife{
		{UID: "u1", Function: "s1", Seen: at(0), Terminating: at(10), Gone: at(12)},
		{UID: "u2", Function: "s2", Seen: at(0), Terminating: at(10), Gone: at(12)},
		{UID: "u3", Function: "s3", Seen: at(0), Terminating: at(10), Gone: at(12)},
		{UID: "u4", Function: "s4", Seen: at(0)}, // still running
	}
	events := []callEvent{
		ev(1, "CreateService", "s1"), ev(1, "CreateService", "s2"), ev(1, "CreateService", "s3"), ev(1, "CreateService", "s4"),
		ev(2, "CreateService", "stray"),
		ev(11, "DeleteService", "s1"),  // before its pod went
		ev(20, "DeleteService", "s2"),  // 8 s after
		ev(200, "DeleteService", "s3"), // 188 s after
	}
	got := leaks(o, events, pods, at(300), 30*time.Second)
	if len(got) != 2 || got[0] != (leak{"s3", 188 * time.Second}) || got[1] != (leak{"stray", 298 * time.Second}) {
		t.Errorf("leaks = %+v, want s3 for 188 s and stray for 298 s", got)
	}
	if got := leaks(o, events[:5], pods[:1], at(300), 30*time.Second); len(got) != 5 || got[0] != (leak{"s1", 288 * time.Second}) {
		t.Errorf("never deleted, only s1 with a pod: %+v", got)
	}
	if got := leaks(o, events[:6], pods, at(300), 30*time.Second); len(got) != 3 {
		t.Errorf("s2, s3 and stray never deleted: %+v", got)
	}
}

// A pod counts as converged only Ready with its function present: a
// missing pod, one not Ready and one Ready whose function the ledger says
// is gone are each unconverged.
func TestUnconvergedCountsPodsNotReadyWithTheirFunction(t *testing.T) {
	o := opsOf["aws-lambda"]
	events := []callEvent{ev(1, "CreateFunction", "f1"), ev(1, "CreateFunction", "f2"), ev(1, "CreateFunction", "f3"), ev(5, "DeleteFunction", "f3")}
	pods := []podSnap{{UID: "u1", Function: "f1", Ready: true}, {UID: "u2", Function: "f2", Ready: true}, {UID: "old", Function: "f0", Terminating: true}}
	if n, d := unconverged(2, pods, present(o, events, at(10))); n != 0 {
		t.Errorf("2 Ready pods with functions: %d (%s)", n, d)
	}
	pods = append(pods, podSnap{UID: "u3", Function: "f3", Ready: true}, podSnap{UID: "u4", Function: "f4"})
	if n, d := unconverged(5, pods, present(o, events, at(10))); n != 3 {
		t.Errorf("u3 without a function, u4 not Ready, one pod missing: %d (%s), want 3", n, d)
	}
	if n, _ := unconverged(3, pods[:2], present(o, events, at(0.5))); n != 3 {
		t.Errorf("before any function was made: %d, want 3", n)
	}
}
