package alibaba

import (
	"encoding/json"
	"net/http"
	"slices"
)

// Refusals are conditions outside any request that make Function Compute
// refuse a create or update, as an account that lacks something would: the
// RAM roles FC may not assume, the images Container Registry does not have,
// and a used-up resource limit. Each rule holds until it is removed, and the
// next call after that succeeds. The JSON keys are shared by every
// emulator's /_emulator/refusals.
type Refusals struct {
	// Roles are RAM role ARNs FC cannot assume: CreateService and
	// UpdateService naming one answer 403 AccessDenied.
	Roles []string `json:"roles"`
	// Images are image references Container Registry does not have:
	// CreateFunction and UpdateFunction naming one answer 400
	// InvalidArgument.
	Images []string `json:"images"`
	// QuotaExceeded makes CreateService and CreateFunction answer 400
	// LimitExceededError when they would add a service or a function.
	QuotaExceeded bool `json:"quotaExceeded"`
}

// SetRefusals replaces the refusals in force (the zero value clears them).
func (s *Server) SetRefusals(r Refusals) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refusals = Refusals{Roles: slices.Clone(r.Roles), Images: slices.Clone(r.Images), QuotaExceeded: r.QuotaExceeded}
}

// Refusals returns the refusals in force.
func (s *Server) Refusals() Refusals {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.refusals
	r.Roles, r.Images = append([]string{}, r.Roles...), append([]string{}, r.Images...)
	return r
}

// registerRefusals serves PUT (replace), GET and DELETE (clear)
// /_emulator/refusals.
func (s *Server) registerRefusals(m *http.ServeMux) {
	m.HandleFunc("PUT /_emulator/refusals", func(w http.ResponseWriter, r *http.Request) {
		var in Refusals
		// Keys other clouds' emulators know (Azure's "plans") are ignored:
		// a test may send one body to every cloud.
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, `want {"roles": ["acs:ram::<account>:role/<name>"], "images": ["<image>"], "quotaExceeded": true}`, http.StatusBadRequest)
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

// refusedRole answers a service naming a role FC cannot assume, in the
// words FC uses (see the package documentation); s.mu is held.
func (s *Server) refusedRole(role string) error {
	if role == "" || !slices.Contains(s.refusals.Roles, role) {
		return nil
	}
	return &apiError{Status: http.StatusForbidden, Code: "AccessDenied", Message: "No permission to assume the role '" + role + "' for you"}
}

// refusedImage answers a function naming an image Container Registry does
// not have; s.mu is held.
func (s *Server) refusedImage(c *customContainerConfig) error {
	if c == nil || !slices.Contains(s.refusals.Images, c.Image) {
		return nil
	}
	return invalid("failed to get the manifest of image '%s': it does not exist in Container Registry, or the service's role may not pull it", c.Image)
}

// refusedQuota answers a create that would add a resource past the
// account's limit; s.mu is held.
func (s *Server) refusedQuota(what string) error {
	if !s.refusals.QuotaExceeded {
		return nil
	}
	return &apiError{Status: http.StatusBadRequest, Code: "LimitExceededError",
		Message: "the number of " + what + " exceeds the limit of this account in region " + s.opts.Region + "; delete unused ones or ask for a higher limit"}
}
