package keystore_test

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/smallstep/pkcs7"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/keystore"
)

// tcJavaCertPath is run with `java CertPathEncode.java in.pem pkipath.der
// pkcs7.der`: it reads a PEM chain (leaf first) with Java's
// CertificateFactory and writes the CertPath in Java's PkiPath and PKCS7
// encodings.
const tcJavaCertPath = `
import java.io.*;
import java.nio.file.*;
import java.security.cert.*;
import java.util.*;

public class CertPathEncode {
    public static void main(String[] args) throws Exception {
        CertificateFactory cf = CertificateFactory.getInstance("X.509");
        List<Certificate> certs = new ArrayList<>();
        try (InputStream in = new FileInputStream(args[0])) {
            certs.addAll(cf.generateCertificates(in));
        }
        CertPath path = cf.generateCertPath(certs);
        Files.write(Paths.get(args[1]), path.getEncoded("PkiPath"));
        Files.write(Paths.get(args[2]), path.getEncoded("PKCS7"));
    }
}
`

// tcPkiPath encodes certificates as a PkiPath (SEQUENCE OF Certificate) in
// the order given.
func tcPkiPath(t testing.TB, certs ...*x509.Certificate) []byte {
	t.Helper()
	raws := make([]asn1.RawValue, len(certs))
	for i, c := range certs {
		raws[i] = asn1.RawValue{FullBytes: c.Raw}
	}
	der, err := asn1.Marshal(raws)
	require.NoError(t, err)
	return der
}

// tcToBER re-encodes the outer levels of a DER structure the way streaming
// BER encoders do: constructed elements get indefinite lengths, primitive
// ones a non-minimal four-byte length. Elements deeper than levels stay as
// they are (certificates must stay DER for crypto/x509).
func tcToBER(t testing.TB, der []byte, levels int) []byte {
	t.Helper()
	var out []byte
	for rest := der; len(rest) > 0; {
		var rv asn1.RawValue
		var err error
		rest, err = asn1.Unmarshal(rest, &rv)
		require.NoError(t, err)
		if levels == 0 {
			out = append(out, rv.FullBytes...)
			continue
		}
		id := rv.FullBytes[0]
		// An empty constructed element stays definite: smallstep/pkcs7,
		// the oracle these tests compare with, misreads an empty
		// indefinite-length one (OpenSSL and ParseCertificates do not).
		if rv.IsCompound && len(rv.Bytes) > 0 {
			out = append(out, id, 0x80)
			out = append(out, tcToBER(t, rv.Bytes, levels-1)...)
			out = append(out, 0, 0)
		} else if rv.IsCompound {
			out = append(out, rv.FullBytes...)
		} else {
			// Long form where DER requires the short one (smallstep/pkcs7
			// rejects leading zero bytes, which BER allows too).
			n := len(rv.Bytes)
			require.Less(t, n, 1<<16)
			if n < 256 {
				out = append(out, id, 0x81, byte(n))
			} else {
				out = append(out, id, 0x82, byte(n>>8), byte(n))
			}
			out = append(out, rv.Bytes...)
		}
	}
	return out
}

func tcRaws(certs []*x509.Certificate) [][]byte {
	out := make([][]byte, len(certs))
	for i, c := range certs {
		out[i] = c.Raw
	}
	return out
}

// tcTestdata reads keystore/testdata/certs/name.
func tcTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "certs", name))
	require.NoError(t, err)
	return b
}

// tcCertFixture is a chain written to a directory, with the files the real
// tools read.
type tcCertFixture struct {
	dir               string
	leaf, inter, root *tcIssued
}

func tcNewCertFixture(t *testing.T) *tcCertFixture {
	t.Helper()
	f := &tcCertFixture{dir: t.TempDir()}
	f.leaf, f.inter, f.root = tcChain(t)
	tcWrite(t, f.dir, "leaf.pem", tcPEM(f.leaf.Cert))
	tcWrite(t, f.dir, "leaf.key", tcKeyPEM(t, f.leaf.Key))
	tcWrite(t, f.dir, "inter.pem", tcPEM(f.inter.Cert))
	tcWrite(t, f.dir, "root.pem", tcPEM(f.root.Cert))
	tcWrite(t, f.dir, "cas.pem", tcPEM(f.inter.Cert, f.root.Cert))
	tcWrite(t, f.dir, "chain.pem", tcPEM(f.leaf.Cert, f.inter.Cert, f.root.Cert))
	return f
}

func (f *tcCertFixture) chain() []*x509.Certificate {
	return []*x509.Certificate{f.leaf.Cert, f.inter.Cert, f.root.Cert}
}

func TestParseCertificatesFormats(t *testing.T) {
	f := tcNewCertFixture(t)
	leaf, inter, root := f.leaf.Cert, f.inter.Cert, f.root.Cert
	chain := f.chain()

	// Java's CertPath encodings, made once for two cases.
	tcWrite(t, f.dir, "CertPathEncode.java", []byte(tcJavaCertPath))
	tcTool(t, f.dir, "java", "CertPathEncode.java", "chain.pem", "java-pkipath.der", "java-pkcs7.der")

	tests := []struct {
		name  string
		input func(t *testing.T) []byte
		want  []*x509.Certificate
		// set is true for PKCS#7, whose certificates are a SET: an
		// encoder may reorder them. The order is then checked against
		// smallstep/pkcs7, an independent decoder.
		set bool
	}{
		{
			name:  "PEM one certificate",
			input: func(t *testing.T) []byte { return tcPEM(leaf) },
			want:  []*x509.Certificate{leaf},
		},
		{
			name:  "PEM chain",
			input: func(t *testing.T) []byte { return tcPEM(leaf, inter, root) },
			want:  chain,
		},
		{
			name: "PEM with CRLF line ends and a trailing comment",
			input: func(t *testing.T) []byte {
				return append(bytes.ReplaceAll(tcPEM(leaf, root), []byte("\n"), []byte("\r\n")), "issued by the test CA\r\n"...)
			},
			want: []*x509.Certificate{leaf, root},
		},
		{
			name: "openssl x509 -text output, text around every block",
			input: func(t *testing.T) []byte {
				var b []byte
				for _, n := range []string{"leaf.pem", "inter.pem", "root.pem"} {
					b = append(b, tcTool(t, f.dir, "openssl", "x509", "-in", n, "-text")...)
				}
				require.Contains(t, string(b), "Subject Public Key Info")
				return b
			},
			want: chain,
		},
		{
			name: "keytool -list -rfc of a PKCS#12 key entry made by openssl",
			input: func(t *testing.T) []byte {
				tcTool(t, f.dir, "openssl", "pkcs12", "-export", "-in", "leaf.pem", "-inkey", "leaf.key", "-certfile", "cas.pem",
					"-name", "client", "-passout", "pass:changeit", "-out", "ks.p12")
				out := tcTool(t, f.dir, "keytool", "-list", "-rfc", "-keystore", "ks.p12", "-storetype", "PKCS12", "-storepass", "changeit")
				require.Contains(t, out, "Certificate chain length: 3")
				return []byte(out)
			},
			want: chain,
		},
		{
			name: "keytool -exportcert -rfc",
			input: func(t *testing.T) []byte {
				tcTool(t, f.dir, "keytool", "-importcert", "-noprompt", "-alias", "root", "-file", "root.pem",
					"-keystore", "ts.p12", "-storetype", "PKCS12", "-storepass", "changeit")
				return []byte(tcTool(t, f.dir, "keytool", "-exportcert", "-rfc", "-alias", "root",
					"-keystore", "ts.p12", "-storetype", "PKCS12", "-storepass", "changeit"))
			},
			want: []*x509.Certificate{root},
		},
		{
			name: "keytool -exportcert DER",
			input: func(t *testing.T) []byte {
				tcTool(t, f.dir, "keytool", "-importcert", "-noprompt", "-alias", "inter", "-file", "inter.pem",
					"-keystore", "ts2.p12", "-storetype", "PKCS12", "-storepass", "changeit")
				tcTool(t, f.dir, "keytool", "-exportcert", "-alias", "inter", "-file", "inter.cer",
					"-keystore", "ts2.p12", "-storetype", "PKCS12", "-storepass", "changeit")
				return tcRead(t, f.dir, "inter.cer")
			},
			want: []*x509.Certificate{inter},
		},
		{
			name:  "DER one certificate",
			input: func(t *testing.T) []byte { return bytes.Clone(leaf.Raw) },
			want:  []*x509.Certificate{leaf},
		},
		{
			name:  "DER certificates concatenated",
			input: func(t *testing.T) []byte { return slices.Concat(leaf.Raw, inter.Raw, root.Raw) },
			want:  chain,
		},
		{
			name: "openssl crl2pkcs7 DER (.p7b)",
			input: func(t *testing.T) []byte {
				tcTool(t, f.dir, "openssl", "crl2pkcs7", "-nocrl", "-certfile", "chain.pem", "-outform", "DER", "-out", "chain.p7b")
				return tcRead(t, f.dir, "chain.p7b")
			},
			want: chain,
			set:  true,
		},
		{
			name: "openssl crl2pkcs7 PEM",
			input: func(t *testing.T) []byte {
				out := tcTool(t, f.dir, "openssl", "crl2pkcs7", "-nocrl", "-certfile", "chain.pem")
				require.Contains(t, out, "-----BEGIN PKCS7-----")
				return []byte(out)
			},
			want: chain,
			set:  true,
		},
		{
			name: "openssl cms -sign -stream: BER with indefinite lengths",
			input: func(t *testing.T) []byte {
				tcWrite(t, f.dir, "data.txt", []byte("renew me\n"))
				tcTool(t, f.dir, "openssl", "cms", "-sign", "-in", "data.txt", "-signer", "leaf.pem", "-inkey", "leaf.key",
					"-certfile", "cas.pem", "-outform", "DER", "-stream", "-out", "signed.p7s")
				b := tcRead(t, f.dir, "signed.p7s")
				require.Equal(t, []byte{0x30, 0x80}, b[:2], "openssl must have written an indefinite length")
				return b
			},
			want: chain,
			set:  true,
		},
		{
			name: "PKCS#7 re-encoded as BER: indefinite and non-minimal lengths",
			input: func(t *testing.T) []byte {
				tcTool(t, f.dir, "openssl", "crl2pkcs7", "-nocrl", "-certfile", "chain.pem", "-outform", "DER", "-out", "ber-src.p7b")
				ber := tcToBER(t, tcRead(t, f.dir, "ber-src.p7b"), 4)
				// OpenSSL must agree that this is a valid PKCS#7.
				tcWrite(t, f.dir, "ber.p7b", ber)
				out := tcTool(t, f.dir, "openssl", "pkcs7", "-inform", "DER", "-in", "ber.p7b", "-print_certs", "-noout")
				require.Equal(t, 3, strings.Count(out, "subject="), out)
				return ber
			},
			want: chain,
			set:  true,
		},
		{
			name: "PKCS#7 DER in a CERTIFICATE PEM block",
			input: func(t *testing.T) []byte {
				tcTool(t, f.dir, "openssl", "crl2pkcs7", "-nocrl", "-certfile", "chain.pem", "-outform", "DER", "-out", "inpem.p7b")
				return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tcRead(t, f.dir, "inpem.p7b")})
			},
			want: chain,
			set:  true,
		},
		{
			name:  "Java CertPath PKCS7",
			input: func(t *testing.T) []byte { return tcRead(t, f.dir, "java-pkcs7.der") },
			want:  chain,
			set:   true,
		},
		{
			name:  "smallstep/pkcs7 DegenerateCertificate",
			input: func(t *testing.T) []byte { return tcDegenerate(t, chain...) },
			want:  chain,
			set:   true,
		},
		{
			name: "Java CertPath PkiPath: root first, returned in file order",
			input: func(t *testing.T) []byte {
				b := tcRead(t, f.dir, "java-pkipath.der")
				// Java's encoding and the one built here with encoding/asn1
				// must be the same bytes.
				require.Equal(t, tcPkiPath(t, root, inter, leaf), b)
				return b
			},
			want: []*x509.Certificate{root, inter, leaf},
		},
		{
			name:  "PkiPath of one certificate",
			input: func(t *testing.T) []byte { return tcPkiPath(t, leaf) },
			want:  []*x509.Certificate{leaf},
		},
		{
			name: "openssl x509 -trustout: TRUSTED CERTIFICATE",
			input: func(t *testing.T) []byte {
				out := tcTool(t, f.dir, "openssl", "x509", "-in", "root.pem", "-trustout", "-addtrust", "clientAuth", "-setalias", "Test Root")
				require.Contains(t, out, "-----BEGIN TRUSTED CERTIFICATE-----")
				return append([]byte(out), tcPEM(leaf)...)
			},
			want: []*x509.Certificate{root, leaf},
		},
		{
			name: "PEM with a private key and a CSR among the certificates",
			input: func(t *testing.T) []byte {
				csr, err := keystore.RenewalCSR(f.leaf.Key, leaf)
				require.NoError(t, err)
				return slices.Concat(tcKeyPEM(t, f.leaf.Key), tcPEM(leaf), csr, tcPEM(inter))
			},
			want: []*x509.Certificate{leaf, inter},
		},
		{
			name: "legacy X509 CERTIFICATE label",
			input: func(t *testing.T) []byte {
				return pem.EncodeToMemory(&pem.Block{Type: "X509 CERTIFICATE", Bytes: leaf.Raw})
			},
			want: []*x509.Certificate{leaf},
		},
		{
			name: "vectors: pyca/cryptography reference certificates",
			input: func(t *testing.T) []byte {
				return slices.Concat(tcTestdata(t, "cryptography.io.pem"), tcTestdata(t, "letsencryptx3.pem"), tcTestdata(t, "cryptography-ca.pem"))
			},
			want: []*x509.Certificate{
				tcParsePEMFile(t, "cryptography.io.pem"), tcParsePEMFile(t, "letsencryptx3.pem"), tcParsePEMFile(t, "cryptography-ca.pem"),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			input := tt.input(t)
			got, err := keystore.ParseCertificates(input)
			require.NoError(t, err)
			if !tt.set {
				assert.Equal(t, tcRaws(tt.want), tcRaws(got))
				return
			}
			assert.ElementsMatch(t, tcRaws(tt.want), tcRaws(got))
			der := input
			if block, _ := pem.Decode(input); block != nil {
				der = block.Bytes
			}
			p7, err := pkcs7.Parse(der)
			require.NoError(t, err, "smallstep/pkcs7 must read it too")
			assert.Equal(t, tcRaws(p7.Certificates), tcRaws(got), "same order as smallstep/pkcs7")
		})
	}
}

func tcParsePEMFile(t testing.TB, name string) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(tcTestdata(t, name))
	require.NotNil(t, block)
	c, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	return c
}

func tcDegenerate(t testing.TB, certs ...*x509.Certificate) []byte {
	t.Helper()
	var all []byte
	for _, c := range certs {
		all = append(all, c.Raw...)
	}
	p7, err := pkcs7.DegenerateCertificate(all)
	require.NoError(t, err)
	return p7
}

func TestParseCertificatesResultDoesNotAliasInput(t *testing.T) {
	leaf, _, _ := tcChain(t)
	input := bytes.Clone(leaf.Cert.Raw)
	got, err := keystore.ParseCertificates(input)
	require.NoError(t, err)
	for i := range input {
		input[i] = 0
	}
	assert.Equal(t, leaf.Cert.Raw, got[0].Raw)
}

// TestParseCertificatesUnparsableVectors uses two 1996 certificates from
// OpenSSL's test data that crypto/x509 rejects: the error must name which
// certificate it is, whatever the encoding.
func TestParseCertificatesUnparsableVectors(t *testing.T) {
	f := tcNewCertFixture(t)
	v3 := tcTestdata(t, "openssl-v3-certs.pem")
	tcWrite(t, f.dir, "v3.pem", v3)
	tcTool(t, f.dir, "openssl", "crl2pkcs7", "-nocrl", "-certfile", "v3.pem", "-outform", "DER", "-out", "v3.p7b")
	var v3der []byte
	for rest := v3; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		v3der = append(v3der, b.Bytes...)
	}

	tests := []struct {
		name      string
		input     []byte
		wantIndex int
		wantEnc   string
	}{
		{"PEM as openssl wrote it", v3, 0, "PEM"},
		{"after a good PEM certificate", slices.Concat(tcPEM(f.leaf.Cert, f.inter.Cert), v3), 2, "PEM"},
		{"PKCS#7 made by openssl", tcRead(t, f.dir, "v3.p7b"), 0, "PKCS#7"},
		{"DER concatenated after a good one", slices.Concat(f.root.Cert.Raw, v3der), 1, "DER"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := keystore.ParseCertificates(tt.input)
			require.Error(t, err)
			assert.Nil(t, got)
			assert.ErrorIs(t, err, keystore.ErrMalformed)
			var perr *keystore.MalformedError
			require.ErrorAs(t, err, &perr)
			assert.Equal(t, tt.wantIndex, perr.Index)
			assert.Equal(t, tt.wantEnc, perr.Encoding)
			require.Error(t, errors.Unwrap(perr), "the crypto/x509 error must be kept")
			assert.Contains(t, errors.Unwrap(perr).Error(), "x509:")
			assert.Contains(t, err.Error(), "certificate at index")
			assert.True(t, strings.HasPrefix(err.Error(), "keystore: reading certificates"), err.Error())
		})
	}
}

func TestParseCertificatesErrors(t *testing.T) {
	f := tcNewCertFixture(t)
	leafPEM, rootPEM := tcPEM(f.leaf.Cert), tcPEM(f.root.Cert)
	tcTool(t, f.dir, "openssl", "crl2pkcs7", "-nocrl", "-certfile", "chain.pem", "-outform", "DER", "-out", "chain.p7b")
	p7b := tcRead(t, f.dir, "chain.p7b")
	tcTool(t, f.dir, "openssl", "crl2pkcs7", "-nocrl", "-outform", "DER", "-out", "empty.p7b")
	tcTool(t, f.dir, "openssl", "pkcs12", "-export", "-in", "leaf.pem", "-inkey", "leaf.key", "-passout", "pass:changeit", "-out", "ks.p12")
	brokenBlock := []byte("-----BEGIN CERTIFICATE-----\nthis is not base64!\n-----END CERTIFICATE-----\n")
	envelopedData, err := asn1.Marshal(struct {
		OID     asn1.ObjectIdentifier
		Content asn1.RawValue `asn1:"explicit,tag:0"`
	}{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 3}, asn1.RawValue{FullBytes: []byte{0x30, 0x00}}})
	require.NoError(t, err)
	deep := slices.Concat(bytes.Repeat([]byte{0x30, 0x80}, 100), bytes.Repeat([]byte{0, 0}, 100))
	// A megabyte of indefinite-length SEQUENCE full of tiny elements, with
	// no end-of-contents: quadratic for decoders that rescan for the end.
	hostile := append([]byte{0x30, 0x80}, bytes.Repeat([]byte{0x04, 0x01, 0xff}, 1<<20/3)...)

	tests := []struct {
		name       string
		input      []byte
		want       string // in the message
		wantEnc    string
		wantOffset int64
	}{
		{"empty", nil, "expected PEM, DER, PKCS#7 or PkiPath data, found empty input", "", -1},
		{"white space", []byte(" \n\t\r\n"), "found only 5 bytes of white space", "", -1},
		{"text", []byte("hello, this is not a certificate\n"), `expected PEM, or DER starting with a SEQUENCE (byte 0x30), found "hello, this is n"...`, "", 0},
		{"binary garbage", []byte{0xde, 0xad, 0xbe, 0xef}, `found bytes de ad be ef`, "", 0},
		{"truncated DER", f.leaf.Cert.Raw[:len(f.leaf.Cert.Raw)/2], "the end of the data (truncated?)", "DER", 0}, // at the element that runs out
		{"DER with trailing garbage", slices.Concat(f.leaf.Cert.Raw, []byte("xyz")), `expected another DER certificate or the end of the data, found "xyz"`, "", int64(len(f.leaf.Cert.Raw))},
		{"truncated PEM", leafPEM[:100], `found a truncated or malformed one beginning "-----BEGIN CERTIFICATE-----"`, "PEM", 0},
		{"malformed PEM block between good ones", slices.Concat(leafPEM, []byte("text\n"), brokenBlock, rootPEM), "truncated or malformed", "PEM", int64(len(leafPEM) + 5)},
		{"PEM with only a private key", tcKeyPEM(t, f.leaf.Key), `found only blocks of type ["PRIVATE KEY"]`, "PEM", -1},
		{"BEGIN not at a line start", []byte("see -----BEGIN CERTIFICATE----- above"), "found no PEM block at the start of a line", "PEM", -1},
		{"CERTIFICATE block with garbage inside", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("garbage")}), `in PEM block 1 ("CERTIFICATE") at byte 0 of its contents: expected DER starting with a SEQUENCE`, "PEM", 0},
		{"truncated PKCS#7", p7b[:len(p7b)-10], "truncated", "DER", 0}, // the outer SEQUENCE runs out
		{"PKCS#7 with trailing data", slices.Concat(p7b, []byte{0}), "expected the end of the data after the PKCS#7 structure, found 1 more bytes", "PKCS#7", int64(len(p7b))},
		{"PKCS#7 without certificates (openssl crl2pkcs7 -nocrl)", tcRead(t, f.dir, "empty.p7b"), "certificates", "PKCS#7", -2},
		{"PKCS#7 envelopedData", envelopedData, "expected content type signedData (1.2.840.113549.1.7.2), found envelopedData (1.2.840.113549.1.7.3)", "PKCS#7", 2},
		{"PKCS#12 keystore", tcRead(t, f.dir, "ks.p12"), "a PKCS#12 keystore? give it as a keystore, not as certificates", "", 0},
		{"empty SEQUENCE", []byte{0x30, 0x00}, "found an empty SEQUENCE", "", 0},
		{"empty PkiPath element", []byte{0x30, 0x02, 0x30, 0x00}, "first element is an empty SEQUENCE", "", 0},
		{"deeply nested indefinite lengths", deep, "nested at most 32 deep", "DER", -2},
		{"indefinite length without end-of-contents", hostile, "end-of-contents", "DER", -2},
		{"indefinite length on a primitive", []byte{0x30, 0x80, 0x04, 0x80, 0, 0, 0, 0}, "found the indefinite form", "DER", 2},
		{"five-byte length", []byte{0x30, 0x85, 1, 0, 0, 0, 0}, "expected a length of at most 4 bytes", "DER", 1},
		{"length beyond the input", []byte{0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x30}, "2147483647 bytes of contents", "DER", 0},
		{"certificate request instead", tcCSRDER(t, f), "expected a certificate crypto/x509 can parse, found a", "DER", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := keystore.ParseCertificates(tt.input)
			require.Error(t, err)
			assert.Nil(t, got)
			assert.ErrorIs(t, err, keystore.ErrMalformed)
			var perr *keystore.MalformedError
			require.ErrorAs(t, err, &perr)
			assert.Contains(t, err.Error(), tt.want)
			assert.Contains(t, keystore.ParseErrorDetail(perr), "expected", "the detail says what was expected")
			assert.True(t, strings.HasPrefix(err.Error(), "keystore: reading certificates"), err.Error())
			assert.Equal(t, "certificates", keystore.ParseErrorInput(perr))
			if tt.wantEnc != "" {
				assert.Equal(t, tt.wantEnc, perr.Encoding)
			}
			if tt.wantOffset != -2 {
				assert.Equal(t, tt.wantOffset, perr.Offset)
			}
		})
	}
}

func tcCSRDER(t testing.TB, f *tcCertFixture) []byte {
	t.Helper()
	csr, err := keystore.RenewalCSR(f.leaf.Key, f.leaf.Cert)
	require.NoError(t, err)
	block, _ := pem.Decode(csr)
	require.NotNil(t, block)
	return block.Bytes
}

func TestCertificateParseErrorMessage(t *testing.T) {
	inner := errors.New("x509: malformed certificate")
	err := keystore.NewCertificateParseError("certificates", "PKCS#7", 2, 1234, "expected a certificate, found garbage", inner)
	assert.Equal(t, "keystore: reading certificates (PKCS#7): certificate at index 2 at offset 1234: expected a certificate, found garbage: x509: malformed certificate", err.Error())
	assert.ErrorIs(t, err, keystore.ErrMalformed)
	assert.ErrorIs(t, err, inner)
	assert.NotErrorIs(t, err, keystore.ErrIncorrectPassword)

	bare := keystore.NewCertificateParseError("certificates", "", -1, -1, "expected something, found nothing", nil)
	assert.Equal(t, "keystore: reading certificates: expected something, found nothing", bare.Error())
}

func FuzzParseCertificates(f *testing.F) {
	leaf, inter, root := tcChain(f)
	f.Add(tcPEM(leaf.Cert, inter.Cert, root.Cert))
	f.Add(leaf.Cert.Raw)
	f.Add(slices.Concat(leaf.Cert.Raw, root.Cert.Raw))
	f.Add(tcPkiPath(f, root.Cert, inter.Cert, leaf.Cert))
	p7 := tcDegenerate(f, leaf.Cert, inter.Cert)
	f.Add(p7)
	f.Add(tcToBER(f, p7, 4))
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "PKCS7", Bytes: p7}))
	f.Add(tcTestdata(f, "openssl-v3-certs.pem"))
	f.Add(tcTestdata(f, "letsencryptx3.pem"))
	f.Add([]byte{0x30, 0x80, 0x30, 0x80, 0, 0, 0, 0})
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		certs, err := keystore.ParseCertificates(data)
		if err != nil {
			require.Nil(t, certs)
			require.ErrorIs(t, err, keystore.ErrMalformed)
			var perr *keystore.MalformedError
			require.ErrorAs(t, err, &perr)
			require.True(t, strings.HasPrefix(err.Error(), "keystore: "))
			return
		}
		require.NotEmpty(t, certs)
		var pemData []byte
		for _, c := range certs {
			require.NotNil(t, c)
			pemData = append(pemData, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
		}
		again, err := keystore.ParseCertificates(pemData)
		require.NoError(t, err)
		require.Equal(t, tcRaws(certs), tcRaws(again))
	})
}

func BenchmarkParseCertificates(b *testing.B) {
	leaf, inter, root := tcChain(b)
	p7 := tcDegenerate(b, leaf.Cert, inter.Cert, root.Cert)
	hostile := append([]byte{0x30, 0x80}, bytes.Repeat([]byte{0x04, 0x01, 0xff}, 300_000/3)...)
	hostile = append(hostile, 0, 0)
	inputs := []struct {
		name string
		data []byte
	}{
		{"PEM chain of 3", tcPEM(leaf.Cert, inter.Cert, root.Cert)},
		{"DER certificate", leaf.Cert.Raw},
		{"PKCS7 DER chain of 3", p7},
		{"PKCS7 BER chain of 3", tcToBER(b, p7, 4)},
		{"PkiPath chain of 3", tcPkiPath(b, root.Cert, inter.Cert, leaf.Cert)},
		{"hostile BER 300KB", hostile},
	}
	for _, in := range inputs {
		b.Run(in.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in.data)))
			for b.Loop() {
				_, _ = keystore.ParseCertificates(in.data)
			}
		})
	}
	// For comparison: the same hostile input through smallstep/pkcs7,
	// whose BER conversion rescans for the end of every element.
	b.Run("hostile BER 300KB smallstep-pkcs7", func(b *testing.B) {
		b.SetBytes(int64(len(hostile)))
		for b.Loop() {
			_, _ = pkcs7.Parse(hostile)
		}
	})
}
