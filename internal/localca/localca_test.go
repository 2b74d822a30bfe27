package localca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSignCSR(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }
	ca, err := New("Example Root", now, nil)
	require.NoError(t, err)

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: "client", Organization: []string{"Tenant"}},
		DNSNames: []string{"client.example"},
	}, key)
	require.NoError(t, err)

	chain, err := ca.SignCSR(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	require.NoError(t, err)
	require.Len(t, chain, 2)
	leaf := chain[0]
	assert.Equal(t, "CN=client,O=Tenant", leaf.Subject.String())
	assert.Equal(t, []string{"client.example"}, leaf.DNSNames)
	assert.True(t, key.PublicKey.Equal(leaf.PublicKey))

	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	_, err = leaf.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	assert.NoError(t, err)

	again, err := ca.SignCSR(der)
	require.NoError(t, err)
	assert.NotEqual(t, leaf.SerialNumber, again[0].SerialNumber, "two certificates from one CA must not share a serial")
}

func TestSignCSRRejectsBadInput(t *testing.T) {
	ca, err := New("Root", nil, nil)
	require.NoError(t, err)
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"garbage", []byte("not a request")},
		{"wrong PEM type", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ca.SignCSR(tc.in)
			assert.ErrorContains(t, err, "localca:")
		})
	}
}
