package lambda

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/faas-kubelet/faas-kubelet/pkg/emulator/awsauth"
)

// logGroup holds a CloudWatch Logs group: streams of timestamped events.
type logGroup struct {
	name    string
	created time.Time
	streams map[string]*logStream
}

type logStream struct {
	name    string
	created time.Time
	events  []logEvent
}

type logEvent struct {
	Timestamp     int64  `json:"timestamp"`
	Message       string `json:"message"`
	IngestionTime int64  `json:"ingestionTime"`
	LogStreamName string `json:"logStreamName,omitempty"`
	EventID       string `json:"eventId,omitempty"`
}

// appendLogs writes lines to the function's current stream, as the Lambda
// runtime does (one stream per execution environment).
func (s *Server) appendLogs(group, fn string, lines []string) {
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.groups[group]
	if !ok {
		g = &logGroup{name: group, created: now, streams: map[string]*logStream{}}
		s.groups[group] = g
	}
	streamName := ""
	if f, ok := s.functions[fn]; ok {
		if f.stream == "" {
			f.stream = fmt.Sprintf("%s/[$LATEST]%s", now.UTC().Format("2006/01/02"), strings.ReplaceAll(newID(), "-", ""))
		}
		streamName = f.stream
	} else {
		streamName = now.UTC().Format("2006/01/02") + "/[$LATEST]orphan"
	}
	st, ok := g.streams[streamName]
	if !ok {
		st = &logStream{name: streamName, created: now}
		g.streams[streamName] = st
	}
	for i, l := range lines {
		ts := now.Add(time.Duration(i) * time.Microsecond).UnixMilli()
		s.seq++
		st.events = append(st.events, logEvent{Timestamp: ts, Message: l + "\n", IngestionTime: ts, EventID: strconv.Itoa(s.seq)})
	}
}

// AppendLog adds a line to a function's log group, for tests that need a
// log line written at a known moment.
func (s *Server) AppendLog(functionName, line string) {
	s.mu.Lock()
	group := "/aws/lambda/" + functionName
	if f, ok := s.functions[functionName]; ok && f.cfg.LoggingConfig != nil {
		group = f.cfg.LoggingConfig.LogGroup
	}
	s.mu.Unlock()
	s.appendLogs(group, functionName, []string{line})
}

// logsDispatch serves CloudWatch Logs' awsJson1_1 protocol.
func (s *Server) logsDispatch(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, "Logs_20140328.")
	if !ok {
		writeLogsError(w, &apiError{Status: http.StatusBadRequest, Code: "UnknownOperationException", Message: "unknown target " + target})
		return
	}
	var h handler
	switch op {
	case "FilterLogEvents":
		h = s.filterLogEvents
	case "GetLogEvents":
		h = s.getLogEvents
	case "DescribeLogStreams":
		h = s.describeLogStreams
	case "DescribeLogGroups":
		h = s.describeLogGroups
	default:
		writeLogsError(w, &apiError{Status: http.StatusBadRequest, Code: "UnknownOperationException", Message: "operation " + op + " is not emulated"})
		return
	}
	s.wrapLogs(op, h)(w, r)
}

func (s *Server) wrapLogs(op string, h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f, faulty := s.Call(op)
		if s.opts.Latency > 0 {
			time.Sleep(s.opts.Latency)
		}
		if _, err := s.logsV.Verify(r); err != nil {
			ae := err.(*awsauth.Error)
			writeLogsError(w, &apiError{Status: ae.Status, Code: ae.Code, Message: ae.Message})
			return
		}
		if act := action("logs", op); !s.allowed(act) {
			writeLogsError(w, s.accessDenied(act, ""))
			return
		}
		if faulty {
			writeLogsError(w, faultError(f))
			return
		}
		if err := h(w, r); err != nil {
			writeLogsError(w, err)
		}
	}
}

func writeLogsError(w http.ResponseWriter, err error) {
	ae, ok := err.(*apiError)
	if !ok {
		ae = &apiError{Status: http.StatusInternalServerError, Code: "ServiceUnavailableException", Message: err.Error()}
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", newID())
	w.WriteHeader(ae.Status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": ae.Code, "message": ae.Message})
}

func writeLogsJSON(w http.ResponseWriter, v any) error {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", newID())
	return json.NewEncoder(w).Encode(v)
}

func logsGroupNotFound() *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "ResourceNotFoundException", Message: "The specified log group does not exist."}
}

type filterRequest struct {
	LogGroupName   string   `json:"logGroupName"`
	LogStreamNames []string `json:"logStreamNames"`
	StartTime      *int64   `json:"startTime"`
	EndTime        *int64   `json:"endTime"`
	FilterPattern  string   `json:"filterPattern"`
	NextToken      string   `json:"nextToken"`
	Limit          int      `json:"limit"`
}

// events returns the group's events in time order, filtered.
func (g *logGroup) events(streams []string, start, end *int64, pattern string) []logEvent {
	var out []logEvent
	for name, st := range g.streams {
		if len(streams) > 0 && !contains(streams, name) {
			continue
		}
		for _, e := range st.events {
			if start != nil && e.Timestamp < *start || end != nil && e.Timestamp >= *end {
				continue
			}
			if pattern != "" && !strings.Contains(e.Message, strings.Trim(pattern, `"`)) {
				continue
			}
			e.LogStreamName = name
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Timestamp != out[j].Timestamp {
			return out[i].Timestamp < out[j].Timestamp
		}
		a, _ := strconv.Atoi(out[i].EventID)
		b, _ := strconv.Atoi(out[j].EventID)
		return a < b
	})
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (s *Server) filterLogEvents(w http.ResponseWriter, r *http.Request) error {
	var req filterRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Limit == 0 || req.Limit > 10000 {
		req.Limit = 10000
	}
	s.mu.Lock()
	g, ok := s.groups[req.LogGroupName]
	var all []logEvent
	if ok {
		all = g.events(req.LogStreamNames, req.StartTime, req.EndTime, req.FilterPattern)
	}
	s.mu.Unlock()
	if !ok {
		return logsGroupNotFound()
	}
	from := 0
	if req.NextToken != "" {
		n, err := strconv.Atoi(req.NextToken)
		if err != nil || n < 0 || n > len(all) {
			return &apiError{Status: http.StatusBadRequest, Code: "InvalidParameterException", Message: "The specified nextToken is invalid."}
		}
		from = n
	}
	to := min(from+req.Limit, len(all))
	out := map[string]any{"events": nonNil(all[from:to]), "searchedLogStreams": []any{}}
	if to < len(all) {
		out["nextToken"] = strconv.Itoa(to)
	}
	return writeLogsJSON(w, out)
}

func nonNil(e []logEvent) []logEvent {
	if e == nil {
		return []logEvent{}
	}
	return e
}

// getLogEvents reads one stream; without startFromHead it returns the
// newest events first page, which is how a tail is read cheaply.
func (s *Server) getLogEvents(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		LogGroupName  string `json:"logGroupName"`
		LogStreamName string `json:"logStreamName"`
		StartTime     *int64 `json:"startTime"`
		EndTime       *int64 `json:"endTime"`
		StartFromHead bool   `json:"startFromHead"`
		NextToken     string `json:"nextToken"`
		Limit         int    `json:"limit"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Limit == 0 || req.Limit > 10000 {
		req.Limit = 10000
	}
	s.mu.Lock()
	g, ok := s.groups[req.LogGroupName]
	var all []logEvent
	streamOK := false
	if ok {
		if _, streamOK = g.streams[req.LogStreamName]; streamOK {
			all = g.events([]string{req.LogStreamName}, req.StartTime, req.EndTime, "")
		}
	}
	s.mu.Unlock()
	if !ok {
		return logsGroupNotFound()
	}
	if !streamOK {
		return &apiError{Status: http.StatusBadRequest, Code: "ResourceNotFoundException", Message: "The specified log stream does not exist."}
	}
	// Tokens are "f<index>" (forward) and "b<index>" (backward): the page
	// is all[lo:hi].
	lo, hi := 0, len(all)
	switch {
	case strings.HasPrefix(req.NextToken, "f"):
		lo, _ = strconv.Atoi(req.NextToken[1:])
		hi = min(lo+req.Limit, len(all))
	case strings.HasPrefix(req.NextToken, "b"):
		hi, _ = strconv.Atoi(req.NextToken[1:])
		lo = max(hi-req.Limit, 0)
	case req.StartFromHead:
		hi = min(req.Limit, len(all))
	default:
		lo = max(len(all)-req.Limit, 0)
	}
	lo, hi = max(0, min(lo, len(all))), max(0, min(hi, len(all)))
	page := make([]logEvent, 0, hi-lo)
	for _, e := range all[lo:hi] {
		e.LogStreamName, e.EventID = "", ""
		page = append(page, e)
	}
	return writeLogsJSON(w, map[string]any{"events": page, "nextForwardToken": fmt.Sprintf("f%d", hi), "nextBackwardToken": fmt.Sprintf("b%d", lo)})
}

func (s *Server) describeLogStreams(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		LogGroupName        string `json:"logGroupName"`
		LogStreamNamePrefix string `json:"logStreamNamePrefix"`
		OrderBy             string `json:"orderBy"`
		Descending          bool   `json:"descending"`
		Limit               int    `json:"limit"`
		NextToken           string `json:"nextToken"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Limit == 0 || req.Limit > 50 {
		req.Limit = 50
	}
	type streamOut struct {
		LogStreamName       string `json:"logStreamName"`
		CreationTime        int64  `json:"creationTime"`
		FirstEventTimestamp int64  `json:"firstEventTimestamp,omitempty"`
		LastEventTimestamp  int64  `json:"lastEventTimestamp,omitempty"`
		LastIngestionTime   int64  `json:"lastIngestionTime,omitempty"`
		Arn                 string `json:"arn"`
	}
	s.mu.Lock()
	g, ok := s.groups[req.LogGroupName]
	var list []streamOut
	if ok {
		for _, st := range g.streams {
			if !strings.HasPrefix(st.name, req.LogStreamNamePrefix) {
				continue
			}
			o := streamOut{LogStreamName: st.name, CreationTime: st.created.UnixMilli(),
				Arn: fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s:log-stream:%s", s.opts.Region, s.opts.AccountID, g.name, st.name)}
			if n := len(st.events); n > 0 {
				o.FirstEventTimestamp, o.LastEventTimestamp, o.LastIngestionTime = st.events[0].Timestamp, st.events[n-1].Timestamp, st.events[n-1].IngestionTime
			}
			list = append(list, o)
		}
	}
	s.mu.Unlock()
	if !ok {
		return logsGroupNotFound()
	}
	sort.Slice(list, func(i, j int) bool {
		var less bool
		if req.OrderBy == "LastEventTime" {
			less = list[i].LastEventTimestamp < list[j].LastEventTimestamp
		} else {
			less = list[i].LogStreamName < list[j].LogStreamName
		}
		if req.Descending {
			return !less
		}
		return less
	})
	from, _ := strconv.Atoi(req.NextToken)
	from = min(max(from, 0), len(list))
	to := min(from+req.Limit, len(list))
	out := map[string]any{"logStreams": list[from:to]}
	if to < len(list) {
		out["nextToken"] = strconv.Itoa(to)
	}
	if list == nil {
		out["logStreams"] = []any{}
	}
	return writeLogsJSON(w, out)
}

func (s *Server) describeLogGroups(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		LogGroupNamePrefix string `json:"logGroupNamePrefix"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	s.mu.Lock()
	groups := []map[string]any{}
	for name, g := range s.groups {
		if strings.HasPrefix(name, req.LogGroupNamePrefix) {
			groups = append(groups, map[string]any{"logGroupName": name, "creationTime": g.created.UnixMilli(),
				"arn": fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s:*", s.opts.Region, s.opts.AccountID, name)})
		}
	}
	s.mu.Unlock()
	sort.Slice(groups, func(i, j int) bool { return groups[i]["logGroupName"].(string) < groups[j]["logGroupName"].(string) })
	return writeLogsJSON(w, map[string]any{"logGroups": groups})
}
