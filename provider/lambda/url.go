package lambda

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/google/uuid"
)

// maxURLPayload is the largest request or response a function URL carries
// (Lambda's synchronous invocation limit).
const maxURLPayload = 6 << 20

// HTTP invokes the function with req as a function URL event (payload
// format 2.0) and returns the response the function URL would: the
// function's {statusCode, headers, cookies, body, isBase64Encoded}, or,
// when it returns anything else, a 200 with its output as a JSON body. A
// function error is a 502, as a function URL answers it.
func (b *Backend) HTTP(ctx context.Context, name string, req *http.Request) (*http.Response, error) {
	if req.Body == nil {
		req.Body = http.NoBody // a request without a body (a preStop hook's GET)
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, maxURLPayload+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxURLPayload {
		return textResponse(http.StatusRequestEntityTooLarge, "request body larger than 6 MB"), nil
	}
	event, err := urlEvent(req, body, accountOf(b.opts.DefaultRole), uuid.NewString(), time.Now())
	if err != nil {
		return nil, err
	}
	out, err := b.invoke(ctx, &sdk.InvokeInput{FunctionName: aws.String(name), Payload: event, InvocationType: types.InvocationTypeRequestResponse})
	if err != nil {
		return nil, mapError("Invoke", err)
	}
	if aws.ToString(out.FunctionError) != "" {
		return textResponse(http.StatusBadGateway, "Internal Server Error"), nil
	}
	return urlResponse(out.Payload), nil
}

// urlEvent is the function URL event (payload format 2.0) for req.
func urlEvent(req *http.Request, body []byte, account, requestID string, now time.Time) ([]byte, error) {
	headers := map[string]string{}
	var cookies []string
	for k, vs := range req.Header {
		k = strings.ToLower(k)
		if k == "cookie" {
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
	host := req.Host
	if host == "" {
		host = "localhost"
	}
	headers["host"] = host
	var query map[string]string
	if q := req.URL.Query(); len(q) > 0 {
		query = map[string]string{}
		for k, vs := range q {
			query[k] = strings.Join(vs, ",")
		}
	}
	prefix, _, _ := strings.Cut(host, ".")
	ev := map[string]any{
		"version":               "2.0",
		"routeKey":              "$default",
		"rawPath":               req.URL.EscapedPath(),
		"rawQueryString":        req.URL.RawQuery,
		"headers":               headers,
		"queryStringParameters": query,
		"requestContext": map[string]any{
			"accountId": account, "apiId": prefix, "domainName": host, "domainPrefix": prefix,
			"http": map[string]string{"method": req.Method, "path": req.URL.Path, "protocol": req.Proto,
				"sourceIp": sourceIP(req), "userAgent": req.UserAgent()},
			"requestId": requestID, "routeKey": "$default", "stage": "$default",
			"time": now.UTC().Format("02/Jan/2006:15:04:05 -0700"), "timeEpoch": now.UnixMilli(),
		},
		"isBase64Encoded": false,
	}
	if len(cookies) > 0 {
		ev["cookies"] = cookies
	}
	if len(body) > 0 {
		if textual(req.Header.Get("Content-Type"), body) {
			ev["body"] = string(body)
		} else {
			ev["body"], ev["isBase64Encoded"] = base64.StdEncoding.EncodeToString(body), true
		}
	}
	return json.Marshal(ev)
}

func sourceIP(req *http.Request) string {
	if f := req.Header.Get("X-Forwarded-For"); f != "" {
		ip, _, _ := strings.Cut(f, ",")
		return strings.TrimSpace(ip)
	}
	return "127.0.0.1" // kubectl port-forward: the caller is local to kubectl
}

// textual says whether a body goes into the event as text, as Lambda
// decides it: text, JSON, XML and form content types, when valid UTF-8.
func textual(contentType string, body []byte) bool {
	if !utf8.Valid(body) {
		return false
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if contentType == "" || err != nil {
		return true
	}
	return strings.HasPrefix(mt, "text/") || strings.HasSuffix(mt, "json") || strings.HasSuffix(mt, "xml") ||
		mt == "application/x-www-form-urlencoded" || mt == "application/javascript"
}

// urlResponse turns a function's output into the function URL's response.
func urlResponse(payload []byte) *http.Response {
	var r struct {
		StatusCode      *int              `json:"statusCode"`
		Headers         map[string]string `json:"headers"`
		Cookies         []string          `json:"cookies"`
		Body            *string           `json:"body"`
		IsBase64Encoded bool              `json:"isBase64Encoded"`
	}
	if json.Unmarshal(payload, &r) != nil || r.StatusCode == nil {
		// Not a response object: the output itself is the JSON body.
		resp := bytesResponse(http.StatusOK, payload)
		resp.Header.Set("Content-Type", "application/json")
		return resp
	}
	var body []byte
	if r.Body != nil {
		body = []byte(*r.Body)
		if r.IsBase64Encoded {
			if d, err := base64.StdEncoding.DecodeString(*r.Body); err == nil {
				body = d
			}
		}
	}
	resp := bytesResponse(*r.StatusCode, body)
	for k, v := range r.Headers {
		resp.Header.Set(k, v)
	}
	for _, c := range r.Cookies {
		resp.Header.Add("Set-Cookie", c)
	}
	if resp.Header.Get("Content-Type") == "" && len(body) > 0 {
		resp.Header.Set("Content-Type", "application/json")
	}
	return resp
}

func bytesResponse(code int, body []byte) *http.Response {
	return &http.Response{StatusCode: code, Status: strconv.Itoa(code) + " " + http.StatusText(code), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body))}
}

func textResponse(code int, msg string) *http.Response {
	resp := bytesResponse(code, []byte(msg))
	resp.Header.Set("Content-Type", "text/plain; charset=utf-8")
	return resp
}
