package probe

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"testing"

	"github.com/certroll/certroll/internal/testpki"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// goServer starts a crypto/tls HTTPS server on 127.0.0.1 configured by
// mod, answering status to every request, and returns its URL.
func goServer(t *testing.T, p *pki, status int, mod func(*tls.Config)) string {
	t.Helper()
	cfg := &tls.Config{Certificates: []tls.Certificate{p.server.TLSCertificate()}}
	mod(cfg)
	l, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	require.NoError(t, err)
	srv := &http.Server{
		Handler:  http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(status) }),
		ErrorLog: log.New(io.Discard, "", 0), // refused handshakes are the point
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "https://" + l.Addr().String() + "/health"
}

// verifyAgainst verifies the client chain against pool, as a server whose
// verification store differs from the names it advertises (HAProxy after
// its runtime API changed the CA file) does.
func verifyAgainst(pool *x509.CertPool) func([][]byte, [][]*x509.Certificate) error {
	return func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 {
			return errors.New("no client certificate")
		}
		leaf, err := x509.ParseCertificate(raw[0])
		if err != nil {
			return err
		}
		_, err = leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
		return err
	}
}

func TestProbeGoServer(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	both := testpki.Pool(p.oldRoot.Cert, p.newRoot.Cert)
	old := testpki.Pool(p.oldRoot.Cert)
	tests := []struct {
		name   string
		status int
		mod    func(*tls.Config)
		// want lists the sentinels the error matches; none means a pass.
		want       []error
		advertised []string
		requested  bool
	}{
		{
			name: "both roots advertised and trusted", status: 200,
			mod:        func(c *tls.Config) { c.ClientAuth = tls.RequireAndVerifyClientCert; c.ClientCAs = both },
			advertised: []string{"CN=Old Root", "CN=New Root"}, requested: true,
		},
		{
			name: "only the old root, TLS 1.3", status: 200,
			mod:        func(c *tls.Config) { c.ClientAuth = tls.RequireAndVerifyClientCert; c.ClientCAs = old },
			want:       []error{ErrHandshake, ErrNotAdvertised},
			advertised: []string{"CN=Old Root"}, requested: true,
		},
		{
			name: "only the old root, TLS 1.2", status: 200,
			mod: func(c *tls.Config) {
				c.ClientAuth = tls.RequireAndVerifyClientCert
				c.ClientCAs = old
				c.MaxVersion = tls.VersionTLS12
			},
			want:       []error{ErrHandshake, ErrNotAdvertised},
			advertised: []string{"CN=Old Root"}, requested: true,
		},
		{
			name: "new root trusted but only the old advertised", status: 200,
			mod: func(c *tls.Config) {
				c.ClientAuth = tls.RequireAnyClientCert
				c.ClientCAs = old
				c.VerifyPeerCertificate = verifyAgainst(both)
			},
			want:       []error{ErrNotAdvertised},
			advertised: []string{"CN=Old Root"}, requested: true,
		},
		{
			name: "no names advertised: Java offers every key entry", status: 200,
			mod: func(c *tls.Config) {
				c.ClientAuth = tls.RequireAnyClientCert
				c.VerifyPeerCertificate = verifyAgainst(both)
			},
			requested: true,
		},
		{
			name: "accepted in TLS, refused with 403", status: 403,
			mod:        func(c *tls.Config) { c.ClientAuth = tls.RequireAndVerifyClientCert; c.ClientCAs = both },
			want:       []error{ErrStatus},
			advertised: []string{"CN=Old Root", "CN=New Root"}, requested: true,
		},
		{
			name: "no client certificate asked for", status: 200,
			mod:  func(c *tls.Config) {},
			want: []error{ErrNotRequested},
		},
	}
	all := []error{ErrHandshake, ErrStatus, ErrNotAdvertised, ErrNotRequested, ErrExchange}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u := goServer(t, p, tt.status, tt.mod)
			res, err := Probe(context.Background(), u, p.newChain(), p.newClient.Key, &Options{Roots: p.serverRoots()})
			require.NotNil(t, res)
			assert.Equal(t, tt.requested, res.Requested)
			assert.Equal(t, tt.advertised, nilIfEmpty(res.AdvertisedNames()))
			if len(tt.want) == 0 {
				require.NoError(t, err)
				assert.True(t, res.Chosen)
				assert.Equal(t, tt.status, res.Status)
				return
			}
			require.Error(t, err)
			var pe *Error
			require.ErrorAs(t, err, &pe)
			for _, s := range all {
				assert.Equal(t, contains(tt.want, s), errors.Is(err, s), "errors.Is(%v) for %v", s, err)
			}
			if errors.Is(err, ErrNotAdvertised) {
				assert.Contains(t, err.Error(), "but not CN=New Root: a Java client will not present this certificate")
				assert.Equal(t, p.newRoot.Cert, pe.Missing)
			}
			if errors.Is(err, ErrStatus) {
				assert.Equal(t, tt.status, pe.Status)
				assert.Contains(t, err.Error(), "status 403")
			}
		})
	}
}

func TestProbeServerNotTrusted(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	u := goServer(t, p, 200, func(c *tls.Config) {
		c.ClientAuth = tls.RequireAndVerifyClientCert
		c.ClientCAs = testpki.Pool(p.newRoot.Cert)
	})
	_, err := Probe(context.Background(), u, p.newChain(), p.newClient.Key, &Options{Roots: testpki.Pool(p.oldRoot.Cert)})
	require.ErrorIs(t, err, ErrHandshake)
	var uae x509.UnknownAuthorityError
	assert.ErrorAs(t, err, &uae, "the x509 error is reachable with errors.As")
	assert.Contains(t, err.Error(), "TLS handshake failed")
}

func TestProbeExplicitRoot(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	u := goServer(t, p, 200, func(c *tls.Config) {
		c.ClientAuth = tls.RequireAnyClientCert
		c.ClientCAs = testpki.Pool(p.oldRoot.Cert)
	})
	// The chain without its root, and the root named explicitly.
	_, err := Probe(context.Background(), u, p.newClient.Chain, p.newClient.Key,
		&Options{Roots: p.serverRoots(), Root: p.newRoot.Cert})
	var pe *Error
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, p.newRoot.Cert, pe.Missing)
}

func TestProbeInvalid(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	tests := []struct {
		name  string
		url   string
		chain []*x509.Certificate
		key   crypto.Signer
		want  string
	}{
		{"http URL", "http://127.0.0.1:1/", p.newChain(), p.newClient.Key, `URL "http://127.0.0.1:1/": want https://`},
		{"no host", "https:///x", p.newChain(), p.newClient.Key, "want https://host"},
		{"empty chain", "https://127.0.0.1:1/", nil, p.newClient.Key, "chain for \"https://127.0.0.1:1/\" is empty"},
		{"no key", "https://127.0.0.1:1/", p.newChain(), nil, "no key"},
		{"wrong key", "https://127.0.0.1:1/", p.newChain(), p.oldClient.Key, "the key is not the key of CN=tenant-client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := Probe(context.Background(), tt.url, tt.chain, tt.key, nil)
			require.ErrorIs(t, err, ErrInvalid)
			assert.Nil(t, res)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestProbeRefusedConnection(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	res, err := Probe(context.Background(), "https://"+addr+"/", p.newChain(), p.newClient.Key, &Options{Roots: p.serverRoots()})
	require.ErrorIs(t, err, ErrHandshake)
	assert.False(t, res.Requested)
	assert.False(t, errors.Is(err, ErrNotRequested), "no verdict on names without a handshake")
}

func contains(errs []error, e error) bool {
	for _, x := range errs {
		if x == e {
			return true
		}
	}
	return false
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}
