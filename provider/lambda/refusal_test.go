package lambda

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	corev1 "k8s.io/api/core/v1"

	emu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/lambda"
	"github.com/faas-kubelet/faas-kubelet/provider"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

const defaultRole = "arn:aws:iam::123456789012:role/fn"

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newClock() *clock { return &clock{t: time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)} }

// wantRefused checks that err is a healable refusal with reason, showing
// Lambda's words, and never a spec error.
func wantRefused(t *testing.T, err error, reason string, words ...string) {
	t.Helper()
	failure, got := provider.Classify(err)
	if failure != provider.FailureHealable || got != reason {
		t.Fatalf("err = %v: classified %v %q, want healable %q", err, failure, got, reason)
	}
	if errdefs.IsInvalidInput(err) {
		t.Errorf("err = %v is InvalidInput: the pod would fail for good", err)
	}
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("err = %q, want it to say %q", err, w)
		}
	}
}

// A role Lambda cannot assume yet keeps the pod waiting with
// FunctionRoleError; once the role exists, the next Deploy creates it.
func TestRoleNotAssumableWaitsForTheRole(t *testing.T) {
	b, s := setup(t, emu.DefaultSecretKey, emu.Options{})
	ctx := context.Background()
	fn := function(t, ecr, nil)
	s.SetRefusals(emu.Refusals{Roles: []string{defaultRole}})
	_, err := b.Deploy(ctx, fn)
	wantRefused(t, err, provider.ReasonRoleError,
		"InvalidParameterValueException: The role defined for the function cannot be assumed by Lambda.", "(role "+defaultRole+")")
	s.SetRefusals(emu.Refusals{})
	if st, err := b.Deploy(ctx, fn); err != nil || st.Phase == translate.PhaseFailed {
		t.Fatalf("deploy once the role exists: %+v %v", st, err)
	}
}

// An image that was never pushed keeps the pod waiting with
// FunctionImageError, on create and on an image update.
func TestMissingImageWaitsForThePush(t *testing.T) {
	clk := newClock()
	b, s := setup(t, emu.DefaultSecretKey, emu.Options{Now: clk.Now})
	ctx := context.Background()
	s.SetRefusals(emu.Refusals{Images: []string{ecr}})
	_, err := b.Deploy(ctx, function(t, ecr, nil))
	wantRefused(t, err, provider.ReasonImageError, "Source image "+ecr+" does not exist. Provide a valid source image.")
	s.SetRefusals(emu.Refusals{})
	if _, err := b.Deploy(ctx, function(t, ecr, nil)); err != nil {
		t.Fatalf("deploy once the image is pushed: %v", err)
	}

	next := strings.Replace(ecr, ":1", ":2", 1)
	s.SetRefusals(emu.Refusals{Images: []string{next}})
	unsealFirst(t, b, function(t, next, nil), clk)
	_, err = b.Deploy(ctx, function(t, next, nil))
	wantRefused(t, err, provider.ReasonImageError, "lambda UpdateFunctionCode", next+" does not exist")
	s.SetRefusals(emu.Refusals{})
	if st, err := b.Deploy(ctx, function(t, next, nil)); err != nil || st.Phase != translate.PhaseActive {
		t.Fatalf("image update once pushed: %+v %v", st, err)
	}
}

// An account out of code storage keeps the pod waiting with
// FunctionQuotaExceeded, and so does a reserved concurrency the account
// cannot spare.
func TestAccountQuotaWaitsForRoom(t *testing.T) {
	b, s := setup(t, emu.DefaultSecretKey, emu.Options{})
	ctx := context.Background()
	s.SetRefusals(emu.Refusals{QuotaExceeded: true})
	_, err := b.Deploy(ctx, function(t, ecr, nil))
	wantRefused(t, err, provider.ReasonQuotaExceeded, "CodeStorageExceededException: Code storage limit exceeded.")
	s.SetRefusals(emu.Refusals{})

	greedy := function(t, ecr, func(p *corev1.Pod) { p.Annotations = map[string]string{AnnotationConcurrency: "950"} })
	_, err = b.Deploy(ctx, greedy)
	wantRefused(t, err, provider.ReasonQuotaExceeded, "lambda PutFunctionConcurrency", "UnreservedConcurrentExecution below its minimum value")
}

// What Lambda refuses without saying why is healable, never a spec error;
// throttling and server errors stay transient.
func TestUnclearRefusalsAreHealable(t *testing.T) {
	b, s := setup(t, emu.DefaultSecretKey, emu.Options{})
	ctx := context.Background()
	for _, f := range []emu.Fault{
		{Op: "CreateFunction", Status: 400, Code: "InvalidParameterValueException", Count: 1},
		{Op: "CreateFunction", Status: 403, Code: "AccessDeniedException", Count: 1},
		{Op: "CreateFunction", Status: 400, Code: "InvalidRequestContentException", Count: 1},
	} {
		s.Inject(f)
		_, err := b.Deploy(ctx, function(t, ecr, nil))
		wantRefused(t, err, provider.ReasonCreateError, f.Code+": injected fault for CreateFunction")
	}
	s.Inject(emu.Fault{Op: "CreateFunction", Status: 503, Count: 1})
	if _, err := b.Deploy(ctx, function(t, ecr, nil)); func() provider.Failure { f, _ := provider.Classify(err); return f }() != provider.FailureTransient {
		t.Errorf("503: %v, want transient", err)
	}
}

// Outside Deploy a malformed request stays InvalidInput: kubectl exec with
// a payload Lambda refuses gets 400 from the kubelet API.
func TestInvokeRefusalIsInvalidInput(t *testing.T) {
	b, s := setup(t, emu.DefaultSecretKey, emu.Options{})
	ctx := context.Background()
	fn := function(t, ecr, nil)
	if _, err := b.Deploy(ctx, fn); err != nil {
		t.Fatal(err)
	}
	for _, f := range []emu.Fault{
		{Op: "Invoke", Status: 400, Code: "InvalidRequestContentException", Count: 1},
		{Op: "Invoke", Status: 413, Code: "RequestTooLargeException", Count: 1},
	} {
		s.Inject(f)
		if _, err := b.Invoke(ctx, fn.Name, []byte(`{}`)); !errdefs.IsInvalidInput(err) || !strings.Contains(err.Error(), f.Code) {
			t.Errorf("%s: %v, want InvalidInput", f.Code, err)
		}
	}
}

// A function Lambda reports Failed for a reason outside the pod (here the
// ECR image's permissions) keeps the pod waiting with FunctionImageError,
// and the next Deploy deletes it and creates it again.
func TestFailedFunctionIsCreatedAgain(t *testing.T) {
	b, s := setup(t, emu.DefaultSecretKey, emu.Options{})
	ctx := context.Background()
	denied := function(t, strings.Replace(ecr, ":1", ":fail-create", 1), nil)
	st, err := b.Deploy(ctx, denied)
	if err != nil || st.Phase != translate.PhaseFailed || st.Reason != provider.ReasonImageError ||
		!strings.HasPrefix(st.Message, "ImageAccessDenied: Lambda does not have permission to access the ECR image.") {
		t.Fatalf("deploy: %+v %v", st, err)
	}
	if got, err := b.Get(ctx, denied.Name); err != nil || got.Phase != translate.PhaseFailed || got.Reason != provider.ReasonImageError {
		t.Errorf("get: %+v %v", got, err)
	}
	if _, err := b.Deploy(ctx, denied); err != nil || s.Calls()["DeleteFunction"] != 1 || s.Calls()["CreateFunction"] != 3 {
		t.Fatalf("retried deploy: %v, calls %v (want a delete and a new create)", err, s.Calls())
	}
	fixed := function(t, ecr, nil) // the same pod, its image fixed
	st, err = b.Deploy(ctx, fixed)
	if err != nil || st.Phase == translate.PhaseFailed || len(st.Notes) != 1 || !strings.Contains(st.Notes[0], "created again") {
		t.Fatalf("deploy of the fixed pod: %+v %v", st, err)
	}
	if got, err := b.Get(ctx, fixed.Name); err != nil || got.Phase != translate.PhaseActive || got.Tags[translate.TagPodUID] != "uid-1" {
		t.Errorf("after the new create: %+v %v", got, err)
	}
}

func TestFailureReasons(t *testing.T) {
	for code, want := range map[string]string{
		"ImageDeleted":                          provider.ReasonImageError,
		"ImageAccessDenied":                     provider.ReasonImageError,
		"InvalidImage":                          provider.ReasonImageError,
		"InsufficientRolePermissions":           provider.ReasonRoleError,
		"EniLimitExceeded":                      provider.ReasonQuotaExceeded,
		"SubnetOutOfIPAddresses":                provider.ReasonQuotaExceeded,
		"ServiceQuotaExceededException":         provider.ReasonQuotaExceeded,
		"InvalidSubnet":                         provider.ReasonConfigError,
		"KMSKeyNotFound":                        provider.ReasonConfigError,
		"EFSMountTimeout":                       provider.ReasonConfigError,
		"InternalError":                         provider.ReasonCreateError,
		"SomethingNew":                          provider.ReasonCreateError,
		"FunctionError.InvalidEntryPoint":       "FunctionError.InvalidEntryPoint",
		"FunctionError.InvalidWorkingDirectory": "FunctionError.InvalidWorkingDirectory",
		"InvalidRuntime":                        "InvalidRuntime",
	} {
		if got := failureReason(code); got != want {
			t.Errorf("failureReason(%s) = %s, want %s", code, got, want)
		}
		if imagesFault := want == code; provider.IsRetriedReason(want) == imagesFault {
			t.Errorf("provider.IsRetriedReason(%s) = %v; the image's own faults fail the pod, the rest wait", want, provider.IsRetriedReason(want))
		}
	}
}

// A Secret or ConfigMap change updates the configuration without taking
// Ready away: Lambda serves the previous configuration until the update
// completes. A second change while it rolls in is retried once it has.
func TestUpdatesKeepTheFunctionActive(t *testing.T) {
	clk := newClock()
	b, s := setup(t, emu.DefaultSecretKey, emu.Options{UpdateDelay: 2 * time.Second, Now: clk.Now})
	ctx := context.Background()
	withEnv := func(v string) *translate.Function {
		return function(t, ecr, func(p *corev1.Pod) { p.Spec.Containers[0].Env = []corev1.EnvVar{{Name: "DB_PASSWORD", Value: v}} })
	}
	if st, err := b.Deploy(ctx, withEnv("one")); err != nil || st.Phase != translate.PhaseActive || len(st.Notes) != 0 {
		t.Fatalf("create: %+v %v", st, err)
	}
	st, err := b.Deploy(ctx, withEnv("two"))
	if err != nil || st.Phase != translate.PhaseActive || len(st.Notes) != 1 || st.Notes[0] != noteUpdating {
		t.Fatalf("env update: %+v %v, want Active with the note %q", st, err, noteUpdating)
	}
	if got, err := b.Get(ctx, st.Name); err != nil || got.Phase != translate.PhaseActive {
		t.Errorf("get during the update: %+v %v", got, err)
	}

	_, err = b.Deploy(ctx, withEnv("three"))
	if failure, _ := provider.Classify(err); failure != provider.FailureTransient || s.Calls()["UpdateFunctionConfiguration"] != 1 {
		t.Fatalf("second change during the update: %v (%v), calls %v; want transient and no 409", err, failure, s.Calls())
	}
	clk.Advance(2 * time.Second)
	if st, err := b.Deploy(ctx, withEnv("three")); err != nil || st.Phase != translate.PhaseActive || s.Calls()["UpdateFunctionConfiguration"] != 2 {
		t.Fatalf("the retry once the update completed: %+v %v calls %v", st, err, s.Calls())
	}

	// Lambda's own 409 (an update that started elsewhere) is transient too.
	clk.Advance(2 * time.Second)
	s.Inject(emu.Fault{Op: "UpdateFunctionConfiguration", Status: 409, Code: "ResourceConflictException", Count: 1})
	if _, err := b.Deploy(ctx, withEnv("four")); func() provider.Failure { f, _ := provider.Classify(err); return f }() != provider.FailureTransient {
		t.Errorf("409 from UpdateFunctionConfiguration: %v, want transient", err)
	}
}

// An update that fails leaves the previous code serving: the function stays
// Active and a note says why the new image is not in.
func TestFailedUpdateKeepsTheFunctionActive(t *testing.T) {
	clk := newClock()
	b, _ := setup(t, emu.DefaultSecretKey, emu.Options{UpdateDelay: time.Second, Now: clk.Now})
	ctx := context.Background()
	if _, err := b.Deploy(ctx, function(t, ecr, nil)); err != nil {
		t.Fatal(err)
	}
	denied := function(t, strings.Replace(ecr, ":1", ":fail-create", 1), nil)
	unsealFirst(t, b, denied, clk)
	if st, err := b.Deploy(ctx, denied); err != nil || st.Phase != translate.PhaseActive {
		t.Fatalf("image update: %+v %v", st, err)
	}
	clk.Advance(time.Second)
	got, err := b.Get(ctx, denied.Name)
	if err != nil || got.Phase != translate.PhaseActive || got.Reason != "" || len(got.Notes) != 1 ||
		!strings.Contains(got.Notes[0], "the previous configuration still serves: ImageAccessDenied: Lambda does not have permission") {
		t.Fatalf("after the failed update: %+v %v", got, err)
	}
	if !strings.Contains(got.ImageID, "hello@sha256:") {
		t.Errorf("image %s, want the previous image's digest", got.ImageID)
	}
}

// An image pushed as a multi-architecture index is one Lambda does not run
// (it runs a single architecture's image): the pod waits with
// FunctionImageError until an image of one architecture is pushed under
// the tag.
func TestMultiArchitectureIndexWaitsForASingleArchitectureImage(t *testing.T) {
	b, s := setup(t, emu.DefaultSecretKey, emu.Options{})
	ctx := context.Background()
	s.SetRefusals(emu.Refusals{Indexes: []string{ecr}})
	_, err := b.Deploy(ctx, function(t, ecr, nil))
	wantRefused(t, err, provider.ReasonImageError, "The image manifest, config or layer media type for the source image "+ecr+" is not supported.")
	s.SetRefusals(emu.Refusals{})
	if _, err := b.Deploy(ctx, function(t, ecr, nil)); err != nil {
		t.Fatalf("deploy once a single-architecture image is pushed: %v", err)
	}
}
