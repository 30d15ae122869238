package lambda

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/faas-kubelet/faas-kubelet/pkg/emulator/awsauth"
	"github.com/faas-kubelet/faas-kubelet/pkg/emulator/faults"
)

// Options configure the emulator.
type Options struct {
	Region    string
	AccountID string
	// Credentials maps access key IDs to secret keys that sign requests.
	Credentials map[string]string
	// ActivationDelay is how long a new function stays Pending.
	ActivationDelay time.Duration
	// UpdateDelay is how long an update stays InProgress.
	UpdateDelay time.Duration
	// Latency is added to every request.
	Latency time.Duration
	// ConcurrentExecutions is the account's concurrency quota (default
	// 1000, Lambda's default).
	ConcurrentExecutions int
	// Now returns the current time; tests set it.
	Now func() time.Time
	// Permissions are what the caller's IAM policy allows (zero: every
	// action; see SetPermissions).
	Permissions Permissions
	// Logs shapes CloudWatch Logs reads (see SetLogsBehaviour).
	Logs LogsBehaviour
}

// Defaults for a local emulator.
const (
	DefaultRegion    = "us-east-1"
	DefaultAccountID = "123456789012"
	DefaultAccessKey = "AKIDFAASKUBELETLOCAL"
	DefaultSecretKey = "faas-kubelet-local-secret"
)

// Server is the emulator; it is an http.Handler.
type Server struct {
	opts   Options
	lambda *awsauth.Verifier
	logsV  *awsauth.Verifier
	ecrV   *awsauth.Verifier
	mux    *http.ServeMux

	mu        sync.Mutex
	functions map[string]*function
	groups    map[string]*logGroup
	seq       int
	refusals  faults.RefusalBook
	logsB     LogsBehaviour
	perms     Permissions
	images    Images
	ecrTokens map[string]time.Time // registry passwords issued, and when each expires

	*faults.Injector
}

// Fault is an error injected into the next calls of an operation; its Code
// is the AWS error type, derived from Status when empty.
type Fault = faults.Fault

// New returns an emulator with no functions.
func New(opts Options) *Server {
	if opts.Region == "" {
		opts.Region = DefaultRegion
	}
	if opts.AccountID == "" {
		opts.AccountID = DefaultAccountID
	}
	if opts.Credentials == nil {
		opts.Credentials = map[string]string{DefaultAccessKey: DefaultSecretKey}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ConcurrentExecutions == 0 {
		opts.ConcurrentExecutions = 1000
	}
	s := &Server{
		opts:      opts,
		lambda:    &awsauth.Verifier{Credentials: opts.Credentials, Service: "lambda"},
		logsV:     &awsauth.Verifier{Credentials: opts.Credentials, Service: "logs"},
		ecrV:      &awsauth.Verifier{Credentials: opts.Credentials, Service: "ecr"},
		functions: map[string]*function{},
		groups:    map[string]*logGroup{},
		Injector:  faults.New(),
		perms:     opts.Permissions,
		logsB:     opts.Logs,
	}
	s.routes()
	return s
}

type handler func(w http.ResponseWriter, r *http.Request) error

func (s *Server) routes() {
	m := http.NewServeMux()
	route := func(pattern, op string, h handler) {
		m.HandleFunc(pattern, s.wrap(op, s.lambda, h))
	}
	route("POST /2015-03-31/functions", "CreateFunction", s.createFunction)
	route("GET /2015-03-31/functions", "ListFunctions", s.listFunctions)
	route("GET /2015-03-31/functions/", "ListFunctions", s.listFunctions)
	route("GET /2015-03-31/functions/{name}", "GetFunction", s.getFunction)
	route("GET /2015-03-31/functions/{name}/configuration", "GetFunctionConfiguration", s.getFunctionConfiguration)
	route("DELETE /2015-03-31/functions/{name}", "DeleteFunction", s.deleteFunction)
	route("PUT /2015-03-31/functions/{name}/code", "UpdateFunctionCode", s.updateFunctionCode)
	route("PUT /2015-03-31/functions/{name}/configuration", "UpdateFunctionConfiguration", s.updateFunctionConfiguration)
	route("POST /2015-03-31/functions/{name}/invocations", "Invoke", s.invoke)
	route("GET /2017-03-31/tags/{arn}", "ListTags", s.listTags)
	route("POST /2017-03-31/tags/{arn}", "TagResource", s.tagResource)
	route("DELETE /2017-03-31/tags/{arn}", "UntagResource", s.untagResource)
	route("POST /2015-03-31/functions/{name}/policy", "AddPermission", s.addPermission)
	route("GET /2015-03-31/functions/{name}/policy", "GetPolicy", s.getPolicy)
	route("DELETE /2015-03-31/functions/{name}/policy/{sid}", "RemovePermission", s.removePermission)
	route("POST /2021-10-31/functions/{name}/url", "CreateFunctionUrlConfig", s.createURL)
	route("PUT /2021-10-31/functions/{name}/url", "UpdateFunctionUrlConfig", s.updateURL)
	route("GET /2021-10-31/functions/{name}/url", "GetFunctionUrlConfig", s.getURL)
	route("DELETE /2021-10-31/functions/{name}/url", "DeleteFunctionUrlConfig", s.deleteURL)
	route("PUT /2017-10-31/functions/{name}/concurrency", "PutFunctionConcurrency", s.putConcurrency)
	route("DELETE /2017-10-31/functions/{name}/concurrency", "DeleteFunctionConcurrency", s.deleteConcurrency)
	route("GET /2016-08-19/account-settings", "GetAccountSettings", s.accountSettings)
	route("GET /2016-08-19/account-settings/", "GetAccountSettings", s.accountSettings)
	m.HandleFunc("POST /{$}", s.logsDispatch)
	s.Register(m)
	s.refusals.Serve(m)
	s.servePermissions(m)
	s.serveLogsBehaviour(m)
	s.serveImages(m)
	m.HandleFunc("POST /_emulator/functions/{name}/deactivate", func(w http.ResponseWriter, r *http.Request) {
		if err := s.Deactivate(r.PathValue("name")); err != nil {
			writeError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	s.mux = m
}

// ServeHTTP serves Lambda, CloudWatch Logs, ECR's GetAuthorizationToken
// and, for a request whose Host is a function URL's, that function URL,
// or a private ECR registry's, that registry (see registry.go).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if id, ok := s.urlID(r.Host); ok {
		s.serveFunctionURL(w, r, id)
		return
	}
	if s.registryFor(r.Host) {
		s.serveRegistry(w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// wrap counts the call, applies latency and injected faults, verifies the
// signature and writes errors in the service's shape.
func (s *Server) wrap(op string, v *awsauth.Verifier, h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c := s.Begin(op, w, r) // the ledger and holds
		defer c.End()
		w = c.W
		f, faulty := c.Fault()
		if s.opts.Latency > 0 {
			time.Sleep(s.opts.Latency)
		}
		if _, err := v.Verify(r); err != nil {
			ae := err.(*awsauth.Error)
			writeError(w, &apiError{Status: ae.Status, Code: ae.Code, Message: ae.Message})
			return
		}
		if act := action("lambda", op); !s.allowed(act) {
			writeError(w, s.accessDenied(act, s.resourceOf(r)))
			return
		}
		if faulty {
			if f.After {
				_ = h(c.Discard(), r) // done, but the answer is lost
			}
			if f.RetryAfter > 0 {
				w.Header().Set("Retry-After", fmt.Sprint(f.RetryAfter))
			}
			writeError(w, faultError(f))
			return
		}
		if err := h(w, r); err != nil {
			writeError(w, err)
		}
	}
}

func faultError(f Fault) *apiError {
	code := f.Code
	if code == "" {
		switch {
		case f.Status == http.StatusTooManyRequests:
			code = "TooManyRequestsException"
		case f.Status >= 500:
			code = "ServiceException"
		default:
			code = "InvalidParameterValueException"
		}
	}
	return &apiError{Status: f.Status, Code: code, Message: "injected fault for " + f.Op}
}

// apiError is an error in Lambda's wire shape.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func writeError(w http.ResponseWriter, err error) {
	ae, ok := err.(*apiError)
	if !ok {
		ae = &apiError{Status: http.StatusInternalServerError, Code: "ServiceException", Message: err.Error()}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", ae.Code)
	w.Header().Set("X-Amzn-RequestId", newID())
	w.WriteHeader(ae.Status)
	kind := "User"
	if ae.Status >= 500 {
		kind = "Service"
	}
	_ = json.NewEncoder(w).Encode(map[string]string{"Type": kind, "message": ae.Message, "__type": ae.Code})
}

func notFound(format string, args ...any) *apiError {
	return &apiError{Status: http.StatusNotFound, Code: "ResourceNotFoundException", Message: fmt.Sprintf(format, args...)}
}

func invalid(format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "InvalidParameterValueException", Message: fmt.Sprintf(format, args...)}
}

func conflict(format string, args ...any) *apiError {
	return &apiError{Status: http.StatusConflict, Code: "ResourceConflictException", Message: fmt.Sprintf(format, args...)}
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-RequestId", newID())
	w.WriteHeader(status)
	if v == nil {
		return nil
	}
	return json.NewEncoder(w).Encode(v)
}

func decode(r *http.Request, v any) error {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		return &apiError{Status: http.StatusBadRequest, Code: "InvalidRequestContentException", Message: "Could not parse request body into json: " + err.Error()}
	}
	return nil
}

// functionName accepts a name, a partial ARN or a full ARN, with or without
// a qualifier, as Lambda does.
func functionName(nameOrARN string) string {
	if strings.HasPrefix(nameOrARN, "arn:") {
		parts := strings.Split(nameOrARN, ":")
		if len(parts) >= 7 {
			return parts[6]
		}
	}
	name, _, _ := strings.Cut(nameOrARN, ":")
	return name
}

func (s *Server) arn(name string) string {
	return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", s.opts.Region, s.opts.AccountID, name)
}
