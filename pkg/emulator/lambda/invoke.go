package lambda

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

const maxSleep = 30 * time.Second

// msgNotReady is ResourceNotReadyException's text, as the API reference
// words the error.
const msgNotReady = "The function is inactive and its VPC connection is no longer available. Wait for the VPC connection to reestablish and try again."

// Deactivate makes an Active function Inactive, as Lambda does a function
// idle long enough to reclaim its resources; its next invocation fails
// with ResourceNotReadyException and restores it (Pending for
// ActivationDelay, then Active).
func (s *Server) Deactivate(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.get(name)
	if err != nil {
		return err
	}
	if f.cfg.State != "Active" {
		return conflict("function %s is %s, not Active", name, f.cfg.State)
	}
	f.cfg.State, f.cfg.StateReasonCode, f.cfg.StateReason = "Inactive", "Idle", "The function is inactive because it has been idle."
	return nil
}

// invoke runs the emulated function: see the package doc for its behaviour.
func (s *Server) invoke(w http.ResponseWriter, r *http.Request) error {
	payload, err := io.ReadAll(io.LimitReader(r.Body, 6<<20+1))
	if err != nil {
		return err
	}
	if len(payload) > 6<<20 {
		return &apiError{Status: http.StatusRequestEntityTooLarge, Code: "RequestTooLargeException", Message: "Request must be smaller than 6291456 bytes for the InvokeFunction operation"}
	}
	typ := r.Header.Get("X-Amz-Invocation-Type")
	if typ == "" {
		typ = "RequestResponse"
	}
	inv, err := s.invocable(r.PathValue("name"))
	if err != nil {
		return err
	}

	switch typ {
	case "DryRun":
		return writeJSON(w, http.StatusNoContent, nil)
	case "Event":
		id := newID()
		go s.run(inv, payload, id)
		w.Header().Set("X-Amzn-RequestId", id)
		w.WriteHeader(http.StatusAccepted)
		return nil
	case "RequestResponse":
	default:
		return invalid("1 validation error detected: Value '%s' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]", typ)
	}
	res := s.run(inv, payload, newID())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amz-Executed-Version", "$LATEST")
	w.Header().Set("X-Amzn-RequestId", res.requestID)
	if res.fnErr != "" {
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
	}
	if r.Header.Get("X-Amz-Log-Type") == "Tail" {
		tail := res.log
		if len(tail) > 4096 {
			tail = tail[len(tail)-4096:]
		}
		w.Header().Set("X-Amz-Log-Result", base64.StdEncoding.EncodeToString([]byte(tail)))
	}
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(res.body)
	return err
}

// invocation is what one invocation runs with: the configuration, its
// environment and image, and the architecture the image was built for
// when that is not the function's (the runtime cannot start).
type invocation struct {
	cfg      configuration
	env      map[string]string
	image    string
	builtFor string
}

// invocable returns what an invocation of the function runs with, or the
// error Lambda answers for its state.
func (s *Server) invocable(name string) (invocation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.get(name)
	if err != nil {
		return invocation{}, err
	}
	switch f.cfg.State {
	case "Inactive":
		// The call fails and starts the restore (see the package doc).
		now := s.opts.Now()
		f.cfg.State, f.cfg.StateReasonCode, f.cfg.StateReason = "Pending", "Restoring", "The function is being restored."
		f.activeAt = now.Add(s.opts.ActivationDelay)
		return invocation{}, &apiError{Status: http.StatusBadGateway, Code: "ResourceNotReadyException", Message: msgNotReady}
	case "Pending":
		return invocation{}, conflict("The operation cannot be performed at this time. The function is currently in the following state: Pending")
	case "Failed":
		return invocation{}, &apiError{Status: http.StatusBadGateway, Code: "InvalidImageException", Message: f.cfg.StateReason}
	}
	inv := invocation{cfg: f.cfg, image: f.code.ImageUri}
	if f.serving != nil {
		inv.cfg, inv.image = *f.serving, f.servingImage // the update has not rolled in yet
	}
	inv.env = map[string]string{}
	if inv.cfg.Environment != nil {
		inv.env = inv.cfg.Environment.Variables
	}
	if built, wrong := s.wrongArchitectureLocked(inv.image, inv.cfg.Architectures); wrong {
		inv.builtFor = built
	}
	return inv, nil
}

type result struct {
	requestID string
	body      []byte
	fnErr     string
	log       string
}

// steering is what an emulated function reads from its event (see the
// package doc). A function URL's event carries the query string in
// queryStringParameters.
type steering struct {
	Fail    *string `json:"fail"`
	SleepMs int     `json:"sleepMs"`
	Env     bool    `json:"env"`
	Query   struct {
		Env string `json:"env"`
	} `json:"queryStringParameters"`
}

func (s *Server) run(inv invocation, payload []byte, id string) result {
	cfg, env := inv.cfg, inv.env
	if inv.builtFor != "" {
		return s.launchError(inv, id)
	}
	start := s.opts.Now()
	var steer steering
	_ = json.Unmarshal(payload, &steer) // a field of the wrong type is left out
	lines := []string{fmt.Sprintf("START RequestId: %s Version: $LATEST", id)}
	if msg := env["EMULATOR_LOG"]; msg != "" {
		lines = append(lines, msg)
	}
	if memoryUsed(env) > cfg.MemorySize {
		return s.outOfMemory(cfg, id, lines, s.opts.Now().Sub(start))
	}
	res := result{requestID: id}
	if steer.SleepMs > 0 {
		sleep, timeout := min(time.Duration(steer.SleepMs)*time.Millisecond, maxSleep), time.Duration(cfg.Timeout)*time.Second
		if timeout > 0 && sleep > timeout {
			time.Sleep(timeout)
			return s.timedOut(cfg, env, id, lines)
		}
		time.Sleep(sleep)
	}
	fail := env["EMULATOR_FAIL"]
	if steer.Fail != nil {
		fail = *steer.Fail
	}
	switch {
	case steer.Env || steer.Query.Env != "":
		// The emulator's convenience: the function's own environment, as
		// its configuration holds it.
		res.body, _ = json.Marshal(env)
		lines = append(lines, fmt.Sprintf("echoed %d environment variables", len(env)))
	case fail != "":
		res.fnErr = fail
		body, _ := json.Marshal(map[string]any{"errorMessage": fail, "errorType": "EmulatedError", "requestId": id, "stackTrace": []string{}})
		res.body = body
		lines = append(lines, fmt.Sprintf("%s\tERROR\tInvoke Error \t%s", time.Now().UTC().Format(time.RFC3339Nano), string(body)))
	default:
		res.body = payload
		if len(strings.TrimSpace(string(payload))) == 0 {
			res.body = []byte("{}")
		}
		lines = append(lines, fmt.Sprintf("received %d bytes: %s", len(payload), truncate(string(payload), 256)))
	}
	d := s.opts.Now().Sub(start)
	lines = append(lines, fmt.Sprintf("END RequestId: %s", id), reportLine(id, d, cfg.MemorySize, memoryUsed(env), ""))
	s.appendLogs(cfg.LoggingConfig.LogGroup, cfg.FunctionName, lines)
	res.log = strings.Join(lines, "\n") + "\n"
	return res
}

// reportLine is Lambda's REPORT line; status, when set, is what follows
// Max Memory Used (Lambda's "Status: timeout", "Status: error\tError
// Type: ...").
func reportLine(id string, d time.Duration, size, used int32, status string) string {
	ms := float64(d.Microseconds()) / 1000
	return fmt.Sprintf("REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %d ms\tMemory Size: %d MB\tMax Memory Used: %d MB\t%s",
		id, ms, int64(ms)+1, size, used, status)
}

// timedOut ends an invocation that ran past the function's Timeout as
// Lambda does: a function error of type Sandbox.Timedout, and the log's
// "Task timed out" line after its REPORT (see the package doc).
func (s *Server) timedOut(cfg configuration, env map[string]string, id string, lines []string) result {
	msg := fmt.Sprintf("Task timed out after %.2f seconds", float64(cfg.Timeout))
	body, _ := json.Marshal(map[string]string{"errorType": "Sandbox.Timedout", "errorMessage": "RequestId: " + id + " Error: " + msg})
	ms := int64(cfg.Timeout) * 1000
	lines = append(lines,
		fmt.Sprintf("END RequestId: %s", id),
		fmt.Sprintf("REPORT RequestId: %s\tDuration: %d.00 ms\tBilled Duration: %d ms\tMemory Size: %d MB\tMax Memory Used: %d MB\tStatus: timeout",
			id, ms, ms, cfg.MemorySize, min(cfg.MemorySize, memoryUsed(env))),
		fmt.Sprintf("%s %s %s", time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), id, msg))
	s.appendLogs(cfg.LoggingConfig.LogGroup, cfg.FunctionName, lines)
	return result{requestID: id, body: body, fnErr: "Sandbox.Timedout", log: strings.Join(lines, "\n") + "\n"}
}

// msgKilled is the runtime's end when Lambda kills it for its memory.
const msgKilled = "Runtime exited with error: signal: killed"

// outOfMemory ends an invocation whose memory passed the function's
// MemorySize as Lambda does: the runtime is killed, a function error of
// type Runtime.OutOfMemory, a REPORT whose Max Memory Used is the Memory
// Size, and the error after it (see the package doc).
func (s *Server) outOfMemory(cfg configuration, id string, lines []string, d time.Duration) result {
	body, _ := json.Marshal(map[string]string{"errorType": "Runtime.OutOfMemory", "errorMessage": "RequestId: " + id + " Error: " + msgKilled})
	lines = append(lines,
		fmt.Sprintf("END RequestId: %s", id),
		reportLine(id, d, cfg.MemorySize, cfg.MemorySize, "Status: error\tError Type: Runtime.OutOfMemory"),
		fmt.Sprintf("RequestId: %s Error: %s", id, msgKilled),
		"Runtime.OutOfMemory")
	s.appendLogs(cfg.LoggingConfig.LogGroup, cfg.FunctionName, lines)
	return result{requestID: id, body: body, fnErr: "Runtime.OutOfMemory", log: strings.Join(lines, "\n") + "\n"}
}

// launchError ends an invocation whose image was built for another
// architecture as Lambda does: the entrypoint cannot be executed, a
// function error of type Runtime.InvalidEntrypoint, and the IMAGE launch
// error and INIT_REPORT lines before START (see the package doc).
func (s *Server) launchError(inv invocation, id string) result {
	entrypoint, cmd, dir := []string{"/lambda-entrypoint.sh"}, []string{}, "/var/task"
	if ic := inv.cfg.ImageConfigResponse; ic != nil && ic.ImageConfig != nil {
		if len(ic.ImageConfig.EntryPoint) > 0 {
			entrypoint = ic.ImageConfig.EntryPoint
		}
		if ic.ImageConfig.Command != nil {
			cmd = ic.ImageConfig.Command
		}
		if ic.ImageConfig.WorkingDirectory != "" {
			dir = ic.ImageConfig.WorkingDirectory
		}
	}
	msg := fmt.Sprintf("fork/exec %s: exec format error", entrypoint[0])
	body, _ := json.Marshal(map[string]string{"errorType": "Runtime.InvalidEntrypoint", "errorMessage": "RequestId: " + id + " Error: " + msg})
	lines := []string{
		fmt.Sprintf("IMAGE\tLaunch error: %s\tEntrypoint: %v\tCmd: %v\tWorkingDir: [%s]", msg, entrypoint, cmd, dir),
		"INIT_REPORT Init Duration: 0.50 ms\tPhase: invoke\tStatus: error\tError Type: Runtime.InvalidEntrypoint",
		fmt.Sprintf("START RequestId: %s Version: $LATEST", id),
		fmt.Sprintf("RequestId: %s Error: %s", id, msg),
		"Runtime.InvalidEntrypoint",
		fmt.Sprintf("END RequestId: %s", id),
		reportLine(id, 0, inv.cfg.MemorySize, 3, ""),
	}
	s.appendLogs(inv.cfg.LoggingConfig.LogGroup, inv.cfg.FunctionName, lines)
	return result{requestID: id, body: body, fnErr: "Runtime.InvalidEntrypoint", log: strings.Join(lines, "\n") + "\n"}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// memoryUsed is the peak memory an emulated invocation uses, in MB: the
// function's EMULATOR_MEMORY_MB, else 42; past the function's MemorySize,
// Lambda kills the runtime.
func memoryUsed(env map[string]string) int32 {
	if n, err := strconv.Atoi(env["EMULATOR_MEMORY_MB"]); err == nil && n > 0 {
		return int32(min(n, 10240))
	}
	return 42
}
