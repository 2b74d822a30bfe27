// Package der reads the ASN.1 of keystores and certificate bundles, all
// of it untrusted input, in one place:
//
//   - [Read] and [Strict] read DER elements one after another without
//     allocating, with golang.org/x/crypto/cryptobyte;
//   - [ReadElement] locates BER elements in place (indefinite lengths
//     included) with a bound on their nesting, for readers that must hand
//     on bytes as they were written (a certificate inside a PKCS #7);
//   - [ToDER] rewrites BER as DER (definite minimal lengths, primitive
//     strings) in two linear passes, for readers that parse DER only.
//
// All three decode identifiers and lengths with one function, [ReadHeader],
// and report problems as an [*Error] whose Offset indexes the input they
// were given and whose Detail says what was expected and what was found.
// Nothing here panics on any input, recurses deeper than the caller's
// bound, or does more than linear work per level of nesting.
package der

import (
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// Error is a syntax error in ASN.1 input. Callers turn it into their own
// error type, adding the field and the file offset.
type Error struct {
	// Offset is the index in the input of the problem: of the element's
	// identifier, or, for truncated input, where the data ran out.
	Offset int
	// Detail says what was expected and what was found.
	Detail string
}

// Error returns the detail and the offset.
func (e *Error) Error() string { return fmt.Sprintf("der: at offset %d: %s", e.Offset, e.Detail) }

func errorf(off int, format string, args ...any) *Error {
	return &Error{Offset: off, Detail: fmt.Sprintf(format, args...)}
}

func truncated(off int, format string, args ...any) *Error {
	return &Error{Offset: off, Detail: "expected " + fmt.Sprintf(format, args...) + ", found the end of the data (truncated?)"}
}

// Identifier octets of the universal types the users of this package
// name; elements with other identifiers are read all the same.
const (
	TagInteger     = 0x02
	TagBitString   = 0x03
	TagOctetString = 0x04
	TagNull        = 0x05
	TagOID         = 0x06
	TagUTF8String  = 0x0C
	TagBMPString   = 0x1E
	TagSequence    = 0x30
	TagSet         = 0x31
	TagExplicit0   = 0xA0 // [0] constructed
	TagImplicit0   = 0x80 // [0] primitive
)

// Classes of identifiers (X.690 section 8.1.2.2).
const (
	ClassUniversal = 0
	ClassContext   = 2
)

// Header is a decoded identifier and length (X.690 section 8.1).
type Header struct {
	// ID is the first identifier octet; Class, Tag and Constructed are
	// decoded from it (Tag from the octets after it for a high tag
	// number).
	ID          byte
	Class, Tag  int
	Constructed bool
	// TagLen is the number of identifier octets.
	TagLen int
	// Start is the index of the identifier, ContentStart that of the
	// contents.
	Start, ContentStart int
	// Indefinite marks BER's indefinite length; Length is the contents
	// length otherwise.
	Indefinite bool
	Length     int
	// Minimal reports a definite length in its shortest form, as DER
	// requires.
	Minimal bool
}

// maxTagOctets and maxLengthOctets bound high tag numbers and long-form
// lengths: a 28-bit tag number and a 4 GiB length are beyond any input
// this package is given.
const (
	maxTagOctets    = 4
	maxLengthOctets = 4
)

// ReadHeader decodes the identifier and length octets at in[off:end] and,
// for a definite length, checks that the contents fit before end.
func ReadHeader(in []byte, off, end int) (Header, *Error) {
	if off+2 <= end && in[off]&0x1f != 0x1f && in[off+1] < 0x80 {
		// The common case: a low tag number and a short-form length.
		b, n := in[off], int(in[off+1])
		h := Header{ID: b, Class: int(b >> 6), Constructed: b&0x20 != 0, Tag: int(b & 0x1f), TagLen: 1,
			Start: off, ContentStart: off + 2, Length: n, Minimal: true}
		if n > end-off-2 {
			return h, errorf(off, "expected %d bytes of contents; the length exceeds the %d bytes left, found the end of the data (truncated?)", n, end-off-2)
		}
		return h, nil
	}
	h := Header{Start: off, Minimal: true}
	if off >= end {
		return h, truncated(off, "an ASN.1 element")
	}
	b := in[off]
	h.ID, h.Class, h.Constructed, h.Tag = b, int(b>>6), b&0x20 != 0, int(b&0x1f)
	p := off + 1
	if h.Tag == 0x1f { // high tag number form: base-128 digits, the last without bit 8
		h.Tag = 0
		for i := 0; ; i++ {
			if p >= end {
				return h, truncated(p, "the rest of a tag number")
			}
			if i == maxTagOctets {
				return h, errorf(off, "expected a tag number of at most %d bytes, found a longer one", maxTagOctets)
			}
			t := in[p]
			if i == 0 && t == 0x80 {
				return h, errorf(off, "expected a tag number in its shortest form, found one with a leading zero digit")
			}
			p++
			h.Tag = h.Tag<<7 | int(t&0x7f)
			if t&0x80 == 0 {
				break
			}
		}
	}
	h.TagLen = p - off
	if p >= end {
		return h, truncated(p, "a length")
	}
	l := in[p]
	p++
	switch {
	case l < 0x80:
		h.Length = int(l)
	case l == 0x80:
		if !h.Constructed {
			return h, errorf(off, "expected a definite length on a primitive element, found the indefinite form")
		}
		h.Indefinite, h.Minimal = true, false
		h.ContentStart = p
		return h, nil
	case l == 0xff:
		return h, errorf(p-1, "expected a length, found the reserved byte 0xff")
	default:
		n := int(l & 0x7f)
		if n > maxLengthOctets {
			return h, errorf(p-1, "expected a length of at most %d bytes, found one of %d bytes", maxLengthOctets, n)
		}
		if end-p < n {
			return h, truncated(p, "a %d-byte length", n)
		}
		var v int64
		for _, c := range in[p : p+n] {
			v = v<<8 | int64(c)
		}
		if in[p] == 0 || v < 0x80 {
			h.Minimal = false
		}
		p += n
		if v > int64(end-p) {
			return h, errorf(off, "expected %d bytes of contents; the length exceeds the %d bytes left, found the end of the data (truncated?)", v, end-p)
		}
		h.Length = int(v)
	}
	h.ContentStart = p
	if h.Length > end-p {
		return h, errorf(off, "expected %d bytes of contents; the length exceeds the %d bytes left, found the end of the data (truncated?)", h.Length, end-p)
	}
	return h, nil
}

// End returns the index after the contents of a definite-length element.
func (h Header) End() int { return h.ContentStart + h.Length }

// errDepth is the error for nesting beyond max.
func errDepth(off, max int) *Error {
	return errorf(off, "expected elements nested at most %d deep, found nesting deeper than %d levels", max, max)
}

// TLV is one DER element read by [Read].
type TLV struct {
	// Tag is the first identifier octet (0x1F and up in its low bits
	// marks a high tag number).
	Tag byte
	// Full is the whole encoding, Content the contents; both are
	// subslices of the input.
	Full, Content []byte
	// Start is the index of the identifier in the input, ContentStart
	// that of the contents.
	Start, ContentStart int
}

// Read reads the DER element at in[off:]. cryptobyte reads it, without
// allocating; what cryptobyte refuses is decoded with [ReadHeader], which
// says why, and accepted if it is only a high tag number or a
// non-minimal length (which the PKCS #12 reader has always taken as they
// are). An indefinite length is refused: it is BER, for [ToDER].
func Read(in []byte, off int) (TLV, *Error) {
	if off < len(in) {
		s := cryptobyte.String(in[off:])
		var full, content cryptobyte.String
		var tag asn1.Tag
		if s.ReadAnyASN1Element(&full, &tag) {
			elem := full
			if elem.ReadAnyASN1(&content, &tag) {
				cs := off + len(full) - len(content)
				return TLV{Tag: byte(tag), Full: full, Content: content, Start: off, ContentStart: cs}, nil
			}
		}
	}
	h, err := ReadHeader(in, off, len(in))
	if err != nil {
		return TLV{}, err
	}
	if h.Indefinite {
		return TLV{}, errorf(off, "expected a definite length (DER), found the indefinite form of BER")
	}
	end := h.End()
	return TLV{Tag: h.ID, Full: in[off:end], Content: in[h.ContentStart:end], Start: off, ContentStart: h.ContentStart}, nil
}

// Strict reads one element with identifier tag from the front of b in
// strict DER (a low tag number, a minimal definite length) and returns its
// contents and what follows it; ok is false if b does not start with one.
// It is cryptobyte's reader, for formats whose reference implementation
// is as strict (the JDK's DerInputStream).
func Strict(b []byte, tag byte) (content, rest []byte, ok bool) {
	s := cryptobyte.String(b)
	var c cryptobyte.String
	if !s.ReadASN1(&c, asn1.Tag(tag)) {
		return nil, nil, false
	}
	return c, s, true
}

// TagName names an identifier octet for messages.
func TagName(t byte) string {
	switch t {
	case 0:
		return "end of contents"
	case TagInteger:
		return "INTEGER"
	case TagBitString:
		return "BIT STRING"
	case TagOctetString:
		return "OCTET STRING"
	case TagNull:
		return "NULL"
	case TagOID:
		return "OBJECT IDENTIFIER"
	case TagUTF8String:
		return "UTF8String"
	case TagBMPString:
		return "BMPString"
	case TagSequence:
		return "SEQUENCE"
	case TagSet:
		return "SET"
	case TagExplicit0:
		return "[0] (constructed)"
	case TagImplicit0:
		return "[0] (primitive)"
	}
	return fmt.Sprintf("tag 0x%02X", t)
}
