package pkcs12

import (
	"bytes"
	"crypto/cipher"
	"fmt"

	"github.com/certroll/certroll/keystore/internal/der"
)

// Identifier octets of the ASN.1 types PKCS #12 uses. Only low tag numbers
// occur in the structures the package interprets; elements it does not
// interpret are copied as they are, whatever their tag.
const (
	tagInteger     = der.TagInteger
	tagBitString   = der.TagBitString
	tagOctetString = der.TagOctetString
	tagNull        = der.TagNull
	tagOID         = der.TagOID
	tagUTF8String  = der.TagUTF8String
	tagBMPString   = der.TagBMPString
	tagSequence    = der.TagSequence
	tagSet         = der.TagSet
	tagExplicit0   = der.TagExplicit0
	tagImplicit0   = der.TagImplicit0
)

// parser reads DER elements one after another from b. Offsets in its
// errors are file offsets when base is known (>= 0): the slice is then a
// piece of the input file, unchanged.
type parser struct {
	b     []byte
	pos   int
	base  int64  // file offset of b[0], or -1 when b is not a piece of the file
	field string // what b holds, for errors
	rel   int    // within a SafeBag (parseBag): the index of b[0] in the bag's encoding
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
	return parser{b: content, base: base, field: field, rel: p.rel + off}
}

// contentSpan returns where the contents of e, an element read by p,
// are in the SafeBag p reads (see parser.rel).
func (p *parser) contentSpan(e element) span {
	return span{uint32(p.rel + e.coff), uint32(p.rel + e.coff + len(e.content))}
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

// next reads the next element, whatever its tag, with [der.Read].
func (p *parser) next(field string) (element, error) {
	var e element
	if p.fast(&e) {
		return e, nil
	}
	t, err := der.Read(p.b, p.pos)
	if err != nil {
		return element{}, p.errAt(err.Offset, field, "%s", err.Detail)
	}
	p.pos = t.Start + len(t.Full)
	return element{tag: t.Tag, full: t.Full, content: t.Content, off: t.Start, coff: t.ContentStart}, nil
}

// fast reads the next element if it is in the form nearly every element
// of a file has, a low tag number and a minimal definite length of at
// most four octets, which [der.Read] accepts as it is; ok is false
// otherwise, and next leaves the element to der.Read. A file has tens of
// elements per bag: this is the parser's hot path.
func (p *parser) fast(e *element) bool {
	b, off := p.b, p.pos
	tag, coff, end, ok := header(b, off)
	if !ok {
		return false
	}
	p.pos = end
	*e = element{tag: tag, full: b[off:end:end], content: b[coff:end:end], off: off, coff: coff}
	return true
}

// header reads the identifier and length of the element at b[off:] in
// the form [parser.fast] reads and returns the index of its contents and
// of its end; ok is false for any other form, or if it does not fit.
func header(b []byte, off int) (tag byte, coff, end int, ok bool) {
	if off < 0 || len(b)-off < 2 || b[off]&0x1f == 0x1f {
		return 0, 0, 0, false
	}
	n, hl := int(b[off+1]), 2
	if n >= 0x80 {
		ll := n & 0x7f
		if ll == 0 || ll > 4 || len(b)-off < 2+ll || b[off+2] == 0 {
			return 0, 0, 0, false
		}
		n = 0
		for _, c := range b[off+2 : off+2+ll] {
			n = n<<8 | int(c)
		}
		if n < 0x80 {
			return 0, 0, 0, false
		}
		hl = 2 + ll
	}
	if n > len(b)-off-hl {
		return 0, 0, 0, false
	}
	return b[off], off + hl, off + hl + n, true
}

// expect reads the next element and checks that its identifier is tag.
func (p *parser) expect(tag byte, field string) (element, error) {
	var e element
	if p.pos < len(p.b) && p.b[p.pos] == tag && p.fast(&e) {
		return e, nil
	}
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
	var e element
	if p.pos < len(p.b) && p.b[p.pos] == tag && p.fast(&e) {
		return p.sub(e.content, e.coff, field), nil
	}
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

// tagName names an identifier octet for messages.
func tagName(t byte) string { return der.TagName(t) }

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
	// raws are further children of a constructed element, given as
	// their encodings (a SafeContents' bags): no node each.
	raws [][]byte
	// seal makes a primitive element whose contents are the SEQUENCE
	// of raws, padded and encrypted where it is written.
	seal *sealing
}

// sealing is the block cipher and IV of a sealed node; plain is the
// length of the SEQUENCE it encrypts, set by size.
type sealing struct {
	b     cipher.Block
	iv    []byte
	plain int
}

// rawsLen is the total length of raws.
func rawsLen(raws [][]byte) int {
	n := 0
	for _, r := range raws {
		n += len(r)
	}
	return n
}

func rawNode(tlv []byte) *node          { return &node{raw: tlv, isRaw: true} }
func primNode(tag byte, c []byte) *node { return &node{tag: tag, prim: c} }
func consNode(tag byte, kids ...*node) *node {
	return &node{tag: tag, kids: kids, cons: true}
}

// size returns the encoded size of e, caching contents lengths.
func (e *node) size() int {
	if e.isRaw {
		return len(e.raw)
	}
	switch {
	case e.seal != nil:
		r := rawsLen(e.raws)
		e.seal.plain = 1 + der.LengthLen(r) + r
		bs := e.seal.b.BlockSize()
		e.n = e.seal.plain + bs - e.seal.plain%bs
	case e.cons:
		n := rawsLen(e.raws)
		for _, k := range e.kids {
			n += k.size()
		}
		e.n = n
	default:
		// Not stored: shared nodes (nullNode) are primitive, and
		// encodings run concurrently.
		return 1 + der.LengthLen(len(e.prim)) + len(e.prim)
	}
	return 1 + der.LengthLen(e.n) + e.n
}

// appendTo writes e; size must have been called.
func (e *node) appendTo(b []byte) []byte {
	if e.isRaw {
		return append(b, e.raw...)
	}
	b = append(b, e.tag)
	if !e.cons && e.seal == nil {
		b = der.AppendLength(b, len(e.prim))
		return append(b, e.prim...)
	}
	b = der.AppendLength(b, e.n)
	if e.seal != nil {
		// PKCS #7 padding, then CBC in place.
		start := len(b)
		b = append(b, tagSequence)
		b = der.AppendLength(b, rawsLen(e.raws))
		for _, r := range e.raws {
			b = append(b, r...)
		}
		pad := e.n - e.seal.plain
		for range pad {
			b = append(b, byte(pad))
		}
		cipher.NewCBCEncrypter(e.seal.b, e.seal.iv).CryptBlocks(b[start:], b[start:])
		return b
	}
	if !e.cons {
		return append(b, e.prim...)
	}
	for _, k := range e.kids {
		b = k.appendTo(b)
	}
	for _, r := range e.raws {
		b = append(b, r...)
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
