package local

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/certroll/certroll/internal/testpki"
	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/truststore"
	"github.com/stretchr/testify/require"
)

// clock is the fixed clock of every test that does not talk to an
// external tool.
func clock() time.Time { return testpki.Now }

var (
	storePassword = []byte("changeit")
	tenantAlias   = "client"
)

// newTestCA makes a CA at the fixed clock.
func newTestCA(t testing.TB, name string) *CA {
	t.Helper()
	ca, err := NewCA(CAConfig{Name: name, Now: clock})
	require.NoError(t, err)
	return ca
}

// identity is a client key and the chain the client presents.
type identity struct {
	key   crypto.Signer
	chain []*x509.Certificate
}

func (id identity) leaf() *x509.Certificate { return id.chain[0] }

func (id identity) tlsCertificate() tls.Certificate {
	tc := tls.Certificate{PrivateKey: id.key, Leaf: id.chain[0]}
	for _, c := range id.chain {
		tc.Certificate = append(tc.Certificate, c.Raw)
	}
	return tc
}

// issueClient makes a key and has ca issue a client certificate for it.
func issueClient(t testing.TB, ca *CA, cn string) identity {
	t.Helper()
	key, err := keystore.GenerateKey(keystore.ECDSAP256, nil)
	require.NoError(t, err)
	chain, err := ca.Issue(cn, key.Public())
	require.NoError(t, err)
	return identity{key: key, chain: chain}
}

// renewClient makes a new key and has ca sign a renewal CSR for it, the
// way a tenant administrator does in step 1.
func renewClient(t testing.TB, ca *CA, current *x509.Certificate) identity {
	t.Helper()
	key, err := keystore.GenerateKey(keystore.ECDSAP256, nil)
	require.NoError(t, err)
	csr, err := keystore.RenewalCSR(key, current)
	require.NoError(t, err)
	chain, err := ca.Sign(context.Background(), csr)
	require.NoError(t, err)
	return identity{key: key, chain: chain}
}

// writeTenantKeystore writes a JKS keystore holding id under tenantAlias.
func writeTenantKeystore(t testing.TB, dir string, id identity) string {
	t.Helper()
	path := filepath.Join(dir, "tenant.jks")
	s := keystore.New(keystore.JKS, &keystore.StoreOptions{Now: clock})
	require.NoError(t, s.Set(&keystore.Entry{Alias: tenantAlias, Key: id.key, Chain: id.chain}, nil))
	require.NoError(t, s.Save(path, storePassword, nil))
	return path
}

// swapTenantKey replaces the key entry under tenantAlias, as the tenant
// administrator does in step 5.
func swapTenantKey(t testing.TB, path string, id identity) {
	t.Helper()
	require.NoError(t, keystore.Update(context.Background(), path, storePassword, func(s *keystore.Store) error {
		_, err := s.Replace(tenantAlias, id.key, id.chain, nil)
		return err
	}, &keystore.UpdateOptions{StoreOptions: keystore.StoreOptions{Now: clock}}))
}

// newTestReceiver makes a receiver in a temporary directory, started,
// and closed when the test ends.
func newTestReceiver(t testing.TB, format truststore.Kind) *Receiver {
	t.Helper()
	dir := t.TempDir()
	ts := filepath.Join(dir, "truststore.jks")
	switch format {
	case truststore.PEMBundle:
		ts = filepath.Join(dir, "truststore.pem")
	case truststore.PKCS12:
		ts = filepath.Join(dir, "truststore.p12")
	}
	r, err := NewReceiver(ReceiverConfig{
		Truststore:         ts,
		TruststoreKind:     format,
		TruststorePassword: storePassword,
		Accepted:           filepath.Join(dir, "accepted.pem"),
		Now:                clock,
	})
	require.NoError(t, err)
	_, err = r.Start()
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, r.Close()) })
	return r
}

// request sends one GET to the receiver over a new connection presenting
// cert (with no certificate if cert is nil) and returns the error, or nil
// for a 200.
func request(t testing.TB, r *Receiver, cert *tls.Certificate) error {
	t.Helper()
	return requestVersion(t, r, cert, 0)
}

// requestVersion is [request] with the highest TLS version the client
// offers; zero means crypto/tls's default.
func requestVersion(t testing.TB, r *Receiver, cert *tls.Certificate, version uint16) error {
	t.Helper()
	cfg := &tls.Config{RootCAs: testpki.Pool(r.server.Root), Time: clock, MaxVersion: version}
	if cert != nil {
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	}
	tr := &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	resp, err := c.Get(r.serving())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return &statusError{resp.Status}
	}
	return nil
}

type statusError struct{ status string }

func (e *statusError) Error() string { return "status " + e.status }
