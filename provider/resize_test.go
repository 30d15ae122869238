package provider

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// resizingBackend is a fake whose Deploy applies a new memory in place,
// within Lambda's limits.
type resizingBackend struct{ fakeBackend }

func (*resizingBackend) CheckResize(fn *translate.Function) error {
	if fn.MemoryMiB < 128 || fn.MemoryMiB > 10240 {
		return errdefs.InvalidInputf("%s: Lambda memory must be between 128 and 10240 MiB; the pod asks for %d MiB", fn.MemoryField, fn.MemoryMiB)
	}
	return nil
}

// sized is a pod whose container asks for mem (requests and limits, as the
// API server defaults a limit-only container), at generation 1.
func sized(mem string) *corev1.Pod {
	pod := newPod("uid-1", "hello")
	pod.Generation = 1
	q := resource.MustParse(mem)
	pod.Spec.Containers[0].Resources = corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceMemory: q, corev1.ResourceCPU: resource.MustParse("250m")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: q},
	}
	return pod
}

// resized is pod after kubectl patch pod --subresource resize: the
// container's memory is mem, and the generation one more.
func resized(pod *corev1.Pod, mem string) *corev1.Pod {
	out := pod.DeepCopy()
	out.Generation++
	q := resource.MustParse(mem)
	out.Spec.Containers[0].Resources.Requests[corev1.ResourceMemory] = q
	out.Spec.Containers[0].Resources.Limits[corev1.ResourceMemory] = q
	return out
}

func podCondition(st corev1.PodStatus, t corev1.PodConditionType) *corev1.PodCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			return &st.Conditions[i]
		}
	}
	return nil
}

// runsWith checks what kubectl get pod -o yaml shows of the container's
// resources.
func runsWith(t *testing.T, st corev1.PodStatus, mem string) {
	t.Helper()
	cs := st.ContainerStatuses[0]
	want := resource.MustParse(mem)
	if cs.Resources == nil || !cs.Resources.Limits.Memory().Equal(want) || !cs.Resources.Requests.Memory().Equal(want) {
		t.Errorf("containerStatuses[0].resources = %+v, want memory %s", cs.Resources, mem)
	}
	if got := cs.AllocatedResources[corev1.ResourceMemory]; !got.Equal(want) {
		t.Errorf("containerStatuses[0].allocatedResources = %v, want memory %s", cs.AllocatedResources, mem)
	}
	if !cs.AllocatedResources.Cpu().Equal(resource.MustParse("250m")) {
		t.Errorf("allocatedResources cpu = %v", cs.AllocatedResources.Cpu())
	}
}

// stillRunning checks the pod goes on as it was: Running and Ready.
func stillRunning(t *testing.T, st corev1.PodStatus) {
	t.Helper()
	if st.Phase != corev1.PodRunning || !st.ContainerStatuses[0].Ready || st.ContainerStatuses[0].State.Running == nil || st.ContainerStatuses[0].RestartCount != 0 {
		t.Errorf("phase %s, container %+v: a resize never stops the pod", st.Phase, st.ContainerStatuses[0])
	}
}

func TestResizeInRangeIsDeployedAndShownAsTheKubeletShowsIt(t *testing.T) {
	b := &resizingBackend{}
	p := newWatched(t, b)
	ctx := context.Background()
	pod := sized("512Mi")
	if err := p.CreatePod(ctx, pod); err != nil {
		t.Fatal(err)
	}
	st := p.last(t)
	runsWith(t, st, "512Mi")
	if st.ObservedGeneration != 1 {
		t.Errorf("observedGeneration = %d, want 1", st.ObservedGeneration)
	}
	p.events()
	p.mu.Lock()
	reports := len(p.out)
	p.mu.Unlock()

	if err := p.UpdatePod(ctx, resized(pod, "1Gi")); err != nil {
		t.Fatal(err)
	}
	if len(b.deployed) != 2 || b.deployed[1].MemoryMiB != 1024 {
		t.Fatalf("deploys %d (memory %v), want the function redeployed at 1024 MiB", len(b.deployed), b.deployed[len(b.deployed)-1].MemoryMiB)
	}
	p.mu.Lock()
	during := p.out[reports].Status
	p.mu.Unlock()
	if c := podCondition(during, corev1.PodResizeInProgress); c == nil || c.Status != corev1.ConditionTrue || c.ObservedGeneration != 2 {
		t.Errorf("while deploying: PodResizeInProgress = %+v", c)
	}
	runsWith(t, during, "512Mi") // not yet
	st = p.last(t)
	stillRunning(t, st)
	runsWith(t, st, "1Gi")
	if c := podCondition(st, corev1.PodResizeInProgress); c != nil {
		t.Errorf("PodResizeInProgress still set once deployed: %+v", c)
	}
	if c := podCondition(st, corev1.PodResizePending); c != nil {
		t.Errorf("PodResizePending = %+v", c)
	}
	if st.ObservedGeneration != 2 {
		t.Errorf("observedGeneration = %d, want 2", st.ObservedGeneration)
	}
	ev := p.events()
	if !strings.Contains(ev, "Normal ResizeStarted Pod resize started: app: requests cpu=250m memory=1Gi, limits memory=1Gi") ||
		!strings.Contains(ev, "Normal ResizeCompleted Pod resize completed: app: requests cpu=250m memory=1Gi") {
		t.Errorf("events:\n%s", ev)
	}

	// Handed in again as it is: nothing to do.
	if err := p.UpdatePod(ctx, resized(pod, "1Gi")); err != nil || len(b.deployed) != 2 {
		t.Errorf("UpdatePod again: %v, %d deploys", err, len(b.deployed))
	}
}

func TestResizeOutsideTheCloudsLimitsIsInfeasibleAndThePodRunsOn(t *testing.T) {
	b := &resizingBackend{}
	p := newWatched(t, b)
	ctx := context.Background()
	pod := sized("512Mi")
	if err := p.CreatePod(ctx, pod); err != nil {
		t.Fatal(err)
	}
	p.events()
	big := resized(pod, "20Gi")
	if err := p.UpdatePod(ctx, big); err != nil {
		t.Fatal(err)
	}
	if len(b.deployed) != 1 {
		t.Errorf("%d deploys: a resize the cloud cannot take is not deployed", len(b.deployed))
	}
	st := p.last(t)
	stillRunning(t, st)
	runsWith(t, st, "512Mi")
	c := podCondition(st, corev1.PodResizePending)
	if c == nil || c.Status != corev1.ConditionTrue || c.Reason != corev1.PodReasonInfeasible || c.ObservedGeneration != 2 ||
		!strings.Contains(c.Message, "spec.containers[0].resources.limits.memory") || !strings.Contains(c.Message, "10240 MiB") ||
		!strings.Contains(c.Message, "the function keeps 512 MiB") {
		t.Fatalf("PodResizePending = %+v", c)
	}
	if podCondition(st, corev1.PodResizeInProgress) != nil {
		t.Error("PodResizeInProgress set for a resize not applied")
	}
	if ev := p.events(); strings.Count(ev, "Warning ResizeInfeasible") != 1 || strings.Contains(ev, ReasonInvalidSpec) {
		t.Errorf("events:\n%s", ev)
	}

	// The same generation again (an annotation): decided, no new event.
	again := big.DeepCopy()
	again.Annotations = map[string]string{"example.com/note": "x"}
	if err := p.UpdatePod(ctx, again); err != nil || len(b.deployed) != 1 {
		t.Fatalf("UpdatePod again: %v, %d deploys", err, len(b.deployed))
	}
	if ev := p.events(); ev != "" {
		t.Errorf("events for the same resize again:\n%s", ev)
	}
	if c := podCondition(p.last(t), corev1.PodResizePending); c == nil || c.Reason != corev1.PodReasonInfeasible {
		t.Errorf("PodResizePending lost: %+v", c)
	}

	// A new image in the meantime is deployed at the size that runs.
	img := big.DeepCopy()
	img.Generation++
	img.Spec.Containers[0].Image = "example.com/hello:2"
	if err := p.UpdatePod(ctx, img); err != nil {
		t.Fatal(err)
	}
	if len(b.deployed) != 2 || b.deployed[1].Image != "example.com/hello:2" || b.deployed[1].MemoryMiB != 512 {
		t.Errorf("deploys %d, last %+v: the image at 512 MiB", len(b.deployed), b.deployed[len(b.deployed)-1])
	}
	st = p.last(t)
	stillRunning(t, st)
	runsWith(t, st, "512Mi")

	// Resized back to what runs: nothing pending.
	back := resized(img, "512Mi")
	if err := p.UpdatePod(ctx, back); err != nil {
		t.Fatal(err)
	}
	if c := podCondition(p.last(t), corev1.PodResizePending); c != nil {
		t.Errorf("PodResizePending after resizing back = %+v", c)
	}
}

func TestResizeTheCloudRefusesIsInfeasible(t *testing.T) {
	b := &resizingBackend{}
	b.deployFn = func(fn *translate.Function) (*translate.FunctionState, error) {
		if fn.MemoryMiB > 4096 {
			return nil, errdefs.InvalidInput(fmt.Sprintf("%s: the account allows at most 4096 MiB", fn.MemoryField))
		}
		return &translate.FunctionState{Name: fn.Name, Phase: translate.PhaseActive, Created: now}, nil
	}
	p := newWatched(t, b)
	ctx := context.Background()
	pod := sized("512Mi")
	if err := p.CreatePod(ctx, pod); err != nil {
		t.Fatal(err)
	}
	p.events()
	big := resized(pod, "8Gi")
	if err := p.UpdatePod(ctx, big); err != nil {
		t.Fatal(err)
	}
	st := p.last(t)
	stillRunning(t, st)
	runsWith(t, st, "512Mi")
	c := podCondition(st, corev1.PodResizePending)
	if c == nil || c.Reason != corev1.PodReasonInfeasible || !strings.Contains(c.Message, "spec.containers[0].resources.limits.memory") ||
		!strings.Contains(c.Message, "8192 MiB") || !strings.Contains(c.Message, "keeps 512 MiB") {
		t.Errorf("PodResizePending = %+v", c)
	}
	if podCondition(st, corev1.PodResizeInProgress) != nil {
		t.Error("PodResizeInProgress left set")
	}
	if ev := p.events(); !strings.Contains(ev, "at most 4096 MiB") || !strings.Contains(ev, "Warning ResizeInfeasible") {
		t.Errorf("events:\n%s", ev)
	}
	// The function runs the pod at its allocated size: the next update of
	// the same pod costs nothing.
	n := len(b.deployed)
	again := big.DeepCopy()
	again.Annotations = map[string]string{"example.com/note": "x"}
	if err := p.UpdatePod(ctx, again); err != nil || len(b.deployed) != n {
		t.Errorf("UpdatePod again: %v, %d deploys, want %d", err, len(b.deployed), n)
	}
	stillRunning(t, p.last(t))
}

func TestResizeOnABackendThatKeepsTheMemoryIsInfeasible(t *testing.T) {
	b := &fakeBackend{} // no MemoryResizer
	p := newWatched(t, Limit(b, Limits{}))
	ctx := context.Background()
	pod := sized("512Mi")
	if err := p.CreatePod(ctx, pod); err != nil {
		t.Fatal(err)
	}
	if err := p.UpdatePod(ctx, resized(pod, "1Gi")); err != nil {
		t.Fatal(err)
	}
	if len(b.deployed) != 1 {
		t.Errorf("%d deploys", len(b.deployed))
	}
	st := p.last(t)
	stillRunning(t, st)
	runsWith(t, st, "512Mi")
	c := podCondition(st, corev1.PodResizePending)
	if c == nil || c.Reason != corev1.PodReasonInfeasible ||
		c.Message != "spec.containers[0].resources.limits.memory: the fake backend does not change the memory of a function that exists; the function keeps 512 MiB" {
		t.Errorf("PodResizePending = %+v", c)
	}
}

func TestResizeOfWhatTheFunctionIsNotMadeOfIsAllocatedAtOnce(t *testing.T) {
	b := &fakeBackend{}
	p := newWatched(t, b)
	ctx := context.Background()
	pod := sized("512Mi")
	if err := p.CreatePod(ctx, pod); err != nil {
		t.Fatal(err)
	}
	cpu := pod.DeepCopy()
	cpu.Generation++
	cpu.Spec.Containers[0].Resources.Requests[corev1.ResourceCPU] = resource.MustParse("500m")
	if err := p.UpdatePod(ctx, cpu); err != nil {
		t.Fatal(err)
	}
	if len(b.deployed) != 1 {
		t.Errorf("%d deploys: the function is not made of the CPU request", len(b.deployed))
	}
	st := p.last(t)
	stillRunning(t, st)
	if got := st.ContainerStatuses[0].AllocatedResources[corev1.ResourceCPU]; got.String() != "500m" {
		t.Errorf("allocatedResources = %v", st.ContainerStatuses[0].AllocatedResources)
	}
	if podCondition(st, corev1.PodResizePending) != nil || podCondition(st, corev1.PodResizeInProgress) != nil {
		t.Errorf("conditions = %+v", st.Conditions)
	}
	if ev := p.events(); !strings.Contains(ev, "Normal ResizeCompleted") {
		t.Errorf("events:\n%s", ev)
	}
}

func TestResizeRetriedByTheCloudStaysInProgressUntilItIsDeployed(t *testing.T) {
	b := &resizingBackend{}
	var busy atomic.Bool
	b.deployFn = func(fn *translate.Function) (*translate.FunctionState, error) {
		if busy.Load() {
			return nil, Refused(ReasonCreateError, fmt.Errorf("function %s is being updated", fn.Name))
		}
		return &translate.FunctionState{Name: fn.Name, Phase: translate.PhaseActive, Created: now}, nil
	}
	var mu sync.Mutex
	clock := now
	p := newWatchedAt(t, b, func() time.Time { mu.Lock(); defer mu.Unlock(); return clock })
	ctx := context.Background()
	pod := sized("512Mi")
	if err := p.CreatePod(ctx, pod); err != nil {
		t.Fatal(err)
	}
	busy.Store(true)
	if err := p.UpdatePod(ctx, resized(pod, "1Gi")); err != nil {
		t.Fatal(err)
	}
	st := p.last(t)
	stillRunning(t, st)
	runsWith(t, st, "512Mi")
	c := podCondition(st, corev1.PodResizeInProgress)
	if c == nil || c.Reason != corev1.PodReasonError || !strings.Contains(c.Message, "tried again") {
		t.Errorf("PodResizeInProgress = %+v", c)
	}
	if podCondition(st, corev1.PodResizePending) != nil {
		t.Error("a resize tried again is not Infeasible")
	}
	p.events()

	// The cloud takes it at the retry, the kubelet's backoff later.
	busy.Store(false)
	mu.Lock()
	clock = clock.Add(retryFirst)
	mu.Unlock()
	p.poll(ctx).Wait()
	st = p.last(t)
	stillRunning(t, st)
	runsWith(t, st, "1Gi")
	if c := podCondition(st, corev1.PodResizeInProgress); c != nil {
		t.Errorf("PodResizeInProgress = %+v once deployed", c)
	}
	if ev := p.events(); !strings.Contains(ev, "Normal ResizeCompleted Pod resize completed: app: requests cpu=250m memory=1Gi") {
		t.Errorf("events:\n%s", ev)
	}
	if last := b.deployed[len(b.deployed)-1]; last.MemoryMiB != 1024 {
		t.Errorf("retried with %d MiB", last.MemoryMiB)
	}
}
