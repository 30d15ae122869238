package tlsdir

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func ensure(t *testing.T, dir string, now time.Time, hosts ...string) *Bundle {
	t.Helper()
	b, err := Ensure(Options{Dir: dir, Hosts: hosts, Now: func() time.Time { return now },
		InterfaceAddrs: func() ([]net.Addr, error) {
			return []net.Addr{&net.IPNet{IP: net.ParseIP("192.0.2.7"), Mask: net.CIDRMask(24, 32)}}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// verify checks the served certificate chains to the directory's ca.crt
// for each host, as a client trusting ca.crt does.
func verify(t *testing.T, b *Bundle, now time.Time, hosts ...string) {
	t.Helper()
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(read(t, b.CAPath)) {
		t.Fatal("ca.crt holds no certificate")
	}
	leaf, err := x509.ParseCertificate(b.Certificate.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hosts {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: h, Roots: roots, CurrentTime: now}); err != nil {
			t.Errorf("%s: %v", h, err)
		}
	}
}

// A new directory gets a CA and a certificate for the hosts, loopback and
// one label below each (the Log Service SDK's <project>.<endpoint>); keys
// are readable by their owner only.
func TestEnsureCreatesCAAndCertificate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	b := ensure(t, dir, epoch, "10.1.2.3", "emu.example", "0.0.0.0")
	if b.Outcome != CreatedCA {
		t.Errorf("outcome %v, want %v", b.Outcome, CreatedCA)
	}
	verify(t, b, epoch, "localhost", "127.0.0.1", "::1", "10.1.2.3", "emu.example", "x.emu.example", "proj.127.0.0.1", "proj.localhost", "192.0.2.7")
	for name, want := range map[string]os.FileMode{CAFile: 0o644, CertFile: 0o644, CAKeyFile: 0o600, KeyFile: 0o600} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", name, fi.Mode().Perm(), want)
		}
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v, want 0700", fi.Mode().Perm())
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 4 {
		t.Errorf("directory holds %d files, want 4 (no temporary files left)", len(entries))
	}
}

// What is there is kept while it fits; a certificate that stops fitting is
// issued again by the same CA, so a trust in ca.crt survives; only a CA
// that is unusable is replaced.
func TestEnsureReusesWhatFits(t *testing.T) {
	dir := t.TempDir()
	first := ensure(t, dir, epoch, "127.0.0.1")
	cert := read(t, first.CertPath)

	if b := ensure(t, dir, epoch.Add(time.Hour), "127.0.0.1", "localhost"); b.Outcome != Reused || !bytes.Equal(read(t, b.CertPath), cert) {
		t.Errorf("same hosts: outcome %v, certificate rewritten %v", b.Outcome, !bytes.Equal(read(t, b.CertPath), cert))
	}
	steps := []struct {
		name  string
		now   time.Time
		hosts []string
		prep  func()
		want  Outcome
	}{
		{name: "a new host", now: epoch, hosts: []string{"10.9.9.9"}, want: IssuedCertificate},
		{name: "garbage certificate", now: epoch, prep: func() { _ = os.WriteFile(filepath.Join(dir, CertFile), []byte("junk"), 0o644) }, want: IssuedCertificate},
		{name: "key of another certificate", now: epoch, prep: func() {
			other := ensure(t, t.TempDir(), epoch)
			_ = os.WriteFile(filepath.Join(dir, KeyFile), read(t, other.KeyPath), 0o600)
		}, want: IssuedCertificate},
		{name: "certificate about to expire", now: epoch.Add(certLifetime - renewBefore + time.Hour), hosts: []string{"10.9.9.9"}, want: IssuedCertificate},
		{name: "CA key missing", now: epoch, hosts: []string{"10.8.8.8"}, prep: func() { _ = os.Remove(filepath.Join(dir, CAKeyFile)) }, want: CreatedCA},
		{name: "CA about to expire", now: epoch.Add(caLifetime - certLifetime + time.Hour), want: CreatedCA},
	}
	for _, s := range steps {
		before := read(t, filepath.Join(dir, CAFile))
		if s.prep != nil {
			s.prep()
		}
		b := ensure(t, dir, s.now, s.hosts...)
		if b.Outcome != s.want {
			t.Errorf("%s: outcome %v, want %v", s.name, b.Outcome, s.want)
		}
		if keptCA := bytes.Equal(read(t, b.CAPath), before); keptCA != (s.want != CreatedCA) {
			t.Errorf("%s: CA kept %v", s.name, keptCA)
		}
		verify(t, b, s.now, append([]string{"127.0.0.1"}, s.hosts...)...)
	}
}

// The bundle serves HTTPS that a client trusting ca.crt accepts.
func TestServerConfigServesHTTPS(t *testing.T) {
	b := ensure(t, t.TempDir(), time.Now())
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
	ts.TLS = b.ServerConfig()
	ts.StartTLS()
	defer ts.Close()
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(read(t, b.CAPath))
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	resp, err := c.Get(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if body, _ := io.ReadAll(resp.Body); string(body) != "ok" {
		t.Errorf("body %q", body)
	}
}
