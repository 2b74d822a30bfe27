package pkcs12

import "fmt"

// Java and OpenSSL read PKCS #12 files in BER, and some tools write them
// (indefinite lengths, OCTET STRINGs cut into constructed pieces). The
// parser reads DER only, so every level of the file (the PFX, the
// AuthenticatedSafe inside it, each SafeContents, each decrypted key) goes
// through toDER first. DER input, the common case, is checked in one pass
// without allocating and returned as it is; BER input is rewritten into a
// buffer no larger than the input plus a few header octets.
//
// toDER normalises the structure only: the contents of primitive elements
// are opaque (a certificate inside an OCTET STRING stays as written).

// maxDepth bounds the nesting of constructed elements. PKCS #12 needs
// about a dozen levels; the bound keeps hostile input from exhausting the
// stack.
const maxDepth = 64

// toDER returns the DER encoding of the BER element at the start of b and
// the number of input bytes it spans. If the element is already DER, the
// result is a subslice of b. Bytes after the element are not examined.
//
// base is the file offset of b[0] (or -1 if b is not a piece of the file)
// and field names what b holds; both are for errors.
func toDER(b []byte, base int64, field string) (der []byte, n int, err error) {
	end, ok, err := scanDER(b, 0, 0)
	if err == nil && ok {
		return b[:end], end, nil
	}
	if err == nil {
		z := &normaliser{in: b}
		var total int
		end, total, err = z.measure(0, 0)
		if err == nil {
			out := make([]byte, 0, total)
			out, _ = z.emit(out, 0)
			if len(out) != total {
				return nil, 0, fmt.Errorf("pkcs12: internal error: normalised %d bytes, measured %d", len(out), total)
			}
			return out, end, nil
		}
	}
	if fe, isFE := err.(*FormatError); isFE {
		fe.Field = field
		if base < 0 {
			fe.Offset = -1
		} else {
			fe.Offset += base
		}
	}
	return nil, 0, err
}

// berErr reports a problem at index pos of the input; toDER turns pos
// into a file offset and names the field.
func berErr(pos int, format string, args ...any) error {
	return &FormatError{Offset: int64(pos), Detail: fmt.Sprintf(format, args...)}
}

// isStringTag reports whether a universal identifier octet (constructed
// bit cleared) names a string type, whose constructed BER form DER
// replaces by a primitive one.
func isStringTag(t byte) bool {
	switch t &^ 0x20 {
	case tagBitString, tagOctetString, tagUTF8String, 0x12, 0x13, 0x14, 0x15, 0x16, 0x19, 0x1A, 0x1B, 0x1C, tagBMPString:
		return true
	}
	return false
}

// scanDER walks the element at b[pos:] and reports where it ends and
// whether it is already DER.
func scanDER(b []byte, pos, depth int) (end int, ok bool, err error) {
	if depth > maxDepth {
		return 0, false, berErr(pos, "nesting deeper than %d levels", maxDepth)
	}
	h, _, err := readHeader(b, pos)
	if err != nil {
		return 0, false, berErr(pos, "%v", err)
	}
	ok = h.minimal && !h.indefinite
	if h.constructed && isStringTag(b[pos]) && h.tagLen == 1 {
		ok = false
	}
	if !h.constructed {
		return h.end, ok, nil
	}
	i := h.contentStart
	for {
		if h.indefinite {
			if i+1 < len(b) && b[i] == 0 && b[i+1] == 0 {
				return i + 2, false, nil
			}
			if i >= len(b) {
				return 0, false, berErr(pos, "indefinite length without end-of-contents")
			}
		} else if i >= h.end {
			if i > h.end {
				return 0, false, berErr(pos, "contents overrun their length")
			}
			return h.end, ok, nil
		}
		limit := b
		if !h.indefinite {
			limit = b[:h.end]
		}
		e, kok, err := scanDER(limit, i, depth+1)
		if err != nil {
			return 0, false, err
		}
		ok = ok && kok
		i = e
	}
}

// normaliser rewrites BER as DER in two passes over the same traversal:
// measure records the contents length of every constructed element (in
// preorder) and emit writes the elements with those lengths.
type normaliser struct {
	in    []byte
	sizes []int
	k     int // next entry of sizes during emit
}

// measure returns the end of the element at pos in the input and its
// encoded size in DER.
func (z *normaliser) measure(pos, depth int) (end, total int, err error) {
	if depth > maxDepth {
		return 0, 0, berErr(pos, "nesting deeper than %d levels", maxDepth)
	}
	h, _, err := readHeader(z.in, pos)
	if err != nil {
		return 0, 0, berErr(pos, "%v", err)
	}
	if !h.constructed {
		return h.end, h.tagLen + lengthLen(h.length) + h.length, nil
	}
	slot := len(z.sizes)
	z.sizes = append(z.sizes, 0)
	str := isStringTag(z.in[pos]) && h.tagLen == 1
	content := 0
	end, err = z.children(pos, h, depth, func(i, d int) (int, int, error) {
		if str {
			return z.measureSegments(i, d, z.in[pos]&^0x20)
		}
		return z.measure(i, d)
	})
	if err != nil {
		return 0, 0, err
	}
	// children accumulated into z.sizes[slot] through the callback totals.
	content = z.sizes[slot]
	if str && z.in[pos]&^0x20 == tagBitString {
		content++ // the unused-bits octet of the joined string
	}
	z.sizes[slot] = content
	return end, h.tagLen + lengthLen(content) + content, nil
}

// children iterates over the children of the constructed element at pos
// with header h, adding each child's size (as returned by f) to the slot
// the caller reserved last, and returns the end of the element.
func (z *normaliser) children(pos int, h header, depth int, f func(i, depth int) (end, size int, err error)) (int, error) {
	slot := len(z.sizes) - 1
	i := h.contentStart
	for {
		if h.indefinite {
			if i+1 < len(z.in) && z.in[i] == 0 && z.in[i+1] == 0 {
				return i + 2, nil
			}
			if i >= len(z.in) {
				return 0, berErr(pos, "indefinite length without end-of-contents")
			}
		} else if i >= h.end {
			return h.end, nil
		}
		e, size, err := f(i, depth+1)
		if err != nil {
			return 0, err
		}
		if !h.indefinite && e > h.end {
			return 0, berErr(pos, "contents overrun their length")
		}
		z.sizes[slot] += size
		i = e
	}
}

// measureSegments returns the end of a segment of a constructed string of
// type t and the number of contents octets it contributes (for a BIT
// STRING, without its unused-bits octet).
func (z *normaliser) measureSegments(pos, depth int, t byte) (end, size int, err error) {
	if depth > maxDepth {
		return 0, 0, berErr(pos, "nesting deeper than %d levels", maxDepth)
	}
	h, _, err := readHeader(z.in, pos)
	if err != nil {
		return 0, 0, berErr(pos, "%v", err)
	}
	if z.in[pos]&^0x20 != t || h.tagLen != 1 {
		return 0, 0, berErr(pos, "segment of a constructed %s is a %s", tagName(t), tagName(z.in[pos]))
	}
	if !h.constructed {
		n := h.length
		if t == tagBitString {
			if n == 0 {
				return 0, 0, berErr(pos, "BIT STRING segment without its unused-bits octet")
			}
			n--
		}
		return h.end, n, nil
	}
	total := 0
	i := h.contentStart
	for {
		if h.indefinite {
			if i+1 < len(z.in) && z.in[i] == 0 && z.in[i+1] == 0 {
				return i + 2, total, nil
			}
			if i >= len(z.in) {
				return 0, 0, berErr(pos, "indefinite length without end-of-contents")
			}
		} else if i >= h.end {
			return h.end, total, nil
		}
		e, n, err := z.measureSegments(i, depth+1, t)
		if err != nil {
			return 0, 0, err
		}
		if !h.indefinite && e > h.end {
			return 0, 0, berErr(pos, "contents overrun their length")
		}
		total += n
		i = e
	}
}

// emit writes the element at pos in DER and returns the end of the
// element in the input. It follows measure's traversal, which validated
// the input.
func (z *normaliser) emit(out []byte, pos int) ([]byte, int) {
	h, _, _ := readHeader(z.in, pos)
	if !h.constructed {
		out = append(out, z.in[pos:pos+h.tagLen]...)
		out = appendLength(out, h.length)
		return append(out, z.in[h.contentStart:h.end]...), h.end
	}
	size := z.sizes[z.k]
	z.k++
	t := z.in[pos]
	if isStringTag(t) && h.tagLen == 1 {
		t &^= 0x20
		out = append(out, t)
		out = appendLength(out, size)
		if t == tagBitString {
			unusedAt := len(out)
			out = append(out, 0)
			var unused byte
			out, end := z.emitSegments(out, h, &unused)
			out[unusedAt] = unused
			return out, end
		}
		return z.emitSegments(out, h, nil)
	}
	out = append(out, z.in[pos:pos+h.tagLen]...)
	out = appendLength(out, size)
	i := h.contentStart
	for !z.atEnd(i, h) {
		out, i = z.emit(out, i)
	}
	if h.indefinite {
		return out, i + 2
	}
	return out, h.end
}

// atEnd reports whether the contents of an element with header h end at i.
func (z *normaliser) atEnd(i int, h header) bool {
	if h.indefinite {
		return z.in[i] == 0 && z.in[i+1] == 0
	}
	return i >= h.end
}

// emitSegments appends the contents of the primitive segments inside the
// constructed string with header h and returns the end of that string.
// For a BIT STRING it drops each segment's unused-bits octet and reports
// the last one in unused.
func (z *normaliser) emitSegments(out []byte, h header, unused *byte) ([]byte, int) {
	i := h.contentStart
	for !z.atEnd(i, h) {
		sh, _, _ := readHeader(z.in, i)
		if sh.constructed {
			out, i = z.emitSegments(out, sh, unused)
			continue
		}
		c := z.in[sh.contentStart:sh.end]
		if unused != nil {
			*unused = c[0]
			c = c[1:]
		}
		out = append(out, c...)
		i = sh.end
	}
	if h.indefinite {
		return out, i + 2
	}
	return out, h.end
}
