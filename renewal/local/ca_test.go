package local

import (
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"testing"

	"github.com/certroll/certroll/keystore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCASign(t *testing.T) {
	ctx := context.Background()
	ca := newTestCA(t, "New Client Root CA")
	assert.Equal(t, "New Client Root CA", ca.Root().Subject.CommonName)
	assert.True(t, ca.Root().IsCA)

	key, err := keystore.GenerateKey(keystore.ECDSAP256, nil)
	require.NoError(t, err)
	csr, err := keystore.NewCSR(key, &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: "tenant-client", Organization: []string{"Tenant"}},
		DNSNames: []string{"tenant.example"},
	})
	require.NoError(t, err)
	got, err := ca.Sign(ctx, csr)
	require.NoError(t, err)
	require.Len(t, got, 2)
	leaf := got[0]
	assert.Equal(t, ca.Root().Raw, got[1].Raw, "the chain ends with the root")
	assert.Equal(t, "tenant-client", leaf.Subject.CommonName)
	assert.Equal(t, []string{"Tenant"}, leaf.Subject.Organization)
	assert.Equal(t, []string{"tenant.example"}, leaf.DNSNames)
	assert.True(t, key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(leaf.PublicKey), "the leaf holds the CSR's key")
	_, err = leaf.Verify(x509.VerifyOptions{
		Roots:       poolOf(ca.Root()),
		CurrentTime: clock(),
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	assert.NoError(t, err, "the leaf verifies to the root for clientAuth at the CA's clock")

	// Two signatures of the same request are distinct certificates.
	again, err := ca.Sign(ctx, csr)
	require.NoError(t, err)
	assert.NotEqual(t, leaf.SerialNumber, again[0].SerialNumber)
}

func TestCASignErrors(t *testing.T) {
	ca := newTestCA(t, "New Client Root CA")
	key, err := keystore.GenerateKey(keystore.ECDSAP256, nil)
	require.NoError(t, err)
	csr, err := keystore.NewCSR(key, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "x"}})
	require.NoError(t, err)
	block, _ := pem.Decode(csr)
	require.NotNil(t, block)
	tampered := append([]byte(nil), block.Bytes...)
	tampered[len(tampered)-3] ^= 0xff // inside the signature
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()

	tests := []struct {
		name string
		ctx  context.Context
		csr  []byte
		is   error
		want string
	}{
		{name: "garbage", ctx: context.Background(), csr: []byte("garbage"), want: "localca"},
		{name: "wrong PEM type", ctx: context.Background(), csr: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: block.Bytes}), want: `"CERTIFICATE"`},
		{name: "bad signature", ctx: context.Background(), csr: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: tampered}), want: "signature"},
		{name: "cancelled", ctx: cancelled, csr: csr, is: context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ca.Sign(tc.ctx, tc.csr)
			require.Error(t, err)
			assert.Nil(t, got)
			if tc.is != nil {
				assert.ErrorIs(t, err, tc.is)
			}
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestServerIdentity(t *testing.T) {
	id, err := newServerIdentity(clock, nil)
	require.NoError(t, err)
	leaf := id.Certificate.Leaf
	require.NotNil(t, leaf)
	for _, host := range []string{"127.0.0.1", "::1", "localhost"} {
		_, err := leaf.Verify(x509.VerifyOptions{
			DNSName:     host,
			Roots:       poolOf(id.Root),
			CurrentTime: clock(),
			KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		})
		assert.NoError(t, err, host)
	}
	_, err = leaf.Verify(x509.VerifyOptions{DNSName: "example.com", Roots: poolOf(id.Root), CurrentTime: clock()})
	assert.Error(t, err, "the server certificate is for loopback only")
}

func poolOf(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}
