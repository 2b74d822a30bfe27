package keystore

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	p12 "github.com/certroll/certroll/keystore/internal/pkcs12"
)

// PKCS#12 support: the codec that reads and writes .p12/.pfx files as
// Java's PKCS12KeyStore sees them, and the encoder profiles.
//
// How entries are read (as keytool lists them):
//   - A key entry is a key bag (pkcs8ShroudedKeyBag or keyBag) and its
//     certificate chain. The leaf is the certificate bag with the key's
//     localKeyId; without one, the certificate holding the key's public key
//     (the key is then decrypted while the file is read, if the password
//     allows). The chain continues by issuer name through every
//     certificate in the file, preferring the certificate that follows,
//     as the writer of a chain puts it there.
//   - The alias is the key bag's friendlyName (a trailing NUL dropped). A
//     key or trusted certificate without one is named "1", "2", ... in
//     file order, as Java names it.
//   - A certificate carrying Java's trust attribute (OID
//     2.16.840.1.113894.746875.1.1) is a trusted-certificate entry.
//   - Certificates that belong to no key and carry no trust attribute are
//     kept and reported by [Store.OtherCertificates]; CRL bags, secret
//     bags, bag types the package does not know and entries hidden by a
//     later entry with the same alias are kept as they are and reported by
//     [Store.KeptBags]. All are written back on save.
//   - PKCS#12 has no creation date. Java stores it in the localKeyId
//     ("Time 1795667156962", milliseconds since 1970) and restores it from
//     there; so does this package. Otherwise an entry is dated when the
//     file is read (the store's clock), as Java dates it.
//
// Unlike Java, which ignores them, unencrypted keyBags (as OpenSSL writes
// with -keypbe NONE) are read as key entries.

// A Profile is a named, versioned set of PKCS#12 encoder parameters: how
// keys and certificates are encrypted and how the file's integrity is
// protected. A profile's parameters never change once published; new
// parameters get a new name. The zero Profile is not valid; use one of
// the presets, possibly adjusted with [Profile.WithIterations].
//
// A store keeps the profile of the file it was read from ("as read")
// unless the caller picks another with [Store.SetProfile]; a new
// store uses [Modern]. Use [Profile.ReadableBy]
// to check, before writing, that the receiver can open the file.
//
// Whatever the profile, Java's PKCS12KeyStore (JDK 17 and 21 at least)
// derives keys only from printable ASCII passwords: a file protected by
// "pässword" opens with OpenSSL and this package but not with keytool,
// which reports "Password is not ASCII". Use ASCII passwords for stores
// Java reads.
type Profile struct {
	name  string
	keys  p12.EncParams
	certs p12.EncParams // Cipher NoCipher: certificates are not encrypted
	mac   p12.MACParams
}

// saltLen is the salt length of the presets: 20 bytes, as Java writes.
const saltLen = 20

var modernEnc = p12.EncParams{Cipher: p12.PBES2AES256CBC, PRF: p12.SHA256, Iterations: 10000, SaltLen: saltLen}

// The presets.
var (
	// Modern2024 encrypts keys and certificates with PBES2 (PBKDF2 with
	// HMAC-SHA256, AES-256-CBC) and protects the file with an HMAC-SHA256
	// MAC, all with 10,000 iterations: what keytool writes since JDK 17
	// (and 12). Readers: Java 17 and 21 (and 12+, 11.0.12+, 8u301+),
	// OpenSSL 1.1.1 and 3.x, Windows 10 1709+ / Server 2019+, go-pkcs12.
	// Not Java 8 or 11 before those updates, nor Windows 7 / Server 2016.
	Modern2024 = Profile{
		name:  "Modern2024",
		keys:  modernEnc,
		certs: modernEnc,
		mac:   p12.MACParams{Kind: p12.HMAC, Hash: p12.SHA256, Iterations: 10000, SaltLen: saltLen},
	}

	// Modern is the recommended profile; today it is [Modern2024]. It
	// will move to a newer profile when recommendations change; use
	// Modern2024 to keep today's parameters.
	Modern = Modern2024

	// Legacy encrypts keys and certificates with
	// pbeWithSHAAnd3-KeyTripleDES-CBC and protects the file with an
	// HMAC-SHA1 MAC, 2,048 iterations (OpenSSL 1.1.1's default count).
	// Readers: every Java (8 included), OpenSSL 1.0 and later (3.x
	// without -legacy, since it uses no RC2), Windows 7 and later,
	// go-pkcs12. Use it only for receivers that cannot read Modern:
	// 3DES and SHA-1 are weak.
	Legacy = Profile{
		name:  "Legacy",
		keys:  p12.EncParams{Cipher: p12.PBEWithSHAAnd3KeyTripleDESCBC, Iterations: 2048, SaltLen: saltLen},
		certs: p12.EncParams{Cipher: p12.PBEWithSHAAnd3KeyTripleDESCBC, Iterations: 2048, SaltLen: saltLen},
		mac:   p12.MACParams{Kind: p12.HMAC, Hash: p12.SHA1, Iterations: 2048, SaltLen: saltLen},
	}

	// Passwordless writes certificates unencrypted and no MAC, as JDK 18+
	// writes cacerts: a truststore anyone can read without a password.
	// Keys, if the store has any, are still encrypted as in Modern2024
	// with the password given. Readers: Java 8 and later (JDK 18+ without
	// a password; older ones with any password), OpenSSL 1.1.1 and 3.x
	// (which warn that the MAC is absent), go-pkcs12 DecodeTrustStore.
	// Nothing protects the file's integrity: keep it where only trusted
	// people can write.
	Passwordless = Profile{
		name: "Passwordless",
		keys: modernEnc,
	}

	// PBMAC1 is Modern2024 with the MAC of RFC 9579: PBMAC1 with PBKDF2
	// (HMAC-SHA256, 10,000 iterations, 32-byte key) and HMAC-SHA256, the
	// integrity mode FIPS 140-3 accepts. Readers: OpenSSL 3.4 and later,
	// go-pkcs12 0.6+, Bouncy Castle 1.78+. Not Java 17 or 21, nor OpenSSL
	// before 3.4.
	PBMAC1 = Profile{
		name:  "PBMAC1",
		keys:  modernEnc,
		certs: modernEnc,
		mac:   p12.MACParams{Kind: p12.PBMAC1, Hash: p12.SHA256, KDFPRF: p12.SHA256, Iterations: 10000, SaltLen: saltLen, KeyLen: 32},
	}
)

var presets = []Profile{Modern2024, Legacy, Passwordless, PBMAC1}

// Name returns the name of the preset p is (or was derived from, by
// [Profile.WithIterations]), or "custom" for a profile read from a file
// that matches no preset.
func (p Profile) Name() string {
	if p.name == "" {
		return "custom"
	}
	return p.name
}

// String describes the profile: its name and parameters.
func (p Profile) String() string {
	var certs string
	if p.certs.Cipher == p12.NoCipher {
		certs = "not encrypted"
	} else {
		certs = p.certs.String()
	}
	return fmt.Sprintf("%s (keys: %v; certificates: %s; MAC: %v)", p.Name(), p.keys, certs, p.mac)
}

// WithIterations returns a copy of p that uses n iterations for every key
// derivation (keys, certificates and MAC). n must be between 1 and
// 5,000,000 (the JDK's limit); [Store.Marshal] refuses others.
func (p Profile) WithIterations(n int) Profile {
	p.keys.Iterations = n
	if p.certs.Cipher != p12.NoCipher {
		p.certs.Iterations = n
	}
	if p.mac.Kind != p12.NoMAC {
		p.mac.Iterations = n
	}
	return p
}

// check reports a profile the encoder must not write.
func (p Profile) check() error {
	if p.keys.Cipher == p12.NoCipher {
		return fmt.Errorf("keystore: PKCS#12 profile %s: no key encryption (use a preset)", p.Name())
	}
	if err := p.keys.Check(); err != nil {
		return fmt.Errorf("keystore: PKCS#12 profile %s, keys: %w", p.Name(), err)
	}
	if p.certs.Cipher != p12.NoCipher {
		if err := p.certs.Check(); err != nil {
			return fmt.Errorf("keystore: PKCS#12 profile %s, certificates: %w", p.Name(), err)
		}
	}
	if err := p.mac.Check(); err != nil {
		return fmt.Errorf("keystore: PKCS#12 profile %s, MAC: %w", p.Name(), err)
	}
	return nil
}

// sameParams reports whether two profiles write the same algorithms and
// iteration counts (salt lengths aside).
func sameParams(a, b Profile) bool {
	return sameEnc(a.keys, b.keys) && sameEnc(a.certs, b.certs) &&
		a.mac.Kind == b.mac.Kind && a.mac.Hash == b.mac.Hash && a.mac.KDFPRF == b.mac.KDFPRF &&
		a.mac.Iterations == b.mac.Iterations && a.mac.KeyLen == b.mac.KeyLen
}

func sameEnc(a, b p12.EncParams) bool {
	if a.Cipher != b.Cipher {
		return false
	}
	if a.Cipher == p12.NoCipher {
		return true
	}
	return a.Iterations == b.Iterations && (!a.Cipher.IsPBES2() || a.PRF == b.PRF)
}

// Reader is a program that reads PKCS#12 files, for [Profile.ReadableBy].
type Reader int

// Readers whose PKCS#12 support is known. A Java version means every
// update of it; OpenSSL 3.0 means 3.0 to 3.3.
const (
	Java8      Reader = iota + 1 // Java 8 (every update)
	Java11                       // Java 11 (every update)
	Java17                       // Java 17
	Java21                       // Java 21
	OpenSSL111                   // OpenSSL 1.1.1
	OpenSSL30                    // OpenSSL 3.0 to 3.3
	OpenSSL34                    // OpenSSL 3.4 and later
)

// String returns the reader's name, such as "Java 17".
func (r Reader) String() string {
	switch r {
	case Java8:
		return "Java 8"
	case Java11:
		return "Java 11"
	case Java17:
		return "Java 17"
	case Java21:
		return "Java 21"
	case OpenSSL111:
		return "OpenSSL 1.1.1"
	case OpenSSL30:
		return "OpenSSL 3.0"
	case OpenSSL34:
		return "OpenSSL 3.4+"
	}
	return "Reader(" + strconv.Itoa(int(r)) + ")"
}

func (r Reader) java() bool { return r >= Java8 && r <= Java21 }

// ReadableBy reports whether r can open files written with p, and why
// (or why not), so that a caller can warn before writing a file its
// receiver cannot open. The answer comes from each reader's documented
// and tested support: Java 17 and OpenSSL 3.0 are tested against the
// files this package writes; the others follow their release notes.
// It does not look at the password: Java also needs it to be printable
// ASCII (see [Profile]).
func (p Profile) ReadableBy(r Reader) (bool, string) {
	if r < Java8 || r > OpenSSL34 {
		return false, fmt.Sprintf("%v is not a known reader", r)
	}
	var ok []string
	for _, part := range []struct {
		what string
		enc  p12.EncParams
	}{{"keys", p.keys}, {"certificates", p.certs}} {
		if part.enc.Cipher == p12.NoCipher {
			continue
		}
		if yes, why := encReadable(part.enc, r); !yes {
			return false, fmt.Sprintf("%v cannot decrypt %s encrypted with %v: %s", r, part.what, part.enc.Cipher, why)
		} else if why != "" {
			ok = append(ok, why)
		}
	}
	if yes, why := macReadable(p.mac, r); !yes {
		return false, fmt.Sprintf("%v cannot check a %v: %s", r, p.mac, why)
	} else if why != "" {
		ok = append(ok, why)
	}
	if len(ok) == 0 {
		return true, fmt.Sprintf("%v reads every algorithm of %s", r, p.Name())
	}
	return true, fmt.Sprintf("%v reads %s: %s", r, p.Name(), strings.Join(ok, "; "))
}

// javaUpdate names the update that brought PBES2 and SHA-2 MACs to an
// older Java (the backport of JDK-8076190 and JDK-8153005).
func javaUpdate(r Reader) string {
	if r == Java8 {
		return "8u301"
	}
	return "11.0.12"
}

func encReadable(e p12.EncParams, r Reader) (bool, string) {
	switch e.Cipher {
	case p12.PBEWithSHAAnd3KeyTripleDESCBC:
		return true, ""
	case p12.PBEWithSHAAnd40BitRC2CBC, p12.PBEWithSHAAnd128BitRC2CBC:
		if r == OpenSSL30 || r == OpenSSL34 {
			return false, "RC2 is in OpenSSL 3's legacy provider, loaded only with -legacy"
		}
		return true, ""
	case p12.PBEWithSHAAnd2KeyTripleDESCBC:
		if r.java() {
			return false, "Java has no two-key triple DES PBE"
		}
		return true, ""
	}
	// PBES2.
	if r.java() {
		if e.Cipher != p12.PBES2AES128CBC && e.Cipher != p12.PBES2AES256CBC {
			return false, "Java's PBES2 reads AES-128 and AES-256 only"
		}
		switch e.PRF {
		case p12.SHA1, p12.SHA224, p12.SHA256, p12.SHA384, p12.SHA512:
		default:
			return false, fmt.Sprintf("Java's PBES2 has no PBKDF2-HMAC-%v", e.PRF)
		}
		if r == Java8 || r == Java11 {
			return false, fmt.Sprintf("PBES2 needs %s or later", javaUpdate(r))
		}
		return true, "PBES2 since JDK 12"
	}
	return true, ""
}

func macReadable(m p12.MACParams, r Reader) (bool, string) {
	switch m.Kind {
	case p12.NoMAC:
		if r.java() {
			return true, "no MAC (JDK 18+ opens it without a password, older Java with any)"
		}
		return true, "no MAC (openssl warns that it is absent)"
	case p12.PBMAC1:
		if r == OpenSSL34 {
			return true, "PBMAC1 since OpenSSL 3.4"
		}
		if r.java() {
			return false, "no Java release reads PBMAC1 (RFC 9579)"
		}
		return false, "PBMAC1 (RFC 9579) needs OpenSSL 3.4 or later"
	}
	if m.Hash == p12.SHA1 {
		return true, ""
	}
	if (r == Java8 || r == Java11) && m.Hash != p12.SHA1 {
		return false, fmt.Sprintf("MACs other than HMAC-SHA1 need %s or later", javaUpdate(r))
	}
	if r.java() {
		return true, fmt.Sprintf("HMAC-%v MACs since JDK 12", m.Hash)
	}
	return true, ""
}

// Profile returns the encoder profile the store will be written with: the
// one chosen with [Store.SetProfile], else the one the file was read
// with, else [Modern]. ok is false for a store that is not
// PKCS#12.
func (s *Store) Profile() (p Profile, ok bool) {
	c, isP12 := s.codec.(*pkcs12Codec)
	if !isP12 {
		return Profile{}, false
	}
	return c.profile, true
}

// SetProfile chooses the encoder profile the store is written with, in
// place of the one the file was read with. Keys read from the file are
// re-encrypted to match it when the store is marshalled, which needs their
// passwords. It fails for a store that is not PKCS#12, or for a profile
// the encoder refuses.
func (s *Store) SetProfile(p Profile) error {
	c, ok := s.codec.(*pkcs12Codec)
	if !ok {
		return fmt.Errorf("keystore: SetProfile: a %v store has no PKCS#12 profile", s.format)
	}
	if err := p.check(); err != nil {
		return err
	}
	c.profile, c.explicit = p, true
	return nil
}

// OtherCertificates returns the certificates the store's file holds that
// belong to no entry: not in any key entry's chain and without Java's
// trust attribute (keytool does not list them). They are kept and
// written back. A certificate Go cannot parse gives an error naming it.
func (s *Store) OtherCertificates() ([]*x509.Certificate, error) {
	c, ok := s.codec.(*pkcs12Codec)
	if !ok {
		return nil, nil
	}
	var out []*x509.Certificate
	n := 0
	for _, b := range c.kept {
		if !c.orphan[b] {
			continue
		}
		n++
		cert, err := x509.ParseCertificate(b.Cert)
		if err != nil {
			return nil, fmt.Errorf("keystore: PKCS#12 other certificate %d (%s): %w", n, pkcs12BagName(b), err)
		}
		out = append(out, cert)
	}
	return out, nil
}

// KeptBag describes a PKCS#12 bag that is not an entry but is kept and
// written back: a certificate of no entry, a CRL, a secret, a bag of a
// type the package does not know, or an entry hidden by a later one with
// the same alias.
type KeptBag struct {
	Type string // "certBag", "crlBag", "secretBag", "pkcs8ShroudedKeyBag", ... or the bag type's OID
	Name string // the friendlyName, if any
}

// KeptBags lists the bags the store keeps besides its entries, in file
// order. It is empty for a store that is not PKCS#12.
func (s *Store) KeptBags() []KeptBag {
	c, ok := s.codec.(*pkcs12Codec)
	if !ok {
		return nil
	}
	out := make([]KeptBag, 0, len(c.kept))
	for _, b := range c.kept {
		t := b.Type.String()
		if b.Type == p12.OtherBag {
			t = p12.OIDString(b.TypeOID)
		}
		out = append(out, KeptBag{Type: t, Name: b.FriendlyName})
	}
	return out
}

func pkcs12BagName(b *p12.Bag) string {
	if b.HasFriendlyName {
		return strconv.Quote(b.FriendlyName)
	}
	return "unnamed"
}

// pkcs12Codec reads and writes PKCS#12.
type pkcs12Codec struct {
	profile  Profile
	explicit bool // the caller chose the profile

	// kept are the bags that are not entries, in file order; orphan marks
	// the X.509 certificates among them that belong to no entry.
	kept   []*p12.Bag
	orphan map[*p12.Bag]bool

	// original is the file as read, returned by encode when nothing
	// changed, so that saving an untouched store rewrites it byte for byte.
	original []byte
	read     int // number of records read
}

// pkcs12Native is what a record read from a PKCS#12 file keeps.
type pkcs12Native struct {
	codec *pkcs12Codec
	key   *p12.Bag   // the key bag of a key entry
	chain []*p12.Bag // certificate bags, leaf first (a trusted entry's one)
	named bool       // the alias is the key's (or trusted cert's) friendlyName
}

func newPKCS12Codec() codec {
	return &pkcs12Codec{profile: Modern, orphan: map[*p12.Bag]bool{}}
}

// pkcs12Error turns an error of the internal codec into the package's.
func pkcs12Error(err error) error {
	var (
		fe *p12.FormatError
		le *p12.LimitError
		ue *p12.UnsupportedError
	)
	switch {
	case errors.As(err, &fe):
		return &MalformedError{Format: PKCS12, Offset: fe.Offset, Field: fe.Field, Detail: fe.Detail}
	case errors.As(err, &le):
		return fmt.Errorf("%w: PKCS#12 %s is %d; at most %d is accepted", ErrLimit, le.Field, le.Value, le.Max)
	case errors.As(err, &ue):
		return fmt.Errorf("%w: PKCS#12 %s: %s is not supported", ErrUnsupportedFormat, ue.Field, ue.What)
	case errors.Is(err, p12.ErrMAC):
		return fmt.Errorf("%w (the PKCS#12 MAC does not match)", ErrIncorrectPassword)
	case errors.Is(err, p12.ErrDecrypt):
		return fmt.Errorf("%w (%v)", ErrIncorrectPassword, err)
	case errors.Is(err, p12.ErrPasswordEncoding):
		return fmt.Errorf("%w: PKCS#12 passwords must be valid UTF-8", ErrPasswordEncoding)
	}
	return fmt.Errorf("keystore: PKCS#12: %w", err)
}

// certNode is a certificate bag during pairing.
type certNode struct {
	bag                   *p12.Bag
	bagIdx                int32 // position in the file's bags
	issuer, subject, spki []byte
	named                 bool // issuer, subject and spki were read
	used                  bool
}

// bytesIndex finds positions by a byte string (a subject, a localKeyId)
// without copying each string into a map key: reading a large store
// would otherwise allocate a copy of every name. Buckets are in
// insertion order; callers compare the bytes, as hashes may collide.
type bytesIndex struct {
	seed maphash.Seed
	m    map[uint64][]int32
}

func newBytesIndex(n int) bytesIndex {
	return bytesIndex{seed: maphash.MakeSeed(), m: make(map[uint64][]int32, n)}
}

func (x bytesIndex) add(key []byte, v int32) {
	h := maphash.Bytes(x.seed, key)
	x.m[h] = append(x.m[h], v)
}

func (x bytesIndex) get(key []byte) []int32 { return x.m[maphash.Bytes(x.seed, key)] }

// maxChain bounds the chains built by issuer name.
const maxChain = 32

// parsePKCS12 decodes a PKCS#12 file; see the notes at the top of the file.
func parsePKCS12(data, password []byte, o options) (*Store, error) {
	data = append([]byte(nil), data...)
	f, err := p12.Decode(data, password)
	if err != nil {
		return nil, pkcs12Error(err)
	}
	c := &pkcs12Codec{profile: detectProfile(f), orphan: map[*p12.Bag]bool{}, original: data}

	var certs []certNode
	certOf := make([]int32, len(f.Bags)) // bag -> certs index, or -1
	byID, bySubject, bySPKI := newBytesIndex(len(f.Bags)), newBytesIndex(len(f.Bags)), newBytesIndex(len(f.Bags))
	for i, b := range f.Bags {
		certOf[i] = -1
		if b.Cert == nil {
			continue
		}
		n := certNode{bag: b, bagIdx: int32(i)}
		ci := int32(len(certs))
		if iss, sub, spki, err := p12.CertNames(b.Cert); err == nil {
			n.issuer, n.subject, n.spki, n.named = iss, sub, spki, true
			bySubject.add(sub, ci)
			bySPKI.add(spki, ci)
		}
		if b.LocalKeyID != nil && !b.JavaTrust {
			byID.add(b.LocalKeyID, ci)
		}
		certOf[i] = ci
		certs = append(certs, n)
	}

	type parsed struct {
		r    *record
		bags []int32 // the entry's bags: its key bag, then its chain
	}
	var recs []parsed
	// Pairing keys by public key decrypts them; the work is charged to
	// what is left of the file's key-derivation budget (f.Work).
	unnamed := 0
	alias := func(b *p12.Bag) (string, bool) {
		if b.HasFriendlyName {
			return b.FriendlyName, true
		}
		unnamed++
		return strconv.Itoa(unnamed), false
	}
	for i, b := range f.Bags {
		switch {
		case b.Type == p12.KeyBag || b.Type == p12.ShroudedKeyBag:
			name, named := alias(b)
			r := &record{alias: name, kind: KeyEntry, created: pkcs12Created(b.LocalKeyID, o)}
			n := &pkcs12Native{codec: c, key: b, named: named}
			leaf := int32(-1)
			if b.LocalKeyID != nil {
				for _, ci := range byID.get(b.LocalKeyID) {
					if bytes.Equal(certs[ci].bag.LocalKeyID, b.LocalKeyID) {
						leaf = ci
						break
					}
				}
			}
			if leaf < 0 {
				leaf = pairByPublicKey(c, r, n, certs, bySPKI, password, o, f.Work)
			}
			bags := []int32{int32(i)}
			if leaf >= 0 {
				for _, ci := range buildChain(leaf, certs, bySubject) {
					cn := &certs[ci]
					cn.used = true
					n.chain = append(n.chain, cn.bag)
					r.chainDER = append(r.chainDER, cn.bag.Cert)
					bags = append(bags, cn.bagIdx)
				}
			}
			r.native = n
			recs = append(recs, parsed{r, bags})
		case b.Cert != nil && b.JavaTrust:
			name, named := alias(b)
			certs[certOf[i]].used = true
			recs = append(recs, parsed{&record{alias: name, kind: TrustedEntry, created: pkcs12Created(b.LocalKeyID, o),
				chainDER: [][]byte{b.Cert}, native: &pkcs12Native{codec: c, chain: []*p12.Bag{b}, named: named}}, []int32{int32(i)}})
		}
	}
	// Java keeps the last of several entries with one alias; the others
	// are kept as bags, so that nothing is lost on save.
	seen := make(map[string]int, len(recs))
	for i, p := range recs {
		if j, dup := seen[fold(p.r.alias)]; dup {
			recs[j].r = nil
		}
		seen[fold(p.r.alias)] = i
	}
	inEntry := make([]bool, len(f.Bags))
	out := make([]*record, 0, len(recs))
	for _, p := range recs {
		if p.r == nil {
			continue
		}
		for _, bi := range p.bags {
			inEntry[bi] = true
		}
		out = append(out, p.r)
	}
	for i, b := range f.Bags {
		if inEntry[i] {
			continue
		}
		c.kept = append(c.kept, b)
		if ci := certOf[i]; ci >= 0 && !certs[ci].used && !b.JavaTrust {
			c.orphan[b] = true
		}
	}
	c.read = len(out)
	return &Store{recs: out, codec: c}, nil
}

// pkcs12Created returns an entry's creation date: Java's "Time <millis>"
// localKeyId if present, else the store's clock.
func pkcs12Created(id []byte, o options) time.Time {
	if ms, ok := bytes.CutPrefix(id, []byte("Time ")); ok {
		if v, err := strconv.ParseInt(string(ms), 10, 64); err == nil && v > 0 {
			return time.UnixMilli(v).UTC()
		}
	}
	return o.now()
}

// pairByPublicKey finds the leaf of a key without a matching localKeyId:
// the first certificate holding the key's public key (one without Java's
// trust attribute preferred). The key is decrypted for that with the
// alias's key password or the store password; if that fails (or the
// file's budget of key derivations is spent) the entry has no chain, as in
// Java.
func pairByPublicKey(c *pkcs12Codec, r *record, n *pkcs12Native, certs []certNode, bySPKI bytesIndex, password []byte, o options, w *p12.Work) int32 {
	if len(certs) == 0 {
		return -1
	}
	pw := password
	if kp, ok := o.keyPasswords[fold(r.alias)]; ok {
		pw = kp
	}
	key, err := c.unsealBagWithin(r.alias, n.key, pw, w)
	if err != nil {
		return -1
	}
	spki, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return -1
	}
	found := int32(-1)
	for _, i := range bySPKI.get(spki) { // in file order
		cn := &certs[i]
		if cn.named && bytes.Equal(cn.spki, spki) {
			if !cn.bag.JavaTrust {
				found = i
				break
			}
			if found < 0 {
				found = i
			}
		}
	}
	if found >= 0 {
		r.key = key
	}
	return found
}

// buildChain follows issuer names from leaf through the file's
// certificates (indices into certs). Among certificates with the right
// subject it takes the nearest one after the current certificate (writers
// put a chain in order), else the first; it stops at a self-issued
// certificate, a missing issuer, a loop or maxChain certificates.
func buildChain(leaf int32, certs []certNode, bySubject bytesIndex) []int32 {
	chain := []int32{leaf}
	cur := leaf
	for len(chain) < maxChain && certs[cur].named && !bytes.Equal(certs[cur].issuer, certs[cur].subject) {
		issuer := certs[cur].issuer
		cands := bySubject.get(issuer) // in file order
		usable := func(ci int32) bool { return bytes.Equal(certs[ci].subject, issuer) && !slices.Contains(chain, ci) }
		pick := int32(-1)
		after, _ := slices.BinarySearch(cands, cur+1)
		for _, ci := range cands[after:] {
			if usable(ci) {
				pick = ci
				break
			}
		}
		if pick < 0 {
			for _, ci := range cands[:after] {
				if usable(ci) {
					pick = ci
					break
				}
			}
		}
		if pick < 0 {
			break
		}
		chain = append(chain, pick)
		cur = pick
	}
	return chain
}

// detectProfile describes how f was written, so that saving it again
// writes it the same way.
func detectProfile(f *p12.File) Profile {
	p := Profile{mac: f.MAC}
	for _, c := range f.Contents {
		if c.Encrypted {
			p.certs = c.Alg.EncParams
			break
		}
	}
	for _, b := range f.Bags {
		if b.Type == p12.ShroudedKeyBag && b.KeyAlg != nil {
			p.keys = b.KeyAlg.EncParams
			break
		}
	}
	if p.keys.Cipher == p12.NoCipher {
		// No encrypted key to copy: new keys are never written in the
		// clear, so take the certificates' encryption or Modern's.
		p.keys = p.certs
		if p.keys.Cipher == p12.NoCipher {
			p.keys = modernEnc
		}
	}
	// Salts shorter than 8 bytes are too weak to copy.
	for _, e := range []*p12.EncParams{&p.keys, &p.certs} {
		if e.Cipher != p12.NoCipher && e.SaltLen < 8 {
			e.SaltLen = saltLen
		}
	}
	if p.mac.Kind != p12.NoMAC && p.mac.SaltLen < 8 {
		p.mac.SaltLen = saltLen
	}
	for _, pre := range presets {
		if sameParams(p, pre) {
			p.name = pre.name
			break
		}
	}
	return p
}

// unseal decrypts the key of a record read from a file.
func (c *pkcs12Codec) unseal(r *record, password []byte) (crypto.Signer, error) {
	n, ok := r.native.(*pkcs12Native)
	if !ok || n.key == nil {
		return nil, fmt.Errorf("keystore: PKCS#12 alias %q has no key bag", r.alias)
	}
	return c.unsealBag(r.alias, n.key, password)
}

func (c *pkcs12Codec) unsealBag(alias string, b *p12.Bag, password []byte) (crypto.Signer, error) {
	return c.unsealBagWithin(alias, b, password, nil)
}

// unsealBagWithin is unsealBag charging the key derivations to w (nil is
// unlimited): reading a file pairs keys with the file's budget.
func (c *pkcs12Codec) unsealBagWithin(alias string, b *p12.Bag, password []byte, w *p12.Work) (crypto.Signer, error) {
	der, err := b.DecryptKeyWithin(password, w)
	if err != nil {
		if errors.Is(err, p12.ErrDecrypt) {
			return nil, fmt.Errorf("%w: PKCS#12 alias %q: the key does not decrypt with the password given (%v)", ErrIncorrectPassword, alias, b.KeyAlg.Cipher)
		}
		return nil, fmt.Errorf("keystore: PKCS#12 alias %q: %w", alias, pkcs12Error(err))
	}
	return parsePrivateKey(PKCS12, alias, der)
}

// keepsSealed reports false: a renamed entry's key bag is written anew.
func (c *pkcs12Codec) keepsSealed() bool { return false }

// untouched reports whether r is written from what this codec read.
func (c *pkcs12Codec) untouched(r *record) bool {
	if r.changed {
		return false
	}
	n, ok := r.native.(*pkcs12Native)
	return ok && n.codec == c
}

// encode writes the store with c.profile. Untouched entries are written
// from the bags read (their keys stay sealed as they were, unless the
// password or the chosen profile requires re-encrypting them); new and
// changed entries get a friendlyName (the alias) and a localKeyId
// ("Time <millis>", as Java writes) on the key bag and the leaf
// certificate bag, and trusted certificates Java's trust attribute.
// Keys go into an unencrypted SafeContents (each key is encrypted) and
// certificates into one encrypted as the profile says, as keytool does.
func (c *pkcs12Codec) encode(s *Store, password []byte) ([]byte, error) {
	prof := c.profile
	if err := prof.check(); err != nil {
		return nil, err
	}
	if c.original != nil && !c.explicit && bytes.Equal(password, s.password) && len(s.recs) == c.read {
		same := true
		for _, r := range s.recs {
			if !c.untouched(r) {
				same = false
				break
			}
		}
		if same {
			return append([]byte(nil), c.original...), nil
		}
	}

	rnd := s.opts.rand()
	// localKeyIds of bags written as read, so that new ones differ.
	ids := map[string]bool{}
	note := func(b *p12.Bag) {
		if b != nil && b.LocalKeyID != nil {
			ids[string(b.LocalKeyID)] = true
		}
	}
	for _, r := range s.recs {
		if n, ok := r.native.(*pkcs12Native); ok && n.codec == c {
			note(n.key)
			for _, b := range n.chain {
				note(b)
			}
		}
	}
	for _, b := range c.kept {
		note(b)
	}

	var keyBags, certBags, secretBags [][]byte
	seen := map[string]bool{}
	addCert := func(b []byte) {
		if !seen[string(b)] {
			seen[string(b)] = true
			certBags = append(certBags, b)
		}
	}
	// A chain read from a file may run through a trusted entry's
	// certificate (Java builds chains through every certificate). While
	// that entry is written as read, its bag is written in its place;
	// otherwise the chain gets a copy of the certificate without the
	// entry's name and trust.
	trustedAsRead := map[*p12.Bag]bool{}
	for _, r := range s.recs {
		if r.kind == TrustedEntry && c.untouched(r) {
			trustedAsRead[r.native.(*pkcs12Native).chain[0]] = true
		}
	}
	addChainBag := func(b *p12.Bag) {
		switch {
		case !b.JavaTrust:
			addCert(b.Raw)
		case !trustedAsRead[b]:
			addCert(p12.NewCertBag(b.Cert, p12.Attrs{}))
		}
	}
	// Entries hidden by a later entry with the same alias go first, so
	// that the later one still wins when the file is read again.
	hidden := func(b *p12.Bag) bool {
		return b.Type == p12.KeyBag || b.Type == p12.ShroudedKeyBag || (b.Cert != nil && b.JavaTrust)
	}
	for _, b := range c.kept {
		switch {
		case b.Type == p12.KeyBag || b.Type == p12.ShroudedKeyBag:
			keyBags = append(keyBags, b.Raw)
		case hidden(b):
			addCert(b.Raw)
		}
	}
	for _, r := range s.recs {
		n, _ := r.native.(*pkcs12Native)
		if n != nil && n.codec != c {
			n = nil
		}
		if r.kind == TrustedEntry {
			if c.untouched(r) {
				addCert(c.named(r, n.chain[0]))
				continue
			}
			a := p12.Attrs{FriendlyName: r.alias, HasFriendlyName: true, JavaTrust: true}
			if n != nil {
				a.Extra = extraAttrs(n.chain[0], false)
				a.JavaTrust = !n.chain[0].JavaTrust
			}
			addCert(p12.NewCertBag(r.chainDER[0], a))
			continue
		}
		kb, id, err := c.keyBag(s, r, n, password, prof, rnd, ids)
		if err != nil {
			return nil, err
		}
		keyBags = append(keyBags, kb)
		if c.untouched(r) {
			for _, b := range n.chain {
				addChainBag(b)
			}
			continue
		}
		for i, der := range r.chainDER {
			if i > 0 && n != nil && i < len(n.chain) && bytes.Equal(n.chain[i].Cert, der) {
				addChainBag(n.chain[i])
				continue
			}
			var a p12.Attrs
			if i == 0 {
				a = p12.Attrs{FriendlyName: r.alias, HasFriendlyName: true, LocalKeyID: id}
				if n != nil && len(n.chain) > 0 {
					a.Extra = extraAttrs(n.chain[0], true)
				}
			}
			addCert(p12.NewCertBag(der, a))
		}
	}
	for _, b := range c.kept {
		switch {
		case hidden(b):
			// Written first, above.
		case b.Cert != nil || b.Type == p12.CertBag || b.Type == p12.CRLBag:
			addCert(b.Raw)
		case !b.Encrypted:
			keyBags = append(keyBags, b.Raw)
		case prof.certs.Cipher != p12.NoCipher:
			// Read encrypted; the certificates' SafeContents is too.
			certBags = append(certBags, b.Raw)
		default:
			secretBags = append(secretBags, b.Raw)
		}
	}

	spec := &p12.EncodeSpec{Password: password, Rand: rnd, MAC: prof.mac}
	if len(keyBags) > 0 {
		spec.Contents = append(spec.Contents, p12.ContentSpec{Bags: keyBags})
	}
	if len(certBags) > 0 {
		cs := p12.ContentSpec{Bags: certBags}
		if prof.certs.Cipher != p12.NoCipher {
			e := prof.certs
			cs.Enc = &e
		}
		spec.Contents = append(spec.Contents, cs)
	}
	if len(secretBags) > 0 {
		e := prof.keys
		spec.Contents = append(spec.Contents, p12.ContentSpec{Bags: secretBags, Enc: &e})
	}
	out, err := p12.Encode(spec)
	if err != nil {
		return nil, pkcs12Error(err)
	}
	return out, nil
}

// named returns the encoding of an untouched entry's bag b. An entry Java
// named by counting ("1", "2", ...) gets its alias as friendlyName, so
// that keytool lists it under the same alias whatever the new order.
func (c *pkcs12Codec) named(r *record, b *p12.Bag) []byte {
	if r.native.(*pkcs12Native).named {
		return b.Raw
	}
	a := p12.Attrs{FriendlyName: r.alias, HasFriendlyName: true}
	for _, at := range b.Attrs {
		a.Extra = append(a.Extra, at.Raw)
	}
	return p12.WithAttrs(b, a)
}

// extraAttrs returns the attributes of b other than friendlyName and
// localKeyId (and Java's trust attribute when dropTrust), to carry over
// to a renamed entry.
func extraAttrs(b *p12.Bag, dropTrust bool) [][]byte {
	var out [][]byte
	for _, a := range b.Attrs {
		if a.IsFriendlyName() || a.IsLocalKeyID() || (dropTrust && a.IsJavaTrust()) {
			continue
		}
		out = append(out, a.Raw)
	}
	return out
}

// keyBag returns the key bag of key entry r and its localKeyId.
func (c *pkcs12Codec) keyBag(s *Store, r *record, n *pkcs12Native, password []byte, prof Profile, rnd io.Reader, ids map[string]bool) ([]byte, []byte, error) {
	keyPass, perEntry := s.opts.keyPasswords[fold(r.alias)]
	if !perEntry {
		keyPass = password
	}
	if c.untouched(r) && c.keepSealed(s, n.key, perEntry, password, prof) {
		return c.named(r, n.key), n.key.LocalKeyID, nil
	}
	key, err := s.key(r)
	if err != nil {
		return nil, nil, err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("keystore: PKCS#12 alias %q: cannot export the %T to PKCS #8: %w", r.alias, key, err)
	}
	var (
		a  p12.Attrs
		id []byte
	)
	if c.untouched(r) {
		// Only re-encrypted: the bag keeps its attributes.
		for _, at := range n.key.Attrs {
			a.Extra = append(a.Extra, at.Raw)
		}
		if !n.named {
			a.FriendlyName, a.HasFriendlyName = r.alias, true
		}
		id = n.key.LocalKeyID
	} else {
		a = p12.Attrs{FriendlyName: r.alias, HasFriendlyName: true}
		if n != nil {
			// Renamed: keep its other attributes and its localKeyId.
			a.Extra = extraAttrs(n.key, false)
			id = n.key.LocalKeyID
		}
		if id == nil {
			id = newLocalKeyID(r.created, ids)
		}
		a.LocalKeyID = id
	}
	bag, err := p12.NewShroudedKeyBag(pkcs8, a, prof.keys, keyPass, rnd)
	if err != nil {
		return nil, nil, fmt.Errorf("keystore: PKCS#12 alias %q: %w", r.alias, pkcs12Error(err))
	}
	return bag, id, nil
}

// keepSealed reports whether an untouched key bag can be written as it
// was read: it is encrypted with the password it will be read with, and
// with the chosen profile's algorithm if the caller chose one. Keys in a
// scheme the package cannot decrypt are always kept as they are.
func (c *pkcs12Codec) keepSealed(s *Store, b *p12.Bag, perEntry bool, password []byte, prof Profile) bool {
	if b.Type == p12.KeyBag {
		return !c.explicit
	}
	if b.KeyAlg == nil {
		return true
	}
	if !perEntry && !bytes.Equal(password, s.password) {
		return false
	}
	return !c.explicit || sameEnc(b.KeyAlg.EncParams, prof.keys)
}

// newLocalKeyID returns Java's localKeyId for an entry created at t,
// "Time <millis>", moved on by a millisecond while another bag has it.
func newLocalKeyID(t time.Time, ids map[string]bool) []byte {
	ms := t.UnixMilli()
	for {
		id := "Time " + strconv.FormatInt(ms, 10)
		if !ids[id] {
			ids[id] = true
			return []byte(id)
		}
		ms++
	}
}
