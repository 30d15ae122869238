package azure

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"

	emu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/azure"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// fakeClock is the time of both the emulator and the backend: a run's
// sleep steps it, so a run past a timeout takes no real time.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time        { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Sleep(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// Azure's answers to a failed HTTP-triggered call become the End a Job's
// pod shows: a 500 once the function timeout passed and the front end's
// 502 at 230 s are timeouts; a 500 before the timeout is the function's
// error.
func TestInvokeEnds(t *testing.T) {
	clk := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	b, _ := setup(t, emu.DefaultToken, emu.Options{Now: clk.Now, Sleep: clk.Sleep})
	b.opts.Now = clk.Now
	ctx := context.Background()
	deploy := func(uid k8stypes.UID, name string, mutate func(*corev1.Pod)) string {
		t.Helper()
		fn := function(t, image, func(p *corev1.Pod) {
			p.UID, p.Name = uid, name
			mutate(p)
		})
		if _, err := b.Deploy(ctx, fn); err != nil {
			t.Fatalf("deploy %s: %v", name, err)
		}
		waitPhase(t, b, fn.Name, translate.PhaseActive)
		return fn.Name
	}
	short := deploy("uid-1", "short", func(p *corev1.Pod) { p.Annotations = map[string]string{AnnotationTimeout: "2"} })
	long := deploy("uid-2", "long", func(*corev1.Pod) {})
	failing := deploy("uid-3", "failing", func(p *corev1.Pod) {
		p.Annotations = map[string]string{AnnotationTimeout: "2"}
		p.Spec.Containers[0].Env = append(p.Spec.Containers[0].Env, corev1.EnvVar{Name: "EMULATOR_FAIL", Value: "no stock"})
	})

	for _, tc := range []struct {
		name, fn, payload, msg string
		end                    translate.InvocationEnd
	}{
		{"past the function timeout", short, `{"sleepMs": 5000}`, "HTTP 500", translate.EndTimeout},
		{"past the front end's 230 s", long, `{"sleepMs": 240000}`, "HTTP 502", translate.EndTimeout},
		{"the function's error before its timeout", failing, `{}`, "no stock", translate.EndError},
	} {
		inv, err := b.Invoke(ctx, tc.fn, []byte(tc.payload))
		if err != nil || !strings.Contains(inv.FunctionError, tc.msg) || inv.End != tc.end {
			t.Errorf("%s: %+v %v, want End %s with %q", tc.name, inv, err, tc.end.Reason(), tc.msg)
		}
	}
	if inv, err := b.Invoke(ctx, short, []byte(`{"sleepMs": 1500}`)); err != nil || inv.FunctionError != "" {
		t.Errorf("a run within the timeout: %+v %v", inv, err)
	}
}

// {"env": true} answers the environment the app got: the pod's env, not
// the storage connection string the node sets.
func TestInvokeEchoesEnvironment(t *testing.T) {
	b, _ := setup(t, emu.DefaultToken, emu.Options{})
	ctx := context.Background()
	fn := function(t, image, nil)
	if _, err := b.Deploy(ctx, fn); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, b, fn.Name, translate.PhaseActive)
	inv, err := b.Invoke(ctx, fn.Name, []byte(`{"env": true}`))
	if err != nil {
		t.Fatal(err)
	}
	var env map[string]string
	if err := json.Unmarshal(inv.Output, &env); err != nil || env["GREETING"] != "hi" {
		t.Errorf("the echoed environment: %s (%v), want GREETING=hi", inv.Output, err)
	}
	if strings.Contains(string(inv.Output), "AccountKey") {
		t.Errorf("the echo carries the storage connection string: %s", inv.Output)
	}
}
