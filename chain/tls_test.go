package chain

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/certroll/certroll/internal/testpki"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tlsServerConfig builds a crypto/tls server that requires a client
// certificate and accepts what the receiver describes, written the way a Go
// receiver would be written and without this package's code: ClientCAs from
// the roots; its own crypto/x509 verification when it holds intermediates
// (crypto/tls only uses the ones the client sends); pinning and the RSA key
// size in VerifyPeerCertificate; the fixed clock.
func tlsServerConfig(r *Receiver, server tls.Certificate) *tls.Config {
	cfg := &tls.Config{
		Certificates: []tls.Certificate{server},
		ClientCAs:    testpki.Pool(r.Roots...),
		ClientAuth:   tls.RequireAndVerifyClientCert,
		Time:         func() time.Time { return r.Time },
	}
	minBits := r.MinRSABits
	if minBits == 0 {
		minBits = 2048
	}
	cfg.VerifyPeerCertificate = func(rawCerts [][]byte, verified [][]*x509.Certificate) error {
		if len(r.Intermediates) > 0 {
			certs := make([]*x509.Certificate, len(rawCerts))
			for i, raw := range rawCerts {
				c, err := x509.ParseCertificate(raw)
				if err != nil {
					return err
				}
				certs[i] = c
			}
			inters := testpki.Pool(append(certs[1:], r.Intermediates...)...)
			var err error
			verified, err = certs[0].Verify(x509.VerifyOptions{
				Roots: cfg.ClientCAs, Intermediates: inters, CurrentTime: r.Time,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
			})
			if err != nil {
				return err
			}
		}
		if len(r.Pinned) > 0 {
			pinned := false
			for _, p := range r.Pinned {
				pinned = pinned || bytes.Equal(p.Raw, rawCerts[0])
			}
			if !pinned {
				return errors.New("server: client certificate not pinned")
			}
		}
	chains:
		for _, ch := range verified {
			for _, c := range ch {
				if k, ok := c.PublicKey.(*rsa.PublicKey); ok && minBits > 0 && k.N.BitLen() < minBits {
					continue chains
				}
			}
			return nil
		}
		return errors.New("server: no verified chain with strong enough keys")
	}
	if len(r.Intermediates) > 0 {
		// crypto/tls would verify before the callback without them.
		cfg.ClientAuth = tls.RequireAnyClientCert
	}
	return cfg
}

// handshake runs a real TLS handshake on 127.0.0.1 in which the client
// presents chain with key, and returns the server's verdict.
func handshake(t *testing.T, serverCfg *tls.Config, serverRoot *x509.Certificate, version uint16, chain []*x509.Certificate, key crypto.Signer) error {
	t.Helper()
	serverCfg = serverCfg.Clone()
	serverCfg.MinVersion, serverCfg.MaxVersion = version, version
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	serverErr := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			serverErr <- err
			return
		}
		defer conn.Close()
		tc := tls.Server(conn, serverCfg)
		err = tc.HandshakeContext(ctx)
		if err == nil {
			// Tell the client the handshake was accepted.
			_, err = tc.Write([]byte{1})
		}
		serverErr <- err
	}()

	clientCert := tls.Certificate{PrivateKey: key}
	for _, c := range chain {
		clientCert.Certificate = append(clientCert.Certificate, c.Raw)
	}
	clientCfg := &tls.Config{
		RootCAs:    testpki.Pool(serverRoot),
		ServerName: "127.0.0.1",
		Time:       func() time.Time { return testpki.Now },
		MinVersion: version,
		MaxVersion: version,
		// Always present the chain, whatever CAs the server names.
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &clientCert, nil },
	}
	d := tls.Dialer{Config: clientCfg}
	conn, err := d.DialContext(ctx, "tcp", ln.Addr().String())
	if err == nil {
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _ = conn.Read(make([]byte, 1)) // in TLS 1.3 the server decides after the client finished
		conn.Close()
	}
	return <-serverErr
}

// TestTLSAgreement checks that a crypto/tls server configured from a
// Receiver completes a handshake with a crypto/tls client presenting a
// chain exactly when Receiver.VerifyKey accepts that chain and key.
func TestTLSAgreement(t *testing.T) {
	p := newPKI(t)
	serverRoot := testpki.NewRoot(t, "TLS Server Root")
	serverLeaf := serverRoot.Leaf(t, "server", testpki.SANs("127.0.0.1"), testpki.EKU(x509.ExtKeyUsageServerAuth))

	at := func(d time.Duration) time.Time { return testpki.Now.Add(d) }
	roots := []*x509.Certificate{p.root.Cert, p.rsaRoot.Cert}
	base := &Receiver{Roots: roots, Time: testpki.Now}
	with := func(f func(r *Receiver)) *Receiver { r := *base; f(&r); return &r }

	edLeaf := p.inter.Leaf(t, "ed25519 client", testpki.WithKeyType(testpki.KeyEd25519))
	expiredLeaf := p.inter.Leaf(t, "old client", testpki.Expired())
	futureLeaf := p.inter.Leaf(t, "future client", testpki.NotYetValid())
	expiredInter := p.root.Intermediate(t, "Old Inter", testpki.Expired())
	serverAuthLeaf := p.inter.Leaf(t, "server auth", testpki.EKU(x509.ExtKeyUsageServerAuth))
	noEKU := p.inter.Leaf(t, "no eku", testpki.NoEKU())
	bothEKU := p.inter.Leaf(t, "both", testpki.EKU(x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth))
	serverInter := p.root.Intermediate(t, "Server Inter", testpki.EKU(x509.ExtKeyUsageServerAuth))
	underServerInter := serverInter.Leaf(t, "under server inter")
	underExpiredInter := expiredInter.Leaf(t, "under old inter")
	sha1Leaf := p.rsaInter.Leaf(t, "sha1 client", testpki.SHA1())
	md5Leaf := p.rsaInter.Leaf(t, "md5 client", testpki.MD5())
	weakLeaf := p.rsaInter.Leaf(t, "weak client", testpki.RSA1024())
	notCA := &testpki.CA{Cert: p.leaf.Cert, Key: p.leaf.Key, Parent: p.inter}
	underLeaf := notCA.Leaf(t, "under leaf")
	reissuedLeaf := p.inter.Leaf(t, "client of reissued", testpki.Validity(at(-time.Hour), at(time.Hour)))
	selfSigned := testpki.NewRoot(t, "self-signed client", testpki.EKU(x509.ExtKeyUsageClientAuth))
	sans := p.inter.Leaf(t, "many names", testpki.SANs("a.example", "b.example", "10.1.2.3", "ops@example.com"))
	otherKey := testpki.NewKey(t, testpki.KeyECDSAP256)

	tests := []struct {
		name   string
		r      *Receiver
		chain  []*x509.Certificate
		key    crypto.Signer
		accept bool
		reason error // a sentinel the receiver must report when rejecting
	}{
		{"valid ECDSA chain", base, p.leaf.Chain, p.leaf.Key, true, nil},
		{"valid RSA chain", base, p.rsaLeaf.Chain, p.rsaLeaf.Key, true, nil},
		{"Ed25519 client", base, edLeaf.Chain, edLeaf.Key, true, nil},
		{"several SANs", base, sans.Chain, sans.Key, true, nil},
		{"root sent as well", base, append(append([]*x509.Certificate{}, p.leaf.Chain...), p.root.Cert), p.leaf.Key, true, nil},
		{"expired leaf", base, expiredLeaf.Chain, expiredLeaf.Key, false, ErrExpired},
		{"leaf not yet valid", base, futureLeaf.Chain, futureLeaf.Key, false, ErrNotYetValid},
		{"expired intermediate", base, underExpiredInter.Chain, underExpiredInter.Key, false, ErrExpired},
		{"expired root", with(func(r *Receiver) { r.Roots = []*x509.Certificate{p.expiredRoot.Cert} }), p.leaf.Chain, p.leaf.Key, false, ErrExpired},
		{"server auth only", base, serverAuthLeaf.Chain, serverAuthLeaf.Key, false, ErrUsage},
		{"no EKU", base, noEKU.Chain, noEKU.Key, true, nil},
		{"server and client auth", base, bothEKU.Chain, bothEKU.Key, true, nil},
		{"intermediate restricted to server auth", base, underServerInter.Chain, underServerInter.Key, false, ErrUsage},
		{"unknown root", base, p.unknownLeaf.Chain, p.unknownLeaf.Key, false, ErrUnknownAuthority},
		{"untrusted root sent", base, append(append([]*x509.Certificate{}, p.unknownLeaf.Chain...), p.unknownRoot.Cert), p.unknownLeaf.Key, false, ErrUnknownAuthority},
		{"no roots", with(func(r *Receiver) { r.Roots = nil }), p.leaf.Chain, p.leaf.Key, false, ErrUnknownAuthority},
		{"missing intermediate", base, []*x509.Certificate{p.leaf.Cert}, p.leaf.Key, false, ErrIncompleteChain},
		{"missing intermediate supplied by the receiver", with(func(r *Receiver) { r.Intermediates = []*x509.Certificate{p.inter.Cert} }),
			[]*x509.Certificate{p.leaf.Cert}, p.leaf.Key, true, nil},
		{"receiver intermediates do not rescue an expired leaf", with(func(r *Receiver) { r.Intermediates = []*x509.Certificate{p.inter.Cert} }),
			[]*x509.Certificate{expiredLeaf.Cert}, expiredLeaf.Key, false, ErrExpired},
		{"cross-signed new root, old root trusted", base, []*x509.Certificate{p.newLeaf.Cert, p.cross.Cert}, p.newLeaf.Key, true, nil},
		{"cross-signed new root, new root trusted", with(func(r *Receiver) { r.Roots = []*x509.Certificate{p.newRoot.Cert} }),
			[]*x509.Certificate{p.newLeaf.Cert, p.cross.Cert}, p.newLeaf.Key, true, nil},
		{"new leaf without cross certificate", base, []*x509.Certificate{p.newLeaf.Cert}, p.newLeaf.Key, false, ErrIncompleteChain},
		{"old and new roots trusted", with(func(r *Receiver) { r.Roots = []*x509.Certificate{p.root.Cert, p.newRoot.Cert} }),
			p.newLeaf.Chain, p.newLeaf.Key, true, nil},
		{"re-issued root with the same key", with(func(r *Receiver) { r.Roots = []*x509.Certificate{p.reissued.Cert} }),
			reissuedLeaf.Chain, reissuedLeaf.Key, true, nil},
		{"pinned", with(func(r *Receiver) { r.Pinned = []*x509.Certificate{p.leaf.Cert} }), p.leaf.Chain, p.leaf.Key, true, nil},
		{"not pinned", with(func(r *Receiver) { r.Pinned = []*x509.Certificate{p.rsaLeaf.Cert} }), p.leaf.Chain, p.leaf.Key, false, ErrNotPinned},
		{"self-signed client certificate trusted directly", with(func(r *Receiver) { r.Roots = []*x509.Certificate{selfSigned.Cert} }),
			[]*x509.Certificate{selfSigned.Cert}, selfSigned.Key, true, nil},
		{"SHA-1 signature", base, sha1Leaf.Chain, sha1Leaf.Key, false, ErrWeakSignature},
		{"MD5 signature", base, md5Leaf.Chain, md5Leaf.Key, false, ErrWeakSignature},
		{"RSA-1024 key, default minimum", base, weakLeaf.Chain, weakLeaf.Key, false, ErrWeakKey},
		{"RSA-1024 key, minimum 1024", with(func(r *Receiver) { r.MinRSABits = 1024 }), weakLeaf.Chain, weakLeaf.Key, true, nil},
		{"bad signature", base, []*x509.Certificate{flip(t, p.leaf.Cert), p.inter.Cert}, p.leaf.Key, false, ErrBadSignature},
		{"issuer is not a CA", base, []*x509.Certificate{underLeaf.Cert, p.leaf.Cert, p.inter.Cert}, underLeaf.Key, false, ErrConstraint},
		{"client holds another key", base, p.leaf.Chain, otherKey, false, ErrKeyMismatch},
	}
	require.GreaterOrEqual(t, len(tests), 20)
	server := serverLeaf.TLSCertificate()
	var accepted, rejected int
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := tt.key
			_, verr := tt.r.VerifyKey(key, tt.chain)
			cfg := tlsServerConfig(tt.r, server)
			for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
				herr := handshake(t, cfg, serverRoot.Cert, v, tt.chain, key)
				assert.Equal(t, herr == nil, verr == nil, "TLS 0x%x: handshake error %v; Verify error %v", v, herr, verr)
			}
			if tt.accept {
				require.NoError(t, verr)
				accepted++
				return
			}
			require.Error(t, verr)
			rejected++
			var ve *VerifyError
			require.ErrorAs(t, verr, &ve)
			assert.Contains(t, reasons(ve), tt.reason)
		})
	}
	assert.Positive(t, accepted)
	assert.Positive(t, rejected)
}
