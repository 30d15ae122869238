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
	seq           int
	// visible is when reads first return the event (IngestionDelay after
	// it was written).
	visible time.Time
}

// LogsBehaviour shapes how the emulated CloudWatch Logs serves reads, within
// what its API reference allows (see the package doc).
type LogsBehaviour struct {
	// IngestionDelayMs: an event becomes visible to FilterLogEvents and
	// GetLogEvents this long after it is written, with its original
	// timestamp.
	IngestionDelayMs int `json:"ingestionDelayMs,omitempty"`
	// StreamStatsDelayMs: DescribeLogStreams' lastEventTimestamp and
	// lastIngestionTime count an event only this long after it is visible.
	StreamStatsDelayMs int `json:"streamStatsDelayMs,omitempty"`
	// PageSize caps the events of one FilterLogEvents or GetLogEvents page
	// below the request's limit (0: no cap).
	PageSize int `json:"pageSize,omitempty"`
	// EmptyPages is how many empty pages, each with a token leading on,
	// every read answers before its data.
	EmptyPages int `json:"emptyPages,omitempty"`
}

// SetLogsBehaviour replaces the logs behaviour (the zero value: events
// visible at once, full pages).
func (s *Server) SetLogsBehaviour(b LogsBehaviour) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logsB = b
}

// LogsBehaviour returns the logs behaviour.
func (s *Server) LogsBehaviour() LogsBehaviour {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logsB
}

// serveLogsBehaviour serves /_emulator/logs: GET, PUT a LogsBehaviour,
// DELETE (back to the zero value).
func (s *Server) serveLogsBehaviour(m *http.ServeMux) {
	m.HandleFunc("GET /_emulator/logs", func(w http.ResponseWriter, _ *http.Request) {
		_ = writeJSON(w, http.StatusOK, s.LogsBehaviour())
	})
	m.HandleFunc("PUT /_emulator/logs", func(w http.ResponseWriter, r *http.Request) {
		var b LogsBehaviour
		if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.SetLogsBehaviour(b)
		w.WriteHeader(http.StatusNoContent)
	})
	m.HandleFunc("DELETE /_emulator/logs", func(w http.ResponseWriter, _ *http.Request) {
		s.SetLogsBehaviour(LogsBehaviour{})
		w.WriteHeader(http.StatusNoContent)
	})
}

// appendLogs writes lines to the function's current stream, as the Lambda
// runtime does (one stream per execution environment).
func (s *Server) appendLogs(group, fn string, lines []string) {
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	streamName := ""
	if f, ok := s.functions[fn]; ok {
		if f.stream == "" {
			f.stream = fmt.Sprintf("%s/[$LATEST]%s", now.UTC().Format("2006/01/02"), strings.ReplaceAll(newID(), "-", ""))
		}
		streamName = f.stream
	} else {
		streamName = now.UTC().Format("2006/01/02") + "/[$LATEST]orphan"
	}
	for i, l := range lines {
		s.putLocked(group, streamName, now.Add(time.Duration(i)*time.Microsecond), l+"\n")
	}
}

// putLocked stores one event written now with timestamp ts.
func (s *Server) putLocked(group, stream string, ts time.Time, msg string) {
	now := s.opts.Now()
	g, ok := s.groups[group]
	if !ok {
		g = &logGroup{name: group, created: now, streams: map[string]*logStream{}}
		s.groups[group] = g
	}
	st, ok := g.streams[stream]
	if !ok {
		st = &logStream{name: stream, created: now}
		g.streams[stream] = st
	}
	s.seq++
	st.events = append(st.events, logEvent{Timestamp: ts.UnixMilli(), Message: msg, IngestionTime: now.UnixMilli(),
		EventID: strconv.Itoa(s.seq), seq: s.seq, visible: now.Add(time.Duration(s.logsB.IngestionDelayMs) * time.Millisecond)})
}

// AppendLog adds a line to a function's log group, for tests that need a
// log line written at a known moment.
func (s *Server) AppendLog(functionName, line string) {
	s.AppendLogAt(functionName, line, s.opts.Now())
}

// AppendLogAt adds a line with timestamp ts to the function's current
// stream (a line that arrives late carries an older timestamp).
func (s *Server) AppendLogAt(functionName, line string, ts time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	group := "/aws/lambda/" + functionName
	stream := ts.UTC().Format("2006/01/02") + "/[$LATEST]orphan"
	if f, ok := s.functions[functionName]; ok {
		if f.cfg.LoggingConfig != nil {
			group = f.cfg.LoggingConfig.LogGroup
		}
		if f.stream == "" {
			f.stream = fmt.Sprintf("%s/[$LATEST]%s", s.opts.Now().UTC().Format("2006/01/02"), strings.ReplaceAll(newID(), "-", ""))
		}
		stream = f.stream
	}
	s.putLocked(group, stream, ts, line+"\n")
}

// PutLogEvents writes lines with timestamp ts to a stream of a group,
// creating both as needed (what PutLogEvents does once the stream exists).
func (s *Server) PutLogEvents(group, stream string, ts time.Time, lines ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range lines {
		s.putLocked(group, stream, ts, l+"\n")
	}
}

// logsDispatch serves CloudWatch Logs' awsJson1_1 protocol.
func (s *Server) logsDispatch(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	if op, ok := strings.CutPrefix(target, "AmazonEC2ContainerRegistry_V20150921."); ok {
		s.ecrDispatch(w, r, op)
		return
	}
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
		c := s.Begin(op, w, r) // the ledger and holds
		defer c.End()
		w = c.W
		f, faulty := c.Fault()
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

// events returns the group's events visible at now in time order
// (timestamp, then the order written), filtered.
func (g *logGroup) events(now time.Time, streams []string, start, end *int64, pattern string) []logEvent {
	var out []logEvent
	for name, st := range g.streams {
		if len(streams) > 0 && !contains(streams, name) {
			continue
		}
		for _, e := range st.events {
			if now.Before(e.visible) {
				continue
			}
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
	sort.Slice(out, func(i, j int) bool { return before(out[i], out[j]) })
	return out
}

func before(a, b logEvent) bool {
	if a.Timestamp != b.Timestamp {
		return a.Timestamp < b.Timestamp
	}
	return a.seq < b.seq
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// pageLimit is a request's page size under the behaviour's cap.
func (b LogsBehaviour) pageLimit(limit int) int {
	if limit <= 0 || limit > 10000 {
		limit = 10000
	}
	if b.PageSize > 0 {
		limit = min(limit, b.PageSize)
	}
	return limit
}

// filterToken is FilterLogEvents' nextToken: the page starts after the
// event (ts, seq) when after is set, and empties empty pages were served.
type filterToken struct {
	after   bool
	ts      int64
	seq     int
	empties int
}

func (t filterToken) String() string {
	return fmt.Sprintf("t1:%t:%d:%d:%d", t.after, t.ts, t.seq, t.empties)
}

func parseFilterToken(s string) (filterToken, bool) {
	var t filterToken
	_, err := fmt.Sscanf(s, "t1:%t:%d:%d:%d", &t.after, &t.ts, &t.seq, &t.empties)
	return t, err == nil
}

// filterLogEvents pages the matching events; its token is a cursor (the
// last event returned), so events that become visible meanwhile are read
// when they sort after it.
func (s *Server) filterLogEvents(w http.ResponseWriter, r *http.Request) error {
	var req filterRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	s.mu.Lock()
	beh := s.logsB
	g, ok := s.groups[req.LogGroupName]
	var all []logEvent
	if ok {
		all = g.events(s.opts.Now(), req.LogStreamNames, req.StartTime, req.EndTime, req.FilterPattern)
	}
	s.mu.Unlock()
	if !ok {
		return logsGroupNotFound()
	}
	var tok filterToken
	if req.NextToken != "" {
		var valid bool
		if tok, valid = parseFilterToken(req.NextToken); !valid {
			return &apiError{Status: http.StatusBadRequest, Code: "InvalidParameterException", Message: "The specified nextToken is invalid."}
		}
	}
	from := 0
	if tok.after {
		from = sort.Search(len(all), func(i int) bool { return before(logEvent{Timestamp: tok.ts, seq: tok.seq}, all[i]) })
	}
	out := map[string]any{"events": []logEvent{}, "searchedLogStreams": []any{}}
	if tok.empties < beh.EmptyPages && from < len(all) {
		tok.empties++
		out["nextToken"] = tok.String()
		return writeLogsJSON(w, out)
	}
	to := min(from+beh.pageLimit(req.Limit), len(all))
	page := all[from:to]
	out["events"] = nonNil(page)
	if to < len(all) {
		last := page[len(page)-1]
		out["nextToken"] = filterToken{after: true, ts: last.Timestamp, seq: last.seq, empties: tok.empties}.String()
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
// newest events first page, which is how a tail is read cheaply. Tokens
// are "f<index>" (forward) and "b<index>" (backward), with "/<n>" when n
// empty pages were served; at either end the token passed in comes back.
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
	s.mu.Lock()
	beh := s.logsB
	g, ok := s.groups[req.LogGroupName]
	var all []logEvent
	streamOK := false
	if ok {
		if _, streamOK = g.streams[req.LogStreamName]; streamOK {
			all = g.events(s.opts.Now(), []string{req.LogStreamName}, req.StartTime, req.EndTime, "")
		}
	}
	s.mu.Unlock()
	if !ok {
		return logsGroupNotFound()
	}
	if !streamOK {
		return &apiError{Status: http.StatusBadRequest, Code: "ResourceNotFoundException", Message: "The specified log stream does not exist."}
	}
	limit := beh.pageLimit(req.Limit)
	pos, empties := 0, 0
	dir := "b"
	switch {
	case req.NextToken != "":
		tok, n, _ := strings.Cut(req.NextToken, "/")
		if len(tok) < 2 || (tok[0] != 'f' && tok[0] != 'b') {
			return &apiError{Status: http.StatusBadRequest, Code: "InvalidParameterException", Message: "The specified nextToken is invalid."}
		}
		dir = tok[:1]
		pos, _ = strconv.Atoi(tok[1:])
		empties, _ = strconv.Atoi(n)
	case req.StartFromHead:
		dir = "f"
	default:
		pos = len(all)
	}
	pos = max(0, min(pos, len(all)))
	lo, hi := pos, min(pos+limit, len(all))
	if dir == "b" {
		lo, hi = max(pos-limit, 0), pos
	}
	if empties < beh.EmptyPages && lo < hi {
		// An empty page in place of all[lo:hi]: both tokens lead on to it.
		empties++
		return writeLogsJSON(w, map[string]any{"events": []logEvent{},
			"nextForwardToken": fmt.Sprintf("f%d/%d", lo, empties), "nextBackwardToken": fmt.Sprintf("b%d/%d", hi, empties)})
	}
	page := make([]logEvent, 0, hi-lo)
	for _, e := range all[lo:hi] {
		e.LogStreamName, e.EventID = "", ""
		page = append(page, e)
	}
	fwd, back := fmt.Sprintf("f%d", hi), fmt.Sprintf("b%d", lo)
	if empties > 0 {
		fwd, back = fwd+"/"+strconv.Itoa(empties), back+"/"+strconv.Itoa(empties)
	}
	if lo == hi && req.NextToken != "" {
		// The end of the stream in this direction: the same token back.
		if dir == "b" {
			back = req.NextToken
		} else {
			fwd = req.NextToken
		}
	}
	return writeLogsJSON(w, map[string]any{"events": page, "nextForwardToken": fwd, "nextBackwardToken": back})
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
	now := s.opts.Now()
	g, ok := s.groups[req.LogGroupName]
	var list []streamOut
	if ok {
		for _, st := range g.streams {
			if !strings.HasPrefix(st.name, req.LogStreamNamePrefix) {
				continue
			}
			o := streamOut{LogStreamName: st.name, CreationTime: st.created.UnixMilli(),
				Arn: fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s:log-stream:%s", s.opts.Region, s.opts.AccountID, g.name, st.name)}
			// The timestamps are eventually consistent: an event counts
			// StreamStatsDelayMs after it is visible.
			stats := now.Add(-time.Duration(s.logsB.StreamStatsDelayMs) * time.Millisecond)
			for _, e := range st.events {
				if stats.Before(e.visible) {
					continue
				}
				if o.FirstEventTimestamp == 0 || e.Timestamp < o.FirstEventTimestamp {
					o.FirstEventTimestamp = e.Timestamp
				}
				o.LastEventTimestamp, o.LastIngestionTime = max(o.LastEventTimestamp, e.Timestamp), max(o.LastIngestionTime, e.IngestionTime)
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
