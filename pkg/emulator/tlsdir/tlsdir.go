package tlsdir

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// The files Ensure keeps in the directory. Keys are written 0600.
const (
	CAFile    = "ca.crt"
	CAKeyFile = "ca.key"
	CertFile  = "tls.crt"
	KeyFile   = "tls.key"
)

const (
	caLifetime   = 10 * 365 * 24 * time.Hour
	certLifetime = 365 * 24 * time.Hour
	// renewBefore: a certificate expiring sooner is issued again, so that
	// a long-running emulator does not start with one about to lapse.
	renewBefore = 30 * 24 * time.Hour
	// backdate tolerates clocks a little behind this machine's.
	backdate = time.Hour
)

// Options say where the files live and what the certificate must cover.
type Options struct {
	// Dir holds the files; it is created (0700) if missing.
	Dir string
	// Hosts are the IP addresses and DNS names clients reach the emulators
	// by. localhost, 127.0.0.1 and ::1 are always covered; an unspecified
	// address (0.0.0.0, ::) stands for every address of this machine.
	Hosts []string
	// Now defaults to time.Now.
	Now func() time.Time
	// InterfaceAddrs lists this machine's addresses; net.InterfaceAddrs
	// by default.
	InterfaceAddrs func() ([]net.Addr, error)
}

// Outcome says what Ensure did.
type Outcome int

const (
	// Reused: the CA and certificate in the directory were kept.
	Reused Outcome = iota
	// IssuedCertificate: the CA was kept and a new certificate issued,
	// because the old one was missing, invalid, expiring or did not cover
	// every host. Clients trusting ca.crt keep working.
	IssuedCertificate
	// CreatedCA: a new CA (and certificate) was created; clients must
	// trust the new ca.crt.
	CreatedCA
)

func (o Outcome) String() string {
	switch o {
	case Reused:
		return "reused"
	case IssuedCertificate:
		return "new certificate"
	default:
		return "new CA"
	}
}

// Bundle is the directory's CA and serving certificate.
type Bundle struct {
	// Dir is the directory, absolute; the paths below are in it.
	Dir      string
	CAPath   string
	CertPath string
	KeyPath  string
	// Certificate is the serving certificate with its key.
	Certificate tls.Certificate
	Outcome     Outcome
}

// ServerConfig is a TLS configuration serving the certificate.
func (b *Bundle) ServerConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{b.Certificate}, MinVersion: tls.VersionTLS12}
}

// Ensure makes Dir hold a CA and a serving certificate for the hosts,
// keeping what is there while it is valid and sufficient.
func Ensure(o Options) (*Bundle, error) {
	if o.Dir == "" {
		return nil, errors.New("tlsdir: no directory")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.InterfaceAddrs == nil {
		o.InterfaceAddrs = net.InterfaceAddrs
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	b := &Bundle{Dir: dir, CAPath: filepath.Join(dir, CAFile), CertPath: filepath.Join(dir, CertFile), KeyPath: filepath.Join(dir, KeyFile)}
	ips, names, err := subjectNames(o.Hosts, o.InterfaceAddrs)
	if err != nil {
		return nil, err
	}
	now := o.Now()

	caCert, _ := readCert(b.CAPath)
	if caCert != nil {
		if pair, err := tls.LoadX509KeyPair(b.CertPath, b.KeyPath); err == nil && fits(pair, caCert, ips, names, now) {
			b.Certificate, b.Outcome = pair, Reused
			return b, nil
		}
	}
	ca, ok := loadCA(filepath.Join(dir, CAKeyFile), b.CAPath, now)
	b.Outcome = IssuedCertificate
	if !ok {
		if ca, err = createCA(dir, now); err != nil {
			return nil, err
		}
		b.Outcome = CreatedCA
	}
	if b.Certificate, err = issue(b, ca, ips, names, now); err != nil {
		return nil, err
	}
	return b, nil
}

// subjectNames are the addresses and names the certificate covers. Every
// DNS name and IPv4 address is also covered one label down (*.name): the
// Log Service SDK puts the project in front of its endpoint's host
// (<project>.127.0.0.1:9326), and the emulator serves that too.
func subjectNames(hosts []string, interfaceAddrs func() ([]net.Addr, error)) ([]net.IP, []string, error) {
	var ips []net.IP
	var names []string
	addIP := func(ip net.IP) {
		if !slices.ContainsFunc(ips, ip.Equal) {
			ips = append(ips, ip)
		}
	}
	addName := func(n string) {
		n = strings.ToLower(strings.TrimSuffix(n, "."))
		if n != "" && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	for _, h := range append([]string{"localhost", "127.0.0.1", "::1"}, hosts...) {
		h = strings.Trim(h, "[]")
		ip := net.ParseIP(h)
		switch {
		case h == "" || ip != nil && ip.IsUnspecified():
			addrs, err := interfaceAddrs()
			if err != nil {
				return nil, nil, fmt.Errorf("tlsdir: this machine's addresses: %w", err)
			}
			for _, a := range addrs {
				if n, ok := a.(*net.IPNet); ok {
					addIP(n.IP)
				}
			}
		case ip != nil:
			addIP(ip)
		default:
			addName(h)
		}
	}
	for _, n := range slices.Clone(names) {
		if !strings.HasPrefix(n, "*.") {
			addName("*." + n)
		}
	}
	for _, ip := range ips {
		if ip4 := ip.To4(); ip4 != nil {
			addName("*." + ip4.String())
		}
	}
	return ips, names, nil
}

// fits says the certificate chains to ca, is valid for a while yet and
// covers every address and name.
func fits(pair tls.Certificate, ca *x509.Certificate, ips []net.IP, names []string, now time.Time) bool {
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil || now.Add(renewBefore).After(leaf.NotAfter) {
		return false
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return false
	}
	for _, ip := range ips {
		if !slices.ContainsFunc(leaf.IPAddresses, ip.Equal) {
			return false
		}
	}
	for _, n := range names {
		if !slices.ContainsFunc(leaf.DNSNames, func(d string) bool { return strings.EqualFold(d, n) }) {
			return false
		}
	}
	return true
}

type authority struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// loadCA is the directory's CA if its key is there and it outlives a new
// certificate.
func loadCA(keyPath, certPath string, now time.Time) (*authority, bool) {
	pair, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return nil, false
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil || !cert.IsCA || cert.KeyUsage&x509.KeyUsageCertSign == 0 || now.Before(cert.NotBefore) || now.Add(certLifetime).After(cert.NotAfter) {
		return nil, false
	}
	key, ok := pair.PrivateKey.(crypto.Signer)
	return &authority{cert, key}, ok
}

func createCA(dir string, now time.Time) (*authority, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := serialNumber()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		// The date tells one emulator CA from another in a trust store.
		Subject:               pkix.Name{Organization: []string{"faas-kubelet"}, CommonName: "faas-kubelet emulator CA " + now.UTC().Format("2006-01-02T15:04:05Z")},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(caLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SubjectKeyId:          keyID(&key.PublicKey),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	if err := writeKey(filepath.Join(dir, CAKeyFile), key); err != nil {
		return nil, err
	}
	if err := writeFile(filepath.Join(dir, CAFile), pemBlock("CERTIFICATE", der), 0o644); err != nil {
		return nil, err
	}
	return &authority{cert, key}, nil
}

func issue(b *Bundle, ca *authority, ips []net.IP, names []string, now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := serialNumber()
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{Organization: []string{"faas-kubelet"}, CommonName: "faas-kubelet emulator"},
		NotBefore:    now.Add(-backdate),
		NotAfter:     now.Add(certLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  ips,
		DNSNames:     names,
		SubjectKeyId: keyID(&key.PublicKey),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := writeKey(b.KeyPath, key); err != nil {
		return tls.Certificate{}, err
	}
	if err := writeFile(b.CertPath, pemBlock("CERTIFICATE", der), 0o644); err != nil {
		return tls.Certificate{}, err
	}
	return tls.LoadX509KeyPair(b.CertPath, b.KeyPath)
}

func readCert(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%s: no PEM certificate", path)
	}
	return x509.ParseCertificate(block.Bytes)
}

func serialNumber() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

// keyID is RFC 5280's method 1: the SHA-1 of the public key's bits.
// Strict verifiers (OpenSSL's X509_V_FLAG_X509_STRICT, Python 3.13's
// default) want the subject and authority key identifiers.
func keyID(pub *ecdsa.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil
	}
	sum := sha1.Sum(spki.PublicKey.Bytes)
	return sum[:]
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	return writeFile(path, pemBlock("PRIVATE KEY", der), 0o600)
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// writeFile replaces path whole, so that a reader never sees half a file
// and a key is never readable by others, not even for a moment.
func writeFile(path string, data []byte, perm fs.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
