package der

// Java and OpenSSL read PKCS #12 files in BER, and some tools write them
// (indefinite lengths, OCTET STRINGs cut into constructed pieces). ToDER
// rewrites such input as DER for readers that parse DER only. DER input,
// the common case, is checked in one pass without allocating and returned
// as it is; BER input is rewritten into a buffer no larger than the input
// plus a few header octets.
//
// ToDER normalises the structure only: the contents of primitive elements
// are opaque (a certificate inside an OCTET STRING stays as written).

// ToDER returns the DER encoding of the BER element at the start of b and
// the number of input bytes it spans. If the element is already DER, the
// result is a subslice of b. Bytes after the element are not examined.
// Constructed elements nested more than maxDepth deep are refused; the
// work is linear in the input.
func ToDER(b []byte, maxDepth int) (der []byte, n int, err *Error) {
	z := &normaliser{in: b, maxDepth: maxDepth}
	end, ok, err := z.scan(0, len(b), 0)
	if err != nil {
		return nil, 0, err
	}
	if ok {
		return b[:end], end, nil
	}
	end, total, err := z.measure(0, len(b), 0)
	if err != nil {
		return nil, 0, err
	}
	out := make([]byte, 0, total)
	out, _ = z.emit(out, 0)
	if len(out) != total {
		return nil, 0, errorf(0, "expected to write the %d bytes measured, wrote %d (an internal error)", total, len(out))
	}
	return out, end, nil
}

// isStringTag reports whether a universal identifier octet (constructed
// bit cleared) names a string type, whose constructed BER form DER
// replaces by a primitive one.
func isStringTag(t byte) bool {
	switch t &^ 0x20 {
	case TagBitString, TagOctetString, TagUTF8String, 0x12, 0x13, 0x14, 0x15, 0x16, 0x19, 0x1A, 0x1B, 0x1C, TagBMPString:
		return true
	}
	return false
}

// isConstructedString reports whether h is a constructed string, which
// DER writes as a primitive one.
func isConstructedString(h Header) bool {
	return h.Constructed && h.TagLen == 1 && isStringTag(h.ID)
}

// normaliser rewrites BER as DER in two passes over the same traversal:
// measure records the contents length of every constructed element (in
// preorder) and emit writes the elements with those lengths.
type normaliser struct {
	in       []byte
	maxDepth int
	sizes    []int
	k        int // next entry of sizes during emit
}

// contents iterates over the children of the constructed element with
// header h, which ends before end, calling f with each child's position
// and the end it must not pass, and returns the end of the element.
func (z *normaliser) contents(h Header, end int, f func(pos, end int) (int, *Error)) (int, *Error) {
	limit := end
	if !h.Indefinite {
		limit = h.End()
	}
	i := h.ContentStart
	for {
		if h.Indefinite {
			if limit-i >= 2 && z.in[i] == 0 && z.in[i+1] == 0 {
				return i + 2, nil
			}
			if i >= limit {
				return 0, truncated(h.Start, "the end-of-contents octets of this indefinite-length element")
			}
		} else if i >= limit {
			return limit, nil
		}
		e, err := f(i, limit)
		if err != nil {
			return 0, err
		}
		i = e
	}
}

// scan walks the element at pos, which must end before end, and reports
// where it ends and whether it is already DER.
func (z *normaliser) scan(pos, end, depth int) (int, bool, *Error) {
	if depth > z.maxDepth {
		return 0, false, errDepth(pos, z.maxDepth)
	}
	h, err := ReadHeader(z.in, pos, end)
	if err != nil {
		return 0, false, err
	}
	ok := h.Minimal && !isConstructedString(h)
	if !h.Constructed {
		return h.End(), ok, nil
	}
	e, err := z.contents(h, end, func(i, limit int) (int, *Error) {
		e, kok, err := z.scan(i, limit, depth+1)
		if err != nil {
			return 0, err
		}
		ok = ok && kok
		return e, nil
	})
	return e, ok && err == nil, err
}

// measure returns the end of the element at pos in the input and its
// encoded size in DER.
func (z *normaliser) measure(pos, end, depth int) (int, int, *Error) {
	if depth > z.maxDepth {
		return 0, 0, errDepth(pos, z.maxDepth)
	}
	h, err := ReadHeader(z.in, pos, end)
	if err != nil {
		return 0, 0, err
	}
	if !h.Constructed {
		return h.End(), h.TagLen + LengthLen(h.Length) + h.Length, nil
	}
	slot := len(z.sizes)
	z.sizes = append(z.sizes, 0)
	str := isConstructedString(h)
	content := 0
	e, err := z.contents(h, end, func(i, limit int) (int, *Error) {
		var e, size int
		var err *Error
		if str {
			e, size, err = z.measureSegments(i, limit, depth+1, h.ID&^0x20)
		} else {
			e, size, err = z.measure(i, limit, depth+1)
		}
		if err != nil {
			return 0, err
		}
		content += size
		return e, nil
	})
	if err != nil {
		return 0, 0, err
	}
	if str && h.ID&^0x20 == TagBitString {
		content++ // the unused-bits octet of the joined string
	}
	z.sizes[slot] = content
	return e, h.TagLen + LengthLen(content) + content, nil
}

// measureSegments returns the end of a segment of a constructed string of
// type t and the number of contents octets it contributes (for a BIT
// STRING, without its unused-bits octet).
func (z *normaliser) measureSegments(pos, end, depth int, t byte) (int, int, *Error) {
	if depth > z.maxDepth {
		return 0, 0, errDepth(pos, z.maxDepth)
	}
	h, err := ReadHeader(z.in, pos, end)
	if err != nil {
		return 0, 0, err
	}
	if h.ID&^0x20 != t || h.TagLen != 1 {
		return 0, 0, errorf(pos, "expected an %s segment of the constructed %s, found %s", TagName(t), TagName(t), withArticle(TagName(h.ID)))
	}
	if !h.Constructed {
		n := h.Length
		if t == TagBitString {
			if n == 0 {
				return 0, 0, errorf(pos, "expected a BIT STRING segment that starts with its unused-bits octet, found an empty one")
			}
			n--
		}
		return h.End(), n, nil
	}
	total := 0
	e, err := z.contents(h, end, func(i, limit int) (int, *Error) {
		e, n, err := z.measureSegments(i, limit, depth+1, t)
		if err != nil {
			return 0, err
		}
		total += n
		return e, nil
	})
	return e, total, err
}

func withArticle(name string) string {
	switch name[0] {
	case 'A', 'E', 'I', 'O', 'U':
		return "an " + name
	}
	return "a " + name
}

// emit writes the element at pos in DER and returns the end of the
// element in the input. It follows measure's traversal, which validated
// the input.
func (z *normaliser) emit(out []byte, pos int) ([]byte, int) {
	h, _ := ReadHeader(z.in, pos, len(z.in))
	if !h.Constructed {
		out = append(out, z.in[pos:pos+h.TagLen]...)
		out = AppendLength(out, h.Length)
		return append(out, z.in[h.ContentStart:h.End()]...), h.End()
	}
	size := z.sizes[z.k]
	z.k++
	if isConstructedString(h) {
		t := h.ID &^ 0x20
		out = append(out, t)
		out = AppendLength(out, size)
		if t == TagBitString {
			unusedAt := len(out)
			out = append(out, 0)
			var unused byte
			out, end := z.emitSegments(out, h, &unused)
			out[unusedAt] = unused
			return out, end
		}
		return z.emitSegments(out, h, nil)
	}
	out = append(out, z.in[pos:pos+h.TagLen]...)
	out = AppendLength(out, size)
	i := h.ContentStart
	for !z.atEnd(i, h) {
		out, i = z.emit(out, i)
	}
	if h.Indefinite {
		return out, i + 2
	}
	return out, h.End()
}

// atEnd reports whether the contents of an element with header h end at i.
func (z *normaliser) atEnd(i int, h Header) bool {
	if h.Indefinite {
		return z.in[i] == 0 && z.in[i+1] == 0
	}
	return i >= h.End()
}

// emitSegments appends the contents of the primitive segments inside the
// constructed string with header h and returns the end of that string.
// For a BIT STRING it drops each segment's unused-bits octet and reports
// the last one in unused.
func (z *normaliser) emitSegments(out []byte, h Header, unused *byte) ([]byte, int) {
	i := h.ContentStart
	for !z.atEnd(i, h) {
		sh, _ := ReadHeader(z.in, i, len(z.in))
		if sh.Constructed {
			out, i = z.emitSegments(out, sh, unused)
			continue
		}
		c := z.in[sh.ContentStart:sh.End()]
		if unused != nil {
			*unused = c[0]
			c = c[1:]
		}
		out = append(out, c...)
		i = sh.End()
	}
	if h.Indefinite {
		return out, i + 2
	}
	return out, h.End()
}

// LengthLen returns the number of octets of the DER length n.
func LengthLen(n int) int {
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

// AppendLength appends the DER length octets of n to b.
func AppendLength(b []byte, n int) []byte {
	switch l := LengthLen(n); l {
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
