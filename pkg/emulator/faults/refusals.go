package faults

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
)

// Refusals are what an emulated account lacks, each until it is removed
// (the role is created, the image pushed, the quota raised): the next call
// then succeeds. The keys are the same on every cloud's emulator, so a
// test can send one body to all of them; each emulator's package doc says
// how its cloud answers each one, and a key its cloud has no use for (Plans
// on Lambda and Function Compute) is accepted and changes nothing.
type Refusals struct {
	// Roles are identities the cloud cannot use yet: Lambda execution
	// roles, RAM roles, Azure user-assigned identities or registry users.
	Roles []string `json:"roles,omitempty"`
	// Images do not exist in their registry.
	Images []string `json:"images,omitempty"`
	// QuotaExceeded says an account limit is used up.
	QuotaExceeded bool `json:"quotaExceeded,omitempty"`
	// Plans are Azure App Service plans (serverFarm IDs) that do not exist.
	Plans []string `json:"plans,omitempty"`
	// Indexes are images published as a multi-architecture index (a
	// manifest list), which Lambda does not run.
	Indexes []string `json:"indexes,omitempty"`
}

// Clone copies r, so that a caller cannot change what is in force.
func (r Refusals) Clone() Refusals {
	r.Roles, r.Images, r.Plans, r.Indexes = slices.Clone(r.Roles), slices.Clone(r.Images), slices.Clone(r.Plans), slices.Clone(r.Indexes)
	return r
}

// RefusesRole says whether role is one the account cannot use yet.
func (r Refusals) RefusesRole(role string) bool { return role != "" && slices.Contains(r.Roles, role) }

// RefusesImage says whether image does not exist.
func (r Refusals) RefusesImage(image string) bool {
	return image != "" && slices.Contains(r.Images, image)
}

// RefusesPlan says whether the plan does not exist (ARM IDs compare
// without regard to case).
func (r Refusals) RefusesPlan(id string) bool {
	return id != "" && slices.ContainsFunc(r.Plans, func(p string) bool { return strings.EqualFold(p, id) })
}

// RefusalBook holds the refusals in force; its zero value refuses nothing.
// It has a lock of its own, so an emulator may read it under its own.
type RefusalBook struct {
	mu sync.Mutex
	r  Refusals
}

// Set replaces the refusals (the zero value clears them).
func (b *RefusalBook) Set(r Refusals) {
	b.mu.Lock()
	b.r = r.Clone()
	b.mu.Unlock()
}

// Get returns the refusals in force.
func (b *RefusalBook) Get() Refusals {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.r.Clone()
}

// Serve serves the knob on mux: PUT /_emulator/refusals replaces the
// refusals with the JSON body (204; an unknown key is a 400), GET returns
// them, DELETE clears them (204).
func (b *RefusalBook) Serve(mux *http.ServeMux) {
	mux.HandleFunc("PUT /_emulator/refusals", func(w http.ResponseWriter, r *http.Request) {
		var in Refusals
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			http.Error(w, `want {"roles": [...], "images": [...], "quotaExceeded": false, "plans": [...], "indexes": [...]}: `+err.Error(), http.StatusBadRequest)
			return
		}
		b.Set(in)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /_emulator/refusals", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(b.Get())
	})
	mux.HandleFunc("DELETE /_emulator/refusals", func(w http.ResponseWriter, _ *http.Request) {
		b.Set(Refusals{})
		w.WriteHeader(http.StatusNoContent)
	})
}
