package local

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"time"

	"github.com/certroll/certroll/internal/localca"
)

// serverIdentity is the receiver's own TLS server identity: a root that
// the runtime's HTTPS clients trust, and a server certificate it issued
// for the loopback addresses. It is unrelated to the client certificates
// being renewed; it exists so that the nodes verify the receiver as real
// clients do.
type serverIdentity struct {
	// Root is the certificate authority the nodes trust for the server.
	Root *x509.Certificate
	// Certificate is the server's certificate chain (leaf, root) and key.
	Certificate tls.Certificate
}

// newServerIdentity makes a root named "certroll local receiver server CA"
// and a server certificate (extended key usage serverAuth) for 127.0.0.1,
// ::1 and localhost, valid from a minute before now() for ten years.
// A nil now means time.Now; a nil random means crypto/rand.Reader.
func newServerIdentity(now func() time.Time, random io.Reader) (*serverIdentity, error) {
	if now == nil {
		now = time.Now
	}
	if random == nil {
		random = rand.Reader
	}
	ca, err := localca.New("certroll local receiver server CA", now, random)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), random)
	if err != nil {
		return nil, fmt.Errorf("local: server key: %w", err)
	}
	t := now()
	tmpl := &x509.Certificate{
		// The serial only has to differ from the root's, whose serial is a
		// hash with the top bit cleared; a fixed small one keeps the output
		// reproducible under a fixed clock.
		SerialNumber:          big.NewInt(2),
		Subject:               pkix.Name{CommonName: "127.0.0.1", Organization: []string{"certroll example"}},
		NotBefore:             t.Add(-time.Minute),
		NotAfter:              t.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(random, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, fmt.Errorf("local: server certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("local: server certificate: %w", err)
	}
	return &serverIdentity{
		Root: ca.Cert,
		Certificate: tls.Certificate{
			Certificate: [][]byte{der, ca.Cert.Raw},
			PrivateKey:  key,
			Leaf:        leaf,
		},
	}, nil
}
