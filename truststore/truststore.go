// Package truststore manages trust sets: the certificates a TLS peer
// accepts as trust anchors. A trust set is read from and written back to the
// trusted-certificate entries of a JKS or PKCS#12 keystore, a PEM bundle
// file, or a directory of PEM or DER certificate files.
//
// # Usage
//
// Open a trust set, merge certificates into it, and save it:
//
//	ts, err := truststore.Open("truststore.jks", password)
//	...
//	rep, err := ts.Merge(truststore.Certs(newRoot), nil)
//	fmt.Print(rep) // what was added, skipped as a duplicate, re-issued, renamed
//	err = ts.Save("truststore.jks", password)
//
// A merge adds CA certificates only (see [Set.Merge]): a CA's reply or a
// client's chain carries a leaf certificate, and the report lists it as
// left out unless [MergeOptions.IncludeNonCA] asks for it.
//
// Remove a root once nothing uses it any more. The caller declares the
// chains in use (the key entries of its keystores, pinned client
// certificates, PEM chains); a certificate that still anchors one of them is
// kept, and the error names each dependent chain:
//
//	inUse, err := truststore.KeystoreChains("client.jks", clientStore)
//	rep, err := ts.Prune(truststore.ByFingerprint(oldRootFP), &truststore.PruneOptions{InUse: inUse})
//	// errors.Is(err, truststore.ErrInUse) while client.jks still chains to the old root
//
// The declaration is required: Prune with nil options, or options that
// list no chain in use and set neither NothingInUse nor Force, removes
// nothing and fails with [ErrUsageUndeclared], so that a usage check never
// passes because nobody asked for it.
//
// Compare two sets with [Diff], list what expires soon with [Set.Expiring],
// and hand the set's [Set.Certificates] to crypto/tls or crypto/x509 in an
// [x509.CertPool].
//
// Every operation returns a [Report] (or a [DiffReport], an [ExpiryReport])
// that prints for people with String and marshals to JSON with stable
// snake_case fields and fingerprints as lower-case hexadecimal. A report
// holds the set's certificates, not their printed names: a [CertInfo]'s
// names ([CertInfo.Subject], [CertInfo.Issuer]) and fingerprint are printed
// when the report is printed or marshalled, or the methods called, so that
// an operation whose report nobody reads does not pay for them.
//
// # Rules
//
// Certificates are identified by the SHA-256 of their DER encoding: an
// identical certificate is never added twice, not even under another alias.
// A certificate with the subject and public key of one already present but
// another encoding (a re-issued root, with new validity) is added and
// reported as a re-issue of it. Aliases follow Java's rules: they are
// compared ignoring case, and new ones are never equal, ignoring case, to an
// alias already present (trusted or not). Aliases the caller does not give
// are derived from the certificate: the first eight hexadecimal digits of
// the fingerprint, then the subject's common name in lower case, such as
// "1a2b3c4d-new-root-ca"; the fingerprint comes first so that truncating a
// long name keeps the alias unique.
//
// # Compatibility
//
// JKS and PKCS#12 stores are read and written by package keystore; the
// store's other entries (key entries) are carried over untouched, with their
// key material byte for byte. A PEM bundle is written as CERTIFICATE blocks,
// each preceded by comment lines giving its alias, subject, fingerprint and
// validity; the alias line is what lets a bundle keep its aliases through a
// round trip, and other text is not kept. In a directory, each certificate
// file gives the alias of its certificate by its name without the
// extension; see [Open].
//
// # Security
//
// A trust set decides whom a program trusts: review a merge report before
// saving it; a merge leaves out certificates that are not CAs unless told
// otherwise, so that a leaf does not become a trust anchor by accident. The
// usage check of [Set.Prune] is only as good as the chains the caller
// declares; it cannot see programs it is not told about.
package truststore

import (
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/certroll/certroll/keystore"
)

// Kind is the storage a trust set is read from and written to. The zero
// Kind is none of them: no Set has it.
type Kind int

const (
	_ Kind = iota // the zero Kind
	// JKS is the trusted-certificate entries of a Java KeyStore file.
	JKS
	// PKCS12 is the trusted-certificate entries of a PKCS#12 file.
	PKCS12
	// PEMBundle is a file of PEM CERTIFICATE blocks.
	PEMBundle
	// Directory is a directory of certificate files, PEM or DER.
	Directory
)

// String returns "JKS", "PKCS#12", "PEM bundle" or "directory".
func (k Kind) String() string {
	switch k {
	case JKS:
		return "JKS"
	case PKCS12:
		return "PKCS#12"
	case PEMBundle:
		return "PEM bundle"
	case Directory:
		return "directory"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// An Entry is one certificate of a trust set and its alias: what
// [Set.Entries] returns, and what [Set.Merge] takes, so that one set merges
// into another under the same aliases with a.Merge(b.Entries(), nil).
type Entry struct {
	// Alias names the certificate in the set (compared ignoring case). In
	// an entry given to [Set.Merge], "" asks for the derived alias: the
	// first eight hexadecimal digits of the SHA-256 fingerprint, a hyphen,
	// and the subject's common name (or, lacking one, its first
	// organizational unit or organization) in lower case with every run of
	// other characters than ASCII letters and digits turned into one
	// hyphen, cut to 48 characters: "1a2b3c4d-new-root-ca". A subject
	// without such a name gives "1a2b3c4d-certificate".
	Alias string
	// Cert is the trusted certificate. Treat it as read-only; in an entry
	// given to [Set.Merge] it must not be nil.
	Cert *x509.Certificate
}

// entry is an Entry as the set keeps it.
type entry struct {
	alias   string
	cert    *x509.Certificate
	fp      keystore.Fingerprint
	created time.Time // for a new store entry
	// inStore is set for an entry of a store-backed set that the store
	// holds already; entries without it are written at the next sync.
	inStore bool
	// file is, for a directory, the base name of the file holding the
	// certificate; "" for a certificate not yet written.
	file string
}

// A Set is a trust set: certificates addressed by alias, in order (the
// order of the store or file, then the order they were added).
//
// A Set read from a keystore keeps that keystore; changes reach it when the
// set is saved or [Set.Store] is called. A Set is not safe for concurrent
// use.
type Set struct {
	kind    Kind
	store   *keystore.Store
	entries []*entry
	byAlias map[string]*entry // folded alias
	byFP    map[keystore.Fingerprint][]*entry
	byName  map[string][]*entry // raw subject + raw SPKI
	// reserved holds the folded aliases new certificates may not take
	// besides those of the entries (a store's key entries, a directory's
	// file names), with the reason.
	reserved map[string]string
	// deleted lists the aliases of store entries to delete at the next sync.
	deleted []string
	// dir is the directory a Directory set was read from; touched lists
	// the files in it whose certificates changed.
	dir     string
	touched map[string]bool
	// next remembers, per folded alias that allocate found taken, the
	// first suffix it has not yet found taken (see allocate).
	next map[string]int
}

// New returns an empty trust set of kind k. A JKS or PKCS#12 set starts an
// empty keystore of that format.
//
// New panics if k is not one of the kinds above: that is a programmer error.
func New(k Kind) *Set {
	s := newSet(k)
	switch k {
	case JKS:
		s.store = keystore.New(keystore.JKS, nil)
	case PKCS12:
		s.store = keystore.New(keystore.PKCS12, nil)
	case PEMBundle, Directory:
	default:
		panic(fmt.Sprintf("truststore: New(%v): unknown kind", k))
	}
	return s
}

func newSet(k Kind) *Set {
	return &Set{
		kind:     k,
		byAlias:  make(map[string]*entry),
		byFP:     make(map[keystore.Fingerprint][]*entry),
		byName:   make(map[string][]*entry),
		reserved: make(map[string]string),
		touched:  make(map[string]bool),
	}
}

// FromStore returns the trust set of ks: its trusted-certificate entries.
// The set keeps ks: its other entries are never read beyond their kind and
// aliases (their keys are not decrypted), and changes to the set are applied
// to ks when the set is saved or [Set.Store] is called. Do not change ks
// directly while the set is in use.
//
// It fails if a trusted certificate cannot be parsed, naming its alias.
func FromStore(ks *keystore.Store) (*Set, error) {
	k := JKS
	if ks.Format() == keystore.PKCS12 {
		k = PKCS12
	}
	s := newSet(k)
	s.store = ks
	for _, a := range ks.Aliases() {
		kind, err := ks.Kind(a)
		if err != nil {
			return nil, fmt.Errorf("truststore: %w", err)
		}
		if kind != keystore.TrustedEntry {
			s.reserved[fold(a)] = fmt.Sprintf("the keystore has a %v under it", kind)
			continue
		}
		certs, err := ks.Certificates(a)
		if err != nil {
			return nil, fmt.Errorf("truststore: %w", err)
		}
		if len(certs) != 1 {
			return nil, fmt.Errorf("%w: trusted entry %q holds %d certificates, want 1", errMalformed, a, len(certs))
		}
		s.insert(&entry{alias: a, cert: certs[0], inStore: true})
	}
	return s, nil
}

// Kind returns the kind of storage the set is written to.
func (s *Set) Kind() Kind { return s.kind }

// Certificates returns the certificates in set order; their number is the
// size of the set. Add them to an [x509.CertPool] for
// [x509.VerifyOptions.Roots] or [tls.Config.RootCAs] and ClientCAs.
func (s *Set) Certificates() []*x509.Certificate {
	out := make([]*x509.Certificate, len(s.entries))
	for i, e := range s.entries {
		out[i] = e.cert
	}
	return out
}

// Aliases returns the aliases of the certificates in set order.
func (s *Set) Aliases() []string {
	out := make([]string, len(s.entries))
	for i, e := range s.entries {
		out[i] = e.alias
	}
	return out
}

// Entries returns the aliases and certificates in set order.
func (s *Set) Entries() []Entry {
	out := make([]Entry, len(s.entries))
	for i, e := range s.entries {
		out[i] = Entry{Alias: e.alias, Cert: e.cert}
	}
	return out
}

// Certificate returns the certificate under alias (ignoring case), or an
// error matching [ErrNotFound].
func (s *Set) Certificate(alias string) (*x509.Certificate, error) {
	e, ok := s.byAlias[fold(alias)]
	if !ok {
		return nil, fmt.Errorf("%w: no certificate has alias %q (the set has %d)", ErrNotFound, alias, len(s.entries))
	}
	return e.cert, nil
}

// ContainsCert reports whether the set holds c (the same DER encoding,
// under any alias). To ask whether an alias is taken, use
// [Set.Certificate].
func (s *Set) ContainsCert(c *x509.Certificate) bool {
	return c != nil && len(s.byFP[keystore.CertFingerprint(c)]) > 0
}

// Store applies the set's changes to its keystore and returns it, for a
// JKS or PKCS#12 set; for other kinds it returns nil. Entries are added
// with [keystore.Store.Set] and removed with [keystore.Store.Delete]; the
// keystore's other entries are not touched. Each of those calls looks the
// alias up among all entries, so applying m changes to a keystore of n
// entries takes time proportional to m·n; [Set.Merge] and [Set.Prune]
// themselves take time linear in the set and the input.
func (s *Set) Store() (*keystore.Store, error) {
	if s.store == nil {
		return nil, nil
	}
	if err := s.sync(); err != nil {
		return nil, err
	}
	return s.store, nil
}

// sync applies pending deletions and additions to the keystore.
func (s *Set) sync() error {
	for _, a := range s.deleted {
		if err := s.store.Delete(a); err != nil {
			return fmt.Errorf("truststore: %w", err)
		}
	}
	s.deleted = nil
	for _, e := range s.entries {
		if e.inStore {
			continue
		}
		err := s.store.Set(&keystore.Entry{Alias: e.alias, Created: e.created, Chain: []*x509.Certificate{e.cert}}, nil)
		if err != nil {
			return fmt.Errorf("truststore: %w", err)
		}
		e.inStore = true
	}
	return nil
}

// insert appends e and indexes it, computing its fingerprint unless set.
func (s *Set) insert(e *entry) {
	if e.fp == (keystore.Fingerprint{}) {
		e.fp = sha256.Sum256(e.cert.Raw)
	}
	s.entries = append(s.entries, e)
	s.byAlias[fold(e.alias)] = e
	s.byFP[e.fp] = append(s.byFP[e.fp], e)
	n := nameKey(e.cert)
	s.byName[n] = append(s.byName[n], e)
}

// remove drops the entries in gone (a set of pointers) in one pass.
func (s *Set) remove(gone map[*entry]bool) {
	if len(gone) == 0 {
		return
	}
	keep := s.entries[:0]
	for _, e := range s.entries {
		if !gone[e] {
			keep = append(keep, e)
			continue
		}
		delete(s.byAlias, fold(e.alias))
		s.byFP[e.fp] = without(s.byFP[e.fp], e)
		if len(s.byFP[e.fp]) == 0 {
			delete(s.byFP, e.fp)
		}
		n := nameKey(e.cert)
		s.byName[n] = without(s.byName[n], e)
		if len(s.byName[n]) == 0 {
			delete(s.byName, n)
		}
		if e.inStore {
			s.deleted = append(s.deleted, e.alias)
		}
		if e.file != "" {
			s.touched[e.file] = true
		}
	}
	clear(s.entries[len(keep):])
	s.entries = keep
	clear(s.next) // freed aliases may be below a remembered suffix
	if s.kind == Directory {
		s.releaseNames(gone)
	}
}

// releaseNames frees, for new certificates, the names of the files whose
// every certificate was removed: the set writes those files no more, and a
// new certificate may take the alias (its file replaces the old one when
// the set is saved).
func (s *Set) releaseNames(gone map[*entry]bool) {
	used := map[string]bool{}
	for _, e := range s.entries {
		if e.file != "" {
			used[fold(stem(e.file))] = true
			used[fold(e.file)] = true
		}
	}
	for e := range gone {
		if e.file == "" {
			continue
		}
		if !used[fold(stem(e.file))] {
			delete(s.reserved, fold(stem(e.file)))
		}
		if !used[fold(e.file)] {
			delete(s.reserved, fold(e.file))
		}
	}
}

// stem is a file name without its extension.
func stem(name string) string { return strings.TrimSuffix(name, filepath.Ext(name)) }

func without(list []*entry, e *entry) []*entry {
	out := list[:0]
	for _, x := range list {
		if x != e {
			out = append(out, x)
		}
	}
	return out
}

// nameKey identifies a certificate's subject and public key together: two
// certificates with the same key are the same authority re-issued.
func nameKey(c *x509.Certificate) string {
	return string(c.RawSubject) + "\x00" + string(c.RawSubjectPublicKeyInfo)
}

// fold is the case folding used to compare aliases, as Java's keystores
// compare them.
func fold(alias string) string { return strings.ToLower(alias) }
