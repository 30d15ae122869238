package alibaba

import (
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// project is an SLS project some service's logConfig named; its logstores
// keep entries in time order.
type project struct {
	stores map[string]*logstore
}

type logstore struct {
	entries []logEntry
}

type logEntry struct {
	ns     int64             // unix nanoseconds; strictly increasing within a logstore
	fields map[string]string // the content, __topic__ and __source__ included
}

// ensureLogstore makes the project and logstore a logConfig names exist.
// The caller holds s.mu.
func (s *Server) ensureLogstore(lc logConfig) *logstore {
	if lc.Project == "" || lc.Logstore == "" {
		return nil
	}
	p, ok := s.projects[lc.Project]
	if !ok {
		p = &project{stores: map[string]*logstore{}}
		s.projects[lc.Project] = p
	}
	ls, ok := p.stores[lc.Logstore]
	if !ok {
		ls = &logstore{}
		p.stores[lc.Logstore] = ls
	}
	return ls
}

// appendLogs writes an invocation's lines with the fields FC 2.0 gives its
// function logs; a service without logConfig keeps no logs.
func (s *Server) appendLogs(lc logConfig, service, function string, lines []string) {
	entries := make([]map[string]string, len(lines))
	for i, l := range lines {
		entries[i] = map[string]string{
			"__topic__": service, "__source__": "", "serviceName": service, "functionName": function,
			"qualifier": "LATEST", "versionId": "", "message": l,
		}
	}
	s.appendEntries(lc, entries)
}

// appendEntries writes entries with the given fields now, in order, to the
// logstore lc names.
func (s *Server) appendEntries(lc logConfig, entries []map[string]string) {
	now := s.opts.Now().UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	ls := s.ensureLogstore(lc)
	if ls == nil {
		return
	}
	for _, fields := range entries {
		ns := now
		if n := len(ls.entries); n > 0 && ns <= ls.entries[n-1].ns {
			ns = ls.entries[n-1].ns + 1
		}
		ls.entries = append(ls.entries, logEntry{ns: ns, fields: fields})
	}
}

// AppendLog adds a line to a function's logs now, for tests that need a log
// line written at a known moment. It does nothing when the service has no
// logConfig.
func (s *Server) AppendLog(serviceName, functionName, line string) {
	s.mu.Lock()
	var lc logConfig
	if svc, ok := s.services[serviceName]; ok {
		lc = svc.cfg.LogConfig
	}
	s.mu.Unlock()
	s.appendLogs(lc, serviceName, functionName, []string{line})
}

func slsInvalid(format string, args ...any) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "ParameterInvalid", Message: fmt.Sprintf(format, args...)}
}

// writeSLSError answers as SLS does: the status, an x-log-requestid header
// and {"errorCode", "errorMessage"}.
func writeSLSError(w http.ResponseWriter, err error) {
	ae := asAPIError(err)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("x-log-requestid", slsRequestID())
	w.WriteHeader(ae.Status)
	_ = json.NewEncoder(w).Encode(map[string]string{"errorCode": ae.Code, "errorMessage": ae.Message})
}

func slsRequestID() string { return strings.ToUpper(strings.ReplaceAll(newID(), "-", "")[:24]) }

// logQuery is a GetLogs request, whichever API carried it.
type logQuery struct {
	From    int64  `json:"from"`
	To      int64  `json:"to"`
	FromNs  int64  `json:"fromNs"`
	ToNs    int64  `json:"toNs"`
	Topic   string `json:"topic"`
	Line    *int64 `json:"line"`
	Offset  int64  `json:"offset"`
	Reverse bool   `json:"reverse"`
	Query   string `json:"query"`
}

// SetIncompleteLogs makes the next n GetLogs answers say progress
// Incomplete, with no results, as SLS answers a query that has not read all
// the data yet ("you must repeat the request", GetLogs).
func (s *Server) SetIncompleteLogs(n int) {
	s.mu.Lock()
	s.incomplete = n
	s.mu.Unlock()
}

// SetUnindexedFields makes the logstores lack field indexes on fields: a
// key: value search on one matches nothing, as SLS searches a field by key
// only through its field index (Simple Log Service, "Create indexes": field
// indexes are needed to query by key; what it answers without one is our
// best reading). Every field FC writes is indexed by default, as the
// logstore faas-kubelet needs is set up (README); __topic__ and __source__
// are Log Service's own and always searchable.
func (s *Server) SetUnindexedFields(fields ...string) {
	s.mu.Lock()
	s.unindexed = map[string]bool{}
	for _, f := range fields {
		s.unindexed[f] = true
	}
	s.mu.Unlock()
}

type queryResult struct {
	progress string // Complete or Incomplete
	logs     []map[string]string
	scanned  int
	keys     []string
}

// search runs q against the logstore named in the path of the project named
// by the Host header (<project>.<endpoint>).
func (s *Server) search(r *http.Request, q logQuery) (*queryResult, error) {
	line := int64(100)
	if q.Line != nil && *q.Line != 0 {
		line = *q.Line
	}
	switch {
	case line < 0 || line > 100:
		return nil, slsInvalid("line should be in [0, 100], got %d", line)
	case q.Offset < 0:
		return nil, slsInvalid("offset should not be negative, got %d", q.Offset)
	case q.To < q.From:
		return nil, slsInvalid("from (%d) should not be later than to (%d)", q.From, q.To)
	}
	s.mu.Lock()
	unindexed := s.unindexed
	s.mu.Unlock()
	match, err := parseQuery(q.Query, func(key string) bool { return strings.HasPrefix(key, "__") || !unindexed[key] })
	if err != nil {
		return nil, err
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	projName, _, _ := strings.Cut(host, ".")
	storeName := r.PathValue("logstore")
	from, to := unixNano(q.From, q.FromNs), unixNano(q.To, q.ToNs)

	s.mu.Lock()
	p, ok := s.projects[projName]
	if !ok {
		s.mu.Unlock()
		return nil, notFound("ProjectNotExist", "The Project does not exist : %s", projName)
	}
	ls, ok := p.stores[storeName]
	if !ok {
		s.mu.Unlock()
		return nil, notFound("LogStoreNotExist", "logstore %s does not exist", storeName)
	}
	res := &queryResult{progress: "Complete", logs: []map[string]string{}, keys: []string{}}
	if s.incomplete > 0 {
		s.incomplete--
		s.mu.Unlock()
		res.progress = "Incomplete"
		return res, nil
	}
	var hits []logEntry
	for _, e := range ls.entries {
		if e.ns < from || e.ns >= to {
			continue
		}
		res.scanned++
		if (q.Topic == "" || e.fields["__topic__"] == q.Topic) && match(e.fields) {
			hits = append(hits, e)
		}
	}
	s.mu.Unlock()

	if q.Reverse {
		slices.Reverse(hits)
	}
	hits = hits[min(int(q.Offset), len(hits)):]
	hits = hits[:min(int(line), len(hits))]
	keys := map[string]bool{}
	for _, e := range hits {
		out := make(map[string]string, len(e.fields)+2)
		for k, v := range e.fields {
			out[k] = v
			keys[k] = true
		}
		out["__time__"] = strconv.FormatInt(e.ns/1e9, 10)
		out["__time_ns_part__"] = strconv.FormatInt(e.ns%1e9, 10)
		res.logs = append(res.logs, out)
	}
	for k := range keys {
		if !strings.HasPrefix(k, "__") {
			res.keys = append(res.keys, k)
		}
	}
	slices.Sort(res.keys)
	return res, nil
}

// unixNano is sec seconds and ns nanoseconds since the epoch, saturating
// instead of overflowing for far-future bounds.
func unixNano(sec, ns int64) int64 {
	const maxSec = math.MaxInt64/int64(time.Second) - 1
	if sec > maxSec {
		return math.MaxInt64
	}
	return sec*1e9 + ns
}

func setSLSHeaders(w http.ResponseWriter, progress string, count int) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("x-log-requestid", slsRequestID())
	h.Set("x-log-progress", progress)
	h.Set("x-log-count", strconv.Itoa(count))
	h.Set("x-log-processed-rows", strconv.Itoa(count))
	h.Set("x-log-elapsed-millisecond", "1")
	h.Set("x-log-has-sql", "false")
}

// getLogsV3 serves POST /logstores/{logstore}/logs, which the SDK's
// GetLogs, GetLogsV2, GetLogsV3 and GetLogLines use. The answer is not
// compressed, so it carries no x-log-bodyrawsize header.
func (s *Server) getLogsV3(w http.ResponseWriter, r *http.Request, body []byte) error {
	var q logQuery
	if err := json.Unmarshal(body, &q); err != nil {
		return &apiError{Status: http.StatusBadRequest, Code: "PostBodyInvalid", Message: "The request body is not valid JSON object."}
	}
	res, err := s.search(r, q)
	if err != nil {
		return err
	}
	accurate := true
	meta := map[string]any{
		"progress": res.progress, "count": len(res.logs), "processedRows": res.scanned, "elapsedMillisecond": 1,
		"hasSQL": false, "whereQuery": q.Query, "aggQuery": "", "cpuSec": 0, "cpuCores": 0, "limited": 0,
		"processedBytes": 0, "telementryType": "logging", "powerSql": false, "insertedSQL": "",
		"keys": res.keys, "isAccurate": accurate,
	}
	setSLSHeaders(w, res.progress, len(res.logs))
	w.WriteHeader(http.StatusOK)
	return json.NewEncoder(w).Encode(map[string]any{"meta": meta, "data": res.logs})
}

// getLogsV2 serves the classic GET /logstores/{logstore}?type=log.
func (s *Server) getLogsV2(w http.ResponseWriter, r *http.Request, _ []byte) error {
	v := r.URL.Query()
	if t := v.Get("type"); t != "log" {
		return slsInvalid("type '%s' is not emulated: only type=log is", t)
	}
	var q logQuery
	var err error
	num := func(name string) int64 {
		s := v.Get(name)
		if s == "" || err != nil {
			return 0
		}
		n, perr := strconv.ParseInt(s, 10, 64)
		if perr != nil {
			err = slsInvalid("%s should be an integer, got '%s'", name, s)
		}
		return n
	}
	q.From, q.To, q.FromNs, q.ToNs, q.Offset = num("from"), num("to"), num("fromNs"), num("toNs"), num("offset")
	line := num("line")
	if err != nil {
		return err
	}
	q.Line, q.Topic, q.Query = &line, v.Get("topic"), v.Get("query")
	q.Reverse = v.Get("reverse") == "true"
	res, err := s.search(r, q)
	if err != nil {
		return err
	}
	info, _ := json.Marshal(map[string]any{"keys": res.keys})
	setSLSHeaders(w, res.progress, len(res.logs))
	w.Header().Set("x-log-query-info", string(info))
	w.WriteHeader(http.StatusOK)
	return json.NewEncoder(w).Encode(res.logs)
}
