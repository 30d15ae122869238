package lambda

import (
	"net/http"
	"slices"

	"github.com/faas-kubelet/faas-kubelet/pkg/emulator/faults"
)

// Refusals are what the emulated account cannot use yet (the keys are
// faults.Refusals'): Lambda answers them synchronously, before anything is
// created or changed. Roles are execution role ARNs Lambda cannot assume
// (not created yet, or not trusting lambda.amazonaws.com), Images image
// URIs that do not exist, QuotaExceeded a used-up code storage; Plans
// change nothing on Lambda.
type Refusals = faults.Refusals

// Messages of the refusals, as Lambda words them (see the package doc for
// their sources).
const (
	msgRoleNotAssumable = "The role defined for the function cannot be assumed by Lambda."
	msgImageMissing     = "Source image %s does not exist. Provide a valid source image."
	msgImageIndex       = "The image manifest, config or layer media type for the source image %s is not supported."
	msgCodeStorage      = "Code storage limit exceeded."
)

// SetRefusals replaces the refusals (the zero value clears them).
func (s *Server) SetRefusals(r Refusals) { s.refusals.Set(r) }

// Refusals returns the refusals in force.
func (s *Server) Refusals() Refusals { return s.refusals.Get() }

// refuseRoleLocked answers a role the account cannot use yet.
func (s *Server) refuseRoleLocked(role string) error {
	if s.refusals.Get().RefusesRole(role) {
		return invalid(msgRoleNotAssumable)
	}
	return nil
}

// refuseImageLocked answers an image that does not exist.
func (s *Server) refuseImageLocked(image string) error {
	r := s.refusals.Get()
	if r.RefusesImage(image) {
		return invalid(msgImageMissing, image)
	}
	if image != "" && slices.Contains(r.Indexes, image) {
		return invalid(msgImageIndex, image)
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
	if s.refusals.Get().QuotaExceeded {
		return &apiError{Status: http.StatusBadRequest, Code: "CodeStorageExceededException", Message: msgCodeStorage}
	}
	return nil
}
