package lambda

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A request becomes a function URL event (payload format 2.0) the way
// Lambda builds it: lower-case headers, cookies apart, query parameters
// joined, a binary body base64-encoded.
func TestURLEvent(t *testing.T) {
	req, _ := http.NewRequest(http.MethodPost, "http://web.local:8080/orders/7?tag=a&tag=b&x=1", strings.NewReader(`{"n":1}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Cookie", "a=1; b=2")
	req.Header.Set("User-Agent", "curl/8")
	ev, err := urlEvent(req, []byte(`{"n":1}`), "123456789012", "req-1", time.Unix(1700000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Version, RawPath, RawQueryString, Body string
		Headers                                map[string]string
		QueryStringParameters                  map[string]string
		Cookies                                []string
		IsBase64Encoded                        bool
		RequestContext                         struct {
			AccountID string `json:"accountId"`
			RequestID string `json:"requestId"`
			TimeEpoch int64  `json:"timeEpoch"`
			HTTP      struct{ Method, Path, UserAgent string }
		}
	}
	if err := json.Unmarshal(ev, &got); err != nil {
		t.Fatal(err)
	}
	if got.Version != "2.0" || got.RawPath != "/orders/7" || got.RawQueryString != "tag=a&tag=b&x=1" || got.QueryStringParameters["tag"] != "a,b" ||
		got.Headers["content-type"] != "application/json" || got.Headers["host"] != "web.local:8080" || len(got.Cookies) != 2 ||
		got.Body != `{"n":1}` || got.IsBase64Encoded || got.RequestContext.HTTP.Method != "POST" || got.RequestContext.HTTP.Path != "/orders/7" ||
		got.RequestContext.AccountID != "123456789012" || got.RequestContext.TimeEpoch != 1700000000000 || got.RequestContext.HTTP.UserAgent != "curl/8" {
		t.Errorf("event: %s", ev)
	}
	if _, ok := got.Headers["cookie"]; ok {
		t.Error("cookies left in the headers")
	}
	bin, _ := http.NewRequest(http.MethodPut, "http://x/", nil)
	bin.Header.Set("Content-Type", "application/octet-stream")
	ev, _ = urlEvent(bin, []byte{0xff, 0x00}, "", "r", time.Now())
	if !strings.Contains(string(ev), `"body":"/wA="`) || !strings.Contains(string(ev), `"isBase64Encoded":true`) {
		t.Errorf("binary body: %s", ev)
	}
}

// A function's output becomes the function URL's response: a response
// object gives status, headers, cookies and (base64) body; anything else
// is a 200 JSON body.
func TestURLResponse(t *testing.T) {
	resp := urlResponse([]byte(`{"statusCode":201,"headers":{"X-Id":"7"},"cookies":["s=1"],"body":"aGk=","isBase64Encoded":true}`))
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 201 || resp.Header.Get("X-Id") != "7" || resp.Header.Get("Set-Cookie") != "s=1" || string(body) != "hi" {
		t.Errorf("response object: %d %v %q", resp.StatusCode, resp.Header, body)
	}
	resp = urlResponse([]byte(`{"order":42}`))
	body, _ = io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || string(body) != `{"order":42}` {
		t.Errorf("plain output: %d %v %q", resp.StatusCode, resp.Header, body)
	}
}
