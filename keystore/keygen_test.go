package keystore_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/keystore"
)

// Helpers shared by keygen_test.go, csr_test.go, certs_test.go and
// fingerprint_test.go. Their names start with "tc" so they do not collide
// with other test files of the package.

// tcNow is the fixed clock of every certificate these tests build.
var tcNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

var tcKeys sync.Map // keystore.KeyType -> crypto.Signer

// tcKey returns a key of type kt, generated once per test binary: RSA-4096
// generation takes about a second, and most tests only need some key.
func tcKey(t testing.TB, kt keystore.KeyType) crypto.Signer {
	t.Helper()
	if k, ok := tcKeys.Load(kt); ok {
		return k.(crypto.Signer)
	}
	k, err := keystore.GenerateKey(kt, nil)
	require.NoError(t, err)
	actual, _ := tcKeys.LoadOrStore(kt, k)
	return actual.(crypto.Signer)
}

// tcTool runs a real tool (openssl, keytool, java) and returns its combined
// output. A missing tool fails the test: CI installs all of them.
func tcTool(t testing.TB, dir, name string, args ...string) string {
	t.Helper()
	out, err := tcToolErr(t, dir, name, args...)
	require.NoError(t, err, "%s %s:\n%s", name, strings.Join(args, " "), out)
	return out
}

// tcToolErr is tcTool for runs that may fail.
func tcToolErr(t testing.TB, dir, name string, args ...string) (string, error) {
	t.Helper()
	if name == "keytool" {
		// keytool's messages follow the locale; the tests read English.
		args = append([]string{"-J-Duser.language=en", "-J-Duser.country=US"}, args...)
	}
	path, err := exec.LookPath(name)
	require.NoError(t, err, "%s must be installed for this test", name)
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// tcWrite writes data to dir/name and returns the path.
func tcWrite(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, data, 0o600))
	return p
}

// tcRead reads dir/name.
func tcRead(t testing.TB, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	require.NoError(t, err)
	return b
}

// tcIssued is a certificate and its key.
type tcIssued struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

var tcSerial struct {
	sync.Mutex
	n int64
}

// tcIssue signs tmpl for key with parent (self-signed when parent is nil),
// filling in a serial number and a validity around tcNow when tmpl leaves
// them zero.
func tcIssue(t testing.TB, tmpl *x509.Certificate, key crypto.Signer, parent *tcIssued) *tcIssued {
	t.Helper()
	c := *tmpl
	if c.SerialNumber == nil {
		tcSerial.Lock()
		tcSerial.n++
		c.SerialNumber = big.NewInt(1000 + tcSerial.n)
		tcSerial.Unlock()
	}
	if c.NotBefore.IsZero() {
		c.NotBefore = tcNow.Add(-time.Hour)
	}
	if c.NotAfter.IsZero() {
		c.NotAfter = tcNow.AddDate(1, 0, 0)
	}
	signer, issuer := key, &c
	if parent != nil {
		signer, issuer = parent.Key, parent.Cert
	}
	der, err := x509.CreateCertificate(rand.Reader, &c, issuer, key.Public(), signer)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return &tcIssued{Cert: cert, Key: key}
}

// tcChain returns a three-certificate client chain: leaf (EC P-256, with
// SANs), intermediate (EC P-384) and root (RSA-2048).
func tcChain(t testing.TB) (leaf, inter, root *tcIssued) {
	t.Helper()
	ca := func(cn string) *x509.Certificate {
		return &x509.Certificate{
			Subject:               pkix.Name{CommonName: cn, Organization: []string{"certroll test"}},
			IsCA:                  true,
			BasicConstraintsValid: true,
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		}
	}
	root = tcIssue(t, ca("Test Root CA"), tcKey(t, keystore.RSA2048), nil)
	inter = tcIssue(t, ca("Test Issuing CA"), tcKey(t, keystore.ECDSAP384), root)
	leaf = tcIssue(t, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "tenant-client", Organization: []string{"Tenant"}},
		DNSNames:    []string{"tenant.example.com"},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, tcKey(t, keystore.ECDSAP256), inter)
	return leaf, inter, root
}

// tcPEM encodes certificates as PEM CERTIFICATE blocks.
func tcPEM(certs ...*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range certs {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.Bytes()
}

// tcKeyPEM encodes a private key as PKCS #8 PEM.
func tcKeyPEM(t testing.TB, key crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// tcSignVerify signs a message with key and verifies the signature with
// the public key, by the algorithm's own verifier.
func tcSignVerify(t *testing.T, key crypto.Signer) {
	t.Helper()
	msg := []byte("certroll signs this")
	digest := sha256.Sum256(msg)
	switch pub := key.Public().(type) {
	case *rsa.PublicKey:
		sig, err := key.Sign(rand.Reader, digest[:], crypto.SHA256)
		require.NoError(t, err)
		assert.NoError(t, rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig))
		assert.Error(t, rsa.VerifyPKCS1v15(pub, crypto.SHA256, make([]byte, 32), sig), "a signature must not verify another digest")
	case *ecdsa.PublicKey:
		sig, err := key.Sign(rand.Reader, digest[:], crypto.SHA256)
		require.NoError(t, err)
		assert.True(t, ecdsa.VerifyASN1(pub, digest[:], sig))
		assert.False(t, ecdsa.VerifyASN1(pub, make([]byte, 32), sig), "a signature must not verify another digest")
	case ed25519.PublicKey:
		sig, err := key.Sign(rand.Reader, msg, crypto.Hash(0))
		require.NoError(t, err)
		assert.True(t, ed25519.Verify(pub, msg, sig))
		assert.False(t, ed25519.Verify(pub, []byte("something else"), sig), "a signature must not verify another message")
	default:
		t.Fatalf("unexpected public key type %T", pub)
	}
}

func TestGenerateKey(t *testing.T) {
	tests := []struct {
		name  string
		kt    keystore.KeyType
		check func(t *testing.T, key crypto.Signer)
	}{
		{"rsa2048", keystore.RSA2048, tcRSABits(2048)},
		{"rsa3072", keystore.RSA3072, tcRSABits(3072)},
		{"rsa4096", keystore.RSA4096, tcRSABits(4096)},
		{"ec-p256", keystore.ECDSAP256, tcECCurve(elliptic.P256())},
		{"ec-p384", keystore.ECDSAP384, tcECCurve(elliptic.P384())},
		{"ec-p521", keystore.ECDSAP521, tcECCurve(elliptic.P521())},
		{"ed25519", keystore.Ed25519, func(t *testing.T, key crypto.Signer) {
			k, ok := key.(ed25519.PrivateKey)
			require.True(t, ok, "got %T", key)
			assert.Len(t, k, ed25519.PrivateKeySize)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, err := keystore.GenerateKey(tt.kt, nil)
			require.NoError(t, err)
			tt.check(t, key)
			tcSignVerify(t, key)
			assert.Equal(t, tt.name, tt.kt.String())

			if tt.kt != keystore.RSA4096 { // a second 4096-bit key costs seconds and tests no other code
				other, err := keystore.GenerateKey(tt.kt, nil)
				require.NoError(t, err)
				type equaler interface{ Equal(crypto.PublicKey) bool }
				assert.False(t, key.Public().(equaler).Equal(other.Public()), "two generated keys must differ")
			}
			tcKeys.LoadOrStore(tt.kt, key)
		})
	}
}

func tcRSABits(bits int) func(t *testing.T, key crypto.Signer) {
	return func(t *testing.T, key crypto.Signer) {
		k, ok := key.(*rsa.PrivateKey)
		require.True(t, ok, "got %T", key)
		assert.Equal(t, bits, k.N.BitLen())
		assert.Equal(t, 65537, k.E)
		assert.NoError(t, k.Validate())
		assert.Equal(t, "RSA "+tcItoa(bits), keystore.KeyDescription(k.Public()))
	}
}

func tcECCurve(c elliptic.Curve) func(t *testing.T, key crypto.Signer) {
	return func(t *testing.T, key crypto.Signer) {
		k, ok := key.(*ecdsa.PrivateKey)
		require.True(t, ok, "got %T", key)
		assert.Equal(t, c, k.Curve)
		assert.Equal(t, "EC "+c.Params().Name, keystore.KeyDescription(k.Public()))
	}
}

func tcItoa(n int) string { return big.NewInt(int64(n)).String() }

func TestGenerateKeyUnknownType(t *testing.T) {
	tests := []struct {
		name string
		kt   keystore.KeyType
		want string
	}{
		{"zero", 0, "KeyType(0)"},
		{"past the end", keystore.Ed25519 + 1, "KeyType(8)"},
		{"negative", -1, "KeyType(-1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, err := keystore.GenerateKey(tt.kt, nil)
			require.Error(t, err)
			assert.Nil(t, key)
			assert.ErrorIs(t, err, keystore.ErrUnsupportedKey)
			assert.Contains(t, err.Error(), tt.want)
			assert.Contains(t, err.Error(), "rsa2048, rsa3072, rsa4096, ec-p256, ec-p384, ec-p521, ed25519")
			assert.True(t, strings.HasPrefix(err.Error(), "keystore: "), err.Error())
			assert.Equal(t, tt.want, tt.kt.String())
		})
	}
}

func TestParseKeyType(t *testing.T) {
	tests := []struct {
		in   string
		want keystore.KeyType
	}{
		{"rsa2048", keystore.RSA2048},
		{"RSA-2048", keystore.RSA2048},
		{"rsa_3072", keystore.RSA3072},
		{"RSA 4096", keystore.RSA4096},
		{"ec-p256", keystore.ECDSAP256},
		{"EC P-256", keystore.ECDSAP256},
		{"ecdsa-p256", keystore.ECDSAP256},
		{"prime256v1", keystore.ECDSAP256},
		{"secp256r1", keystore.ECDSAP256},
		{"P-384", keystore.ECDSAP384},
		{"secp384r1", keystore.ECDSAP384},
		{"ec-p521", keystore.ECDSAP521},
		{"secp521r1", keystore.ECDSAP521},
		{"ed25519", keystore.Ed25519},
		{"Ed25519", keystore.Ed25519},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := keystore.ParseKeyType(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	for _, kt := range keystore.KeyTypes() {
		t.Run("round trip "+kt.String(), func(t *testing.T) {
			got, err := keystore.ParseKeyType(kt.String())
			require.NoError(t, err)
			assert.Equal(t, kt, got)
		})
	}
	for _, bad := range []string{"", "rsa", "rsa1024", "ec-p224", "ed448", "dsa2048", "KeyType(1)"} {
		t.Run("unknown "+bad, func(t *testing.T) {
			got, err := keystore.ParseKeyType(bad)
			require.Error(t, err)
			assert.Zero(t, got)
			assert.ErrorIs(t, err, keystore.ErrUnsupportedKey)
			assert.Contains(t, err.Error(), `"`+bad+`"`, "the input must be quoted")
		})
	}
}

func TestKeyTypesAllGenerate(t *testing.T) {
	kts := keystore.KeyTypes()
	require.Len(t, kts, 7)
	seen := map[string]bool{}
	for _, kt := range kts {
		assert.False(t, seen[kt.String()], "duplicate name %q", kt)
		seen[kt.String()] = true
		assert.NotContains(t, kt.String(), "KeyType(")
	}
}

func TestGenerateKeyFromReader(t *testing.T) {
	seed := bytes.Repeat([]byte{0x42}, ed25519.SeedSize)
	t.Run("ed25519 is a function of the reader", func(t *testing.T) {
		a, err := keystore.GenerateKey(keystore.Ed25519, bytes.NewReader(seed))
		require.NoError(t, err)
		b, err := keystore.GenerateKey(keystore.Ed25519, bytes.NewReader(seed))
		require.NoError(t, err)
		assert.Equal(t, a, b)
		assert.Equal(t, ed25519.NewKeyFromSeed(seed), a)
	})
	t.Run("ed25519 reader error is returned", func(t *testing.T) {
		boom := errors.New("entropy source broken")
		key, err := keystore.GenerateKey(keystore.Ed25519, iotest.ErrReader(boom))
		require.Error(t, err)
		assert.Nil(t, key)
		assert.ErrorIs(t, err, boom)
		assert.Contains(t, err.Error(), "keystore: generating ed25519 key")
	})
	t.Run("ed25519 short reader is an error", func(t *testing.T) {
		_, err := keystore.GenerateKey(keystore.Ed25519, bytes.NewReader(seed[:10]))
		require.Error(t, err)
	})
	t.Run("nil reader means crypto/rand", func(t *testing.T) {
		for _, kt := range []keystore.KeyType{keystore.ECDSAP256, keystore.Ed25519} {
			key, err := keystore.GenerateKey(kt, nil)
			require.NoError(t, err)
			tcSignVerify(t, key)
		}
	})
}

func BenchmarkGenerateKey(b *testing.B) {
	for _, kt := range keystore.KeyTypes() {
		b.Run(kt.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := keystore.GenerateKey(kt, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
