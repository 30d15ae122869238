package alibaba

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"
)

const (
	maxSleep = 30 * time.Second
	// maxAsyncPayload is FC's limit on an asynchronous invocation's payload.
	maxAsyncPayload = 128 << 10
)

// invocation is what a run needs from the service and function, copied
// under the lock so that the run itself holds none.
type invocation struct {
	service  string
	function string
	log      logConfig
	env      map[string]string
	memory   int32
	// timeout is the function's timeout in seconds.
	timeout int32
	// image is the custom container's image, "" for other runtimes.
	image string
	async bool
}

func (s *Server) invocation(svc *service, f *function) invocation {
	inv := invocation{
		service: svc.cfg.ServiceName, function: f.cfg.FunctionName, log: svc.cfg.LogConfig,
		env: maps.Clone(f.cfg.EnvironmentVariables), memory: f.cfg.MemorySize, timeout: f.cfg.Timeout,
	}
	if cc := f.cfg.CustomContainerConfig; cc != nil {
		inv.image = cc.Image
	}
	return inv
}

// notStarted is FC's answer to an invocation of a custom container that
// cannot start, for an image whose tag is "fail-start" (see the package
// doc), nil otherwise.
func notStarted(inv invocation) error {
	if inv.image == "" || imageTag(inv.image) != "fail-start" {
		return nil
	}
	return &apiError{Status: http.StatusPreconditionFailed, Code: "FunctionNotStarted",
		Message: "The CA's http server cannot be started: ContainerStartDuration:25000000000. Ping CA failed due to: " +
			"dial tcp 21.0.0.1:9000: getsockopt: connection refused Logs: exec /app/main: exec format error"}
}

// invokeFunction runs the emulated function: see the package doc for its
// behaviour.
func (s *Server) invokeFunction(w http.ResponseWriter, r *http.Request, body []byte) error {
	typ := r.Header.Get("X-Fc-Invocation-Type")
	switch typ {
	case "":
		typ = "Sync"
	case "Sync", "Async":
	default:
		return invalid("X-Fc-Invocation-Type must be Sync or Async, got '%s'", typ)
	}
	svcName := r.PathValue("service")
	if err := qualifier(r.URL.Query().Get("qualifier"), svcName); err != nil {
		return err
	}
	s.mu.Lock()
	svc, f, err := s.function(svcName, r.PathValue("function"))
	var inv invocation
	if err == nil {
		inv = s.invocation(svc, f)
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if typ == "Sync" {
		if err := notStarted(inv); err != nil {
			return err
		}
	}
	if typ == "Async" {
		if len(body) > maxAsyncPayload {
			return &apiError{Status: http.StatusBadRequest, Code: "EntityTooLarge",
				Message: "payload size exceeds maximum allowed size (" + strconv.Itoa(maxAsyncPayload) + " bytes)"}
		}
		id := newID()
		inv.async = true
		go s.run(inv, body, id)
		w.Header().Set("X-Fc-Request-Id", id)
		w.WriteHeader(http.StatusAccepted)
		return nil
	}
	res := s.run(inv, body, newID())
	h := w.Header()
	h.Set("X-Fc-Request-Id", res.requestID)
	h.Set("X-Fc-Invocation-Service-Version", "LATEST")
	h.Set("X-Fc-Invocation-Duration", strconv.FormatInt(max(res.duration.Milliseconds(), 1), 10))
	h.Set("X-Fc-Max-Memory-Usage", strconv.Itoa(int(res.memoryUsed)))
	if json.Valid(res.body) {
		h.Set("Content-Type", "application/json")
	} else {
		h.Set("Content-Type", "application/octet-stream")
	}
	if res.fnErr != "" {
		h.Set("X-Fc-Error-Type", "UnhandledInvocationError")
	}
	if r.Header.Get("X-Fc-Log-Type") == "Tail" {
		tail := res.log
		if len(tail) > 4096 {
			tail = tail[len(tail)-4096:]
		}
		h.Set("X-Fc-Log-Result", base64.StdEncoding.EncodeToString([]byte(tail)))
	}
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(res.body)
	return err
}

type result struct {
	requestID string
	body      []byte
	fnErr     string
	log       string
	duration  time.Duration
	// memoryUsed is the invocation's peak memory in MB.
	memoryUsed int32
}

// memoryUsed is an invocation's peak memory in MB: the function's
// EMULATOR_MEMORY_MB, else 42, at most memorySize (a function that would
// use more is killed at it).
func (inv invocation) memoryUsed() (used int32, oom bool) {
	used = 42
	if n, err := strconv.Atoi(inv.env["EMULATOR_MEMORY_MB"]); err == nil && n > 0 {
		used = int32(min(n, 32768))
	}
	if inv.memory > 0 && used > inv.memory {
		return inv.memory, true
	}
	return used, false
}

// sleep passes d of an invocation and returns how much of it real time
// does not show (all of it when Options.Sleep steps a test's clock).
func (s *Server) sleep(d time.Duration) time.Duration {
	if s.opts.Sleep != nil {
		s.opts.Sleep(d)
		return d
	}
	time.Sleep(min(d, maxSleep))
	return 0
}

// run executes one invocation and writes its log lines to the service's
// logstore, as FC's runtime does: see the package doc for how the payload
// and the function's settings steer it.
func (s *Server) run(inv invocation, payload []byte, id string) result {
	start := time.Now()
	var steer struct {
		Fail    *string `json:"fail"`
		SleepMs int     `json:"sleepMs"`
		Env     bool    `json:"env"`
	}
	_ = json.Unmarshal(payload, &steer)
	lines := []string{"FC Invoke Start RequestId: " + id}
	res := result{requestID: id}
	used, oom := inv.memoryUsed()
	res.memoryUsed = used
	run := time.Duration(steer.SleepMs) * time.Millisecond
	limit := time.Duration(inv.timeout) * time.Second
	timedOut := inv.timeout > 0 && run > limit
	var unseen time.Duration
	if timedOut {
		unseen = s.sleep(limit)
	} else if run > 0 {
		unseen = s.sleep(run)
	}
	if msg := inv.env["EMULATOR_LOG"]; msg != "" {
		lines = append(lines, msg)
	}
	res.duration = time.Since(start) + unseen
	fail := inv.env["EMULATOR_FAIL"]
	if steer.Fail != nil {
		fail = *steer.Fail
	}
	end := "FC Invoke End RequestId: " + id
	switch {
	case timedOut:
		res.fnErr = fmt.Sprintf("Function timed out after %d seconds (maxMemoryUsage: %.2fMB)", inv.timeout, float64(used))
		res.body, _ = json.Marshal(map[string]string{"errorMessage": res.fnErr})
		end += ", Error: " + res.fnErr
	case oom:
		res.fnErr = fmt.Sprintf("Process exited unexpectedly before completing request (duration: %dms, maxMemoryUsage: %dMB)",
			max(res.duration.Milliseconds(), 1), used)
		res.body, _ = json.Marshal(map[string]string{"errorMessage": res.fnErr})
		end += ", Error: " + res.fnErr
	case fail != "":
		res.fnErr = fail
		res.body, _ = json.Marshal(map[string]any{"errorMessage": fail, "errorType": "Error", "stackTrace": []string{}})
		lines = append(lines, "Error: "+fail)
	case steer.Env:
		res.body, _ = json.Marshal(inv.env)
	default:
		res.body = payload
		if len(strings.TrimSpace(string(payload))) == 0 {
			res.body = []byte("{}")
		}
	}
	lines = append(lines, end)
	s.appendLogs(inv.log, inv.service, inv.function, lines)
	if inv.log.EnableRequestMetrics {
		s.appendRequestMetrics(inv, id, start, res)
	}
	res.log = strings.Join(lines, "\n") + "\n"
	return res
}

// appendRequestMetrics writes the invocation's request-level metrics entry,
// as FC does for a service whose logConfig enables them: topic
// FCRequestMetrics:/<service>/<function>, the figures as strings. The peak
// memory is the function's EMULATOR_MEMORY_MB, else 42, at most memorySize.
func (s *Server) appendRequestMetrics(inv invocation, id string, start time.Time, res result) {
	used := res.memoryUsed
	typ := "Sync"
	if inv.async {
		typ = "Async"
	}
	s.appendEntries(inv.log, []map[string]string{{
		"__topic__": "FCRequestMetrics:/" + inv.service + "/" + inv.function, "__source__": "",
		"serviceName": inv.service, "functionName": inv.function, "qualifier": "LATEST", "versionId": "",
		"requestId": id, "operation": "InvokeFunction", "invocationType": typ, "isColdStart": "false",
		"hasFunctionError": strconv.FormatBool(res.fnErr != ""),
		"durationMs":       strconv.FormatFloat(float64(res.duration.Microseconds())/1000, 'f', 2, 64),
		"memoryMB":         strconv.Itoa(int(inv.memory)), "memoryUsageMB": strconv.FormatFloat(float64(used), 'f', 2, 64),
		"invocationStartTimestamp": strconv.FormatInt(start.UnixMilli(), 10),
	}})
}
