package keystore

import (
	"bytes"
	"cmp"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"slices"
	"strconv"
	"time"

	p12 "github.com/certroll/certroll/keystore/internal/pkcs12"
)

// The PKCS#12 codec: it reads and writes .p12/.pfx files as Java's
// PKCS12KeyStore sees them (the rules are in the package documentation,
// under "PKCS#12"), with the encoder parameters of a [Profile].

// pkcs12Codec reads and writes PKCS#12.
type pkcs12Codec struct {
	profile  Profile
	explicit bool // the caller chose the profile

	// kept are the bags that are not entries, in file order; orphan marks
	// the X.509 certificates among them that belong to no entry. Both are
	// filled by resolve.
	kept   []*p12.Bag
	orphan map[*p12.Bag]bool

	// original is the buffer the file was read into, returned by encode
	// when nothing changed, so that saving an untouched store rewrites it
	// byte for byte. Its encrypted SafeContents were decrypted where they
	// are (p12.DecodeInPlace: the bags read from them are pieces of it);
	// sealed encrypts them again in a copy (nil when none was).
	original []byte
	sealed   *p12.Sealed
	read     int // number of records read

	// lazy is what building the chains of the entries read needs, until
	// resolve has built them all and filled kept and orphan.
	lazy *pkcs12Lazy

	// certs are the file's certificate bags (certIndex.certs) and
	// chainIdx the chains of the entries read, as indices into certs,
	// one after another: a native keeps its chain's place in chainIdx
	// (pkcs12Native.at and n), 5 bytes instead of a slice of bags and
	// one of indices (48 bytes).
	certs    []certNode
	chainIdx []int32
}

// pkcs12Native is what a record read from a PKCS#12 file keeps.
type pkcs12Native struct {
	codec *pkcs12Codec
	key   *p12.Bag // the key bag of a key entry
	// The certificate bags, leaf first (a trusted entry's one), are
	// codec.chainIdx[at:at+n], indices in the file's certificates
	// (codec.certs); n is 0 until the chain is built (see buildChain).
	at    int32
	leaf  int32 // a key entry's leaf among them, or -1
	n     uint8 // at most maxChain
	named bool  // the alias is the key's (or trusted cert's) friendlyName
	live  bool  // scratch of encodeAsRead: an untouched record of the store has it
}

// idx returns the indices of n's certificates in the file's
// certificates, leaf first, or nil before the chain is built.
func (n *pkcs12Native) idx() []int32 {
	if n.n == 0 {
		return nil
	}
	return n.codec.chainIdx[n.at : n.at+int32(n.n) : n.at+int32(n.n)]
}

// chainLen returns the number of n's certificate bags (0 before the
// chain is built).
func (n *pkcs12Native) chainLen() int { return int(n.n) }

// chain returns n's i-th certificate bag, the leaf (or a trusted entry's
// certificate) first.
func (n *pkcs12Native) chain(i int) *p12.Bag {
	return n.codec.certs[n.codec.chainIdx[n.at+int32(i)]].bag
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
		return &MalformedError{Index: -1, Format: PKCS12, Offset: fe.Offset, Field: fe.Field, detail: fe.Detail}
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
	bag    *p12.Bag
	bagIdx int32 // position in the file's bags
	used   bool
}

// certNames are a certificate's names, read for building chains
// (certIndex.readNames).
type certNames struct {
	issuer, subject, spki []byte
	named                 bool // issuer, subject and spki were read
}

// bytesIndex finds positions by a byte string (a subject, a localKeyId)
// without copying each string into a map key: reading a large store
// would otherwise allocate a copy of every name. It is a hash table of
// at least as many buckets as positions (a power of two), each the list
// of the positions added with a hash that falls in it, in insertion
// order (first, then next[v]): adding one allocates nothing, and the
// table is 8 bytes a bucket where a map of the hashes took about twice
// as much. Callers compare the bytes, as the positions of one bucket
// have different keys when their hashes fall together. Each position is
// added at most once.
type bytesIndex struct {
	seed    maphash.Seed
	buckets []indexSpan
	next    []int32 // position -> the next one added in its bucket, or -1
}

// indexSpan is the first and the last position added in one bucket,
// each plus one: the zero indexSpan is an empty bucket.
type indexSpan struct{ first, last int32 }

// newBytesIndex returns an index of positions 0..n-1.
func newBytesIndex(n int) *bytesIndex {
	b := 1
	for b < n {
		b <<= 1
	}
	return &bytesIndex{seed: maphash.MakeSeed(), buckets: make([]indexSpan, b), next: make([]int32, n)}
}

func (x *bytesIndex) bucket(key []byte) *indexSpan {
	return &x.buckets[maphash.Bytes(x.seed, key)&uint64(len(x.buckets)-1)]
}

func (x *bytesIndex) add(key []byte, v int32) {
	x.next[v] = -1
	sp := x.bucket(key)
	if sp.last != 0 {
		x.next[sp.last-1] = v
		sp.last = v + 1
		return
	}
	*sp = indexSpan{v + 1, v + 1}
}

// first returns the first position added in key's bucket, or -1; the
// others follow through next.
func (x *bytesIndex) first(key []byte) int32 {
	return x.bucket(key).first - 1
}

// maxChain bounds the chains built by issuer name.
const maxChain = 32

// parsePKCS12 decodes a PKCS#12 file; see the notes at the top of the
// file. The store does not keep data: it decodes a copy.
func parsePKCS12(data, password []byte, o options) (*Store, error) {
	return decodePKCS12(bytes.Clone(data), password, o)
}

// decodePKCS12 is parsePKCS12 on a buffer the store may keep (the
// caller does not change it afterwards): the bags that are written back
// as read and the file itself, for a save with nothing changed, are
// pieces of it.
//
// Keys are paired with their leaf certificates by localKeyId, which
// reads no certificate; the chains (built by issuer name, which reads
// the names of every certificate) and the bags that are not entries are
// found when first needed (pkcs12Native.buildChain, pkcs12Codec.resolve).
func decodePKCS12(data, password []byte, o options) (*Store, error) {
	// The certificates are decrypted in data, not in a copy of them:
	// opening a large file holds it once. On error data is as it was.
	f, err := p12.DecodeInPlace(data, password)
	if err != nil {
		return nil, pkcs12Error(err)
	}
	c := &pkcs12Codec{profile: detectProfile(f), orphan: map[*p12.Bag]bool{}, original: data, sealed: f.Sealed}

	ix := indexCerts(f.Bags)
	certs := ix.certs
	c.certs = certs

	// The entries' records and natives come from blocks sized for the
	// file: a store of 10,000 keys would otherwise allocate small objects
	// per entry.
	entries := 0
	for _, b := range f.Bags {
		if pkcs12KeyBag(b) || pkcs12TrustedBag(b) {
			entries++
		}
	}
	recSlab := make([]record, entries)
	natSlab := make([]pkcs12Native, entries)
	l := &pkcs12Lazy{codec: c, bags: f.Bags, ix: ix, entries: entries}
	c.lazy = l

	recs := make([]entryRead, 0, entries)
	var names pkcs12Names
	for i, b := range f.Bags {
		switch {
		case pkcs12KeyBag(b):
			name, named := names.of(b)
			r, n := &recSlab[len(recs)], &natSlab[len(recs)]
			*r = record{alias: name, kind: KeyEntry, created: pkcs12Created(b.LocalKeyID(), o)}
			*n = pkcs12Native{codec: c, key: b, named: named, leaf: -1}
			leaf := int32(-1)
			if b.LocalKeyID() != nil {
				for ci := ix.byID.first(b.LocalKeyID()); ci >= 0; ci = ix.byID.next[ci] {
					if bytes.Equal(certs[ci].bag.LocalKeyID(), b.LocalKeyID()) {
						leaf = ci
						break
					}
				}
			}
			if leaf < 0 {
				// Pairing by public key decrypts the key; the work is
				// charged to what is left of the file's budget (f.Work).
				leaf = pairByPublicKey(c, r, n, ix, password, o, f.Work)
			}
			n.leaf = leaf
			r.chainPending = leaf >= 0
			r.native = n
			recs = append(recs, entryRead{bag: int32(i)})
		case pkcs12TrustedBag(b):
			name, named := names.of(b)
			r, n := &recSlab[len(recs)], &natSlab[len(recs)]
			*n = pkcs12Native{codec: c, named: named, leaf: -1}
			*r = record{alias: name, kind: TrustedEntry, created: pkcs12Created(b.LocalKeyID(), o), native: n}
			l.scratch = append(l.scratch[:0], ix.of(int32(i)))
			r.chainDER = l.carve(n, l.scratch) // marks it used
			recs = append(recs, entryRead{bag: int32(i)})
		}
	}
	// Java keeps the last of several entries with one alias; the others
	// are kept as bags (resolve), so that nothing is lost on save.
	// The map of the aliases seen is the store's index (Store.find) when
	// no alias is hidden, and parse does not dedupe PKCS#12 again.
	seen := make(map[string]int, len(recs))
	hidden := false
	for i := range recs {
		f := fold(recSlab[i].alias)
		if j, dup := seen[f]; dup {
			recs[j].hidden, hidden = true, true
		}
		seen[f] = i
	}
	out := make([]*record, 0, len(recs))
	for i, p := range recs {
		if !p.hidden {
			out = append(out, &recSlab[i])
		}
	}
	if hidden {
		clear(seen)
		for i, r := range out {
			seen[fold(r.alias)] = i
		}
	}
	l.recs, l.recSlab = recs, recSlab
	c.read = len(out)
	return &Store{recs: out, codec: c, index: seen}, nil
}

// pkcs12Lazy is what finding the key entries' chains and the bags that
// are not entries needs, kept by the codec until every chain is built.
type pkcs12Lazy struct {
	codec *pkcs12Codec
	bags  []*p12.Bag
	ix    *certIndex
	// recs are the entries read, the hidden ones too, in file order;
	// recSlab their records, by the same index (see entry).
	recs    []entryRead
	recSlab []record
	entries int // len(recs), for sizing the blocks

	// The chains' DER come from blocks: a store of 10,000 keys would
	// otherwise allocate a small slice per entry.
	derSlab [][]byte
	scratch []int32
}

// carve makes chain (certificate indices, at most maxChain) native n's,
// appended to the codec's chainIdx, marks its certificates used and
// returns their DER, from the blocks.
func (l *pkcs12Lazy) carve(n *pkcs12Native, chain []int32) [][]byte {
	k := len(chain)
	c := l.codec
	if c.chainIdx == nil {
		c.chainIdx = make([]int32, 0, max(k, 2*l.entries, 64))
	}
	if cap(l.derSlab)-len(l.derSlab) < k {
		l.derSlab = make([][]byte, 0, max(k, 2*l.entries, 64))
	}
	n.at, n.n = int32(len(c.chainIdx)), uint8(k)
	c.chainIdx = append(c.chainIdx, chain...)
	i := len(l.derSlab)
	for _, ci := range chain {
		cn := &l.ix.certs[ci]
		cn.used = true
		l.derSlab = append(l.derSlab, cn.bag.Cert())
	}
	return l.derSlab[i : i+k : i+k]
}

// buildChain finds the chain of key entry r, read from a file, from its
// leaf by issuer name: on first use of the chain, or when the codec
// needs every chain (resolve).
func (n *pkcs12Native) buildChain(r *record) {
	r.chainPending = false
	l := n.codec.lazy
	if l == nil || n.leaf < 0 {
		return // cannot happen: resolve builds every pending chain first
	}
	l.ix.readNames()
	l.scratch = buildChain(n.leaf, l.ix.names, l.ix.bySubject, l.scratch)
	r.chainDER = l.carve(n, l.scratch)
}

// resolve builds every chain not built yet and sorts the bags that are
// not entries into c.kept and c.orphan. Everything that reads c.kept
// calls it first; a store read from a file that is only listed or
// searched never does.
func (c *pkcs12Codec) resolve() {
	l := c.lazy
	if l == nil {
		return
	}
	for i := range l.recs {
		if p := l.entry(i); p.r.chainPending {
			p.r.native.(*pkcs12Native).buildChain(p.r)
		}
	}
	certs := l.ix.certs
	inEntry := make([]bool, len(l.bags))
	for i := range l.recs {
		p := l.entry(i)
		if p.hidden {
			continue
		}
		inEntry[p.bag] = true
		for _, ci := range p.r.native.(*pkcs12Native).idx() {
			inEntry[certs[ci].bagIdx] = true
		}
	}
	ci := 0 // the first certificate at bag i or after (certs are in bag order)
	for i, b := range l.bags {
		for ci < len(certs) && int(certs[ci].bagIdx) < i {
			ci++
		}
		if inEntry[i] {
			continue
		}
		c.kept = append(c.kept, b)
		if ci < len(certs) && int(certs[ci].bagIdx) == i && !certs[ci].used && !b.JavaTrust {
			c.orphan[b] = true
		}
	}
	c.lazy = nil
}

// pkcs12KeyBag and pkcs12TrustedBag tell the bags that are entries: a key
// bag is a key entry, a certificate bag with Java's trust attribute a
// trusted entry; every other bag is kept, not listed.
func pkcs12KeyBag(b *p12.Bag) bool { return b.Type == p12.KeyBag || b.Type == p12.ShroudedKeyBag }

func pkcs12TrustedBag(b *p12.Bag) bool { return b.Cert() != nil && b.JavaTrust }

// pkcs12Names names the entries of a file in bag order, as keytool does:
// by friendlyName, or else by number among the unnamed entries ("1",
// "2", ...). Parsing and Update's read-back check both name them so.
type pkcs12Names struct{ unnamed int }

// of returns entry bag b's alias and whether it is its friendlyName.
func (n *pkcs12Names) of(b *p12.Bag) (string, bool) {
	if b.HasFriendlyName() {
		return b.FriendlyName(), true
	}
	n.unnamed++
	return strconv.Itoa(n.unnamed), false
}

// entryRead is what pkcs12Lazy keeps of an entry read beside its
// record: a parsedEntry without the pointer, which is the record's place
// in recSlab (8 bytes an entry, not 16).
type entryRead struct {
	bag    int32
	hidden bool
}

// entry returns the i-th entry read.
func (l *pkcs12Lazy) entry(i int) parsedEntry {
	e := l.recs[i]
	return parsedEntry{r: &l.recSlab[i], bag: e.bag, hidden: e.hidden}
}

// parsedEntry is an entry found while reading a file.
type parsedEntry struct {
	r      *record
	bag    int32 // its key bag (or trusted certificate bag) in the file's bags
	hidden bool  // a later entry has its alias
}

// certIndex holds a file's certificate bags for pairing keys with their
// chains.
type certIndex struct {
	certs []certNode  // in bag order (see of)
	names []certNames // by certs index; nil until readNames
	// byID finds certificates by localKeyId (those without Java's trust
	// attribute); bySubject, by subject, is built with the first chain
	// (readNames) and bySPKI, by public key, when a key without a
	// matching localKeyId needs it.
	byID, bySubject, bySPKI *bytesIndex
}

// of returns the certs index of the file's bag i, or -1 when it is not
// a certificate's: certs are in bag order, and a table of every bag's
// would be 8 bytes an entry.
func (ix *certIndex) of(i int32) int32 {
	ci, ok := slices.BinarySearchFunc(ix.certs, i, func(cn certNode, i int32) int { return cmp.Compare(cn.bagIdx, i) })
	if !ok {
		return -1
	}
	return int32(ci)
}

// indexCerts indexes the certificate bags among bags.
func indexCerts(bags []*p12.Bag) *certIndex {
	n := 0
	for _, b := range bags {
		if b.Cert() != nil {
			n++
		}
	}
	ix := &certIndex{certs: make([]certNode, 0, n), byID: newBytesIndex(n)}
	for i, b := range bags {
		if b.Cert() != nil {
			ix.certs = append(ix.certs, certNode{bag: b, bagIdx: int32(i)})
		}
	}
	for ci := range ix.certs {
		cn := &ix.certs[ci]
		ix.byID.next[ci] = -1
		if cn.bag.LocalKeyID() != nil && !cn.bag.JavaTrust {
			ix.byID.add(cn.bag.LocalKeyID(), int32(ci))
		}
	}
	return ix
}

// readNames reads every certificate's issuer, subject and public key and
// indexes them by subject, once: building the first chain needs them.
func (ix *certIndex) readNames() {
	if ix.bySubject != nil {
		return
	}
	// Reading the names touches every certificate: for a large file,
	// half of them are read on another goroutine (each writes its own
	// nodes only).
	ix.names = make([]certNames, len(ix.certs))
	read := func(lo, hi int) {
		for k := lo; k < hi; k++ {
			if iss, sub, spki, err := p12.CertNames(ix.certs[k].bag.Cert()); err == nil {
				ix.names[k] = certNames{issuer: iss, subject: sub, spki: spki, named: true}
			}
		}
	}
	if half := len(ix.certs) / 2; half >= 1024 {
		done := make(chan struct{})
		go func() { read(half, len(ix.certs)); close(done) }()
		read(0, half)
		<-done
	} else {
		read(0, len(ix.certs))
	}
	ix.bySubject = newBytesIndex(len(ix.certs))
	for ci := range ix.certs {
		ix.bySubject.next[ci] = -1
		if cn := &ix.names[ci]; cn.named {
			ix.bySubject.add(cn.subject, int32(ci))
		}
	}
}

// spkiIndex returns the index of the certificates by public key.
func (ix *certIndex) spkiIndex() *bytesIndex {
	if ix.bySPKI == nil {
		ix.readNames()
		ix.bySPKI = newBytesIndex(len(ix.certs))
		for ci := range ix.certs {
			ix.bySPKI.next[ci] = -1
			if ix.names[ci].named {
				ix.bySPKI.add(ix.names[ci].spki, int32(ci))
			}
		}
	}
	return ix.bySPKI
}

// pkcs12Created returns an entry's creation date: Java's "Time <millis>"
// localKeyId if present, else the store's clock.
func pkcs12Created(id []byte, o options) time.Time {
	if ms, ok := bytes.CutPrefix(id, []byte("Time ")); ok && len(ms) > 0 && len(ms) <= 18 {
		// Digits only, as strconv.ParseInt reads them but without a
		// string per entry; 18 digits cannot overflow.
		v := int64(0)
		for _, d := range ms {
			if d < '0' || d > '9' {
				return o.now()
			}
			v = v*10 + int64(d-'0')
		}
		if v > 0 {
			return time.UnixMilli(v).UTC()
		}
	} else if ok {
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
func pairByPublicKey(c *pkcs12Codec, r *record, n *pkcs12Native, ix *certIndex, password []byte, o options, w *p12.Work) int32 {
	certs := ix.certs
	if len(certs) == 0 {
		return -1
	}
	pw, source := password, keyPwStore
	if kp, ok := o.keyPasswords[fold(r.alias)]; ok {
		pw, source = kp, keyPwGiven
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
	bySPKI := ix.spkiIndex()
	for i := bySPKI.first(spki); i >= 0; i = bySPKI.next[i] { // in file order
		if cn := &ix.names[i]; cn.named && bytes.Equal(cn.spki, spki) {
			if !certs[i].bag.JavaTrust {
				found = i
				break
			}
			if found < 0 {
				found = i
			}
		}
	}
	if found >= 0 {
		r.key, r.keySource = key, source
	}
	return found
}

// buildChain follows issuer names from leaf through the file's
// certificates (indices into certs), into chain (scratch space, reused).
// Among certificates with the right
// subject it takes the nearest one after the current certificate (writers
// put a chain in order), else the first; it stops at a self-issued
// certificate, a missing issuer, a loop or maxChain certificates.
func buildChain(leaf int32, certs []certNames, bySubject *bytesIndex, chain []int32) []int32 {
	chain = append(chain[:0], leaf)
	cur := leaf
	for len(chain) < maxChain && certs[cur].named && !bytes.Equal(certs[cur].issuer, certs[cur].subject) {
		issuer := certs[cur].issuer
		pick, first := int32(-1), int32(-1)
		for ci := bySubject.first(issuer); ci >= 0; ci = bySubject.next[ci] { // in file order
			if !bytes.Equal(certs[ci].subject, issuer) || slices.Contains(chain, ci) {
				continue
			}
			if ci > cur {
				pick = ci
				break
			}
			if first < 0 {
				first = ci
			}
		}
		if pick < 0 {
			pick = first
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
		if alg, err := b.KeyAlg(); alg != nil && err == nil {
			p.keys = alg.EncParams
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

// maxKeyWork bounds the key derivation of one key decrypted after the file
// was read ([Store.Entry], a save that re-encrypts), in
// hash blocks: 4 million take about a quarter of a second and admit
// 2,000,000 PBKDF2-HMAC-SHA-256 iterations, 200 times what keytool 17
// writes. Without it, a file of a few hundred bytes could make each key
// cost seconds (a PBKDF2 keyLength of 512 at 5,000,000 iterations is 30 s).
const maxKeyWork = 4_000_000

// unseal decrypts the key of a record read from a file, within
// maxKeyWork.
func (c *pkcs12Codec) unseal(r *record, password []byte) (crypto.Signer, error) {
	n, ok := r.native.(*pkcs12Native)
	if !ok || n.key == nil {
		return nil, fmt.Errorf("keystore: PKCS#12 alias %q has no key bag", r.alias)
	}
	return c.unsealBagWithin(r.alias, n.key, password, p12.NewWork(maxKeyWork, 16))
}

// unsealBagWithin is unsealBag charging the key derivations to w (nil is
// unlimited): reading a file pairs keys with the file's budget.
func (c *pkcs12Codec) unsealBagWithin(alias string, b *p12.Bag, password []byte, w *p12.Work) (crypto.Signer, error) {
	der, err := b.DecryptKeyWithin(password, w)
	if err != nil {
		if errors.Is(err, p12.ErrDecrypt) {
			alg, _ := b.KeyAlg() // read, or it would not have failed to decrypt
			return nil, fmt.Errorf("%w: PKCS#12 alias %q: the key does not decrypt with the password given (%v)", ErrIncorrectPassword, alias, alg.Cipher)
		}
		return nil, fmt.Errorf("keystore: PKCS#12 alias %q: %w", alias, inner{pkcs12Error(err)})
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
	if c.unchanged(s, password) {
		// The copy gets its ciphertext back: the same key, IV and
		// plaintext give the same bytes.
		out := append([]byte(nil), c.original...)
		c.sealed.Reseal(out)
		return out, nil
	}
	rnd := s.opts.rand()
	ids := &localKeyIDs{c: c, s: s}
	if out, ok, err := c.encodeAsRead(s, password, prof, rnd, ids); ok {
		return out, err
	}
	c.resolve()
	w := newBagWriter(c, s)

	// Entries hidden by a later entry with the same alias go first, so
	// that the later one still wins when the file is read again.
	for _, b := range c.kept {
		switch {
		case b.Type == p12.KeyBag || b.Type == p12.ShroudedKeyBag:
			w.keys = append(w.keys, b.Raw)
		case hiddenEntry(b):
			w.addCert(b.Raw)
		}
	}
	for _, r := range s.recs {
		if err := c.encodeRecord(s, r, w, password, prof, rnd, ids); err != nil {
			return nil, err
		}
	}
	c.addKeptBags(w, prof)

	out, err := p12.Encode(w.spec(password, rnd, prof))
	if err != nil {
		return nil, pkcs12Error(err)
	}
	return out, nil
}

// unchanged reports whether the store can be written as the bytes it was
// read from: same password, profile as read, every entry untouched.
func (c *pkcs12Codec) unchanged(s *Store, password []byte) bool {
	if c.original == nil || c.explicit || !bytes.Equal(password, s.password) || len(s.recs) != c.read {
		return false
	}
	for _, r := range s.recs {
		if !c.untouched(r) {
			return false
		}
	}
	return true
}

// localKeyIDs is the set of usedLocalKeyIDs, made when a new localKeyId
// is first needed (replacing a key keeps its bag's): a store of 10,000
// entries has 20,000 of them.
type localKeyIDs struct {
	c *pkcs12Codec
	s *Store
	m map[string]bool
	// asRead, if set, yields the localKeyIds of the bags written as read
	// (encodeAsRead), scanned instead of a set of them in m, which then
	// holds the new ones: a replaced key usually needs one.
	asRead func(yield func(id []byte))
}

// usedLocalKeyIDs returns the localKeyIds of the bags written as read, so
// that new ones differ from them.
func (c *pkcs12Codec) usedLocalKeyIDs(s *Store) map[string]bool {
	c.resolve()
	ids := map[string]bool{}
	note := func(b *p12.Bag) {
		if b != nil && b.LocalKeyID() != nil {
			ids[string(b.LocalKeyID())] = true
		}
	}
	for _, r := range s.recs {
		if n, ok := r.native.(*pkcs12Native); ok && n.codec == c {
			note(n.key)
			for i := range n.chainLen() {
				note(n.chain(i))
			}
		}
	}
	for _, b := range c.kept {
		note(b)
	}
	return ids
}

// bagWriter collects the encoded bags of the file being written, by the
// SafeContents they go into.
type bagWriter struct {
	keys, certs, secrets [][]byte
	// seen finds the certificate bags written, by hash, to write each
	// once without a copy of each as a map key; more holds the few whose
	// hash an earlier, different bag has.
	seed maphash.Seed
	seen map[uint64]int32 // -> index in certs
	more map[string]bool
	// trustedAsRead marks the bags of trusted entries written as read. A
	// chain read from a file may run through a trusted entry's certificate
	// (Java builds chains through every certificate). While that entry is
	// written as read, its bag is written in its place; otherwise the
	// chain gets a copy of the certificate without the entry's name and
	// trust.
	trustedAsRead map[*p12.Bag]bool
}

func newBagWriter(c *pkcs12Codec, s *Store) *bagWriter {
	n := len(s.recs) + len(c.kept)
	w := &bagWriter{keys: make([][]byte, 0, n), certs: make([][]byte, 0, n), seed: maphash.MakeSeed(), seen: make(map[uint64]int32, n), trustedAsRead: map[*p12.Bag]bool{}}
	for _, r := range s.recs {
		if r.kind == TrustedEntry && c.untouched(r) {
			w.trustedAsRead[r.native.(*pkcs12Native).chain(0)] = true
		}
	}
	return w
}

// addCert adds an encoded certificate bag, unless it was added before.
func (w *bagWriter) addCert(b []byte) {
	if w.seen == nil {
		// encodeAsRead's few new bags: compared with each one.
		for _, c := range w.certs {
			if bytes.Equal(c, b) {
				return
			}
		}
		w.certs = append(w.certs, b)
		return
	}
	h := maphash.Bytes(w.seed, b)
	i, ok := w.seen[h]
	switch {
	case !ok:
		w.seen[h] = int32(len(w.certs))
	case bytes.Equal(w.certs[i], b):
		return
	default:
		if w.more == nil {
			w.more = map[string]bool{}
		}
		if w.more[string(b)] {
			return
		}
		w.more[string(b)] = true
	}
	w.certs = append(w.certs, b)
}

// addChainBag adds a certificate bag of a key entry's chain as read.
func (w *bagWriter) addChainBag(b *p12.Bag) {
	switch {
	case !b.JavaTrust:
		w.addCert(b.Raw)
	case !w.trustedAsRead[b]:
		w.addCert(p12.NewCertBag(b.Cert(), p12.Attrs{}))
	}
}

// spec returns the encoder's description of the file: keys in an
// unencrypted SafeContents, certificates in one encrypted as prof says,
// and encrypted bags of other kinds in one encrypted as the keys are.
func (w *bagWriter) spec(password []byte, rnd io.Reader, prof Profile) *p12.EncodeSpec {
	spec := &p12.EncodeSpec{Password: password, Rand: rnd, MAC: prof.mac}
	if len(w.keys) > 0 {
		spec.Contents = append(spec.Contents, p12.ContentSpec{Bags: w.keys})
	}
	if len(w.certs) > 0 {
		cs := p12.ContentSpec{Bags: w.certs}
		if prof.certs.Cipher != p12.NoCipher {
			e := prof.certs
			cs.Enc = &e
		}
		spec.Contents = append(spec.Contents, cs)
	}
	if len(w.secrets) > 0 {
		e := prof.keys
		spec.Contents = append(spec.Contents, p12.ContentSpec{Bags: w.secrets, Enc: &e})
	}
	return spec
}

// hiddenEntry reports whether a kept bag is an entry hidden by a later
// one with the same alias.
func hiddenEntry(b *p12.Bag) bool {
	return b.Type == p12.KeyBag || b.Type == p12.ShroudedKeyBag || (b.Cert() != nil && b.JavaTrust)
}

// encodeRecord adds the bags of one entry to w.
func (c *pkcs12Codec) encodeRecord(s *Store, r *record, w *bagWriter, password []byte, prof Profile, rnd io.Reader, ids *localKeyIDs) error {
	n, _ := r.native.(*pkcs12Native)
	if n != nil && n.codec != c {
		n = nil
	}
	if r.kind == TrustedEntry {
		w.addCert(c.trustedBag(r, n))
		return nil
	}
	kb, id, err := c.keyBag(s, r, n, password, prof, rnd, ids)
	if err != nil {
		return err
	}
	w.keys = append(w.keys, kb)
	if c.untouched(r) {
		for i := range n.chainLen() {
			w.addChainBag(n.chain(i))
		}
		return nil
	}
	for i, der := range r.ders() {
		if i > 0 && n != nil && i < n.chainLen() && bytes.Equal(n.chain(i).Cert(), der) {
			w.addChainBag(n.chain(i))
			continue
		}
		var a p12.Attrs
		if i == 0 {
			a = p12.Attrs{FriendlyName: r.alias, HasFriendlyName: true, LocalKeyID: id}
			if n != nil && n.chainLen() > 0 {
				a.Extra = extraAttrs(n.chain(0), true)
			}
		}
		w.addCert(p12.NewCertBag(der, a))
	}
	return nil
}

// trustedBag returns the certificate bag of trusted entry r (n is what was
// read of it, or nil): as read if untouched, else a new bag with the alias
// and Java's trust attribute.
func (c *pkcs12Codec) trustedBag(r *record, n *pkcs12Native) []byte {
	if c.untouched(r) {
		return c.named(r, n.chain(0))
	}
	a := p12.Attrs{FriendlyName: r.alias, HasFriendlyName: true, JavaTrust: true}
	if n != nil {
		a.Extra = extraAttrs(n.chain(0), false)
		a.JavaTrust = !n.chain(0).JavaTrust
	}
	return p12.NewCertBag(r.ders()[0], a)
}

// addKeptBags adds the bags that are not entries (hidden entries were
// added first): certificates and CRLs with the certificates, unencrypted
// bags with the keys, encrypted ones in an encrypted SafeContents.
func (c *pkcs12Codec) addKeptBags(w *bagWriter, prof Profile) {
	for _, b := range c.kept {
		switch {
		case hiddenEntry(b):
			// Written first.
		case b.Cert() != nil || b.Type == p12.CertBag || b.Type == p12.CRLBag:
			w.addCert(b.Raw)
		case !b.Encrypted:
			w.keys = append(w.keys, b.Raw)
		case prof.certs.Cipher != p12.NoCipher:
			// Read encrypted; the certificates' SafeContents is too.
			w.certs = append(w.certs, b.Raw)
		default:
			w.secrets = append(w.secrets, b.Raw)
		}
	}
}

// named returns the encoding of an untouched entry's bag b. An entry Java
// named by counting ("1", "2", ...) gets its alias as friendlyName, so
// that keytool lists it under the same alias whatever the new order.
func (c *pkcs12Codec) named(r *record, b *p12.Bag) []byte {
	if r.native.(*pkcs12Native).named {
		return b.Raw
	}
	a := p12.Attrs{FriendlyName: r.alias, HasFriendlyName: true}
	for _, at := range b.Attributes() {
		a.Extra = append(a.Extra, at.Raw)
	}
	return p12.WithAttrs(b, a)
}

// extraAttrs returns the attributes of b other than friendlyName and
// localKeyId (and Java's trust attribute when dropTrust), to carry over
// to a renamed entry.
func extraAttrs(b *p12.Bag, dropTrust bool) [][]byte {
	var out [][]byte
	for _, a := range b.Attributes() {
		if a.IsFriendlyName() || a.IsLocalKeyID() || (dropTrust && a.IsJavaTrust()) {
			continue
		}
		out = append(out, a.Raw)
	}
	return out
}

// keyBag returns the key bag of key entry r and its localKeyId.
func (c *pkcs12Codec) keyBag(s *Store, r *record, n *pkcs12Native, password []byte, prof Profile, rnd io.Reader, ids *localKeyIDs) ([]byte, []byte, error) {
	// Whether the key has a password of its own decides whether a new
	// store password leaves it sealed; which password seals it anew is
	// asked again once the key is open, when its source is known.
	_, perEntry := s.sealPassword(r, password)
	if c.untouched(r) && c.keepSealed(s, n.key, perEntry, password, prof) {
		return c.named(r, n.key), n.key.LocalKeyID(), nil
	}
	key, err := s.key(r)
	if err != nil {
		return nil, nil, err
	}
	keyPass, _ := s.sealPassword(r, password)
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
		for _, at := range n.key.Attributes() {
			a.Extra = append(a.Extra, at.Raw)
		}
		if !n.named {
			a.FriendlyName, a.HasFriendlyName = r.alias, true
		}
		id = n.key.LocalKeyID()
	} else {
		a = p12.Attrs{FriendlyName: r.alias, HasFriendlyName: true}
		if n != nil {
			// Renamed: keep its other attributes and its localKeyId.
			a.Extra = extraAttrs(n.key, false)
			id = n.key.LocalKeyID()
		}
		if id == nil {
			id = newLocalKeyID(r.created, ids)
		}
		a.LocalKeyID = id
	}
	bag, err := p12.NewShroudedKeyBag(pkcs8, a, prof.keys, keyPass, rnd)
	if err != nil {
		return nil, nil, fmt.Errorf("keystore: PKCS#12 alias %q: %w", r.alias, inner{pkcs12Error(err)})
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
	asRead := perEntry || bytes.Equal(password, s.password)
	if asRead && !c.explicit {
		return true // whatever the scheme: its parameters are not read
	}
	alg, err := b.KeyAlg()
	if err != nil {
		return true
	}
	return asRead && sameEnc(alg.EncParams, prof.keys)
}

// newLocalKeyID returns Java's localKeyId for an entry created at t,
// "Time <millis>", moved on by a millisecond while another bag has it.
func newLocalKeyID(t time.Time, l *localKeyIDs) []byte {
	if l.m == nil {
		if l.asRead != nil {
			l.m = map[string]bool{}
		} else {
			l.m = l.c.usedLocalKeyIDs(l.s)
		}
	}
	ids := l.m
	ms := t.UnixMilli()
	for tries := 0; ; tries++ {
		if l.asRead != nil && tries == 4 {
			// Many taken: the set of them, not a scan per try.
			l.asRead(func(id []byte) { ids[string(id)] = true })
			l.asRead = nil
		}
		id := "Time " + strconv.FormatInt(ms, 10)
		if !ids[id] && (l.asRead == nil || !l.scan([]byte(id))) {
			ids[id] = true
			return []byte(id)
		}
		ms++
	}
}

// scan reports whether a bag written as read has localKeyId id.
func (l *localKeyIDs) scan(id []byte) bool {
	found := false
	l.asRead(func(b []byte) { found = found || bytes.Equal(b, id) })
	return found
}
