package testpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/md5"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// verify runs crypto/x509 at Now with clientAuth and returns the error.
func verify(leaf *x509.Certificate, roots []*x509.Certificate, inters []*x509.Certificate) error {
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots:         Pool(roots...),
		Intermediates: Pool(inters...),
		CurrentTime:   Now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	return err
}

func TestHierarchy(t *testing.T) {
	root := NewRoot(t, "Root A")
	inter := root.Intermediate(t, "Inter A")
	leaf := inter.Leaf(t, "client")

	assert.Equal(t, "CN=Root A,O=certroll test", root.Cert.Subject.String())
	assert.True(t, root.Cert.IsCA)
	assert.Equal(t, root.Cert.RawSubject, root.Cert.RawIssuer)
	assert.Equal(t, []*x509.Certificate{leaf.Cert, inter.Cert}, leaf.Chain)
	assert.Empty(t, root.Path())
	assert.Same(t, root, inter.Root())
	assert.Equal(t, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, leaf.Cert.ExtKeyUsage)
	assert.False(t, leaf.Cert.IsCA)
	assert.Equal(t, inter.Cert.SubjectKeyId, leaf.Cert.AuthorityKeyId)
	require.NoError(t, verify(leaf.Cert, []*x509.Certificate{root.Cert}, leaf.Chain[1:]))
	require.NoError(t, leaf.Cert.CheckSignatureFrom(inter.Cert))
	_, ok := leaf.Key.(*ecdsa.PrivateKey)
	assert.True(t, ok, "default key type is ECDSA")
	assert.NotEqual(t, leaf.Cert.SerialNumber, inter.Cert.SerialNumber)
}

func TestMutations(t *testing.T) {
	root := NewRoot(t, "Root M", WithKeyType(KeyRSA2048))
	tests := []struct {
		name    string
		opts    []Opt
		check   func(t *testing.T, c *x509.Certificate)
		wantErr bool // crypto/x509 at Now with clientAuth rejects it
	}{
		{"expired", []Opt{Expired()}, func(t *testing.T, c *x509.Certificate) {
			assert.True(t, c.NotAfter.Before(Now))
		}, true},
		{"not yet valid", []Opt{NotYetValid()}, func(t *testing.T, c *x509.Certificate) {
			assert.True(t, c.NotBefore.After(Now))
		}, true},
		{"validity", []Opt{Validity(Now.Add(-time.Hour), Now.Add(time.Hour))}, func(t *testing.T, c *x509.Certificate) {
			assert.Equal(t, Now.Add(-time.Hour), c.NotBefore)
			assert.Equal(t, Now.Add(time.Hour), c.NotAfter)
		}, false},
		{"server auth only", []Opt{EKU(x509.ExtKeyUsageServerAuth)}, func(t *testing.T, c *x509.Certificate) {
			assert.Equal(t, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, c.ExtKeyUsage)
		}, true},
		{"no EKU", []Opt{NoEKU()}, func(t *testing.T, c *x509.Certificate) {
			assert.Empty(t, c.ExtKeyUsage)
		}, false},
		{"SHA-1", []Opt{SHA1()}, func(t *testing.T, c *x509.Certificate) {
			assert.Equal(t, x509.SHA1WithRSA, c.SignatureAlgorithm)
			assert.NoError(t, root.Cert.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature))
		}, true},
		{"MD5", []Opt{MD5()}, func(t *testing.T, c *x509.Certificate) {
			assert.Equal(t, x509.MD5WithRSA, c.SignatureAlgorithm)
			digest := md5.Sum(c.RawTBSCertificate)
			assert.NoError(t, rsa.VerifyPKCS1v15(root.Cert.PublicKey.(*rsa.PublicKey), crypto.MD5, digest[:], c.Signature))
		}, true},
		{"RSA-1024", []Opt{RSA1024()}, func(t *testing.T, c *x509.Certificate) {
			assert.Equal(t, 1024, c.PublicKey.(*rsa.PublicKey).N.BitLen())
		}, false},
		{"Ed25519", []Opt{WithKeyType(KeyEd25519)}, func(t *testing.T, c *x509.Certificate) {
			assert.IsType(t, ed25519.PublicKey{}, c.PublicKey)
		}, false},
		{"SANs", []Opt{SANs("a.example", "b.example", "10.0.0.1", "ops@example.com", "spiffe://example/x")}, func(t *testing.T, c *x509.Certificate) {
			assert.Equal(t, []string{"a.example", "b.example"}, c.DNSNames)
			assert.Equal(t, "10.0.0.1", c.IPAddresses[0].String())
			assert.Equal(t, []string{"ops@example.com"}, c.EmailAddresses)
			assert.Equal(t, "spiffe://example/x", c.URIs[0].String())
		}, false},
		{"modify", []Opt{Modify(func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageKeyAgreement })}, func(t *testing.T, c *x509.Certificate) {
			assert.Equal(t, x509.KeyUsageKeyAgreement, c.KeyUsage)
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leaf := root.Leaf(t, "client "+tt.name, tt.opts...)
			tt.check(t, leaf.Cert)
			err := verify(leaf.Cert, []*x509.Certificate{root.Cert}, nil)
			if tt.wantErr {
				assert.Error(t, err)
			} else {
				assert.NoError(t, err)
			}
		})
	}
}

func TestRSAKeysDistinctWithinTest(t *testing.T) {
	a := NewKey(t, KeyRSA2048).(*rsa.PrivateKey)
	var b *rsa.PrivateKey
	t.Run("sub", func(t *testing.T) { b = NewKey(t, KeyRSA2048).(*rsa.PrivateKey) })
	assert.False(t, a.Equal(b), "keys within one top-level test must differ")
	assert.Equal(t, 2048, a.N.BitLen())
}

func TestCrossSignAndReissue(t *testing.T) {
	oldRoot := NewRoot(t, "Old Root")
	newRoot := NewRoot(t, "New Root")
	cross := oldRoot.CrossSign(t, newRoot)
	leaf := newRoot.Leaf(t, "client")

	assert.Equal(t, newRoot.Cert.RawSubject, cross.Cert.RawSubject)
	assert.Equal(t, oldRoot.Cert.RawSubject, cross.Cert.RawIssuer)
	assert.Equal(t, []*x509.Certificate{cross.Cert}, cross.Path())
	// Only the old root is trusted: the cross certificate bridges to it.
	require.NoError(t, verify(leaf.Cert, []*x509.Certificate{oldRoot.Cert}, []*x509.Certificate{cross.Cert}))
	require.Error(t, verify(leaf.Cert, []*x509.Certificate{oldRoot.Cert}, nil))

	from, to := Now.Add(-time.Hour), Now.Add(20*365*24*time.Hour)
	re := newRoot.Reissue(t, Validity(from, to))
	assert.Equal(t, newRoot.Cert.RawSubject, re.Cert.RawSubject)
	assert.Equal(t, newRoot.Cert.SubjectKeyId, re.Cert.SubjectKeyId)
	assert.True(t, re.Cert.PublicKey.(*ecdsa.PublicKey).Equal(newRoot.Cert.PublicKey))
	assert.NotEqual(t, newRoot.Cert.Raw, re.Cert.Raw)
	assert.Equal(t, to.UTC(), re.Cert.NotAfter)
	require.NoError(t, verify(leaf.Cert, []*x509.Certificate{re.Cert}, nil))

	inter := newRoot.Intermediate(t, "Inter")
	reInter := inter.Reissue(t)
	assert.Same(t, newRoot, reInter.Parent)
	require.NoError(t, reInter.Cert.CheckSignatureFrom(newRoot.Cert))
}

func TestPEMAndTLS(t *testing.T) {
	root := NewRoot(t, "Root P")
	leaf := root.Intermediate(t, "Inter P").Leaf(t, "client")
	data := PEM(leaf.Chain...)
	var n int
	for rest := data; ; n++ {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		assert.Equal(t, leaf.Chain[n].Raw, b.Bytes)
	}
	assert.Equal(t, 2, n)

	pair, err := tls.X509KeyPair(data, KeyPEM(t, leaf.Key))
	require.NoError(t, err)
	assert.Len(t, pair.Certificate, 2)
	assert.Equal(t, leaf.TLSCertificate().Certificate, pair.Certificate)
	assert.Equal(t, []*x509.Certificate{root.Cert}, Certs(root))
}

func TestForExample(t *testing.T) {
	tb := ForExample("ExampleX")
	assert.Equal(t, "ExampleX", tb.Name())
	root := NewRoot(tb, "example root")
	assert.Equal(t, "example root", root.Cert.Subject.CommonName)
	assert.PanicsWithValue(t, "testpki: ExampleX: boom 1", func() { tb.Fatalf("boom %d", 1) })
}
