package der

import "fmt"

// Element locates one BER element (X.690 section 8.1) in its input,
// which ReadElement leaves as it is. Offsets index the input; for an
// indefinite length, ContentEnd is the start of the end-of-contents
// octets and End is after them.
type Element struct {
	Header
	ContentEnd, End int

	depth, maxDepth int
}

// ReadElement reads the BER element at in[off:end]. It accepts what BER
// allows and DER forbids (indefinite and non-minimal lengths, constructed
// strings) and checks every length against the bytes that remain before
// trusting it. Finding the end of an indefinite-length element means
// reading its children; indefinite-length elements nested more than
// maxDepth deep are refused, so the work is at most maxDepth times the
// input's length and the recursion is bounded. The children of the
// result are read with [Element.Children], at the same bound.
func ReadElement(in []byte, off, end, maxDepth int) (Element, *Error) {
	return readElement(in, off, end, 0, maxDepth)
}

func readElement(in []byte, off, end, depth, maxDepth int) (Element, *Error) {
	h, err := ReadHeader(in, off, end)
	if err != nil {
		return Element{}, err
	}
	e := Element{Header: h, depth: depth, maxDepth: maxDepth}
	if !h.Indefinite {
		e.ContentEnd, e.End = h.End(), h.End()
		return e, nil
	}
	if depth >= maxDepth {
		return Element{}, errDepth(off, maxDepth)
	}
	p := h.ContentStart
	for {
		if end-p >= 2 && in[p] == 0 && in[p+1] == 0 {
			e.ContentEnd, e.End = p, p+2
			return e, nil
		}
		if p >= end {
			return Element{}, truncated(off, "the end-of-contents octets of this indefinite-length element")
		}
		h, err := ReadHeader(in, p, end)
		if err != nil {
			return Element{}, err
		}
		if !h.Indefinite {
			p = h.End()
			continue
		}
		child, err := readElement(in, p, end, depth+1, maxDepth)
		if err != nil {
			return Element{}, err
		}
		p = child.End
	}
}

// Is reports whether e has the given class, tag number and form.
func (e Element) Is(class, tag int, constructed bool) bool {
	return e.Class == class && e.Tag == tag && e.Constructed == constructed
}

// Describe names e for messages, with an article: "a SEQUENCE", "a
// context-specific [0] element".
func (e Element) Describe() string {
	if e.Class == ClassUniversal {
		if n, ok := universalNames[e.Tag]; ok {
			return "a " + n
		}
	}
	classes := [...]string{"universal", "application", "context-specific", "private"}
	return fmt.Sprintf("a %s [%d] element", classes[e.Class&3], e.Tag)
}

var universalNames = map[int]string{1: "BOOLEAN", 2: "INTEGER", 3: "BIT STRING", 4: "OCTET STRING", 5: "NULL", 6: "OBJECT IDENTIFIER",
	12: "UTF8String", 16: "SEQUENCE", 17: "SET", 19: "PrintableString", 23: "UTCTime", 24: "GeneralizedTime"}

// Children returns a cursor over e's contents.
func (e Element) Children() Cursor {
	return Cursor{off: e.ContentStart, end: e.ContentEnd, depth: e.depth + 1, maxDepth: e.maxDepth}
}

// Cursor walks the elements of a constructed element's contents. The zero
// Cursor has no elements.
type Cursor struct{ off, end, depth, maxDepth int }

// More reports whether elements remain.
func (c *Cursor) More() bool { return c.off < c.end }

// Next reads the next element of in, the input the cursor's element was
// read from.
func (c *Cursor) Next(in []byte) (Element, *Error) {
	if c.off >= c.end {
		return Element{}, errorf(c.off, "expected another element, found the end of its enclosing element")
	}
	e, err := readElement(in, c.off, c.end, c.depth, c.maxDepth)
	if err != nil {
		return Element{}, err
	}
	c.off = e.End
	return e, nil
}
