package pkcs12

import (
	"bytes"
	"fmt"
)

// Identifier octets of the ASN.1 types PKCS #12 uses. Only low tag numbers
// occur in the structures the package interprets; elements it does not
// interpret are copied as they are, whatever their tag.
const (
	tagInteger     = 0x02
	tagBitString   = 0x03
	tagOctetString = 0x04
	tagNull        = 0x05
	tagOID         = 0x06
	tagUTF8String  = 0x0C
	tagBMPString   = 0x1E
	tagSequence    = 0x30
	tagSet         = 0x31
	tagExplicit0   = 0xA0 // [0] constructed
	tagImplicit0   = 0x80 // [0] primitive
)

// parser reads DER elements one after another from b. Offsets in its
// errors are file offsets when base is known (>= 0): the slice is then a
// piece of the input file, unchanged.
type parser struct {
	b     []byte
	pos   int
	base  int64  // file offset of b[0], or -1 when b is not a piece of the file
	field string // what b holds, for errors
}

func newParser(b []byte, base int64, field string) parser {
	return parser{b: b, base: base, field: field}
}

// sub returns a parser over content, a subslice of p.b starting at off
// (an index into p.b).
func (p *parser) sub(content []byte, off int, field string) parser {
	base := int64(-1)
	if p.base >= 0 {
		base = p.base + int64(off)
	}
	return parser{b: content, base: base, field: field}
}

func (p *parser) empty() bool { return p.pos >= len(p.b) }

// offset returns the file offset of index i of p.b, or -1.
func (p *parser) offset(i int) int64 {
	if p.base < 0 {
		return -1
	}
	return p.base + int64(i)
}

func (p *parser) errAt(i int, field, format string, args ...any) error {
	return &FormatError{Offset: p.offset(i), Field: field, Detail: fmt.Sprintf(format, args...)}
}

// peek returns the identifier octet of the next element, or 0 at the end.
func (p *parser) peek() byte {
	if p.empty() {
		return 0
	}
	return p.b[p.pos]
}

// element is one DER element.
type element struct {
	tag     byte   // first identifier octet (0x1F marks a high tag number)
	full    []byte // identifier, length and contents
	content []byte
	off     int // index of the identifier octet in the parser's slice
	coff    int // index of the contents
}

// next reads the next element, whatever its tag.
func (p *parser) next(field string) (element, error) {
	start := p.pos
	// Fast path for the common shapes: a one-octet identifier and a length
	// of at most two octets.
	if b := p.b; start+2 <= len(b) && b[start]&0x1F != 0x1F {
		l, cs := int(b[start+1]), start+2
		ok := true
		switch {
		case l < 0x80:
		case l == 0x81 && cs < len(b) && b[cs] >= 0x80:
			l, cs = int(b[cs]), cs+1
		case l == 0x82 && cs+1 < len(b) && b[cs] != 0:
			l, cs = int(b[cs])<<8|int(b[cs+1]), cs+2
		default:
			ok = false
		}
		if ok && l <= len(b)-cs {
			p.pos = cs + l
			return element{tag: b[start], full: b[start : cs+l], content: b[cs : cs+l], off: start, coff: cs}, nil
		}
	}
	hdr, n, err := readHeader(p.b, p.pos)
	if err != nil {
		return element{}, p.errAt(start, field, "%v", err)
	}
	if hdr.indefinite {
		return element{}, p.errAt(start, field, "indefinite length in DER")
	}
	end := hdr.end
	if end > len(p.b) {
		return element{}, p.errAt(start, field, "length %d exceeds the %d bytes left", n, len(p.b)-hdr.contentStart)
	}
	p.pos = end
	return element{tag: p.b[start], full: p.b[start:end], content: p.b[hdr.contentStart:end], off: start, coff: hdr.contentStart}, nil
}

// expect reads the next element and checks that its identifier is tag.
func (p *parser) expect(tag byte, field string) (element, error) {
	if p.empty() {
		return element{}, p.errAt(p.pos, field, "want %s, found the end of %s", tagName(tag), p.field)
	}
	if p.b[p.pos] != tag {
		return element{}, p.errAt(p.pos, field, "want %s, found %s", tagName(tag), tagName(p.b[p.pos]))
	}
	return p.next(field)
}

// optional reads the next element if its identifier is tag.
func (p *parser) optional(tag byte, field string) (element, bool, error) {
	if p.peek() != tag || p.empty() {
		return element{}, false, nil
	}
	e, err := p.next(field)
	return e, err == nil, err
}

// enter reads a constructed element with identifier tag and returns a
// parser over its contents.
func (p *parser) enter(tag byte, field string) (parser, error) {
	e, err := p.expect(tag, field)
	if err != nil {
		return parser{}, err
	}
	return p.sub(e.content, e.coff, field), nil
}

// finish reports an error if anything is left.
func (p *parser) finish() error {
	if !p.empty() {
		return p.errAt(p.pos, p.field, "%d unexpected bytes after the last field", len(p.b)-p.pos)
	}
	return nil
}

// integer reads a non-negative INTEGER. Values that do not fit in 62 bits
// are reported as max+1 so that callers refuse them as too large, naming
// the field, instead of as malformed.
func (p *parser) integer(field string, max int64) (int64, error) {
	e, err := p.expect(tagInteger, field)
	if err != nil {
		return 0, err
	}
	c := e.content
	if len(c) == 0 {
		return 0, p.errAt(e.off, field, "empty INTEGER")
	}
	if c[0]&0x80 != 0 {
		return 0, p.errAt(e.off, field, "want a non-negative INTEGER, found a negative one")
	}
	for len(c) > 1 && c[0] == 0 {
		c = c[1:]
	}
	if len(c) > 7 {
		return max + 1, nil
	}
	var v int64
	for _, b := range c {
		v = v<<8 | int64(b)
	}
	return v, nil
}

// oid reads an OBJECT IDENTIFIER and returns its contents octets.
func (p *parser) oid(field string) ([]byte, error) {
	e, err := p.expect(tagOID, field)
	if err != nil {
		return nil, err
	}
	if len(e.content) == 0 {
		return nil, p.errAt(e.off, field, "empty OBJECT IDENTIFIER")
	}
	return e.content, nil
}

// header is a parsed identifier and length.
type header struct {
	tagLen       int
	constructed  bool
	indefinite   bool
	contentStart int
	length       int // contents length; 0 when indefinite
	end          int // index after the contents; only when definite
	minimal      bool
}

// maxLengthOctets bounds long-form lengths: inputs are far below 4 GiB.
const maxLengthOctets = 4

// readHeader parses the identifier and length octets at b[pos:]. It does
// not check that the contents fit; callers do, naming the field. n is the
// length as written, for messages.
func readHeader(b []byte, pos int) (h header, n int64, err error) {
	if pos >= len(b) {
		return h, 0, fmt.Errorf("want an element, found the end of the input")
	}
	i := pos
	h.constructed = b[i]&0x20 != 0
	h.minimal = true
	if b[i]&0x1F == 0x1F {
		// High tag number: base-128 digits, the last without bit 8.
		i++
		digits := 0
		for {
			if i >= len(b) {
				return h, 0, fmt.Errorf("truncated identifier")
			}
			if digits == 0 && b[i] == 0x80 {
				return h, 0, fmt.Errorf("non-minimal tag number")
			}
			digits++
			if digits > 4 {
				return h, 0, fmt.Errorf("tag number longer than 4 octets")
			}
			if b[i]&0x80 == 0 {
				break
			}
			i++
		}
	}
	i++
	h.tagLen = i - pos
	if i >= len(b) {
		return h, 0, fmt.Errorf("truncated length")
	}
	l := b[i]
	i++
	switch {
	case l < 0x80:
		h.length = int(l)
	case l == 0x80:
		if !h.constructed {
			return h, 0, fmt.Errorf("indefinite length on a primitive element")
		}
		h.indefinite = true
		h.contentStart = i
		return h, -1, nil
	case l == 0xFF:
		return h, 0, fmt.Errorf("reserved length octet 0xFF")
	default:
		k := int(l & 0x7F)
		if k > maxLengthOctets {
			return h, 0, fmt.Errorf("length of %d octets is beyond any input this size", k)
		}
		if i+k > len(b) {
			return h, 0, fmt.Errorf("truncated length")
		}
		var v int64
		for j := 0; j < k; j++ {
			v = v<<8 | int64(b[i+j])
		}
		if b[i] == 0 || v < 0x80 {
			h.minimal = false
		}
		i += k
		if v > int64(len(b)-i) {
			return h, v, fmt.Errorf("length %d exceeds the %d bytes left", v, len(b)-i)
		}
		h.length = int(v)
	}
	h.contentStart = i
	h.end = i + h.length
	if h.end > len(b) {
		return h, int64(h.length), fmt.Errorf("length %d exceeds the %d bytes left", h.length, len(b)-i)
	}
	return h, int64(h.length), nil
}

func tagName(t byte) string {
	switch t {
	case 0:
		return "end of contents"
	case tagInteger:
		return "INTEGER"
	case tagBitString:
		return "BIT STRING"
	case tagOctetString:
		return "OCTET STRING"
	case tagNull:
		return "NULL"
	case tagOID:
		return "OBJECT IDENTIFIER"
	case tagUTF8String:
		return "UTF8String"
	case tagBMPString:
		return "BMPString"
	case tagSequence:
		return "SEQUENCE"
	case tagSet:
		return "SET"
	case tagExplicit0:
		return "[0] (constructed)"
	case tagImplicit0:
		return "[0] (primitive)"
	}
	return fmt.Sprintf("tag 0x%02X", t)
}

// --- encoding ---

// node is an element to encode: either a complete encoding (raw), or an
// identifier with primitive contents or with children. Sizes are computed
// once, then everything is written into one buffer of the exact size.
type node struct {
	tag  byte
	raw  []byte // complete TLV when isRaw
	prim []byte // contents of a primitive element
	kids []*node
	cons bool
	n    int // contents length, set by size
	// isRaw marks raw as a complete encoding to copy.
	isRaw bool
}

func rawNode(tlv []byte) *node          { return &node{raw: tlv, isRaw: true} }
func primNode(tag byte, c []byte) *node { return &node{tag: tag, prim: c} }
func consNode(tag byte, kids ...*node) *node {
	return &node{tag: tag, kids: kids, cons: true}
}

func lengthLen(n int) int {
	switch {
	case n < 0x80:
		return 1
	case n < 0x100:
		return 2
	case n < 0x10000:
		return 3
	case n < 0x1000000:
		return 4
	}
	return 5
}

// size returns the encoded size of e, caching contents lengths.
func (e *node) size() int {
	if e.isRaw {
		return len(e.raw)
	}
	if e.cons {
		n := 0
		for _, k := range e.kids {
			n += k.size()
		}
		e.n = n
	} else {
		e.n = len(e.prim)
	}
	return 1 + lengthLen(e.n) + e.n
}

func appendLength(b []byte, n int) []byte {
	switch l := lengthLen(n); l {
	case 1:
		return append(b, byte(n))
	default:
		b = append(b, 0x80|byte(l-1))
		for i := l - 2; i >= 0; i-- {
			b = append(b, byte(n>>(8*i)))
		}
		return b
	}
}

// appendTo writes e; size must have been called.
func (e *node) appendTo(b []byte) []byte {
	if e.isRaw {
		return append(b, e.raw...)
	}
	b = append(b, e.tag)
	b = appendLength(b, e.n)
	if !e.cons {
		return append(b, e.prim...)
	}
	for _, k := range e.kids {
		b = k.appendTo(b)
	}
	return b
}

// encode returns the DER encoding of e.
func (e *node) encode() []byte {
	n := e.size()
	return e.appendTo(make([]byte, 0, n))
}

func intNode(v int64) *node {
	var b []byte
	for {
		b = append([]byte{byte(v)}, b...)
		v >>= 8
		if v == 0 {
			break
		}
	}
	if b[0]&0x80 != 0 {
		b = append([]byte{0}, b...)
	}
	return primNode(tagInteger, b)
}

func oidNode(oid []byte) *node { return primNode(tagOID, oid) }

// algNode is an AlgorithmIdentifier; params nil means absent.
func algNode(oid []byte, params *node) *node {
	if params == nil {
		return consNode(tagSequence, oidNode(oid))
	}
	return consNode(tagSequence, oidNode(oid), params)
}

var nullNode = primNode(tagNull, nil)

// setNode is a SET OF whose elements are sorted as DER requires.
func setNode(elems ...[]byte) *node {
	sorted := make([][]byte, len(elems))
	copy(sorted, elems)
	for i := 1; i < len(sorted); i++ {
		for j := i; j > 0 && bytes.Compare(sorted[j-1], sorted[j]) > 0; j-- {
			sorted[j-1], sorted[j] = sorted[j], sorted[j-1]
		}
	}
	kids := make([]*node, len(sorted))
	for i, e := range sorted {
		kids[i] = rawNode(e)
	}
	return consNode(tagSet, kids...)
}
