package node

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func writePair(t *testing.T, dir, host string, stamp time.Time) {
	t.Helper()
	cert, err := selfSigned([]string{host}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	key, err := x509.MarshalECPrivateKey(cert.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: key}), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{certFile, keyFile} {
		if err := os.Chtimes(f, stamp, stamp); err != nil {
			t.Fatal(err)
		}
	}
}

func servedHost(t *testing.T, c *certFiles) string {
	t.Helper()
	cert, err := c.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf.Subject.CommonName
}

// A rotated certificate is served at the next handshake, without a restart;
// a rotation caught half written keeps the previous one in use.
func TestServingCertificateRotatesWithoutRestart(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Now().Add(-time.Hour)
	writePair(t, dir, "before.example", t0)
	c, err := newCertFiles(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"))
	if err != nil {
		t.Fatal(err)
	}
	if h := servedHost(t, c); h != "before.example" {
		t.Fatalf("serving %s", h)
	}
	writePair(t, dir, "after.example", t0.Add(time.Minute))
	if h := servedHost(t, c); h != "after.example" {
		t.Errorf("after rotation serving %s, want after.example", h)
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.key"), []byte("half a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if h := servedHost(t, c); h != "after.example" {
		t.Errorf("with a half-written key serving %s, want the previous after.example", h)
	}
	if _, err := newCertFiles(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "missing.key")); err == nil {
		t.Error("a missing key must stop the start")
	}
}
