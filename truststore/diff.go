package truststore

import (
	"github.com/certroll/certroll/keystore"

	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// AliasChange is a certificate that two sets hold under different aliases.
type AliasChange struct {
	// SHA256 is the certificate's fingerprint (lower-case hexadecimal in
	// JSON); Subject its subject.
	SHA256  keystore.Fingerprint `json:"sha256"`
	Subject string               `json:"subject"`
	// AliasA and AliasB are its aliases in the two sets.
	AliasA string `json:"alias_a"`
	AliasB string `json:"alias_b"`
}

// A DiffReport compares two trust sets by certificate (the SHA-256 of the
// DER encoding), not by alias. Its lists are never nil; the two sets hold
// the same certificates under the same aliases when all three are empty.
type DiffReport struct {
	// OnlyInA and OnlyInB list the certificates one set holds and the
	// other does not, each in its set's order.
	OnlyInA []CertInfo `json:"only_in_a"`
	OnlyInB []CertInfo `json:"only_in_b"`
	// AliasChanged lists the certificates both hold, under aliases that
	// differ (ignoring case), in a's order.
	AliasChanged []AliasChange `json:"alias_changed"`
	// Common counts the certificates both hold.
	Common int `json:"common"`
}

// Diff compares a with b: what b adds, what it lacks, and which aliases
// differ.
func Diff(a, b *Set) *DiffReport {
	d := &DiffReport{OnlyInA: []CertInfo{}, OnlyInB: []CertInfo{}, AliasChanged: []AliasChange{}}
	for _, e := range a.entries {
		other := b.byFP[e.fp]
		if len(other) == 0 {
			d.OnlyInA = append(d.OnlyInA, e.info())
			continue
		}
		if a.byFP[e.fp][0] != e {
			continue // a holds it twice; count it once
		}
		d.Common++
		if fold(other[0].alias) != fold(e.alias) {
			in := e.info()
			d.AliasChanged = append(d.AliasChanged, AliasChange{SHA256: in.SHA256, Subject: in.Subject(), AliasA: e.alias, AliasB: other[0].alias})
		}
	}
	for _, e := range b.entries {
		if len(a.byFP[e.fp]) == 0 {
			d.OnlyInB = append(d.OnlyInB, e.info())
		}
	}
	return d
}

// String describes the differences for people.
func (d *DiffReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "diff: %d only in a, %d only in b, %d in both (%d under another alias)\n",
		len(d.OnlyInA), len(d.OnlyInB), d.Common, len(d.AliasChanged))
	for _, c := range d.OnlyInA {
		fmt.Fprintf(&b, "  - %s  %s  sha256 %s\n", c.Alias, c.Subject(), short(c.SHA256))
	}
	for _, c := range d.OnlyInB {
		fmt.Fprintf(&b, "  + %s  %s  sha256 %s\n", c.Alias, c.Subject(), short(c.SHA256))
	}
	for _, c := range d.AliasChanged {
		fmt.Fprintf(&b, "  ~ %s -> %s  %s  sha256 %s\n", c.AliasA, c.AliasB, c.Subject, short(c.SHA256))
	}
	return b.String()
}

// An ExpiryReport lists the certificates of a set that have expired or
// expire within a window. A certificate has expired when its NotAfter is
// before Now; the time it has left is NotAfter.Sub(Now).
//
// In its JSON form each certificate also has "expired" (a boolean) and
// "remaining_ns", the time left in nanoseconds, negative once expired.
type ExpiryReport struct {
	// Now and Within are the arguments of [Set.Expiring]; Within is in
	// nanoseconds in JSON.
	Now    time.Time     `json:"now"`
	Within time.Duration `json:"within_ns"`
	// Certificates lists them by NotAfter, earliest first (then by alias).
	// It is never nil.
	Certificates []CertInfo `json:"certificates"`
}

// wireExpiry is a certificate of an [ExpiryReport] in its JSON form.
type wireExpiry struct {
	wireInfo
	Expired   bool          `json:"expired"`
	Remaining time.Duration `json:"remaining_ns"`
}

// MarshalJSON encodes the report with each certificate's state, as
// described at [ExpiryReport]. It has a value receiver so that a report
// marshals the same by value and by pointer.
func (r ExpiryReport) MarshalJSON() ([]byte, error) {
	certs := make([]wireExpiry, len(r.Certificates))
	for i, c := range r.Certificates {
		certs[i] = wireExpiry{wireInfo: c.wire(), Expired: c.NotAfter.Before(r.Now), Remaining: c.NotAfter.Sub(r.Now)}
	}
	return json.Marshal(struct {
		Now          time.Time     `json:"now"`
		Within       time.Duration `json:"within_ns"`
		Certificates []wireExpiry  `json:"certificates"`
	}{r.Now, r.Within, certs})
}

// Expiring reports the certificates whose validity ends before
// now+within, already expired ones included.
func (s *Set) Expiring(within time.Duration, now time.Time) *ExpiryReport {
	r := &ExpiryReport{Now: now.UTC(), Within: within, Certificates: []CertInfo{}}
	limit := now.Add(within)
	for _, e := range s.entries {
		if e.cert.NotAfter.Before(limit) {
			r.Certificates = append(r.Certificates, e.info())
		}
	}
	sort.SliceStable(r.Certificates, func(i, j int) bool {
		a, b := r.Certificates[i], r.Certificates[j]
		if !a.NotAfter.Equal(b.NotAfter) {
			return a.NotAfter.Before(b.NotAfter)
		}
		return a.Alias < b.Alias
	})
	return r
}

// String lists the certificates for people, with the days left.
func (r *ExpiryReport) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s expired or expiring within %s of %s\n", len(r.Certificates),
		plural(len(r.Certificates), "certificate", "certificates"), days(r.Within), r.Now.Format(time.DateOnly))
	for _, c := range r.Certificates {
		left := c.NotAfter.Sub(r.Now)
		state := "expires in " + days(left)
		if c.NotAfter.Before(r.Now) {
			state = "expired " + days(-left) + " ago"
		}
		fmt.Fprintf(&b, "  %s  %s  not after %s (%s)\n", c.Alias, c.Subject(), c.NotAfter.Format(time.RFC3339), state)
	}
	return b.String()
}

func days(d time.Duration) string {
	n := int64(d / (24 * time.Hour))
	return fmt.Sprintf("%d %s", n, plural(int(n), "day", "days"))
}
