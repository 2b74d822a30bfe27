package truststore

import (
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"strings"
	"time"
)

// An Item is a certificate to merge, with the alias it should have. An
// empty Alias asks for the derived alias (see [DeriveAlias]).
type Item struct {
	// Alias is the alias wanted, or "" for the derived one.
	Alias string
	// Cert is the certificate to add; it must not be nil.
	Cert *x509.Certificate
}

// Certs returns items for certs with no alias given, so that
// [Set.Merge] derives them.
func Certs(certs ...*x509.Certificate) []Item {
	out := make([]Item, len(certs))
	for i, c := range certs {
		out[i] = Item{Cert: c}
	}
	return out
}

// Items returns the set's certificates as items carrying their aliases, to
// merge one set into another under the same aliases.
func (s *Set) Items() []Item {
	out := make([]Item, len(s.entries))
	for i, e := range s.entries {
		out[i] = Item{Alias: e.alias, Cert: e.cert}
	}
	return out
}

// MergeOptions changes how [Set.Merge] adds certificates. The zero value
// (or nil) is ready to use.
type MergeOptions struct {
	// Now dates the keystore entries added (the creation date keytool
	// lists). Nil means time.Now.
	Now func() time.Time
}

func (o *MergeOptions) now() time.Time {
	if o != nil && o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// Merge adds the items' certificates to the set, in order, and reports
// what it did:
//
//   - A certificate the set already holds (the same SHA-256 of its DER
//     encoding), or one given earlier in items, is skipped and reported
//     with the alias it is held under, whatever alias it was given.
//   - A certificate with the subject and public key of one or more held
//     but another encoding (a re-issued root with new validity) is added
//     and reported as a re-issue of them.
//   - A new certificate gets the alias given, or the derived one; if that
//     alias is taken, ignoring case, by another certificate or (in a
//     keystore) another entry, or (in a directory) a file's name, "-2",
//     "-3", ... is appended and the certificate is reported as renamed.
//     In a JKS or PKCS#12 set new aliases are lower-cased, as Java stores
//     them.
//
// The result depends only on the set, the items and their order. Merge
// fails, changing nothing, if an item has no certificate or an alias that
// cannot be used ([ErrInvalidAlias]).
func (s *Set) Merge(items []Item, opts *MergeOptions) (*Report, error) {
	for i, it := range items {
		if it.Cert == nil {
			return nil, fmt.Errorf("truststore: merge: item %d of %d has no certificate", i+1, len(items))
		}
		if it.Alias != "" {
			if err := checkAlias(s.kind, it.Alias); err != nil {
				return nil, fmt.Errorf("truststore: merge: item %d of %d (%s): %w", i+1, len(items), describe(it.Cert), err)
			}
		}
	}
	rep := newReport("merge", s.kind)
	var created time.Time
	if s.store != nil {
		created = opts.now()
	}
	for _, it := range items {
		c := it.Cert
		fp := sha256.Sum256(c.Raw)
		if held := s.byFP[fp]; len(held) > 0 {
			ch := Change{CertInfo: held[0].info(), DuplicateOf: held[0].alias}
			ch.Reason = fmt.Sprintf("identical to %q, already in the set", held[0].alias)
			if it.Alias != "" && fold(it.Alias) != fold(held[0].alias) {
				ch.Reason += fmt.Sprintf(" (not added again as %q)", it.Alias)
			}
			rep.Skipped = append(rep.Skipped, ch)
			continue
		}
		want := it.Alias
		if want == "" {
			want = deriveAlias(c, fp)
		}
		if s.store != nil {
			want = strings.ToLower(want) // as Java stores new aliases
		}
		alias, why := s.allocate(want)
		e := &entry{alias: alias, cert: c, fp: fp, created: created}
		ch := Change{CertInfo: e.info()}
		var reasons []string
		if why != "" {
			ch.RequestedAlias = want
			reasons = append(reasons, fmt.Sprintf("stored as %q: %s", alias, why))
		}
		if same := s.byName[nameKey(c)]; len(same) > 0 {
			for _, o := range same {
				ch.ReissueOf = append(ch.ReissueOf, o.alias)
				reasons = append(reasons, fmt.Sprintf("re-issue of %q: same subject and key, valid %s to %s where %q is valid %s to %s",
					o.alias, day(c.NotBefore), day(c.NotAfter), o.alias, day(o.cert.NotBefore), day(o.cert.NotAfter)))
			}
		}
		if len(reasons) == 0 {
			reasons = append(reasons, "new certificate")
		}
		ch.Reason = strings.Join(reasons, "; ")
		s.insert(e)
		rep.Added = append(rep.Added, ch)
	}
	rep.count()
	return rep, nil
}

func day(t time.Time) string { return t.UTC().Format(time.DateOnly) }
