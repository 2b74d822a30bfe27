// Package jksguard walks the structure of a JKS keystore without trusting
// any length or count in it.
//
// JKS decoders that read a length field and then allocate that many bytes
// (keystore-go among them) can be made to allocate gigabytes by a file of a
// few dozen bytes. [Walk] checks every length and count against the bytes
// that remain before anything else reads the file, and records where each
// field lies, so that a decoder that runs after a successful Walk reads
// only inside the input and allocates at most what the input holds.
//
// # Format
//
// All integers are big-endian.
//
//	uint32 magic 0xFEEDFEED
//	uint32 version (1 or 2)
//	uint32 entry count
//	entries:
//	    uint32 tag (1 private key, 2 trusted certificate; 3 is a JCEKS secret key)
//	    uint16 alias length, alias (Java modified UTF-8)
//	    uint64 creation time (milliseconds since 1970)
//	    tag 1: uint32 key length, key (EncryptedPrivateKeyInfo),
//	           uint32 certificate count, certificates (a count of 0 is
//	           what keytool lists as a SecretKeyEntry)
//	    tag 2: one certificate
//	    certificate: (version 2 only) uint16 type length, type ("X.509"),
//	                 uint32 length, DER
//	20-byte SHA-1 digest of the password (UTF-16BE), "Mighty Aphrodite" and
//	everything before the digest
//
// Bytes after the digest are ignored, as the JDK ignores them.
package jksguard

import (
	"encoding/binary"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// Magic is the first four bytes of a JKS file.
const Magic = 0xFEEDFEED

// DigestSize is the size of the SHA-1 digest that ends a JKS file.
const DigestSize = 20

// Entry tags.
const (
	TagPrivateKey  = 1
	TagTrustedCert = 2
	// TagSecretKey marks a secret-key entry, which only JCEKS keystores
	// hold; the JDK's JKS reader rejects it.
	TagSecretKey = 3
)

// headerSize is magic, version and entry count.
const headerSize = 12

// Minimum sizes, used to bound counts before anything is allocated: an
// entry is at least a tag, an alias length and a creation time followed by
// a certificate with an empty type and body (a key entry, with an empty
// key and no certificates, is larger).
const (
	minEntryFixed = 4 + 2 + 8
	minCertV1     = 4
	minCertV2     = 2 + 4
)

// A Cert is one certificate of an entry.
type Cert struct {
	// Type is the certificate type as written ("X.509"), or nil in a
	// version 1 file, which has no type field (the type is X.509);
	// TypeOffset is where it starts.
	Type       []byte
	TypeOffset int
	// Offset is where the DER encoding starts in the input.
	Offset int
	// DER is the certificate's encoding, a sub-slice of the input.
	DER []byte
}

// An Entry is one keystore entry as it lies in the input. Slices are
// sub-slices of the input; nothing is copied.
type Entry struct {
	// Tag is TagPrivateKey or TagTrustedCert.
	Tag uint32
	// Start and End delimit the entry's bytes in the input, tag included.
	Start, End int
	// Alias is the alias as written (Java modified UTF-8, valid: Walk
	// checks it); AliasOffset is where it starts.
	Alias       []byte
	AliasOffset int
	// Created is the creation time in milliseconds since 1970-01-01 UTC.
	Created int64
	// Key is the encrypted private key of a key entry and KeyOffset where
	// it starts; both are zero for a trusted entry.
	Key       []byte
	KeyOffset int
	// Certs is the key entry's chain (leaf first) or the trusted entry's
	// one certificate.
	Certs []Cert
}

// A File is the structure of a JKS file.
type File struct {
	// Version is 1 or 2.
	Version uint32
	// Entries in file order (nil from [Scan]). An alias may occur more
	// than once.
	Entries []Entry
	// Count is the number of entries.
	Count int
	// DigestOffset is where the 20-byte digest starts; the digest covers
	// everything before it.
	DigestOffset int
	// Trailing is the number of bytes after the digest.
	Trailing int
}

// An Error says where and why a walk stopped.
type Error struct {
	Offset int64  // where the offending field starts
	Field  string // the field, such as "certificate length"
	Detail string // what was expected and what was found
	// SecretKey is set when the walk stopped at a secret-key entry
	// (tag 3), which JKS cannot hold: the file is a JCEKS store with the
	// wrong magic, or was written by a tool that does not follow the format.
	SecretKey bool
	// Alias is the alias of the secret-key entry, when SecretKey is set.
	Alias string
}

func (e *Error) Error() string {
	return fmt.Sprintf("jksguard: %s at offset %d: %s", e.Field, e.Offset, e.Detail)
}

// walker reads the input front to back; end is where the digest must
// start at the latest, so every check against end leaves room for it.
type walker struct {
	data []byte
	pos  int
	end  int
}

func (w *walker) fail(off int, field, format string, args ...any) *Error {
	return &Error{Offset: int64(off), Field: field, Detail: fmt.Sprintf(format, args...)}
}

// need checks that n more bytes lie before the digest.
func (w *walker) need(n uint64, field string) error {
	if left := uint64(w.end - w.pos); n > left {
		return w.fail(w.pos, field, "want %d bytes, %d remain before the 20-byte digest", n, left)
	}
	return nil
}

func (w *walker) u16(field string) (uint16, error) {
	if err := w.need(2, field); err != nil {
		return 0, err
	}
	v := binary.BigEndian.Uint16(w.data[w.pos:])
	w.pos += 2
	return v, nil
}

func (w *walker) u32(field string) (uint32, error) {
	if err := w.need(4, field); err != nil {
		return 0, err
	}
	v := binary.BigEndian.Uint32(w.data[w.pos:])
	w.pos += 4
	return v, nil
}

func (w *walker) u64(field string) (uint64, error) {
	if err := w.need(8, field); err != nil {
		return 0, err
	}
	v := binary.BigEndian.Uint64(w.data[w.pos:])
	w.pos += 8
	return v, nil
}

// bytes returns the next n bytes, whose length field started at lenOff.
func (w *walker) bytes(n uint64, lenOff int, field string) ([]byte, error) {
	if left := uint64(w.end - w.pos); n > left {
		return nil, w.fail(lenOff, field+" length", "%s claims %d bytes, %d remain before the 20-byte digest", field, n, left)
	}
	b := w.data[w.pos : w.pos+int(n)]
	w.pos += int(n)
	return b, nil
}

// Walk checks the structure of a JKS file and returns where its parts lie.
// It does not check the digest (that needs the password). It allocates
// the entry and certificate tables only, each bounded by the input's size.
// An error is an [*Error].
func Walk(data []byte) (*File, error) {
	var (
		entries []Entry
		certs   []Cert
	)
	type span struct{ from, to int }
	var spans []span
	f, err := Scan(data, func(e *Entry) error {
		if entries == nil {
			entries = make([]Entry, 0, 16)
		}
		from := len(certs)
		certs = append(certs, e.Certs...)
		c := *e
		c.Certs = nil
		entries = append(entries, c)
		spans = append(spans, span{from, len(certs)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Entries point into the certificate table once it has stopped growing.
	for i, s := range spans {
		entries[i].Certs = certs[s.from:s.to:s.to]
	}
	f.Entries = entries
	return f, nil
}

// Scan checks the structure of a JKS file as [Walk] does, but hands each
// entry to fn as it is read instead of building a table: fn's *Entry and
// its Certs are reused for the next entry, so fn must copy what it keeps
// (the slices into data stay valid). Scan allocates nothing per entry, so
// a decoder built on it costs what it keeps. The File it returns has no
// Entries; Count says how many there were. An error from fn stops the scan
// and is returned as is; any other error is an [*Error].
func Scan(data []byte, fn func(*Entry) error) (*File, error) {
	if len(data) < headerSize+DigestSize {
		return nil, &Error{Offset: 0, Field: "file",
			Detail: fmt.Sprintf("want at least %d bytes (header and digest), got %d", headerSize+DigestSize, len(data))}
	}
	w := &walker{data: data, end: len(data) - DigestSize}
	if m, _ := w.u32("magic"); m != Magic {
		return nil, w.fail(0, "magic", "want 0xFEEDFEED, got 0x%08X", m)
	}
	version, _ := w.u32("version")
	if version != 1 && version != 2 {
		return nil, w.fail(4, "version", "want 1 or 2, got %d", version)
	}
	count, _ := w.u32("entry count")
	minEntry := uint64(minEntryFixed + minCertV2)
	minCert := uint64(minCertV2)
	if version == 1 {
		minEntry, minCert = minEntryFixed+minCertV1, minCertV1
	}
	if left := uint64(w.end - w.pos); uint64(count)*minEntry > left {
		return nil, w.fail(8, "entry count", "%d entries need at least %d bytes, %d remain before the 20-byte digest",
			count, uint64(count)*minEntry, left)
	}
	f := &File{Version: version, Count: int(count)}
	// One entry and one certificate list, reused: a chain longer than
	// the buffer grows it (bounded by the input over the minimum
	// certificate size).
	var e Entry
	certs := make([]Cert, 0, 4)
	for i := uint32(0); i < count; i++ {
		e = Entry{Start: w.pos}
		certs = certs[:0]
		tagOff := w.pos
		tag, err := w.u32("entry tag")
		if err != nil {
			return nil, err
		}
		e.Tag = tag
		if tag != TagPrivateKey && tag != TagTrustedCert && tag != TagSecretKey {
			return nil, w.fail(tagOff, "entry tag", "entry %d: want 1 (private key) or 2 (trusted certificate), got %d", i+1, tag)
		}
		lenOff := w.pos
		n, err := w.u16("alias length")
		if err != nil {
			return nil, err
		}
		e.AliasOffset = w.pos
		if e.Alias, err = w.bytes(uint64(n), lenOff, "alias"); err != nil {
			return nil, err
		}
		if off, err := CheckModifiedUTF8(e.Alias); err != nil {
			return nil, w.fail(e.AliasOffset+off, "alias", "entry %d: %v", i+1, err)
		}
		if tag == TagSecretKey {
			alias := DecodeModifiedUTF8(e.Alias)
			err := w.fail(tagOff, "entry tag", "entry %d (alias %q) is a secret-key entry (tag 3), which only JCEKS keystores hold", i+1, alias)
			err.SecretKey, err.Alias = true, alias
			return nil, err
		}
		created, err := w.u64("creation time")
		if err != nil {
			return nil, err
		}
		e.Created = int64(created)
		if tag == TagPrivateKey {
			lenOff := w.pos
			n, err := w.u32("key length")
			if err != nil {
				return nil, err
			}
			e.KeyOffset = w.pos
			if e.Key, err = w.bytes(uint64(n), lenOff, "key"); err != nil {
				return nil, err
			}
			countOff := w.pos
			nc, err := w.u32("certificate count")
			if err != nil {
				return nil, err
			}
			if left := uint64(w.end - w.pos); uint64(nc)*minCert > left {
				return nil, w.fail(countOff, "certificate count", "%d certificates need at least %d bytes, %d remain before the 20-byte digest",
					nc, uint64(nc)*minCert, left)
			}
			for j := uint32(0); j < nc; j++ {
				c, err := w.cert(version)
				if err != nil {
					return nil, err
				}
				certs = append(certs, c)
			}
		} else {
			c, err := w.cert(version)
			if err != nil {
				return nil, err
			}
			certs = append(certs, c)
		}
		e.End = w.pos
		e.Certs = certs
		if err := fn(&e); err != nil {
			return nil, err
		}
	}
	f.DigestOffset = w.pos
	f.Trailing = len(data) - w.pos - DigestSize
	return f, nil
}

func (w *walker) cert(version uint32) (Cert, error) {
	var c Cert
	if version == 2 {
		lenOff := w.pos
		n, err := w.u16("certificate type length")
		if err != nil {
			return c, err
		}
		c.TypeOffset = w.pos
		if c.Type, err = w.bytes(uint64(n), lenOff, "certificate type"); err != nil {
			return c, err
		}
	}
	lenOff := w.pos
	n, err := w.u32("certificate length")
	if err != nil {
		return c, err
	}
	c.Offset = w.pos
	c.DER, err = w.bytes(uint64(n), lenOff, "certificate")
	return c, err
}

// CheckModifiedUTF8 reports whether b is valid Java modified UTF-8 as
// DataInputStream.readUTF accepts it, and if not, the offset of the first
// bad byte.
func CheckModifiedUTF8(b []byte) (int, error) {
	for i := 0; i < len(b); {
		c := b[i]
		switch c >> 4 {
		case 0, 1, 2, 3, 4, 5, 6, 7:
			i++
		case 12, 13:
			if i+1 >= len(b) {
				return i, fmt.Errorf("want modified UTF-8, got a truncated 2-byte sequence at the end")
			}
			if b[i+1]&0xC0 != 0x80 {
				return i + 1, fmt.Errorf("want modified UTF-8, got 0x%02X after lead byte 0x%02X", b[i+1], c)
			}
			i += 2
		case 14:
			if i+2 >= len(b) {
				return i, fmt.Errorf("want modified UTF-8, got a truncated 3-byte sequence at the end")
			}
			if b[i+1]&0xC0 != 0x80 || b[i+2]&0xC0 != 0x80 {
				return i + 1, fmt.Errorf("want modified UTF-8, got 0x%02X 0x%02X after lead byte 0x%02X", b[i+1], b[i+2], c)
			}
			i += 3
		default:
			return i, fmt.Errorf("want modified UTF-8, got byte 0x%02X", c)
		}
	}
	return 0, nil
}

// DecodeModifiedUTF8 decodes Java modified UTF-8 (as checked by
// [CheckModifiedUTF8]) into a Go string. Surrogate pairs become one
// character; a lone surrogate, which a Go string cannot hold, becomes
// U+FFFD. Invalid input decodes to U+FFFD where it is invalid.
func DecodeModifiedUTF8(b []byte) string {
	ascii := true
	for _, c := range b {
		if c == 0 || c >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return string(b)
	}
	units := make([]uint16, 0, len(b))
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c < 0x80:
			units = append(units, uint16(c))
			i++
		case c>>5 == 6 && i+1 < len(b) && b[i+1]&0xC0 == 0x80:
			units = append(units, uint16(c&0x1F)<<6|uint16(b[i+1]&0x3F))
			i += 2
		case c>>4 == 14 && i+2 < len(b) && b[i+1]&0xC0 == 0x80 && b[i+2]&0xC0 == 0x80:
			units = append(units, uint16(c&0x0F)<<12|uint16(b[i+1]&0x3F)<<6|uint16(b[i+2]&0x3F))
			i += 3
		default:
			units = append(units, utf8.RuneError)
			i++
		}
	}
	return string(utf16.Decode(units))
}

// AppendModifiedUTF8 appends s, encoded as Java's DataOutputStream.writeUTF
// encodes it, to dst: U+0000 as two bytes, characters above U+FFFF as a
// surrogate pair of three bytes each. Invalid UTF-8 in s is encoded as
// U+FFFD.
func AppendModifiedUTF8(dst []byte, s string) []byte {
	for _, r := range s {
		if r > 0xFFFF {
			hi, lo := utf16.EncodeRune(r)
			dst = appendUnit(appendUnit(dst, uint16(hi)), uint16(lo))
			continue
		}
		dst = appendUnit(dst, uint16(r))
	}
	return dst
}

// appendUnit appends one UTF-16 code unit in modified UTF-8.
func appendUnit(dst []byte, u uint16) []byte {
	switch {
	case u >= 1 && u <= 0x7F:
		return append(dst, byte(u))
	case u <= 0x7FF:
		return append(dst, 0xC0|byte(u>>6), 0x80|byte(u&0x3F))
	default:
		return append(dst, 0xE0|byte(u>>12), 0x80|byte(u>>6&0x3F), 0x80|byte(u&0x3F))
	}
}
