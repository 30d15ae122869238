package provider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// Backend is one cloud's function service, as the core uses it. Backends
// map their SDK's errors to errdefs at their edge: a function that does not
// exist is errdefs.NotFound, a request the cloud refuses as malformed is
// errdefs.InvalidInput. A backend that cannot do something returns an error
// wrapping ErrNotSupported.
type Backend interface {
	// Cloud names the backend, as written in the config ("memory", "aws-lambda").
	Cloud() string
	// Ping checks that the cloud answers with the configured credentials. The
	// node's CloudReachable condition follows it; the error text is shown to users, so
	// it must not carry secrets.
	Ping(ctx context.Context) error
	// Deploy creates the function, or updates it to match fn. It is
	// idempotent on fn.Name: a retried create must not create a second one.
	Deploy(ctx context.Context, fn *translate.Function) (*translate.FunctionState, error)
	// Delete removes the function. A function that is already gone counts as
	// deleted (nil error).
	Delete(ctx context.Context, name string) error
	// Get returns the function's current state, or errdefs.NotFound.
	Get(ctx context.Context, name string) (*translate.FunctionState, error)
	// Logs streams the function's log lines as kubectl logs asks for them.
	// With opts.Follow the stream stays open until ctx ends.
	Logs(ctx context.Context, name string, opts translate.LogOptions) (io.ReadCloser, error)
	// Invoke calls the function synchronously with payload. A function that
	// ran and failed is a result with FunctionError set, not an error.
	Invoke(ctx context.Context, name string, payload []byte) (*translate.Invocation, error)
	// InvokeAsync queues an invocation with payload and returns its request
	// id once the cloud accepted it.
	InvokeAsync(ctx context.Context, name string, payload []byte) (requestID string, err error)
	// HTTP sends req to the function's HTTP endpoint (Lambda: an invocation
	// with a function URL event; Azure and Function Compute: the HTTP
	// trigger) and returns the response, whose body the caller closes.
	// req.URL carries the path and query only.
	HTTP(ctx context.Context, name string, req *http.Request) (*http.Response, error)
	// Tag merges tags into the function's tags (the core records a Job's
	// progress there, so a restart finds it).
	Tag(ctx context.Context, name string, tags map[string]string) error
	// List returns every function this node owns (tagged with its name),
	// with Phase left empty where the listing does not carry state.
	List(ctx context.Context, node string) ([]translate.FunctionState, error)
}

// AccountReporter is a backend that can say which account it works in and
// what the account's quotas are. It is called where Ping would be, every
// health check, and answers the same question: the cloud answers with these
// credentials.
type AccountReporter interface {
	Account(ctx context.Context) (*translate.Account, error)
}

// ListingAdopter is a backend whose listing (List) shows, for each
// function, the digest of the spec it was deployed from (see
// translate.SpecDigestKey), and which keeps what its last listing showed:
// a restart then adopts a function whose pod has not changed from that
// listing alone, with no call of its own, instead of one create-or-adopt
// per pod spending the cloud's quota.
type ListingAdopter interface {
	// AdoptListed returns the state of fn's function as the last listing
	// showed it, when the listing shows the function is fn's own (owner and
	// node), was deployed from exactly fn (the digest is fn's) and nothing
	// else it shows differs from fn; ok false: fn is deployed as usual
	// (Deploy). It makes no call. Each listed function answers once, and a
	// Deploy of it forgets it, so that the listing speaks only for a
	// function this process has not yet touched.
	AdoptListed(fn *translate.Function) (st *translate.FunctionState, ok bool)
}

// Sealer is a ListingAdopter that can write a function's spec digest where
// its listing shows it, for a function Deploy found as fn but unsealed
// (FunctionState.Unsealed). The core seals only what a restart found whole
// and serving, so that a digest never speaks for a function still being
// changed.
type Sealer interface {
	Seal(ctx context.Context, fn *translate.Function) error
}

// ErrNotSupported marks an operation a backend cannot perform.
var ErrNotSupported = errors.New("not supported")

// NotSupportedf returns an error wrapping ErrNotSupported.
func NotSupportedf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrNotSupported}, args...)...)
}
