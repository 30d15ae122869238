package azure

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/faas-kubelet/faas-kubelet/pkg/emulator/faults"
)

// Refusals are things outside a pod that Azure refuses a function app for
// (the keys are faults.Refusals'), set at run time (SetRefusals, or PUT
// /_emulator/refusals). Roles are the resource IDs of user-assigned
// identities a site names (its PUT is refused) and registry user names
// (DOCKER_REGISTRY_SERVER_USERNAME) whose password the registry rejects
// (the site is created and its image pull fails); Images do not exist in
// their registry (the site is created and its pull fails); QuotaExceeded
// makes the plan refuse new sites; Plans are serverFarm IDs that do not
// exist.
type Refusals = faults.Refusals

// SetRefusals replaces the refusals (the zero value clears them).
func (s *Server) SetRefusals(r Refusals) { s.refusals.Set(r) }

// Refusals returns the refusals in force.
func (s *Server) Refusals() Refusals { return s.refusals.Get() }

// refuse answers a site's PUT as the Web Apps RP and ARM do when something
// the site names is refused; s.mu is held. exists says the PUT updates a
// site.
func (s *Server) refuse(rg, name string, body map[string]any, exists bool) error {
	props, _ := body["properties"].(map[string]any)
	if farm, _ := props["serverFarmId"].(string); s.refusals.Get().RefusesPlan(farm) || s.deletedPlans[strings.ToLower(farm)] {
		plan := farm[strings.LastIndex(farm, "/")+1:]
		return rpError(http.StatusNotFound, "NotFound", fmt.Sprintf("Cannot find ServerFarm with name %s.", plan))
	}
	identity, _ := body["identity"].(map[string]any)
	uami, _ := identity["userAssignedIdentities"].(map[string]any)
	for id := range uami {
		if containsFold(s.refusals.Get().Roles, id) {
			inner, _ := json.Marshal(map[string]any{"error": map[string]string{"code": "NotFound",
				"message": fmt.Sprintf("Resource '%s' was not found.", id)}})
			return &armError{Status: http.StatusBadRequest, Code: "FailedIdentityOperation", Message: fmt.Sprintf(
				"Identity operation for resource '%s' failed with error 'Failed to perform resource identity operation. Status: 'NotFound'. Response: '%s'.'.",
				s.siteID(rg, name), inner)}
		}
	}
	if s.refusals.Get().QuotaExceeded && !exists {
		return rpError(http.StatusConflict, "Conflict", "Cannot complete the operation because the site will exceed the number of slots allowed for the 'Dynamic' SKU.")
	}
	return nil
}

// pullFailure is the Docker API's answer when the site's image cannot be
// pulled, as App Service logs it, or "" when it can; s.mu is held.
func (s *Server) pullFailure(image string, settings map[string]string) string {
	repo, tag := image, "latest"
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		repo, tag = image[:i], image[i+1:]
	}
	host, path, _ := strings.Cut(repo, "/")
	switch {
	case s.refusals.Get().RefusesImage(image):
		msg, _ := json.Marshal(map[string]string{"message": fmt.Sprintf("manifest for %s not found: manifest unknown: manifest tagged by %q is not found", image, tag)})
		return "Docker API responded with status code=NotFound, response=" + string(msg)
	case s.refusals.Get().RefusesRole(settings["DOCKER_REGISTRY_SERVER_USERNAME"]):
		msg, _ := json.Marshal(map[string]string{"message": fmt.Sprintf("Get https://%s/v2/%s/manifests/%s: unauthorized: authentication required, visit https://aka.ms/acr/authorization for more information.", host, path, tag)})
		return "Docker API responded with status code=InternalServerError, response=" + string(msg)
	}
	return ""
}

// pullLog is what App Service's docker log shows for a failed pull.
func pullLog(name, failure string) []string {
	return []string{
		"ERROR - DockerApiException: " + failure,
		"WARN  - Image pull failed. Defaulting to local copy if present.",
		"ERROR - Image pull failed: Verify docker image configuration and credentials (if using private repository)",
		"INFO  - Stopping site " + name + " because it failed during startup.",
	}
}

func containsFold(list []string, v string) bool {
	return v != "" && slices.ContainsFunc(list, func(e string) bool { return strings.EqualFold(e, v) })
}

// rpError is an error in the Web Apps resource provider's own shape
// (capitalised Code and Message, Details with an ErrorEntity, and no
// x-ms-error-code header), as it answers for the resources it validates.
func rpError(status int, code, message string) *armError {
	return &armError{Status: status, Code: code, Message: message, rp: true}
}

func (e *armError) rpBody() []byte {
	var b bytes.Buffer
	_ = json.NewEncoder(&b).Encode(map[string]any{
		"Code": e.Code, "Message": e.Message, "Target": nil,
		"Details": []any{
			map[string]string{"Message": e.Message},
			map[string]string{"Code": e.Code},
			map[string]any{"ErrorEntity": map[string]any{"Code": e.Code, "Message": e.Message}},
		},
		"Innererror": nil,
	})
	return b.Bytes()
}
