package lambda

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"

	emu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/lambda"
	"github.com/faas-kubelet/faas-kubelet/provider"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// A pod whose image is built for another architecture than its
// function's waits FunctionImageError, naming the image, both
// architectures and the field, before any CreateFunction (Lambda would
// create it and fail every invocation); once an image of the function's
// architecture is pushed under that name, the same pod's function is
// created. The pods of one image share one read of the registry.
func TestImageOfAnotherArchitectureWaits(t *testing.T) {
	b, s := setup(t, emu.DefaultSecretKey, emu.Options{})
	if err := s.SetImages(emu.Images{Architectures: map[string]string{armImage: "arm64", ecr: "x86_64"}}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	fn := function(t, armImage, nil) // amd64 by default
	_, err := b.Deploy(ctx, fn)
	failure, reason := provider.Classify(err)
	if failure != provider.FailureHealable || reason != provider.ReasonImageError {
		t.Fatalf("Deploy of an arm64 image on an amd64 function: %v (%v, %s); want healable FunctionImageError", err, failure, reason)
	}
	for _, want := range []string{"spec.containers[0].image", armImage, "built for arm64", "not for amd64", translate.AnnotationArchitecture} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("reason %q does not say %q", err, want)
		}
	}
	if n := s.Calls()["CreateFunction"]; n != 0 {
		t.Errorf("%d CreateFunction calls for an image Lambda would not start", n)
	}

	// The image is pushed again, built for amd64.
	if err := s.SetImages(emu.Images{Architectures: map[string]string{armImage: "x86_64", ecr: "x86_64"}}); err != nil {
		t.Fatal(err)
	}
	if st, err := b.Deploy(ctx, fn); err != nil || st.Phase == translate.PhaseFailed {
		t.Fatalf("Deploy after the push: %+v, %v", st, err)
	}
	if inv, err := b.Invoke(ctx, fn.Name, []byte(`{"n":1}`)); err != nil || inv.FunctionError != "" {
		t.Fatalf("invoke after the push: %+v, %v", inv, err)
	}

	// Three pods of one image: one token, one manifest and one config read.
	before := s.Calls()
	for i := range 3 {
		pod := function(t, ecr, func(p *corev1.Pod) {
			p.Name, p.UID = fmt.Sprintf("web-%d", i), k8stypes.UID(fmt.Sprintf("uid-web-%d", i))
		})
		if _, err := b.Deploy(ctx, pod); err != nil {
			t.Fatal(err)
		}
	}
	after := s.Calls()
	for _, op := range []string{"BatchGetImage", "GetDownloadUrlForLayer"} {
		if n := after[op] - before[op]; n != 1 {
			t.Errorf("%s: %d calls for three pods of one image, want 1", op, n)
		}
	}
	if n := after["GetAuthorizationToken"]; n != 1 {
		t.Errorf("GetAuthorizationToken: %d calls, want 1 (the token is kept until it nears expiry)", n)
	}

	// An arm64 function of the arm64 image runs; an image the registry
	// does not show is left to CreateFunction.
	armOnly := "123456789012.dkr.ecr.us-east-1.amazonaws.com/hello:arm-only"
	arm := function(t, armOnly, func(p *corev1.Pod) {
		p.Name, p.UID, p.Annotations = "arm", "uid-arm", map[string]string{translate.AnnotationArchitecture: "arm64"}
	})
	if err := s.SetImages(emu.Images{Architectures: map[string]string{armOnly: "arm64"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Deploy(ctx, arm); err != nil {
		t.Errorf("arm64 image on an arm64 function: %v", err)
	}
	unknown := function(t, "123456789012.dkr.ecr.us-east-1.amazonaws.com/unlisted:1", func(p *corev1.Pod) { p.Name, p.UID = "unlisted", "uid-unlisted" })
	if _, err := b.Deploy(ctx, unknown); err != nil {
		t.Errorf("an image the registry does not show: %v", err)
	}
}

// An update of a serving function to an image of another architecture is
// refused before UpdateFunctionCode: the function keeps its image.
func TestImageUpdateOfAnotherArchitectureIsRefused(t *testing.T) {
	b, s := setup(t, emu.DefaultSecretKey, emu.Options{})
	if err := s.SetImages(emu.Images{Architectures: map[string]string{armImage: "arm64", ecr: "x86_64"}}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := b.Deploy(ctx, function(t, ecr, nil)); err != nil {
		t.Fatal(err)
	}
	_, err := b.Deploy(ctx, function(t, armImage, nil))
	if _, reason := provider.Classify(err); reason != provider.ReasonImageError {
		t.Fatalf("update to an arm64 image: %v; want FunctionImageError", err)
	}
	if n := s.Calls()["UpdateFunctionCode"]; n != 0 {
		t.Errorf("%d UpdateFunctionCode calls", n)
	}
	st, err := b.Get(ctx, function(t, ecr, nil).Name)
	if err != nil || st.ImageID == "" || !strings.Contains(st.ImageID, "hello") {
		t.Errorf("after the refused update: %+v, %v", st, err)
	}
}

// Pods of one image created at once wait for one read of the registry.
func TestPodsCreatedTogetherShareOneImageRead(t *testing.T) {
	b, s := setup(t, emu.DefaultSecretKey, emu.Options{})
	if err := s.SetImages(emu.Images{Architectures: map[string]string{ecr: "x86_64"}}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn := function(t, ecr, func(p *corev1.Pod) { p.Name, p.UID = fmt.Sprintf("p-%d", i), k8stypes.UID(fmt.Sprintf("uid-p-%d", i)) })
			if _, err := b.Deploy(context.Background(), fn); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := s.Calls()["BatchGetImage"]; n != 1 {
		t.Errorf("BatchGetImage: %d calls for 20 pods of one image created together, want 1", n)
	}
}
