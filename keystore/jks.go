package keystore

// The JKS codec (what it reads and how is in the package documentation,
// under "Reading JKS"). A file is first walked by internal/jksguard, which
// checks every length and count against the input and says where each
// field lies; the codec then checks the integrity digest and keeps each
// entry as a byte range of (a copy of) the file, with its certificates as
// sub-slices of it.
//
// The key protection is the JDK's (sun.security.provider.KeyProtector):
// a 20-byte salt, the PKCS #8 key XORed with a SHA-1 key stream derived
// from the password and the salt, and a SHA-1 check value of the password
// and the plain key; the file's digest is SHA-1 over the password, the
// words "Mighty Aphrodite" and everything before the digest. Passwords are
// hashed as UTF-16BE characters, two bytes each.

import (
	"bytes"
	"crypto"
	"crypto/sha1"
	"crypto/subtle"
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/certroll/certroll/keystore/internal/der"
	"github.com/certroll/certroll/keystore/internal/jksguard"
)

// jksCertType is the certificate type the JDK writes in version 2 files.
const jksCertType = "X.509"

// jksKeyProtectorOID is the JDK's proprietary key protection algorithm
// (sun.security.provider.KeyProtector), the only one JKS uses.
var jksKeyProtectorOID = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 42, 2, 17, 1, 1}

// jksSaltSize and jksCheckSize are the sizes of the key protector's salt
// and check value (both SHA-1 sized).
const (
	jksSaltSize  = 20
	jksCheckSize = sha1.Size
)

// jksMinProtectedKey is the shortest protected key: a 20-byte salt and a
// 20-byte SHA-1 check value around the encrypted PKCS #8 bytes.
const jksMinProtectedKey = jksSaltSize + jksCheckSize

// jksWhitener is what the JDK hashes between the password and the file's
// contents for the integrity digest.
const jksWhitener = "Mighty Aphrodite"

// jksCodec reads and writes JKS files.
type jksCodec struct {
	// data is the file read (Open's buffer) or a copy of it (Parse's),
	// up to and with its digest (nil for a new store): untouched entries
	// are written back from it. It is never written to.
	data []byte
	// version is the version of the file read (1 or 2).
	version uint32
}

// jksNative is what a record read from a JKS file keeps: where its entry
// and its protected key lie in the codec's copy of the file.
type jksNative struct {
	codec          *jksCodec
	start, end     int // the entry, tag included
	keyOff, keyEnd int // the protected key of a key entry
}

func newJKSCodec() codec { return &jksCodec{version: 2} }

// jksPassword converts a UTF-8 password to the bytes the JDK hashes: the
// password's UTF-16 code units (a character above U+FFFF is a surrogate
// pair, as in Java's char[]), each as two bytes, high byte first. Only
// invalid UTF-8 is refused (ErrPasswordEncoding); what names the password
// in errors ("JKS password", "JKS key password of alias ...").
func jksPassword(password []byte, what string) ([]byte, error) {
	out := make([]byte, 0, 2*len(password))
	for i := 0; i < len(password); {
		r, n := utf8.DecodeRune(password[i:])
		if r == utf8.RuneError && n <= 1 {
			return nil, fmt.Errorf("%w: %s is not valid UTF-8 (byte %d of %d)", ErrPasswordEncoding, what, i+1, len(password))
		}
		if r > 0xFFFF {
			hi, lo := utf16.EncodeRune(r)
			out = append(out, byte(hi>>8), byte(hi), byte(lo>>8), byte(lo))
		} else {
			out = append(out, byte(r>>8), byte(r))
		}
		i += n
	}
	return out, nil
}

func jksZero(b []byte) {
	for i := range b {
		b[i] = 0
	}
}

// jksMalformed turns a walk error into the package's errors.
func jksMalformed(err error) error {
	var ge *jksguard.Error
	if !errors.As(err, &ge) {
		return err // an error of the scan's callback, already the package's
	}
	if ge.SecretKey {
		return fmt.Errorf("%w: JKS entry %q at offset %d is a JCEKS sealed secret key (tag 3); JKS holds only key and trusted-certificate entries "+
			"(secret keys need JCEKS or PKCS#12, and the JDK's JKS reader rejects this file too)", ErrUnsupportedFormat, ge.Alias, ge.Offset)
	}
	return &MalformedError{Index: -1, Format: JKS, Offset: ge.Offset, Field: ge.Field, detail: ge.Detail}
}

// jksCheckDigest checks the integrity digest at offset digest of a JKS
// file data under password. Everything after the digest is left out: the
// JDK ignores it too.
func jksCheckDigest(data []byte, digest int, password []byte) error {
	pw, err := jksPassword(password, "JKS password")
	if err != nil {
		return err
	}
	defer jksZero(pw)
	if subtle.ConstantTimeCompare(jksFileDigest(pw, data[:digest]), data[digest:digest+jksguard.DigestSize]) != 1 {
		return fmt.Errorf("%w (the JKS integrity digest at offset %d does not match)", ErrIncorrectPassword, digest)
	}
	return nil
}

// jksFileDigest returns the JDK's integrity digest of body under the password
// bytes pw (as jksPassword returns them).
func jksFileDigest(pw, body []byte) []byte {
	h := sha1.New()
	h.Write(pw)
	h.Write([]byte(jksWhitener))
	h.Write(body)
	return h.Sum(nil)
}

// jksCheckCertType reports a certificate type the JDK would not read.
func jksCheckCertType(e *jksguard.Entry) error {
	for _, cert := range e.Certs {
		// The JDK reads certificates with CertificateFactory.getInstance(type),
		// whose algorithm names ignore case; "X509" is an alias of "X.509".
		if cert.Type != nil && !strings.EqualFold(string(cert.Type), "X.509") && !strings.EqualFold(string(cert.Type), "X509") {
			return &MalformedError{Index: -1, Format: JKS, Offset: int64(cert.TypeOffset), Field: "certificate type",
				detail: fmt.Sprintf("alias %q: want \"X.509\", got %q", jksguard.DecodeModifiedUTF8(e.Alias), cert.Type)}
		}
	}
	return nil
}

// parseJKS decodes a JKS file. Records are in file order; when an alias
// occurs more than once (ignoring case) the last entry wins, as in Java,
// and the store's index is built here.
//
// owned says whether the store may keep data itself (Open's buffer, which
// nobody else holds) or must keep a copy (Parse's caller keeps its bytes
// and may change them). Either way the entries are byte ranges of what is
// kept: a store of n entries costs the file (or its copy) and about 270
// bytes an entry.
//
// The file is walked once: the guard checks every length and count as it
// goes, records are filled from blocks that double as entries are walked
// (so a file that claims more entries than it holds costs what was
// walked), and the integrity digest is computed over each stretch of
// entries just walked, while it is in the cache. A structural error is
// reported before a wrong password, as the digest is compared only once
// the walk is through; Parse's copy is made only after both.
func parseJKS(data, password []byte, o options, owned bool) (*Store, error) {
	pw, pwErr := jksPassword(password, "JKS password")
	defer jksZero(pw)
	keep := data // walked here, and copied below if the caller owns it
	c := &jksCodec{data: keep, version: 2}
	h := sha1.New()
	h.Write(pw)
	h.Write([]byte(jksWhitener))
	hashed := 0
	var (
		count int       // the header's entry count
		slots []jksSlot // the current block of records
		ders  [][]byte  // the current block of certificate slices
		recs  []*record // the records, in file order
		// The aliases in plain ASCII (nearly all), one after another,
		// become one string, of which each record's alias is a part;
		// alens holds their lengths.
		names strings.Builder
		alens []uint16
	)
	f, err := jksguard.Scan(keep, func(e *jksguard.Entry) error {
		if err := jksCheckCertType(e); err != nil {
			return err
		}
		i := len(recs)
		if recs == nil {
			// The first entry: the count has been checked against the
			// input's size (at least 20 bytes an entry).
			count = int(binary.BigEndian.Uint32(keep[8:]))
			recs = make([]*record, 0, count)
			alens = make([]uint16, 0, count)
		}
		if len(slots) == cap(slots) {
			slots = make([]jksSlot, 0, jksBlock(i, count))
		}
		slots = slots[:len(slots)+1]
		sl := &slots[len(slots)-1]
		r, nat := &sl.rec, &sl.nat
		k := len(e.Certs)
		if cap(ders)-len(ders) < k {
			ders = make([][]byte, 0, max(k, jksBlock(i, count)+jksChainSlack))
		}
		der := ders[len(ders) : len(ders)+k : len(ders)+k]
		ders = ders[:len(ders)+k]
		for j := range e.Certs {
			der[j] = e.Certs[j].DER
		}
		if i == jksFirstBlock {
			// Room for the rest of the aliases, at the average length so
			// far (and no more than the bytes left), rather than growing
			// by doubling: the string is kept, the growth's copies not.
			names.Grow(min(names.Len()/i*(count-i)*9/8+64, len(keep)-e.End))
		}
		var alias string // set below for a plain ASCII alias
		if jksASCII(e.Alias) {
			names.Write(e.Alias)
		} else {
			alias = jksguard.DecodeModifiedUTF8(e.Alias)
		}
		alens = append(alens, uint16(len(e.Alias)))
		*r = record{alias: alias, created: time.UnixMilli(e.Created), chainDER: der, native: nat}
		*nat = jksNative{codec: c, start: e.Start, end: e.End}
		switch {
		case e.Tag == jksguard.TagTrustedCert:
			r.kind = TrustedEntry
		case k == 0:
			// The JDK counts a key entry without a certificate as a
			// secret-key entry (KeyStoreSpi.engineEntryInstanceOf), and
			// keytool lists it so.
			r.kind = SecretKeyEntry
			nat.keyOff, nat.keyEnd = e.KeyOffset, e.KeyOffset+len(e.Key)
		default:
			r.kind = KeyEntry
			nat.keyOff, nat.keyEnd = e.KeyOffset, e.KeyOffset+len(e.Key)
		}
		recs = append(recs, r)
		if e.End-hashed >= jksHashChunk && pwErr == nil {
			h.Write(keep[hashed:e.End])
			hashed = e.End
		}
		return nil
	})
	if err != nil {
		return nil, jksMalformed(err)
	}
	if pwErr != nil {
		return nil, pwErr
	}
	h.Write(keep[hashed:f.DigestOffset])
	digest := f.DigestOffset
	if subtle.ConstantTimeCompare(h.Sum(nil), keep[digest:digest+jksguard.DigestSize]) != 1 {
		return nil, fmt.Errorf("%w (the JKS integrity digest at offset %d does not match)", ErrIncorrectPassword, digest)
	}
	// What is kept ends with the digest, so that it scans as the input
	// did; bytes after it (which the JDK ignores) are not written back.
	end := digest + jksguard.DigestSize
	if owned {
		c.data = keep[:end:end]
	} else {
		// The copy is made once the file has proved whole and the
		// password right, and the certificates are moved onto it: a
		// sub-slice of data at offset off has capacity cap(data) - off.
		c.data = bytes.Clone(keep[:end])
		for _, r := range recs {
			for j, d := range r.chainDER {
				off := cap(keep) - cap(d)
				r.chainDER[j] = c.data[off : off+len(d) : off+len(d)]
			}
		}
	}
	c.version = f.Version
	if recs == nil {
		recs = []*record{}
	}
	// The aliases, and the index, once the file has proved whole and the
	// password right: one map operation an entry, an alias seen before
	// leaving the index's size as it was (sorted out below).
	all := names.String()
	index := make(map[string]int, len(recs))
	dups := false
	for i, r := range recs {
		if r.alias == "" {
			n := int(alens[i])
			r.alias, all = all[:n], all[n:]
		}
		had := len(index)
		index[fold(r.alias)] = i
		dups = dups || len(index) == had
	}
	s := &Store{recs: recs, codec: c, index: index}
	if dups {
		// The index holds the last entry of each alias: keep those.
		kept := recs[:0]
		for i, r := range recs {
			if index[fold(r.alias)] == i {
				kept = append(kept, r)
			}
		}
		clear(recs[len(kept):])
		s.recs, s.index = kept, nil
	}
	return s, nil
}

// jksSlot is what a record read from a JKS file costs, allocated by the
// block.
type jksSlot struct {
	rec record
	nat jksNative
}

// jksBlock is the size of the next block of records (and certificate
// slices) once i entries have been walked out of count: the blocks double
// from 256, so that a file that claims many entries and fails early costs
// about what it walked, and a valid file's blocks add up to its count.
func jksBlock(i, count int) int { return max(1, min(count-i, max(jksFirstBlock, i))) }

// jksFirstBlock is the size of the first block of records.
const jksFirstBlock = 256

// jksChainSlack is how many more certificate slots than entries a block
// holds: a store is mostly one-certificate entries and a few key entries
// with chains.
const jksChainSlack = 16

// jksHashChunk is how many bytes of entries the decoder walks before it
// hashes them: small enough that they are still in the cache, large enough
// that the hash's calls cost nothing.
const jksHashChunk = 32 << 10

// jksAlias decodes an alias from modified UTF-8.
func jksAlias(b []byte) string {
	if jksASCII(b) {
		return string(b) // plain ASCII reads the same as UTF-8
	}
	return jksguard.DecodeModifiedUTF8(b)
}

// jksASCII reports whether an alias is plain ASCII (no NUL, which modified
// UTF-8 writes as two bytes), which reads the same as UTF-8.
func jksASCII(b []byte) bool {
	for _, c := range b {
		if c == 0 || c >= 0x80 {
			return false
		}
	}
	return true
}

// keepsSealed reports true: a renamed entry keeps its protected key.
func (c *jksCodec) keepsSealed() bool { return true }

// native returns r's JKS native if this codec read it.
func (c *jksCodec) native(r *record) *jksNative {
	n, ok := r.native.(*jksNative)
	if !ok || n.codec != c {
		return nil
	}
	return n
}

// unseal decrypts the key of a record read from a JKS file.
func (c *jksCodec) unseal(r *record, password []byte) (crypto.Signer, error) {
	n := c.native(r)
	if n == nil || n.keyEnd == 0 {
		return nil, fmt.Errorf("keystore: JKS alias %q: the entry was not read by this store", r.alias)
	}
	pw, err := jksPassword(password, fmt.Sprintf("JKS key password of alias %q", r.alias))
	if err != nil {
		return nil, err
	}
	defer jksZero(pw)
	blob := c.data[n.keyOff:n.keyEnd]
	enc, err := jksCheckProtected(r.alias, blob, n.keyOff)
	if err != nil {
		return nil, err
	}
	der, ok := jksRecover(enc, pw)
	if !ok {
		return nil, fmt.Errorf("%w: JKS alias %q: the key's check value does not match", ErrIncorrectPassword, r.alias)
	}
	defer jksZero(der)
	return parsePrivateKey(JKS, r.alias, der)
}

// jksKeyStream XORs dst with the key protector's key stream for salt:
// SHA-1(password, salt), then SHA-1(password, previous block), ...
func jksKeyStream(dst, pw, salt []byte) {
	digest := append([]byte(nil), salt...)
	h := sha1.New()
	for off := 0; off < len(dst); off += sha1.Size {
		h.Reset()
		h.Write(pw)
		h.Write(digest)
		digest = h.Sum(digest[:0])
		subtle.XORBytes(dst[off:], dst[off:], digest)
	}
}

// jksCheckValue is the key protector's check value: SHA-1(password, key).
func jksCheckValue(pw, key []byte) []byte {
	h := sha1.New()
	h.Write(pw)
	h.Write(key)
	return h.Sum(nil)
}

// jksRecover decrypts a protected key (salt, encrypted key, check value)
// and reports whether its check value matches, that is whether pw is the
// key's password.
func jksRecover(enc, pw []byte) ([]byte, bool) {
	salt := enc[:jksSaltSize]
	check := enc[len(enc)-jksCheckSize:]
	plain := append([]byte(nil), enc[jksSaltSize:len(enc)-jksCheckSize]...)
	jksKeyStream(plain, pw, salt)
	if subtle.ConstantTimeCompare(jksCheckValue(pw, plain), check) != 1 {
		jksZero(plain)
		return nil, false
	}
	return plain, true
}

// jksProtectKey encrypts a PKCS #8 key as the JDK's key protector does and
// returns the DER EncryptedPrivateKeyInfo.
func jksProtectKey(pkcs8, pw []byte, rnd io.Reader) ([]byte, error) {
	enc := make([]byte, jksSaltSize, jksSaltSize+len(pkcs8)+jksCheckSize)
	if _, err := io.ReadFull(rnd, enc); err != nil {
		return nil, fmt.Errorf("keystore: JKS key salt: %w", err)
	}
	enc = append(enc, pkcs8...)
	jksKeyStream(enc[jksSaltSize:], pw, enc[:jksSaltSize])
	enc = append(enc, jksCheckValue(pw, pkcs8)...)
	algo := jksAppendDER(nil, 0x06, jksKeyProtectorOIDDER)
	algo = append(algo, 0x05, 0x00) // NULL parameters, as the JDK writes
	body := jksAppendDER(nil, 0x30, algo)
	body = jksAppendDER(body, 0x04, enc)
	return jksAppendDER(nil, 0x30, body), nil
}

// jksAppendDER appends a DER element with the given tag and contents.
func jksAppendDER(dst []byte, tag byte, content []byte) []byte {
	dst = append(dst, tag)
	switch n := len(content); {
	case n < 0x80:
		dst = append(dst, byte(n))
	case n <= 0xFF:
		dst = append(dst, 0x81, byte(n))
	case n <= 0xFFFF:
		dst = append(dst, 0x82, byte(n>>8), byte(n))
	case n <= 0xFFFFFF:
		dst = append(dst, 0x83, byte(n>>16), byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(dst, content...)
}

// jksCheckProtected checks that blob is a DER EncryptedPrivateKeyInfo
// protected by the JDK's key protector, with at least the salt and check
// value, and returns the protected key (salt, encrypted key, check value).
// It reads strict DER with [der.Strict] (minimal lengths, as the JDK's
// DerInputStream requires), which does not allocate: encoding/asn1 would
// cost more than the rest of the entry's decoding.
func jksCheckProtected(alias string, blob []byte, offset int) ([]byte, error) {
	bad := func(format string, args ...any) error {
		return &MalformedError{Index: -1, Format: JKS, Offset: int64(offset), Field: "key",
			detail: fmt.Sprintf("alias %q: ", alias) + fmt.Sprintf(format, args...)}
	}
	outer, rest, ok := der.Strict(blob, der.TagSequence)
	if !ok || len(rest) > 0 {
		return nil, bad("want a DER EncryptedPrivateKeyInfo, got %d bytes that are not one", len(blob))
	}
	algo, outer, ok := der.Strict(outer, der.TagSequence)
	if !ok {
		return nil, bad("want an AlgorithmIdentifier in the EncryptedPrivateKeyInfo")
	}
	oid, _, ok := der.Strict(algo, der.TagOID)
	if !ok {
		return nil, bad("want a key protection algorithm OID")
	}
	if !bytes.Equal(oid, jksKeyProtectorOIDDER) {
		return nil, bad("want key protection %v (the JDK's JKS key protector), got another algorithm (OID bytes %X)", jksKeyProtectorOID, oid)
	}
	enc, outer, ok := der.Strict(outer, der.TagOctetString)
	if !ok || len(outer) > 0 {
		return nil, bad("want the encrypted key as the last field of the EncryptedPrivateKeyInfo")
	}
	if len(enc) < jksMinProtectedKey {
		return nil, bad("want a protected key of at least %d bytes (salt and check value), got %d", jksMinProtectedKey, len(enc))
	}
	return enc, nil
}

// jksKeyProtectorOIDDER is the content of jksKeyProtectorOID's DER encoding.
var jksKeyProtectorOIDDER = []byte{0x2B, 0x06, 0x01, 0x04, 0x01, 0x2A, 0x02, 0x11, 0x01, 0x01}

// encode writes the store's records in store order. Records read by this
// codec and not changed are written as the bytes they were read from (or,
// from a version 1 file, re-framed with the certificate type); a renamed
// key entry keeps its protected key as read; new and changed key entries
// are encrypted with their key password (WithKeyPassword) if one was
// given, else with password. An untouched key stays encrypted as it was
// read, so writing a store with a new password leaves its keys under the
// old one, as keytool -storepasswd does for JKS.
func (c *jksCodec) encode(s *Store, password []byte) ([]byte, error) {
	parts, err := c.parts(s, password, false)
	if err != nil {
		return nil, err
	}
	pw, err := jksPassword(password, "JKS password")
	if err != nil {
		return nil, err
	}
	defer jksZero(pw)
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	// The parts are copied in stretches, each hashed as soon as it is
	// written, while it is in the cache: one pass over the file, not a
	// copy and then a hash of a buffer too large for the cache.
	out := make([]byte, n)
	h := sha1.New()
	h.Write(pw)
	h.Write([]byte(jksWhitener))
	off := 0
	for _, p := range parts[:len(parts)-1] { // the last is the digest's room
		for len(p) > 0 {
			k := copy(out[off:off+min(len(p), jksHashChunk)], p)
			h.Write(out[off : off+k])
			off, p = off+k, p[k:]
		}
	}
	h.Sum(out[:off])
	return out, nil
}

// jksDigestInto computes the JDK's integrity digest over parts under
// password and writes it at the end of dst, which has room for it past its
// length.
func jksDigestInto(dst, password []byte, parts ...[]byte) error {
	pw, err := jksPassword(password, "JKS password")
	if err != nil {
		return err
	}
	defer jksZero(pw)
	h := sha1.New()
	h.Write(pw)
	h.Write([]byte(jksWhitener))
	for _, p := range parts {
		h.Write(p)
	}
	h.Sum(dst)
	return nil
}

// parts returns the file encode writes as parts to be concatenated: the
// header, runs of untouched entries that lie next to each other in the
// file read (one part each, however many entries: sub-slices of c.data),
// each new or changed entry's encoding, and the digest, computed over the
// parts if digest is set (else 20 bytes of room for it). [Store.SaveLocked]
// writes them to the file one after another, so that saving a large store
// costs no copy of it.
func (c *jksCodec) parts(s *Store, password []byte, digest bool) ([][]byte, error) {
	// The password is checked first, before any key is encrypted with it.
	pw, err := jksPassword(password, "JKS password")
	if err != nil {
		return nil, err
	}
	jksZero(pw)
	if uint64(len(s.recs)) > 0xFFFFFFFF {
		return nil, fmt.Errorf("%w: JKS holds at most 4294967295 entries, the store has %d", ErrLimit, len(s.recs))
	}
	header := make([]byte, 12, 12+jksguard.DigestSize)
	binary.BigEndian.PutUint32(header[0:], jksguard.Magic)
	binary.BigEndian.PutUint32(header[4:], 2)
	binary.BigEndian.PutUint32(header[8:], uint32(len(s.recs)))
	parts := [][]byte{header}
	var enc []byte // the encodings of new and changed entries, one after another
	type span struct{ part, from, to int }
	var encoded []span
	runStart, runEnd := -1, -1
	flush := func() {
		if runStart >= 0 {
			parts = append(parts, c.data[runStart:runEnd])
			runStart, runEnd = -1, -1
		}
	}
	for _, r := range s.recs {
		if n := c.native(r); n != nil && !r.changed && c.version == 2 {
			if n.start != runEnd {
				flush()
				runStart = n.start
			}
			runEnd = n.end
			continue
		}
		flush()
		from := len(enc)
		if enc, err = c.appendEntry(enc, s, r, password); err != nil {
			return nil, err
		}
		if k := len(encoded) - 1; k >= 0 && encoded[k].part == len(parts)-1 {
			encoded[k].to = len(enc) // follows the last encoded entry: one part
			continue
		}
		encoded = append(encoded, span{len(parts), from, len(enc)})
		parts = append(parts, nil) // filled below: enc may still move
	}
	flush()
	for _, e := range encoded {
		parts[e.part] = enc[e.from:e.to]
	}
	room := header[12:32] // the header's spare room
	if digest {
		if err := jksDigestInto(room[:0], password, parts...); err != nil {
			return nil, err
		}
	}
	return append(parts, room), nil
}

// appendEntry appends the encoding of r (version 2) to out; a new key is
// encrypted with r's key password or else password.
func (c *jksCodec) appendEntry(out []byte, s *Store, r *record, password []byte) ([]byte, error) {
	ab := jksguard.AppendModifiedUTF8(nil, r.alias)
	if len(ab) > 0xFFFF {
		return nil, fmt.Errorf("keystore: JKS alias is %d bytes in Java's encoding; at most 65535 fit", len(ab))
	}
	cert := func(out, der []byte) ([]byte, error) {
		if uint64(len(der)) > 0xFFFFFFFF {
			return nil, fmt.Errorf("keystore: JKS alias %q: a certificate of %d bytes does not fit", r.alias, len(der))
		}
		out = binary.BigEndian.AppendUint16(out, uint16(len(jksCertType)))
		out = append(out, jksCertType...)
		out = binary.BigEndian.AppendUint32(out, uint32(len(der)))
		return append(out, der...), nil
	}
	head := func(out []byte, tag uint32) []byte {
		out = binary.BigEndian.AppendUint32(out, tag)
		out = binary.BigEndian.AppendUint16(out, uint16(len(ab)))
		out = append(out, ab...)
		return binary.BigEndian.AppendUint64(out, uint64(r.created.UnixMilli()))
	}
	if r.kind == TrustedEntry {
		if len(r.chainDER) != 1 {
			return nil, fmt.Errorf("keystore: JKS trusted entry %q: want one certificate, got %d", r.alias, len(r.chainDER))
		}
		return cert(head(out, jksguard.TagTrustedCert), r.chainDER[0])
	}
	var blob []byte
	if n := c.native(r); n != nil {
		// Read by this codec and renamed (or re-framed from version 1):
		// the key and chain are as read.
		blob = c.data[n.keyOff:n.keyEnd]
	} else {
		if len(r.chainDER) == 0 {
			// The JDK refuses to store a private key without a chain too.
			return nil, fmt.Errorf("keystore: JKS alias %q: a key entry needs a certificate chain, the entry has none", r.alias)
		}
		signer, err := s.key(r)
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(signer)
		if err != nil {
			return nil, fmt.Errorf("keystore: JKS alias %q: encode key: %w", r.alias, err)
		}
		defer jksZero(der)
		keyPw, _ := s.sealPassword(r, password)
		kpw, err := jksPassword(keyPw, fmt.Sprintf("JKS key password of alias %q", r.alias))
		if err != nil {
			return nil, err
		}
		defer jksZero(kpw)
		if blob, err = jksProtectKey(der, kpw, s.opts.rand()); err != nil {
			return nil, err
		}
	}
	if uint64(len(blob)) > 0xFFFFFFFF {
		return nil, fmt.Errorf("keystore: JKS alias %q: a key of %d bytes does not fit", r.alias, len(blob))
	}
	out = head(out, jksguard.TagPrivateKey)
	out = binary.BigEndian.AppendUint32(out, uint32(len(blob)))
	out = append(out, blob...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(r.chainDER)))
	var err error
	for _, d := range r.chainDER {
		if out, err = cert(out, d); err != nil {
			return nil, err
		}
	}
	return out, nil
}
