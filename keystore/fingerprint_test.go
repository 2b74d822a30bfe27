//lint:file-ignore SA1019 the tests fingerprint DSA keys as old JKS stores hold them.

package keystore_test

import (
	"crypto"
	"crypto/dsa" //nolint:staticcheck // testing the DSA keys old JKS stores hold
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/keystore"
)

func TestCertFingerprintMatchesOpenSSLAndKeytool(t *testing.T) {
	leaf, inter, root := tcChain(t)
	tests := []struct {
		name string
		cert *x509.Certificate
	}{
		{"leaf", leaf.Cert},
		{"intermediate", inter.Cert},
		{"root", root.Cert},
	}
	colonHex := regexp.MustCompile(`^([0-9A-F]{2}:){31}[0-9A-F]{2}$`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tcWrite(t, dir, "c.pem", tcPEM(tt.cert))

			fp := keystore.CertFingerprint(tt.cert)
			got := fp.String()
			assert.Regexp(t, colonHex, got)

			out := tcTool(t, dir, "openssl", "x509", "-in", "c.pem", "-noout", "-fingerprint", "-sha256")
			m := regexp.MustCompile(`(?i)sha256 Fingerprint=([0-9A-F:]+)`).FindStringSubmatch(out)
			require.NotNil(t, m, "openssl output: %s", out)
			assert.Equal(t, m[1], got, "openssl")
			parsed, err := keystore.ParseFingerprint(strings.TrimSpace(out))
			require.NoError(t, err, "openssl's whole line parses")
			assert.True(t, parsed == fp, "openssl's line parses to the same fingerprint")

			out = tcTool(t, dir, "keytool", "-printcert", "-file", "c.pem")
			m = regexp.MustCompile(`SHA256: ([0-9A-F:]+)`).FindStringSubmatch(out)
			require.NotNil(t, m, "keytool output: %s", out)
			assert.Equal(t, m[1], got, "keytool")
			parsed, err = keystore.ParseFingerprint(m[0])
			require.NoError(t, err, "keytool's line parses")
			assert.True(t, parsed == fp, "keytool's line parses to the same fingerprint")

			hex := fp.Hex()
			assert.Regexp(t, `^[0-9a-f]{64}$`, hex)
			assert.Equal(t, strings.ToLower(strings.ReplaceAll(got, ":", "")), hex)
		})
	}
	t.Run("nil", func(t *testing.T) {
		assert.Equal(t, keystore.Fingerprint{}, keystore.CertFingerprint(nil))
		assert.Equal(t, "", keystore.CertFingerprint(nil).String())
		assert.Equal(t, "", keystore.CertFingerprint(nil).Hex())
	})
}

// tcOpenSSLKeyFingerprint has openssl re-encode a public key as DER and hashes
// what it wrote, the recipe KeyFingerprint documents.
func tcOpenSSLKeyFingerprint(t *testing.T, pubPEM []byte) keystore.Fingerprint {
	t.Helper()
	dir := t.TempDir()
	tcWrite(t, dir, "pub.pem", pubPEM)
	tcTool(t, dir, "openssl", "pkey", "-pubin", "-in", "pub.pem", "-outform", "DER", "-out", "pub.der")
	return sha256.Sum256(tcRead(t, dir, "pub.der"))
}

func TestKeyFingerprintMatchesOpenSSL(t *testing.T) {
	for _, kt := range keystore.KeyTypes() {
		t.Run(kt.String(), func(t *testing.T) {
			pub := tcKey(t, kt).Public()
			der, err := x509.MarshalPKIXPublicKey(pub)
			require.NoError(t, err)
			want := tcOpenSSLKeyFingerprint(t, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))

			got := keystore.KeyFingerprint(pub)
			assert.Equal(t, want, got)
			assert.NotEqual(t, keystore.Fingerprint{}, got)

			// The same key, seen through a certificate, has the same fingerprint.
			c := tcIssue(t, &x509.Certificate{Subject: pkix.Name{CommonName: "fp"}}, tcKey(t, kt), nil)
			assert.Equal(t, got, keystore.KeyFingerprint(c.Cert.PublicKey))
		})
	}
	t.Run("different keys differ", func(t *testing.T) {
		a := keystore.KeyFingerprint(tcKey(t, keystore.ECDSAP256).Public())
		b := keystore.KeyFingerprint(tcKey(t, keystore.ECDSAP384).Public())
		assert.NotEqual(t, a, b)
	})
}

func TestKeyFingerprintAndDescriptionDSA(t *testing.T) {
	// crypto/x509 cannot marshal DSA keys; KeyFingerprint encodes them
	// itself. Check its encoding against a key made by OpenSSL.
	dir := t.TempDir()
	tcTool(t, dir, "openssl", "genpkey", "-genparam", "-algorithm", "DSA", "-pkeyopt", "dsa_paramgen_bits:2048", "-out", "params.pem")
	tcTool(t, dir, "openssl", "genpkey", "-paramfile", "params.pem", "-out", "dsa.pem")
	tcTool(t, dir, "openssl", "pkey", "-in", "dsa.pem", "-pubout", "-outform", "DER", "-out", "pub.der")
	der := tcRead(t, dir, "pub.der")
	parsed, err := x509.ParsePKIXPublicKey(der)
	require.NoError(t, err)
	pub, ok := parsed.(*dsa.PublicKey)
	require.True(t, ok, "got %T", parsed)

	assert.Equal(t, keystore.Fingerprint(sha256.Sum256(der)), keystore.KeyFingerprint(pub))
	assert.Equal(t, "DSA 2048", keystore.KeyDescription(pub))
}

func TestKeyDescription(t *testing.T) {
	x25519, err := ecdh.X25519().GenerateKey(rand.Reader)
	require.NoError(t, err)
	p256ecdh, err := tcKey(t, keystore.ECDSAP256).(*ecdsa.PrivateKey).PublicKey.ECDH()
	require.NoError(t, err)
	tests := []struct {
		name string
		pub  crypto.PublicKey
		want string
	}{
		{"rsa2048", tcKey(t, keystore.RSA2048).Public(), "RSA 2048"},
		{"rsa3072", tcKey(t, keystore.RSA3072).Public(), "RSA 3072"},
		{"rsa4096", tcKey(t, keystore.RSA4096).Public(), "RSA 4096"},
		{"p256", tcKey(t, keystore.ECDSAP256).Public(), "EC P-256"},
		{"p384", tcKey(t, keystore.ECDSAP384).Public(), "EC P-384"},
		{"p521", tcKey(t, keystore.ECDSAP521).Public(), "EC P-521"},
		{"ed25519", tcKey(t, keystore.Ed25519).Public(), "Ed25519"},
		{"x25519", x25519.PublicKey(), "X25519"},
		{"ecdh p256", p256ecdh, "EC P-256"},
		{"nil", nil, "unknown"},
		{"string", "not a key", "unknown"},
		{"nil rsa", (*rsa.PublicKey)(nil), "unknown"},
		{"empty rsa", &rsa.PublicKey{}, "unknown"},
		{"nil ecdsa", (*ecdsa.PublicKey)(nil), "unknown"},
		{"empty ecdsa", &ecdsa.PublicKey{}, "unknown"},
		{"short ed25519", ed25519.PublicKey{1, 2, 3}, "unknown"},
		{"nil dsa", (*dsa.PublicKey)(nil), "unknown"},
		{"empty dsa", &dsa.PublicKey{}, "unknown"},
		{"private key", tcKey(t, keystore.ECDSAP256), "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, keystore.KeyDescription(tt.pub))
			fp := keystore.KeyFingerprint(tt.pub)
			if tt.want == "unknown" {
				assert.Equal(t, keystore.Fingerprint{}, fp)
			} else {
				assert.NotEqual(t, keystore.Fingerprint{}, fp)
			}
		})
	}
}

func BenchmarkCertFingerprint(b *testing.B) {
	leaf, _, _ := tcChain(b)
	b.ReportAllocs()
	for b.Loop() {
		_ = keystore.CertFingerprint(leaf.Cert).String()
	}
}

func TestParseFingerprint(t *testing.T) {
	leaf, _, _ := tcChain(t)
	fp := keystore.CertFingerprint(leaf.Cert)
	colon, hex := fp.String(), fp.Hex()
	sum := sha256.Sum256(leaf.Cert.Raw)
	forms := []struct{ name, in string }{
		{"keytool's colon form", colon},
		{"colon form in lower case", strings.ToLower(colon)},
		{"plain lower-case hex", hex},
		{"plain upper-case hex", strings.ToUpper(hex)},
		{"SHA256: prefix", "SHA256:" + hex},
		{"sha256: prefix, colons", "sha256:" + colon},
		{"SHA-256: prefix", "SHA-256:" + colon},
		{"keytool's line", "SHA256: " + colon},
		{"OpenSSL's line", "sha256 Fingerprint=" + colon},
		{"OpenSSL 1.1's line", "SHA256 Fingerprint=" + colon},
		{"OpenSSH-style base64", "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])},
		{"spaces around", "  " + colon + "\n"},
	}
	for _, tt := range forms {
		t.Run(tt.name, func(t *testing.T) {
			got, err := keystore.ParseFingerprint(tt.in)
			require.NoError(t, err)
			assert.True(t, got == fp, "got %s", got)
		})
	}

	bad := []struct{ name, in, reason string }{
		{"short, colons", "AB:CD", `"AB:CD": expected a SHA-256 fingerprint as 32 colon-separated hex pairs, found 2 groups`},
		{"short hex", "abcd", "64 hex digits, found 4"},
		{"SHA-1", strings.Repeat("ab", 20), "found 40"},
		{"not hex", strings.Repeat("zz", 32), "not a hex digit"},
		{"bad colon group", "ABC:" + strings.Repeat("AB:", 30) + "A", `group "ABC"`},
		{"OpenSSL's SHA-1 line", "SHA1 Fingerprint=" + strings.Repeat("AB:", 19) + "AB", "found a SHA1 one"},
		{"prefix only", "SHA256:", "found 0 characters"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			got, err := keystore.ParseFingerprint(tt.in)
			require.Error(t, err)
			assert.ErrorIs(t, err, keystore.ErrInvalidFingerprint)
			var fe *keystore.FingerprintError
			require.ErrorAs(t, err, &fe)
			assert.Equal(t, tt.in, keystore.FingerprintErrorInput(fe))
			assert.Contains(t, err.Error(), tt.reason)
			assert.True(t, strings.HasPrefix(err.Error(), "keystore: "), err.Error())
			assert.Equal(t, keystore.Fingerprint{}, got)
		})
	}

	t.Run("empty is the zero fingerprint", func(t *testing.T) {
		got, err := keystore.ParseFingerprint("")
		require.NoError(t, err)
		assert.Equal(t, keystore.Fingerprint{}, got)
	})
}

// TestFingerprintJSON: a fingerprint marshals as lower-case hex, reads back
// from any pasted form, and the zero one is "" or, tagged omitzero, left out.
func TestFingerprintJSON(t *testing.T) {
	leaf, _, _ := tcChain(t)
	fp := keystore.CertFingerprint(leaf.Cert)
	type doc struct {
		A keystore.Fingerprint `json:"a"`
		B keystore.Fingerprint `json:"b"`
		C keystore.Fingerprint `json:"c,omitzero"`
	}
	data, err := json.Marshal(doc{A: fp})
	require.NoError(t, err)
	assert.Equal(t, `{"a":"`+fp.Hex()+`","b":""}`, string(data))

	var back doc
	require.NoError(t, json.Unmarshal(data, &back))
	assert.Equal(t, doc{A: fp}, back)

	require.NoError(t, json.Unmarshal([]byte(`{"a":"`+fp.String()+`","c":"SHA256:`+fp.Hex()+`"}`), &back))
	assert.Equal(t, doc{A: fp, C: fp}, back)

	err = json.Unmarshal([]byte(`{"a":"12:34"}`), &back)
	assert.ErrorIs(t, err, keystore.ErrInvalidFingerprint)
}
