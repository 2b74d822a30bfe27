package keystore

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"slices"

	"github.com/certroll/certroll/keystore/internal/der"
)

const inputCertificates = "certificates"

// maxBERDepth bounds the nesting of indefinite-length BER elements. A
// certificate inside PKCS#7 sits about ten levels deep; the bound keeps
// hostile input from recursing without limit.
const maxBERDepth = 32

// ParseCertificates reads the certificates in data, in the forms a CA hands
// back a signed certificate or a chain:
//
//   - PEM: any number of blocks, with any text around them (as written by
//     openssl x509 -text or keytool -list -rfc). "CERTIFICATE" (and the old
//     "X509 CERTIFICATE" / "X.509 CERTIFICATE" labels), "TRUSTED CERTIFICATE"
//     (OpenSSL's form with trust settings, which are ignored), and "PKCS7",
//     "PKCS #7 SIGNED DATA" and "CMS" blocks are read; a CERTIFICATE block
//     holding PKCS#7 or PkiPath, as some CAs send, is read too. Other blocks,
//     such as a private key or a CSR, are skipped.
//   - DER: one certificate, or several concatenated.
//   - PKCS#7 / CMS SignedData (.p7b, .p7c, certs-only or signed), DER or BER
//     (indefinite lengths, as Windows and streaming encoders write). The
//     certificates field is read; CRLs, signer infos and attribute
//     certificates are ignored.
//   - PkiPath: a DER SEQUENCE OF Certificate, the encoding of Java's
//     CertPath.getEncoded("PkiPath").
//
// The certificates are returned in the order they appear in the input,
// duplicates included; nothing is reordered. Note what that means for each
// encoding: PEM files and keytool output are usually leaf first; PkiPath is
// root first by definition (its first certificate is the one issued by the
// trust anchor); PKCS#7 holds a SET, whose order carries no meaning
// (openssl crl2pkcs7 keeps the order it was given; a strict DER encoder
// sorts the certificates by their encoding). Callers that need a leaf-first
// chain must order the result.
//
// Empty input, garbage, truncated data, PEM without a certificate block, and
// a PKCS#7 without certificates give a [*MalformedError] that matches
// [ErrMalformed] and says what was expected and what was found; a
// certificate that crypto/x509 rejects gives one whose Index names it and
// which unwraps to crypto/x509's error.
//
// Decoding n bytes takes O(n) time and memory and never panics. The result
// does not alias data.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &MalformedError{input: inputCertificates, Index: -1, Offset: -1,
			detail: fmt.Sprintf("expected PEM, DER, PKCS#7 or PkiPath data, found %s", describeEmpty(data))}
	}
	if looksPEM(data) {
		return parsePEMCertificates(data)
	}
	certs, perr := parseBinaryCertificates(bytes.Clone(data), 0, "expected PEM, or DER starting with a SEQUENCE (byte 0x30)")
	if perr != nil {
		return nil, perr
	}
	return certs, nil
}

func describeEmpty(data []byte) string {
	if len(data) == 0 {
		return "empty input"
	}
	return fmt.Sprintf("only %d bytes of white space", len(data))
}

var (
	pemBegin     = []byte("-----BEGIN ")
	pemLineBegin = []byte("\n-----BEGIN ")
)

// looksPEM reports whether data is to be read as PEM. Data that starts like
// DER and forms exactly one ASN.1 element is binary even if the bytes
// "-----BEGIN " occur inside it (in a certificate field, say).
func looksPEM(data []byte) bool {
	if !bytes.Contains(data, pemBegin) {
		return false
	}
	if data[0] != 0x30 {
		return true
	}
	e, err := readBER(data, 0)
	return err != nil || e.End != len(data)
}

// pemBlockStart returns the index of the first "-----BEGIN " that starts a
// line in data, as encoding/pem requires, or -1.
func pemBlockStart(data []byte) int {
	if bytes.HasPrefix(data, pemBegin) {
		return 0
	}
	if i := bytes.Index(data, pemLineBegin); i >= 0 {
		return i + 1
	}
	return -1
}

// pemCertTypes are the PEM labels whose contents are read by
// parseBinaryCertificates: RFC 7468's, the legacy ones it lists, and the
// PKCS#7 labels of OpenSSL, Windows and RFC 7468.
var pemCertTypes = map[string]bool{
	"CERTIFICATE":         true,
	"X509 CERTIFICATE":    true,
	"X.509 CERTIFICATE":   true,
	"PKCS7":               true,
	"PKCS #7 SIGNED DATA": true,
	"CMS":                 true,
}

func parsePEMCertificates(data []byte) ([]*x509.Certificate, error) {
	var (
		certs   []*x509.Certificate
		skipped []string
		blocks  int
	)
	rest := data
	for {
		start := pemBlockStart(rest)
		if start < 0 {
			break
		}
		offset := int64(len(data) - len(rest) + start)
		block, after := pem.Decode(rest[start:])
		// pem.Decode skips a malformed block and returns the next good
		// one; a BEGIN line inside what it consumed means it did.
		if block == nil || bytes.Contains(rest[start+1:len(rest)-len(after)], pemLineBegin) {
			return nil, &MalformedError{input: inputCertificates, Encoding: "PEM", Index: -1, Offset: offset,
				detail: fmt.Sprintf("expected a complete PEM block (BEGIN line, base64, matching END line), found a truncated or malformed one beginning %q", firstLine(rest[start:]))}
		}
		rest = after
		blocks++
		switch {
		case pemCertTypes[block.Type]:
			got, perr := parseBinaryCertificates(block.Bytes, len(certs), "expected DER starting with a SEQUENCE (byte 0x30)")
			if perr != nil {
				return nil, inBlock(perr, block.Type, blocks, offset)
			}
			certs = append(certs, got...)
		case block.Type == "TRUSTED CERTIFICATE":
			// OpenSSL's X509_AUX encoding: a certificate, then its trust
			// settings, which this package has no use for.
			c, perr := parseTrustedCertificate(block.Bytes, len(certs))
			if perr != nil {
				return nil, inBlock(perr, block.Type, blocks, offset)
			}
			certs = append(certs, c)
		default:
			// A few names are enough for the error message; more would
			// make this loop quadratic on a file of many odd blocks.
			if len(skipped) < 5 && !slices.Contains(skipped, block.Type) {
				skipped = append(skipped, block.Type)
			}
		}
	}
	if len(certs) == 0 {
		found := "no PEM block at the start of a line"
		if len(skipped) > 0 {
			found = fmt.Sprintf("only blocks of type %q", skipped)
		} else if blocks > 0 {
			found = "only PEM blocks without certificates"
		}
		return nil, &MalformedError{input: inputCertificates, Encoding: "PEM", Index: -1, Offset: -1,
			detail: "expected a CERTIFICATE or PKCS7 PEM block, found " + found}
	}
	return certs, nil
}

// inBlock turns an error about a PEM block's contents into one about the
// input: the offset becomes the block's, and the detail says where in the
// block the problem is.
func inBlock(perr *MalformedError, typ string, n int, offset int64) *MalformedError {
	where := fmt.Sprintf("in PEM block %d (%q)", n, typ)
	if perr.Offset >= 0 {
		where += fmt.Sprintf(" at byte %d of its contents", perr.Offset)
	}
	perr.detail = where + ": " + perr.detail
	perr.Offset = offset
	if perr.Encoding == "" || perr.Encoding == "DER" {
		perr.Encoding = "PEM"
	} else {
		perr.Encoding = "PEM/" + perr.Encoding
	}
	return perr
}

func firstLine(b []byte) string {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	if len(b) > 64 {
		b = b[:64]
	}
	return string(bytes.TrimRight(b, "\r"))
}

func parseTrustedCertificate(in []byte, index int) (*x509.Certificate, *MalformedError) {
	e, err := readBER(in, 0)
	if err != nil {
		return nil, certError(err, "DER", -1)
	}
	return parseOneCertificate(in, e, index, "DER")
}

// certKind is what a top-level ASN.1 SEQUENCE holds.
type certKind int

const (
	kindCertificate certKind = iota + 1
	kindPKCS7
	kindPkiPath
)

// parseBinaryCertificates reads DER certificates (one or concatenated), a
// PKCS#7 SignedData, or a PkiPath from in. index is the position in the
// result of the first certificate read here; expected says what the data
// should start with, for the error about data that is not ASN.1 at all.
func parseBinaryCertificates(in []byte, index int, expected string) ([]*x509.Certificate, *MalformedError) {
	var certs []*x509.Certificate
	for off := 0; off < len(in); {
		if in[off] != 0x30 { // the identifier of a universal constructed SEQUENCE
			detail := fmt.Sprintf("%s, found %s", expected, describeBytes(in[off:]))
			if off > 0 {
				detail = fmt.Sprintf("expected another DER certificate or the end of the data, found %s", describeBytes(in[off:]))
			}
			return nil, &MalformedError{input: inputCertificates, Index: -1, Offset: int64(off), detail: detail}
		}
		e, berr := readBER(in, off)
		if berr != nil {
			return nil, certError(berr, "DER", -1)
		}
		kind, perr := sniff(in, e)
		if perr != nil {
			return nil, perr
		}
		if off > 0 && kind != kindCertificate {
			return nil, &MalformedError{input: inputCertificates, Encoding: "DER", Index: -1, Offset: int64(off),
				detail: "expected another DER certificate or the end of the data, found a PKCS#7 or PkiPath structure after a certificate"}
		}
		switch kind {
		case kindCertificate:
			c, perr := parseOneCertificate(in, e, index+len(certs), "DER")
			if perr != nil {
				return nil, perr
			}
			certs = append(certs, c)
			off = e.End
			continue
		case kindPKCS7:
			got, perr := parsePKCS7(in, e, index)
			if perr != nil {
				return nil, perr
			}
			certs = got
		case kindPkiPath:
			got, perr := parsePkiPath(in, e, index)
			if perr != nil {
				return nil, perr
			}
			certs = got
		}
		if e.End != len(in) {
			return nil, &MalformedError{input: inputCertificates, Encoding: kind.String(), Index: -1, Offset: int64(e.End),
				detail: fmt.Sprintf("expected the end of the data after the %v structure, found %d more bytes", kind, len(in)-e.End)}
		}
		return certs, nil
	}
	return certs, nil
}

func (k certKind) String() string {
	switch k {
	case kindPKCS7:
		return "PKCS#7"
	case kindPkiPath:
		return "PkiPath"
	}
	return "DER"
}

// sniff tells a certificate (SEQUENCE { SEQUENCE { [0] or INTEGER ... } }),
// a PKCS#7 ContentInfo (SEQUENCE { OID ... }) and a PkiPath (SEQUENCE {
// SEQUENCE { SEQUENCE ... } }) apart by their first elements.
func sniff(in []byte, outer der.Element) (certKind, *MalformedError) {
	unknown := func(found string) (certKind, *MalformedError) {
		return 0, &MalformedError{input: inputCertificates, Index: -1, Offset: int64(outer.Start),
			detail: "expected a certificate, a PKCS#7 SignedData or a PkiPath, found " + found}
	}
	c := outer.Children()
	if !c.More() {
		return unknown("an empty SEQUENCE")
	}
	first, berr := c.Next(in)
	if berr != nil {
		return 0, certError(berr, "DER", -1)
	}
	switch {
	case first.Is(classUniversal, tagOID, false):
		return kindPKCS7, nil
	case first.Is(classUniversal, tagInteger, false):
		return unknown("a SEQUENCE that starts with an INTEGER (a PKCS#12 keystore? give it as a keystore, not as certificates)")
	case !first.Is(classUniversal, tagSequence, true):
		return unknown(fmt.Sprintf("a SEQUENCE that starts with %v", first.Describe()))
	}
	g := first.Children()
	if !g.More() {
		return unknown("a SEQUENCE whose first element is an empty SEQUENCE")
	}
	inner, berr := g.Next(in)
	if berr != nil {
		return 0, certError(berr, "DER", -1)
	}
	switch {
	case inner.Is(classUniversal, tagSequence, true):
		return kindPkiPath, nil
	case inner.Is(classContext, 0, true), inner.Is(classUniversal, tagInteger, false):
		return kindCertificate, nil
	}
	return unknown(fmt.Sprintf("a SEQUENCE { SEQUENCE { %v ... } ... }", inner.Describe()))
}

// parseOneCertificate hands one element to crypto/x509.
func parseOneCertificate(in []byte, e der.Element, index int, encoding string) (*x509.Certificate, *MalformedError) {
	c, err := x509.ParseCertificate(in[e.Start:e.End])
	if err != nil {
		return nil, &MalformedError{input: inputCertificates, Encoding: encoding, Index: index, Offset: int64(e.Start),
			detail: fmt.Sprintf("expected a certificate crypto/x509 can parse, found a %d-byte one it rejects", e.End-e.Start), err: err}
	}
	return c, nil
}

// oidSignedData is id-signedData (RFC 5652, section 5.1), DER contents.
var oidSignedData = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02}

// parsePKCS7 reads the certificates of a ContentInfo holding SignedData
// (RFC 5652, section 5.1):
//
//	ContentInfo ::= SEQUENCE { contentType OID, content [0] EXPLICIT ANY }
//	SignedData ::= SEQUENCE { version INTEGER, digestAlgorithms SET,
//	    encapContentInfo SEQUENCE, certificates [0] IMPLICIT SET OF
//	    CertificateChoices OPTIONAL, crls [1] IMPLICIT ... OPTIONAL,
//	    signerInfos SET }
//
// It is written against package der's BER reader, not github.com/smallstep/pkcs7:
// that package's BER conversion rescans the rest of the input for every
// element of an indefinite-length SEQUENCE (quadratic time) and recurses
// without a depth limit, and it cannot say which certificate crypto/x509
// rejected. The tests use it as an independent decoder.
func parsePKCS7(in []byte, ci der.Element, index int) ([]*x509.Certificate, *MalformedError) {
	const enc = "PKCS#7"
	fail := func(at int, format string, args ...any) ([]*x509.Certificate, *MalformedError) {
		return nil, &MalformedError{input: inputCertificates, Encoding: enc, Index: -1, Offset: int64(at),
			detail: fmt.Sprintf(format, args...)}
	}
	c := ci.Children()
	oid, berr := c.Next(in)
	if berr != nil {
		return nil, certError(berr, enc, -1)
	}
	if !bytes.Equal(in[oid.ContentStart:oid.ContentEnd], oidSignedData) {
		return fail(oid.Start, "expected content type signedData (1.2.840.113549.1.7.2), found %s", describeOID(in[oid.ContentStart:oid.ContentEnd]))
	}
	if !c.More() {
		return fail(ci.ContentEnd, "expected the [0] content of the signedData, found the end of the ContentInfo")
	}
	explicit, berr := c.Next(in)
	if berr != nil {
		return nil, certError(berr, enc, -1)
	}
	if !explicit.Is(classContext, 0, true) {
		return fail(explicit.Start, "expected the [0] content of the signedData, found %v", explicit.Describe())
	}
	ec := explicit.Children()
	sd, berr := ec.Next(in)
	if berr != nil {
		return nil, certError(berr, enc, -1)
	}
	if !sd.Is(classUniversal, tagSequence, true) {
		return fail(sd.Start, "expected the SignedData SEQUENCE, found %v", sd.Describe())
	}
	fields := sd.Children()
	for _, want := range []struct {
		name string
		tag  int
		cons bool
	}{{"version INTEGER", tagInteger, false}, {"digestAlgorithms SET", tagSet, true}, {"encapContentInfo SEQUENCE", tagSequence, true}} {
		if !fields.More() {
			return fail(sd.ContentEnd, "expected the SignedData's %s, found the end of the SignedData", want.name)
		}
		f, berr := fields.Next(in)
		if berr != nil {
			return nil, certError(berr, enc, -1)
		}
		if !f.Is(classUniversal, want.tag, want.cons) {
			return fail(f.Start, "expected the SignedData's %s, found %v", want.name, f.Describe())
		}
	}
	for fields.More() {
		f, berr := fields.Next(in)
		if berr != nil {
			return nil, certError(berr, enc, -1)
		}
		if !f.Is(classContext, 0, true) {
			continue
		}
		var certs []*x509.Certificate
		for cc := f.Children(); cc.More(); {
			e, berr := cc.Next(in)
			if berr != nil {
				return nil, certError(berr, enc, index+len(certs))
			}
			// CertificateChoices: a plain Certificate is a SEQUENCE; the
			// [0]..[3] choices are obsolete extended certificates,
			// attribute certificates and "other" formats.
			if !e.Is(classUniversal, tagSequence, true) {
				continue
			}
			cert, perr := parseOneCertificate(in, e, index+len(certs), enc)
			if perr != nil {
				return nil, perr
			}
			certs = append(certs, cert)
		}
		if len(certs) == 0 {
			return fail(f.Start, "expected at least one certificate in the SignedData, found an empty certificates field")
		}
		return certs, nil
	}
	return fail(sd.Start, "expected a certificates field in the SignedData, found none (a PKCS#7 without certificates)")
}

// parsePkiPath reads a PkiPath: PkiPath ::= SEQUENCE OF Certificate.
func parsePkiPath(in []byte, seq der.Element, index int) ([]*x509.Certificate, *MalformedError) {
	var certs []*x509.Certificate
	for c := seq.Children(); c.More(); {
		e, berr := c.Next(in)
		if berr != nil {
			return nil, certError(berr, "PkiPath", index+len(certs))
		}
		if !e.Is(classUniversal, tagSequence, true) {
			return nil, &MalformedError{input: inputCertificates, Encoding: "PkiPath", Index: index + len(certs), Offset: int64(e.Start),
				detail: fmt.Sprintf("expected a certificate SEQUENCE, found %v", e.Describe())}
		}
		cert, perr := parseOneCertificate(in, e, index+len(certs), "PkiPath")
		if perr != nil {
			return nil, perr
		}
		certs = append(certs, cert)
	}
	return certs, nil
}

func describeOID(content []byte) string {
	if len(content) > 127 {
		return "an overlong OBJECT IDENTIFIER"
	}
	var oid asn1.ObjectIdentifier
	der := append([]byte{0x06, byte(len(content))}, content...)
	if _, err := asn1.Unmarshal(der, &oid); err != nil {
		return fmt.Sprintf("an invalid OBJECT IDENTIFIER (% x)", content)
	}
	names := map[string]string{
		"1.2.840.113549.1.7.1": "data",
		"1.2.840.113549.1.7.3": "envelopedData",
		"1.2.840.113549.1.7.5": "digestedData",
		"1.2.840.113549.1.7.6": "encryptedData",
	}
	if n, ok := names[oid.String()]; ok {
		return fmt.Sprintf("%s (%s)", n, oid)
	}
	return oid.String()
}

// describeBytes shows the start of unexpected input: quoted if it is
// text, in hexadecimal otherwise.
func describeBytes(b []byte) string {
	const show = 16
	head, more := b, ""
	if len(b) > show {
		head, more = b[:show], fmt.Sprintf("... (%d bytes)", len(b))
	}
	for _, c := range head {
		if (c < 0x20 || c > 0x7e) && c != '\n' && c != '\r' && c != '\t' {
			return fmt.Sprintf("bytes % x%s", head, more)
		}
	}
	return fmt.Sprintf("%q%s", head, more)
}

// ASN.1 classes and the universal tag numbers this file needs.
const (
	classUniversal = der.ClassUniversal
	classContext   = der.ClassContext

	tagInteger  = 2
	tagOID      = 6
	tagSequence = 16
	tagSet      = 17
)

// readBER reads the BER element at in[off:] with [der.ReadElement]:
// indefinite lengths are followed to their end, nested at most
// maxBERDepth deep.
func readBER(in []byte, off int) (der.Element, *der.Error) {
	return der.ReadElement(in, off, len(in), maxBERDepth)
}

// certError turns a syntax error in the input into a [MalformedError].
func certError(err *der.Error, encoding string, index int) *MalformedError {
	return &MalformedError{input: inputCertificates, Encoding: encoding, Index: index, Offset: int64(err.Offset), detail: err.Detail}
}
