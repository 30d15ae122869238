package alibaba

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
)

// Three signatures are verified, each recomputed from the request as
// received, the way the real SDKs compute it:
//   - ACS3-HMAC-SHA256 on the FC management API (darabonba-openapi v2,
//     openapiutil.GetAuthorization);
//   - "LOG <AccessKeyId>:<signature>" (HMAC-SHA1) on SLS (aliyun-log-go-sdk
//     SignerV1);
//   - "FC <AccessKeyId>:<signature>" (HMAC-SHA256) on HTTP triggers whose
//     authType is "function" (alibabacloud-gateway-fc-util SignRequest).

const acs3 = "ACS3-HMAC-SHA256"

func forbidden(code, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusForbidden, Code: code, Message: fmt.Sprintf(format, args...)}
}

func signatureNotMatch() *apiError {
	return forbidden("SignatureNotMatch", "The request signature we calculated does not match the signature you provided. Check your access key and signing method")
}

// acsEscape applies the SDK's replacements after percent-encoding.
var acsEscape = strings.NewReplacer("+", "%20", "*", "%2A", "%7E", "~")

// verifyACS3 checks the Authorization header of an FC management request.
func (s *Server) verifyACS3(r *http.Request, body []byte) error {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return &apiError{Status: http.StatusBadRequest, Code: "MissingRequiredHeader", Message: "required HTTP header Authorization was not specified"}
	}
	algo, params, _ := strings.Cut(auth, " ")
	if algo != acs3 {
		return forbidden("SignatureNotMatch", "signature algorithm %q is not supported, want %s", algo, acs3)
	}
	var keyID, signedList, signature string
	for _, p := range strings.Split(params, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		switch k {
		case "Credential":
			keyID = v
		case "SignedHeaders":
			signedList = v
		case "Signature":
			signature = v
		}
	}
	secret, ok := s.opts.Credentials[keyID]
	if !ok {
		return forbidden("InvalidAccessKeyID", "invalid access key ID '%s'", keyID)
	}
	sum := sha256.Sum256(body)
	payload := hex.EncodeToString(sum[:])
	if r.Header.Get("x-acs-content-sha256") != payload {
		return signatureNotMatch()
	}
	signed := strings.Split(signedList, ";")
	if !slices.Contains(signed, "host") || !slices.Contains(signed, "x-acs-content-sha256") || !slices.Contains(signed, "x-acs-date") {
		return signatureNotMatch()
	}
	var headers strings.Builder
	for _, k := range signed {
		var vals []string
		if k == "host" {
			vals = []string{r.Host}
		} else {
			for _, v := range r.Header.Values(k) {
				vals = append(vals, strings.TrimSpace(v))
			}
		}
		sort.Strings(vals)
		headers.WriteString(k + ":" + strings.Join(vals, ",") + "\n")
	}
	canonical := r.Method + "\n" + acsEscape.Replace(r.URL.EscapedPath()) + "\n" + acsQuery(r.URL.Query()) + "\n" +
		headers.String() + "\n" + signedList + "\n" + payload
	digest := sha256.Sum256([]byte(canonical))
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(acs3 + "\n" + hex.EncodeToString(digest[:])))
	if !hmac.Equal([]byte(hex.EncodeToString(mac.Sum(nil))), []byte(signature)) {
		return signatureNotMatch()
	}
	return nil
}

// acsQuery is the canonical query string of ACS3: keys in byte order, values
// percent-encoded.
func acsQuery(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+url.QueryEscape(q.Get(k)))
	}
	return acsEscape.Replace(strings.Join(parts, "&"))
}

func slsUnauthorized(code, format string, args ...any) *apiError {
	return &apiError{Status: http.StatusUnauthorized, Code: code, Message: fmt.Sprintf(format, args...)}
}

// verifySLS checks the v1 signature of an SLS request.
func (s *Server) verifySLS(r *http.Request, body []byte) error {
	auth := r.Header.Get("Authorization")
	scheme, cred, _ := strings.Cut(auth, " ")
	if scheme != "LOG" {
		return slsUnauthorized("Unauthorized", "the emulator verifies signature v1 (\"LOG <AccessKeyId>:<Signature>\") only, got %q", scheme)
	}
	keyID, signature, _ := strings.Cut(cred, ":")
	secret, ok := s.opts.Credentials[keyID]
	if !ok {
		return slsUnauthorized("Unauthorized", "AccessKeyId not found: %s", keyID)
	}
	contentMD5 := r.Header.Get("Content-MD5")
	if len(body) > 0 && contentMD5 != fmt.Sprintf("%X", md5.Sum(body)) {
		return slsUnauthorized("SignatureNotMatch", "Signature %s not matched.", signature)
	}
	var keys []string
	for k := range r.Header {
		l := strings.ToLower(k)
		if strings.HasPrefix(l, "x-log-") || strings.HasPrefix(l, "x-acs-") {
			keys = append(keys, l)
		}
	}
	sort.Strings(keys)
	headers := make([]string, 0, len(keys))
	for _, k := range keys {
		headers = append(headers, k+":"+strings.TrimSpace(r.Header.Get(k)))
	}
	resource := r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		q := r.URL.Query()
		qk := make([]string, 0, len(q))
		for k := range q {
			qk = append(qk, k)
		}
		sort.Strings(qk)
		parts := make([]string, 0, len(qk))
		for _, k := range qk {
			var p strings.Builder
			for _, v := range q[k] {
				p.WriteString(k + "=" + v)
			}
			parts = append(parts, p.String())
		}
		resource += "?" + strings.Join(parts, "&")
	}
	signStr := r.Method + "\n" + contentMD5 + "\n" + r.Header.Get("Content-Type") + "\n" + r.Header.Get("Date") + "\n" +
		strings.Join(headers, "\n") + "\n" + resource
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(signStr))
	if !hmac.Equal([]byte(base64.StdEncoding.EncodeToString(mac.Sum(nil))), []byte(signature)) {
		return slsUnauthorized("SignatureNotMatch", "Signature %s not matched.", signature)
	}
	return nil
}

// verifyFCSignature checks the "FC" signature a caller puts on a request to
// an HTTP trigger whose authType is "function".
func (s *Server) verifyFCSignature(r *http.Request, body []byte) error {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return forbidden("AccessDenied", "required HTTP header Authorization was not specified")
	}
	scheme, cred, _ := strings.Cut(auth, " ")
	keyID, signature, _ := strings.Cut(cred, ":")
	if scheme != "FC" {
		return forbidden("AccessDenied", "the Authorization header must be \"FC <AccessKeyId>:<Signature>\"")
	}
	secret, ok := s.opts.Credentials[keyID]
	if !ok {
		return forbidden("InvalidAccessKeyID", "invalid access key ID '%s'", keyID)
	}
	contentMD5 := r.Header.Get("Content-MD5")
	if contentMD5 != "" {
		sum := md5.Sum(body)
		if contentMD5 != hex.EncodeToString(sum[:]) {
			return signatureNotMatch()
		}
	}
	var keys []string
	for k := range r.Header {
		if l := strings.ToLower(k); strings.HasPrefix(l, "x-fc-") {
			keys = append(keys, l)
		}
	}
	sort.Strings(keys)
	var fcHeaders strings.Builder
	for _, k := range keys {
		fcHeaders.WriteString(k + ":" + r.Header.Get(k) + "\n")
	}
	var queries []string
	for k, vs := range r.URL.Query() {
		if len(vs) == 0 {
			queries = append(queries, k)
		}
		for _, v := range vs {
			queries = append(queries, k+"="+v)
		}
	}
	sort.Strings(queries)
	date := r.Header.Get("Date")
	if exp := r.URL.Query().Get("x-fc-expires"); exp != "" {
		date = exp
	}
	signStr := r.Method + "\n" + contentMD5 + "\n" + r.Header.Get("Content-Type") + "\n" + date + "\n" +
		fcHeaders.String() + r.URL.Path + "\n" + strings.Join(queries, "\n")
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(signStr))
	if !hmac.Equal([]byte(base64.StdEncoding.EncodeToString(mac.Sum(nil))), []byte(signature)) {
		return signatureNotMatch()
	}
	return nil
}
