package local

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCADirKeepsTheSameRoot(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "newca")
	first, err := NewCA(CAConfig{Name: "New Root CA", Dir: dir})
	require.NoError(t, err)
	fi, err := os.Stat(filepath.Join(dir, caKeyFile))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "the CA key file is 0600")

	again, err := NewCA(CAConfig{Name: "ignored when the CA exists", Dir: dir})
	require.NoError(t, err)
	assert.Equal(t, first.Root().Raw, again.Root().Raw, "a second run finds the same CA")

	chain, err := again.Issue("client", again.Root().PublicKey)
	require.NoError(t, err)
	require.NoError(t, chain[0].CheckSignatureFrom(first.Root()), "the reloaded key signs for the same root")
}

func TestCADirRejectsDamagedFiles(t *testing.T) {
	dir := t.TempDir()
	_, err := NewCA(CAConfig{Name: "CA", Dir: dir})
	require.NoError(t, err)
	other := t.TempDir()
	_, err = NewCA(CAConfig{Name: "Other", Dir: other})
	require.NoError(t, err)
	key, err := os.ReadFile(filepath.Join(other, caKeyFile))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, caKeyFile), key, 0o600))
	_, err = NewCA(CAConfig{Name: "CA", Dir: dir})
	assert.ErrorContains(t, err, "the key is not the certificate's")

	require.NoError(t, os.WriteFile(filepath.Join(dir, caCertFile), []byte("junk"), 0o600))
	_, err = NewCA(CAConfig{Name: "CA", Dir: dir})
	assert.ErrorContains(t, err, "want a CERTIFICATE")
}
