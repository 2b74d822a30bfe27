package keystore

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/certroll/certroll/chain"
)

// EntryKind says what an entry holds.
type EntryKind int

const (
	// KeyEntry holds a private key and its certificate chain
	// (keytool's PrivateKeyEntry).
	KeyEntry EntryKind = iota + 1
	// TrustedEntry holds one trusted certificate (keytool's trustedCertEntry).
	TrustedEntry
	// SecretKeyEntry holds a protected key without a certificate chain,
	// which keytool lists as SecretKeyEntry (the JDK counts every key
	// entry without a certificate as one). In a JKS file it is a key
	// entry (tag 1) with no certificates; the JDK's JKS writer makes one
	// only through KeyStore.setKeyEntry with already protected key bytes,
	// and keytool cannot turn it back into a PrivateKeyEntry. Such an
	// entry is kept byte for byte when the store is saved; [Store.Set],
	// [Store.Replace] and [Store.InstallReply] refuse to overwrite it
	// ([ErrNotKeyEntry]) unless their options set OverwriteAnyKind.
	SecretKeyEntry
)

// String returns the name keytool lists for the kind.
func (k EntryKind) String() string {
	switch k {
	case KeyEntry:
		return "PrivateKeyEntry"
	case TrustedEntry:
		return "trustedCertEntry"
	case SecretKeyEntry:
		return "SecretKeyEntry"
	}
	return fmt.Sprintf("EntryKind(%d)", int(k))
}

// describe says in words what an entry of the kind holds.
func (k EntryKind) describe() string {
	switch k {
	case KeyEntry:
		return "a private key and its certificate chain"
	case TrustedEntry:
		return "a trusted certificate"
	case SecretKeyEntry:
		return "a protected key without a certificate chain"
	}
	return "an entry of unknown kind"
}

// An Entry is one keystore entry, addressed by its alias.
//
// A key entry has a Key and a Chain, leaf first. A trusted-certificate
// entry has a nil Key and exactly one certificate in Chain. A secret-key
// entry ([SecretKeyEntry]) read from a file has the decrypted Key and no
// Chain. Entries returned by a [Store] are copies: changing them does not
// change the store.
type Entry struct {
	Alias   string
	Created time.Time
	Key     crypto.Signer       // nil for a trusted-certificate entry
	Chain   []*x509.Certificate // leaf first; exactly one for a trusted entry

	kind EntryKind // as read, for an entry returned by a Store
}

// Kind reports what e holds: for an entry returned by a [Store], the kind
// the store lists (a [SecretKeyEntry] among them); for one built by the
// caller, a key entry if it has a Key, else a trusted-certificate entry.
func (e *Entry) Kind() EntryKind {
	switch {
	case e.kind != 0:
		return e.kind
	case e.Key != nil:
		return KeyEntry
	}
	return TrustedEntry
}

// Leaf returns the first certificate of the chain, or nil if it is empty.
func (e *Entry) Leaf() *x509.Certificate {
	if len(e.Chain) == 0 {
		return nil
	}
	return e.Chain[0]
}

// record is one entry as the store keeps it: the certificates as DER
// (parsed on first use, so opening a large store costs little), the key
// decrypted on first use, and whatever the codec needs to write an
// untouched entry back exactly as it was read.
type record struct {
	alias   string
	created time.Time
	kind    EntryKind
	// chainDER is the chain as DER; read it through ders, as a codec may
	// leave it to be found on first use (chainPending).
	chainDER [][]byte
	certs    []*x509.Certificate // nil until parsed
	key      crypto.Signer       // nil until unsealed or set
	// native is the codec's own copy of the entry as read (a sealed key,
	// attributes it does not interpret), used to write it back losslessly.
	native any

	// The flags and keySource are last, together, in one word: a store
	// of 100,000 entries holds as many records (136 bytes each, not 144).
	//
	// changed is set when the alias, key or chain changed since the store
	// was decoded; the codec then encodes the entry from key and chainDER
	// instead of from native.
	changed bool
	// chainPending says that chainDER is not known yet: native (a
	// chainBuilder) finds it on first use. A PKCS#12 file's chains are
	// built so, as building them reads the names of every certificate.
	chainPending bool
	// keySource is the password the key was found sealed with. The key
	// written in its place (after Set, Replace, InstallReply) is sealed
	// with the same one, so that the programs reading the store find it
	// where they found the old one.
	keySource keySource
}

// keySource says which password a key was found sealed with.
type keySource uint8

const (
	keyPwUnknown keySource = iota // not decrypted: the options decide
	keyPwStore                    // the store password
	keyPwGiven                    // the key password given for the alias
	keyPwDefault                  // StoreOptions.DefaultKeyPassword
)

// sealPassword returns the password to seal r's key with when the store is
// written with password, and whether it is the entry's own (not the store
// password): the one the key was found sealed with, or else the key
// password given for the alias, or else the store password.
func (s *Store) sealPassword(r *record, password []byte) ([]byte, bool) {
	given, ok := s.opts.keyPasswords[fold(r.alias)]
	switch r.keySource {
	case keyPwStore:
		return password, false
	case keyPwGiven:
		return given, true
	case keyPwDefault:
		return s.opts.defaultKeyPassword, true
	}
	if ok {
		return given, true
	}
	return password, false
}

// learnKeySource finds which password old's key is sealed with, before a
// new entry takes its place and is sealed with the same; a key that does
// not decrypt leaves it to the options.
func (s *Store) learnKeySource(old *record) keySource {
	if old.keySource == keyPwUnknown && old.kind == KeyEntry && old.native != nil && old.key == nil {
		s.key(old) // the error is the old key's; the new entry does not need it
	}
	return old.keySource
}

// chainBuilder is a record's native that finds its chain on first use.
type chainBuilder interface {
	// buildChain sets r.chainDER and clears r.chainPending.
	buildChain(r *record)
}

// ders returns the chain as DER, finding it on first use.
func (r *record) ders() [][]byte {
	if r.chainPending {
		r.native.(chainBuilder).buildChain(r)
	}
	return r.chainDER
}

// chain returns the parsed certificates, parsing them on first use.
func (r *record) chain() ([]*x509.Certificate, error) {
	ders := r.ders()
	if r.certs != nil || len(ders) == 0 {
		return r.certs, nil
	}
	certs := make([]*x509.Certificate, len(ders))
	for i, der := range ders {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, certParseError(r.alias, i, len(ders), der, err)
		}
		certs[i] = c
	}
	r.certs = certs
	return certs, nil
}

// codec reads and writes one file format. A decoded store keeps its codec,
// so that untouched entries are written back from what was read.
type codec interface {
	// encode serialises the store's records.
	encode(s *Store, password []byte) ([]byte, error)
	// unseal decrypts the key of a record that was read from a file.
	unseal(r *record, password []byte) (crypto.Signer, error)
	// keepsSealed reports whether a renamed key entry is written with its
	// key encrypted as read, so that renaming needs no key password.
	keepsSealed() bool
}

// A Store is an in-memory keystore: entries addressed by alias, in a
// given [Format].
//
// Aliases follow Java's rules: lookups ignore case, entries read from a
// file keep the alias as written, and new entries are stored under the
// lower-cased alias, as Java's keystores store them.
//
// A Store is not safe for concurrent use; to edit a file that other
// processes may edit too, use [Update].
type Store struct {
	format Format
	recs   []*record
	// index maps folded aliases to positions in recs; nil until first
	// needed and after a change that moves entries.
	index map[string]int
	codec codec
	opts  options
	// password is a copy of the password the store was read with; key
	// entries are decrypted with it (or a per-entry password) on first use.
	password []byte
}

// New returns an empty store that marshals in format f, configured by
// opts (nil means the zero [StoreOptions]). A new PKCS#12 store is
// written with the [Modern] profile unless [Store.SetProfile] picks
// another.
//
// New panics if f is not [JKS] or [PKCS12]: that is a programmer error.
func New(f Format, opts *StoreOptions) *Store {
	if f != JKS && f != PKCS12 {
		panic(fmt.Sprintf("keystore: New(%v): format must be JKS or PKCS12", f))
	}
	s := &Store{format: f, opts: storeOptions(opts)}
	s.codec = newCodec(s)
	return s
}

// Format returns the store's format.
func (s *Store) Format() Format { return s.format }

// Aliases returns the aliases in store order (the order in the file, then
// the order entries were added).
func (s *Store) Aliases() []string {
	out := make([]string, len(s.recs))
	for i, r := range s.recs {
		out[i] = r.alias
	}
	return out
}

// Kind returns the kind of the entry under alias without decrypting
// anything.
func (s *Store) Kind(alias string) (EntryKind, error) {
	i := s.find(alias)
	if i < 0 {
		return 0, s.notFound(alias)
	}
	return s.recs[i].kind, nil
}

// Certificates returns the chain under alias (leaf first) without
// decrypting the key.
func (s *Store) Certificates(alias string) ([]*x509.Certificate, error) {
	i := s.find(alias)
	if i < 0 {
		return nil, s.notFound(alias)
	}
	c, err := s.recs[i].chain()
	if err != nil {
		return nil, err
	}
	return append([]*x509.Certificate(nil), c...), nil
}

// Entry returns a copy of the entry under alias. A key entry's key is
// decrypted with the key password given for the alias
// ([StoreOptions.KeyPasswords]) and, failing that, the store password; an
// alias without one is tried with the store password and then
// [StoreOptions.DefaultKeyPassword], if given. If none decrypts it the error names
// the alias and the passwords tried (never a password) and wraps
// [ErrIncorrectPassword]. A certificate Go cannot parse gives an error
// matching [ErrUnsupportedCertificate]; a key Go cannot use, [ErrUnsupportedKey]; a
// key that decrypts but is inconsistent, [ErrCorruptKey].
func (s *Store) Entry(alias string) (*Entry, error) {
	i := s.find(alias)
	if i < 0 {
		return nil, s.notFound(alias)
	}
	return s.entry(s.recs[i])
}

func (s *Store) entry(r *record) (*Entry, error) {
	certs, err := r.chain()
	if err != nil {
		return nil, err
	}
	e := &Entry{Alias: r.alias, Created: r.created, Chain: append([]*x509.Certificate(nil), certs...), kind: r.kind}
	if r.kind == KeyEntry || r.kind == SecretKeyEntry {
		k, err := s.key(r)
		if err != nil {
			return nil, err
		}
		e.Key = k
	}
	return e, nil
}

// key returns the record's key, decrypting it on first use.
func (s *Store) key(r *record) (crypto.Signer, error) {
	if r.key != nil {
		return r.key, nil
	}
	if r.native == nil {
		return nil, fmt.Errorf("keystore: alias %q has no key material", r.alias)
	}
	cands, tried := s.keyPasswords(r.alias)
	for _, c := range cands {
		k, err := s.codec.unseal(r, c.pw)
		if err == nil {
			r.key, r.keySource = k, c.source
			return k, nil
		}
		if !errors.Is(err, ErrIncorrectPassword) {
			if errors.Is(err, ErrUnsupportedKey) || errors.Is(err, ErrCorruptKey) {
				// Both come after the password proved right (the JKS check
				// value matched, the PKCS#12 padding checked out): Go cannot
				// use the key, but a key that takes its place goes under
				// the same password.
				r.keySource = c.source
			}
			return nil, err
		}
	}
	return nil, fmt.Errorf("%w: cannot recover the key of alias %q with %s", ErrIncorrectPassword, r.alias, tried)
}

// keyPasswords returns the passwords to try, in order, on the key under
// alias, and how to name them in an error: the key password given for the
// alias and then the store password; or the store password and then the
// default key password. A password equal to one before it is not tried
// again.
func (s *Store) keyPasswords(alias string) ([]keyCandidate, string) {
	store := keyCandidate{s.password, keyPwStore}
	if p, ok := s.opts.keyPasswords[fold(alias)]; ok {
		if bytes.Equal(p, s.password) {
			return []keyCandidate{store}, fmt.Sprintf("the key password given for alias %q (which is the store password)", alias)
		}
		return []keyCandidate{{p, keyPwGiven}, store}, fmt.Sprintf("the key password given for alias %q and the store password", alias)
	}
	if d := s.opts.defaultKeyPassword; d != nil && !bytes.Equal(d, s.password) {
		return []keyCandidate{store, {d, keyPwDefault}}, "the store password and the default key password (none was given for the alias)"
	}
	if s.opts.defaultKeyPassword != nil {
		return []keyCandidate{store}, "the store password (which is the default key password too)"
	}
	return []keyCandidate{store}, "the store password (no key password was given for the alias: if it has its own, give it in StoreOptions.KeyPasswords)"
}

// keyCandidate is a password to try on a key, and which one it is.
type keyCandidate struct {
	pw     []byte
	source keySource
}

// Set adds e, or overwrites the entry with the same alias (ignoring case;
// an overwritten entry keeps its alias as written). A key entry needs a
// non-empty chain whose leaf holds the key's public key; a trusted entry
// needs exactly one certificate. A zero Created is set to the store's
// clock. Set overwrites a [SecretKeyEntry] only with
// [SetOptions.OverwriteAnyKind] (else [ErrNotKeyEntry]). It overwrites an entry
// whose certificate or key Go cannot read without reading it. opts may be
// nil.
func (s *Store) Set(e *Entry, opts *SetOptions) error {
	var overwrite bool
	if opts != nil {
		overwrite = opts.OverwriteAnyKind
	}
	if e == nil {
		return fmt.Errorf("keystore: Set: nil entry")
	}
	if err := checkAlias(e.Alias); err != nil {
		return err
	}
	r, err := s.newRecord(e)
	if err != nil {
		return err
	}
	if i := s.find(e.Alias); i >= 0 {
		if err := checkOverwrite("Set", s.recs[i], r.kind, overwrite); err != nil {
			return err
		}
		r.alias = s.recs[i].alias
		if r.kind == KeyEntry {
			r.keySource = s.learnKeySource(s.recs[i])
		}
		s.recs[i] = r
		return nil
	}
	s.add(r)
	return nil
}

// add appends a record whose alias no entry has.
func (s *Store) add(r *record) {
	s.recs = append(s.recs, r)
	if s.index != nil {
		s.index[fold(r.alias)] = len(s.recs) - 1
	}
}

// checkOverwrite refuses to overwrite r with an entry of kind want when r
// is of a kind that is only overwritten on request.
func checkOverwrite(op string, r *record, want EntryKind, overwrite bool) error {
	if r.kind == SecretKeyEntry && !overwrite {
		return &kindError{op: op, alias: r.alias, kind: r.kind, want: want}
	}
	return nil
}

// newRecord validates e and turns it into a changed record.
func (s *Store) newRecord(e *Entry) (*record, error) {
	created := e.Created
	if created.IsZero() {
		created = s.opts.now()
	}
	r := &record{alias: javaAlias(e.Alias), created: created, changed: true}
	if e.Key == nil {
		if len(e.Chain) != 1 || e.Chain[0] == nil {
			return nil, fmt.Errorf("keystore: trusted entry %q: want exactly one certificate, got %d", e.Alias, len(e.Chain))
		}
		r.kind = TrustedEntry
	} else {
		if err := checkKeyChain(e.Alias, e.Key, e.Chain); err != nil {
			return nil, err
		}
		r.kind = KeyEntry
		r.key = e.Key
	}
	r.certs = append([]*x509.Certificate(nil), e.Chain...)
	r.chainDER = make([][]byte, len(e.Chain))
	for i, c := range e.Chain {
		r.chainDER[i] = c.Raw
	}
	return r, nil
}

// checkKeyChain checks that chain is non-empty, that its leaf holds key's
// public key, and that every certificate is signed by the next one.
func checkKeyChain(alias string, key crypto.Signer, chain []*x509.Certificate) error {
	if len(chain) == 0 {
		return fmt.Errorf("keystore: key entry %q: want a certificate chain, got none", alias)
	}
	for i, c := range chain {
		if c == nil {
			return fmt.Errorf("keystore: key entry %q: certificate %d is nil", alias, i+1)
		}
	}
	if err := matchKey(alias, key, chain[0]); err != nil {
		return err
	}
	for i := 0; i+1 < len(chain); i++ {
		if err := chain[i].CheckSignatureFrom(chain[i+1]); err != nil {
			return &markedError{sentinel: ErrBrokenChain, msg: fmt.Sprintf("keystore: alias %q: certificate chain does not verify: certificate %d (%s) is not signed by certificate %d (%s): %v",
				alias, i+1, chain[i].Subject, i+2, chain[i+1].Subject, err)}
		}
	}
	return nil
}

func matchKey(alias string, key crypto.Signer, leaf *x509.Certificate) error {
	if chain.KeyMatches(key, leaf) {
		return nil
	}
	return &markedError{sentinel: ErrKeyMismatch, msg: fmt.Sprintf("keystore: alias %q: certificate is for key %s, the entry's private key is %s",
		alias, keyLabel(KeyFingerprint(leaf.PublicKey)), keyLabel(KeyFingerprint(key.Public())))}
}

// Delete removes the entry under alias.
func (s *Store) Delete(alias string) error {
	i := s.find(alias)
	if i < 0 {
		return s.notFound(alias)
	}
	s.recs = append(s.recs[:i], s.recs[i+1:]...)
	s.index = nil
	return nil
}

// Rename moves the entry under from to the alias to, keeping its key,
// chain and creation date. It fails with [ErrAliasExists] if another entry
// has the alias to (ignoring case). Renaming a key entry needs its key,
// so the key password must be known, except in a JKS store, which keeps
// the key encrypted as it was read (a [SecretKeyEntry] is renamed so too).
func (s *Store) Rename(from, to string) error {
	i := s.find(from)
	if i < 0 {
		return s.notFound(from)
	}
	if err := checkAlias(to); err != nil {
		return err
	}
	if j := s.find(to); j >= 0 && j != i {
		return fmt.Errorf("%w: cannot rename %q to %q: the alias is taken by %q", ErrAliasExists, from, to, s.recs[j].alias)
	}
	r := s.recs[i]
	if r.kind == KeyEntry && !s.codec.keepsSealed() {
		if _, err := s.key(r); err != nil {
			return err
		}
	}
	if _, err := r.chain(); err != nil {
		return err
	}
	nr := *r
	nr.alias = javaAlias(to)
	nr.changed = true
	s.recs[i] = &nr
	if s.index != nil {
		delete(s.index, fold(r.alias))
		s.index[fold(nr.alias)] = i
	}
	return nil
}

// Replace puts key and chain (leaf first) under alias in place of the key
// entry there, keeping the alias as written, and returns the previous
// entry. The leaf must hold key's public key ([ErrKeyMismatch]) and each
// certificate must be signed by the next ([ErrBrokenChain]). The alias
// must hold a key entry ([ErrAliasNotFound], [ErrNotKeyEntry]) unless
// [ReplaceOptions.Create] is set, in which case a missing alias is created
// and previous is nil. Every other entry is left as it was. opts may be
// nil.
//
// Replace reads the entry it replaces, to return it: an entry whose key Go
// cannot use (DSA, say) or whose certificate Go cannot parse is refused,
// with an error that points to [Store.InstallReply] with
// [ReplyOptions.NewKey] (or [Store.Set]), which replace it without reading
// it. A [SecretKeyEntry] is replaced only with
// [ReplaceOptions.OverwriteAnyKind] ([ErrNotKeyEntry]); previous then holds what
// could be read of it.
func (s *Store) Replace(alias string, key crypto.Signer, chain []*x509.Certificate, opts *ReplaceOptions) (previous *Entry, err error) {
	var o ReplaceOptions
	if opts != nil {
		o = *opts
	}
	if key == nil {
		return nil, fmt.Errorf("keystore: Replace %q: nil key", alias)
	}
	i := s.find(alias)
	if i < 0 && !o.Create {
		return nil, s.notFound(alias)
	}
	if i >= 0 {
		switch r := s.recs[i]; {
		case r.kind == TrustedEntry:
			return nil, fmt.Errorf("%w: alias %q holds a trusted certificate; Replace needs a key entry", ErrNotKeyEntry, r.alias)
		case r.kind == SecretKeyEntry:
			if err := checkOverwrite("Replace", r, KeyEntry, o.OverwriteAnyKind); err != nil {
				return nil, err
			}
			if previous, err = s.entry(r); err != nil {
				previous = &Entry{Alias: r.alias, Created: r.created} // overwritten on request, unread
			}
		default:
			if previous, err = s.entry(r); err != nil {
				if errors.Is(err, ErrUnsupportedKey) || errors.Is(err, ErrCorruptKey) || errors.Is(err, ErrUnsupportedCertificate) {
					return nil, fmt.Errorf("keystore: Replace %q returns the entry it replaces and cannot read it; "+
						"InstallReply with ReplyOptions.NewKey, or Set, replaces the entry without reading it: %w", r.alias, err)
				}
				return nil, err
			}
		}
	}
	name := alias
	if previous != nil {
		name = previous.Alias
	}
	if err := checkAlias(name); err != nil {
		return nil, err
	}
	r, err := s.newRecord(&Entry{Alias: name, Key: key, Chain: chain})
	if err != nil {
		return nil, err
	}
	if i >= 0 {
		r.alias = s.recs[i].alias
		r.keySource = s.learnKeySource(s.recs[i])
		s.recs[i] = r
	} else {
		s.add(r)
	}
	return previous, nil
}

// find returns the index of alias, ignoring case, or -1. When a file holds
// the same alias twice, the last one wins, as in Java.
func (s *Store) find(alias string) int {
	if s.index == nil {
		s.index = make(map[string]int, len(s.recs))
		for i, r := range s.recs {
			s.index[fold(r.alias)] = i
		}
	}
	if i, ok := s.index[fold(alias)]; ok {
		return i
	}
	return -1
}

// notFound is the error for an alias the store does not have: it lists
// the aliases it has (a few of them), so that a typo shows.
func (s *Store) notFound(alias string) error {
	const shown = 5
	var has string
	switch n := len(s.recs); n {
	case 0:
		has = "the store is empty"
	case 1:
		has = fmt.Sprintf("the store has 1 entry: %q", s.recs[0].alias)
	default:
		names := make([]string, 0, shown)
		for _, r := range s.recs[:min(n, shown)] {
			names = append(names, strconv.Quote(r.alias))
		}
		list := strings.Join(names, ", ")
		if n > shown {
			list += fmt.Sprintf(" and %d more", n-shown)
		}
		has = fmt.Sprintf("the store has %d entries: %s", n, list)
	}
	return fmt.Errorf("%w: %q (%s)", ErrAliasNotFound, alias, has)
}

// fold is the case folding used to compare aliases.
func fold(alias string) string { return strings.ToLower(alias) }

// javaAlias is the alias as Java's keystores store a new entry's alias:
// lower-cased.
func javaAlias(alias string) string { return strings.ToLower(alias) }

func checkAlias(alias string) error {
	if alias == "" {
		return fmt.Errorf("keystore: alias must not be empty")
	}
	if len(alias) > 0xFFFF {
		return fmt.Errorf("keystore: alias is %d bytes; at most 65535 fit", len(alias))
	}
	return nil
}

// Marshal encodes the store in its format, protected by password. Entries
// that were read and not changed are written back from what was read.
func (s *Store) Marshal(password []byte) ([]byte, error) {
	return s.codec.encode(s, password)
}
