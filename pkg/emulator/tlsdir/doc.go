// Package tlsdir keeps, in one directory, the certificate authority and the
// serving certificate with which the local emulators answer over HTTPS.
//
// The clouds' own tools insist on TLS: Azure's SDKs and CLI do not send a
// bearer token over plain http (azcore's bearer-token policy refuses it),
// so the emulators need a certificate those tools can be told to trust.
// Ensure creates a CA and a certificate for the emulators' addresses, or
// keeps those already in the directory while they are valid and cover the
// addresses, so that a trust set up once (SSL_CERT_FILE, AWS_CA_BUNDLE,
// REQUESTS_CA_BUNDLE, NODE_EXTRA_CA_CERTS pointing at ca.crt) survives
// restarts of the emulator. A certificate that no longer fits is issued
// again by the same CA; the CA is replaced only when it is missing, invalid
// or about to expire.
package tlsdir
