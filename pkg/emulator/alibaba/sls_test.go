package alibaba

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/alibabacloud-go/tea/tea"
	sls "github.com/aliyun/aliyun-log-go-sdk"
)

func messages(logs []map[string]string) string {
	var out []string
	for _, l := range logs {
		m := l["message"]
		if strings.HasPrefix(m, "FC Invoke ") {
			m = strings.Fields(m)[2] // Start or End
		}
		out = append(out, m)
	}
	return strings.Join(out, "|")
}

func slsError(err error) (int32, string) {
	var se *sls.Error
	if errors.As(err, &se) {
		return se.HTTPCode, se.Code
	}
	return 0, ""
}

func TestGetLogsThroughTheSDK(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 6, 0, 0, 0, time.UTC)
	clk := &clock{t: t0}
	e := start(t, Options{Now: clk.Now})
	createService(t, e.fc, "svc", true)
	createService(t, e.fc, "other", true)
	createFunction(t, e.fc, "svc", "fn", map[string]string{"EMULATOR_LOG": "line from fn"})
	createFunction(t, e.fc, "svc", "fn-2", nil)
	createFunction(t, e.fc, "other", "fn", nil)
	first := invoke(t, e.fc, "svc", "fn", `{}`, nil)
	clk.Advance(10*time.Second + 250*time.Millisecond)
	invoke(t, e.fc, "svc", "fn", `{"fail":"boom"}`, nil)
	invoke(t, e.fc, "svc", "fn-2", `{}`, nil)
	invoke(t, e.fc, "other", "fn", `{}`, nil)

	from, to := t0.Unix(), t0.Add(time.Hour).Unix()
	for _, tc := range []struct {
		name string
		req  sls.GetLogRequest
		want string
	}{
		{"by topic and function", sls.GetLogRequest{From: from, To: to, Query: `__topic__: "svc" and functionName: "fn"`},
			"Start|line from fn|End|Start|line from fn|Error: boom|End"},
		{"AND in capitals, unquoted", sls.GetLogRequest{From: from, To: to, Query: `__topic__: svc AND functionName: fn`},
			"Start|line from fn|End|Start|line from fn|Error: boom|End"},
		{"tail: reverse and line", sls.GetLogRequest{From: from, To: to, Query: `__topic__: "svc" and functionName: "fn"`, Reverse: true, Lines: 2},
			"End|Error: boom"},
		{"offset", sls.GetLogRequest{From: from, To: to, Query: `functionName: fn and serviceName: svc`, Offset: 2, Lines: 2},
			"End|Start"},
		{"from excludes the first invocation", sls.GetLogRequest{From: t0.Add(5 * time.Second).Unix(), To: to, Query: `__topic__: svc and functionName: fn`},
			"Start|line from fn|Error: boom|End"},
		{"to is exclusive", sls.GetLogRequest{From: from, To: t0.Add(10 * time.Second).Unix(), Query: `functionName: fn`},
			"Start|line from fn|End"},
		{"full text", sls.GetLogRequest{From: from, To: to, Query: `boom`}, "Error: boom"},
		{"another service", sls.GetLogRequest{From: from, To: to, Query: `__topic__: other`}, "Start|End"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := e.sls.GetLogsV2(logProject, logStore, &tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if got := messages(out.Logs); got != tc.want || !out.IsComplete() || out.Count != int64(len(out.Logs)) {
				t.Errorf("got %s (count %d, progress %s), want %s", got, out.Count, out.Progress, tc.want)
			}
		})
	}

	all, err := e.sls.GetLogs(logProject, logStore, "", from, to, "*", 100, 0, false)
	if err != nil || len(all.Logs) != 11 {
		t.Fatalf("GetLogs *: %d logs, %v", len(all.Logs), err)
	}
	l := all.Logs[0]
	id := tea.StringValue(first.Headers["x-fc-request-id"])
	if l["message"] != "FC Invoke Start RequestId: "+id || l["__topic__"] != "svc" || l["serviceName"] != "svc" || l["functionName"] != "fn" ||
		l["qualifier"] != "LATEST" || l["versionId"] != "" || l["__time__"] != "1795327200" || l["__time_ns_part__"] != "0" {
		t.Errorf("first entry %v", l)
	}
	for i := 1; i < len(all.Logs); i++ {
		if all.Logs[i]["__time__"]+all.Logs[i]["__time_ns_part__"] == all.Logs[i-1]["__time__"]+all.Logs[i-1]["__time_ns_part__"] {
			t.Errorf("entries %d and %d share a timestamp", i-1, i)
		}
	}

	_, err = e.sls.GetLogsV2("no-such-logProject", logStore, &sls.GetLogRequest{From: from, To: to})
	if code, name := slsError(err); code != http.StatusNotFound || name != "ProjectNotExist" {
		t.Errorf("missing logProject: %v", err)
	}
	_, err = e.sls.GetLogsV2(logProject, "nope", &sls.GetLogRequest{From: from, To: to})
	if code, name := slsError(err); code != http.StatusNotFound || name != "LogStoreNotExist" {
		t.Errorf("missing logstore: %v", err)
	}
	_, err = e.sls.GetLogsV2(logProject, logStore, &sls.GetLogRequest{From: from, To: to, Query: "* | select count(*)"})
	if code, name := slsError(err); code != http.StatusBadRequest || name != "ParameterInvalid" {
		t.Errorf("SQL: %v", err)
	}
}

func TestGetLogsRefusesWrongSecretAndInjectsFaults(t *testing.T) {
	e := start(t, Options{})
	createService(t, e.fc, "svc", true)
	req := &sls.GetLogRequest{From: 0, To: time.Now().Unix() + 60}
	_, err := slsClient(e.ts, "wrong-secret").GetLogsV2(logProject, logStore, req)
	if code, name := slsError(err); code != http.StatusUnauthorized || name != "SignatureNotMatch" {
		t.Errorf("wrong SLS secret: %v", err)
	}
	e.s.Inject(Fault{Op: "GetLogs", Status: http.StatusTooManyRequests})
	_, err = e.sls.GetLogsV2(logProject, logStore, req)
	if code, name := slsError(err); code != http.StatusTooManyRequests || name != "ReadQuotaExceed" {
		t.Errorf("injected 429: %v", err)
	}
	if out, err := e.sls.GetLogsV2(logProject, logStore, req); err != nil || len(out.Logs) != 0 {
		t.Errorf("after the fault: %v %v", out, err)
	}
	if n := e.s.Calls()["GetLogs"]; n != 3 {
		t.Errorf("GetLogs calls = %d, want 3", n)
	}
}

// TestClassicGetLogs reads through GET /logstores/<logstore>?type=log,
// signed with the SDK's own v1 signer.
func TestClassicGetLogs(t *testing.T) {
	e := start(t, Options{})
	createService(t, e.fc, "svc", true)
	createFunction(t, e.fc, "svc", "fn", nil)
	invoke(t, e.fc, "svc", "fn", `{}`, nil)

	q := url.Values{"type": {"log"}, "from": {"0"}, "to": {"9999999999"}, "query": {`functionName: "fn"`}, "line": {"1"}, "reverse": {"true"}}
	uri := "/logstores/" + logStore + "?" + q.Encode()
	h := map[string]string{"x-log-bodyrawsize": "0", "x-log-apiversion": "0.6.0", "Date": time.Now().UTC().Format(http.TimeFormat)}
	if err := sls.NewSignerV1(DefaultAccessKeyID, DefaultAccessKeySecret).Sign(http.MethodGet, uri, h, nil); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, e.ts.URL+uri, nil)
	req.Host = logProject + "." + DefaultRegion + ".log.aliyuncs.com"
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var logs []map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&logs); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET ?type=log: %d %v", resp.StatusCode, err)
	}
	if len(logs) != 1 || !strings.HasPrefix(logs[0]["message"], "FC Invoke End") || resp.Header.Get("x-log-progress") != "Complete" ||
		resp.Header.Get("x-log-count") != "1" || resp.Header.Get("x-log-bodyrawsize") != "" {
		t.Errorf("GET ?type=log: %v %v", logs, resp.Header)
	}
}

// TestGetLogsCanBeIncomplete: with SetIncompleteLogs(n) the next n GetLogs
// answers say progress Incomplete (with none of the results), as SLS does
// while a query has not read all the data; the SDK's IsComplete sees it.
func TestGetLogsCanBeIncomplete(t *testing.T) {
	e := start(t, Options{})
	createService(t, e.fc, "svc", true)
	createFunction(t, e.fc, "svc", "fn", nil)
	invoke(t, e.fc, "svc", "fn", `{}`, nil)
	e.s.SetIncompleteLogs(2)
	req := &sls.GetLogRequest{From: time.Now().Add(-time.Hour).Unix(), To: time.Now().Add(time.Hour).Unix(), Query: `functionName: fn`}
	for i, want := range []bool{false, false, true} {
		resp, err := e.sls.GetLogsV2(logProject, logStore, req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.IsComplete() != want || want && len(resp.Logs) == 0 || !want && len(resp.Logs) != 0 {
			t.Errorf("answer %d: progress %s with %d logs", i, resp.Progress, len(resp.Logs))
		}
	}
}

// A key: value search needs the field's index: without it nothing matches,
// while Log Service's own __topic__ is always searchable.
func TestKeyValueSearchNeedsAFieldIndex(t *testing.T) {
	e := start(t, Options{})
	createService(t, e.fc, "svc", true)
	createFunction(t, e.fc, "svc", "fn", nil)
	invoke(t, e.fc, "svc", "fn", `{}`, nil)
	count := func(query string) int {
		t.Helper()
		resp, err := e.sls.GetLogsV2(logProject, logStore, &sls.GetLogRequest{From: time.Now().Add(-time.Hour).Unix(), To: time.Now().Add(time.Hour).Unix(), Query: query})
		if err != nil {
			t.Fatal(err)
		}
		return len(resp.Logs)
	}
	if n := count(`functionName: fn`); n == 0 {
		t.Fatal("no logs with the default indexes")
	}
	e.s.SetUnindexedFields("functionName")
	if n := count(`functionName: fn`); n != 0 {
		t.Errorf("%d logs found by a field without an index", n)
	}
	if n := count(`__topic__: svc`); n == 0 {
		t.Error("__topic__ is not searchable")
	}
}
