package azure

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/appservice/armappservice/v4"
	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	corev1 "k8s.io/api/core/v1"

	emu "github.com/faas-kubelet/faas-kubelet/pkg/emulator/azure"
	"github.com/faas-kubelet/faas-kubelet/provider"
	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// refused asserts that err is a healable refusal with reason whose text
// carries each of want, and never a spec error.
func refused(t *testing.T, err error, reason string, want ...string) {
	t.Helper()
	if errdefs.IsInvalidInput(err) {
		t.Errorf("a cloud's refusal is a spec error: %v", err)
	}
	class, got := provider.Classify(err)
	if class != provider.FailureHealable || got != reason {
		t.Errorf("Classify(%v) = %v %s, want healable %s", err, class, got, reason)
	}
	for _, w := range want {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
}

func TestMissingPlanIsAConfigErrorUntilItExists(t *testing.T) {
	b, s := setup(t, emu.DefaultToken, emu.Options{})
	ctx := context.Background()
	fn := function(t, image, nil)
	s.SetRefusals(emu.Refusals{Plans: []string{strings.ToUpper(b.opts.ServerFarmID)}})
	_, err := b.Deploy(ctx, fn)
	refused(t, err, provider.ReasonConfigError, "azure CreateOrUpdate: NotFound: Cannot find ServerFarm with name plan. (HTTP 404)")
	if errdefs.IsNotFound(err) {
		t.Errorf("a missing plan reads as a missing app: %v", err)
	}
	s.SetRefusals(emu.Refusals{})
	if st, err := b.Deploy(ctx, fn); err != nil || st.Phase != translate.PhaseActive {
		t.Errorf("deploy once the plan exists: %+v %v", st, err)
	}
}

func TestFullPlanIsQuotaExceeded(t *testing.T) {
	b, s := setup(t, emu.DefaultToken, emu.Options{})
	ctx := context.Background()
	existing := function(t, image, nil)
	if _, err := b.Deploy(ctx, existing); err != nil {
		t.Fatal(err)
	}
	s.SetRefusals(emu.Refusals{QuotaExceeded: true})
	fresh := function(t, image, func(p *corev1.Pod) { p.Name, p.UID = "second", "uid-2" })
	_, err := b.Deploy(ctx, fresh)
	refused(t, err, provider.ReasonQuotaExceeded, "Conflict: Cannot complete the operation because the site will exceed the number of slots allowed for the 'Dynamic' SKU. (HTTP 409)")
	// The plan refuses new apps only: an update of one it holds goes on.
	existing.Image = "myregistry.azurecr.io/hello:2"
	if st, err := b.Deploy(ctx, existing); err != nil || st.Phase != translate.PhaseActive {
		t.Errorf("update on a full plan: %+v %v", st, err)
	}
	s.SetRefusals(emu.Refusals{})
	if st, err := b.Deploy(ctx, fresh); err != nil || st.Phase != translate.PhaseActive {
		t.Errorf("deploy once the plan has room: %+v %v", st, err)
	}
}

// The backend names no user-assigned identity today; a site that does
// (through the same SDK client) is refused with FailedIdentityOperation,
// which is a role error.
func TestMissingIdentityIsARoleError(t *testing.T) {
	b, s := setup(t, emu.DefaultToken, emu.Options{})
	id := "/subscriptions/" + emu.DefaultSubscription + "/resourceGroups/rg-functions/providers/Microsoft.ManagedIdentity/userAssignedIdentities/fn"
	s.SetRefusals(emu.Refusals{Roles: []string{id}})
	site, err := siteFor(function(t, image, nil), &b.opts)
	if err != nil {
		t.Fatal(err)
	}
	site.Identity = &armappservice.ManagedServiceIdentity{Type: to.Ptr(armappservice.ManagedServiceIdentityTypeUserAssigned),
		UserAssignedIdentities: map[string]*armappservice.UserAssignedIdentity{id: {}}}
	_, err = b.api.BeginCreateOrUpdate(context.Background(), b.opts.ResourceGroup, "with-identity", site, nil)
	refused(t, deployError("CreateOrUpdate", err), provider.ReasonRoleError,
		"FailedIdentityOperation: Identity operation for resource", "Status: 'NotFound'", id, "(HTTP 400)")
}

// As on Azure, an image that does not exist is found out after the app is
// created: the app stops, its docker log says why, and the pod sees
// FunctionImageError until the image is pushed and the app deployed again.
func TestMissingImageFailsTheCreatedAppUntilPushed(t *testing.T) {
	b, s := setup(t, emu.DefaultToken, emu.Options{ProvisionDelay: 200 * time.Millisecond})
	ctx := context.Background()
	fn := function(t, image, nil)
	s.SetRefusals(emu.Refusals{Images: []string{image}})
	if st, err := b.Deploy(ctx, fn); err != nil || st.Phase != translate.PhasePending {
		t.Fatalf("deploy: %+v %v", st, err)
	}
	st := waitPhase(t, b, fn.Name, translate.PhaseFailed)
	if st.Reason != provider.ReasonImageError || !strings.Contains(st.Message, "manifest for "+image+" not found: manifest unknown") {
		t.Errorf("failed state = %+v", st)
	}
	// A later read (a restart, the status tracker) finds the same.
	if again, err := b.Get(ctx, fn.Name); err != nil || again.Phase != translate.PhaseFailed || again.Reason != provider.ReasonImageError {
		t.Errorf("second read: %+v %v", again, err)
	}
	// The kubelet deploys again with backoff: still missing, then pushed.
	if st, err := b.Deploy(ctx, fn); err != nil || st.Phase != translate.PhasePending {
		t.Fatalf("redeploy: %+v %v", st, err)
	}
	waitPhase(t, b, fn.Name, translate.PhaseFailed)
	s.SetRefusals(emu.Refusals{})
	if _, err := b.Deploy(ctx, fn); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, b, fn.Name, translate.PhaseActive)
	if puts := s.Calls()["CreateOrUpdate"]; puts != 3 {
		t.Errorf("%d PUTs, want 3 (create, retry, retry once pushed)", puts)
	}
}

// A registry credential the registry rejects fails the pull the same way;
// the password is shown nowhere.
func TestRejectedRegistryCredentialIsAnImageErrorWithoutThePassword(t *testing.T) {
	b, s := setup(t, emu.DefaultToken, emu.Options{})
	b.opts.RegistryServer, b.opts.RegistryUsername, b.opts.RegistryPassword = "myregistry.azurecr.io", "puller", "s3cret-registry-pw"
	ctx := context.Background()
	fn := function(t, image, nil)
	s.SetRefusals(emu.Refusals{Roles: []string{"puller"}})
	st, err := b.Deploy(ctx, fn)
	if err != nil || st.Phase != translate.PhaseFailed || st.Reason != provider.ReasonImageError ||
		!strings.Contains(st.Message, "Get https://myregistry.azurecr.io/v2/hello/manifests/1: unauthorized: authentication required") {
		t.Fatalf("deploy: %+v %v", st, err)
	}
	if strings.Contains(st.Message, "s3cret") {
		t.Errorf("the registry password is shown: %s", st.Message)
	}
	s.SetRefusals(emu.Refusals{})
	if st, err := b.Deploy(ctx, fn); err != nil || st.Phase != translate.PhaseActive {
		t.Errorf("deploy once the credential is fixed: %+v %v", st, err)
	}
}

// A 400, 403 or 409 the backend cannot read is a healable refusal
// (FunctionCreateError) with the cloud's message, never a spec error;
// throttling stays transient.
func TestUnknownRefusalsAreNotSpecErrors(t *testing.T) {
	for _, f := range []emu.Fault{
		{Op: "CreateOrUpdate", Status: http.StatusBadRequest, Code: "BadRequest", Count: 1},
		{Op: "CreateOrUpdate", Status: http.StatusForbidden, Code: "AuthorizationFailed", Count: 1},
		{Op: "CreateOrUpdate", Status: http.StatusConflict, Code: "Conflict", Count: 1},
		{Op: "Get", Status: http.StatusBadRequest, Code: "BadRequest", Count: 1},
	} {
		b, s := setup(t, emu.DefaultToken, emu.Options{})
		s.Inject(f)
		_, err := b.Deploy(context.Background(), function(t, image, nil))
		refused(t, err, provider.ReasonCreateError, f.Code+": injected fault for "+f.Op)
	}
	b, s := setup(t, emu.DefaultToken, emu.Options{})
	s.Inject(emu.Fault{Op: "CreateOrUpdate", Status: http.StatusTooManyRequests, Count: 1})
	_, err := b.Deploy(context.Background(), function(t, image, nil))
	var transient *provider.TransientError
	if !errors.As(err, &transient) {
		t.Errorf("429: %v", err)
	}
}

// An update (a new image, or new settings when a Secret changed) keeps a
// serving app Active, as App Service keeps the running version until the
// new one is deployed; a note says the update is rolling in.
func TestUpdateKeepsTheAppActive(t *testing.T) {
	b, s := setup(t, emu.DefaultToken, emu.Options{ProvisionDelay: 300 * time.Millisecond})
	ctx := context.Background()
	fn := function(t, image, nil)
	if _, err := b.Deploy(ctx, fn); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, b, fn.Name, translate.PhaseActive)
	puts := s.Calls()["CreateOrUpdate"]

	fn.Env["GREETING"] = "hello"
	st, err := b.Deploy(ctx, fn)
	if err != nil || st.Phase != translate.PhaseActive || len(st.Notes) != 1 || !strings.Contains(st.Notes[0], "application settings updated") {
		t.Fatalf("settings update: %+v %v", st, err)
	}
	if s.Calls()["CreateOrUpdate"] != puts || s.Calls()["UpdateApplicationSettings"] != 1 {
		t.Errorf("a settings change made %v calls, want one settings update and no PUT", s.Calls())
	}

	const next = "myregistry.azurecr.io/hello:2"
	fn.Image = next
	st, err = b.Deploy(ctx, fn)
	if err != nil || st.Phase != translate.PhaseActive || st.ImageID != "DOCKER|"+image || len(st.Notes) != 1 || !strings.Contains(st.Notes[0], "is being updated to DOCKER|"+next) {
		t.Fatalf("image update: %+v %v", st, err)
	}
	if got, err := b.Get(ctx, fn.Name); err != nil || got.Phase != translate.PhaseActive {
		t.Errorf("read while the update deploys: %+v %v", got, err)
	}
	if listed, err := b.List(ctx, "vk-azure"); err != nil || len(listed) != 1 || listed[0].Phase != translate.PhaseActive {
		t.Errorf("listed while the update deploys: %+v %v", listed, err)
	}
	if inv, err := b.Invoke(ctx, fn.Name, []byte(`{}`)); err != nil || inv.FunctionError != "" {
		t.Errorf("invoke while the update deploys: %+v %v", inv, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := b.Get(ctx, fn.Name)
		if err != nil || got.Phase != translate.PhaseActive {
			t.Fatalf("during the update: %+v %v", got, err)
		}
		if got.ImageID == "DOCKER|"+next {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the update never finished: %+v", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
