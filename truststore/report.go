package truststore

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/certroll/certroll/chain"

	"github.com/certroll/certroll/keystore"
)

// CertInfo describes one certificate of a trust set for reports.
//
// Its names are printed when asked for: [CertInfo.Subject] and
// [CertInfo.Issuer] print them from the certificate it was made for, each
// time they are called, and its JSON form (see [CertInfo.MarshalJSON])
// prints them when it is marshalled. A merge or prune that nobody reads the
// report of therefore prints no names, the costliest part of its report.
// A CertInfo keeps a pointer to the set's certificate, not a copy: the
// certificate is read-only, as [Entry.Cert] says.
//
// A CertInfo made by the caller (the zero value, or a literal with the
// exported fields) has no certificate: its Subject and Issuer are "", and
// its JSON form has "subject": "" and "issuer": "", as an empty name would.
// A CertInfo decoded from JSON is one of these: decoding keeps the other
// fields and drops the names. A CertInfo is safe for concurrent use.
type CertInfo struct {
	// Alias is the certificate's alias in the set it is reported for.
	Alias string `json:"alias"`
	// SHA256 is the SHA-256 fingerprint of the DER encoding; JSON holds it
	// as 64 lower-case hexadecimal digits.
	SHA256 keystore.Fingerprint `json:"sha256"`
	// NotBefore and NotAfter are the validity period, in UTC.
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	// cert is the certificate described, nil in a CertInfo made by the
	// caller; its names are printed from it.
	cert *x509.Certificate
}

// Subject returns the certificate's subject as crypto/x509 prints it
// ("CN=Root,O=Example"), or "" for a CertInfo without a certificate. It
// prints the name on every call.
func (c CertInfo) Subject() string {
	if c.cert == nil {
		return ""
	}
	// dnString prints names as pkix.Name.String does at a fraction of its
	// cost.
	return dnString(c.cert.Subject)
}

// Issuer returns the certificate's issuer as crypto/x509 prints it, or ""
// for a CertInfo without a certificate. It prints the name on every call.
func (c CertInfo) Issuer() string {
	if c.cert == nil {
		return ""
	}
	return dnString(c.cert.Issuer)
}

// wireInfo is a [CertInfo] in JSON form, its names printed.
type wireInfo struct {
	Alias     string               `json:"alias"`
	Subject   string               `json:"subject"`
	Issuer    string               `json:"issuer"`
	SHA256    keystore.Fingerprint `json:"sha256"`
	NotBefore time.Time            `json:"not_before"`
	NotAfter  time.Time            `json:"not_after"`
}

// wire prints the names for the JSON form. A root's issuer is its
// subject, so it is printed once.
func (c CertInfo) wire() wireInfo {
	w := wireInfo{Alias: c.Alias, SHA256: c.SHA256, NotBefore: c.NotBefore, NotAfter: c.NotAfter}
	if c.cert != nil {
		w.Subject = c.Subject()
		w.Issuer = w.Subject
		if !bytes.Equal(c.cert.RawIssuer, c.cert.RawSubject) {
			w.Issuer = c.Issuer()
		}
	}
	return w
}

// MarshalJSON encodes the certificate's description as an object with
// "alias", "subject", "issuer", "sha256", "not_before" and "not_after",
// printing the names (see [CertInfo.Subject]). It has a value receiver so
// that a CertInfo marshals the same by value and by pointer.
func (c CertInfo) MarshalJSON() ([]byte, error) {
	return json.Marshal(c.wire())
}

// infoFP describes a certificate whose fingerprint is known. It prints
// nothing: the names are printed when the report is.
func infoFP(alias string, c *x509.Certificate, sum keystore.Fingerprint) CertInfo {
	return CertInfo{
		Alias:     alias,
		SHA256:    sum,
		NotBefore: c.NotBefore.UTC(),
		NotAfter:  c.NotAfter.UTC(),
		cert:      c,
	}
}

// info returns the entry's CertInfo: merging a certificate the set holds
// reports it with the held entry's description.
func (e *entry) info() CertInfo {
	return infoFP(e.alias, e.cert, e.fp)
}

// Change is one certificate an operation added, skipped, removed or
// refused to remove, and why.
type Change struct {
	CertInfo
	// RequestedAlias is the alias asked for (given or derived) when the
	// certificate was stored under another one because it was taken.
	RequestedAlias string `json:"requested_alias,omitempty"`
	// ReissueOf lists, for an added certificate, the aliases of the
	// certificates present with the same subject and public key.
	ReissueOf []string `json:"reissue_of,omitempty"`
	// Dependents names, for a refused or forced removal, each chain in use
	// that the certificate anchors, as "name: CN=leaf -> CN=issuer". A
	// change in [Report.Removed] with Dependents is a forced removal
	// ([PruneOptions.Force]).
	Dependents []string `json:"dependents,omitempty"`
	// Reason says why, in words.
	Reason string `json:"reason"`
}

// A Report says what a [Set.Merge] or [Set.Prune] did. Its lists are never
// nil, so that its JSON form always has every field. The set changed when
// Added or Removed is not empty.
//
// Its JSON form holds, besides the fields below, "counts": the lengths of
// the lists, and how many added certificates are re-issues (with
// ReissueOf) and were renamed (with RequestedAlias); a skipped certificate
// has "duplicate_of", its Alias, and a removal with Dependents has
// "forced": true.
type Report struct {
	// Operation is "merge" or "prune".
	Operation string `json:"operation"`
	// Kind is the kind of the set operated on ("JKS", "PEM bundle", ...).
	Kind string `json:"kind"`
	// Added lists the certificates added, re-issues and renamed ones
	// included; Skipped the ones not added because the set holds them,
	// each with the alias it is held under.
	Added   []Change `json:"added"`
	Skipped []Change `json:"skipped"`
	// LeftOut lists the certificates a merge did not add because they are
	// not CA certificates (see [Set.Merge] and [MergeOptions.IncludeNonCA]),
	// each with its reason. Alias is the alias it would have had.
	LeftOut []Change `json:"left_out"`
	// Removed lists the certificates removed; Refused the ones selected for
	// removal but kept because chains in use depend on them.
	Removed []Change `json:"removed"`
	Refused []Change `json:"refused"`
}

// wireChange is a [Change] in JSON form; the JSON of a [Report] adds to
// it the fields that the list it is in implies.
type wireChange struct {
	wireInfo
	RequestedAlias string   `json:"requested_alias,omitempty"`
	DuplicateOf    string   `json:"duplicate_of,omitempty"`
	ReissueOf      []string `json:"reissue_of,omitempty"`
	Dependents     []string `json:"dependents,omitempty"`
	Forced         bool     `json:"forced,omitempty"`
	Reason         string   `json:"reason"`
}

func (c Change) wire() wireChange {
	return wireChange{wireInfo: c.CertInfo.wire(), RequestedAlias: c.RequestedAlias, ReissueOf: c.ReissueOf,
		Dependents: c.Dependents, Reason: c.Reason}
}

// MarshalJSON encodes the change as its [CertInfo] (names printed, see
// [CertInfo.MarshalJSON]) with "requested_alias", "reissue_of" and
// "dependents" when they are set, and "reason". A Change needs its own
// method because it would otherwise marshal as the CertInfo it embeds.
// It has a value receiver so that a Change marshals the same by value and
// by pointer.
func (c Change) MarshalJSON() ([]byte, error) {
	return json.Marshal(c.wire())
}

func newReport(op string, k Kind) *Report {
	return &Report{Operation: op, Kind: k.String(), Added: []Change{}, Skipped: []Change{}, LeftOut: []Change{}, Removed: []Change{}, Refused: []Change{}}
}

// counts sums up a [Report] in its JSON form and its String.
type counts struct {
	Added    int `json:"added"`
	Skipped  int `json:"skipped"`
	Reissued int `json:"reissued"`
	Renamed  int `json:"renamed"`
	Removed  int `json:"removed"`
	Refused  int `json:"refused"`
	LeftOut  int `json:"left_out"`
}

// count sums up the lists.
func (r *Report) count() counts {
	c := counts{Added: len(r.Added), Skipped: len(r.Skipped), Removed: len(r.Removed), Refused: len(r.Refused), LeftOut: len(r.LeftOut)}
	for _, ch := range r.Added {
		if len(ch.ReissueOf) > 0 {
			c.Reissued++
		}
		if ch.RequestedAlias != "" {
			c.Renamed++
		}
	}
	return c
}

func wireChanges(list []Change, skipped, removed bool) []wireChange {
	out := make([]wireChange, len(list))
	for i, c := range list {
		out[i] = c.wire()
		if skipped {
			out[i].DuplicateOf = c.Alias
		}
		if removed && len(c.Dependents) > 0 {
			out[i].Forced = true
		}
	}
	return out
}

// MarshalJSON encodes the report with its counts, as described at
// [Report]. It has a value receiver so that a Report marshals the same
// whether it is given by value or by pointer.
func (r Report) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Operation string       `json:"operation"`
		Kind      string       `json:"kind"`
		Counts    counts       `json:"counts"`
		Added     []wireChange `json:"added"`
		Skipped   []wireChange `json:"skipped"`
		LeftOut   []wireChange `json:"left_out"`
		Removed   []wireChange `json:"removed"`
		Refused   []wireChange `json:"refused"`
	}{r.Operation, r.Kind, r.count(), wireChanges(r.Added, false, false), wireChanges(r.Skipped, true, false),
		wireChanges(r.LeftOut, false, false), wireChanges(r.Removed, false, true), wireChanges(r.Refused, false, false)})
}

// String describes the report for people: a summary line, then one line
// per certificate with its action (added, skipped, left out, removed,
// refused), alias, subject, short fingerprint and reason. The summary line
// of a merge mentions certificates left out only when there are some.
func (r *Report) String() string {
	var b strings.Builder
	c := r.count()
	switch r.Operation {
	case "merge":
		fmt.Fprintf(&b, "merge into %s: %d added (%d re-issued, %d renamed), %d skipped as duplicates",
			r.Kind, c.Added, c.Reissued, c.Renamed, c.Skipped)
		if c.LeftOut > 0 {
			fmt.Fprintf(&b, ", %d left out as not CA certificates", c.LeftOut)
		}
		b.WriteString("\n")
	case "prune":
		fmt.Fprintf(&b, "prune of %s: %d removed, %d refused\n", r.Kind, c.Removed, c.Refused)
	default:
		fmt.Fprintf(&b, "%s of %s: %d added, %d skipped, %d removed, %d refused\n",
			r.Operation, r.Kind, c.Added, c.Skipped, c.Removed, c.Refused)
	}
	for _, l := range []struct {
		verb string
		list []Change
	}{{"added", r.Added}, {"skipped", r.Skipped}, {"left out", r.LeftOut}, {"removed", r.Removed}, {"refused", r.Refused}} {
		for _, ch := range l.list {
			fmt.Fprintf(&b, "  %-8s %s  %s  sha256 %s  valid %s to %s\n", l.verb, ch.Alias, ch.Subject(),
				short(ch.SHA256), ch.NotBefore.Format(time.DateOnly), ch.NotAfter.Format(time.DateOnly))
			if ch.Reason != "" {
				fmt.Fprintf(&b, "           %s\n", ch.Reason)
			}
			for _, d := range ch.Dependents {
				fmt.Fprintf(&b, "           in use by %s\n", d)
			}
		}
	}
	return b.String()
}

// short returns the first 16 hexadecimal digits of a fingerprint, enough
// for people to tell certificates apart in a listing.
func short(fp keystore.Fingerprint) string {
	h := fp.Hex()
	if len(h) > 16 {
		return h[:16]
	}
	return h
}

// describe names a certificate in errors and reasons.
func describe(c *x509.Certificate) string {
	return fmt.Sprintf("%s (sha256 %s)", chain.Name(c), short(keystore.CertFingerprint(c)))
}
