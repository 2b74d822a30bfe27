package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/renewal"
)

// A configuration whose new CA is the old one is refused naming the
// configuration's key, not the plan's Go field.
func TestPlanErrorNamesConfigKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	code, _, stderr := runCmd("config", "demo", dir)
	require.Equal(t, exitOK, code, stderr)
	path := filepath.Join(dir, "renewal.yaml")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	text := strings.Replace(string(data), "embedded: {dir: ca}", "embedded: {dir: old-ca}", 1)
	require.NotEqual(t, string(data), text)
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	code, _, stderr = runCmd("plan", path)
	assert.Equal(t, exitUsage, code, stderr)
	assert.Contains(t, stderr, "ca or new_root (the new CA's root): expected a root other than the old one")
	assert.NotContains(t, stderr, "NewRootFingerprint")
	assert.NotContains(t, stderr, "invalid parameter")
}

// Every parameter error Build gives for empty or unusable parameters is
// said in the configuration's terms: no Go field name.
func TestPlanProblemsNoGoFields(t *testing.T) {
	goField := regexp.MustCompile(`\b(Alias|Keystore|KeystoreFormat|Truststore|Nodes|OldFingerprint|NewFingerprint|OldRootSubject|NewRootSubject|OldRootFingerprint|NewRootFingerprint|Window(\.\w+)?)\b`)
	for _, p := range []renewal.Params{
		{},
		{Nodes: []string{"a", "a"}, OldFingerprint: "zz", Window: renewal.Window{Description: "x"}},
	} {
		_, err := renewal.Build(renewal.SequenceDowntime, p)
		require.Error(t, err)
		msg := planProblems(err).Error()
		assert.NotRegexp(t, goField, msg)
		assert.Contains(t, msg, "tenant.alias: ")
	}
}
