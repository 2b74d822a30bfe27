package pkcs12

import "github.com/certroll/certroll/keystore/internal/der"

// Java and OpenSSL read PKCS #12 files in BER, and some tools write them.
// The parser reads DER only, so every level of the file (the PFX, the
// AuthenticatedSafe inside it, each SafeContents, each decrypted key) that
// is not DER already goes through toDER first (see asDER).

// maxDepth bounds the nesting of constructed elements. PKCS #12 needs
// about a dozen levels; the bound keeps hostile input from exhausting the
// stack.
const maxDepth = 64

// toDER returns the DER encoding of the BER element at the start of b and
// the number of input bytes it spans (see [der.ToDER]).
//
// base is the file offset of b[0] (or -1 if b is not a piece of the file)
// and field names what b holds; both are for errors.
func toDER(b []byte, base int64, field string) ([]byte, int, error) {
	out, n, err := der.ToDER(b, maxDepth)
	if err != nil {
		return nil, 0, formatError(err, base, field)
	}
	return out, n, nil
}

// formatError turns a syntax error in b, whose first byte is at file
// offset base (or -1), into a *FormatError naming field.
func formatError(err *der.Error, base int64, field string) *FormatError {
	off := int64(-1)
	if base >= 0 {
		off = base + int64(err.Offset)
	}
	return &FormatError{Offset: off, Field: field, Detail: err.Detail}
}
