package renewal

import (
	"crypto/x509"
	"fmt"
	"strings"

	"github.com/certroll/certroll/chain"
)

// The String methods of the types a run returns or reports, so that a
// value printed with %v reads as a sentence rather than as pointers. None
// prints a password, a key or a PEM block.

// String says in one line what the step is: "step 5 [tenant
// administrator] Replace the key pair under the same alias".
func (s Step) String() string {
	return fmt.Sprintf("step %d [%s] %s", s.Number, s.Role, s.Title)
}

// String says what the tenant's stores are; it never prints a password.
func (t *Tenant) String() string {
	if t == nil {
		return "no tenant"
	}
	return fmt.Sprintf("alias %q in %s (staging %s, history %s)", t.Alias, t.Keystore, t.stagingPath(), t.historyPath())
}

// String says whether the pending key awaits the CA's reply or holds it,
// naming the certificate: `pending key for "CN=tenant-client": signed,
// "CN=tenant-client" (SHA-256 cc9d3851d4b41a14…) issued by "CN=New Root
// CA"`. It never prints the key.
func (p *Pending) String() string {
	if p == nil {
		return "no pending key"
	}
	if len(p.Chain) == 0 {
		return "pending key without a certificate"
	}
	leaf := p.Chain[0]
	if !p.Signed {
		s := fmt.Sprintf("pending key for %q: awaiting the CA's reply (placeholder %s)", chain.Name(leaf), describeCert(leaf))
		if p.CSR != nil {
			s += "; certificate request ready"
		}
		return s
	}
	return fmt.Sprintf("pending key for %q: signed, %s issued by %q", chain.Name(leaf), describeCert(leaf), issuerName(leaf))
}

// String says what the activation or rollback did: `alias "client" now
// holds "CN=tenant-client" (SHA-256 cc9d3851d4b41a14…), before
// "CN=tenant-client" (SHA-256 847b4680580d136a…); history alias
// "client-847b4680580d"; 3 files written`.
func (a *Activation) String() string {
	if a == nil {
		return "no activation"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "alias %q ", a.alias)
	if a.already {
		b.WriteString("already held ")
	} else {
		b.WriteString("now holds ")
	}
	b.WriteString(describeChain(a.Chain))
	if len(a.previous) > 0 {
		fmt.Fprintf(&b, ", before %s", describeChain(a.previous))
	}
	fmt.Fprintf(&b, "; history alias %q; %s written", a.HistoryAlias, plural(len(a.Files), "file"))
	return b.String()
}

// String says how far the run got: "overlap renewal done: 9 of 9 steps
// done; old certificate SHA-256 84:7B:…, new certificate SHA-256 CC:9D:…;
// journal /tmp/x/journal.json". For a dry run it lists, step by step,
// what a run would do and what each gate says today.
func (r *Result) String() string {
	if r == nil {
		return "no result"
	}
	if r.plan != nil {
		return r.dryRunText()
	}
	s := fmt.Sprintf("%s renewal %s: %d of %d steps done; old certificate SHA-256 %s",
		r.Sequence, stateText(r.State), len(r.Completed()), len(r.Steps), fingerprintText(r.Params.OldFingerprint))
	if fp := fingerprintText(r.Params.NewFingerprint); fp != "" {
		s += ", new certificate SHA-256 " + fp
	}
	return s + "; journal " + r.journal
}

// String says how far the step got: `step 5 swap-entry: done (1 attempt):
// alias "client" now holds …`. A dry run's record also says what its
// gate says today and what a run would do: "…; gate before: receiver
// accepts the old and the new chain: passed; would: …".
func (r StepRecord) String() string {
	s := fmt.Sprintf("step %d %s: %s", r.Number, r.ID, r.Status)
	if r.Attempts > 0 {
		s += fmt.Sprintf(" (%s)", plural(r.Attempts, "attempt"))
	}
	switch {
	case r.Error != "":
		s += ": " + r.Error
	case r.Note != "":
		s += ": " + r.Note
	}
	if r.Would == "" {
		return s
	}
	if g := r.Gate; g != nil {
		s += fmt.Sprintf("; gate %s: %s", g.When, g.Kind)
		switch {
		case len(g.Problems) > 0:
			s += ": fails: " + strings.Join(g.Problems, "; ")
		case len(g.Deferred) > 0:
			s += fmt.Sprintf(": %s checked, %s deferred", plural(len(g.Checked), "condition"), plural(len(g.Deferred), "condition"))
		default:
			s += ": passed"
		}
	}
	return s + "; would: " + r.Would
}

// describeChain names a chain's leaf, or says there is none.
func describeChain(c []*x509.Certificate) string {
	if len(c) == 0 {
		return "no certificate"
	}
	return describeCert(c[0])
}

// issuerName is a certificate's issuer as a person reads it.
func issuerName(c *x509.Certificate) string {
	if c.Issuer.CommonName != "" {
		return "CN=" + c.Issuer.CommonName
	}
	return c.Issuer.String()
}

// fingerprintText prints a fingerprint in keytool's form, whatever type
// holds it; "" for none.
func fingerprintText(fp any) string {
	s := fmt.Sprint(fp)
	if strings.Trim(s, "0:[] ") == "" {
		return ""
	}
	if !strings.Contains(s, ":") {
		return displayFingerprint(s)
	}
	return s
}

// stateText is a run state as a sentence says it.
func stateText(s Status) string {
	switch s {
	case StatusRolledBack:
		return "rolled back"
	case "":
		return "not started"
	}
	return string(s)
}

// plural says "1 file", "2 files".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
