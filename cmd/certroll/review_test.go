package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/truststore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Refusals a review of the command found mapped to the wrong exit code, or
// writing before they refused.
func TestReviewedRefusals(t *testing.T) {
	f := newFixture(t, keystore.PKCS12)
	pw := "--storepass-env=CERTROLL_TEST_PW"

	t.Run("csr --out a directory writes nothing", func(t *testing.T) {
		dir := filepath.Join(f.dir, "adir")
		require.NoError(t, os.Mkdir(dir, 0o700))
		code, _, stderr := runCmd("csr", f.path, "client", pw, "--out", dir)
		assert.Equal(t, exitUsage, code, stderr)
		assert.Contains(t, stderr, "is a directory")
		assert.NoFileExists(t, f.path+".staging", "no pending key was made")
	})

	t.Run("an unreadable staging store is bad input", func(t *testing.T) {
		staging := f.file(t, filepath.Base(f.path)+".staging", []byte("junk"))
		code, _, stderr := runCmd("csr", f.path, "client", pw)
		assert.Equal(t, exitUsage, code, stderr)
		assert.Contains(t, stderr, "staging store")
		data, err := os.ReadFile(staging)
		require.NoError(t, err)
		assert.Equal(t, "junk", string(data), "left as it was")
		require.NoError(t, os.Remove(staging))
	})

	t.Run("an --expiring window that would overflow", func(t *testing.T) {
		code, _, stderr := runCmd("list", f.path, pw, "--expiring", "106752d")
		assert.Equal(t, exitUsage, code, stderr)
		assert.Contains(t, stderr, "at most 100 years")
	})

	t.Run("trust add of a directory as the bundle", func(t *testing.T) {
		ts := f.file(t, "ts.pem", pemCerts(nil))
		before, err := os.ReadFile(ts)
		require.NoError(t, err)
		code, _, stderr := runCmd("trust", "add", ts, f.dir)
		assert.Equal(t, exitUsage, code, stderr)
		assert.Contains(t, stderr, "is a directory")
		after, err := os.ReadFile(ts)
		require.NoError(t, err)
		assert.Equal(t, before, after)
	})
}

func TestTrustKindByName(t *testing.T) {
	assert.Equal(t, truststore.PEMBundle, trustKindFor("", "/etc/httpd/client-ca.pem"))
	assert.Equal(t, truststore.PKCS12, trustKindFor("", "trust.P12"))
	assert.Equal(t, truststore.JKS, trustKindFor("", "trust.jks"))
	assert.Equal(t, truststore.JKS, trustKindFor("jks", "trust.pem"), "the configuration's word wins")
}
