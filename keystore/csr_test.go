package keystore_test

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/keystore"
)

var tcWantSigAlg = map[keystore.KeyType]x509.SignatureAlgorithm{
	keystore.RSA2048:   x509.SHA256WithRSA,
	keystore.RSA3072:   x509.SHA256WithRSA,
	keystore.RSA4096:   x509.SHA256WithRSA,
	keystore.ECDSAP256: x509.ECDSAWithSHA256,
	keystore.ECDSAP384: x509.ECDSAWithSHA384,
	keystore.ECDSAP521: x509.ECDSAWithSHA512,
	keystore.Ed25519:   x509.PureEd25519,
}

// tcVerifyCSRWithTools has the real tools check a PEM CSR's self-signature:
// openssl req -verify, and keytool -printcertreq (Java's PKCS10 parser
// rejects a request whose signature does not verify). It returns openssl's
// -text output.
func tcVerifyCSRWithTools(t *testing.T, csrPEM []byte) string {
	t.Helper()
	dir := t.TempDir()
	tcWrite(t, dir, "req.pem", csrPEM)
	out := tcTool(t, dir, "openssl", "req", "-in", "req.pem", "-noout", "-verify")
	// OpenSSL 3.0 exits 0 even when the signature fails: read the verdict.
	assert.Contains(t, out, "verify OK")
	assert.NotContains(t, out, "failure")
	out = tcTool(t, dir, "keytool", "-printcertreq", "-file", "req.pem")
	assert.Contains(t, out, "PKCS #10 Certificate Request")
	return tcTool(t, dir, "openssl", "req", "-in", "req.pem", "-noout", "-text", "-nameopt", "RFC2253")
}

// tcSANLines returns the subjectAltName header line and value line of an
// openssl -text dump.
func tcSANLines(t *testing.T, text string) string {
	t.Helper()
	m := regexp.MustCompile(`X509v3 Subject Alternative Name:(.*)\n\s*(.*)\n`).FindStringSubmatch(text)
	require.NotNil(t, m, "no subjectAltName in:\n%s", text)
	return strings.TrimSpace(m[1]) + " | " + strings.TrimSpace(m[2])
}

func TestNewCSR(t *testing.T) {
	for _, kt := range keystore.KeyTypes() {
		t.Run(kt.String(), func(t *testing.T) {
			t.Parallel()
			key := tcKey(t, kt)
			tmpl := &x509.CertificateRequest{
				Subject:  pkix.Name{CommonName: "new-client", Organization: []string{"Tenant"}},
				DNSNames: []string{"new.example.com"},
			}
			csrPEM, err := keystore.NewCSR(key, tmpl)
			require.NoError(t, err)
			assert.Equal(t, x509.UnknownSignatureAlgorithm, tmpl.SignatureAlgorithm, "the template must not be modified")

			block, rest := pem.Decode(csrPEM)
			require.NotNil(t, block)
			assert.Equal(t, "CERTIFICATE REQUEST", block.Type)
			assert.Empty(t, rest)

			text := tcVerifyCSRWithTools(t, csrPEM)
			assert.Contains(t, text, "Subject: CN=new-client,O=Tenant")
			assert.Contains(t, text, "DNS:new.example.com")

			csr, err := x509.ParseCertificateRequest(block.Bytes)
			require.NoError(t, err)
			require.NoError(t, csr.CheckSignature())
			assert.Equal(t, tcWantSigAlg[kt], csr.SignatureAlgorithm)
			assert.Equal(t, "new-client", csr.Subject.CommonName)
			assert.Equal(t, []string{"new.example.com"}, csr.DNSNames)
			assert.True(t, key.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(csr.PublicKey))

			alg, err := keystore.SignatureAlgorithmFor(key.Public())
			require.NoError(t, err)
			assert.Equal(t, tcWantSigAlg[kt], alg)
		})
	}
}

// tcRenewalSubject is a subject crypto/x509 would not produce from a
// pkix.Name: CN first, two multi-valued RDNs, UTF8String where Go would
// pick PrintableString, and an e-mail attribute.
func tcRenewalSubject(t testing.TB) []byte {
	t.Helper()
	utf8 := func(s string) asn1.RawValue { return asn1.RawValue{Tag: asn1.TagUTF8String, Bytes: []byte(s)} }
	ia5 := func(s string) asn1.RawValue { return asn1.RawValue{Tag: asn1.TagIA5String, Bytes: []byte(s)} }
	oid := func(o ...int) asn1.ObjectIdentifier { return o }
	seq := pkix.RDNSequence{
		{{Type: oid(2, 5, 4, 3), Value: "tenant-client"}, {Type: oid(0, 9, 2342, 19200300, 100, 1, 1), Value: utf8("42")}},
		{{Type: oid(2, 5, 4, 11), Value: "Integration"}, {Type: oid(2, 5, 4, 11), Value: utf8("Client Certificates")}},
		{{Type: oid(2, 5, 4, 10), Value: utf8("Tenant GmbH")}},
		{{Type: oid(2, 5, 4, 7), Value: utf8("München")}},
		{{Type: oid(2, 5, 4, 6), Value: "DE"}},
		{{Type: oid(1, 2, 840, 113549, 1, 9, 1), Value: ia5("ops@example.com")}},
	}
	der, err := asn1.Marshal(seq)
	require.NoError(t, err)
	return der
}

// tcHandmadeSAN is a critical subjectAltName extension crypto/x509 only
// partly understands: a URI first, a Windows UPN otherName, a DNS name, an
// IPv4 address and an e-mail address.
func tcHandmadeSAN(t testing.TB) pkix.Extension {
	t.Helper()
	upn, err := asn1.Marshal(struct {
		Type  asn1.ObjectIdentifier
		Value asn1.RawValue `asn1:"explicit,tag:0"`
	}{asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2, 3}, asn1.RawValue{Tag: asn1.TagUTF8String, Bytes: []byte("svc-tenant@corp.example")}})
	require.NoError(t, err)
	var upnRV asn1.RawValue
	_, err = asn1.Unmarshal(upn, &upnRV)
	require.NoError(t, err)
	names := []asn1.RawValue{
		{Class: asn1.ClassContextSpecific, Tag: 6, Bytes: []byte("https://tenant.example.com/client")},
		{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: upnRV.Bytes},
		{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte("client.tenant.example")},
		{Class: asn1.ClassContextSpecific, Tag: 7, Bytes: []byte{198, 51, 100, 7}},
		{Class: asn1.ClassContextSpecific, Tag: 1, Bytes: []byte("pki@tenant.example")},
	}
	val, err := asn1.Marshal(names)
	require.NoError(t, err)
	return pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 17}, Critical: true, Value: val}
}

func tcRenewalCerts(t *testing.T) []*tcIssued {
	t.Helper()
	_, inter, _ := tcChain(t)
	uri, err := url.Parse("spiffe://example.com/tenant/client")
	require.NoError(t, err)
	withSANs := tcIssue(t, &x509.Certificate{
		RawSubject:     tcRenewalSubject(t),
		DNSNames:       []string{"tenant.example.com", "*.tenant.example.com"},
		IPAddresses:    []net.IP{net.ParseIP("192.0.2.10").To4(), net.ParseIP("2001:db8::1")},
		EmailAddresses: []string{"ops@example.com"},
		URIs:           []*url.URL{uri},
		ExtKeyUsage:    []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, tcKey(t, keystore.RSA2048), inter)
	emptySubject := tcIssue(t, &x509.Certificate{
		ExtraExtensions: []pkix.Extension{tcHandmadeSAN(t)},
		ExtKeyUsage:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, tcKey(t, keystore.ECDSAP256), inter)
	return []*tcIssued{withSANs, emptySubject}
}

func tcSANExtension(exts []pkix.Extension) *pkix.Extension {
	for i := range exts {
		if exts[i].Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 17}) {
			return &exts[i]
		}
	}
	return nil
}

func TestRenewalCSR(t *testing.T) {
	certs := tcRenewalCerts(t)
	require.Len(t, certs[0].Cert.DNSNames, 2)
	require.Len(t, certs[0].Cert.IPAddresses, 2)
	require.Len(t, certs[0].Cert.EmailAddresses, 1)
	require.Len(t, certs[0].Cert.URIs, 1)
	for ci, current := range certs {
		dir := t.TempDir()
		tcWrite(t, dir, "current.pem", tcPEM(current.Cert))
		certText := tcTool(t, dir, "openssl", "x509", "-in", "current.pem", "-noout", "-text", "-nameopt", "RFC2253")
		certSubject := tcTool(t, dir, "openssl", "x509", "-in", "current.pem", "-noout", "-subject", "-nameopt", "RFC2253")
		for _, kt := range keystore.KeyTypes() {
			t.Run(fmt.Sprintf("cert %d/%v", ci, kt), func(t *testing.T) {
				t.Parallel()
				newKey := tcKey(t, kt)
				csrPEM, err := keystore.RenewalCSR(newKey, current.Cert)
				require.NoError(t, err)

				text := tcVerifyCSRWithTools(t, csrPEM)
				assert.Equal(t, tcSANLines(t, certText), tcSANLines(t, text), "openssl sees the same subjectAltName")
				reqDir := t.TempDir()
				tcWrite(t, reqDir, "req.pem", csrPEM)
				reqSubject := tcTool(t, reqDir, "openssl", "req", "-in", "req.pem", "-noout", "-subject", "-nameopt", "RFC2253")
				assert.Equal(t, strings.TrimPrefix(certSubject, "subject="), strings.TrimPrefix(reqSubject, "subject="), "openssl sees the same subject")

				csr, err := keystore.ParseCSR(csrPEM)
				require.NoError(t, err)
				block, _ := pem.Decode(csrPEM)
				direct, err := x509.ParseCertificateRequest(block.Bytes)
				require.NoError(t, err)
				require.NoError(t, direct.CheckSignature())

				assert.Equal(t, current.Cert.RawSubject, csr.RawSubject, "subject bytes")
				assert.Equal(t, current.Cert.DNSNames, csr.DNSNames)
				assert.Equal(t, current.Cert.IPAddresses, csr.IPAddresses)
				assert.Equal(t, current.Cert.EmailAddresses, csr.EmailAddresses)
				assert.Equal(t, tcURIStrings(current.Cert.URIs), tcURIStrings(csr.URIs))
				certSAN, csrSAN := tcSANExtension(current.Cert.Extensions), tcSANExtension(csr.Extensions)
				require.NotNil(t, certSAN)
				require.NotNil(t, csrSAN)
				assert.Equal(t, *certSAN, *csrSAN, "the extension, criticality and otherNames included, is copied")

				assert.Equal(t, tcWantSigAlg[kt], csr.SignatureAlgorithm)
				assert.True(t, newKey.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(csr.PublicKey))
			})
		}
	}
}

func tcURIStrings(us []*url.URL) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.String()
	}
	return out
}

func TestRenewalCSRSignedByKeytool(t *testing.T) {
	// A CA built from keytool signs the renewal request, honouring its
	// extensions; the reply must carry the subject and SANs.
	current := tcRenewalCerts(t)[0]
	newKey := tcKey(t, keystore.ECDSAP384)
	csrPEM, err := keystore.RenewalCSR(newKey, current.Cert)
	require.NoError(t, err)
	dir := t.TempDir()
	tcWrite(t, dir, "req.pem", csrPEM)
	tcTool(t, dir, "keytool", "-genkeypair", "-alias", "ca", "-keyalg", "EC", "-groupname", "secp384r1", "-dname", "CN=keytool CA",
		"-ext", "bc:c", "-keystore", "ca.p12", "-storetype", "PKCS12", "-storepass", "changeit")
	tcTool(t, dir, "keytool", "-gencert", "-rfc", "-alias", "ca", "-infile", "req.pem", "-outfile", "reply.pem",
		"-ext", "honored=all", "-keystore", "ca.p12", "-storetype", "PKCS12", "-storepass", "changeit")
	reply, err := keystore.ParseCertificates(tcRead(t, dir, "reply.pem"))
	require.NoError(t, err)
	require.Len(t, reply, 1)
	got := reply[0]
	assert.Equal(t, current.Cert.RawSubject, got.RawSubject)
	assert.Equal(t, current.Cert.DNSNames, got.DNSNames)
	assert.Equal(t, current.Cert.IPAddresses, got.IPAddresses)
	assert.Equal(t, current.Cert.EmailAddresses, got.EmailAddresses)
	assert.Equal(t, tcURIStrings(current.Cert.URIs), tcURIStrings(got.URIs))
	assert.Equal(t, keystore.KeyFingerprint(newKey.Public()), keystore.KeyFingerprint(got.PublicKey))
}

// tcLyingSigner signs with one key and claims another's public key.
type tcLyingSigner struct {
	crypto.Signer
	pub crypto.PublicKey
}

func (s tcLyingSigner) Public() crypto.PublicKey { return s.pub }

// tcOddSigner claims a public key type crypto/x509 cannot sign with.
type tcOddSigner struct{ pub crypto.PublicKey }

func (s tcOddSigner) Public() crypto.PublicKey { return s.pub }
func (s tcOddSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, fmt.Errorf("never called")
}

func TestNewCSRErrors(t *testing.T) {
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	require.NoError(t, err)
	x25519, err := ecdh.X25519().GenerateKey(rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.CertificateRequest{Subject: pkix.Name{CommonName: "x"}}
	p256, p384 := tcKey(t, keystore.ECDSAP256), tcKey(t, keystore.ECDSAP384)

	tests := []struct {
		name    string
		key     crypto.Signer
		tmpl    *x509.CertificateRequest
		want    string
		wantErr error
	}{
		{"nil key", nil, tmpl, "want a key, got nil", nil},
		{"nil template", p256, nil, "want a template, got nil", nil},
		{"P-224 key", p224, tmpl, "got an ECDSA key on curve P-224, want P-256, P-384 or P-521", keystore.ErrUnsupportedKey},
		{"X25519 public key", tcOddSigner{x25519.PublicKey()}, tmpl, "got a *ecdh.PublicKey (X25519), want an RSA, ECDSA or Ed25519 key", keystore.ErrUnsupportedKey},
		{"signer lies about its key", tcLyingSigner{p256, p384.Public()}, tmpl, "keystore: ", nil},
		{"algorithm does not fit the key", p256, &x509.CertificateRequest{SignatureAlgorithm: x509.SHA256WithRSA}, "creating a certificate request for a EC P-256 key", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := keystore.NewCSR(tt.key, tt.tmpl)
			require.Error(t, err)
			assert.Nil(t, got)
			assert.Contains(t, err.Error(), tt.want)
			assert.True(t, strings.HasPrefix(err.Error(), "keystore: "), err.Error())
			if tt.wantErr != nil {
				assert.ErrorIs(t, err, tt.wantErr)
			}
		})
	}

	t.Run("explicit algorithm is honoured", func(t *testing.T) {
		got, err := keystore.NewCSR(tcKey(t, keystore.RSA2048), &x509.CertificateRequest{SignatureAlgorithm: x509.SHA512WithRSA})
		require.NoError(t, err)
		csr, err := keystore.ParseCSR(got)
		require.NoError(t, err)
		assert.Equal(t, x509.SHA512WithRSA, csr.SignatureAlgorithm)
		tcVerifyCSRWithTools(t, got)
	})
	t.Run("renewal of nil", func(t *testing.T) {
		_, err := keystore.RenewalCSR(p256, nil)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "want the current certificate, got nil")
	})
	t.Run("renewal with a nil key", func(t *testing.T) {
		leaf, _, _ := tcChain(t)
		_, err := keystore.RenewalCSR(nil, leaf.Cert)
		require.Error(t, err)
		assert.Contains(t, err.Error(), `keystore: renewing certificate "CN=tenant-client,O=Tenant"`)
	})
}

func TestParseCSR(t *testing.T) {
	csrPEM, err := keystore.NewCSR(tcKey(t, keystore.Ed25519), &x509.CertificateRequest{Subject: pkix.Name{CommonName: "parse-me"}})
	require.NoError(t, err)
	block, _ := pem.Decode(csrPEM)
	require.NotNil(t, block)
	dir := t.TempDir()

	tests := []struct {
		name   string
		input  func(t *testing.T) []byte
		wantCN string
	}{
		{"PEM", func(t *testing.T) []byte { return csrPEM }, "parse-me"},
		{"DER", func(t *testing.T) []byte { return block.Bytes }, "parse-me"},
		{"PEM with text and a key around", func(t *testing.T) []byte {
			return slices.Concat([]byte("Here is the request:\n"), tcKeyPEM(t, tcKey(t, keystore.ECDSAP256)), csrPEM, []byte("Thanks.\n"))
		}, "parse-me"},
		{"keytool -certreq (NEW CERTIFICATE REQUEST)", func(t *testing.T) []byte {
			tcTool(t, dir, "keytool", "-genkeypair", "-alias", "k", "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=from keytool, O=Tenant",
				"-ext", "san=dns:kt.example.com", "-keystore", "kt.p12", "-storetype", "PKCS12", "-storepass", "changeit")
			tcTool(t, dir, "keytool", "-certreq", "-alias", "k", "-file", "kt.csr", "-ext", "san=dns:kt.example.com",
				"-keystore", "kt.p12", "-storetype", "PKCS12", "-storepass", "changeit")
			b := tcRead(t, dir, "kt.csr")
			require.Contains(t, string(b), "-----BEGIN NEW CERTIFICATE REQUEST-----")
			return b
		}, "from keytool"},
		{"openssl req -new", func(t *testing.T) []byte {
			tcTool(t, dir, "openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "o.key", "-subj", "/CN=from openssl", "-out", "o.csr")
			return tcRead(t, dir, "o.csr")
		}, "from openssl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			csr, err := keystore.ParseCSR(tt.input(t))
			require.NoError(t, err)
			assert.Equal(t, tt.wantCN, csr.Subject.CommonName)
			assert.NoError(t, csr.CheckSignature())
		})
	}

	tampered := slices.Clone(block.Bytes)
	tampered[len(tampered)-3] ^= 0x01 // inside the signature
	leaf, _, _ := tcChain(t)
	errTests := []struct {
		name   string
		input  []byte
		want   string
		hasErr bool // wraps an underlying error
	}{
		{"empty", nil, "expected a PEM or DER certificate request, found empty input", false},
		{"garbage", []byte("garbage"), "crypto/x509 cannot parse it", true},
		{"truncated DER", block.Bytes[:len(block.Bytes)/2], "crypto/x509 cannot parse it", true},
		{"truncated PEM", csrPEM[:60], "truncated or malformed", false},
		{"two requests", slices.Concat(csrPEM, csrPEM), "expected one CERTIFICATE REQUEST block, found a second one", false},
		{"a certificate instead", tcPEM(leaf.Cert), `expected a CERTIFICATE REQUEST PEM block, found blocks ["CERTIFICATE"]`, false},
		{"tampered signature", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: tampered}), "expected a valid self-signature by its Ed25519 key SHA256:", true},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			csr, err := keystore.ParseCSR(tt.input)
			require.Error(t, err)
			assert.Nil(t, csr)
			assert.ErrorIs(t, err, keystore.ErrMalformed)
			var perr *keystore.MalformedError
			require.ErrorAs(t, err, &perr)
			assert.Equal(t, "certificate request", keystore.ParseErrorInput(perr))
			assert.Contains(t, err.Error(), tt.want)
			assert.True(t, strings.HasPrefix(err.Error(), "keystore: reading certificate request"), err.Error())
			assert.Equal(t, tt.hasErr, errors.Unwrap(perr) != nil)
		})
	}
	t.Run("openssl also rejects the tampered request", func(t *testing.T) {
		d := t.TempDir()
		tcWrite(t, d, "bad.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: tampered}))
		out, _ := tcToolErr(t, d, "openssl", "req", "-in", "bad.pem", "-noout", "-verify")
		assert.NotContains(t, out, "verify OK")
	})
}

func FuzzParseCSR(f *testing.F) {
	for _, kt := range []keystore.KeyType{keystore.ECDSAP256, keystore.Ed25519, keystore.RSA2048} {
		csr, err := keystore.NewCSR(tcKey(f, kt), &x509.CertificateRequest{Subject: pkix.Name{CommonName: "fuzz"}, DNSNames: []string{"a.example"}})
		require.NoError(f, err)
		f.Add(csr)
		block, _ := pem.Decode(csr)
		f.Add(block.Bytes)
	}
	f.Add([]byte("-----BEGIN NEW CERTIFICATE REQUEST-----\n-----END NEW CERTIFICATE REQUEST-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		csr, err := keystore.ParseCSR(data)
		if err != nil {
			require.Nil(t, csr)
			require.ErrorIs(t, err, keystore.ErrMalformed)
			return
		}
		require.NoError(t, csr.CheckSignature())
	})
}

func BenchmarkRenewalCSR(b *testing.B) {
	leaf, _, _ := tcChain(b)
	for _, kt := range keystore.KeyTypes() {
		key := tcKey(b, kt)
		b.Run(kt.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := keystore.RenewalCSR(key, leaf.Cert); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// ExampleRenewalCSR renews a client certificate with a new key pair: the
// request asks for the same subject and subject alternative names.
func ExampleRenewalCSR() {
	// The certificate being renewed; normally read from the keystore.
	oldKey, err := keystore.GenerateKey(keystore.ECDSAP256, nil)
	if err != nil {
		log.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:   big.NewInt(1),
		Subject:        pkix.Name{CommonName: "tenant-client", Organization: []string{"Tenant GmbH"}, Country: []string{"DE"}},
		DNSNames:       []string{"tenant.example.com"},
		IPAddresses:    []net.IP{net.IPv4(192, 0, 2, 10)},
		EmailAddresses: []string{"ops@example.com"},
		NotBefore:      time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:       time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, oldKey.Public(), oldKey)
	if err != nil {
		log.Fatal(err)
	}
	current, err := x509.ParseCertificate(der)
	if err != nil {
		log.Fatal(err)
	}

	// A new key pair, and the request for the new CA.
	newKey, err := keystore.GenerateKey(keystore.ECDSAP384, nil)
	if err != nil {
		log.Fatal(err)
	}
	csrPEM, err := keystore.RenewalCSR(newKey, current)
	if err != nil {
		log.Fatal(err)
	}

	csr, err := keystore.ParseCSR(csrPEM)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("subject:", csr.Subject)
	fmt.Println("DNS:", csr.DNSNames)
	fmt.Println("IP:", csr.IPAddresses)
	fmt.Println("email:", csr.EmailAddresses)
	fmt.Println("key:", keystore.KeyDescription(csr.PublicKey))
	fmt.Println("signature:", csr.SignatureAlgorithm)
	// Output:
	// subject: CN=tenant-client,O=Tenant GmbH,C=DE
	// DNS: [tenant.example.com]
	// IP: [192.0.2.10]
	// email: [ops@example.com]
	// key: EC P-384
	// signature: ECDSA-SHA384
}
