package alibaba

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	fc "github.com/alibabacloud-go/fc-open-20210406/v2/client"
	util "github.com/alibabacloud-go/tea-utils/v2/service"
	"github.com/alibabacloud-go/tea/tea"
	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	corev1 "k8s.io/api/core/v1"

	emu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/alibaba"
	"github.com/faas-kubelet/faas-kubelet/provider"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

const (
	untrustedRole = "acs:ram::" + emu.DefaultAccountID + ":role/not-trusting-fc"
	missingImage  = "registry.cn-hangzhou.aliyuncs.com/shop/missing:1"
)

// wantRefused checks that err is a healable refusal with reason whose text
// carries FC's words, and no spec error.
func wantRefused(t *testing.T, what string, err error, reason, words string) {
	t.Helper()
	class, got := provider.Classify(err)
	if class != provider.FailureHealable || got != reason || errdefs.IsInvalidInput(err) || !strings.Contains(err.Error(), words) {
		t.Errorf("%s: %v classified %v %s, want healable %s with %q", what, err, class, got, reason, words)
	}
}

// resources counts what exists of fn in the cloud: services this node owns
// and functions in fn's service.
func (e *env) resources(t *testing.T, name string) (services, functions int) {
	t.Helper()
	list, err := e.b.List(context.Background(), "vk-fc")
	if err != nil {
		t.Fatal(err)
	}
	out, err := e.fc.ListFunctionsWithOptions(tea.String(name), &fc.ListFunctionsRequest{}, &fc.ListFunctionsHeaders{}, &util.RuntimeOptions{})
	if err == nil {
		functions = len(out.Body.Functions)
	}
	return len(list), functions
}

// Each refusal the cloud can heal leaves the pod waiting with its reason
// and FC's message; a retry while it holds makes nothing twice, and the
// first retry after it is removed completes one service with one function.
func TestRefusalsCarryTheirReasonAndHealOnRetry(t *testing.T) {
	for _, c := range []struct {
		name     string
		refusals emu.Refusals
		pod      func(*corev1.Pod)
		reason   string
		words    string
		services int // what is left while the pod waits
	}{
		{"role", emu.Refusals{Roles: []string{untrustedRole}},
			func(p *corev1.Pod) { p.Annotations = map[string]string{AnnotationRole: untrustedRole} },
			provider.ReasonRoleError, "AccessDenied: No permission to assume the role '" + untrustedRole + "' for you (HTTP 403)", 0},
		{"image", emu.Refusals{Images: []string{missingImage}},
			func(p *corev1.Pod) { p.Spec.Containers[0].Image = missingImage },
			provider.ReasonImageError, "InvalidArgument: failed to get the manifest of image '" + missingImage + "'", 1},
		{"quota", emu.Refusals{QuotaExceeded: true}, nil,
			provider.ReasonQuotaExceeded, "LimitExceededError: the number of services exceeds the limit", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := setup(t, emu.DefaultAccessKeySecret)
			ctx := context.Background()
			e.s.SetRefusals(c.refusals)
			fn := function(t, image, c.pod)
			for attempt := 1; attempt <= 2; attempt++ {
				_, err := e.b.Deploy(ctx, fn)
				wantRefused(t, c.name, err, c.reason, c.words)
				if s, f := e.resources(t, fn.Name); s != c.services || f != 0 {
					t.Errorf("attempt %d left %d services and %d functions, want %d and 0", attempt, s, f, c.services)
				}
			}
			e.s.SetRefusals(emu.Refusals{})
			st, err := e.b.Deploy(ctx, fn)
			if err != nil || st.Phase != translate.PhaseActive || st.Tags[translate.TagPodUID] != "uid-1" {
				t.Fatalf("deploy after the refusal was removed: %+v %v", st, err)
			}
			if s, f := e.resources(t, fn.Name); s != 1 || f != 1 {
				t.Errorf("after healing: %d services and %d functions, want one of each", s, f)
			}
			if tags := e.tags(t, fn.Name); tags[translate.TagPodUID] != "uid-1" {
				t.Errorf("tags after healing: %v", tags)
			}
		})
	}
}

// A limit reached after the service was made refuses the function; the
// retry adopts the service rather than tripping over it.
func TestQuotaOfFunctionsAfterTheServiceWasMade(t *testing.T) {
	e := setup(t, emu.DefaultAccessKeySecret)
	ctx := context.Background()
	fn := function(t, missingImage, nil)
	e.s.SetRefusals(emu.Refusals{Images: []string{missingImage}})
	_, err := e.b.Deploy(ctx, fn)
	wantRefused(t, "image", err, provider.ReasonImageError, missingImage)
	e.s.SetRefusals(emu.Refusals{QuotaExceeded: true})
	_, err = e.b.Deploy(ctx, fn)
	wantRefused(t, "quota", err, provider.ReasonQuotaExceeded, "the number of functions exceeds the limit")
	e.s.SetRefusals(emu.Refusals{})
	if _, err := e.b.Deploy(ctx, fn); err != nil {
		t.Fatal(err)
	}
	if s, f := e.resources(t, fn.Name); s != 1 || f != 1 {
		t.Errorf("%d services and %d functions, want one of each", s, f)
	}
	if n := e.s.Calls()["TagResource"]; n != 1 {
		t.Errorf("TagResource calls = %d, want 1: the adopted service keeps its tags", n)
	}
}

// A pod deleted while it waits (its service made, its function refused)
// leaves nothing in the cloud.
func TestDeletingAWaitingPodLeavesNothing(t *testing.T) {
	e := setup(t, emu.DefaultAccessKeySecret)
	ctx := context.Background()
	e.s.SetRefusals(emu.Refusals{Images: []string{missingImage}})
	fn := function(t, missingImage, nil)
	if _, err := e.b.Deploy(ctx, fn); err == nil {
		t.Fatal("the missing image was accepted")
	}
	if s, _ := e.resources(t, fn.Name); s != 1 {
		t.Fatalf("%d services while waiting, want the one made before the refusal", s)
	}
	if err := e.b.Delete(ctx, fn.Name); err != nil {
		t.Fatal(err)
	}
	if s, _ := e.resources(t, fn.Name); s != 0 {
		t.Errorf("%d services after delete", s)
	}
	if _, err := e.fc.GetServiceWithOptions(tea.String(fn.Name), &fc.GetServiceRequest{}, &fc.GetServiceHeaders{}, &util.RuntimeOptions{}); err == nil {
		t.Error("the service outlived its pod")
	}
}

// What FC refuses without saying why is retried with
// FunctionCreateError, never a spec error; outside Deploy a request FC
// refuses is still invalid input.
func TestUnclassifiedRefusalsAreNotSpecErrors(t *testing.T) {
	ctx := context.Background()
	for _, f := range []emu.Fault{
		{Op: "CreateService", Status: http.StatusForbidden, Code: "AccessDenied", Count: 1},
		{Op: "CreateFunction", Status: http.StatusBadRequest, Code: "InvalidArgument", Count: 1},
		{Op: "TagResource", Status: http.StatusConflict, Code: "ConcurrentUpdateError", Count: 1},
		{Op: "CreateTrigger", Status: http.StatusBadRequest, Code: "InvalidArgument", Count: 1},
	} {
		e := setup(t, emu.DefaultAccessKeySecret)
		fn := function(t, image, func(p *corev1.Pod) { p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 8080}} })
		e.s.Inject(f)
		_, err := e.b.Deploy(ctx, fn)
		if class, reason := provider.Classify(err); class != provider.FailureHealable || reason != provider.ReasonCreateError || errdefs.IsInvalidInput(err) ||
			!strings.Contains(err.Error(), f.Code) {
			t.Errorf("%s %d %s: %v classified %v %s", f.Op, f.Status, f.Code, err, class, reason)
		}
		if _, err := e.b.Deploy(ctx, fn); err != nil {
			t.Errorf("retry after %s %d: %v", f.Op, f.Status, err)
		}
		if s, n := e.resources(t, fn.Name); s != 1 || n != 1 {
			t.Errorf("after %s %d: %d services and %d functions", f.Op, f.Status, s, n)
		}
		if f.Op == "CreateFunction" {
			if _, err := e.b.InvokeAsync(ctx, fn.Name, make([]byte, 200<<10)); !errdefs.IsInvalidInput(err) {
				t.Errorf("an oversized asynchronous payload: %v, want invalid input", err)
			}
		}
	}
}

// An update (a Secret or ConfigMap behind the env changed, or the image)
// keeps the function Active: FC 2.0 updates it in place and it goes on
// serving; a note says the update is rolling in.
func TestUpdatesKeepTheFunctionActive(t *testing.T) {
	e := setupWith(t, emu.DefaultAccessKeySecret, emu.Options{AccelerationDelay: time.Hour})
	ctx := context.Background()
	if _, err := e.b.Deploy(ctx, function(t, image, nil)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what string
		fn   *translate.Function
	}{
		{"env", function(t, image, func(p *corev1.Pod) { p.Spec.Containers[0].Env[0].Value = "rotated" })},
		{"image", function(t, strings.Replace(image, ":1", ":2", 1), func(p *corev1.Pod) { p.Spec.Containers[0].Env[0].Value = "rotated" })},
	} {
		st, err := e.b.Deploy(ctx, c.fn)
		if err != nil || st.Phase != translate.PhaseActive || len(st.Notes) != 1 || !strings.Contains(st.Notes[0], "updated in place") {
			t.Fatalf("%s update: %+v %v", c.what, st, err)
		}
		got, err := e.b.Get(ctx, c.fn.Name)
		if err != nil || got.Phase != translate.PhaseActive || got.ImageID != c.fn.Image {
			t.Errorf("get after the %s update: %+v %v", c.what, got, err)
		}
	}
	name := function(t, image, nil).Name
	cur, err := e.fc.GetFunctionWithOptions(tea.String(name), tea.String(name), &fc.GetFunctionRequest{}, &fc.GetFunctionHeaders{}, &util.RuntimeOptions{})
	if err != nil || tea.StringValue(cur.Body.EnvironmentVariables["GREETING"]) != "rotated" {
		t.Errorf("the function's env after the update: %v %v", cur, err)
	}
	if n := e.s.Calls()["UpdateFunction"]; n != 2 {
		t.Errorf("UpdateFunction calls = %d, want 2", n)
	}
	// Deploying it again as it is changes nothing and says nothing.
	st, err := e.b.Deploy(ctx, function(t, strings.Replace(image, ":1", ":2", 1), func(p *corev1.Pod) { p.Spec.Containers[0].Env[0].Value = "rotated" }))
	if err != nil || st.Phase != translate.PhaseActive || len(st.Notes) != 0 || e.s.Calls()["UpdateFunction"] != 2 {
		t.Errorf("unchanged redeploy: %+v %v", st, err)
	}
}
