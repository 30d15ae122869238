package azure

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Function timeouts (host.json's functionTimeout) when the app sets none:
// 5 minutes on Consumption, 30 on the other plans (Function app time-out
// duration, includes/functions-timeout-duration.md).
const (
	settingFunctionTimeout     = "AzureFunctionsJobHost__functionTimeout"
	defaultTimeoutConsumption  = 5 * time.Minute
	defaultTimeoutOtherPlans   = 30 * time.Minute
	maxRealSleep               = 30 * time.Second
	hostTimeoutShutdownLogLine = "A function timeout has occurred. Host is shutting down."
)

// platformSettings are the app settings the platform or the node holds
// (connection strings, registry credentials, the host's own
// configuration): an environment echo leaves them out, so that no secret
// is echoed.
var platformSettings = []string{
	settingStorage, "AzureWebJobsDashboard", "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING", "WEBSITE_CONTENTSHARE",
	"DOCKER_REGISTRY_SERVER_URL", "DOCKER_REGISTRY_SERVER_USERNAME", "DOCKER_REGISTRY_SERVER_PASSWORD",
	"APPLICATIONINSIGHTS_CONNECTION_STRING", "APPINSIGHTS_INSTRUMENTATIONKEY",
	"FUNCTIONS_EXTENSION_VERSION", "WEBSITES_ENABLE_APP_SERVICE_STORAGE",
}

// userSettings are the app's settings but the platform's.
func userSettings(settings map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range settings {
		platform := strings.HasPrefix(strings.ToLower(k), strings.ToLower(settingStorage)+"__")
		for _, p := range platformSettings {
			platform = platform || strings.EqualFold(k, p)
		}
		if !platform {
			out[k] = v
		}
	}
	return out
}

// functionTimeout is the app's functionTimeout: its setting (hh:mm:ss),
// else its plan's default; s.mu is held.
func (s *Server) functionTimeout(st *site) time.Duration {
	for k, v := range st.Settings {
		if strings.EqualFold(k, settingFunctionTimeout) {
			if d, ok := parseTimeSpan(v); ok {
				return d
			}
		}
	}
	if s.planSKU(serverFarm(st.Body)).Tier == "Dynamic" {
		return defaultTimeoutConsumption
	}
	return defaultTimeoutOtherPlans
}

// parseTimeSpan reads a .NET TimeSpan of the form [d.]hh:mm:ss.
func parseTimeSpan(v string) (time.Duration, bool) {
	var days int
	if d, rest, ok := strings.Cut(v, "."); ok && !strings.Contains(d, ":") {
		n, err := strconv.Atoi(d)
		if err != nil {
			return 0, false
		}
		days, v = n, rest
	}
	parts := strings.Split(v, ":")
	if len(parts) != 3 {
		return 0, false
	}
	var n [3]int
	for i, p := range parts {
		x, err := strconv.Atoi(p)
		if err != nil || x < 0 {
			return 0, false
		}
		n[i] = x
	}
	return time.Duration(days)*24*time.Hour + time.Duration(n[0])*time.Hour + time.Duration(n[1])*time.Minute + time.Duration(n[2])*time.Second, true
}

// timeSpan writes d as the host writes a timeout, hh:mm:ss.
func timeSpan(d time.Duration) string {
	n := int(d / time.Second)
	return fmt.Sprintf("%02d:%02d:%02d", n/3600, n/60%60, n%60)
}

// sleep passes d of a run and returns how much of it real time does not
// show (all of it when Options.Sleep steps a test's clock).
func (s *Server) sleep(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	if s.opts.Sleep != nil {
		s.opts.Sleep(d)
		return d
	}
	time.Sleep(min(d, maxRealSleep))
	return 0
}

// invokeApp is an app's HTTP trigger (https://<app>.azurewebsites.net/api/<function>
// on Azure): it checks the function key, logs the execution and echoes the
// body; the app setting EMULATOR_FAIL makes it answer 500 with that
// message. A body {"sleepMs": n} runs that long. A run longer than the
// app's functionTimeout ends at it, answered 500, and its host restarts; a
// run that ends after Options.FrontEndTimeout is answered 502 by the front
// end once that timeout passed, and logged with its whole duration, as the
// host runs it on. A body {"env": true}, or the query ?env=1, answers the
// app's settings but the platform's (an emulator convenience).
func (s *Server) invokeApp(w http.ResponseWriter, r *http.Request) {
	c := s.Begin("InvokeFunction", w, r) // the ledger and holds
	defer c.End()
	w = c.W
	s.Call("InvokeFunction")
	name, fn := r.PathValue("name"), r.PathValue("function")
	if r.Header.Get("x-functions-key") != hostKey(name) {
		http.Error(w, "", http.StatusUnauthorized)
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 100<<20))
	start := time.Now()
	var steer struct {
		SleepMs int  `json:"sleepMs"`
		Env     bool `json:"env"`
	}
	_ = json.Unmarshal(body, &steer)
	echoEnv := steer.Env || r.URL.Query().Get("env") == "1"
	limit := defaultTimeoutConsumption
	var env map[string]string
	s.mu.Lock()
	if st := s.siteNamed(name); st != nil {
		limit = s.functionTimeout(st)
		env = userSettings(st.Settings)
	}
	s.mu.Unlock()
	run := time.Duration(steer.SleepMs) * time.Millisecond
	timedOut := run > limit
	if timedOut {
		run = limit
	}
	cut := run > s.opts.FrontEndTimeout
	unseen := s.sleep(min(run, s.opts.FrontEndTimeout))
	took := time.Since(start) + unseen
	if cut {
		took = run // the host runs the function on; only the caller is cut off
	}
	var timeout time.Duration
	if timedOut {
		timeout = limit
	}
	fail, down := s.execute(name, fn, "This function was programmatically called via the host APIs.", "", took, timeout)
	switch {
	case down != "":
		http.Error(w, unavailable(down), http.StatusServiceUnavailable)
	case cut:
		http.Error(w, frontEndTimeoutBody, http.StatusBadGateway)
	case timedOut:
		w.WriteHeader(http.StatusInternalServerError)
	case fail != "":
		http.Error(w, fail, http.StatusInternalServerError)
	case echoEnv:
		_ = writeJSON(w, http.StatusOK, env)
	default:
		w.Header().Set("Content-Type", "application/json")
		if len(body) == 0 {
			body = []byte("{}")
		}
		_, _ = w.Write(body)
	}
}

// invokeAdmin is the Functions host's admin API for running a function
// (POST https://<app>.azurewebsites.net/admin/functions/<function>): it
// takes the master key and {"input": "..."} and answers 202 Accepted with
// no body; the run, logged with the caller's x-ms-client-request-id,
// then fails, as every emulated function is HTTP-triggered (see
// runWithoutRequest).
func (s *Server) invokeAdmin(w http.ResponseWriter, r *http.Request) {
	s.Call("InvokeFunctionAdmin")
	name, fn := r.PathValue("name"), r.PathValue("function")
	if r.Header.Get("x-functions-key") != "master-"+hostKey(name) {
		http.Error(w, "", http.StatusUnauthorized)
		return
	}
	var in struct {
		Input *string `json:"input"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 100<<20)).Decode(&in); err != nil || in.Input == nil {
		http.Error(w, `{"message":"The input field is required."}`, http.StatusBadRequest)
		return
	}
	if down := s.runWithoutRequest(name, fn, r.Header.Get("x-ms-client-request-id")); down != "" {
		http.Error(w, unavailable(down), http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// frontEndTimeoutBody is the emulator's body of the front end's 502.
const frontEndTimeoutBody = "502 - The request timed out: the function did not answer within the front end's timeout (230 seconds on Azure)."

// runWithoutRequest is the host's run of an HTTP-triggered function through
// the admin API: every emulated function is HTTP-triggered, and the admin
// API binds no HttpRequest to its trigger parameter, so the run fails
// after the 202 and the host logs why; s.mu is not held.
func (s *Server) runWithoutRequest(name, fn, clientID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.siteNamed(name)
	if st == nil {
		return hostNotRunning
	}
	if down := s.hostDown(st); down != "" {
		return down
	}
	now := s.opts.Now().UTC().Format(time.RFC3339Nano)
	id := clientID
	if id == "" {
		id = fmt.Sprintf("%08d", len(st.Logs))
	}
	st.Logs = append(st.Logs,
		now+" Executing 'Functions."+fn+"' (Reason='This function was programmatically called via the host APIs.', Id="+id+")",
		now+" Exception while executing function: Functions."+fn+". "+adminHTTPTriggerError,
		now+" Executed 'Functions."+fn+"' (Failed, Id="+id+", Duration=0ms)")
	return ""
}

// adminHTTPTriggerError is logged for an HTTP trigger run without a
// request: its first sentence is the host's (Azure/azure-functions-host#3166),
// the rest the emulator's.
const adminHTTPTriggerError = "Microsoft.Azure.WebJobs.Host: Exception binding parameter 'req'. An HttpRequest is required: an HTTP-triggered function runs only from an HTTP request to its route, not from the admin API."

// execute logs one execution of fn in app name, as the Functions host
// does; it returns the app's EMULATOR_FAIL setting, or why its host does
// not answer. A run ended at the app's function timeout (timeout > 0) is
// logged as the host logs it, and the host shuts down and starts again
// ("the behavior on timeout is to kill the host and restart":
// Azure/azure-functions-host#2243).
func (s *Server) execute(name, fn, reason, clientID string, took, timeout time.Duration) (fail, down string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.siteNamed(name)
	if st == nil {
		return "", hostNotRunning
	}
	if down := s.hostDown(st); down != "" {
		return "", down
	}
	fail = st.Settings["EMULATOR_FAIL"]
	now := s.opts.Now().UTC().Format(time.RFC3339Nano)
	id := fmt.Sprintf("%08d", len(st.Logs))
	if clientID != "" {
		id = clientID
	}
	st.Logs = append(st.Logs, now+" Executing 'Functions."+fn+"' (Reason='"+reason+"', Id="+id+")")
	if msg := st.Settings["EMULATOR_LOG"]; msg != "" {
		st.Logs = append(st.Logs, now+" "+msg)
	}
	result := "Succeeded"
	switch {
	case timeout > 0:
		result = "Failed"
		st.Logs = append(st.Logs, now+" Timeout value of "+timeSpan(timeout)+" exceeded by function 'Functions."+fn+"' (Id: '"+id+"'). Initiating cancellation.")
	case fail != "":
		result = "Failed"
		st.Logs = append(st.Logs, now+" Exception while executing function: Functions."+fn+" "+fail)
	}
	st.Logs = append(st.Logs, now+" Executed 'Functions."+fn+"' ("+result+", Id="+id+", Duration="+strconv.FormatInt(took.Milliseconds(), 10)+"ms)")
	if timeout > 0 {
		st.Logs = append(st.Logs, now+" "+hostTimeoutShutdownLogLine)
		st.hostUpAt = s.opts.Now().Add(s.opts.HostStartDelay)
	}
	st.executions = append(st.executions, execution{at: s.opts.Now(), cpu: max(took, time.Millisecond)})
	if n := len(st.executions); n > maxExecutions {
		st.executions = append(st.executions[:0], st.executions[n-maxExecutions:]...)
	}
	return fail, ""
}

// unavailable is the 503 body of a trigger whose host does not answer.
func unavailable(down string) string {
	if down == hostNotRunning {
		return "The function app is not running."
	}
	return "Function host is not running."
}
