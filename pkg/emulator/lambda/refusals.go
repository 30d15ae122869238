package lambda

import (
	"encoding/json"
	"net/http"
	"slices"
)

// Refusals are what the emulated account cannot use yet. Lambda answers
// them synchronously, before anything is created or changed; removing an
// entry (the role is created, the image pushed, the quota raised) makes the
// next call succeed. The JSON keys are shared by every cloud's emulator, so
// end-to-end tests can set them alike.
type Refusals struct {
	// Roles are execution role ARNs Lambda cannot assume (not created yet,
	// or not trusting lambda.amazonaws.com).
	Roles []string `json:"roles"`
	// Images are image URIs that do not exist in their registry.
	Images []string `json:"images"`
	// QuotaExceeded says the account's code storage is used up.
	QuotaExceeded bool `json:"quotaExceeded"`
}

// Messages of the refusals, as Lambda words them (see the package doc for
// their sources).
const (
	msgRoleNotAssumable = "The role defined for the function cannot be assumed by Lambda."
	msgImageMissing     = "Source image %s does not exist. Provide a valid source image."
	msgCodeStorage      = "Code storage limit exceeded."
)

// SetRefusals replaces the refusals (the zero value clears them).
func (s *Server) SetRefusals(r Refusals) {
	r.Roles, r.Images = slices.Clone(r.Roles), slices.Clone(r.Images)
	s.mu.Lock()
	s.refusals = r
	s.mu.Unlock()
}

// Refusals returns the current refusals.
func (s *Server) Refusals() Refusals {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Refusals{Roles: append([]string{}, s.refusals.Roles...), Images: append([]string{}, s.refusals.Images...),
		QuotaExceeded: s.refusals.QuotaExceeded}
}

// refuseRoleLocked answers a role the account cannot use yet.
func (s *Server) refuseRoleLocked(role string) error {
	if role != "" && slices.Contains(s.refusals.Roles, role) {
		return invalid(msgRoleNotAssumable)
	}
	return nil
}

// refuseImageLocked answers an image that does not exist.
func (s *Server) refuseImageLocked(image string) error {
	if image != "" && slices.Contains(s.refusals.Images, image) {
		return invalid(msgImageMissing, image)
	}
	return nil
}

// refuseCreateLocked checks a CreateFunction against the refusals: the
// role, then the image, then the account's code storage.
func (s *Server) refuseCreateLocked(req *createRequest) error {
	if err := s.refuseRoleLocked(req.Role); err != nil {
		return err
	}
	if err := s.refuseImageLocked(req.Code.ImageUri); err != nil {
		return err
	}
	if s.refusals.QuotaExceeded {
		return &apiError{Status: http.StatusBadRequest, Code: "CodeStorageExceededException", Message: msgCodeStorage}
	}
	return nil
}

// registerRefusals serves the knob: PUT /_emulator/refusals replaces the
// refusals, GET returns them, DELETE clears them.
func (s *Server) registerRefusals(m *http.ServeMux) {
	m.HandleFunc("PUT /_emulator/refusals", func(w http.ResponseWriter, r *http.Request) {
		var in Refusals
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			http.Error(w, `want {"roles": ["<role ARN>"], "images": ["<image URI>"], "quotaExceeded": false}: `+err.Error(), http.StatusBadRequest)
			return
		}
		s.SetRefusals(in)
		w.WriteHeader(http.StatusNoContent)
	})
	m.HandleFunc("GET /_emulator/refusals", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.Refusals())
	})
	m.HandleFunc("DELETE /_emulator/refusals", func(w http.ResponseWriter, _ *http.Request) {
		s.SetRefusals(Refusals{})
		w.WriteHeader(http.StatusNoContent)
	})
}
