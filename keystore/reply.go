package keystore

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/certroll/certroll/chain"
)

// A ReplyResult says what [Store.InstallReply] did.
type ReplyResult struct {
	// Chain is the chain now under the alias, leaf first.
	Chain []*x509.Certificate
	// Anchor is the trust anchor the chain reaches, or nil when the reply
	// was installed with [ReplyOptions.AllowUntrusted] and reaches none.
	Anchor *x509.Certificate
	// Unchanged is set when the reply equals the chain already installed:
	// nothing was changed.
	Unchanged bool
	// Previous is the chain that was under the alias before.
	Previous []*x509.Certificate

	alias string // the alias as written in the store, for String
}

// String describes the result in one line.
func (r *ReplyResult) String() string {
	if r.Unchanged {
		return fmt.Sprintf("alias %q: reply identical to the installed chain; nothing changed", r.alias)
	}
	anchor := "no trust anchor (allowed)"
	if r.Anchor != nil {
		anchor = "anchor " + r.Anchor.Subject.String()
	}
	return fmt.Sprintf("alias %q: installed chain of %d (%s), %s", r.alias, len(r.Chain), chain.Path(r.Chain), anchor)
}

// InstallReply installs a CA's reply onto the key entry under alias, as
// `keytool -importcert` does onto a key alias. The reply may be in any
// order and incomplete: it is ordered leaf first and completed from
// [ReplyOptions.Anchors] and the store's trusted entries. The leaf's
// public key must be the entry's, or [ReplyOptions.NewKey], which then
// replaces the entry's key ([ErrKeyMismatch], showing both key
// fingerprints). The completed chain must reach a trust anchor (a
// certificate among those anchors and trusted entries) unless
// [ReplyOptions.AllowUntrusted] is set ([ErrUntrustedReply]). A reply
// identical to the installed chain changes nothing and says so in the
// result. opts may be nil.
//
// The alias, the key and every other entry stay as they were; the
// entry's creation date becomes the store clock's time.
//
// With a NewKey the entry is replaced without reading it, so an entry
// whose key Go cannot use (DSA) or whose certificate Go cannot parse
// (secp256k1, binary curves) can be renewed; Previous is then nil for a
// chain that cannot be parsed. A [SecretKeyEntry] is refused ([ErrNotKeyEntry])
// unless [ReplyOptions.OverwriteAnyKind] is set.
func (s *Store) InstallReply(alias string, reply []*x509.Certificate, opts *ReplyOptions) (*ReplyResult, error) {
	var o ReplyOptions
	if opts != nil {
		o = *opts
	}
	i := s.find(alias)
	if i < 0 {
		return nil, s.notFound(alias)
	}
	r := s.recs[i]
	if r.kind == TrustedEntry {
		return nil, fmt.Errorf("%w: alias %q holds a trusted certificate; a reply installs onto a key entry", ErrNotKeyEntry, r.alias)
	}
	if err := checkOverwrite("InstallReply", r, KeyEntry, o.OverwriteAnyKind); err != nil {
		return nil, err
	}
	var err error
	if len(reply) == 0 {
		return nil, fmt.Errorf("keystore: InstallReply %q: the reply holds no certificate", r.alias)
	}
	key := o.NewKey
	if key == nil {
		if key, err = s.key(r); err != nil {
			if errors.Is(err, ErrUnsupportedKey) || errors.Is(err, ErrCorruptKey) {
				return nil, fmt.Errorf("keystore: InstallReply %q: %w (a reply for a new key is installed together with that key)", r.alias, inner{err})
			}
			return nil, err
		}
	}
	previous, err := r.chain()
	if err != nil {
		if o.NewKey == nil {
			return nil, fmt.Errorf("keystore: InstallReply %q: %w (installed together with its new key, the reply replaces the entry without reading it)", r.alias, inner{err})
		}
		// The new key replaces the entry whole: what Go cannot parse of
		// it need not be read.
		previous = nil
	}

	ordered, err := chain.Order(reply)
	if err != nil {
		return nil, fmt.Errorf("keystore: InstallReply %q: %w", r.alias, err)
	}
	if err := matchKey(r.alias, key, ordered[0]); err != nil {
		return nil, err
	}

	anchors := append([]*x509.Certificate(nil), o.Anchors...)
	for _, t := range s.recs {
		if t.kind != TrustedEntry {
			continue
		}
		c, err := t.chain()
		if err != nil || len(c) != 1 {
			continue // an unreadable trusted entry anchors nothing
		}
		anchors = append(anchors, c[0])
	}
	// keytool: "Certificate reply and certificate in keystore are
	// identical". A reply whose leaf is the installed one, carrying nothing
	// the installed chain lacks, changes nothing.
	if o.NewKey == nil && len(previous) > 0 && bytes.Equal(ordered[0].Raw, previous[0].Raw) && subset(reply, previous) {
		return &ReplyResult{alias: r.alias, Chain: append([]*x509.Certificate(nil), previous...), Unchanged: true,
			Previous: append([]*x509.Certificate(nil), previous...)}, nil
	}

	// The reply may carry its own root; it is a path element, not a
	// reason to trust it.
	pool := append(append([]*x509.Certificate(nil), anchors...), reply...)
	full := ordered
	path, root, err := chain.Complete(ordered, pool)
	switch {
	case err == nil:
		full = path
		if len(path) != 1 || !bytes.Equal(path[0].Raw, root.Raw) {
			full = append(append([]*x509.Certificate(nil), path...), root)
		}
	case !o.AllowUntrusted:
		return nil, &untrustedReplyError{alias: r.alias, err: err}
	}
	anchor, full := findAnchor(full, anchors)
	if anchor == nil && !o.AllowUntrusted {
		top := full[len(full)-1]
		return nil, &untrustedReplyError{alias: r.alias, detail: fmt.Sprintf("the chain ends at %q, which is not among the %d trusted certificates (give the new root as a trust anchor, or import it as a trusted entry)",
			top.Subject.String(), len(anchors))}
	}
	if err := checkKeyChain(r.alias, key, full); err != nil {
		return nil, err
	}

	res := &ReplyResult{alias: r.alias, Chain: full, Anchor: anchor, Previous: append([]*x509.Certificate(nil), previous...)}
	if sameChain(previous, full) && o.NewKey == nil {
		res.Unchanged = true
		return res, nil
	}
	nr, err := s.newRecord(&Entry{Alias: r.alias, Key: key, Chain: full})
	if err != nil {
		return nil, err
	}
	nr.alias = r.alias
	nr.keySource = s.learnKeySource(r)
	s.recs[i] = nr
	return res, nil
}

// findAnchor returns the first certificate of c that is among anchors, and
// c cut after it; or nil and c.
func findAnchor(c, anchors []*x509.Certificate) (*x509.Certificate, []*x509.Certificate) {
	for i, cert := range c {
		for _, a := range anchors {
			if bytes.Equal(cert.Raw, a.Raw) {
				return a, c[:i+1]
			}
		}
	}
	return nil, c
}

func sameChain(a, b []*x509.Certificate) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i].Raw, b[i].Raw) {
			return false
		}
	}
	return true
}

// subset reports whether every certificate of a is in b.
func subset(a, b []*x509.Certificate) bool {
	for _, c := range a {
		found := false
		for _, d := range b {
			if bytes.Equal(c.Raw, d.Raw) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// untrustedReplyError is a reply whose chain does not reach a trust
// anchor: one message (one prefix) naming the alias and why, matching
// [ErrUntrustedReply] and wrapping the chain's error, if any.
type untrustedReplyError struct {
	alias  string
	detail string // why, when there is no underlying error
	err    error  // the chain's error, such as chain.ErrMissingIssuer
}

func (e *untrustedReplyError) Error() string {
	why := e.detail
	if e.err != nil {
		why = e.err.Error()
	}
	return fmt.Sprintf("keystore: the certificate reply for alias %q does not reach a trust anchor: %s", e.alias, why)
}

// Is makes it match [ErrUntrustedReply].
func (e *untrustedReplyError) Is(target error) bool { return target == ErrUntrustedReply }

func (e *untrustedReplyError) Unwrap() error { return e.err }
