package main

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/keystore"
)

// A renewal prints a progress line when each step starts and ends, on
// stderr; -q silences them and --json keeps them off too, with stdout one
// JSON document. Not on a terminal, no line has an escape code.
func TestRenewProgressLines(t *testing.T) {
	cfg, ca := embeddedLandscape(t, "")
	code, stdout, stderr := certroll("renew", cfg)
	require.Equal(t, exitWaiting, code, stderr)
	assert.Contains(t, stderr, "step 1 (tenant administrator) step started: Create a new key pair")
	assert.Contains(t, stderr, "step 1 (tenant administrator) step waiting")
	assert.NotContains(t, stdout, "step started", "progress is not on stdout")
	assert.NotContains(t, stderr+stdout, "\x1b", "no colour off a terminal")

	signReplies(t, filepath.Dir(cfg), ca)
	code, stdout, stderr = certroll("renew", "--json", cfg)
	require.Equal(t, exitOK, code, stderr)
	var v map[string]any
	require.NoError(t, json.Unmarshal([]byte(stdout), &v), "stdout is one JSON document: %s", stdout)
	assert.NotContains(t, stderr, "step started")

	cfg2, _ := embeddedLandscape(t, "")
	code, _, stderr = certroll("renew", "-q", cfg2)
	require.Equal(t, exitWaiting, code, stderr)
	assert.NotContains(t, stderr, "step started")
	assert.Equal(t, 1, strings.Count(stderr, "\n"), "only the error line: %s", stderr)
}

// Colour only on a terminal, and never with NO_COLOR: the decision is
// made on stderr's file descriptor.
func TestColourOnlyOnTerminal(t *testing.T) {
	runTo := func(t *testing.T, args ...string) string {
		t.Helper()
		f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
		require.NoError(t, err)
		defer f.Close()
		var out bytes.Buffer
		run(args, strings.NewReader(""), &out, f)
		data, err := os.ReadFile(f.Name())
		require.NoError(t, err)
		return string(data)
	}
	t.Run("a file is not a terminal", func(t *testing.T) {
		cfg, _ := embeddedLandscape(t, "")
		got := runTo(t, "renew", cfg)
		assert.Contains(t, got, "step started")
		assert.NotContains(t, got, "\x1b")
	})
	t.Run("a terminal", func(t *testing.T) {
		isTerminal = func(int) bool { return true }
		t.Cleanup(func() { isTerminal = realIsTerminal })
		t.Setenv("NO_COLOR", "")
		cfg, _ := embeddedLandscape(t, "")
		got := runTo(t, "renew", cfg)
		assert.Contains(t, got, colourFaint+"step 1 (tenant administrator) step started")
		assert.Contains(t, got, colourYellow+"step 1 (tenant administrator) step waiting")
		assert.Contains(t, got, colourYellow+"certroll:"+colourReset+" waiting for the CA's reply", "waiting is yellow, not red")
	})
	t.Run("a terminal with NO_COLOR", func(t *testing.T) {
		isTerminal = func(int) bool { return true }
		t.Cleanup(func() { isTerminal = realIsTerminal })
		t.Setenv("NO_COLOR", "1")
		cfg, _ := embeddedLandscape(t, "")
		got := runTo(t, "renew", cfg)
		assert.Contains(t, got, "step started")
		assert.NotContains(t, got, "\x1b")
	})
	t.Run("a buffer is not a terminal", func(t *testing.T) {
		isTerminal = func(int) bool { return true }
		t.Cleanup(func() { isTerminal = realIsTerminal })
		assert.False(t, colourFor(&bytes.Buffer{}))
	})
}

var realIsTerminal = isTerminal

// Reading a large store prints a progress line with its entries; -q
// silences it, and a small store prints none.
func TestLargeStoreProgress(t *testing.T) {
	f := newFixture(t, keystore.JKS)
	ks, err := keystore.Open(f.path, []byte(testPW), nil)
	require.NoError(t, err)
	root := f.oldCA.Cert
	for i := range largeStoreEntries {
		require.NoError(t, ks.Set(&keystore.Entry{Alias: "ca-" + strconv.Itoa(i), Chain: []*x509.Certificate{root}}, nil))
	}
	big := filepath.Join(f.dir, "big.jks")
	require.NoError(t, ks.Save(big, []byte(testPW), nil))
	pw := "--storepass-env=CERTROLL_TEST_PW"

	code, _, stderr := runCmd("list", big, pw)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stderr, "Read 1002 entries from "+big)
	assert.NotContains(t, stderr, "\x1b")

	code, _, stderr = runCmd("list", "-q", big, pw)
	require.Equal(t, exitOK, code, stderr)
	assert.Empty(t, stderr)

	code, stdout, stderr := runCmd("list", "--json", big, pw)
	require.Equal(t, exitOK, code, stderr)
	assert.Empty(t, stderr)
	assert.True(t, json.Valid([]byte(stdout)))

	code, _, stderr = runCmd("list", f.path, pw)
	require.Equal(t, exitOK, code, stderr)
	assert.NotContains(t, stderr, "entries from", "a small store reads without a progress line")

	code, _, stderr = runCmd("trust", "diff", big, f.path, pw)
	assert.Equal(t, exitOK, code, "trust diff exits 0 whether the stores differ or not: %s", stderr)
	assert.Contains(t, stderr, "Read ", "trust reads the large store with a progress line")
}
