// Package testpki builds real X.509 certificate hierarchies for tests,
// declaratively and at a fixed clock.
//
// # Usage
//
// Every builder takes a [testing.TB] (so benchmarks can use it too) and
// fails the test on error; nothing returns an error:
//
//	root := testpki.NewRoot(t, "Root A")
//	inter := root.Intermediate(t, "Issuing CA A")
//	leaf := inter.Leaf(t, "tenant-client")                 // clientAuth, valid at Now
//	old := inter.Leaf(t, "tenant-client", testpki.Expired())
//	// x509.VerifyOptions{CurrentTime: testpki.Now, Roots: testpki.Pool(root.Cert), ...}
//
// Validity periods are relative to [Now], a fixed instant, so tests never
// depend on the wall clock. Mutations are options: [Expired], [NotYetValid],
// [Validity], [EKU], [NoEKU], [SHA1], [MD5], [RSA1024], [WithKeyType],
// [SameKeyAs], [SANs], [Subject], [Modify]. Cross-signed and re-issued
// authorities come from [CA.CrossSign] and [CA.Reissue].
//
// # Keys
//
// The default key type is ECDSA P-256 because it is fast to generate. RSA keys
// are slow to generate (and since Go 1.26 cannot be derived from a seeded
// reader), so they come from a process-wide cache: within one top-level test
// (including all its subtests) every RSA key handed out is distinct, and the
// n-th RSA key of one top-level test is the n-th of the next one. Tests
// therefore never see two authorities sharing a key by accident, and a test
// binary generates only as many RSA keys as its most RSA-hungry test needs.
// Use [SameKeyAs] or [WithKey] to share a key on purpose.
//
// # Security
//
// Test code only: keys are cached in memory for the life of the process and
// weak algorithms (SHA-1, MD5, RSA-1024) are produced on request.
package testpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/mail"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Now is the fixed instant every certificate's validity is relative to. Pass
// it as the verification time (x509.VerifyOptions.CurrentTime,
// tls.Config.Time) so tests do not depend on the wall clock.
var Now = time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)

// Default validity periods, relative to [Now]. Each authority outlives what it
// issues so that a default hierarchy is valid at Now from top to bottom.
var (
	rootValidity  = [2]time.Duration{-365 * 24 * time.Hour, 10 * 365 * 24 * time.Hour}
	interValidity = [2]time.Duration{-180 * 24 * time.Hour, 5 * 365 * 24 * time.Hour}
	leafValidity  = [2]time.Duration{-30 * 24 * time.Hour, 365 * 24 * time.Hour}
)

// KeyType selects the algorithm and size of a generated key.
type KeyType int

// Key types a certificate's subject key can have.
const (
	// KeyECDSAP256 is ECDSA on NIST P-256, the default.
	KeyECDSAP256 KeyType = iota
	// KeyRSA2048 is a 2048-bit RSA key (cached, see the package doc).
	KeyRSA2048
	// KeyRSA1024 is a 1024-bit RSA key, weak on purpose (cached).
	KeyRSA1024
	// KeyEd25519 is an Ed25519 key.
	KeyEd25519
)

// String returns the key type's name, such as "RSA-2048".
func (k KeyType) String() string {
	switch k {
	case KeyECDSAP256:
		return "ECDSA-P256"
	case KeyRSA2048:
		return "RSA-2048"
	case KeyRSA1024:
		return "RSA-1024"
	case KeyEd25519:
		return "Ed25519"
	}
	return fmt.Sprintf("KeyType(%d)", int(k))
}

// CA is a certificate authority: a root (self-signed) or an intermediate.
// Its fields may be read freely; treat them as immutable.
type CA struct {
	// Cert is the authority's certificate.
	Cert *x509.Certificate
	// Key is the authority's private key.
	Key crypto.Signer
	// Parent is the authority that signed Cert, or nil for a self-signed root.
	Parent *CA
}

// Leaf is an end-entity certificate with its key and chain.
type Leaf struct {
	// Cert is the leaf certificate.
	Cert *x509.Certificate
	// Key is the leaf's private key.
	Key crypto.Signer
	// Chain is the path a client presents: the leaf first, then each
	// intermediate up to but not including the root.
	Chain []*x509.Certificate
	// Issuer is the authority that signed Cert.
	Issuer *CA
}

// Opt changes how a certificate is built. Options apply in order; a later
// option overrides an earlier one where they touch the same field.
type Opt func(*spec)

type spec struct {
	subject   pkix.Name
	notBefore time.Time
	notAfter  time.Time
	validity  bool
	eku       []x509.ExtKeyUsage
	ekuSet    bool
	sigAlg    x509.SignatureAlgorithm
	md5       bool
	keyType   KeyType
	key       crypto.Signer
	sans      []string
	modify    []func(*x509.Certificate)
}

// Expired makes the certificate valid from two years before [Now] until one
// day before Now.
func Expired() Opt {
	return Validity(Now.Add(-2*365*24*time.Hour), Now.Add(-24*time.Hour))
}

// NotYetValid makes the certificate valid from one day after [Now] until a
// year after that.
func NotYetValid() Opt {
	return Validity(Now.Add(24*time.Hour), Now.Add(366*24*time.Hour))
}

// Validity sets the certificate's notBefore and notAfter.
func Validity(notBefore, notAfter time.Time) Opt {
	return func(s *spec) {
		s.notBefore, s.notAfter, s.validity = notBefore, notAfter, true
	}
}

// EKU sets the extended key usages. Leaves default to clientAuth only;
// authorities default to no extended key usage extension. EKU with no
// arguments is the same as [NoEKU].
func EKU(usages ...x509.ExtKeyUsage) Opt {
	return func(s *spec) {
		s.eku, s.ekuSet = append([]x509.ExtKeyUsage(nil), usages...), true
	}
}

// NoEKU omits the extended key usage extension (crypto/x509 then treats the
// certificate as valid for any usage).
func NoEKU() Opt { return EKU() }

// SHA1 makes the issuer sign the certificate with SHA-1 (SHA1WithRSA for an
// RSA issuer, ECDSAWithSHA1 for an ECDSA issuer; an Ed25519 issuer fails the
// test).
func SHA1() Opt { return func(s *spec) { s.sigAlg, s.md5 = sha1Marker, false } }

// sha1Marker asks build to pick the SHA-1 algorithm matching the issuer key.
const sha1Marker x509.SignatureAlgorithm = -1

// MD5 makes the issuer sign the certificate with MD5WithRSA. crypto/x509
// refuses to create such a certificate, so it is signed by hand. The issuer
// must have an RSA key.
func MD5() Opt { return func(s *spec) { s.sigAlg, s.md5 = x509.MD5WithRSA, true } }

// SignatureAlgorithm makes the issuer sign with the given algorithm (it must
// match the issuer's key type).
func SignatureAlgorithm(alg x509.SignatureAlgorithm) Opt {
	return func(s *spec) { s.sigAlg, s.md5 = alg, alg == x509.MD5WithRSA }
}

// RSA1024 gives the certificate's subject a 1024-bit RSA key.
func RSA1024() Opt { return WithKeyType(KeyRSA1024) }

// WithKeyType sets the subject key's type (default [KeyECDSAP256]).
func WithKeyType(k KeyType) Opt { return func(s *spec) { s.keyType, s.key = k, nil } }

// WithKey uses the given key as the subject key.
func WithKey(key crypto.Signer) Opt { return func(s *spec) { s.key = key } }

// SameKeyAs reuses ca's key as the subject key, as when a root is re-issued
// or cross-signed.
func SameKeyAs(ca *CA) Opt { return WithKey(ca.Key) }

// SANs adds subject alternative names. Each name is classified by its form:
// an IP address, an e-mail address (contains "@"), a URI (contains "://"),
// otherwise a DNS name.
func SANs(names ...string) Opt {
	return func(s *spec) { s.sans = append(s.sans, names...) }
}

// Subject replaces the subject name (by default CN=name, O=certroll test).
func Subject(name pkix.Name) Opt { return func(s *spec) { s.subject = name } }

// Modify calls fn on the certificate template just before it is signed, for
// mutations no other option covers (key usage, name constraints, serials).
func Modify(fn func(tmpl *x509.Certificate)) Opt {
	return func(s *spec) { s.modify = append(s.modify, fn) }
}

// NewRoot builds a self-signed root CA named CN=name, valid from a year
// before [Now] to ten years after it.
func NewRoot(t testing.TB, name string, opts ...Opt) *CA {
	t.Helper()
	s := newSpec(name, rootValidity, opts)
	key := s.subjectKey(t)
	tmpl := s.template(t, true)
	cert := sign(t, s, tmpl, tmpl, key.Public(), key)
	return &CA{Cert: cert, Key: key}
}

// Intermediate builds an intermediate CA named CN=name signed by ca, valid
// from 180 days before [Now] to five years after it.
func (ca *CA) Intermediate(t testing.TB, name string, opts ...Opt) *CA {
	t.Helper()
	s := newSpec(name, interValidity, opts)
	key := s.subjectKey(t)
	cert := sign(t, s, s.template(t, true), ca.Cert, key.Public(), ca.Key)
	return &CA{Cert: cert, Key: key, Parent: ca}
}

// Leaf builds an end-entity certificate named CN=name signed by ca, with
// clientAuth extended key usage and a validity from 30 days before [Now] to a
// year after it.
func (ca *CA) Leaf(t testing.TB, name string, opts ...Opt) *Leaf {
	t.Helper()
	s := newSpec(name, leafValidity, opts)
	if !s.ekuSet {
		s.eku = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	key := s.subjectKey(t)
	tmpl := s.template(t, false)
	cert := sign(t, s, tmpl, ca.Cert, key.Public(), ca.Key)
	chain := append([]*x509.Certificate{cert}, ca.Path()...)
	return &Leaf{Cert: cert, Key: key, Chain: chain, Issuer: ca}
}

// CrossSign issues, with ca's key, a certificate for other's subject and key:
// a cross-signed root when other is a root. The returned CA has other's key,
// so what other issues verifies through either certificate. Options apply to
// the new certificate (validity defaults to the intermediate period).
func (ca *CA) CrossSign(t testing.TB, other *CA, opts ...Opt) *CA {
	t.Helper()
	s := newSpec(other.Cert.Subject.CommonName, interValidity, opts)
	s.subject = other.Cert.Subject
	s.key = other.Key
	tmpl := s.template(t, true)
	tmpl.SubjectKeyId = other.Cert.SubjectKeyId
	cert := sign(t, s, tmpl, ca.Cert, other.Key.Public(), ca.Key)
	return &CA{Cert: cert, Key: other.Key, Parent: ca}
}

// Reissue builds a new certificate with ca's subject, subject key identifier
// and key, signed by the same parent (or self-signed for a root), with a new
// serial number; options such as [Validity] change the rest. Everything ca
// issued verifies under the re-issued certificate too.
func (ca *CA) Reissue(t testing.TB, opts ...Opt) *CA {
	t.Helper()
	period := interValidity
	if ca.Parent == nil {
		period = rootValidity
	}
	s := newSpec(ca.Cert.Subject.CommonName, period, opts)
	s.subject = ca.Cert.Subject
	s.key = ca.Key
	tmpl := s.template(t, true)
	tmpl.SubjectKeyId = ca.Cert.SubjectKeyId
	parentCert, parentKey := tmpl, ca.Key
	if ca.Parent != nil {
		parentCert, parentKey = ca.Parent.Cert, ca.Parent.Key
	}
	cert := sign(t, s, tmpl, parentCert, ca.Key.Public(), parentKey)
	return &CA{Cert: cert, Key: ca.Key, Parent: ca.Parent}
}

// Path returns ca's certificate followed by its ancestors up to but not
// including the root: what a client sends after its leaf. It is empty for a
// root.
func (ca *CA) Path() []*x509.Certificate {
	var out []*x509.Certificate
	for c := ca; c != nil && c.Parent != nil; c = c.Parent {
		out = append(out, c.Cert)
	}
	return out
}

// Root returns the self-signed authority at the top of ca's hierarchy.
func (ca *CA) Root() *CA {
	c := ca
	for c.Parent != nil {
		c = c.Parent
	}
	return c
}

// TLSCertificate returns the leaf as a [tls.Certificate] presenting Chain.
func (l *Leaf) TLSCertificate() tls.Certificate {
	tc := tls.Certificate{PrivateKey: l.Key, Leaf: l.Cert}
	for _, c := range l.Chain {
		tc.Certificate = append(tc.Certificate, c.Raw)
	}
	return tc
}

// Pool returns a certificate pool holding certs.
func Pool(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

// Certs returns the certificates of the given authorities, in order.
func Certs(cas ...*CA) []*x509.Certificate {
	out := make([]*x509.Certificate, len(cas))
	for i, ca := range cas {
		out[i] = ca.Cert
	}
	return out
}

// PEM encodes certs as concatenated "CERTIFICATE" PEM blocks, in order.
func PEM(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

// KeyPEM encodes key as an unencrypted PKCS #8 "PRIVATE KEY" PEM block,
// failing the test if the key cannot be marshalled.
func KeyPEM(t testing.TB, key crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("testpki: marshal key: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// NewKey returns a key of type k, from the RSA cache for RSA types (see the
// package doc).
func NewKey(t testing.TB, k KeyType) crypto.Signer {
	t.Helper()
	switch k {
	case KeyECDSAP256:
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatalf("testpki: generate ECDSA key: %v", err)
		}
		return key
	case KeyEd25519:
		_, key, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatalf("testpki: generate Ed25519 key: %v", err)
		}
		return key
	case KeyRSA2048:
		return cachedRSA(t, 2048)
	case KeyRSA1024:
		return cachedRSA(t, 1024)
	}
	t.Fatalf("testpki: unknown key type %v", k)
	return nil
}

var rsaCache struct {
	sync.Mutex
	keys map[int][]*rsa.PrivateKey // by size, in generation order
	used map[string]int            // "size/top-level test" -> keys handed out
}

// cachedRSA hands out the next RSA key of the given size for t's top-level
// test, generating it if the cache has none left.
func cachedRSA(t testing.TB, bits int) *rsa.PrivateKey {
	t.Helper()
	top, _, _ := strings.Cut(t.Name(), "/")
	slot := fmt.Sprintf("%d/%s", bits, top)

	rsaCache.Lock()
	if rsaCache.keys == nil {
		rsaCache.keys = map[int][]*rsa.PrivateKey{}
		rsaCache.used = map[string]int{}
	}
	i := rsaCache.used[slot]
	rsaCache.used[slot] = i + 1
	if i < len(rsaCache.keys[bits]) {
		key := rsaCache.keys[bits][i]
		rsaCache.Unlock()
		return key
	}
	rsaCache.Unlock()

	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatalf("testpki: generate RSA-%d key: %v", bits, err)
	}
	rsaCache.Lock()
	defer rsaCache.Unlock()
	// Another goroutine may have filled slot i meanwhile; keep the first.
	for len(rsaCache.keys[bits]) <= i {
		rsaCache.keys[bits] = append(rsaCache.keys[bits], key)
	}
	return rsaCache.keys[bits][i]
}

func newSpec(name string, period [2]time.Duration, opts []Opt) *spec {
	s := &spec{
		subject:   pkix.Name{CommonName: name, Organization: []string{"certroll test"}},
		notBefore: Now.Add(period[0]),
		notAfter:  Now.Add(period[1]),
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func (s *spec) subjectKey(t testing.TB) crypto.Signer {
	t.Helper()
	if s.key != nil {
		return s.key
	}
	return NewKey(t, s.keyType)
}

func (s *spec) template(t testing.TB, isCA bool) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: serial(t),
		Subject:      s.subject,
		NotBefore:    s.notBefore,
		NotAfter:     s.notAfter,
		ExtKeyUsage:  s.eku,
	}
	if isCA {
		tmpl.IsCA = true
		tmpl.BasicConstraintsValid = true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	}
	for _, n := range s.sans {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if strings.Contains(n, "://") {
			u, err := url.Parse(n)
			if err != nil {
				t.Fatalf("testpki: SAN URI %q: %v", n, err)
			}
			tmpl.URIs = append(tmpl.URIs, u)
		} else if strings.Contains(n, "@") {
			if _, err := mail.ParseAddress(n); err != nil {
				t.Fatalf("testpki: SAN e-mail %q: %v", n, err)
			}
			tmpl.EmailAddresses = append(tmpl.EmailAddresses, n)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	return tmpl
}

// serial returns a random positive 127-bit serial number.
func serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		t.Fatalf("testpki: serial: %v", err)
	}
	return n.Add(n, big.NewInt(1))
}

// sign creates the certificate for tmpl, issued by parent with parentKey.
func sign(t testing.TB, s *spec, tmpl, parent *x509.Certificate, pub crypto.PublicKey, parentKey crypto.Signer) *x509.Certificate {
	t.Helper()
	for _, fn := range s.modify {
		fn(tmpl)
	}
	switch {
	case s.md5:
		// crypto/x509 refuses to sign with MD5: sign with SHA-256, then
		// replace the algorithm and the signature by hand.
		tmpl.SignatureAlgorithm = x509.SHA256WithRSA
	case s.sigAlg == sha1Marker:
		switch parentKey.Public().(type) {
		case *rsa.PublicKey:
			tmpl.SignatureAlgorithm = x509.SHA1WithRSA
		case *ecdsa.PublicKey:
			tmpl.SignatureAlgorithm = x509.ECDSAWithSHA1
		default:
			t.Fatalf("testpki: no SHA-1 signature algorithm for issuer key %T", parentKey.Public())
		}
	default:
		tmpl.SignatureAlgorithm = s.sigAlg
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, parentKey)
	if err != nil {
		t.Fatalf("testpki: create certificate %q: %v", tmpl.Subject.CommonName, err)
	}
	if s.md5 {
		der = resignMD5(t, der, parentKey)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("testpki: parse certificate %q: %v", tmpl.Subject.CommonName, err)
	}
	return cert
}
