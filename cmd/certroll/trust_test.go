package main

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/internal/testpki"
	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/truststore"
)

// trustFiles is a receiver's truststore that trusts an old root, a client
// keystore whose key entry chains to it, another whose key entry chains to
// a new root, and the new root's bundle (with the client certificate it
// signed, as a CA's reply carries it).
type trustFiles struct {
	dir                     string
	trust, client, other    string
	newBundle, leafPEM      string
	oldRoot, newRoot, inter *testpki.CA
}

const trustPW = "s3cret"

func trustLayout(t *testing.T) trustFiles {
	t.Helper()
	t.Setenv("TRUST_PW", trustPW)
	t.Setenv("WRONG_PW", "not-"+trustPW)
	dir := t.TempDir()
	f := trustFiles{
		dir:       dir,
		trust:     filepath.Join(dir, "trust.jks"),
		client:    filepath.Join(dir, "client.p12"),
		other:     filepath.Join(dir, "other.jks"),
		newBundle: filepath.Join(dir, "new-ca.pem"),
		leafPEM:   filepath.Join(dir, "leaf.pem"),
		oldRoot:   testpki.NewRoot(t, "Old Root"),
		newRoot:   testpki.NewRoot(t, "New Root"),
	}
	f.inter = f.newRoot.Intermediate(t, "New Issuing")

	ts := truststore.New(truststore.JKS)
	_, err := ts.Merge([]truststore.Entry{{Alias: "old-root", Cert: f.oldRoot.Cert}}, nil)
	require.NoError(t, err)
	require.NoError(t, ts.Save(f.trust, []byte(trustPW)))

	saveKeystore := func(path string, format keystore.Format, alias string, l *testpki.Leaf) {
		ks := keystore.New(format, nil)
		chain := append([]*x509.Certificate{}, l.Chain...)
		require.NoError(t, ks.Set(&keystore.Entry{Alias: alias, Key: l.Key, Chain: append(chain, l.Issuer.Root().Cert)}, nil))
		require.NoError(t, ks.Save(path, []byte(trustPW), nil))
	}
	saveKeystore(f.client, keystore.PKCS12, "client", f.oldRoot.Leaf(t, "tenant-client"))
	newLeaf := f.inter.Leaf(t, "other-client")
	saveKeystore(f.other, keystore.JKS, "other", newLeaf)

	require.NoError(t, os.WriteFile(f.newBundle, testpki.PEM(newLeaf.Cert, f.inter.Cert, f.newRoot.Cert), 0o644))
	require.NoError(t, os.WriteFile(f.leafPEM, testpki.PEM(newLeaf.Cert), 0o644))
	return f
}

// runTrust runs certroll with args and returns the exit code and output.
func runTrust(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func readTrustFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

func TestTrustExitCodes(t *testing.T) {
	f := trustLayout(t)
	oldFP := keystore.CertFingerprint(f.oldRoot.Cert).String()
	pw := "--storepass-env=TRUST_PW"
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   []string
		stderr   []string
		noStdout bool
	}{
		{
			name:   "prune refused while the client chains to the old root",
			args:   []string{"trust", "prune", f.trust, "--fingerprint", oldFP, "--in-use", f.client, pw},
			code:   exitRefused,
			stdout: []string{`Refused to remove alias "old-root"`, `In use by: ` + f.client + ` alias "client": CN=tenant-client -> CN=Old Root`},
			stderr: []string{f.trust + ` not changed: alias "old-root" (CN=Old Root,O=certroll test) still anchors ` + f.client + ` alias "client"`, "--force"},
		},
		{
			name:   "remove refused, by subject",
			args:   []string{"trust", "remove", f.trust, "--subject", "CN=Old Root,O=certroll test", "--in-use", f.client, pw},
			code:   exitRefused,
			stderr: []string{`still anchors ` + f.client + ` alias "client"`},
		},
		{
			name:   "expired prune refused",
			args:   []string{"trust", "prune", f.trust, "--expired", "--at", "2100-01-01", "--in-use", f.client, pw},
			code:   exitRefused,
			stderr: []string{`alias "old-root"`},
		},
		{
			name:     "usage not declared",
			args:     []string{"trust", "prune", f.trust, "--fingerprint", oldFP, pw},
			code:     exitUsage,
			stderr:   []string{"say what uses " + f.trust, "--in-use KEYSTORE", "--nothing-in-use"},
			noStdout: true,
		},
		{
			name:   "in use and nothing in use",
			args:   []string{"trust", "remove", f.trust, "--alias", "old-root", "--in-use", f.client, "--nothing-in-use", pw},
			code:   exitUsage,
			stderr: []string{"contradict"},
		},
		{
			name:   "two selectors",
			args:   []string{"trust", "remove", f.trust, "--alias", "old-root", "--subject", "CN=x", "--nothing-in-use", pw},
			code:   exitUsage,
			stderr: []string{"one of --alias, --fingerprint or --subject"},
		},
		{
			name:   "unknown alias",
			args:   []string{"trust", "remove", f.trust, "--alias", "no-such", "--nothing-in-use", pw},
			code:   exitUsage,
			stderr: []string{f.trust + ": ", `"no-such"`, "keytool -list"},
		},
		{
			name:   "malformed fingerprint",
			args:   []string{"trust", "prune", f.trust, "--fingerprint", "AB:CD", "--nothing-in-use", pw},
			code:   exitUsage,
			stderr: []string{`--fingerprint "AB:CD"`},
		},
		{
			name:   "bad --at",
			args:   []string{"trust", "prune", f.trust, "--expired", "--at", "next year", "--nothing-in-use", pw},
			code:   exitUsage,
			stderr: []string{`--at "next year"`},
		},
		{
			name:   "wrong password",
			args:   []string{"trust", "add", f.trust, f.newBundle, "--storepass-env=WRONG_PW"},
			code:   exitUsage,
			stderr: []string{f.trust + ": the keystore was tampered with, or the password is incorrect"},
		},
		{
			name:   "password not set",
			args:   []string{"trust", "add", f.trust, f.newBundle, "--storepass-env=NO_SUCH_PW"},
			code:   exitUsage,
			stderr: []string{"NO_SUCH_PW is not set"},
		},
		{
			name:   "no password and no terminal",
			args:   []string{"trust", "add", f.trust, f.newBundle},
			code:   exitUsage,
			stderr: []string{"truststore password is needed"},
		},
		{
			name:   "bundle is not certificates",
			args:   []string{"trust", "add", f.trust, f.client, pw},
			code:   exitUsage,
			stderr: []string{f.client + ": ", "give a PEM, DER, PKCS#7 or PkiPath certificate file"},
		},
		{
			name:   "missing bundle",
			args:   []string{"trust", "add", f.trust, filepath.Join(f.dir, "nope.pem"), pw},
			code:   exitUsage,
			stderr: []string{"nope.pem does not exist"},
		},
		{
			name:   "missing truststore",
			args:   []string{"trust", "prune", filepath.Join(f.dir, "nope.jks"), "--expired", "--nothing-in-use", pw},
			code:   exitUsage,
			stderr: []string{"nope.jks does not exist"},
		},
		{
			name:   "new truststore of unknown kind",
			args:   []string{"trust", "add", filepath.Join(f.dir, "trust.db"), f.newBundle, pw},
			code:   exitUsage,
			stderr: []string{"name it .jks, .p12"},
		},
		{
			name:   "--alias with several certificates",
			args:   []string{"trust", "add", f.trust, f.newBundle, "--alias", "x", pw},
			code:   exitUsage,
			stderr: []string{`--alias "x" names one certificate`},
		},
		{
			name:   "in-use file that declares nothing",
			args:   []string{"trust", "remove", f.trust, "--alias", "old-root", "--in-use", f.trust, pw},
			code:   exitUsage,
			stderr: []string{"holds no key entry"},
		},
		{
			name:   "in-use keystore with another password",
			args:   []string{"trust", "remove", f.trust, "--alias", "old-root", "--in-use", f.client, pw, "--in-use-storepass-env=WRONG_PW"},
			code:   exitUsage,
			stderr: []string{"--in-use " + f.client + ": the keystore was tampered with, or the password is incorrect", "--in-use-storepass-env"},
		},
		{
			name:   "in-use keystore password given on its own",
			args:   []string{"trust", "remove", f.trust, "--alias", "old-root", "--in-use", f.client, "--storepass-env=WRONG_PW", "--in-use-storepass-env=TRUST_PW"},
			code:   exitUsage,
			stderr: []string{f.trust + ": the keystore was tampered with"},
		},
		{
			name:   "missing argument",
			args:   []string{"trust", "add", f.trust},
			code:   exitUsage,
			stderr: []string{"requires at least 2 arg(s)"},
		},
		{
			name:   "unknown subcommand",
			args:   []string{"trust", "merge", f.trust},
			code:   exitUsage,
			stderr: []string{"unknown command"},
		},
	}
	before := readTrustFile(t, f.trust)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runTrust(t, tt.args...)
			assert.Equal(t, tt.code, code, "stderr: %s", errOut)
			for _, s := range tt.stdout {
				assert.Contains(t, out, s)
			}
			for _, s := range tt.stderr {
				assert.Contains(t, errOut, s)
			}
			if tt.noStdout {
				assert.Empty(t, out)
			}
			assert.NotContains(t, errOut+out, trustPW, "the password is never printed")
			assert.NotContains(t, errOut, "truststore: ", "no package prefixes")
			assert.Equal(t, before, readTrustFile(t, f.trust), "the truststore is not touched on failure")
		})
	}
}

func TestTrustAddAndPrune(t *testing.T) {
	f := trustLayout(t)
	pw := "--storepass-env=TRUST_PW"

	// Dry run: the report, nothing written.
	before := readTrustFile(t, f.trust)
	code, out, errOut := runTrust(t, "trust", "add", f.trust, f.newBundle, pw, "--dry-run")
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "Certificate would be added to keystore")
	assert.Contains(t, out, "Summary: 2 added, 0 skipped as duplicate, 1 left out as not a CA\n")
	assert.Contains(t, out, "Dry run: "+f.trust+" not written\n")
	assert.Equal(t, before, readTrustFile(t, f.trust))

	// The merge, as JSON: the library's report with the truststore's path.
	code, out, errOut = runTrust(t, "trust", "add", f.trust, f.newBundle, pw, "--json")
	require.Equal(t, exitOK, code, errOut)
	var rep struct {
		Operation  string `json:"operation"`
		Truststore string `json:"truststore"`
		Result     string `json:"result"`
		Added      []struct {
			Alias string `json:"alias"`
		} `json:"added"`
		LeftOut []struct {
			Subject string `json:"subject"`
		} `json:"left_out"`
		Counts map[string]int `json:"counts"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rep), out)
	assert.Equal(t, "merge", rep.Operation)
	assert.Equal(t, f.trust, rep.Truststore)
	assert.Equal(t, "written", rep.Result)
	assert.Len(t, rep.Added, 2)
	require.Len(t, rep.LeftOut, 1)
	assert.Equal(t, "CN=other-client,O=certroll test", rep.LeftOut[0].Subject)
	assert.Equal(t, 1, rep.Counts["left_out"])

	ts, err := truststore.Open(f.trust, []byte(trustPW))
	require.NoError(t, err)
	assert.Len(t, ts.Certificates(), 3)

	// Removing the old root by fingerprint while other.jks (new root) is
	// what is in use: removed.
	oldFP := keystore.CertFingerprint(f.oldRoot.Cert).Hex()
	code, out, errOut = runTrust(t, "trust", "prune", f.trust, "--fingerprint", oldFP, "--in-use", f.other, pw)
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, `Certificate was removed from keystore: alias "old-root"`)
	assert.Contains(t, out, "Summary: 1 removed, 0 refused\n")
	ts, err = truststore.Open(f.trust, []byte(trustPW))
	require.NoError(t, err)
	assert.False(t, ts.ContainsCert(f.oldRoot.Cert))

	// Removing the new root while other.jks chains to it: refused; with
	// --force removed, naming the dependent.
	code, _, errOut = runTrust(t, "trust", "remove", f.trust, "--subject", "CN=New Root,O=certroll test", "--in-use", f.other, pw)
	require.Equal(t, exitRefused, code, errOut)
	assert.Contains(t, errOut, f.other+` alias "other": CN=other-client -> CN=New Issuing`)
	code, out, errOut = runTrust(t, "trust", "remove", f.trust, "--subject", "CN=New Root,O=certroll test", "--in-use", f.other, pw, "--json")
	require.Equal(t, exitRefused, code, errOut)
	assert.Contains(t, out, `"result": "refused"`)
	assert.Contains(t, out, `"refused": [`)
	code, out, errOut = runTrust(t, "trust", "remove", f.trust, "--subject", "CN=New Root,O=certroll test", "--in-use", f.other, "--force", pw, "--json")
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, `"forced": true`)
	assert.Contains(t, out, f.other+` alias \"other\"`)
}

func TestTrustPEMAndDirectory(t *testing.T) {
	f := trustLayout(t)
	bundle := filepath.Join(f.dir, "ca-bundle.pem")
	dir := filepath.Join(f.dir, "certs")
	require.NoError(t, os.Mkdir(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "old-root.pem"), testpki.PEM(f.oldRoot.Cert), 0o644))

	// A new PEM bundle, created without a password; the pinned leaf added
	// with --include-non-ca.
	code, out, errOut := runTrust(t, "trust", "add", bundle, f.newBundle, "--include-non-ca")
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "new PEM bundle truststore")
	assert.Contains(t, out, "Summary: 3 added, 0 skipped as duplicate, 0 left out as not a CA\n")

	// A directory: add, then an expired-prune that selects nothing.
	code, out, errOut = runTrust(t, "trust", "add", dir, f.newBundle)
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "(directory, 3 trusted certificates)")
	code, out, errOut = runTrust(t, "trust", "prune", dir, "--expired", "--at", testpki.Now.Format(time.RFC3339), "--nothing-in-use")
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "Summary: 0 removed, 0 refused, nothing selected\n")
	assert.Contains(t, out, "unchanged")

	// Removing the old root from the directory, with a certificate file as
	// the chain in use: client chain file from the new CA.
	code, out, errOut = runTrust(t, "trust", "remove", dir, "--alias", "old-root", "--in-use", f.newBundle)
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, `Certificate was removed from keystore: alias "old-root"`)
	assert.NoFileExists(t, filepath.Join(dir, "old-root.pem"))

	// diff: the bundle has the pinned leaf the directory lacks.
	code, out, errOut = runTrust(t, "trust", "diff", bundle, dir)
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "Only in "+bundle+" (1):\n")
	assert.Contains(t, out, "Owner: CN=other-client")
	assert.Contains(t, out, "2 in both (0 under another alias)")

	code, out, errOut = runTrust(t, "trust", "diff", bundle, dir, "--json")
	require.Equal(t, exitOK, code, errOut)
	var d struct {
		A       string            `json:"a"`
		OnlyInA []json.RawMessage `json:"only_in_a"`
		OnlyInB []json.RawMessage `json:"only_in_b"`
		Common  int               `json:"common"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &d))
	assert.Equal(t, bundle, d.A)
	assert.Len(t, d.OnlyInA, 1)
	assert.Empty(t, d.OnlyInB)
	assert.Equal(t, 2, d.Common)
}

func TestTrustHelpHasExamples(t *testing.T) {
	for _, sub := range []string{"add", "remove", "prune", "diff"} {
		code, out, _ := runTrust(t, "trust", sub, "--help")
		assert.Equal(t, exitOK, code)
		assert.Contains(t, out, "Examples:\n", sub)
		assert.Contains(t, out, "  certroll trust "+sub+" ", sub)
	}
}
