package main

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal"
)

// plainErr drops the library's prefixes where an error's own words begin,
// never inside a path, an alias or a quoted value.
func TestPlainErr(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"sentinel", keystore.ErrAliasNotFound, "alias not found"},
		{"library wrapper", fmt.Errorf("renewal: the CA did not sign the request: %w", keystore.ErrMalformed),
			"the CA did not sign the request: malformed keystore"},
		{"quoted alias", fmt.Errorf("keystore: alias %q: %w", "old: keystore: x", keystore.ErrAliasNotFound),
			`alias "old: keystore: x": alias not found`},
		{"a path named keystore wrapping", fmt.Errorf("%s: %w", "keystore", keystore.ErrIncorrectPassword),
			"keystore: the store was tampered with, or password incorrect"},
		{"a path named keystore, not wrapping", errors.New("keystore: the password is wrong"), "keystore: the password is wrong"},
		{"joined", errors.Join(renewal.ErrGateFailed, fmt.Errorf("chain: %q: %w", "truststore: a", renewal.ErrUnexpectedState)),
			"gate failed\n\"truststore: a\": unexpected state"},
		{"command's words around", fmt.Errorf("the file %s: %w; run again", "x", fmt.Errorf("keystore: reading %q: %w", "keystore: y", keystore.ErrLimit)),
			`the file x: reading "keystore: y": input exceeds a safety limit; run again`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, plainErr(tc.err))
		})
	}
}

// A store file literally named keystore and an alias that reads like a
// prefix keep their words in the command's errors.
func TestPlainErrKeepsNames(t *testing.T) {
	f := newFixture(t, keystore.PKCS12)
	data, err := os.ReadFile(f.path)
	require.NoError(t, err)
	t.Chdir(f.dir)
	require.NoError(t, os.WriteFile("keystore", data, 0o600))

	code, _, stderr := runCmd("list", "keystore", "--storepass-env", "CERTROLL_TEST_BADPW")
	assert.Equal(t, exitUsage, code, stderr)
	assert.Regexp(t, `^certroll: (keystore: |the keystore keystore)`, stderr, "the file's name is kept")

	code, _, stderr = runCmd("csr", "keystore", "old: keystore: x", "--storepass-env", "CERTROLL_TEST_PW")
	assert.Equal(t, exitUsage, code, stderr)
	assert.Contains(t, stderr, `"old: keystore: x"`)
}

// The journal's notes and errors are text: their prefixes go where a
// message begins, but not inside a quoted alias or file name.
func TestPlainJournalText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`renewal: getting the request signed by the CA: handoff: the reply "/x/keystore: y.reply" cannot be used: expected certificates: keystore: reading certificates: bad; replace it`,
			`getting the request signed by the CA: the reply "/x/keystore: y.reply" cannot be used: expected certificates: reading certificates: bad; replace it`},
		{`keystore: alias "old: keystore: x" not found`, `alias "old: keystore: x" not found`},
		{`renewal: gate failed; chain: unknown authority`, `gate failed; unknown authority`},
		{`a "quote \" keystore: still quoted" end: keystore: x`, `a "quote \" keystore: still quoted" end: x`},
		{"first\nrenewal: second", "first\nsecond"},
		{"nginx reloaded", "nginx reloaded"},
	} {
		assert.Equal(t, tc.want, plainJournalText(tc.in), tc.in)
	}
}

// A progress line keeps the program's own words ("nginx: reloaded") and
// renders the error for people.
func TestEventLine(t *testing.T) {
	s := renewal.Step{Number: 3, Role: renewal.ReceiverAdmin, Title: "Accept both"}
	got := eventLine(renewal.Event{Kind: renewal.EventStepDone, Step: s, Message: "nginx: reloaded"})
	assert.Equal(t, "step 3 (receiver administrator) step done: Accept both: nginx: reloaded", got)
	got = eventLine(renewal.Event{Kind: renewal.EventStepFailed, Step: s,
		Err: fmt.Errorf("renewal: receiver: trusting the new root: %w", keystore.ErrLimit)})
	assert.Equal(t, "step 3 (receiver administrator) step failed: Accept both: receiver: trusting the new root: input exceeds a safety limit", got)
}
