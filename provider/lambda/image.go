package lambda

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ecrsdk "github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/virtual-kubelet/virtual-kubelet/log"

	"github.com/faas-kubelet/faas-kubelet/provider"
)

// An image's architecture, read before the function is created.
//
// Lambda runs an image built for one architecture, the function's: "The
// image that you build for your function must target only one of the
// architectures" (developer guide, "Create a Lambda function using a
// container image"). CreateFunction does not look: a function whose image
// was built for the other architecture goes Active and fails every
// invocation with "exec format error", so a Deployment's pod would show
// Running and Ready and never answer. The backend reads the image's
// config from its ECR registry first (the registry API, with a token from
// ECR's GetAuthorizationToken), and a pod whose image is built for
// another architecture waits FunctionImageError, saying which, until an
// image of the function's architecture is pushed under the same name or
// the pod chooses the image's. Only a config that says another
// architecture refuses: an image the registry does not show (no
// permission, an index, which Lambda refuses itself, or any error) is
// left to CreateFunction, as before.

// ECRAPI is what the backend asks of Amazon ECR.
type ECRAPI interface {
	GetAuthorizationToken(context.Context, *ecrsdk.GetAuthorizationTokenInput, ...func(*ecrsdk.Options)) (*ecrsdk.GetAuthorizationTokenOutput, error)
}

var _ ECRAPI = (*ecrsdk.Client)(nil)

// NewECRClient builds the ECR client for the options (see NewClient).
func NewECRClient(cfg aws.Config, o Options) *ecrsdk.Client {
	return ecrsdk.NewFromConfig(cfg, func(so *ecrsdk.Options) {
		so.Region = o.Region
		so.RetryMaxAttempts = 1 // a failed read leaves the image to CreateFunction
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
		if o.Credentials != nil {
			so.Credentials = o.Credentials
		}
		if o.HTTPClient != nil {
			so.HTTPClient = o.HTTPClient
		}
	})
}

// ReadImages makes the backend read each image's architecture from its
// ECR registry before it deploys it (see the comment above). Registry
// requests go to the image's host, or with Options.Endpoint set (an
// emulator) to that address with the image's host as Host.
func (b *Backend) ReadImages(api ECRAPI) *Backend {
	client := b.opts.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	b.images = &imageReader{ecr: api, endpoint: b.opts.Endpoint, client: client, now: time.Now, read: map[string]imageRead{}}
	return b
}

// imageReadFor is how long an image's read architecture is taken as it
// is: the pods of one Deployment share one read, and an image pushed again
// under its tag is seen by the pods created after that.
const imageReadFor = 30 * time.Second

// imageReadTimeout bounds one image's reads.
const imageReadTimeout = 10 * time.Second

type imageRead struct {
	arch string // OCI's name ("amd64", "arm64"); "" not known
	at   time.Time
}

type imageReader struct {
	ecr      ECRAPI
	endpoint string
	client   *http.Client
	now      func() time.Time

	mu      sync.Mutex
	token   string // "AWS:<password>", base64
	expires time.Time
	read    map[string]imageRead
	reading map[string]chan struct{} // closed when that image's read ends
}

// checkArchitecture refuses an image whose config says an architecture
// other than the function's (arch: its CreateFunction Architectures).
func (b *Backend) checkArchitecture(ctx context.Context, image string, arch []types.Architecture) error {
	if b.images == nil || image == "" || ecrImage.FindStringSubmatch(image) == nil {
		return nil
	}
	want := "amd64"
	if len(arch) > 0 && arch[0] == types.ArchitectureArm64 {
		want = "arm64"
	}
	got := b.images.architecture(ctx, image)
	if got == "" || got == want {
		return nil
	}
	b.images.forget(image) // a push under the same name is read at the next try
	return provider.Refused(provider.ReasonImageError, fmt.Errorf(
		"spec.containers[0].image: image %s is built for %s, not for %s, the function's architecture (%s): Lambda does not start it (exec format error); push an image built for %s under that name, or choose %s",
		image, got, want, archField, want, got))
}

func (r *imageReader) forget(image string) {
	r.mu.Lock()
	delete(r.read, image)
	r.mu.Unlock()
}

// architecture is the image's architecture as its config says, or "".
// Pods of one image created together wait for one read.
func (r *imageReader) architecture(ctx context.Context, image string) string {
	for {
		now := r.now()
		r.mu.Lock()
		if got, ok := r.read[image]; ok && now.Sub(got.at) < imageReadFor {
			r.mu.Unlock()
			return got.arch
		}
		wait, busy := r.reading[image]
		if !busy {
			break // r.mu is held
		}
		r.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return ""
		}
	}
	now := r.now()
	for k, v := range r.read {
		if now.Sub(v.at) >= imageReadFor {
			delete(r.read, k)
		}
	}
	if r.reading == nil {
		r.reading = map[string]chan struct{}{}
	}
	done := make(chan struct{})
	r.reading[image] = done
	r.mu.Unlock()

	rctx, cancel := context.WithTimeout(ctx, imageReadTimeout)
	arch, err := r.readArchitecture(rctx, image)
	cancel()
	if err != nil {
		log.G(ctx).WithField("image", image).WithError(err).Info("could not read the image's architecture; CreateFunction takes it as it is")
	}
	r.mu.Lock()
	r.read[image] = imageRead{arch: arch, at: now}
	delete(r.reading, image)
	close(done)
	r.mu.Unlock()
	return arch
}

func (r *imageReader) authorization(ctx context.Context) (string, error) {
	r.mu.Lock()
	if r.token != "" && r.now().Add(5*time.Minute).Before(r.expires) {
		defer r.mu.Unlock()
		return r.token, nil
	}
	r.mu.Unlock()
	out, err := r.ecr.GetAuthorizationToken(ctx, &ecrsdk.GetAuthorizationTokenInput{})
	if err != nil {
		return "", fmt.Errorf("GetAuthorizationToken: %w", mapError("GetAuthorizationToken", err))
	}
	if len(out.AuthorizationData) == 0 || aws.ToString(out.AuthorizationData[0].AuthorizationToken) == "" {
		return "", fmt.Errorf("GetAuthorizationToken: no token")
	}
	d := out.AuthorizationData[0]
	r.mu.Lock()
	defer r.mu.Unlock()
	r.token, r.expires = aws.ToString(d.AuthorizationToken), aws.ToTime(d.ExpiresAt)
	return r.token, nil
}

// Manifest media types the registry is asked for.
const (
	mediaDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	mediaOCIManifest    = "application/vnd.oci.image.manifest.v1+json"
	mediaDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
	mediaOCIIndex       = "application/vnd.oci.image.index.v1+json"
)

func (r *imageReader) readArchitecture(ctx context.Context, image string) (string, error) {
	host, repo, _ := strings.Cut(image, "/")
	ref := "latest"
	if i := strings.LastIndex(repo, "@"); i >= 0 {
		repo, ref = repo[:i], repo[i+1:]
	} else if i := strings.LastIndex(repo, ":"); i >= 0 {
		repo, ref = repo[:i], repo[i+1:]
	}
	token, err := r.authorization(ctx)
	if err != nil {
		return "", err
	}
	var manifest struct {
		MediaType string `json:"mediaType"`
		Config    struct {
			Digest string `json:"digest"`
		} `json:"config"`
		Manifests []json.RawMessage `json:"manifests"`
	}
	mt, err := r.get(ctx, host, "/v2/"+repo+"/manifests/"+ref, token,
		strings.Join([]string{mediaDockerManifest, mediaOCIManifest, mediaDockerList, mediaOCIIndex}, ", "), &manifest)
	if err != nil {
		return "", err
	}
	if mt == mediaDockerList || mt == mediaOCIIndex || len(manifest.Manifests) > 0 {
		return "", nil // an index: Lambda refuses it at CreateFunction
	}
	if manifest.Config.Digest == "" {
		return "", fmt.Errorf("manifest of %s names no config", image)
	}
	var config struct {
		Architecture string `json:"architecture"`
	}
	if _, err := r.get(ctx, host, "/v2/"+repo+"/blobs/"+manifest.Config.Digest, token, "", &config); err != nil {
		return "", err
	}
	return config.Architecture, nil
}

// get reads a registry path of host into v, and returns its media type.
func (r *imageReader) get(ctx context.Context, host, path, token, accept string, v any) (string, error) {
	base := "https://" + host
	if r.endpoint != "" {
		base = strings.TrimSuffix(r.endpoint, "/")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return "", err
	}
	req.Host = host
	user, password, ok := decodeToken(token)
	if !ok {
		return "", fmt.Errorf("the ECR token is not user:password")
	}
	req.SetBasicAuth(user, password)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: HTTP %d: %s", path, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	if err := json.Unmarshal(body, v); err != nil {
		return "", fmt.Errorf("GET %s: %w", path, err)
	}
	mt, _, _ := strings.Cut(resp.Header.Get("Content-Type"), ";")
	return strings.TrimSpace(mt), nil
}

func decodeToken(token string) (user, password string, ok bool) {
	raw, err := base64.StdEncoding.DecodeString(token)
	if err != nil {
		return "", "", false
	}
	return strings.Cut(string(raw), ":")
}
