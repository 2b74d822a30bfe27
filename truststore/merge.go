package truststore

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/certroll/certroll/keystore"
)

// Certs returns entries for certs with no alias given, so that
// [Set.Merge] derives them.
func Certs(certs ...*x509.Certificate) []Entry {
	out := make([]Entry, len(certs))
	for i, c := range certs {
		out[i] = Entry{Cert: c}
	}
	return out
}

// MergeOptions changes how [Set.Merge] adds certificates. The zero value
// (or nil) is ready to use: it dates new keystore entries with time.Now and
// adds CA certificates only.
type MergeOptions struct {
	// Now dates the keystore entries added (the creation date keytool
	// lists). Nil means time.Now.
	Now func() time.Time
	// IncludeNonCA adds certificates that are not CA certificates too (see
	// [Set.Merge]), such as a client certificate a receiver pins. By default
	// they are left out and reported in [Report.LeftOut], so that merging a
	// CA's reply, which carries the leaf it signed, does not make a
	// truststore trust that leaf.
	IncludeNonCA bool
}

func (o *MergeOptions) includeNonCA() bool { return o != nil && o.IncludeNonCA }

// isCA reports whether [Set.Merge] treats c as a CA certificate: its
// basicConstraints extension says CA:true or, when it has no
// basicConstraints extension at all, it is self-signed (its issuer is its
// subject and its own key verifies its signature). The second rule admits
// the X.509 version 1 roots without extensions that old truststores still
// hold, as Java's path validation accepts them as trust anchors; a
// self-signed certificate that says CA:false is not a CA. A signature whose
// algorithm crypto/x509 refuses to check (MD5, SHA-1 with some keys) counts
// as made by the certificate's own key, as old roots are signed so.
func isCA(c *x509.Certificate) bool {
	if c == nil {
		return false
	}
	if c.BasicConstraintsValid {
		return c.IsCA
	}
	return selfSigned(c)
}

// notCA says why c is not a CA certificate, or "" when it is one.
func notCA(c *x509.Certificate) string {
	switch {
	case isCA(c):
		return ""
	case c.BasicConstraintsValid:
		return "not a CA certificate: its basicConstraints say CA:false"
	default:
		return "not a CA certificate: it has no basicConstraints extension and is not self-signed"
	}
}

// selfSigned reports whether c names itself as issuer and its own key
// verifies its signature (or the signature's algorithm is one crypto/x509
// refuses to check).
func selfSigned(c *x509.Certificate) bool {
	if !bytes.Equal(c.RawIssuer, c.RawSubject) {
		return false
	}
	err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature)
	var insecure x509.InsecureAlgorithmError
	return err == nil || errors.As(err, &insecure)
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
//   - A certificate is a CA certificate when its basicConstraints extension
//     says CA:true or, lacking that extension, it is self-signed (the X.509
//     version 1 roots old truststores hold). One that is not a CA
//     certificate is left out and listed in [Report.LeftOut], unless opts.IncludeNonCA is set: a
//     truststore holds trust anchors, and a CA's reply or a client's chain
//     carries a leaf that must not become one.
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
func (s *Set) Merge(items []Entry, opts *MergeOptions) (*Report, error) {
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
		fp := keystore.CertFingerprint(c)
		if held := s.byFP[fp]; len(held) > 0 {
			ch := Change{CertInfo: held[0].info()}
			ch.Reason = fmt.Sprintf("identical to %q, already in the set", held[0].alias)
			if it.Alias != "" && fold(it.Alias) != fold(held[0].alias) {
				ch.Reason += fmt.Sprintf(" (not added again as %q)", it.Alias)
			}
			rep.Skipped = append(rep.Skipped, ch)
			continue
		}
		if why := notCA(c); why != "" && !opts.includeNonCA() {
			ch := Change{CertInfo: infoFP(it.Alias, c, fp), Reason: why}
			if ch.Alias == "" {
				ch.Alias = deriveAlias(c, fp)
			}
			rep.LeftOut = append(rep.LeftOut, ch)
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
	return rep, nil
}

func day(t time.Time) string { return t.UTC().Format(time.DateOnly) }
