package keystore

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"slices"
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
// a PKCS#7 without certificates give a [*CertificateParseError] that matches
// [ErrMalformed] and says what was expected and what was found; a
// certificate that crypto/x509 rejects gives one whose Index names it and
// which unwraps to crypto/x509's error.
//
// Decoding n bytes takes O(n) time and memory and never panics. The result
// does not alias data.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &CertificateParseError{Input: inputCertificates, Index: -1, Offset: -1,
			Detail: fmt.Sprintf("expected PEM, DER, PKCS#7 or PkiPath data, found %s", describeEmpty(data))}
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
	e, err := readBER(data, 0, len(data), 0)
	return err != nil || e.end != len(data)
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
			return nil, &CertificateParseError{Input: inputCertificates, Encoding: "PEM", Index: -1, Offset: offset,
				Detail: fmt.Sprintf("expected a complete PEM block (BEGIN line, base64, matching END line), found a truncated or malformed one beginning %q", firstLine(rest[start:]))}
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
		return nil, &CertificateParseError{Input: inputCertificates, Encoding: "PEM", Index: -1, Offset: -1,
			Detail: "expected a CERTIFICATE or PKCS7 PEM block, found " + found}
	}
	return certs, nil
}

// inBlock turns an error about a PEM block's contents into one about the
// input: the offset becomes the block's, and the detail says where in the
// block the problem is.
func inBlock(perr *CertificateParseError, typ string, n int, offset int64) *CertificateParseError {
	where := fmt.Sprintf("in PEM block %d (%q)", n, typ)
	if perr.Offset >= 0 {
		where += fmt.Sprintf(" at byte %d of its contents", perr.Offset)
	}
	perr.Detail = where + ": " + perr.Detail
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

func parseTrustedCertificate(der []byte, index int) (*x509.Certificate, *CertificateParseError) {
	e, err := readBER(der, 0, len(der), 0)
	if err != nil {
		return nil, err.certError("DER", -1)
	}
	return parseOneCertificate(der, e, index, "DER")
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
func parseBinaryCertificates(in []byte, index int, expected string) ([]*x509.Certificate, *CertificateParseError) {
	var certs []*x509.Certificate
	for off := 0; off < len(in); {
		if in[off] != 0x30 { // the identifier of a universal constructed SEQUENCE
			detail := fmt.Sprintf("%s, found %s", expected, describeBytes(in[off:]))
			if off > 0 {
				detail = fmt.Sprintf("expected another DER certificate or the end of the data, found %s", describeBytes(in[off:]))
			}
			return nil, &CertificateParseError{Input: inputCertificates, Index: -1, Offset: int64(off), Detail: detail}
		}
		e, berr := readBER(in, off, len(in), 0)
		if berr != nil {
			return nil, berr.certError("DER", -1)
		}
		kind, perr := sniff(in, e)
		if perr != nil {
			return nil, perr
		}
		if off > 0 && kind != kindCertificate {
			return nil, &CertificateParseError{Input: inputCertificates, Encoding: "DER", Index: -1, Offset: int64(off),
				Detail: "expected another DER certificate or the end of the data, found a PKCS#7 or PkiPath structure after a certificate"}
		}
		switch kind {
		case kindCertificate:
			c, perr := parseOneCertificate(in, e, index+len(certs), "DER")
			if perr != nil {
				return nil, perr
			}
			certs = append(certs, c)
			off = e.end
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
		if e.end != len(in) {
			return nil, &CertificateParseError{Input: inputCertificates, Encoding: kind.String(), Index: -1, Offset: int64(e.end),
				Detail: fmt.Sprintf("expected the end of the data after the %v structure, found %d more bytes", kind, len(in)-e.end)}
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
func sniff(in []byte, outer berElement) (certKind, *CertificateParseError) {
	unknown := func(found string) (certKind, *CertificateParseError) {
		return 0, &CertificateParseError{Input: inputCertificates, Index: -1, Offset: int64(outer.start),
			Detail: "expected a certificate, a PKCS#7 SignedData or a PkiPath, found " + found}
	}
	c := outer.children()
	if !c.more() {
		return unknown("an empty SEQUENCE")
	}
	first, berr := c.next(in)
	if berr != nil {
		return 0, berr.certError("DER", -1)
	}
	switch {
	case first.is(classUniversal, tagOID, false):
		return kindPKCS7, nil
	case first.is(classUniversal, tagInteger, false):
		return unknown("a SEQUENCE that starts with an INTEGER (a PKCS#12 keystore? read it with Parse)")
	case !first.is(classUniversal, tagSequence, true):
		return unknown(fmt.Sprintf("a SEQUENCE that starts with %v", first.describe()))
	}
	g := first.children()
	if !g.more() {
		return unknown("a SEQUENCE whose first element is an empty SEQUENCE")
	}
	inner, berr := g.next(in)
	if berr != nil {
		return 0, berr.certError("DER", -1)
	}
	switch {
	case inner.is(classUniversal, tagSequence, true):
		return kindPkiPath, nil
	case inner.is(classContext, 0, true), inner.is(classUniversal, tagInteger, false):
		return kindCertificate, nil
	}
	return unknown(fmt.Sprintf("a SEQUENCE { SEQUENCE { %v ... } ... }", inner.describe()))
}

// parseOneCertificate hands one element to crypto/x509.
func parseOneCertificate(in []byte, e berElement, index int, encoding string) (*x509.Certificate, *CertificateParseError) {
	c, err := x509.ParseCertificate(in[e.start:e.end])
	if err != nil {
		return nil, &CertificateParseError{Input: inputCertificates, Encoding: encoding, Index: index, Offset: int64(e.start),
			Detail: fmt.Sprintf("expected a certificate crypto/x509 can parse, found a %d-byte one it rejects", e.end-e.start), Err: err}
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
// It is written against the BER reader below, not github.com/smallstep/pkcs7:
// that package's BER conversion rescans the rest of the input for every
// element of an indefinite-length SEQUENCE (quadratic time) and recurses
// without a depth limit, and it cannot say which certificate crypto/x509
// rejected. The tests use it as an independent decoder.
func parsePKCS7(in []byte, ci berElement, index int) ([]*x509.Certificate, *CertificateParseError) {
	const enc = "PKCS#7"
	fail := func(at int, format string, args ...any) ([]*x509.Certificate, *CertificateParseError) {
		return nil, &CertificateParseError{Input: inputCertificates, Encoding: enc, Index: -1, Offset: int64(at),
			Detail: fmt.Sprintf(format, args...)}
	}
	c := ci.children()
	oid, berr := c.next(in)
	if berr != nil {
		return nil, berr.certError(enc, -1)
	}
	if !bytes.Equal(in[oid.contentStart:oid.contentEnd], oidSignedData) {
		return fail(oid.start, "expected content type signedData (1.2.840.113549.1.7.2), found %s", describeOID(in[oid.contentStart:oid.contentEnd]))
	}
	if !c.more() {
		return fail(ci.contentEnd, "expected the [0] content of the signedData, found the end of the ContentInfo")
	}
	explicit, berr := c.next(in)
	if berr != nil {
		return nil, berr.certError(enc, -1)
	}
	if !explicit.is(classContext, 0, true) {
		return fail(explicit.start, "expected the [0] content of the signedData, found %v", explicit.describe())
	}
	ec := explicit.children()
	sd, berr := ec.next(in)
	if berr != nil {
		return nil, berr.certError(enc, -1)
	}
	if !sd.is(classUniversal, tagSequence, true) {
		return fail(sd.start, "expected the SignedData SEQUENCE, found %v", sd.describe())
	}
	fields := sd.children()
	for _, want := range []struct {
		name string
		tag  int
		cons bool
	}{{"version INTEGER", tagInteger, false}, {"digestAlgorithms SET", tagSet, true}, {"encapContentInfo SEQUENCE", tagSequence, true}} {
		if !fields.more() {
			return fail(sd.contentEnd, "expected the SignedData's %s, found the end of the SignedData", want.name)
		}
		f, berr := fields.next(in)
		if berr != nil {
			return nil, berr.certError(enc, -1)
		}
		if !f.is(classUniversal, want.tag, want.cons) {
			return fail(f.start, "expected the SignedData's %s, found %v", want.name, f.describe())
		}
	}
	for fields.more() {
		f, berr := fields.next(in)
		if berr != nil {
			return nil, berr.certError(enc, -1)
		}
		if !f.is(classContext, 0, true) {
			continue
		}
		var certs []*x509.Certificate
		for cc := f.children(); cc.more(); {
			e, berr := cc.next(in)
			if berr != nil {
				return nil, berr.certError(enc, index+len(certs))
			}
			// CertificateChoices: a plain Certificate is a SEQUENCE; the
			// [0]..[3] choices are obsolete extended certificates,
			// attribute certificates and "other" formats.
			if !e.is(classUniversal, tagSequence, true) {
				continue
			}
			cert, perr := parseOneCertificate(in, e, index+len(certs), enc)
			if perr != nil {
				return nil, perr
			}
			certs = append(certs, cert)
		}
		if len(certs) == 0 {
			return fail(f.start, "expected at least one certificate in the SignedData, found an empty certificates field")
		}
		return certs, nil
	}
	return fail(sd.start, "expected a certificates field in the SignedData, found none (a PKCS#7 without certificates)")
}

// parsePkiPath reads a PkiPath: PkiPath ::= SEQUENCE OF Certificate.
func parsePkiPath(in []byte, seq berElement, index int) ([]*x509.Certificate, *CertificateParseError) {
	var certs []*x509.Certificate
	for c := seq.children(); c.more(); {
		e, berr := c.next(in)
		if berr != nil {
			return nil, berr.certError("PkiPath", index+len(certs))
		}
		if !e.is(classUniversal, tagSequence, true) {
			return nil, &CertificateParseError{Input: inputCertificates, Encoding: "PkiPath", Index: index + len(certs), Offset: int64(e.start),
				Detail: fmt.Sprintf("expected a certificate SEQUENCE, found %v", e.describe())}
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

// ASN.1 classes and the universal tags this file needs.
const (
	classUniversal = 0
	classContext   = 2

	tagInteger  = 2
	tagOID      = 6
	tagSequence = 16
	tagSet      = 17
)

// berElement locates one BER element (X.690, section 8.1) in the input.
// Offsets are absolute; for an indefinite length, contentEnd is the start
// of the end-of-contents octets and end is after them.
type berElement struct {
	class, tag   int
	constructed  bool
	start        int
	contentStart int
	contentEnd   int
	end          int
	indefinite   bool
	depth        int
}

func (e berElement) is(class, tag int, constructed bool) bool {
	return e.class == class && e.tag == tag && e.constructed == constructed
}

func (e berElement) describe() string {
	names := map[int]string{1: "BOOLEAN", 2: "INTEGER", 3: "BIT STRING", 4: "OCTET STRING", 5: "NULL", 6: "OBJECT IDENTIFIER",
		12: "UTF8String", 16: "SEQUENCE", 17: "SET", 19: "PrintableString", 23: "UTCTime", 24: "GeneralizedTime"}
	if e.class == classUniversal {
		if n, ok := names[e.tag]; ok {
			return "a " + n
		}
	}
	classes := [...]string{"universal", "application", "context-specific", "private"}
	return fmt.Sprintf("a %s [%d] element", classes[e.class&3], e.tag)
}

// children returns a cursor over e's contents.
func (e berElement) children() berCursor {
	return berCursor{off: e.contentStart, end: e.contentEnd, depth: e.depth + 1}
}

// berCursor walks the elements of a constructed element's contents.
type berCursor struct{ off, end, depth int }

func (c *berCursor) more() bool { return c.off < c.end }

func (c *berCursor) next(in []byte) (berElement, *berError) {
	if c.off >= c.end {
		return berElement{}, &berError{offset: c.off, detail: "expected another element, found the end of its enclosing element"}
	}
	e, err := readBER(in, c.off, c.end, c.depth)
	if err != nil {
		return berElement{}, err
	}
	c.off = e.end
	return e, nil
}

// berError is a BER syntax error at an offset.
type berError struct {
	offset int
	detail string
}

func (b *berError) certError(encoding string, index int) *CertificateParseError {
	return &CertificateParseError{Input: inputCertificates, Encoding: encoding, Index: index, Offset: int64(b.offset), Detail: b.detail}
}

// readBER reads the element at in[off:end]. It accepts what X.690 BER
// allows and DER forbids (indefinite and non-minimal lengths), and checks
// every length against the bytes that remain before trusting it. Finding
// the end of an indefinite-length element means reading its children;
// that recursion is bounded by maxBERDepth, and each call reads each byte
// once, so the work is linear in the input.
func readBER(in []byte, off, end, depth int) (berElement, *berError) {
	truncated := func(at int, what string) (berElement, *berError) {
		return berElement{}, &berError{offset: at, detail: fmt.Sprintf("expected %s, found the end of the data (truncated?)", what)}
	}
	e := berElement{start: off, depth: depth}
	if off >= end {
		return truncated(off, "an ASN.1 element")
	}
	b := in[off]
	e.class, e.constructed, e.tag = int(b>>6), b&0x20 != 0, int(b&0x1f)
	p := off + 1
	if e.tag == 0x1f { // high tag number form, base 128
		e.tag = 0
		for i := 0; ; i++ {
			if p >= end {
				return truncated(p, "the rest of a tag number")
			}
			if i == 3 {
				return berElement{}, &berError{offset: off, detail: "expected a tag number of at most 3 bytes, found a longer one"}
			}
			t := in[p]
			p++
			e.tag = e.tag<<7 | int(t&0x7f)
			if t&0x80 == 0 {
				break
			}
		}
	}
	if p >= end {
		return truncated(p, "a length")
	}
	l := in[p]
	p++
	length := 0
	switch {
	case l < 0x80:
		length = int(l)
	case l == 0x80:
		if !e.constructed {
			return berElement{}, &berError{offset: off, detail: "expected a definite length on a primitive element, found the indefinite form"}
		}
		e.indefinite = true
	case l == 0xff:
		return berElement{}, &berError{offset: p - 1, detail: "expected a length, found the reserved byte 0xff"}
	default:
		n := int(l & 0x7f)
		if n > 4 {
			return berElement{}, &berError{offset: p - 1, detail: fmt.Sprintf("expected a length of at most 4 bytes, found one of %d bytes", n)}
		}
		if end-p < n {
			return truncated(p, fmt.Sprintf("a %d-byte length", n))
		}
		for _, v := range in[p : p+n] {
			length = length<<8 | int(v)
		}
		p += n
	}
	e.contentStart = p
	if !e.indefinite {
		if length < 0 || length > end-p { // negative: overflow where int is 32 bits
			return truncated(end, fmt.Sprintf("%d bytes of contents (the element at offset %d declares them; %d remain)", length, off, end-p))
		}
		e.contentEnd, e.end = p+length, p+length
		return e, nil
	}
	if depth >= maxBERDepth {
		return berElement{}, &berError{offset: off, detail: fmt.Sprintf("expected indefinite-length elements nested at most %d deep, found deeper nesting", maxBERDepth)}
	}
	for {
		if end-p >= 2 && in[p] == 0 && in[p+1] == 0 {
			e.contentEnd, e.end = p, p+2
			return e, nil
		}
		if p >= end {
			return truncated(p, fmt.Sprintf("the end-of-contents octets of the element at offset %d", off))
		}
		child, err := readBER(in, p, end, depth+1)
		if err != nil {
			return berElement{}, err
		}
		p = child.end
	}
}
