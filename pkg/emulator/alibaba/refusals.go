package alibaba

import (
	"net/http"

	"github.com/faas-kubelet/faas-kubelet/pkg/emulator/faults"
)

// Refusals are conditions outside any request that make Function Compute
// refuse a create or update, as an account that lacks something would (the
// keys are faults.Refusals'): Roles are RAM role ARNs FC cannot assume
// (CreateService and UpdateService naming one answer 403 AccessDenied),
// Images image references Container Registry does not have
// (CreateFunction and UpdateFunction answer 400 InvalidArgument), and
// QuotaExceeded makes CreateService and CreateFunction answer 400
// LimitExceededError when they would add a service or a function; Plans
// change nothing on FC.
type Refusals = faults.Refusals

// SetRefusals replaces the refusals (the zero value clears them).
func (s *Server) SetRefusals(r Refusals) { s.refusals.Set(r) }

// Refusals returns the refusals in force.
func (s *Server) Refusals() Refusals { return s.refusals.Get() }

// refusedRole answers a service naming a role FC cannot assume, in the
// words FC uses (see the package documentation); s.mu is held.
func (s *Server) refusedRole(role string) error {
	if !s.refusals.Get().RefusesRole(role) {
		return nil
	}
	return &apiError{Status: http.StatusForbidden, Code: "AccessDenied", Message: "No permission to assume the role '" + role + "' for you"}
}

// refusedImage answers a function naming an image Container Registry does
// not have; s.mu is held.
func (s *Server) refusedImage(c *customContainerConfig) error {
	if c == nil || !s.refusals.Get().RefusesImage(c.Image) {
		return nil
	}
	return invalid("failed to get the manifest of image '%s': it does not exist in Container Registry, or the service's role may not pull it", c.Image)
}

// refusedQuota answers a create that would add a resource past the
// account's limit; s.mu is held.
func (s *Server) refusedQuota(what string) error {
	if !s.refusals.Get().QuotaExceeded {
		return nil
	}
	return &apiError{Status: http.StatusBadRequest, Code: "LimitExceededError",
		Message: "the number of " + what + " exceeds the limit of this account in region " + s.opts.Region + "; delete unused ones or ask for a higher limit"}
}
