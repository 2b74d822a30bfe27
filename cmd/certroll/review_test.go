package main

import (
	"crypto/x509"
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

// A truststore in a folder that does not exist is bad input naming the
// folder and what to do, not the lock file beside it; nothing is made.
func TestTruststoreFolderMissing(t *testing.T) {
	f := newFixture(t, keystore.PKCS12)
	ca := f.file(t, "ca.pem", pemCerts([]*x509.Certificate{f.newCA.Cert}))
	missing := filepath.Join(f.dir, "no-such-folder")
	for _, args := range [][]string{
		{"trust", "add", filepath.Join(missing, "ts.pem"), ca},
		{"trust", "add", filepath.Join(missing, "ts.jks"), ca, "--storepass-env=CERTROLL_TEST_PW"},
		{"trust", "prune", filepath.Join(missing, "ts.pem"), "--expired", "--nothing-in-use"},
		{"trust", "diff", filepath.Join(missing, "ts.pem"), ca},
	} {
		code, _, stderr := runCmd(args...)
		assert.Equal(t, exitUsage, code, "%v: %s", args, stderr)
		assert.Contains(t, stderr, "the folder "+missing+" of the truststore", "%v", args)
		assert.Contains(t, stderr, "mkdir -p "+missing, "%v", args)
		assert.NotContains(t, stderr, ".lock", "%v", args)
	}
	assert.NoDirExists(t, missing)
}

// A configuration indented with a tab says so, with the line.
func TestConfigTabIndentation(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"tab before a key", "tenant:\n\tkeystore: a.p12\n", "line 2: YAML does not allow tabs for indentation; use spaces"},
		{"tab on a later line", "tenant:\n  keystore: a.p12\n  alias: x\n\t\n  password: {env: X}\n", "line 4: YAML does not allow tabs for indentation; use spaces"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "renewal.yaml")
			require.NoError(t, os.WriteFile(path, []byte(tc.text), 0o600))
			code, _, stderr := runCmd("config", "check", path)
			assert.Equal(t, exitUsage, code, stderr)
			assert.Contains(t, stderr, tc.want)
		})
	}
}

// cobra's shell completion is there for the four shells, with an example
// in its help, and the root's help names it.
func TestCompletionAndVersion(t *testing.T) {
	for shell, want := range map[string]string{"bash": "# bash completion V2 for certroll", "zsh": "#compdef certroll", "fish": "complete -c certroll", "powershell": "Register-ArgumentCompleter"} {
		code, stdout, stderr := runCmd("completion", shell)
		assert.Equal(t, exitOK, code, stderr)
		assert.Contains(t, stdout, want, shell)
	}
	code, stdout, _ := runCmd("completion", "--help")
	assert.Equal(t, exitOK, code)
	assert.Contains(t, stdout, "Examples:\n  source <(certroll completion bash)")
	code, stdout, _ = runCmd("--help")
	assert.Equal(t, exitOK, code)
	assert.Contains(t, stdout, "certroll completion bash|zsh|fish|powershell")
	assert.Contains(t, stdout, "Examples:")
	code, stdout, _ = runCmd("--version")
	assert.Equal(t, exitOK, code)
	assert.Equal(t, "certroll version devel\n", stdout)
	code, _, stderr := runCmd("completion", "tcsh")
	assert.Equal(t, exitUsage, code, stderr)
}

// A wrong number of arguments to a nested command names its whole path.
func TestArgsErrorNamesCommandPath(t *testing.T) {
	code, _, stderr := runCmd("config", "demo")
	assert.Equal(t, exitUsage, code, stderr)
	assert.Contains(t, stderr, "(see certroll config demo --help)")
}
