package awsauth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Error is a signature failure with the AWS error code and HTTP status.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Verifier checks SigV4 signatures for one service.
type Verifier struct {
	// Credentials maps access key IDs to secret keys.
	Credentials map[string]string
	// Service is the signing name ("lambda", "logs").
	Service string
	// MaxSkew bounds the request time against the clock (AWS allows 5 min).
	MaxSkew time.Duration
	// Now returns the current time.
	Now func() time.Time
}

// Verify checks r's Authorization header. It reads and restores r.Body.
func (v *Verifier) Verify(r *http.Request) (accessKey string, err error) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return "", &Error{http.StatusForbidden, "MissingAuthenticationTokenException", "Missing Authentication Token"}
	}
	const algo = "AWS4-HMAC-SHA256 "
	if !strings.HasPrefix(auth, algo) {
		return "", &Error{http.StatusBadRequest, "IncompleteSignatureException", "Unsupported authorization algorithm"}
	}
	parts := map[string]string{}
	for _, kv := range strings.Split(strings.TrimPrefix(auth, algo), ",") {
		k, val, _ := strings.Cut(strings.TrimSpace(kv), "=")
		parts[k] = val
	}
	scope := strings.Split(parts["Credential"], "/")
	if len(scope) != 5 || parts["SignedHeaders"] == "" || parts["Signature"] == "" {
		return "", &Error{http.StatusBadRequest, "IncompleteSignatureException", "Authorization header requires Credential, SignedHeaders and Signature"}
	}
	accessKey, region, service := scope[0], scope[2], scope[3]
	secret, ok := v.Credentials[accessKey]
	if !ok {
		return "", &Error{http.StatusForbidden, "UnrecognizedClientException", "The security token included in the request is invalid."}
	}
	if service != v.Service {
		return "", &Error{http.StatusForbidden, "InvalidSignatureException", fmt.Sprintf("Credential should be scoped to correct service: '%s'.", v.Service)}
	}
	signingTime, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return "", &Error{http.StatusBadRequest, "IncompleteSignatureException", "X-Amz-Date is missing or malformed"}
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	skew := v.MaxSkew
	if skew == 0 {
		skew = 5 * time.Minute
	}
	if d := now().Sub(signingTime); d > skew || d < -skew {
		return "", &Error{http.StatusForbidden, "InvalidSignatureException", "Signature expired: request time is too far from the server time"}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return "", &Error{http.StatusBadRequest, "SerializationException", "reading body: " + err.Error()}
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	payloadHash := r.Header.Get("X-Amz-Content-Sha256")
	if payloadHash == "" {
		sum := sha256.Sum256(body)
		payloadHash = hex.EncodeToString(sum[:])
	}

	cp, _ := http.NewRequest(r.Method, r.URL.String(), nil)
	cp.URL = r.URL
	cp.Host = r.Host
	cp.ContentLength = r.ContentLength
	for _, h := range strings.Split(parts["SignedHeaders"], ";") {
		switch h {
		case "host", "content-length", "x-amz-date":
			continue
		}
		if vals, ok := r.Header[http.CanonicalHeaderKey(h)]; ok {
			cp.Header[http.CanonicalHeaderKey(h)] = vals
		}
	}
	if !strings.Contains(parts["SignedHeaders"], "content-length") {
		cp.ContentLength = 0
	}
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = false })
	creds := aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secret, SessionToken: r.Header.Get("X-Amz-Security-Token")}
	if err := signer.SignHTTP(context.Background(), creds, cp, payloadHash, service, region, signingTime); err != nil {
		return "", &Error{http.StatusInternalServerError, "ServiceException", err.Error()}
	}
	want := signatureOf(cp.Header.Get("Authorization"))
	if subtle.ConstantTimeCompare([]byte(want), []byte(parts["Signature"])) != 1 {
		return "", &Error{http.StatusForbidden, "InvalidSignatureException",
			"The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."}
	}
	return accessKey, nil
}

func signatureOf(auth string) string {
	_, sig, _ := strings.Cut(auth, "Signature=")
	return sig
}
