package pkcs12

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf16"

	"github.com/certroll/certroll/keystore/internal/der"
)

// BagType is the type of a SafeBag (RFC 7292 section 4.2).
type BagType uint8

// Bag types. A safeContentsBag is never reported: its bags are read in
// its place.
const (
	OtherBag BagType = iota
	KeyBag
	ShroudedKeyBag
	CertBag
	CRLBag
	SecretBag
)

// String returns the ASN.1 name of the bag type.
func (t BagType) String() string {
	switch t {
	case KeyBag:
		return "keyBag"
	case ShroudedKeyBag:
		return "pkcs8ShroudedKeyBag"
	case CertBag:
		return "certBag"
	case CRLBag:
		return "crlBag"
	case SecretBag:
		return "secretBag"
	}
	return "unknown bag"
}

// A Bag is one SafeBag as read, with the attributes the keystore
// interprets picked out. Raw is its complete encoding, so that a bag the
// caller does not change is written back exactly as it was read.
//
// What a large file's reader rarely needs is decoded on first use, from
// the bytes kept: the attribute list ([Bag.Attributes]), the
// friendlyName ([Bag.FriendlyName]) and a shrouded key's encryption
// parameters ([Bag.KeyAlg]). Decode has checked their structure, so that
// a malformed file is refused when it is read.
//
// Every piece of the bag is a piece of Raw. Those read often
// ([Bag.Cert], [Bag.LocalKeyID], the friendlyName) are kept as their
// places in Raw, 32 bits each end, and what is read only when a bag is
// renamed, listed or its key decrypted ([Bag.TypeOID], [Bag.Value],
// [Bag.EncryptedKey], the attributes and the key's parameters) is found
// again in Raw, a few headers away: a file of 10,000 entries has 20,000
// bags, and a Bag of one slice and three places (56 bytes) is under a
// quarter of the size of one of ten slices, with one pointer for the
// garbage collector to follow.
type Bag struct {
	Raw []byte // the SafeBag, DER

	// localKeyID, cert and name are the places in Raw of the contents of
	// the first localKeyId value, of an X.509 certBag's certificate and
	// of the first friendlyName value.
	localKeyID, cert, name span

	Type    BagType
	nameTag byte // the first friendlyName value's tag; 0 without one

	JavaTrust bool // Java's trusted-certificate attribute is present

	// Encrypted is set when the bag was read from an encryptedData.
	Encrypted bool
}

// span is a piece of a Bag's Raw: Raw[off:end]. The zero span is none: a
// piece of a bag never starts at its first octet, which is its tag.
type span struct{ off, end uint32 }

// maxBagLen is the longest SafeBag read: a span's offsets are 32 bits.
const maxBagLen = 1<<32 - 1

// at returns Raw[sp.off:sp.end], or nil for the zero span.
func (b *Bag) at(sp span) []byte {
	if sp.end == 0 {
		return nil
	}
	return b.Raw[sp.off:sp.end:sp.end]
}

// LocalKeyID returns the contents of the bag's first localKeyId value
// (empty but not nil for an empty one), or nil without one.
func (b *Bag) LocalKeyID() []byte { return b.at(b.localKeyID) }

// Cert returns the certificate of a certBag holding an X.509
// certificate (never empty), or nil for any other bag.
func (b *Bag) Cert() []byte { return b.at(b.cert) }

// spanOf returns the place of d[c:e] in a bag that starts at d[start].
func spanOf(start, c, e int) span { return span{uint32(c - start), uint32(e - start)} }

// parts returns the contents of the bag's bagId, its bagValue element
// and the contents of its bagAttributes (nil without), read again from
// Raw, which Decode has read the same way.
func (b *Bag) parts() (oid, value, attrs []byte) {
	top := newParser(b.Raw, -1, "SafeBag")
	bp, err := top.enter(tagSequence, "SafeBag")
	if err != nil {
		return nil, nil, nil // cannot happen: checked by Decode
	}
	oid, _ = bp.oid("bagId")
	vp, err := bp.enter(tagExplicit0, "bagValue")
	if err != nil {
		return oid, nil, nil
	}
	v, err := vp.next("bagValue")
	if err != nil {
		return oid, nil, nil
	}
	if bp.peek() == tagSet {
		if as, err := bp.enter(tagSet, "bagAttributes"); err == nil {
			attrs = as.b
		}
	}
	return oid, v.full, attrs
}

// TypeOID returns the contents of the bag's bagId.
func (b *Bag) TypeOID() []byte {
	oid, _, _ := b.parts()
	return oid
}

// Value returns the bagValue element, DER.
func (b *Bag) Value() []byte {
	_, v, _ := b.parts()
	return v
}

// keyParts returns a pkcs8ShroudedKeyBag's encryptionAlgorithm element
// and the contents of its encryptedData, or nil and nil.
func (b *Bag) keyParts() (alg, ct []byte) {
	if b.Type != ShroudedKeyBag {
		return nil, nil
	}
	_, v, _ := b.parts()
	top := newParser(v, -1, "bagValue")
	kp, err := top.enter(tagSequence, "EncryptedPrivateKeyInfo")
	if err != nil {
		return nil, nil // cannot happen: checked by Decode
	}
	a, err := kp.expect(tagSequence, "encryptionAlgorithm")
	if err != nil {
		return nil, nil
	}
	e, err := kp.expect(tagOctetString, "encryptedData")
	if err != nil {
		return a.full, nil
	}
	return a.full, e.content
}

// EncryptedKey returns the encryptedData of a pkcs8ShroudedKeyBag, or
// nil.
func (b *Bag) EncryptedKey() []byte {
	_, ct := b.keyParts()
	return ct
}

// HasFriendlyName reports whether the bag has a friendlyName attribute.
func (b *Bag) HasFriendlyName() bool { return b.nameTag != 0 }

// nameElem returns the first friendlyName value.
func (b *Bag) nameElem() element { return element{tag: b.nameTag, content: b.at(b.name)} }

// FriendlyName returns the bag's friendlyName (a trailing NUL dropped),
// or "".
func (b *Bag) FriendlyName() string {
	if b.nameTag == 0 {
		return ""
	}
	s, _ := decodeName(b.nameElem()) // checked by Decode
	return s
}

// Attributes returns the bag's attributes, as read.
func (b *Bag) Attributes() []Attribute {
	_, _, attrs := b.parts()
	if len(attrs) == 0 {
		return nil
	}
	var out []Attribute
	p := newParser(attrs, -1, "bagAttributes")
	for !p.empty() {
		raw, err := p.expect(tagSequence, "")
		if err != nil {
			break // checked by Decode
		}
		ap := p.sub(raw.content, raw.coff, "attribute")
		oid, _ := ap.oid("attrId")
		out = append(out, Attribute{OID: oid, Raw: raw.full})
	}
	return out
}

// KeyAlg returns the encryption parameters of a pkcs8ShroudedKeyBag, or
// an *UnsupportedError when the scheme is not supported (the bag is kept,
// but its key cannot be decrypted), or nil and nil for other bags.
func (b *Bag) KeyAlg() (*Alg, error) {
	if b.Type != ShroudedKeyBag {
		return nil, nil
	}
	alg, _ := b.keyParts()
	p := newParser(alg, -1, "EncryptedPrivateKeyInfo")
	a, err := parseEncAlg(&p)
	if err != nil {
		return nil, prefixErr(err, "encryptionAlgorithm", " ")
	}
	return a, nil
}

// An Attribute is one PKCS12Attribute, kept as read.
type Attribute struct {
	OID []byte
	Raw []byte // the Attribute SEQUENCE, DER
}

// IsFriendlyName reports whether a is a friendlyName attribute.
func (a Attribute) IsFriendlyName() bool { return bytes.Equal(a.OID, oidFriendlyName) }

// IsLocalKeyID reports whether a is a localKeyId attribute.
func (a Attribute) IsLocalKeyID() bool { return bytes.Equal(a.OID, oidLocalKeyID) }

// IsJavaTrust reports whether a is Java's trusted-certificate attribute.
func (a Attribute) IsJavaTrust() bool { return bytes.Equal(a.OID, oidJavaTrust) }

// Contents describes one element of the AuthenticatedSafe.
type Contents struct {
	Encrypted bool
	Alg       *Alg // the encryption of an encryptedData
	Bags      int  // bags read from it, nested ones included
}

// File is a decoded PKCS #12 file.
type File struct {
	MAC      MACParams // Kind is NoMAC when the file has no MacData
	Contents []Contents
	Bags     []*Bag // in file order

	// Work is what is left of the file's key-derivation budget after
	// Decode, for the keys a reader decrypts as part of reading the file
	// (see [Bag.DecryptKeyWithin]).
	Work *Work

	// Sealed, set by [DecodeInPlace] when it decrypted a SafeContents in
	// the buffer it was given, rebuilds the file's bytes from the buffer
	// (see [Sealed.Reseal]); it is nil otherwise.
	Sealed *Sealed
}

// maxBagNesting bounds safeContentsBag nesting.
const maxBagNesting = 8

// Decode parses a PKCS #12 file in DER or BER, checks its MAC with
// password (when it has one) and decrypts its encrypted SafeContents.
// Shrouded keys stay encrypted (see [Bag.DecryptKey]).
//
// Every iteration count and length is checked before any key is derived,
// and so is the work of all the derivations together (see [MaxWork] and
// [MaxKDFRuns]): a file that would exceed them is refused with a
// *LimitError before any work. Errors are *FormatError, *LimitError, *UnsupportedError, ErrMAC (wrong
// password or tampering), ErrDecrypt or ErrPasswordEncoding.
func Decode(data, password []byte) (*File, error) {
	return decode(data, password, false)
}

// DecodeInPlace is [Decode] on a buffer the caller gives up: the
// encrypted SafeContents of a file in DER are decrypted where they are in
// data, and the bags read from them are pieces of data, rather than of a
// copy as large as them. The ciphertext is overwritten only once the MAC
// (computed at the same time) has read it; what rebuilding it needs is
// [File.Sealed], and data with [Sealed.Reseal] applied is the file again.
// A SafeContents in BER, or in a file in BER, is decrypted into a new
// buffer, as Decode does. When DecodeInPlace returns an error, data is as
// it was given.
func DecodeInPlace(data, password []byte) (*File, error) {
	return decode(data, password, true)
}

// decode is Decode, or DecodeInPlace when own is set.
func decode(data, password []byte, own bool) (f *File, err error) {
	authSafe, authOff, md, pieces, err := readStructure(data)
	if err != nil {
		return nil, err
	}
	f = &File{}
	if md != nil {
		f.MAC = md.MACParams
	}

	total := int64(0)
	if md != nil {
		total += int64(md.Iterations)
	}
	for _, pc := range pieces {
		if pc.alg != nil {
			total += int64(pc.alg.Iterations)
		}
	}
	if total > MaxTotalIterations {
		return nil, &LimitError{Field: "sum of the iteration counts of the MAC and the encrypted SafeContents", Value: total, Max: MaxTotalIterations}
	}
	w := NewWork(MaxWork, MaxKDFRuns)
	if err := w.fits(planCost(md, pieces, password)); err != nil {
		return nil, err
	}
	f.Work = w

	// The MAC is checked while the SafeContents are decrypted and read,
	// on another core if there is one: it is the largest part of reading
	// a large file, and the rest does not depend on it. Every derivation of both was planned above, and Work is safe
	// for concurrent use. Nothing is returned before the MAC's verdict,
	// which comes first: a wrong password or a changed file is ErrMAC,
	// whatever the rest found.
	//
	// In place, a piece of the ciphertext is decrypted once the MAC has
	// hashed it (prog): the ciphertext it has to read is the buffer's.
	var ip *inPlace
	if own {
		ip = &inPlace{data: data, authSafe: authSafe, authOff: authOff}
		if md != nil {
			ip.prog = newProgress()
		}
		defer func() {
			if err != nil {
				// Whatever failed, the caller's buffer is given back as
				// it was: every goroutine is done, nothing reads it.
				ip.sealed.Reseal(data)
				f = nil
			}
		}()
	}
	var macErr chan error
	if md != nil {
		macErr = make(chan error, 1)
		go func() { macErr <- md.verify(password, authSafe, w, ip.progress()) }()
	}
	err = f.readContents(pieces, password, w, ip)
	if macErr != nil {
		if merr := <-macErr; merr != nil {
			return nil, merr
		}
	}
	if err != nil {
		return nil, err
	}
	if ip != nil && len(ip.sealed.parts) > 0 {
		f.Sealed = &ip.sealed
	}
	return f, nil
}

// inPlace is what decrypting in place needs: the caller's buffer, where
// the AuthenticatedSafe is in it, the MAC's progress over it (nil without
// a MAC), and what was decrypted in it so far.
type inPlace struct {
	data     []byte
	authSafe []byte
	authOff  int64
	prog     *progress
	sealed   Sealed
}

func (ip *inPlace) progress() *progress {
	if ip == nil {
		return nil
	}
	return ip.prog
}

// place returns the offset in ip.data of the ciphertext of pc, and
// whether pc can be decrypted there: a primitive encryptedContent read
// from the DER of the buffer itself.
func (ip *inPlace) place(pc contentInfo) (int, bool) {
	if ip == nil || pc.alg == nil || pc.ctOff < 0 || ip.authOff < 0 || len(pc.data) == 0 {
		return 0, false
	}
	off := pc.ctOff
	if off < ip.authOff || off+int64(len(pc.data)) > ip.authOff+int64(len(ip.authSafe)) || off+int64(len(pc.data)) > int64(len(ip.data)) {
		return 0, false
	}
	if &ip.data[off] != &pc.data[0] {
		return 0, false // not the buffer's bytes after all
	}
	return int(off), true
}

// decrypt decrypts pc, in place when it can (see place), telling done
// (nil for none) how far it has gone, and returns the plaintext and, when
// decrypted in place, what re-encrypting it needs, which is returned
// with the error too when the decryption failed (see decryptInPlace).
func (ip *inPlace) decrypt(pc contentInfo, password []byte, w *Work, done *progress) ([]byte, *sealedPart, error) {
	off, ok := ip.place(pc)
	if !ok {
		pt, err := pc.alg.decrypt(password, pc.data, looksLikeSequence, w)
		return pt, nil, err
	}
	// The MAC's progress is over the AuthenticatedSafe.
	rel := off - int(ip.authOff)
	return pc.alg.decryptInPlace(password, pc.data, off, looksLikeSequence, w, func(n int) { ip.prog.wait(rel + n) }, done)
}

// streams reports whether the bags of pc can be read while it is
// decrypted in place: one password form is tried, so that the plaintext,
// once written, stays.
func (ip *inPlace) streams(pc contentInfo, password []byte) bool {
	_, ok := ip.place(pc)
	return ok && (pc.alg.Cipher.IsPBES2() || len(password) > 0)
}

// readStructure reads the PFX and its AuthenticatedSafe, with every
// encryption's parameters, before any key is derived.
func readStructure(data []byte) (authSafe []byte, authOff int64, md *macData, pieces []contentInfo, err error) {
	err = asDER(data, 0, "PFX", func(der []byte, base int64) (err error) {
		authSafe, authOff, md, err = parsePFX(der, base)
		return err
	})
	if err != nil {
		return nil, 0, nil, nil, err
	}
	if len(authSafe) == 0 {
		return nil, 0, nil, nil, &FormatError{Offset: authOff, Field: "AuthenticatedSafe", Detail: "want a SEQUENCE, found nothing"}
	}
	err = asDER(authSafe, authOff, "AuthenticatedSafe", func(der []byte, base int64) (err error) {
		pieces, err = parseAuthSafe(der, base)
		return err
	})
	if err != nil {
		return nil, 0, nil, nil, err
	}
	return authSafe, authOff, md, pieces, nil
}

// readContents decrypts and reads the pieces of the AuthenticatedSafe
// into f.
//
// The first encrypted piece after an unencrypted one (the certificates
// after the keys, as keytool and this package write them) is decrypted
// on another goroutine while the pieces before it are read.
//
// With ip (DecodeInPlace), the pieces are decrypted in place where they
// can be, and what re-encrypting them needs is added to ip.sealed as each
// is decrypted, the one run ahead included if an earlier piece failed.
func (f *File) readContents(pieces []contentInfo, password []byte, w *Work, ip *inPlace) error {
	var (
		br    bagReader
		err   error
		ahead = -1
		done  chan decrypted
	)
	var stream *progress // the decryption run ahead, when its bags are read behind it
	for i, pc := range pieces {
		if pc.alg != nil {
			if i > 0 {
				ahead, done = i, make(chan decrypted, 1)
				if ip.streams(pc, password) {
					stream = newProgress()
				}
				go func() {
					pt, part, err := ip.decrypt(pc, password, w, stream)
					stream.finish()
					done <- decrypted{pt, part, err}
				}()
			}
			break
		}
	}
	defer func() {
		if done != nil {
			d := <-done // not read: an earlier piece failed
			if ip != nil {
				ip.sealed.add(d.part)
			}
		}
	}()
	for i, pc := range pieces {
		c := Contents{Encrypted: pc.alg != nil, Alg: pc.alg}
		sc := pc.data
		n := len(f.Bags)
		br.encrypted = pc.alg != nil
		if pc.alg != nil {
			var (
				part     *sealedPart
				streamed []*Bag
				end      = -1
			)
			if i == ahead {
				if stream != nil {
					streamed, end = br.streamBags(pc.data, stream, f.Bags)
				}
				d := <-done
				done = nil
				sc, part, err = d.plaintext, d.part, d.err
			} else {
				sc, part, err = ip.decrypt(pc, password, w, nil)
			}
			if ip != nil {
				ip.sealed.add(part)
			}
			if err != nil {
				if errors.Is(err, ErrDecrypt) {
					return fmt.Errorf("authSafe[%d]: %w", pc.index, err)
				}
				return err
			}
			if end >= 0 && end == len(sc) {
				// Read behind the decrypter, as parseSafeContents reads
				// them from the plaintext: a SEQUENCE of the bags,
				// spanning it. Otherwise they are read again from it,
				// for parseSafeContents to say what is wrong.
				f.Bags = streamed
				c.Bags = len(f.Bags) - n
				f.Contents = append(f.Contents, c)
				continue
			}
		}
		if f.Bags, err = parseSafeContents(sc, pc.off, &br, f.Bags[:n]); err != nil {
			return prefixErr(err, fmt.Sprintf("authSafe[%d]", pc.index), ".")
		}
		c.Bags = len(f.Bags) - n
		f.Contents = append(f.Contents, c)
	}
	return nil
}

// streamBags reads the bags of the SafeContents being decrypted in ct
// as the decrypter (telling dec) gets past each, and returns out with
// them appended and the end of the SafeContents' SEQUENCE. It reads only
// what parseSafeContents reads without a second pass (a SEQUENCE in DER
// and bags the fast path or the checking parser accepts): for anything
// else it stops and returns -1, and the caller reads the plaintext with
// parseSafeContents once it is decrypted, which says what is wrong. It
// reads nothing the decrypter has not written, so that it can run while
// the decrypter writes the rest.
func (br *bagReader) streamBags(ct []byte, dec *progress, out []*Bag) ([]*Bag, int) {
	// ready is what the decrypter is known to have written: it is asked
	// again only when a bag goes beyond it.
	ready := dec.wait(min(len(ct), 6)) // an identifier and four length octets
	tag, hc, end, ok := header(ct, 0)
	if !ok || tag != tagSequence {
		return nil, -1
	}
	sc := newParser(ct[hc:end], -1, "SafeContents")
	for first := true; !sc.empty(); first = false {
		at := hc + sc.pos
		if n := min(at+6, end); n > ready {
			ready = dec.wait(n)
		}
		_, _, bagEnd, ok := header(ct[:end], at)
		if !ok {
			return nil, -1
		}
		if bagEnd > ready {
			ready = dec.wait(bagEnd)
		}
		if first {
			// Bags are alike: the first's size says how many there are.
			out = slices.Grow(out, (end-hc)/(bagEnd-at)+1)
		}
		var err error
		if out, err = br.parseBag(&sc, out, 0); err != nil {
			return nil, -1
		}
	}
	return out, end
}

// decrypted is the result of a decryption run ahead.
type decrypted struct {
	plaintext []byte
	part      *sealedPart // decrypted in place
	err       error
}

// planCost is the worst-case work of verifying md and decrypting pieces:
// every password form tried for each.
func planCost(md *macData, pieces []contentInfo, password []byte) planned {
	var p planned
	if md != nil {
		p.cost = md.cost(password)
		p.what = "the MAC"
	}
	n := 0
	for _, pc := range pieces {
		if pc.alg != nil {
			p.cost = p.cost.add(pc.alg.cost(password))
			n++
		}
	}
	if n > 0 {
		if p.what != "" {
			p.what += " and "
		}
		p.what += fmt.Sprintf("%d encrypted SafeContents", n)
	}
	return p
}

// planned is the work Decode is about to do and what it is for.
type planned struct {
	cost cost
	what string
}

// fits refuses p if it exceeds what is left of w, charging nothing.
func (w *Work) fits(p planned) error {
	b, r := w.Left()
	if p.cost.runs > r {
		return &LimitError{Field: "number of key derivations for " + p.what, Value: p.cost.runs, Max: r}
	}
	if p.cost.blocks < 0 || p.cost.blocks > b {
		v := p.cost.blocks
		if v < 0 {
			v = 1<<63 - 1
		}
		return &LimitError{Field: "key-derivation work (iterations × output blocks × derivations, in hash blocks) for " + p.what, Value: v, Max: b}
	}
	return nil
}

// asDER runs parse on b as it is, which succeeds for DER, the common
// case, without a second pass. If that fails, b is normalised with toDER:
// when b was BER, parse runs again on the DER form (whose offsets are no
// file offsets); when b was DER already, parse's error stands; when b is
// neither, toDER's error says why.
func asDER(b []byte, base int64, field string, parse func(der []byte, base int64) error) error {
	err := parse(b, base)
	if err == nil {
		return nil
	}
	der, _, nerr := toDER(b, base, field)
	if nerr != nil {
		return nerr
	}
	if &der[0] == &b[0] {
		return err // b starts with DER: parse saw what toDER saw
	}
	return parse(der, -1)
}

// parsePFX parses PFX ::= SEQUENCE { version INTEGER {v3(3)}, authSafe
// ContentInfo, macData MacData OPTIONAL } and returns the authSafe
// octets (the MAC's input) and the MacData, its limits checked. Bytes
// after the PFX are ignored, as Java and OpenSSL ignore them.
func parsePFX(b []byte, base int64) ([]byte, int64, *macData, error) {
	top := newParser(b, base, "file")
	pp, err := top.enter(tagSequence, "PFX")
	if err != nil {
		return nil, 0, nil, err
	}
	verStart := pp.pos
	ver, err := pp.integer("PFX.version", 1<<20)
	if err != nil {
		return nil, 0, nil, err
	}
	if ver != 3 {
		return nil, 0, nil, pp.errAt(verStart, "PFX.version", "want 3, found %d", ver)
	}
	authSafe, authOff, err := parseDataContentInfo(&pp)
	if err != nil {
		return nil, 0, nil, prefixErr(err, "PFX.authSafe", ".")
	}
	var md *macData
	if !pp.empty() {
		if md, err = parseMacData(&pp); err != nil {
			return nil, 0, nil, err
		}
	}
	if err := pp.finish(); err != nil {
		return nil, 0, nil, err
	}
	return authSafe, authOff, md, nil
}

// parseAuthSafe parses AuthenticatedSafe ::= SEQUENCE OF ContentInfo,
// with every encryption's parameters, before anything is derived.
func parseAuthSafe(b []byte, base int64) ([]contentInfo, error) {
	top := newParser(b, base, "AuthenticatedSafe")
	ap, err := top.enter(tagSequence, "AuthenticatedSafe")
	if err != nil {
		return nil, err
	}
	if !top.empty() {
		return nil, top.errAt(top.pos, "AuthenticatedSafe", "%d unexpected bytes after it", len(b)-top.pos)
	}
	var pieces []contentInfo
	for i := 0; !ap.empty(); i++ {
		pc, err := parseContentInfo(&ap)
		if err != nil {
			return nil, prefixErr(err, fmt.Sprintf("authSafe[%d]", i), ".")
		}
		pc.index = i
		pieces = append(pieces, pc)
	}
	return pieces, nil
}

// contentInfo is one parsed element of the AuthenticatedSafe: the
// SafeContents (data) or the ciphertext and its algorithm (encryptedData).
type contentInfo struct {
	index int
	data  []byte
	off   int64 // file offset of data, or -1
	alg   *Alg
	ctOff int64 // an encryptedData's: file offset of data, the ciphertext, when it is a piece of the file, or -1
}

// parseContentInfo parses ContentInfo ::= SEQUENCE { contentType OID,
// content [0] EXPLICIT ANY } of type data or encryptedData.
func parseContentInfo(ap *parser) (contentInfo, error) {
	ci, err := ap.enter(tagSequence, "")
	if err != nil {
		return contentInfo{}, err
	}
	ctype, err := ci.oid("contentType")
	if err != nil {
		return contentInfo{}, err
	}
	switch {
	case bytes.Equal(ctype, oidData):
		d, off, err := dataContent(&ci)
		return contentInfo{data: d, off: off}, err
	case bytes.Equal(ctype, oidEncryptedData):
		alg, ct, ctOff, err := parseEncryptedData(&ci)
		return contentInfo{data: ct, off: -1, alg: alg, ctOff: ctOff}, err
	case bytes.Equal(ctype, oidEnvelopedData):
		return contentInfo{}, &UnsupportedError{What: "public-key privacy mode (envelopedData)"}
	}
	return contentInfo{}, &UnsupportedError{What: "content type " + OIDString(ctype)}
}

// looksLikeSequence is the plausibility check after decryption: a
// SEQUENCE spanning the plaintext.
func looksLikeSequence(b []byte) bool {
	if len(b) < 2 || b[0] != tagSequence {
		return false
	}
	h, err := der.ReadHeader(b, 0, len(b))
	return err == nil && (h.Indefinite || h.End() == len(b))
}

// parseDataContentInfo parses ContentInfo { data, [0] EXPLICIT OCTET
// STRING } and returns the octets and their file offset (or -1).
func parseDataContentInfo(p *parser) ([]byte, int64, error) {
	ci, err := p.enter(tagSequence, "")
	if err != nil {
		return nil, 0, err
	}
	ctype, err := ci.oid("contentType")
	if err != nil {
		return nil, 0, err
	}
	if bytes.Equal(ctype, oidSignedData) {
		return nil, 0, &UnsupportedError{What: "public-key integrity mode (signedData)"}
	}
	if !bytes.Equal(ctype, oidData) {
		return nil, 0, &FormatError{Offset: ci.offset(0), Field: "contentType", Detail: "want data (1.2.840.113549.1.7.1), found " + OIDString(ctype)}
	}
	return dataContent(&ci)
}

// dataContent parses the rest of ContentInfo { data, [0] EXPLICIT OCTET
// STRING } after its contentType.
func dataContent(ci *parser) ([]byte, int64, error) {
	cp, err := ci.enter(tagExplicit0, "content")
	if err != nil {
		return nil, 0, err
	}
	oct, err := cp.expect(tagOctetString, "content")
	if err != nil {
		return nil, 0, err
	}
	if err := cp.finish(); err != nil {
		return nil, 0, err
	}
	if err := ci.finish(); err != nil {
		return nil, 0, err
	}
	return oct.content, cp.offset(oct.coff), nil
}

// parseEncryptedData parses the rest of ContentInfo { encryptedData, [0]
// EXPLICIT EncryptedData } after its contentType: the algorithm (with its
// limits), the ciphertext and, when it is a piece of the file (a primitive
// encryptedContent in DER), its file offset, else -1.
func parseEncryptedData(ci *parser) (*Alg, []byte, int64, error) {
	cp, err := ci.enter(tagExplicit0, "content")
	if err != nil {
		return nil, nil, -1, err
	}
	ed, err := cp.enter(tagSequence, "encryptedData")
	if err != nil {
		return nil, nil, -1, err
	}
	if _, err := ed.integer("encryptedData.version", 1<<20); err != nil {
		return nil, nil, -1, err
	}
	eci, err := ed.enter(tagSequence, "encryptedContentInfo")
	if err != nil {
		return nil, nil, -1, err
	}
	ctype, err := eci.oid("encryptedContentInfo.contentType")
	if err != nil {
		return nil, nil, -1, err
	}
	if !bytes.Equal(ctype, oidData) {
		return nil, nil, -1, &FormatError{Offset: eci.offset(0), Field: "encryptedContentInfo.contentType", Detail: "want data, found " + OIDString(ctype)}
	}
	alg, err := parseEncAlg(&eci)
	if err != nil {
		return nil, nil, -1, prefixErr(err, "contentEncryptionAlgorithm", " ")
	}
	var ct []byte
	ctOff := int64(-1)
	switch eci.peek() {
	case tagImplicit0:
		e, err := eci.next("encryptedContent")
		if err != nil {
			return nil, nil, -1, err
		}
		ct, ctOff = e.content, eci.offset(e.coff)
	case tagExplicit0:
		// BER may cut an IMPLICIT OCTET STRING into pieces; toDER cannot
		// know the [0] is a string, so the pieces are joined here.
		e, err := eci.next("encryptedContent")
		if err != nil {
			return nil, nil, -1, err
		}
		sp := eci.sub(e.content, e.coff, "encryptedContent")
		for !sp.empty() {
			seg, err := sp.expect(tagOctetString, "encryptedContent segment")
			if err != nil {
				return nil, nil, -1, err
			}
			ct = append(ct, seg.content...)
		}
	default:
		return nil, nil, -1, eci.errAt(eci.pos, "encryptedContent", "want [0] encrypted content, found %s", tagName(eci.peek()))
	}
	if err := eci.finish(); err != nil {
		return nil, nil, -1, err
	}
	// unprotectedAttrs [1] may follow; nothing in PKCS #12 uses it.
	return alg, ct, ctOff, nil
}

// parseSafeContents parses SafeContents ::= SEQUENCE OF SafeBag and
// appends the bags to out, reading nested safeContentsBags in place.
func parseSafeContents(data []byte, base int64, br *bagReader, out []*Bag) ([]*Bag, error) {
	if len(data) == 0 {
		return nil, &FormatError{Offset: base, Field: "SafeContents", Detail: "want a SEQUENCE, found nothing"}
	}
	// parse may run twice (asDER: on the BER form after the input failed
	// as DER), each time from the bags given, so it never assigns out:
	// a failed first run returns no list.
	var got []*Bag
	err := asDER(data, base, "SafeContents", func(der []byte, base int64) (err error) {
		top := newParser(der, base, "SafeContents")
		sp, err := top.enter(tagSequence, "SafeContents")
		if err != nil {
			return err
		}
		if !top.empty() {
			return top.errAt(top.pos, "SafeContents", "%d unexpected bytes after it", len(der)-top.pos)
		}
		// The list of a file's 20,000 bags is grown once per
		// SafeContents, not doubled from nothing.
		got, err = br.parseBags(&sp, slices.Grow(out, countElements(sp.b)), 0)
		return err
	})
	if err != nil {
		return nil, err
	}
	return got, nil
}

// countElements returns how many elements b holds at its top level, as
// far as header reads them: at most len(b)/2.
func countElements(b []byte) int {
	k := 0
	for i := 0; i < len(b); k++ {
		_, _, end, ok := header(b, i)
		if !ok {
			break
		}
		i = end
	}
	return k
}

// parseBags reads the SafeBags of a SafeContents. Errors name fields
// relative to it ("bag[3].bagValue"); field names are built only then.
func (br *bagReader) parseBags(sp *parser, out []*Bag, depth int) ([]*Bag, error) {
	for i := 0; !sp.empty(); i++ {
		var err error
		if out, err = br.parseBag(sp, out, depth); err != nil {
			return nil, prefixErr(err, fmt.Sprintf("bag[%d]", i), ".")
		}
	}
	return out, nil
}

// bagReader reads the bags of a file's SafeContents.
type bagReader struct {
	encrypted bool // the SafeContents being read was encrypted
	slab      bagSlab
	slow      bool // tests: every bag through the checking parser
}

// bagSlab hands out Bags from blocks, so that reading a file of 20,000
// bags does not allocate each one on its own.
type bagSlab []Bag

func (s *bagSlab) next() *Bag {
	if len(*s) == cap(*s) {
		// Blocks grow from 4 bags to 256, so that a small file does
		// not pay for a large block.
		*s = make([]Bag, 0, min(max(2*cap(*s), 4), 256))
	}
	*s = (*s)[:len(*s)+1]
	return &(*s)[len(*s)-1]
}

// parseBag reads one SafeBag ::= SEQUENCE { bagId OID, bagValue [0]
// EXPLICIT ANY, bagAttributes SET OF PKCS12Attribute OPTIONAL }.
func (br *bagReader) parseBag(sp *parser, out []*Bag, depth int) ([]*Bag, error) {
	if !br.slow {
		if b := br.fastBag(sp); b != nil {
			return append(out, b), nil
		}
	}
	raw, err := sp.expect(tagSequence, "")
	if err != nil {
		return nil, err
	}
	if uint64(len(raw.full)) > maxBagLen {
		return nil, &LimitError{Field: "SafeBag length", Value: int64(len(raw.full)), Max: maxBagLen}
	}
	bp := sp.sub(raw.content, raw.coff, "SafeBag")
	bp.rel = raw.coff - raw.off // the pieces' places are in raw.full
	oid, err := bp.oid("bagId")
	if err != nil {
		return nil, err
	}
	vp, err := bp.enter(tagExplicit0, "bagValue")
	if err != nil {
		return nil, err
	}
	val, err := vp.next("bagValue")
	if err != nil {
		return nil, err
	}
	if err := vp.finish(); err != nil {
		return nil, err
	}
	b := br.slab.next()
	*b = Bag{Raw: raw.full, Encrypted: br.encrypted}
	if bp.peek() == tagSet {
		if err := b.parseAttributes(&bp); err != nil {
			return nil, err
		}
	}
	if err := bp.finish(); err != nil {
		return nil, err
	}
	valp := vp.sub(val.full, val.off, "bagValue") // val.off is an index into vp.b
	switch {
	case bytes.Equal(oid, oidSafeContentsBag):
		if depth >= maxBagNesting {
			return nil, &LimitError{Field: "safeContentsBag nesting", Value: int64(depth + 1), Max: maxBagNesting}
		}
		np, err := valp.enter(tagSequence, "SafeContents")
		if err != nil {
			return nil, err
		}
		return br.parseBags(&np, out, depth+1)
	case bytes.Equal(oid, oidKeyBag):
		b.Type = KeyBag
	case bytes.Equal(oid, oidShroudedKeyBag):
		b.Type = ShroudedKeyBag
		kp, err := valp.enter(tagSequence, "EncryptedPrivateKeyInfo")
		if err != nil {
			return nil, err
		}
		// The parameters are read on first use (Bag.KeyAlg): a file of
		// 10,000 keys is read to decrypt one or none. Their structure is
		// checked here, their values there.
		if _, err := kp.expect(tagSequence, "encryptionAlgorithm"); err != nil {
			return nil, err
		}
		if _, err := kp.expect(tagOctetString, "encryptedData"); err != nil {
			return nil, err
		}
		if err := kp.finish(); err != nil {
			return nil, err
		}
	case bytes.Equal(oid, oidCertBag):
		b.Type = CertBag
		cp, err := valp.enter(tagSequence, "CertBag")
		if err != nil {
			return nil, err
		}
		certID, err := cp.oid("certId")
		if err != nil {
			return nil, err
		}
		if bytes.Equal(certID, oidX509Certificate) {
			vp, err := cp.enter(tagExplicit0, "certValue")
			if err != nil {
				return nil, err
			}
			oct, err := vp.expect(tagOctetString, "certValue")
			if err != nil {
				return nil, err
			}
			if len(oct.content) == 0 {
				return nil, vp.errAt(oct.off, "certValue", "empty certificate")
			}
			b.cert = vp.contentSpan(oct)
		}
	case bytes.Equal(oid, oidCRLBag):
		b.Type = CRLBag
	case bytes.Equal(oid, oidSecretBag):
		b.Type = SecretBag
	default:
		b.Type = OtherBag
	}
	return append(out, b), nil
}

// fastBag reads the next SafeBag of sp if it has the shape nearly every
// bag of a file has (a key bag, a shrouded key bag, an X.509 certificate
// bag or a CRL, secret or unknown bag, in DER with low tag numbers, and
// attributes whose values parseAttribute accepts), with the checks
// parseBag makes, and returns it; it returns nil and leaves sp as it was
// for anything else, which parseBag then reads (and refuses, saying
// why). A file of 10,000 entries has 20,000 bags: this is the codec's
// hot path, and reads each header once.
func (br *bagReader) fastBag(sp *parser) *Bag {
	d := sp.b
	tag, c, end, ok := header(d, sp.pos)
	if !ok || tag != tagSequence {
		return nil
	}
	d = d[:end] // read nothing past the bag (streamBags: the decrypter may be writing it)
	t, oc, oe, ok := header(d, c)
	if !ok || t != tagOID || oe == oc || oe > end {
		return nil
	}
	t, vc, ve, ok := header(d, oe)
	if !ok || t != tagExplicit0 || ve > end {
		return nil
	}
	_, valc, vale, ok := header(d, vc)
	if !ok || vale != ve {
		return nil
	}
	oid := d[oc:oe]
	var typ BagType
	switch {
	case bytes.Equal(oid, oidShroudedKeyBag):
		typ = ShroudedKeyBag
	case bytes.Equal(oid, oidCertBag):
		typ = CertBag
	case bytes.Equal(oid, oidKeyBag):
		typ = KeyBag
	case bytes.Equal(oid, oidCRLBag):
		typ = CRLBag
	case bytes.Equal(oid, oidSecretBag):
		typ = SecretBag
	case bytes.Equal(oid, oidSafeContentsBag):
		return nil
	default:
		typ = OtherBag
	}
	start := sp.pos
	if uint64(end-start) > maxBagLen {
		return nil // parseBag refuses it
	}
	nb := Bag{Type: typ, Raw: d[start:end:end], Encrypted: br.encrypted}
	p := ve
	if p < end && d[p] == tagSet {
		_, ac, ae, ok := header(d, p)
		if !ok || ae > end || !nb.fastAttributes(d, start, ac, ae) {
			return nil
		}
		p = ae
	}
	if p != end {
		return nil
	}
	switch typ {
	case ShroudedKeyBag:
		// EncryptedPrivateKeyInfo ::= SEQUENCE { AlgorithmIdentifier,
		// OCTET STRING }, nothing after.
		if d[vc] != tagSequence {
			return nil
		}
		t, _, ae, ok := header(d, valc)
		if !ok || t != tagSequence || ae > vale {
			return nil
		}
		t, _, ke, ok := header(d, ae)
		if !ok || t != tagOctetString || ke != vale {
			return nil
		}
	case CertBag:
		// CertBag ::= SEQUENCE { certId OID, certValue [0] EXPLICIT
		// OCTET STRING } for X.509; other kinds are kept unread.
		if d[vc] != tagSequence {
			return nil
		}
		t, ic, ie, ok := header(d, valc)
		if !ok || t != tagOID || ie == ic || ie > vale {
			return nil
		}
		if bytes.Equal(d[ic:ie], oidX509Certificate) {
			t, xc, xe, ok := header(d, ie)
			if !ok || t != tagExplicit0 || xe > vale {
				return nil
			}
			t, cc, ce, ok := header(d, xc)
			if !ok || t != tagOctetString || ce > xe || ce == cc {
				return nil
			}
			nb.cert = spanOf(start, cc, ce)
		}
	}
	sp.pos = end
	b := br.slab.next()
	*b = nb
	return b
}

// fastAttributes reads the attributes in d[c:end] as parseAttribute
// does, or reports false; the bag starts at d[start].
func (b *Bag) fastAttributes(d []byte, start, c, end int) bool {
	for c < end {
		t, ac, ae, ok := header(d, c)
		if !ok || t != tagSequence || ae > end {
			return false
		}
		t, oc, oe, ok := header(d, ac)
		if !ok || t != tagOID || oe == oc || oe > ae {
			return false
		}
		t, sc, se, ok := header(d, oe)
		if !ok || t != tagSet || se != ae {
			return false
		}
		var first element
		if sc < se {
			ft, fc, fe, ok := header(d, sc)
			if !ok || fe > se {
				return false
			}
			first = element{tag: ft, full: d[sc:fe:fe], content: d[fc:fe:fe], off: sc, coff: fc}
		}
		oid := d[oc:oe]
		switch {
		case bytes.Equal(oid, oidFriendlyName) && b.nameTag == 0 && first.full != nil:
			if checkName(first) != nil {
				return false
			}
			b.nameTag, b.name = first.tag, spanOf(start, first.coff, first.coff+len(first.content))
		case bytes.Equal(oid, oidLocalKeyID) && b.localKeyID.end == 0 && first.full != nil:
			if first.tag != tagOctetString {
				return false
			}
			b.localKeyID = spanOf(start, first.coff, first.coff+len(first.content))
		case bytes.Equal(oid, oidJavaTrust):
			b.JavaTrust = true
		}
		c = ae
	}
	return true
}

// parseAttributes reads bagAttributes SET OF PKCS12Attribute, where
// PKCS12Attribute ::= SEQUENCE { attrId OID, attrValues SET OF ANY }.
func (b *Bag) parseAttributes(bp *parser) error {
	as, err := bp.enter(tagSet, "bagAttributes")
	if err != nil {
		return err
	}
	for i := 0; !as.empty(); i++ {
		if err := b.parseAttribute(&as); err != nil {
			return prefixErr(err, fmt.Sprintf("bagAttributes[%d]", i), ".")
		}
	}
	return nil
}

func (b *Bag) parseAttribute(as *parser) error {
	raw, err := as.expect(tagSequence, "")
	if err != nil {
		return err
	}
	ap := as.sub(raw.content, raw.coff, "attribute")
	oid, err := ap.oid("attrId")
	if err != nil {
		return err
	}
	vs, err := ap.enter(tagSet, "attrValues")
	if err != nil {
		return err
	}
	if err := ap.finish(); err != nil {
		return err
	}
	var first element
	if !vs.empty() {
		if first, err = vs.next("attrValues"); err != nil {
			return err
		}
	}
	switch {
	case bytes.Equal(oid, oidFriendlyName) && b.nameTag == 0 && first.full != nil:
		// Checked now, decoded when asked for (Bag.FriendlyName).
		if err := checkName(first); err != nil {
			return vs.errAt(first.off, "friendlyName", "%v", err)
		}
		b.nameTag, b.name = first.tag, vs.contentSpan(first)
	case bytes.Equal(oid, oidLocalKeyID) && b.localKeyID.end == 0 && first.full != nil:
		if first.tag != tagOctetString {
			return vs.errAt(first.off, "localKeyId", "want OCTET STRING, found %s", tagName(first.tag))
		}
		b.localKeyID = vs.contentSpan(first)
	case bytes.Equal(oid, oidJavaTrust):
		b.JavaTrust = true
	}
	return nil
}

// checkName reports what decodeName would refuse.
func checkName(e element) error {
	switch e.tag {
	case tagBMPString:
		if len(e.content)%2 != 0 {
			return fmt.Errorf("BMPString of odd length %d", len(e.content))
		}
	case tagUTF8String:
	default:
		return fmt.Errorf("want BMPString, found %s", tagName(e.tag))
	}
	return nil
}

// decodeName decodes a friendlyName: a BMPString (UTF8String is accepted
// too). A trailing NUL, which some writers include as a C terminator, is
// dropped.
func decodeName(e element) (string, error) {
	var s string
	switch e.tag {
	case tagBMPString:
		if len(e.content)%2 != 0 {
			return "", fmt.Errorf("BMPString of odd length %d", len(e.content))
		}
		if ascii := asciiBMP(e.content); ascii != "" || len(e.content) == 0 {
			s = ascii
			break
		}
		u := make([]uint16, len(e.content)/2)
		for i := range u {
			u[i] = uint16(e.content[2*i])<<8 | uint16(e.content[2*i+1])
		}
		s = string(utf16.Decode(u))
	case tagUTF8String:
		s = string(e.content)
	default:
		return "", fmt.Errorf("want BMPString, found %s", tagName(e.tag))
	}
	if n := len(s); n > 0 && s[n-1] == 0 {
		s = s[:n-1]
	}
	return s, nil
}

// asciiBMP returns the BMPString c as a string if every character is
// ASCII (the common case, decoded without the UTF-16 detour), else "".
func asciiBMP(c []byte) string {
	var sb strings.Builder
	sb.Grow(len(c) / 2)
	for i := 0; i+1 < len(c); i += 2 {
		if c[i] != 0 || c[i+1] >= 0x80 {
			return ""
		}
		sb.WriteByte(c[i+1])
	}
	return sb.String()
}

// DecryptKey decrypts a pkcs8ShroudedKeyBag and returns the
// PrivateKeyInfo in DER; a keyBag's is returned as it is. Its work is
// bounded by the per-count limits only: use it for a key the caller asked
// for, and [Bag.DecryptKeyWithin] for keys decrypted as part of reading
// a file.
func (b *Bag) DecryptKey(password []byte) ([]byte, error) {
	return b.DecryptKeyWithin(password, nil)
}

// DecryptKeyWithin is DecryptKey charging the key derivations to w (nil
// is unlimited) before they run: when what is left of w cannot pay for
// the derivations of every password form, it returns a *LimitError and
// derives nothing.
func (b *Bag) DecryptKeyWithin(password []byte, w *Work) ([]byte, error) {
	switch b.Type {
	case KeyBag:
		return b.Value(), nil
	case ShroudedKeyBag:
	default:
		return nil, fmt.Errorf("pkcs12: a %v holds no private key", b.Type)
	}
	alg, err := b.KeyAlg()
	if err != nil {
		return nil, err
	}
	// Refuse before any work what every password form together would
	// exceed, rather than spend the budget on the first form.
	if err := w.fits(planned{alg.cost(password), "a shrouded key"}); err != nil {
		return nil, err
	}
	pt, err := alg.decrypt(password, b.EncryptedKey(), isPrivateKeyInfo, w)
	if err != nil {
		return nil, err
	}
	der, _, err := toDER(pt, -1, "PrivateKeyInfo")
	if err != nil {
		return nil, err
	}
	return der, nil
}

// isPrivateKeyInfo checks the shape of a PrivateKeyInfo (RFC 5208) or
// OneAsymmetricKey (RFC 5958): SEQUENCE { INTEGER, SEQUENCE, OCTET STRING,
// ... }. After decryption with a wrong password the padding is valid one
// time in 256; this check rejects those.
func isPrivateKeyInfo(b []byte) bool {
	der, n, err := toDER(b, -1, "PrivateKeyInfo")
	if err != nil || n != len(b) {
		return false
	}
	top := newParser(der, -1, "PrivateKeyInfo")
	p, err := top.enter(tagSequence, "PrivateKeyInfo")
	if err != nil {
		return false
	}
	if _, err := p.expect(tagInteger, "version"); err != nil {
		return false
	}
	if _, err := p.expect(tagSequence, "privateKeyAlgorithm"); err != nil {
		return false
	}
	_, err = p.expect(tagOctetString, "privateKey")
	return err == nil
}

// CertNames returns the issuer, subject and SubjectPublicKeyInfo of a
// certificate, as DER, without parsing the rest: enough to build chains
// cheaply and to pair certificates with keys.
func CertNames(cert []byte) (issuer, subject, spki []byte, err error) {
	p := newParser(cert, -1, "certificate")
	cp, err := p.enter(tagSequence, "certificate")
	if err != nil {
		return nil, nil, nil, err
	}
	tp, err := cp.enter(tagSequence, "tbsCertificate")
	if err != nil {
		return nil, nil, nil, err
	}
	if _, _, err := tp.optional(tagExplicit0, "version"); err != nil {
		return nil, nil, nil, err
	}
	if _, err := tp.expect(tagInteger, "serialNumber"); err != nil {
		return nil, nil, nil, err
	}
	if _, err := tp.expect(tagSequence, "signature"); err != nil {
		return nil, nil, nil, err
	}
	iss, err := tp.expect(tagSequence, "issuer")
	if err != nil {
		return nil, nil, nil, err
	}
	if _, err := tp.expect(tagSequence, "validity"); err != nil {
		return nil, nil, nil, err
	}
	sub, err := tp.expect(tagSequence, "subject")
	if err != nil {
		return nil, nil, nil, err
	}
	pk, err := tp.expect(tagSequence, "subjectPublicKeyInfo")
	if err != nil {
		return nil, nil, nil, err
	}
	return iss.full, sub.full, pk.full, nil
}

// --- encoding ---

// Attrs are the attributes to put on a new bag.
type Attrs struct {
	FriendlyName    string
	HasFriendlyName bool
	LocalKeyID      []byte
	JavaTrust       bool     // adds Java's trust attribute for anyExtendedKeyUsage
	Extra           [][]byte // further Attribute encodings, kept from a bag read earlier
}

func (a Attrs) node() *node {
	var elems [][]byte
	if a.HasFriendlyName {
		u := utf16.Encode([]rune(a.FriendlyName))
		bmp := make([]byte, 2*len(u))
		for i, c := range u {
			bmp[2*i], bmp[2*i+1] = byte(c>>8), byte(c)
		}
		elems = append(elems, consNode(tagSequence, oidNode(oidFriendlyName), consNode(tagSet, primNode(tagBMPString, bmp))).encode())
	}
	if a.LocalKeyID != nil {
		elems = append(elems, consNode(tagSequence, oidNode(oidLocalKeyID), consNode(tagSet, primNode(tagOctetString, a.LocalKeyID))).encode())
	}
	if a.JavaTrust {
		elems = append(elems, consNode(tagSequence, oidNode(oidJavaTrust), consNode(tagSet, oidNode(oidAnyExtendedKeyUsage))).encode())
	}
	elems = append(elems, a.Extra...)
	if len(elems) == 0 {
		return nil
	}
	return setNode(elems...)
}

func bagNode(oid []byte, value *node, a Attrs) []byte {
	b := consNode(tagSequence, oidNode(oid), consNode(tagExplicit0, value))
	if an := a.node(); an != nil {
		b.kids = append(b.kids, an)
	}
	return b.encode()
}

// NewCertBag returns a certBag holding an X.509 certificate.
func NewCertBag(cert []byte, a Attrs) []byte {
	v := consNode(tagSequence, oidNode(oidX509Certificate), consNode(tagExplicit0, primNode(tagOctetString, cert)))
	return bagNode(oidCertBag, v, a)
}

// NewShroudedKeyBag encrypts a PrivateKeyInfo and returns a
// pkcs8ShroudedKeyBag.
func NewShroudedKeyBag(pkcs8 []byte, a Attrs, params EncParams, password []byte, rand io.Reader) ([]byte, error) {
	alg, ct, err := Encrypt(params, password, rand, pkcs8)
	if err != nil {
		return nil, err
	}
	v := consNode(tagSequence, rawNode(alg), primNode(tagOctetString, ct))
	return bagNode(oidShroudedKeyBag, v, a), nil
}

// WithAttrs returns the bag raw re-encoded with its attributes replaced by
// a (nil Raw is allowed for nothing). The value is kept as it is.
func WithAttrs(b *Bag, a Attrs) []byte {
	return bagNode(b.TypeOID(), rawNode(b.Value()), a)
}

// ContentSpec is one element of the AuthenticatedSafe to write.
type ContentSpec struct {
	Bags [][]byte   // SafeBag encodings
	Enc  *EncParams // nil writes a data ContentInfo, unencrypted
}

// EncodeSpec is what Encode writes.
type EncodeSpec struct {
	Password []byte
	Rand     io.Reader
	Contents []ContentSpec
	MAC      MACParams
}

// Encode writes a PKCS #12 file in DER. It encodes the file once, into a
// buffer of its size: each bag is copied once, the encrypted SafeContents
// are encrypted where they are written, and the MAC is computed over the
// AuthenticatedSafe in place and its digest written into the MacData.
func Encode(s *EncodeSpec) ([]byte, error) {
	cis := make([]*node, 0, len(s.Contents))
	for _, c := range s.Contents {
		if c.Enc == nil {
			sc := &node{tag: tagSequence, cons: true, raws: c.Bags}
			cis = append(cis, consNode(tagSequence, oidNode(oidData), consNode(tagExplicit0, consNode(tagOctetString, sc))))
			continue
		}
		alg, b, iv, err := newSealer(*c.Enc, s.Password, s.Rand)
		if err != nil {
			return nil, err
		}
		ct := &node{tag: tagImplicit0, raws: c.Bags, seal: &sealing{b: b, iv: iv}}
		ed := consNode(tagSequence, intNode(0),
			consNode(tagSequence, oidNode(oidData), rawNode(alg), ct))
		cis = append(cis, consNode(tagSequence, oidNode(oidEncryptedData), consNode(tagExplicit0, ed)))
	}
	authSafe := consNode(tagSequence, cis...)
	pfx := consNode(tagSequence, intNode(3),
		consNode(tagSequence, oidNode(oidData), consNode(tagExplicit0, consNode(tagOctetString, authSafe))))
	var mw *macWriter
	if s.MAC.Kind != NoMAC {
		var err error
		if mw, err = newMACWriter(s.MAC, s.Password, s.Rand); err != nil {
			return nil, err
		}
		pfx.kids = append(pfx.kids, mw.node(make([]byte, mw.size())))
	}
	out := pfx.encode()
	if mw != nil {
		// The digest's place is found by reading the file back.
		msg, _, md, err := parsePFX(out, 0)
		if err != nil || md == nil || len(md.digest) != mw.size() {
			return nil, fmt.Errorf("pkcs12: the file written does not read back (%v)", err)
		}
		copy(md.digest, mw.md.sum(mw.key, msg))
	}
	return out, nil
}
