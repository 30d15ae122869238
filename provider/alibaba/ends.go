package alibaba

import (
	"errors"
	"regexp"
	"strconv"
	"strings"

	fc "github.com/alibabacloud-go/fc-open-20210406/v2/client"
	"github.com/alibabacloud-go/tea/tea"

	"github.com/faas-kubelet/faas-kubelet/provider/translate"
)

// How Function Compute ends an invocation that did not succeed (the
// emulator's documentation names the source of each):
//   - past the function's timeout: a function error "Function timed out
//     after N seconds (maxMemoryUsage: ...)" (FC's FAQ spells it "Function
//     time out after");
//   - killed out of memory: a function error "Process exited unexpectedly
//     before completing request (duration: ..., maxMemoryUsage: ...)", the
//     message of any process exit, told apart by a peak memory at the
//     function's memorySize;
//   - a custom container or runtime that cannot start: the API error
//     FunctionNotStarted (FC 2.0), CAExited or CAFileNotFound (FC 3.0's
//     codes), or a function error of the custom runtime's start failures
//     ("Failed to start function instance", "Function instance health
//     check failed", "Function instance exited unexpectedly").
const (
	msgProcessExited = "Process exited unexpectedly before completing request"
	// oomShare is how close to memorySize a process exit's peak memory
	// must be to read as an OOM kill: the kernel kills at the limit, and
	// FC's figure is a sampled peak, so a little under it counts (our
	// reading).
	oomShare = 0.95
)

var (
	timedOut = regexp.MustCompile(`^Function time(d)? out after`)
	// peakMemory reads "maxMemoryUsage: 512MB" or "maxMemoryUsage: 47.28MB".
	peakMemory = regexp.MustCompile(`maxMemoryUsage: ([0-9.]+)MB`)
)

// startFailures are the API error codes of a function that cannot start.
var startFailures = map[string]bool{"FunctionNotStarted": true, "CAExited": true, "CAFileNotFound": true}

// startFailureMessages begin the function errors of a custom runtime that
// cannot start (Custom Runtime, Error handling).
var startFailureMessages = []string{"The function cannot be started", "Failed to start function instance",
	"Function instance health check failed", "Function instance exited unexpectedly", "The CA's http server cannot be started"}

// notStarted turns FC's refusal of an invocation because the function
// cannot start into the invocation's result.
func notStarted(err error) (*translate.Invocation, bool) {
	var e *apiError
	if !errors.As(err, &e) || !startFailures[e.Code] {
		return nil, false
	}
	return &translate.Invocation{FunctionError: e.Code + ": " + e.Message, End: translate.EndStartError}, true
}

// invocationEnd reads how a failed invocation of function name ended from
// its errorMessage and its X-Fc-Max-Memory-Usage header (MB).
func (b *Backend) invocationEnd(name, msg, maxMemory string) translate.InvocationEnd {
	switch {
	case timedOut.MatchString(msg):
		return translate.EndTimeout
	case strings.HasPrefix(msg, msgProcessExited):
		if b.atMemoryLimit(name, msg, maxMemory) {
			return translate.EndOutOfMemory
		}
	}
	for _, p := range startFailureMessages {
		if strings.HasPrefix(msg, p) {
			return translate.EndStartError
		}
	}
	return translate.EndError
}

// atMemoryLimit says whether a process exit's peak memory reached the
// function's memorySize, read with GetFunction (a failed read is no).
func (b *Backend) atMemoryLimit(name, msg, maxMemory string) bool {
	peak, err := strconv.ParseFloat(strings.TrimSpace(maxMemory), 64)
	if err != nil {
		m := peakMemory.FindStringSubmatch(msg)
		if m == nil {
			return false
		}
		if peak, err = strconv.ParseFloat(m[1], 64); err != nil {
			return false
		}
	}
	out, err := b.api.GetFunctionWithOptions(tea.String(name), tea.String(name), &fc.GetFunctionRequest{}, &fc.GetFunctionHeaders{}, rt())
	if err != nil || out.Body == nil {
		return false
	}
	limit := float64(tea.Int32Value(out.Body.MemorySize))
	return limit > 0 && peak >= oomShare*limit
}
