package local

import (
	"context"
	"crypto"
	"crypto/x509"
	"io"
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

// NewCA makes a CA whose self-signed root (an ECDSA P-256 key) has the
// common name name and is valid from an hour before now() for ten years.
// Issued certificates are valid from a minute before now() for 365 days.
// A nil now means time.Now; a nil random means crypto/rand.Reader.
func NewCA(name string, now func() time.Time, random io.Reader) (*CA, error) {
	ca, err := localca.New(name, now, random)
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
