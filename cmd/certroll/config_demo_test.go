package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/keystore"
)

// demoPassword reads a password file the demo wrote.
func demoPassword(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return bytes.TrimRight(data, "\n")
}

func TestConfigDemoRenews(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	code, out, errOut := certroll("config", "demo", dir)
	require.Equal(t, exitOK, code, errOut)
	cfg := filepath.Join(dir, "renewal.yaml")
	assert.Contains(t, out, "certroll plan "+cfg)
	assert.Contains(t, out, "certroll renew "+cfg)

	// Secrets and keys are 0600; the passwords are in their files only.
	for _, f := range []string{"tenant.pw", "receiver.pw", "tenant.p12", "ca/ca.key", "old-ca/ca.key"} {
		fi, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err, f)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), f)
	}
	tenantPW := demoPassword(t, filepath.Join(dir, "tenant.pw"))
	receiverPW := demoPassword(t, filepath.Join(dir, "receiver.pw"))
	assert.Len(t, tenantPW, 32)
	yamlText, err := os.ReadFile(cfg)
	require.NoError(t, err)
	assert.NotContains(t, string(yamlText), string(tenantPW))
	assert.NotContains(t, string(yamlText), string(receiverPW))
	assert.NotContains(t, out, string(tenantPW))

	code, _, errOut = certroll("config", "check", cfg)
	require.Equal(t, exitOK, code, errOut)

	code, out, errOut = certroll("renew", cfg)
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "State: done")
	assert.Regexp(t, `Traffic: [1-9][0-9]* messages sent by the nodes, 0 failed`, out)

	// The alias now holds a certificate of the new CA (ca/ca.pem).
	newRoot, err := readCerts(filepath.Join(dir, "ca", "ca.pem"))
	require.NoError(t, err)
	ks, err := keystore.Open(filepath.Join(dir, "tenant.p12"), tenantPW, nil)
	require.NoError(t, err)
	chain, err := ks.Certificates("client")
	require.NoError(t, err)
	require.NoError(t, chain[0].CheckSignatureFrom(newRoot[0]))
	assert.Equal(t, newRoot[0].Subject.String(), chain[0].Issuer.String())

	code, out, errOut = certroll("status", cfg)
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "State: done")
}

func TestConfigDemoJKSAndJSON(t *testing.T) {
	dir := t.TempDir() // exists and is empty: accepted
	code, out, errOut := certroll("config", "demo", "--json", "--format", "jks", dir)
	require.Equal(t, exitOK, code, errOut)
	var v struct {
		Config string   `json:"config"`
		Next   []string `json:"next"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &v), out)
	assert.Equal(t, filepath.Join(dir, "renewal.yaml"), v.Config)
	assert.Equal(t, []string{"certroll plan " + v.Config, "certroll renew " + v.Config}, v.Next)
	ks, err := keystore.Open(filepath.Join(dir, "tenant.jks"), demoPassword(t, filepath.Join(dir, "tenant.pw")), nil)
	require.NoError(t, err)
	assert.Equal(t, keystore.JKS, ks.Format())

	code, out, errOut = certroll("plan", v.Config)
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "CN=New Root CA")
}

func TestConfigDemoRefuses(t *testing.T) {
	dir := t.TempDir()
	keep := filepath.Join(dir, "keep.txt")
	require.NoError(t, os.WriteFile(keep, []byte("mine"), 0o644))

	code, _, errOut := certroll("config", "demo", dir)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, dir+" is not empty (it holds keep.txt)")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "nothing written beside keep.txt")
	data, err := os.ReadFile(keep)
	require.NoError(t, err)
	assert.Equal(t, "mine", string(data))

	code, _, errOut = certroll("config", "demo", keep)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "is a file, not a folder")

	code, _, errOut = certroll("config", "demo", "--format", "pem", filepath.Join(dir, "new"))
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, `--format "pem": give pkcs12 or jks`)
	assert.NoDirExists(t, filepath.Join(dir, "new"))

	code, _, _ = certroll("config", "demo")
	assert.Equal(t, exitUsage, code)
}

// A plan of an embedded CA whose folder holds no CA yet is refused and
// makes nothing; a run makes the CA there.
func TestEmbeddedCAFolder(t *testing.T) {
	dir := t.TempDir()
	code, _, errOut := certroll("config", "demo", dir)
	require.Equal(t, exitOK, code, errOut)
	cfg := filepath.Join(dir, "renewal.yaml")
	yamlText, err := os.ReadFile(cfg)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(cfg, []byte(strings.Replace(string(yamlText), "{dir: ca}", "{dir: other-ca, name: Other CA}", 1)), 0o644))

	code, _, errOut = certroll("plan", cfg)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "holds no CA yet")
	assert.NoDirExists(t, filepath.Join(dir, "other-ca"))

	code, out, errOut := certroll("renew", cfg)
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, `signed by "CN=Other CA`)
	assert.FileExists(t, filepath.Join(dir, "other-ca", "ca.pem"))

	problems := configProblems(t, strings.Replace(validConfig, "handoff: {dir: handover}", "embedded: {}", 1))
	assert.Equal(t, []string{"line 6: ca.embedded.dir is missing: the folder that keeps the embedded CA's root (ca.pem) and key (ca.key)"}, problems)
}
