package truststore

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/certroll/certroll/chain"
	"github.com/certroll/certroll/keystore"
)

// A Selector picks the certificates [Set.Prune] removes. Build one with
// [ByAlias], [ByFingerprint], [BySubject] or [Where] (which selects, for
// instance, the certificates expired at a time); the zero Selector selects
// nothing.
type Selector struct {
	desc string // the selection for reports ("selected by alias \"old-root\"")
	// match reports whether e is selected.
	match func(e *entry) bool
	// keys, when set, must each select at least one certificate: an alias
	// or a fingerprint the set does not hold is an error, not a no-op.
	keys []string
	key  func(k string, e *entry) bool
}

// ByAlias selects the certificates with the given aliases, ignoring case.
// Each alias must name a certificate of the set.
func ByAlias(aliases ...string) Selector {
	want := make(map[string]bool, len(aliases))
	for _, a := range aliases {
		want[fold(a)] = true
	}
	return Selector{
		desc:  describeKeys("alias", aliases),
		match: func(e *entry) bool { return want[fold(e.alias)] },
		keys:  aliases,
		key:   func(k string, e *entry) bool { return fold(k) == fold(e.alias) },
	}
}

// ByFingerprint selects the certificates with the given SHA-256
// fingerprints ([keystore.CertFingerprint], or [keystore.ParseFingerprint]
// for one a person pasted). Each must name a certificate of the set.
func ByFingerprint(fingerprints ...keystore.Fingerprint) Selector {
	want := make(map[keystore.Fingerprint]bool, len(fingerprints))
	byKey := make(map[string]keystore.Fingerprint, len(fingerprints))
	keys := make([]string, len(fingerprints))
	for i, f := range fingerprints {
		want[f] = true
		keys[i] = f.String()
		byKey[keys[i]] = f
	}
	return Selector{
		desc:  describeKeys("fingerprint", keys),
		match: func(e *entry) bool { return want[e.fp] },
		keys:  keys,
		key:   func(k string, e *entry) bool { return byKey[k] == e.fp },
	}
}

// BySubject selects the certificates whose subject, as crypto/x509 prints
// it (such as "CN=Old Root CA,O=Example"), is dn. At least one must match.
func BySubject(dn string) Selector {
	return Selector{
		desc:  fmt.Sprintf("subject %q", dn),
		match: func(e *entry) bool { return e.cert.Subject.String() == dn },
		keys:  []string{dn},
		key:   func(k string, e *entry) bool { return e.cert.Subject.String() == k },
	}
}

// Where selects the certificates for which fn returns true; desc describes
// the selection in reports. It may select none. The certificates expired at
// t, for instance:
//
//	truststore.Where("expired at "+t.Format(time.RFC3339), func(e truststore.Entry) bool {
//		return e.Cert.NotAfter.Before(t)
//	})
func Where(desc string, fn func(Entry) bool) Selector {
	return Selector{desc: desc, match: func(e *entry) bool { return fn(Entry{Alias: e.alias, Cert: e.cert}) }}
}

func describeKeys(what string, keys []string) string {
	q := make([]string, len(keys))
	for i, k := range keys {
		q[i] = fmt.Sprintf("%q", k)
	}
	if len(keys) == 1 {
		return what + " " + q[0]
	}
	return what + "es " + strings.Join(q, ", ")
}

// A Dependent is a certificate chain that the caller declares in use, such
// as a key entry that a client presents or a pinned client certificate
// (a chain of that one certificate, named for instance
// "receiver pins "+[chain.Name](cert)).
type Dependent struct {
	// Name says where the chain is used, for reports ("client.jks alias
	// \"client\"").
	Name string
	// Chain is the chain, leaf first. It may end below the root, at the
	// root, or be a single pinned certificate.
	Chain []*x509.Certificate
}

// KeystoreChains declares the chain of every key entry of ks in use, named
// "name alias \"a\"". Keys are not decrypted. Trusted-certificate entries
// are not included: a root is not in use because another truststore holds
// it.
func KeystoreChains(name string, ks *keystore.Store) ([]Dependent, error) {
	var out []Dependent
	for _, a := range ks.Aliases() {
		k, err := ks.Kind(a)
		if err != nil {
			return nil, fmt.Errorf("truststore: %s: %w", name, err)
		}
		if k != keystore.KeyEntry {
			continue
		}
		chain, err := ks.Certificates(a)
		if err != nil {
			return nil, fmt.Errorf("truststore: %s: %w", name, err)
		}
		if len(chain) == 0 {
			continue
		}
		out = append(out, Dependent{Name: fmt.Sprintf("%s alias %q", name, a), Chain: chain})
	}
	return out, nil
}

// OpenDependents reads the chains in use from a file: the key entries of a
// JKS or PKCS#12 keystore (opened with password, see [KeystoreChains]), or
// the one chain of a PEM or DER certificate file (leaf first, as a client
// presents it), named by path.
func OpenDependents(path string, password []byte) ([]Dependent, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("truststore: %w", err)
	}
	// A DER certificate and a PKCS#12 file both start with a SEQUENCE, but
	// a PKCS#12 PFX never reads as certificates (its first element is an
	// INTEGER), so trying certificates first is unambiguous.
	certs, certErr := keystore.ParseCertificates(data)
	if certErr == nil {
		return []Dependent{{Name: path, Chain: certs}}, nil
	}
	if looksText(data) {
		return nil, fmt.Errorf("truststore: %s: %w", path, certErr)
	}
	ks, err := keystore.Parse(data, password, nil)
	if err != nil {
		return nil, fmt.Errorf("truststore: %s: %w", path, err)
	}
	return KeystoreChains(path, ks)
}

// PruneOptions changes how [Set.Prune] removes certificates. The caller must
// declare usage: InUse lists the chains in use, or NothingInUse (or Force)
// says that none is checked. The zero value, like nil, declares nothing and
// makes Prune fail with [ErrUsageUndeclared].
type PruneOptions struct {
	// InUse lists the chains that must stay anchored in the set.
	InUse []Dependent
	// NothingInUse declares that no chain depends on the set, so that
	// Prune removes what is selected without a usage check. It cannot be
	// combined with InUse.
	NothingInUse bool
	// Force removes selected certificates even when chains in use depend
	// on them; the report still names the chains in InUse that do. Force
	// without InUse removes without a usage check, as NothingInUse does.
	Force bool
}

// check returns an error matching [ErrUsageUndeclared] unless the options
// declare usage one way or the other.
func (o *PruneOptions) check() error {
	const how = "set PruneOptions.InUse to the chains in use (see KeystoreChains, OpenDependents), " +
		"or NothingInUse to remove without a usage check, or Force to remove whatever depends on it"
	switch {
	case o == nil:
		return fmt.Errorf("%w: options are nil; %s", ErrUsageUndeclared, how)
	case o.NothingInUse && len(o.InUse) > 0:
		return fmt.Errorf("%w: NothingInUse is set but InUse lists %d %s; set one or the other", ErrUsageUndeclared,
			len(o.InUse), plural(len(o.InUse), "chain", "chains"))
	case len(o.InUse) == 0 && !o.NothingInUse && !o.Force:
		return fmt.Errorf("%w: InUse is empty and neither NothingInUse nor Force is set; %s", ErrUsageUndeclared, how)
	}
	return nil
}

// Prune removes the certificates sel selects and reports what it did. The
// caller declares in opts what uses the set (see [PruneOptions]); without
// that declaration Prune removes nothing and returns an error matching
// [ErrUsageUndeclared].
//
// A certificate anchors a chain in use when the chain's top certificate is
// that certificate, or names it as issuer (by subject and, when both carry
// one, key identifier) and carries a signature it verifies. A chain
// depends on the selection when every certificate of the set that anchors
// it is selected; those certificates are then kept and reported as
// refused, naming each dependent chain, unless opts.Force is set. Removing
// an old root while its re-issue (same key) stays is therefore allowed.
//
// When certificates were refused, Prune returns the report, whose Refused
// list names each kept certificate and, in its Dependents, the chains that
// depend on it, together with an error matching [ErrInUse] that names them
// too; the other selected certificates are removed. An alias, fingerprint or subject selecting nothing gives an
// error matching [ErrNotFound] and removes nothing.
func (s *Set) Prune(sel Selector, opts *PruneOptions) (*Report, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	if sel.match == nil {
		return nil, fmt.Errorf("truststore: prune: empty selector; use ByAlias, ByFingerprint, BySubject or Where")
	}
	for _, k := range sel.keys {
		found := false
		for _, e := range s.entries {
			if sel.key(k, e) {
				found = true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("%w: prune %s: no certificate of the %v set (%d certificates) matches %q", ErrNotFound, sel.desc, s.kind, len(s.entries), k)
		}
	}
	selected := map[*entry]bool{}
	for _, e := range s.entries {
		if sel.match(e) {
			selected[e] = true
		}
	}
	// For each chain in use, the certificates of the set that anchor it;
	// a chain all of whose anchors are selected depends on the selection.
	dependents := map[*entry][]string{}
	bySubject := make(map[string][]*entry, len(s.entries))
	if len(opts.InUse) > 0 {
		for _, e := range s.entries {
			bySubject[string(e.cert.RawSubject)] = append(bySubject[string(e.cert.RawSubject)], e)
		}
	}
	for _, d := range opts.InUse {
		if len(d.Chain) == 0 || d.Chain[len(d.Chain)-1] == nil {
			continue
		}
		top := d.Chain[len(d.Chain)-1]
		topFP := keystore.CertFingerprint(top)
		var anchors []*entry
		// Candidates: the top certificate itself, and certificates named
		// as its issuer.
		anchors = append(anchors, s.byFP[topFP]...)
		for _, e := range bySubject[string(top.RawIssuer)] {
			if e.fp != topFP && isAnchor(e.cert, top) {
				anchors = append(anchors, e)
			}
		}
		if len(anchors) == 0 {
			continue
		}
		all := true
		for _, a := range anchors {
			all = all && selected[a]
		}
		if !all {
			continue
		}
		desc := d.Name + ": " + chain.Path(d.Chain)
		for _, a := range anchors {
			dependents[a] = append(dependents[a], desc)
		}
	}
	rep := newReport("prune", s.kind)
	gone := map[*entry]bool{}
	for _, e := range s.entries {
		if !selected[e] {
			continue
		}
		ch := Change{CertInfo: e.info(), Dependents: dependents[e]}
		switch deps := dependents[e]; {
		case len(deps) == 0:
			ch.Reason = "selected by " + sel.desc
			gone[e] = true
			rep.Removed = append(rep.Removed, ch)
		case opts.Force:
			ch.Reason = fmt.Sprintf("selected by %s; forced although %d %s in use %s on it", sel.desc,
				len(deps), plural(len(deps), "chain", "chains"), plural(len(deps), "depends", "depend"))
			gone[e] = true
			rep.Removed = append(rep.Removed, ch)
		default:
			ch.Reason = fmt.Sprintf("selected by %s, but %d %s in use %s on it and no other certificate of the set anchors %s",
				sel.desc, len(deps), plural(len(deps), "chain", "chains"), plural(len(deps), "depends", "depend"), plural(len(deps), "it", "them"))
			rep.Refused = append(rep.Refused, ch)
		}
	}
	s.remove(gone)
	if len(rep.Refused) > 0 {
		return rep, &inUseError{refused: rep.Refused}
	}
	return rep, nil
}

// isAnchor reports whether anchor anchors a chain whose top certificate is
// top: it is top, or it issued top. Issuance is judged by name (and key
// identifier, when both carry one) and then by the signature; a signature
// that cannot be checked because its algorithm is one crypto/x509 refuses
// (MD5) counts as made by the named issuer, so that the check errs on the
// side of keeping a certificate.
func isAnchor(anchor, top *x509.Certificate) bool {
	if bytes.Equal(anchor.Raw, top.Raw) {
		return true
	}
	if !bytes.Equal(top.RawIssuer, anchor.RawSubject) {
		return false
	}
	if len(top.AuthorityKeyId) > 0 && len(anchor.SubjectKeyId) > 0 && !bytes.Equal(top.AuthorityKeyId, anchor.SubjectKeyId) {
		return false
	}
	err := anchor.CheckSignature(top.SignatureAlgorithm, top.RawTBSCertificate, top.Signature)
	var insecure x509.InsecureAlgorithmError
	return err == nil || errors.As(err, &insecure)
}
