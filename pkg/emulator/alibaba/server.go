package alibaba

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/faas-kubelet/faas-kubelet/pkg/emulator/faults"
)

// Options configure the emulator.
type Options struct {
	// Region is the region the emulated account lives in; it appears in ARNs
	// and decides which Container Registry hosts images may come from.
	Region    string
	AccountID string
	// Credentials maps access key IDs to the secrets that sign requests.
	Credentials map[string]string
	// AccelerationDelay is how long a custom-container function's image
	// acceleration (accelerationInfo.status) stays "Preparing" after a create
	// or an image update before it turns "Ready".
	AccelerationDelay time.Duration
	// Latency is added to every request.
	Latency time.Duration
	// Now returns the current time; tests set it.
	Now func() time.Time
	// Sleep is how an invocation's {"sleepMs": N} passes N ms; nil sleeps
	// for real, at most 30 s. Tests set it to step their clock, so that a
	// run past the function's timeout ends there without waiting.
	Sleep func(time.Duration)
}

// Defaults for a local emulator.
const (
	DefaultRegion          = "cn-hangzhou"
	DefaultAccountID       = "1234567890123456"
	DefaultAccessKeyID     = "LTAIFAASKUBELETLOCAL"
	DefaultAccessKeySecret = "faas-kubelet-local-secret"
)

// apiVersion prefixes every Function Compute 2.0 management path.
const apiVersion = "/2021-04-06"

// Fault is an error injected into the next calls of an operation. Its Code
// is the cloud's error code, derived from Status when empty.
type Fault = faults.Fault

// Server is the emulator; it is an http.Handler serving Function Compute and
// Simple Log Service on one listener.
type Server struct {
	opts Options
	mux  *http.ServeMux

	mu       sync.Mutex
	services map[string]*service
	projects map[string]*project
	// incomplete is how many GetLogs answers are still to say Incomplete.
	incomplete int
	// unindexed are fields the logstores have no field index on.
	unindexed map[string]bool
	refusals  faults.RefusalBook

	*faults.Injector
}

// New returns an emulator with no services.
func New(opts Options) *Server {
	if opts.Region == "" {
		opts.Region = DefaultRegion
	}
	if opts.AccountID == "" {
		opts.AccountID = DefaultAccountID
	}
	if opts.Credentials == nil {
		opts.Credentials = map[string]string{DefaultAccessKeyID: DefaultAccessKeySecret}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts:     opts,
		services: map[string]*service{},
		projects: map[string]*project{},
		Injector: faults.New(),
	}
	s.routes()
	return s
}

// handler serves one operation; body is the request body, already read and
// covered by the verified signature.
type handler func(w http.ResponseWriter, r *http.Request, body []byte) error

func (s *Server) routes() {
	m := http.NewServeMux()
	fc := func(method, path, op string, h handler) {
		m.HandleFunc(method+" "+apiVersion+path, s.wrap(op, s.verifyACS3, writeError, h))
	}
	const fn = "/services/{service}/functions/{function}"
	fc("POST", "/services", "CreateService", s.createService)
	fc("GET", "/services", "ListServices", s.listServices)
	fc("GET", "/services/{service}", "GetService", s.getService)
	fc("PUT", "/services/{service}", "UpdateService", s.updateService)
	fc("DELETE", "/services/{service}", "DeleteService", s.deleteService)
	fc("POST", "/services/{service}/functions", "CreateFunction", s.createFunction)
	fc("GET", "/services/{service}/functions", "ListFunctions", s.listFunctions)
	fc("GET", fn, "GetFunction", s.getFunction)
	fc("PUT", fn, "UpdateFunction", s.updateFunction)
	fc("DELETE", fn, "DeleteFunction", s.deleteFunction)
	fc("POST", fn+"/triggers", "CreateTrigger", s.createTrigger)
	fc("GET", fn+"/triggers", "ListTriggers", s.listTriggers)
	fc("GET", fn+"/triggers/{trigger}", "GetTrigger", s.getTrigger)
	fc("DELETE", fn+"/triggers/{trigger}", "DeleteTrigger", s.deleteTrigger)
	fc("POST", fn+"/invocations", "InvokeFunction", s.invokeFunction)
	fc("POST", "/tag", "TagResource", s.tagResource)
	fc("PUT", "/tag", "UntagResource", s.untagResource)
	fc("GET", "/tag", "GetResourceTags", s.getResourceTags)
	fc("GET", "/tags", "ListTaggedResources", s.listTaggedResources)
	fc("GET", "/account-settings", "GetAccountSettings", s.getAccountSettings)

	// HTTP triggers: authentication depends on the trigger, so the handler
	// checks it itself.
	proxy := s.wrap("InvokeHTTPTrigger", nil, writeError, s.httpTrigger)
	m.HandleFunc(proxyPrefix+"{qualified}/{function}", proxy)
	m.HandleFunc(proxyPrefix+"{qualified}/{function}/{path...}", proxy)

	m.HandleFunc("POST /logstores/{logstore}/logs", s.wrap("GetLogs", s.verifySLS, writeSLSError, s.getLogsV3))
	m.HandleFunc("GET /logstores/{logstore}", s.wrap("GetLogs", s.verifySLS, writeSLSError, s.getLogsV2))

	s.Register(m)
	s.refusals.Serve(m)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &apiError{Status: http.StatusBadRequest, Code: "PathNotSupported",
			Message: fmt.Sprintf("'%s' against '%s' is not supported", r.Method, r.URL.Path)})
	})
	s.mux = m
}

// ServeHTTP serves Function Compute and Simple Log Service.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// maxBody bounds request bodies: FC accepts synchronous payloads up to 32 MB.
const maxBody = 32 << 20

// wrap counts the call, applies latency, reads the body, verifies the
// signature (when verify is set), answers injected faults and writes errors
// in the service's shape.
func (s *Server) wrap(op string, verify func(*http.Request, []byte) error, writeErr func(http.ResponseWriter, error), h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c := s.Begin(op, w, r) // the ledger and holds
		defer c.End()
		w = c.W
		f, faulty := c.Fault()
		if s.opts.Latency > 0 {
			time.Sleep(s.opts.Latency)
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil {
			writeErr(w, err)
			return
		}
		if len(body) > maxBody {
			writeErr(w, &apiError{Status: http.StatusBadRequest, Code: "EntityTooLarge",
				Message: fmt.Sprintf("payload size exceeds maximum allowed size (%d bytes)", maxBody)})
			return
		}
		if verify != nil {
			if err := verify(r, body); err != nil {
				writeErr(w, err)
				return
			}
		}
		if faulty {
			if f.After {
				_ = h(c.Discard(), r, body) // done, but the answer is lost
			}
			if f.RetryAfter > 0 {
				w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
			}
			writeErr(w, faultError(f, op))
			return
		}
		if err := h(w, r, body); err != nil {
			writeErr(w, err)
		}
	}
}

func faultError(f Fault, op string) *apiError {
	code := f.Code
	if code == "" {
		switch {
		case op == "GetLogs" && f.Status == http.StatusTooManyRequests:
			code = "ReadQuotaExceed"
		case op == "GetLogs" && f.Status == http.StatusServiceUnavailable:
			code = "ServerBusy"
		case f.Status == http.StatusTooManyRequests:
			code = "ResourceThrottled"
		case f.Status == http.StatusServiceUnavailable:
			code = "ServiceUnavailable"
		case f.Status >= 500:
			code = "InternalServerError"
		default:
			code = "InjectedFault"
		}
	}
	return &apiError{Status: f.Status, Code: code, Message: "injected fault for " + f.Op}
}

// apiError is an error in Function Compute's (and SLS's) wire shape.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func asAPIError(err error) *apiError {
	if ae, ok := err.(*apiError); ok {
		return ae
	}
	return &apiError{Status: http.StatusInternalServerError, Code: "InternalServerError", Message: err.Error()}
}

// writeError answers as Function Compute does: the status, an
// x-fc-request-id header and {"errorCode", "errorMessage"}.
func writeError(w http.ResponseWriter, err error) {
	ae := asAPIError(err)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Fc-Request-Id", newID())
	w.WriteHeader(ae.Status)
	_ = json.NewEncoder(w).Encode(map[string]string{"errorCode": ae.Code, "errorMessage": ae.Message})
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("X-Fc-Request-Id", newID())
	if v == nil {
		w.WriteHeader(status)
		return nil
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

func decode(body []byte, v any) error {
	if len(body) == 0 {
		return invalid("request body is empty")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return invalid("request body is not valid JSON: %v", err)
	}
	return nil
}

func invalid(format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "InvalidArgument", Message: fmt.Sprintf(format, args...)}
}

func notFound(code, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusNotFound, Code: code, Message: fmt.Sprintf(format, args...)}
}

func conflict(code, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusConflict, Code: code, Message: fmt.Sprintf(format, args...)}
}

// notEmpty refuses to delete a parent that still has children. FC names the
// codes ServiceNotEmpty and FunctionNotEmpty; 412 is its status for failed
// preconditions.
func notEmpty(code, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusPreconditionFailed, Code: code, Message: fmt.Sprintf(format, args...)}
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// timeLayout is how FC 2.0 writes createdTime and lastModifiedTime,
// e.g. 2016-08-15T15:00:00.000+0000.
const timeLayout = "2006-01-02T15:04:05.000-0700"

func (s *Server) now() string { return s.opts.Now().UTC().Format(timeLayout) }

// page selects one page of sorted names as FC's list operations do: prefix
// filters, startKey and nextToken (the first name of the page) position,
// limit (default 20, at most 100) bounds, and the returned token names the
// first item of the next page.
func page(names []string, q url.Values) ([]string, string, error) {
	limit := 20
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			return nil, "", invalid("limit should be in range [1, 100], got '%s'", v)
		}
		limit = n
	}
	sort.Strings(names)
	start := max(q.Get("startKey"), q.Get("nextToken"))
	var out []string
	for _, n := range names {
		if !strings.HasPrefix(n, q.Get("prefix")) || n < start {
			continue
		}
		if len(out) == limit {
			return out, n, nil
		}
		out = append(out, n)
	}
	return out, "", nil
}
