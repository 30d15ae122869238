package lambda

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
)

// Images are what the emulated registry knows of the images functions run.
// Architectures maps an image URI to the one architecture it was built
// for, in Lambda's names ("x86_64" or "arm64"); an image not listed runs on
// either, so that by default every function runs. CreateFunction does not
// look at a single-architecture image's platform: a function whose image
// was built for another architecture goes Active, and every invocation
// fails to start it (see the package doc).
type Images struct {
	Architectures map[string]string `json:"architectures,omitempty"`
}

// architectures are the values of Lambda's Architecture enum.
var architectures = []string{"x86_64", "arm64"}

func (im Images) validate() error {
	for uri, arch := range im.Architectures {
		if !slices.Contains(architectures, arch) {
			return fmt.Errorf("image %s: architecture %q is not one of %s", uri, arch, strings.Join(architectures, ", "))
		}
	}
	return nil
}

// SetImages replaces what the registry knows of images (the zero value:
// every image runs on either architecture). An architecture that is not
// x86_64 or arm64 is an error, and changes nothing.
func (s *Server) SetImages(im Images) error {
	if err := im.validate(); err != nil {
		return err
	}
	s.mu.Lock()
	s.images = Images{Architectures: maps.Clone(im.Architectures)}
	s.mu.Unlock()
	return nil
}

// Images returns what the registry knows of images.
func (s *Server) Images() Images {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Images{Architectures: maps.Clone(s.images.Architectures)}
}

// wrongArchitectureLocked says whether the registry has image built for
// an architecture other than the function's (arch: its Architectures;
// none is x86_64), and which.
func (s *Server) wrongArchitectureLocked(image string, arch []string) (built string, wrong bool) {
	built, ok := s.images.Architectures[image]
	if !ok || image == "" {
		return "", false
	}
	want := "x86_64"
	if len(arch) > 0 {
		want = arch[0]
	}
	return built, built != want
}

// serveImages serves the knob: PUT /_emulator/images replaces it with the
// JSON body (204; an unknown key or architecture is a 400), GET returns
// it, DELETE clears it (204).
func (s *Server) serveImages(m *http.ServeMux) {
	m.HandleFunc("PUT /_emulator/images", func(w http.ResponseWriter, r *http.Request) {
		var in Images
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		err := dec.Decode(&in)
		if err == nil {
			err = s.SetImages(in)
		}
		if err != nil {
			http.Error(w, `want {"architectures": {"<image uri>": "x86_64" or "arm64"}}: `+err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	m.HandleFunc("GET /_emulator/images", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.Images())
	})
	m.HandleFunc("DELETE /_emulator/images", func(w http.ResponseWriter, _ *http.Request) {
		_ = s.SetImages(Images{})
		w.WriteHeader(http.StatusNoContent)
	})
}
