package lambda

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"unicode/utf8"
)

// urlID is the URL id of a Host of the form <id>.lambda-url.<region>.on.aws
// (what CreateFunctionUrlConfig hands out).
func (s *Server) urlID(host string) (string, bool) {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	id, ok := strings.CutSuffix(strings.ToLower(host), ".lambda-url."+s.opts.Region+".on.aws")
	return id, ok && id != "" && !strings.Contains(id, ".")
}

func (s *Server) updateURL(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		AuthType string `json:"AuthType"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.AuthType != "" && req.AuthType != "NONE" && req.AuthType != "AWS_IAM" {
		return validation("Value '%s' at 'authType' failed to satisfy constraint: Member must satisfy enum value set: [NONE, AWS_IAM]", req.AuthType)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.get(r.PathValue("name"))
	if err != nil {
		return err
	}
	if f.url == nil {
		return notFound("The resource you requested does not exist.")
	}
	if req.AuthType != "" {
		f.url.AuthType = req.AuthType
	}
	f.url.LastModifiedTime = s.opts.Now().UTC().Format("2006-01-02T15:04:05.000000Z")
	return writeJSON(w, http.StatusOK, f.url)
}

// writeURLError answers a function URL request with Lambda's JSON error.
func writeURLError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-RequestId", newID())
	if status == http.StatusForbidden {
		w.Header().Set("X-Amzn-ErrorType", "AccessDeniedException")
	}
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"Message": msg})
}

// serveFunctionURL invokes the function behind a function URL: the
// request, authorized by the URL's auth type, becomes a payload format 2.0
// event, and the function's output becomes the response (see the package
// doc).
func (s *Server) serveFunctionURL(w http.ResponseWriter, r *http.Request, id string) {
	s.mu.Lock()
	var name, auth string
	var public bool
	for n, f := range s.functions {
		if f.url != nil && strings.HasPrefix(strings.ToLower(f.url.FunctionUrl), "https://"+id+".") {
			name, auth, public = n, f.url.AuthType, grantsPublicURL(f.policy)
		}
	}
	s.mu.Unlock()
	if name == "" {
		writeURLError(w, http.StatusNotFound, "Not Found")
		return
	}
	switch auth {
	case "NONE":
		if !public {
			writeURLError(w, http.StatusForbidden, "Forbidden")
			return
		}
	default: // AWS_IAM: a signed caller allowed both actions
		if _, err := s.lambda.Verify(r); err != nil || !s.allowed("lambda:InvokeFunctionUrl") || !s.allowed("lambda:InvokeFunction") {
			writeURLError(w, http.StatusForbidden, "Forbidden")
			return
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 6<<20+1))
	if err != nil || len(body) > 6<<20 {
		writeURLError(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return
	}
	inv, err := s.invocable(name)
	if err != nil {
		writeURLError(w, http.StatusBadGateway, "Internal Server Error")
		return
	}
	reqID := newID()
	res := s.run(inv, s.urlEvent(r, id, body, reqID), reqID)
	w.Header().Set("X-Amzn-RequestId", reqID)
	if res.fnErr != "" {
		writeURLError(w, http.StatusBadGateway, "Internal Server Error")
		return
	}
	writeURLResponse(w, res.body)
}

// urlEvent is the payload format 2.0 event of a function URL request
// (Lambda function URL request and response payloads).
func (s *Server) urlEvent(r *http.Request, id string, body []byte, reqID string) []byte {
	headers := map[string]string{}
	var cookies []string
	for k, vs := range r.Header {
		if k = strings.ToLower(k); k == "cookie" {
			for _, v := range vs {
				for c := range strings.SplitSeq(v, ";") {
					if c = strings.TrimSpace(c); c != "" {
						cookies = append(cookies, c)
					}
				}
			}
			continue
		}
		headers[k] = strings.Join(vs, ",")
	}
	headers["host"] = r.Host
	var query map[string]string
	if q := r.URL.Query(); len(q) > 0 {
		query = map[string]string{}
		for k, vs := range q {
			query[k] = strings.Join(vs, ",")
		}
	}
	now := s.opts.Now()
	ip, _, _ := net.SplitHostPort(r.RemoteAddr)
	ev := map[string]any{
		"version": "2.0", "routeKey": "$default", "rawPath": r.URL.EscapedPath(), "rawQueryString": r.URL.RawQuery,
		"headers": headers, "queryStringParameters": query, "isBase64Encoded": false,
		"requestContext": map[string]any{
			"accountId": "anonymous", "apiId": id, "domainName": r.Host, "domainPrefix": id,
			"http":      map[string]string{"method": r.Method, "path": r.URL.Path, "protocol": r.Proto, "sourceIp": ip, "userAgent": r.UserAgent()},
			"requestId": reqID, "routeKey": "$default", "stage": "$default",
			"time": now.UTC().Format("02/Jan/2006:15:04:05 -0700"), "timeEpoch": now.UnixMilli(),
		},
	}
	if len(cookies) > 0 {
		ev["cookies"] = cookies
	}
	if len(body) > 0 {
		if ct := r.Header.Get("Content-Type"); utf8.Valid(body) && (ct == "" || strings.HasPrefix(ct, "text/") || strings.Contains(ct, "json") ||
			strings.Contains(ct, "xml") || strings.HasPrefix(ct, "application/x-www-form-urlencoded")) {
			ev["body"] = string(body)
		} else {
			ev["body"], ev["isBase64Encoded"] = base64.StdEncoding.EncodeToString(body), true
		}
	}
	out, _ := json.Marshal(ev)
	return out
}

// writeURLResponse turns a function's output into the function URL's
// response: a {statusCode, headers, cookies, body, isBase64Encoded}
// object, else a 200 with the output as a JSON body.
func writeURLResponse(w http.ResponseWriter, payload []byte) {
	var resp struct {
		StatusCode      *int              `json:"statusCode"`
		Headers         map[string]string `json:"headers"`
		Cookies         []string          `json:"cookies"`
		Body            *string           `json:"body"`
		IsBase64Encoded bool              `json:"isBase64Encoded"`
	}
	if json.Unmarshal(payload, &resp) != nil || resp.StatusCode == nil {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(payload)
		return
	}
	var body []byte
	if resp.Body != nil {
		body = []byte(*resp.Body)
		if resp.IsBase64Encoded {
			if d, err := base64.StdEncoding.DecodeString(*resp.Body); err == nil {
				body = d
			}
		}
	}
	for k, v := range resp.Headers {
		w.Header().Set(k, v)
	}
	for _, c := range resp.Cookies {
		w.Header().Add("Set-Cookie", c)
	}
	if w.Header().Get("Content-Type") == "" && len(body) > 0 {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(*resp.StatusCode)
	_, _ = w.Write(body)
}
