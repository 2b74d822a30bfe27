package renewal

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParamsValidate(t *testing.T) {
	tests := []struct {
		name    string
		seq     Sequence
		mutate  func(*Params)
		field   string
		is      error
		reason  string
		missing bool // a parameter the sequence needs is empty
	}{
		{name: "no alias", seq: SequenceOverlap, mutate: func(p *Params) { p.Alias = "" }, field: "Alias", is: ErrInvalidParam, missing: true},
		{name: "no keystore", seq: SequenceDowntime, mutate: func(p *Params) { p.Keystore = "" }, field: "Keystore", is: ErrInvalidParam, missing: true},
		{name: "no nodes", seq: SequenceOverlap, mutate: func(p *Params) { p.Nodes = nil }, field: "Nodes", is: ErrInvalidParam, missing: true, reason: "every node"},
		{name: "empty node", seq: SequenceOverlap, mutate: func(p *Params) { p.Nodes[1] = "" }, field: "Nodes[1]", is: ErrInvalidParam, missing: true},
		{name: "blank node", seq: SequenceOverlap, mutate: func(p *Params) { p.Nodes[1] = "   " }, field: "Nodes[1]", is: ErrInvalidParam, reason: "only spaces"},
		{name: "duplicate node", seq: SequenceOverlap, mutate: func(p *Params) { p.Nodes[2] = "node-a" }, field: "Nodes[2]", is: ErrInvalidParam, reason: "same name as Nodes[0]"},
		{name: "no old fingerprint", seq: SequenceDowntime, mutate: func(p *Params) { p.OldFingerprint = "" }, field: "OldFingerprint", is: ErrInvalidParam, missing: true},
		{name: "short fingerprint", seq: SequenceOverlap, mutate: func(p *Params) { p.OldFingerprint = "abcd" }, field: "OldFingerprint", is: ErrInvalidParam, reason: "64 hex digits, found 4"},
		{name: "SHA-1 fingerprint", seq: SequenceOverlap, mutate: func(p *Params) { p.NewFingerprint = strings.Repeat("ab", 20) }, field: "NewFingerprint", is: ErrInvalidParam, reason: "found 40"},
		{name: "non-hex fingerprint", seq: SequenceOverlap, mutate: func(p *Params) { p.NewRootFingerprint = strings.Repeat("zz", 32) }, field: "NewRootFingerprint", is: ErrInvalidParam, reason: "not a hex digit"},
		{name: "bad colon groups", seq: SequenceOverlap, mutate: func(p *Params) { p.OldRootFingerprint = "ABC:" + strings.Repeat("AB:", 30) + "A" }, field: "OldRootFingerprint", is: ErrInvalidParam, reason: `group "ABC"`},
		{name: "same certificate", seq: SequenceOverlap, mutate: func(p *Params) { p.NewFingerprint = p.OldFingerprint }, field: "NewFingerprint", is: ErrInvalidParam, reason: "old certificate's fingerprint"},
		{name: "same root", seq: SequenceDowntime, mutate: func(p *Params) { p.NewRootFingerprint = displayFingerprint(p.OldRootFingerprint) }, field: "NewRootFingerprint", is: ErrInvalidParam, reason: "change of CA"},
		{name: "overlap needs old root subject", seq: SequenceOverlap, mutate: func(p *Params) { p.OldRootSubject = "" }, field: "OldRootSubject", is: ErrInvalidParam, missing: true},
		{name: "overlap needs old root fingerprint", seq: SequenceOverlap, mutate: func(p *Params) { p.OldRootFingerprint = "" }, field: "OldRootFingerprint", is: ErrInvalidParam, missing: true},
		{name: "no new root subject", seq: SequenceDowntime, mutate: func(p *Params) { p.NewRootSubject = "" }, field: "NewRootSubject", is: ErrInvalidParam, missing: true},
		{name: "downtime needs window", seq: SequenceDowntime, mutate: func(p *Params) { p.Window = Window{} }, field: "Window", is: ErrInvalidParam, missing: true},
		{name: "window without end", seq: SequenceDowntime, mutate: func(p *Params) { p.Window.End = time.Time{} }, field: "Window.End", is: ErrInvalidParam, missing: true},
		{name: "window without start", seq: SequenceOverlap, mutate: func(p *Params) { p.Window.Start = time.Time{} }, field: "Window.Start", is: ErrInvalidParam, missing: true},
		{name: "window backwards", seq: SequenceDowntime, mutate: func(p *Params) { p.Window.End = p.Window.Start.Add(-time.Hour) }, field: "Window.End", is: ErrInvalidParam, reason: "after the start"},
		{name: "newline in alias", seq: SequenceOverlap, mutate: func(p *Params) { p.Alias = "a\n- [ ] 10. pwned" }, field: "Alias", is: ErrInvalidParam, reason: "U+000A"},
		{name: "tab in path", seq: SequenceOverlap, mutate: func(p *Params) { p.Keystore = "a\tb" }, field: "Keystore", is: ErrInvalidParam, reason: "U+0009"},
		{name: "bidi override in subject", seq: SequenceOverlap, mutate: func(p *Params) { p.NewRootSubject = "CN=\u202eevil" }, field: "NewRootSubject", is: ErrInvalidParam, reason: "U+202E"},
		{name: "line separator in truststore", seq: SequenceOverlap, mutate: func(p *Params) { p.Truststore = "a\u2028b" }, field: "Truststore", is: ErrInvalidParam, reason: "U+2028"},
		{name: "invalid UTF-8", seq: SequenceOverlap, mutate: func(p *Params) { p.KeystoreFormat = "\xff" }, field: "KeystoreFormat", is: ErrInvalidParam, reason: "invalid UTF-8"},
		{name: "too long", seq: SequenceOverlap, mutate: func(p *Params) { p.Alias = strings.Repeat("a", maxText+1) }, field: "Alias", is: ErrInvalidParam, reason: "at most 4096 bytes"},
		{name: "control in profile", seq: SequenceOverlap, mutate: func(p *Params) { p.Receiver = &ReceiverProfile{TechnicalUser: "u\x00"} }, field: "Receiver.TechnicalUser", is: ErrInvalidParam},
		{name: "control in window description", seq: SequenceDowntime, mutate: func(p *Params) { p.Window.Description = "\x1b[31m" }, field: "Window.Description", is: ErrInvalidParam},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testParams(t)
			require.NoError(t, p.validate(tt.seq))
			tt.mutate(&p)
			err := p.validate(tt.seq)
			require.Error(t, err)
			assert.ErrorIs(t, err, tt.is)
			var pe *PlanError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tt.field, pe.Field)
			assert.Contains(t, pe.Reason, tt.reason)
			assert.True(t, strings.HasPrefix(err.Error(), "renewal: "), err.Error())
			assert.Equal(t, tt.missing, pe.missing)
			assert.Equal(t, tt.missing, strings.HasPrefix(err.Error(), "renewal: missing parameter "), err.Error())

			plan, berr := Build(tt.seq, p)
			assert.Nil(t, plan)
			assert.Equal(t, err.Error(), berr.Error(), "the builder reports what Validate reports")
		})
	}
}

func TestParamsValidateReportsEveryProblem(t *testing.T) {
	err := Params{}.validate(SequenceOverlap)
	require.Error(t, err)
	var fields []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var pe *PlanError
		require.True(t, errors.As(e, &pe))
		fields = append(fields, pe.Field)
	}
	assert.Equal(t, []string{
		"Alias", "Keystore", "OldRootSubject", "NewRootSubject",
		"OldFingerprint", "OldRootFingerprint", "NewRootFingerprint", "Nodes",
	}, fields)

	err = Params{}.validate(SequenceDowntime)
	assert.Contains(t, err.Error(), "missing parameter Window")
	// The downtime sequence ends by removing the old root too.
	assert.Contains(t, err.Error(), "missing parameter OldRootSubject")
	assert.Contains(t, err.Error(), "missing parameter OldRootFingerprint")
}

func TestParamsNormalize(t *testing.T) {
	p := testParams(t)
	p.OldFingerprint = displayFingerprint(p.OldFingerprint)                          // keytool's form
	p.NewFingerprint = strings.ToUpper(p.NewFingerprint)                             // upper case
	p.NewRootFingerprint = strings.ToLower(displayFingerprint(p.NewRootFingerprint)) // openssl's lower case, colons
	cet := time.FixedZone("CET", 3600)
	p.Window.Start = p.Window.Start.In(cet)
	p.Window.End = p.Window.End.In(cet)

	plan := mustBuild(t, SequenceDowntime, p)
	want := testParams(t)
	assert.Equal(t, want.OldFingerprint, plan.Params.OldFingerprint)
	assert.Equal(t, want.NewFingerprint, plan.Params.NewFingerprint)
	assert.Equal(t, want.NewRootFingerprint, plan.Params.NewRootFingerprint)
	assert.Equal(t, time.UTC, plan.Params.Window.Start.Location())
	assert.True(t, want.Window.Start.Equal(plan.Params.Window.Start))
	assert.Equal(t, mustBuild(t, SequenceDowntime, want), plan, "the same certificates in another notation give the same plan")
}

func TestFingerprintDisplay(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{name: "normalised", in: "0a1b" + strings.Repeat("00", 30), want: "0A:1B:" + strings.TrimSuffix(strings.Repeat("00:", 30), ":")},
		{name: "odd length left alone", in: "abc", want: "abc"},
		{name: "not hex left alone", in: "zz", want: "zz"},
		{name: "empty", in: "", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, displayFingerprint(tt.in))
		})
	}
}

func TestWindowString(t *testing.T) {
	start := time.Date(2026, 3, 7, 22, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		w    Window
		want string
		zero bool
	}{
		{name: "zero", w: Window{}, want: "", zero: true},
		{name: "times", w: Window{Start: start, End: start.Add(4 * time.Hour)}, want: "2026-03-07T22:00:00Z to 2026-03-08T02:00:00Z"},
		{name: "description", w: Window{Description: "Saturday night"}, want: "Saturday night"},
		{name: "both", w: Window{Start: start, End: start.Add(time.Hour), Description: "CHG-1"}, want: "2026-03-07T22:00:00Z to 2026-03-07T23:00:00Z (CHG-1)"},
		{name: "other zone printed in UTC", w: Window{Start: start.In(time.FixedZone("X", -3600)), End: start.Add(time.Hour)}, want: "2026-03-07T22:00:00Z to 2026-03-07T23:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.w.String())
			assert.Equal(t, tt.zero, tt.w.isZero())
		})
	}
}
