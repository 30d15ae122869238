package alibaba

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	fc "github.com/alibabacloud-go/fc-open-20210406/v2/client"
	"github.com/alibabacloud-go/tea/tea"
)

func TestRefusalsUntilRemoved(t *testing.T) {
	e := start(t, Options{})
	c := e.fc
	role := "acs:ram::" + DefaultAccountID + ":role/not-trusting-fc"
	missing := "registry.cn-hangzhou.aliyuncs.com/faas/missing:1"

	put := func(body string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPut, e.ts.URL+"/_emulator/refusals", strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusNoContent {
			t.Fatalf("PUT /_emulator/refusals %s: %v %v", body, resp, err)
		}
		resp.Body.Close()
	}
	put(`{"roles": ["` + role + `"], "images": ["` + missing + `"], "quotaExceeded": false}`)
	resp, err := http.Get(e.ts.URL + "/_emulator/refusals")
	if err != nil {
		t.Fatal(err)
	}
	var got Refusals
	_ = json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if want := (Refusals{Roles: []string{role}, Images: []string{missing}}); !reflect.DeepEqual(got, want) {
		t.Errorf("GET /_emulator/refusals = %+v, want %+v", got, want)
	}

	// A role FC cannot assume: no service is made, and naming it in an
	// update is refused the same way.
	_, err = c.CreateServiceWithOptions(&fc.CreateServiceRequest{ServiceName: tea.String("pods"), Role: tea.String(role)}, &fc.CreateServiceHeaders{}, rt)
	wantFCError(t, "CreateService with a refused role", err, http.StatusForbidden, "AccessDenied")
	if err == nil || !strings.Contains(err.Error(), "No permission to assume the role '"+role+"'") {
		t.Errorf("role refusal message: %v", err)
	}
	createService(t, c, "pods", false)
	_, err = c.UpdateServiceWithOptions(tea.String("pods"), &fc.UpdateServiceRequest{Role: tea.String(role)}, &fc.UpdateServiceHeaders{}, rt)
	wantFCError(t, "UpdateService to a refused role", err, http.StatusForbidden, "AccessDenied")

	// An image Container Registry does not have.
	_, err = c.CreateFunctionWithOptions(tea.String("pods"), functionRequest("web", missing, nil), &fc.CreateFunctionHeaders{}, rt)
	wantFCError(t, "CreateFunction with a missing image", err, http.StatusBadRequest, "InvalidArgument")
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("image refusal message: %v", err)
	}
	createFunction(t, c, "pods", "web", nil)
	_, err = c.UpdateFunctionWithOptions(tea.String("pods"), tea.String("web"), &fc.UpdateFunctionRequest{
		CustomContainerConfig: &fc.CustomContainerConfig{Image: tea.String(missing)}}, &fc.UpdateFunctionHeaders{}, rt)
	wantFCError(t, "UpdateFunction to a missing image", err, http.StatusBadRequest, "InvalidArgument")
	// An update that names no image is not about the image.
	if _, err := c.UpdateFunctionWithOptions(tea.String("pods"), tea.String("web"), &fc.UpdateFunctionRequest{Timeout: tea.Int32(30)}, &fc.UpdateFunctionHeaders{}, rt); err != nil {
		t.Errorf("UpdateFunction without an image: %v", err)
	}

	// A used-up limit refuses what would add a resource, not a create of
	// one that exists.
	put(`{"quotaExceeded": true}`)
	_, err = c.CreateServiceWithOptions(&fc.CreateServiceRequest{ServiceName: tea.String("more")}, &fc.CreateServiceHeaders{}, rt)
	wantFCError(t, "CreateService past the limit", err, http.StatusBadRequest, "LimitExceededError")
	_, err = c.CreateServiceWithOptions(&fc.CreateServiceRequest{ServiceName: tea.String("pods")}, &fc.CreateServiceHeaders{}, rt)
	wantFCError(t, "CreateService of an existing service past the limit", err, http.StatusConflict, "ServiceAlreadyExists")
	_, err = c.CreateFunctionWithOptions(tea.String("pods"), functionRequest("api", image, nil), &fc.CreateFunctionHeaders{}, rt)
	wantFCError(t, "CreateFunction past the limit", err, http.StatusBadRequest, "LimitExceededError")

	// Removed, the next calls succeed.
	req, _ := http.NewRequest(http.MethodDelete, e.ts.URL+"/_emulator/refusals", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE /_emulator/refusals: %v %v", resp, err)
	}
	if got := e.s.Refusals(); len(got.Roles)+len(got.Images) != 0 || got.QuotaExceeded {
		t.Errorf("refusals after DELETE: %+v", got)
	}
	if _, err := c.UpdateServiceWithOptions(tea.String("pods"), &fc.UpdateServiceRequest{Role: tea.String(role)}, &fc.UpdateServiceHeaders{}, rt); err != nil {
		t.Errorf("UpdateService after the role was trusted: %v", err)
	}
	if _, err := c.CreateFunctionWithOptions(tea.String("pods"), functionRequest("api", missing, nil), &fc.CreateFunctionHeaders{}, rt); err != nil {
		t.Errorf("CreateFunction after the image was pushed: %v", err)
	}
	if _, err := c.CreateServiceWithOptions(&fc.CreateServiceRequest{ServiceName: tea.String("more")}, &fc.CreateServiceHeaders{}, rt); err != nil {
		t.Errorf("CreateService after the limit was raised: %v", err)
	}
}
