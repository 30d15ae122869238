package lambda

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/faas-kubelet/faas-kubelet/pkg/emulator/awsauth"
)

// The emulated Amazon ECR, as far as a caller needs it to read the images
// functions run: the API's GetAuthorizationToken, and the registry's
// manifests and blobs for images the Images knob lists, served from the
// Docker Registry HTTP API V2 paths on a request whose Host is the
// registry's (<account>.dkr.ecr.<region>.amazonaws.com).
//
//   - GetAuthorizationToken (ECR API reference): authorizationData with a
//     base64 "AWS:<password>" token valid 12 hours and the registry's
//     proxyEndpoint; action ecr:GetAuthorizationToken.
//   - The registry takes the token as HTTP basic auth, user "AWS" ("Private
//     registry authentication in Amazon ECR"); without it, or expired, it
//     answers 401 with a Basic challenge and the registry's error
//     {"errors":[{"code":"DENIED",…}]}.
//   - Reading a manifest is ecr:BatchGetImage and a blob
//     ecr:GetDownloadUrlForLayer ("Amazon ECR private repositories: the
//     permissions docker pull needs"); without them 403 DENIED.
//   - An image the Images knob lists has a single-architecture manifest
//     (application/vnd.docker.distribution.manifest.v2+json) whose config
//     says its architecture in OCI's names (amd64, arm64), as `docker
//     build --provenance=false` pushes one; any other image is 404
//     MANIFEST_UNKNOWN (the registry does not know what it would hold; the
//     emulator's CreateFunction still runs it on either architecture).
//     Blobs are served as they are, not redirected to S3 as ECR does.

// ecrTokenLifetime is how long an authorization token is valid: "The
// authorization token is valid for 12 hours" (GetAuthorizationToken).
const ecrTokenLifetime = 12 * time.Hour

// registryHost matches a private ECR registry's host name.
var registryHost = regexp.MustCompile(`^([0-9]{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(:[0-9]+)?$`)

func (s *Server) registryFor(host string) bool { return registryHost.MatchString(host) }

// getAuthorizationToken issues a registry token.
func (s *Server) getAuthorizationToken(w http.ResponseWriter, r *http.Request) error {
	var b [24]byte
	_, _ = rand.Read(b[:])
	password := base64.RawURLEncoding.EncodeToString(b[:])
	expires := s.opts.Now().Add(ecrTokenLifetime)
	s.mu.Lock()
	if s.ecrTokens == nil {
		s.ecrTokens = map[string]time.Time{}
	}
	for t, exp := range s.ecrTokens {
		if !exp.After(s.opts.Now()) {
			delete(s.ecrTokens, t)
		}
	}
	s.ecrTokens[password] = expires
	s.mu.Unlock()
	return writeLogsJSON(w, map[string]any{"authorizationData": []map[string]any{{
		"authorizationToken": base64.StdEncoding.EncodeToString([]byte("AWS:" + password)),
		"expiresAt":          float64(expires.Unix()),
		"proxyEndpoint":      "https://" + s.opts.AccountID + ".dkr.ecr." + s.opts.Region + ".amazonaws.com",
	}}})
}

// registryError writes the Docker registry's error shape.
func registryError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"code": code, "message": msg}}})
}

// serveRegistry answers a request to the registry's host.
func (s *Server) serveRegistry(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	if h, _, ok := strings.Cut(host, ":"); ok {
		host = h
	}
	path, ok := strings.CutPrefix(r.URL.Path, "/v2/")
	if !ok || r.Method != http.MethodGet && r.Method != http.MethodHead {
		registryError(w, http.StatusNotFound, "NAME_UNKNOWN", "not a registry path")
		return
	}
	op, repo, ref := "", "", ""
	switch {
	case path == "":
		op = "RegistryPing"
	case strings.Contains(path, "/manifests/"):
		i := strings.LastIndex(path, "/manifests/")
		op, repo, ref = "BatchGetImage", path[:i], path[i+len("/manifests/"):]
	case strings.Contains(path, "/blobs/"):
		i := strings.LastIndex(path, "/blobs/")
		op, repo, ref = "GetDownloadUrlForLayer", path[:i], path[i+len("/blobs/"):]
	default:
		registryError(w, http.StatusNotFound, "NAME_UNKNOWN", "not a registry path")
		return
	}
	c := s.Begin(op, w, r)
	defer c.End()
	w = c.W
	if f, faulty := c.Fault(); faulty {
		code := "UNKNOWN"
		if f.Status == http.StatusTooManyRequests {
			code = "TOOMANYREQUESTS"
		}
		registryError(w, f.Status, code, "injected fault")
		return
	}
	if !s.registryAuthorized(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="https://`+host+`/",service="ecr.amazonaws.com"`)
		registryError(w, http.StatusUnauthorized, "DENIED", "Your authorization token has expired. Reauthenticate and try again.")
		return
	}
	if op == "RegistryPing" {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = w.Write([]byte("{}"))
		return
	}
	if act := "ecr:" + op; !s.allowed(act) {
		m := registryHost.FindStringSubmatch(host)
		registryError(w, http.StatusForbidden, "DENIED", s.accessDenied(act, "arn:aws:ecr:"+m[2]+":"+m[1]+":repository/"+repo).Message)
		return
	}
	sep := ":"
	if strings.HasPrefix(ref, "sha256:") {
		sep = "@"
	}
	manifest, config, ok := s.imageOf(host, repo, ref, sep)
	if op == "GetDownloadUrlForLayer" {
		// A blob is known by its digest, whichever tag led to it.
		if config = s.blob(host, repo, ref); config == nil {
			registryError(w, http.StatusNotFound, "BLOB_UNKNOWN", "blob unknown to registry")
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Docker-Content-Digest", ref)
		if r.Method == http.MethodGet {
			_, _ = w.Write(config)
		}
		return
	}
	if !ok {
		registryError(w, http.StatusNotFound, "MANIFEST_UNKNOWN", "Requested image not found")
		return
	}
	w.Header().Set("Content-Type", manifestV2)
	w.Header().Set("Docker-Content-Digest", digestOf(manifest))
	if r.Method == http.MethodGet {
		_, _ = w.Write(manifest)
	}
}

// registryAuthorized says whether r carries a token this emulator issued
// that has not expired.
func (s *Server) registryAuthorized(r *http.Request) bool {
	user, password, ok := r.BasicAuth()
	if !ok || user != "AWS" {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.ecrTokens[password]
	return ok && exp.After(s.opts.Now())
}

const (
	manifestV2   = "application/vnd.docker.distribution.manifest.v2+json"
	imageConfigV = "application/vnd.docker.container.image.v1+json"
)

// ociArchitecture is an image config's name for a Lambda architecture.
func ociArchitecture(lambdaArch string) string {
	if lambdaArch == "x86_64" {
		return "amd64"
	}
	return lambdaArch
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// imageOf is the manifest and config of the image host/repo<sep>ref, as
// the Images knob lists it (a refused image is not there).
func (s *Server) imageOf(host, repo, ref, sep string) (manifest, config []byte, ok bool) {
	uri := host + "/" + repo + sep + ref
	s.mu.Lock()
	arch, listed := s.images.Architectures[uri]
	s.mu.Unlock()
	missing := s.refusals.Get().RefusesImage(uri)
	if !listed || missing {
		return nil, nil, false
	}
	config, _ = json.Marshal(map[string]any{
		"architecture": ociArchitecture(arch), "os": "linux",
		"config": map[string]any{}, "rootfs": map[string]any{"type": "layers", "diff_ids": []string{}},
	})
	manifest, _ = json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": manifestV2,
		"config": map[string]any{"mediaType": imageConfigV, "size": len(config), "digest": digestOf(config)},
		"layers": []any{},
	})
	return manifest, config, true
}

// blob is the config blob of digest among the repository's listed images.
func (s *Server) blob(host, repo, digest string) []byte {
	s.mu.Lock()
	var uris []string
	for uri := range s.images.Architectures {
		uris = append(uris, uri)
	}
	s.mu.Unlock()
	prefix := host + "/" + repo
	for _, uri := range uris {
		rest, ok := strings.CutPrefix(uri, prefix)
		if !ok || rest == "" || rest[0] != ':' && rest[0] != '@' {
			continue
		}
		if _, config, ok := s.imageOf(host, repo, rest[1:], rest[:1]); ok && digestOf(config) == digest {
			return config
		}
	}
	return nil
}

// ecrDispatch serves the ECR API's JSON 1.1 operations the emulator has.
func (s *Server) ecrDispatch(w http.ResponseWriter, r *http.Request, op string) {
	c := s.Begin(op, w, r)
	defer c.End()
	w = c.W
	f, faulty := c.Fault()
	if _, err := s.ecrV.Verify(r); err != nil {
		ae := err.(*awsauth.Error)
		writeLogsError(w, &apiError{Status: ae.Status, Code: ae.Code, Message: ae.Message})
		return
	}
	if op != "GetAuthorizationToken" {
		writeLogsError(w, &apiError{Status: http.StatusBadRequest, Code: "UnknownOperationException", Message: fmt.Sprintf("operation %s is not emulated", op)})
		return
	}
	if act := "ecr:" + op; !s.allowed(act) {
		writeLogsError(w, s.accessDenied(act, "*"))
		return
	}
	if faulty {
		writeLogsError(w, faultError(f))
		return
	}
	if err := s.getAuthorizationToken(w, r); err != nil {
		writeLogsError(w, err)
	}
}
