package e2e

// The chaos suite's counters are pure functions over what the run
// recorded: the emulator's ledger of calls (its ground truth: what was
// carried out, on which resource, by whom) and the test's timeline of
// every pod (seen, terminating, gone). They carry no build tag, so that
// the unit tier (go test ./e2e/) proves each can fail.

import (
	"fmt"
	"slices"
	"sort"
	"time"
)

// callEvent is one call from an emulator's ledger, as the counters read
// it (see faults.Entry).
type callEvent struct {
	At      time.Time
	Op      string
	Name    string
	Applied bool // carried out and succeeded, whatever the caller was answered
	Created bool // the emulator noted that a create-or-update created it
	Harness bool // the test's own call
}

// cloudOps says which calls make and which remove a pod's cloud resource:
// the Lambda function, the Azure function app, the Function Compute
// service (whose function and trigger live inside it).
type cloudOps struct {
	create string
	// createNoted: the create call also updates, so only a call the
	// emulator noted "created" counts (Azure's PUT site).
	createNoted bool
	// remove is the call that removes the resource; destructive also
	// lists the calls that break it (FC's DeleteFunction, DeleteTrigger).
	remove      string
	destructive []string
}

var opsOf = map[string]cloudOps{
	"aws-lambda":      {create: "CreateFunction", remove: "DeleteFunction"},
	"azure-functions": {create: "CreateOrUpdate", createNoted: true, remove: "Delete"},
	"alibaba-fc":      {create: "CreateService", remove: "DeleteService", destructive: []string{"DeleteFunction", "DeleteTrigger"}},
}

func (o cloudOps) creates(e callEvent) bool {
	return e.Applied && e.Op == o.create && (!o.createNoted || e.Created)
}

func (o cloudOps) removes(e callEvent) bool { return e.Applied && e.Op == o.remove }

func (o cloudOps) destroys(e callEvent) bool {
	return e.Applied && (e.Op == o.remove || slices.Contains(o.destructive, e.Op))
}

// podLife is what the test saw of one pod: when it first saw it, first
// saw it terminating (a deletionTimestamp), and saw it gone; zero times
// have not happened.
type podLife struct {
	UID, Function string
	Seen          time.Time
	Terminating   time.Time
	Gone          time.Time
}

// duplicates counts, per resource name, the successful creates beyond the
// first over the whole run: a second create of one name is a resource made
// twice, or a live pod's resource deleted and made again. The test's own
// calls are left out.
func duplicates(o cloudOps, events []callEvent) (int, []string) {
	per := map[string]int{}
	for _, e := range events {
		if !e.Harness && o.creates(e) {
			per[e.Name]++
		}
	}
	n, names := 0, []string(nil)
	for name, c := range per {
		if c > 1 {
			n += c - 1
			names = append(names, fmt.Sprintf("%s created %d times", name, c))
		}
	}
	sort.Strings(names)
	return n, names
}

// wronglyDeleted counts the resources a node destroyed while their pod
// existed and was not terminating: a destructive call carried out at T on
// the resource of a pod that was seen by then and was neither seen
// terminating nor gone by T+slack (the test's watch may see a deletion a
// little after the node did). Each name counts once.
func wronglyDeleted(o cloudOps, events []callEvent, pods []podLife, slack time.Duration) (int, []string) {
	byFn := map[string]podLife{}
	for _, p := range pods {
		byFn[p.Function] = p
	}
	wrong := map[string]string{}
	for _, e := range events {
		if e.Harness || !o.destroys(e) {
			continue
		}
		p, ok := byFn[e.Name]
		if !ok || p.Seen.After(e.At.Add(slack)) {
			continue // no pod of this function existed
		}
		by := e.At.Add(slack)
		if !p.Terminating.IsZero() && !p.Terminating.After(by) || !p.Gone.IsZero() && !p.Gone.After(by) {
			continue
		}
		if _, seen := wrong[e.Name]; !seen {
			wrong[e.Name] = fmt.Sprintf("%s %s at %s while pod %s lived", e.Op, e.Name, e.At.Format("15:04:05.000"), p.UID)
		}
	}
	var out []string
	for _, d := range wrong {
		out = append(out, d)
	}
	sort.Strings(out)
	return len(wrong), out
}

// leak is a resource that outlived its pod.
type leak struct {
	Name string
	For  time.Duration // from its pod's end (or its creation, for no pod) to its removal or the end of the run
}

// leaks replays the ledger into the resources that existed over time and
// returns those that existed longer than grace with no pod: after their
// pod was gone, or (no pod ever had their name) after they were made. end
// is when the run's sampling stopped: a resource still there counts to it.
func leaks(o cloudOps, events []callEvent, pods []podLife, end time.Time, grace time.Duration) []leak {
	byFn := map[string]podLife{}
	for _, p := range pods {
		byFn[p.Function] = p
	}
	made := map[string]time.Time{} // present since
	lasted := map[string]time.Duration{}
	measure := func(name string, until time.Time) {
		since := made[name]
		if p, ok := byFn[name]; ok {
			if p.Gone.IsZero() || p.Gone.After(until) {
				return // its pod outlived it
			}
			since = later(since, p.Gone)
		}
		if d := until.Sub(since); d > lasted[name] {
			lasted[name] = d
		}
	}
	for _, e := range events {
		switch {
		case o.creates(e):
			if _, ok := made[e.Name]; !ok {
				made[e.Name] = e.At
			}
		case o.removes(e):
			if _, ok := made[e.Name]; ok {
				measure(e.Name, e.At)
				delete(made, e.Name)
			}
		}
	}
	for name := range made {
		measure(name, end)
	}
	var out []leak
	for name, d := range lasted {
		if d > grace {
			out = append(out, leak{Name: name, For: d.Truncate(time.Second)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// present replays the ledger up to at into the set of resources that exist.
func present(o cloudOps, events []callEvent, at time.Time) map[string]bool {
	out := map[string]bool{}
	for _, e := range events {
		if e.At.After(at) {
			continue
		}
		switch {
		case o.creates(e):
			out[e.Name] = true
		case o.removes(e):
			delete(out, e.Name)
		}
	}
	return out
}

// podSnap is one pod as a listing showed it.
type podSnap struct {
	UID, Function string
	Ready         bool
	Terminating   bool
}

// unconverged counts, of want pods, those that are not Ready with their
// resource present (per the ledger): a missing pod, a pod not Ready, or a
// Ready pod whose resource is gone all count.
func unconverged(want int, pods []podSnap, resources map[string]bool) (int, string) {
	ok, notReady, noResource := 0, 0, 0
	for _, p := range pods {
		switch {
		case p.Terminating:
		case !p.Ready:
			notReady++
		case !resources[p.Function]:
			noResource++
		default:
			ok++
		}
	}
	return max(0, want-ok), fmt.Sprintf("%d/%d pods Ready with their function, %d not Ready, %d Ready without a function", ok, want, notReady, noResource)
}
