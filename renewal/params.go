package renewal

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/certroll/certroll/keystore"
)

// Params describes one renewal: which key entry is replaced, where it is
// used, and which certificates are involved. The builders copy and
// normalise it into [Plan.Params]; they never read files, so every value is
// what the caller says it is.
//
// Required for both sequences: Alias, Keystore, Nodes, OldFingerprint,
// OldRootSubject, OldRootFingerprint, NewRootSubject and
// NewRootFingerprint (the last step of both sequences removes the old
// root, so it must be named and identified); [SequenceDowntime] also needs
// Window. Everything else may be empty and is
// then described generically ("the receiver's truststore").
//
// Fingerprints are SHA-256 over the certificate's DER, as 64 hex digits,
// optionally in colon-separated pairs as keytool and OpenSSL print them
// ("AB:CD:…"). Plans hold them as 64 lower-case hex digits and runbooks
// print them in keytool's form, so that a person can compare them with
// `keytool -list -v` or `openssl x509 -fingerprint -sha256`.
type Params struct {
	// Alias is the alias of the key entry in the tenant's client keystore.
	// The entry is replaced under the same alias.
	Alias string `json:"alias"`
	// Keystore is the path (or another name a person recognises) of the
	// tenant's client keystore.
	Keystore string `json:"keystore"`
	// KeystoreFormat describes the keystore's format, such as "PKCS12" or
	// "JKS"; empty when not stated.
	KeystoreFormat string `json:"keystore_format,omitempty"`
	// Truststore describes the receiver's truststore (a path, or a
	// description); empty means "the receiver's truststore".
	Truststore string `json:"truststore,omitempty"`
	// Nodes names the runtime nodes that run the integration flow. The flow
	// must be restarted on every one of them, because each caches the
	// keystore.
	Nodes []string `json:"nodes"`
	// OldFingerprint is the SHA-256 fingerprint of the client certificate in
	// use today.
	OldFingerprint string `json:"old_fingerprint"`
	// NewFingerprint is the SHA-256 fingerprint of the new client
	// certificate. It is unknown until step 1 has produced the certificate,
	// so it may be empty; rebuilding the plan with it set gives the same
	// steps with the fingerprint filled in.
	NewFingerprint string `json:"new_fingerprint,omitempty"`
	// OldRootSubject is the subject of the old CA's root certificate, as a
	// person reads it ("CN=Old Root,O=Example").
	OldRootSubject string `json:"old_root_subject,omitempty"`
	// NewRootSubject is the subject of the new CA's root certificate.
	NewRootSubject string `json:"new_root_subject"`
	// OldRootFingerprint is the SHA-256 fingerprint of the old root.
	OldRootFingerprint string `json:"old_root_fingerprint,omitempty"`
	// NewRootFingerprint is the SHA-256 fingerprint of the new root. It
	// must differ from OldRootFingerprint: these sequences are for a change
	// of CA.
	NewRootFingerprint string `json:"new_root_fingerprint"`
	// Window is the agreed downtime window; only [SequenceDowntime] uses it.
	Window Window `json:"window,omitzero"`
	// Receiver optionally describes a receiver behind a reverse proxy; its
	// tasks become sub-tasks of the receiver's configuration step. Nil
	// means a receiver without such detail.
	Receiver *ReceiverProfile `json:"receiver,omitempty"`
}

// Window is a downtime window: a start and an end, a description, or both.
// The zero Window is "no window".
type Window struct {
	// Start and End bound the window; both are set or neither. Plans hold
	// them in UTC.
	Start time.Time `json:"start,omitzero"`
	End   time.Time `json:"end,omitzero"`
	// Description says when or how the window happens, such as "Saturday
	// 22:00-02:00 CET, change CHG-1234".
	Description string `json:"description,omitempty"`
}

// isZero reports whether the window is unset.
func (w Window) isZero() bool {
	return w.Start.IsZero() && w.End.IsZero() && w.Description == ""
}

// String returns the window as a runbook prints it, such as
// "2026-03-07T22:00:00Z to 2026-03-08T02:00:00Z (change CHG-1234)".
func (w Window) String() string {
	var times string
	if !w.Start.IsZero() || !w.End.IsZero() {
		times = w.Start.UTC().Format(time.RFC3339) + " to " + w.End.UTC().Format(time.RFC3339)
	}
	switch {
	case times != "" && w.Description != "":
		return times + " (" + w.Description + ")"
	case times != "":
		return times
	}
	return w.Description
}

// maxText bounds every text parameter. A runbook line longer than this is
// not something a person reads, and the bound keeps rendering cheap.
const maxText = 4096

// validate reports every problem that stops a plan of sequence s from being
// built from p, as [*PlanError] values joined with [errors.Join]; nil means
// the builders accept p.
func (p Params) validate(s Sequence) error {
	if !s.valid() {
		return &PlanError{Field: "Sequence", Reason: fmt.Sprintf("unknown sequence %q: expected one of %s", string(s), nameList(sequences))}
	}
	_, err := p.normalize(s)
	return err
}

// normalize validates p for sequence s and returns a copy that shares no
// memory with p, with fingerprints as lower-case hex and times in UTC.
func (p Params) normalize(s Sequence) (Params, error) {
	var errs []error
	missing := func(field, reason string) {
		errs = append(errs, &PlanError{Field: field, Reason: reason, err: ErrInvalidParam, missing: true})
	}
	invalid := func(field, value, reason string) {
		errs = append(errs, &PlanError{Field: field, value: value, Reason: reason, err: ErrInvalidParam})
	}
	text := func(field, value string, required bool, why string) {
		if value == "" {
			if required {
				missing(field, why)
			}
			return
		}
		if reason := textProblem(value); reason != "" {
			invalid(field, value, reason)
		}
	}
	fingerprint := func(field string, value *string, required bool, why string) {
		if *value == "" {
			if required {
				missing(field, why)
			}
			return
		}
		norm, reason := normalizeFingerprint(*value)
		if reason != "" {
			invalid(field, *value, reason)
			return
		}
		*value = norm
	}

	q := p
	text("Alias", q.Alias, true, "the alias of the key entry to replace is needed")
	text("Keystore", q.Keystore, true, "the tenant's client keystore is needed")
	text("KeystoreFormat", q.KeystoreFormat, false, "")
	text("Truststore", q.Truststore, false, "")
	text("OldRootSubject", q.OldRootSubject, true, "the last step removes the old root, so it must be named")
	text("NewRootSubject", q.NewRootSubject, true, "the receiver must import the new root, so it must be named")
	fingerprint("OldFingerprint", &q.OldFingerprint, true, "the certificate in use today must be identified")
	fingerprint("NewFingerprint", &q.NewFingerprint, false, "")
	fingerprint("OldRootFingerprint", &q.OldRootFingerprint, true, "the last step removes the old root, so it must be identified")
	fingerprint("NewRootFingerprint", &q.NewRootFingerprint, true, "the receiver must import the new root, so it must be identified")

	if q.OldFingerprint != "" && q.OldFingerprint == q.NewFingerprint {
		invalid("NewFingerprint", p.NewFingerprint, "expected a certificate other than the old one, found the old certificate's fingerprint")
	}
	if q.OldRootFingerprint != "" && q.OldRootFingerprint == q.NewRootFingerprint {
		invalid("NewRootFingerprint", p.NewRootFingerprint, "expected a root other than the old one (this sequence is for a change of CA), found the old root's fingerprint")
	}

	if len(q.Nodes) == 0 {
		missing("Nodes", "at least one runtime node is needed: the flow must be restarted on every node")
	}
	q.Nodes = append([]string(nil), p.Nodes...)
	seen := make(map[string]int, len(q.Nodes))
	for i, n := range q.Nodes {
		field := fmt.Sprintf("Nodes[%d]", i)
		if n == "" {
			missing(field, "a runtime node needs a name")
			continue
		}
		text(field, n, true, "")
		if j, dup := seen[n]; dup {
			invalid(field, n, fmt.Sprintf("expected distinct node names, found the same name as Nodes[%d]", j))
			continue
		}
		seen[n] = i
	}

	w := &q.Window
	w.Start, w.End = w.Start.UTC(), w.End.UTC()
	text("Window.Description", w.Description, false, "")
	switch {
	case w.Start.IsZero() != w.End.IsZero():
		if w.Start.IsZero() {
			missing("Window.Start", "a window with an end needs a start")
		} else {
			missing("Window.End", "a window with a start needs an end")
		}
	case !w.Start.IsZero() && !w.End.After(w.Start):
		invalid("Window.End", w.End.Format(time.RFC3339), fmt.Sprintf("expected a time after the start %s", w.Start.Format(time.RFC3339)))
	}
	if s == SequenceDowntime && w.isZero() {
		missing("Window", "the downtime sequence needs an agreed window: a start and an end, or a description")
	}

	if p.Receiver != nil {
		r := *p.Receiver
		q.Receiver = &r
		text("Receiver.Proxy", r.Proxy, false, "")
		text("Receiver.ProxyFarm", r.ProxyFarm, false, "")
		text("Receiver.ProxyOperator", r.ProxyOperator, false, "")
		text("Receiver.Backend", r.Backend, false, "")
		text("Receiver.TrustList", r.TrustList, false, "")
		text("Receiver.TechnicalUser", r.TechnicalUser, false, "")
	}

	if len(errs) > 0 {
		return Params{}, errors.Join(errs...)
	}
	return q, nil
}

// textProblem says why s cannot appear in a plan, or returns "". Control
// characters (a newline would start a new runbook line or diagram
// statement) and bidirectional formatting characters (which make text read
// differently from what it is) are refused rather than escaped, because a
// person compares these values with what a tool prints.
func textProblem(s string) string {
	if len(s) > maxText {
		return fmt.Sprintf("expected at most %d bytes, found %d", maxText, len(s))
	}
	return charProblem(s)
}

// charProblem is textProblem without the length bound, for the steps'
// prose, which grows with the number of nodes.
func charProblem(s string) string {
	if !utf8.ValidString(s) {
		return "expected UTF-8 text, found invalid UTF-8"
	}
	for i, r := range s {
		if unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp) || isBidiControl(r) {
			return fmt.Sprintf("expected printable text, found %U at byte %d", r, i)
		}
	}
	if strings.TrimSpace(s) == "" {
		return "expected text, found only spaces"
	}
	return ""
}

// isBidiControl reports the characters Unicode lists as Bidi_Control.
func isBidiControl(r rune) bool {
	switch {
	case r == 0x061C, r == 0x200E, r == 0x200F:
		return true
	case r >= 0x202A && r <= 0x202E:
		return true
	case r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

// normalizeFingerprint returns s as 64 lower-case hex digits, or a reason
// why it is not a SHA-256 fingerprint. It reads every form
// [keystore.ParseFingerprint] reads.
func normalizeFingerprint(s string) (string, string) {
	fp, err := keystore.ParseFingerprint(s)
	var fe *keystore.FingerprintError
	if errors.As(err, &fe) {
		return "", fe.Reason
	}
	if err != nil {
		return "", err.Error()
	}
	return fp.Hex(), ""
}

// paramFingerprint reads a fingerprint of normalised Params: 64
// lower-case hex digits, or "" for the zero Fingerprint.
func paramFingerprint(h string) keystore.Fingerprint {
	fp, _ := keystore.ParseFingerprint(h)
	return fp
}

// displayFingerprint prints a normalised fingerprint as keytool does:
// upper-case hex pairs separated by colons.
//
// Anything else (possible only in a plan built by hand) is returned as it
// is.
func displayFingerprint(h string) string {
	fp, err := keystore.ParseFingerprint(h)
	if err != nil || fp == (keystore.Fingerprint{}) {
		return h
	}
	return fp.String()
}
