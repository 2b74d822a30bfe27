package main

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/certroll/certroll/internal/localca"
	"github.com/certroll/certroll/keystore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fixture is a keystore with a key entry "client" signed by an old CA,
// the old root as a trusted entry "oldroot", and a new CA.
type fixture struct {
	dir, path  string
	oldCA      *localca.CA
	newCA      *localca.CA
	clientCert *x509.Certificate
}

const testPW = "changeit"

func newFixture(t *testing.T, format keystore.Format) *fixture {
	t.Helper()
	t.Setenv("CERTROLL_TEST_PW", testPW)
	t.Setenv("CERTROLL_TEST_BADPW", "wrong")
	oldCA, err := localca.New("Old Root CA", nil, nil)
	require.NoError(t, err)
	newCA, err := localca.New("New Root CA", nil, nil)
	require.NoError(t, err)
	key, err := keystore.GenerateKey(keystore.ECDSAP256, nil)
	require.NoError(t, err)
	chain, err := oldCA.Issue("tenant-client", key.Public())
	require.NoError(t, err)
	ks := keystore.New(format, nil)
	require.NoError(t, ks.Set(&keystore.Entry{Alias: "client", Key: key, Chain: chain}, nil))
	require.NoError(t, ks.Set(&keystore.Entry{Alias: "oldroot", Chain: chain[1:]}, nil))
	dir := t.TempDir()
	f := &fixture{dir: dir, path: filepath.Join(dir, "client.ks"), oldCA: oldCA, newCA: newCA, clientCert: chain[0]}
	require.NoError(t, ks.Save(f.path, []byte(testPW), nil))
	return f
}

// file writes data to name in the fixture's directory and returns the path.
func (f *fixture) file(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(f.dir, name)
	require.NoError(t, os.WriteFile(p, data, 0o600))
	return p
}

func pemCerts(certs []*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range certs {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.Bytes()
}

// runCmd runs certroll with args and returns the exit code, stdout and
// stderr.
func runCmd(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(args, nil, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestCSRRefusals(t *testing.T) {
	for _, format := range []keystore.Format{keystore.JKS, keystore.PKCS12} {
		t.Run(format.String(), func(t *testing.T) {
			f := newFixture(t, format)
			pw := "--storepass-env=CERTROLL_TEST_PW"
			before, err := os.ReadFile(f.path)
			require.NoError(t, err)

			tests := []struct {
				name string
				args []string
				code int
				msg  string
			}{
				{"trusted alias", []string{"csr", f.path, "oldroot", pw}, exitUsage, `alias "oldroot" of ` + f.path + ` is a trusted certificate entry (trustedCertEntry)`},
				{"missing alias", []string{"csr", f.path, "nobody", pw}, exitUsage, `has no alias "nobody": its aliases are "client", "oldroot"`},
				{"wrong password", []string{"csr", f.path, "client", "--storepass-env=CERTROLL_TEST_BADPW"}, exitUsage, "the password is wrong"},
				{"unset password variable", []string{"csr", f.path, "client", "--storepass-env=CERTROLL_TEST_UNSET"}, exitUsage, "CERTROLL_TEST_UNSET is not set"},
				{"missing keystore", []string{"csr", f.path + ".nope", "client", pw}, exitUsage, "does not exist"},
				{"bad key type", []string{"csr", f.path, "client", pw, "--key-type", "rsa1024"}, exitUsage, `--key-type "rsa1024" is not a key type`},
				{"unwritable out", []string{"csr", f.path, "client", pw, "--out", filepath.Join(f.dir, "no", "such", "dir", "x.csr")}, exitUsage, "cannot write there"},
				{"too few arguments", []string{"csr", f.path}, exitUsage, "accepts 2 arg(s)"},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					code, _, stderr := runCmd(tt.args...)
					assert.Equal(t, tt.code, code, stderr)
					assert.Contains(t, stderr, tt.msg)
					assert.NotContains(t, stderr, testPW)
					assert.NoFileExists(t, stagingPath(f.path))
				})
			}
			after, err := os.ReadFile(f.path)
			require.NoError(t, err)
			assert.Equal(t, before, after, "a refused csr leaves the keystore as it was")

			// The first csr keeps the key; a second one is refused, naming
			// the pending file; --discard-pending makes a new key.
			code, out, stderr := runCmd("csr", f.path, "client", pw)
			require.Equal(t, exitOK, code, stderr)
			first, err := keystore.ParseCSR([]byte(out))
			require.NoError(t, err)
			assert.Equal(t, f.clientCert.Subject.String(), first.Subject.String())
			fi, err := os.Stat(stagingPath(f.path))
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
			staged, err := os.ReadFile(stagingPath(f.path))
			require.NoError(t, err)

			code, _, stderr = runCmd("csr", f.path, "client", pw, "--out", filepath.Join(f.dir, "second.csr"))
			assert.Equal(t, exitRefused, code, stderr)
			assert.Contains(t, stderr, stagingPath(f.path)+` already holds a new key for alias "client"`)
			assert.Contains(t, stderr, "--discard-pending")
			assert.NoFileExists(t, filepath.Join(f.dir, "second.csr"))
			now, err := os.ReadFile(stagingPath(f.path))
			require.NoError(t, err)
			assert.Equal(t, staged, now, "the pending key is not replaced")

			code, out, stderr = runCmd("csr", f.path, "client", pw, "--discard-pending", "--json")
			require.Equal(t, exitOK, code, stderr)
			assert.Contains(t, out, `"discarded_pending": true`)
			second, err := keystore.ParseCSR([]byte(jsonField(t, out, "csr")))
			require.NoError(t, err)
			assert.NotEqual(t, keystore.KeyFingerprint(first.PublicKey), keystore.KeyFingerprint(second.PublicKey))
		})
	}
}

// jsonField returns the string field name of the JSON object doc.
func jsonField(t *testing.T, doc, name string) string {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal([]byte(doc), &m))
	s, ok := m[name].(string)
	require.True(t, ok, "field %q in %s", name, doc)
	return s
}
