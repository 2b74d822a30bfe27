package local

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/certroll/certroll/internal/localca"
	"github.com/certroll/certroll/renewal"
)

// CA is a [renewal.CA] that signs with a root it made itself: the "other
// CA" of a renewal run on one machine. It issues client certificates
// (digitalSignature, extended key usage clientAuth) straight from the
// root, so the chains it returns are [leaf, root].
//
// A CA is safe for concurrent use. It keeps its key in memory only.
type CA struct {
	mu sync.Mutex
	ca *localca.CA
}

var _ renewal.CA = (*CA)(nil)

// CAConfig configures a [CA]. Name is required unless Dir holds a CA;
// the zero value of every other field is documented.
type CAConfig struct {
	// Name is the common name of the CA's root certificate, such as
	// "New Root CA". It is ignored when the CA is loaded from Dir.
	Name string
	// Dir, if not empty, is the directory that keeps the CA: its root
	// certificate (ca.pem) and key (ca.key, 0600). [NewCA] loads the CA
	// from Dir if Dir holds one, and otherwise makes one and saves it there
	// (creating Dir 0700 if needed), so that a renewal run that is
	// interrupted and started again finds the same CA, as the plan names
	// its root. Empty means the CA lives in memory only.
	Dir string
	// Now is the clock that dates the root and the certificates the CA
	// issues. Nil means time.Now. The root's key and the signatures take
	// their randomness from crypto/rand.
	Now func() time.Time
}

// NewCA makes a CA whose self-signed root (an ECDSA P-256 key) has the
// common name cfg.Name and is valid from an hour before cfg.Now() for ten
// years, or loads the one kept in cfg.Dir (see [CAConfig.Dir]). Issued
// certificates are valid from a minute before cfg.Now() for 365 days.
func NewCA(cfg CAConfig) (*CA, error) {
	if cfg.Dir != "" {
		return openCA(cfg)
	}
	return newCA(cfg)
}

func newCA(cfg CAConfig) (*CA, error) {
	if cfg.Name == "" {
		return nil, errors.New("local: the CA needs a name (CAConfig.Name) for its root certificate")
	}
	ca, err := localca.New(cfg.Name, cfg.Now, nil)
	if err != nil {
		return nil, err
	}
	return &CA{ca: ca}, nil
}

// Root returns the CA's root certificate, the one a receiver must trust.
func (c *CA) Root() *x509.Certificate { return c.ca.Cert }

// Sign checks the signature of a PEM certificate request and issues a
// client certificate for its public key with its subject and subject
// alternative names. It returns the chain, leaf first, ending with
// [CA.Root]. It fails without issuing anything if ctx is done.
func (c *CA) Sign(ctx context.Context, csrPEM []byte) ([]*x509.Certificate, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ca.SignCSR(csrPEM)
}

// Issue issues a client certificate with the common name cn for pub
// without a request, for building the landscape a renewal starts from
// (the old client certificate). It returns the chain, leaf first, ending
// with [CA.Root].
func (c *CA) Issue(cn string, pub crypto.PublicKey) ([]*x509.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ca.Issue(cn, pub)
}

// openCA loads the CA kept in cfg.Dir by [CA.save], or, if the directory
// holds none, makes one and saves it there.
func openCA(cfg CAConfig) (*CA, error) {
	dir, now := cfg.Dir, cfg.Now
	certPEM, err := os.ReadFile(filepath.Join(dir, caCertFile))
	if errors.Is(err, fs.ErrNotExist) {
		ca, err := newCA(cfg)
		if err != nil {
			return nil, err
		}
		return ca, ca.save(dir)
	}
	if err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, caKeyFile))
	if err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil || cb.Type != "CERTIFICATE" || kb.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("local: %s: want a CERTIFICATE in %s and a PRIVATE KEY in %s", dir, caCertFile, caKeyFile)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("local: %s: %w", caCertFile, err)
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("local: %s: %w", caKeyFile, err)
	}
	key, ok := k.(crypto.Signer)
	if !ok || !key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(cert.PublicKey) {
		return nil, fmt.Errorf("local: %s: the key is not the certificate's", dir)
	}
	return &CA{ca: &localca.CA{Cert: cert, Key: key, Now: now}}, nil
}

// Files [CA.save] writes.
const (
	caCertFile = "ca.pem"
	caKeyFile  = "ca.key"
)

// save writes the CA's root certificate (ca.pem) and key (ca.key, 0600)
// into dir, creating it 0700 if needed.
func (c *CA) save(dir string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("local: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(c.ca.Key)
	if err != nil {
		return fmt.Errorf("local: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, caKeyFile), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, caCertFile), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.ca.Cert.Raw}))
}
