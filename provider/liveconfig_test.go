package provider

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/record"
)

// The env-from mark alone costs no deploy; an env that changed with it
// redeploys the function and says so in an event, without the values.
func TestChangedEnvRedeploysWithAnEvent(t *testing.T) {
	b := &fakeBackend{}
	rec := record.NewFakeRecorder(100)
	p, err := New(Options{NodeName: "vk", Backend: b, Recorder: rec, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p.NotifyPods(ctx, func(*corev1.Pod) {})
	pod := newPod("uid-1", "a")
	if err := p.CreatePod(ctx, pod); err != nil {
		t.Fatal(err)
	}
	marked := pod.DeepCopy()
	marked.Annotations = map[string]string{AnnotationEnvFrom: "Secret/db@2"}
	if err := p.UpdatePod(ctx, marked); err != nil || len(b.deployed) != 1 {
		t.Fatalf("the mark alone: err %v, %d deploys", err, len(b.deployed))
	}
	changed := marked.DeepCopy()
	changed.Spec.Containers[0].Env[0].Value = "s3cr3t-two"
	if err := p.UpdatePod(ctx, changed); err != nil || len(b.deployed) != 2 || b.deployed[1].Env["GREETING"] != "s3cr3t-two" {
		t.Fatalf("changed env: err %v, %d deploys", err, len(b.deployed))
	}
	var events []string
	for len(rec.Events) > 0 {
		events = append(events, <-rec.Events)
	}
	all := strings.Join(events, "\n")
	if !strings.Contains(all, "FunctionEnvUpdated") || strings.Contains(all, "s3cr3t-two") {
		t.Errorf("events:\n%s", all)
	}
}
