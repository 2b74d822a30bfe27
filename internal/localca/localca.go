// Package localca is a small certificate authority for the examples and
// the renewal package's embedded defaults: it makes a self-signed root and
// signs client-certificate requests with it. It is not meant to run a real
// PKI: it keeps its key in memory and records nothing.
package localca

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"
)

// A CA is a root certificate and its key. It is not safe for concurrent
// use.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
	// Validity is how long issued certificates are valid; zero means 365 days.
	Validity time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Rand is the randomness for keys and serials; nil means crypto/rand.
	Rand io.Reader

	issued int // certificates issued, mixed into serial numbers
}

// New makes a CA with a self-signed root named cn (an ECDSA P-256 key),
// valid from an hour before now for ten years.
func New(cn string, now func() time.Time, random io.Reader) (*CA, error) {
	if now == nil {
		now = time.Now
	}
	if random == nil {
		random = rand.Reader
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), random)
	if err != nil {
		return nil, fmt.Errorf("localca: %w", err)
	}
	t := now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(cn, t),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"certroll example"}},
		NotBefore:             t.Add(-time.Hour),
		NotAfter:              t.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            1,
	}
	der, err := x509.CreateCertificate(random, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("localca: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("localca: %w", err)
	}
	return &CA{Cert: cert, Key: key, Now: now, Rand: random}, nil
}

func (ca *CA) now() time.Time {
	if ca.Now != nil {
		return ca.Now()
	}
	return time.Now()
}

func (ca *CA) rand() io.Reader {
	if ca.Rand != nil {
		return ca.Rand
	}
	return rand.Reader
}

// serial derives a positive 127-bit serial number from a name and a time,
// so that output is reproducible under a fixed clock.
func serial(name string, t time.Time) *big.Int {
	h := sha256.Sum256([]byte(fmt.Sprintf("%s|%d", name, t.UnixNano())))
	h[0] &= 0x7f
	return new(big.Int).SetBytes(h[:16])
}

// SignCSR checks a PEM or DER certificate request's signature and issues a
// client certificate (digitalSignature, clientAuth) for its public key,
// with its subject and SANs. It returns the chain, leaf first: the leaf
// and this CA's root.
func (ca *CA) SignCSR(csr []byte) ([]*x509.Certificate, error) {
	if b, _ := pem.Decode(csr); b != nil {
		if b.Type != "CERTIFICATE REQUEST" && b.Type != "NEW CERTIFICATE REQUEST" {
			return nil, fmt.Errorf("localca: want a CERTIFICATE REQUEST PEM block, got %q", b.Type)
		}
		csr = b.Bytes
	}
	req, err := x509.ParseCertificateRequest(csr)
	if err != nil {
		return nil, fmt.Errorf("localca: %w", err)
	}
	if err := req.CheckSignature(); err != nil {
		return nil, fmt.Errorf("localca: certificate request signature: %w", err)
	}
	tmpl := &x509.Certificate{
		RawSubject:     req.RawSubject,
		DNSNames:       req.DNSNames,
		IPAddresses:    req.IPAddresses,
		EmailAddresses: req.EmailAddresses,
		URIs:           req.URIs,
	}
	return ca.issue(tmpl, req.PublicKey)
}

// Issue issues a client certificate named cn for pub, for building a
// landscape without a request.
func (ca *CA) Issue(cn string, pub crypto.PublicKey) ([]*x509.Certificate, error) {
	return ca.issue(&x509.Certificate{Subject: pkix.Name{CommonName: cn}}, pub)
}

func (ca *CA) issue(tmpl *x509.Certificate, pub crypto.PublicKey) ([]*x509.Certificate, error) {
	if pub == nil {
		return nil, errors.New("localca: no public key")
	}
	validity := ca.Validity
	if validity == 0 {
		validity = 365 * 24 * time.Hour
	}
	t := ca.now()
	ca.issued++
	tmpl.SerialNumber = serial(fmt.Sprintf("%s|%x|%d", ca.Cert.Subject, tmpl.RawSubject, ca.issued), t)
	tmpl.NotBefore = t.Add(-time.Minute)
	tmpl.NotAfter = t.Add(validity)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	tmpl.BasicConstraintsValid = true
	der, err := x509.CreateCertificate(ca.rand(), tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("localca: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("localca: %w", err)
	}
	return []*x509.Certificate{leaf, ca.Cert}, nil
}
