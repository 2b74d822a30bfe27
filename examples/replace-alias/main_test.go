package main

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/internal/localca"
	"github.com/certroll/certroll/internal/testpki"
	"github.com/certroll/certroll/keystore"
)

func TestDemo(t *testing.T) {
	for _, format := range []string{"jks", "pkcs12"} {
		t.Run(format, func(t *testing.T) {
			var out bytes.Buffer
			require.NoError(t, run([]string{"-format", format, "-key-type", "ec-p256"}, &out))
			before, after, ok := strings.Cut(out.String(), "After:")
			require.True(t, ok, "output:\n%s", out.String())
			assert.Contains(t, before, "Issuer: CN=Old Root CA")
			assert.Contains(t, after, "Issuer: CN=New Root CA")
			assert.Equal(t, 3, strings.Count(after, "Alias name:"), "every entry is still there")
			assert.Contains(t, after, "Alias name: partner-b")
		})
	}
}

// TestTwoStepsWithRealTools renews an alias of a keystore that keytool
// made, with the CSR signed by an openssl CA, and checks the result with
// keytool.
func TestTwoStepsWithRealTools(t *testing.T) {
	for _, storetype := range []string{"JKS", "PKCS12"} {
		t.Run(storetype, func(t *testing.T) {
			dir := t.TempDir()
			ks := filepath.Join(dir, "client.ks")
			pwFile := filepath.Join(dir, "pw")
			require.NoError(t, os.WriteFile(pwFile, []byte("changeit\n"), 0o600))
			keytool(t, "-genkeypair", "-keystore", ks, "-storetype", storetype, "-storepass", "changeit", "-keypass", "changeit",
				"-alias", "Client", "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=tenant-client,O=Tenant", "-validity", "30")
			keytool(t, "-genkeypair", "-keystore", ks, "-storetype", storetype, "-storepass", "changeit", "-keypass", "changeit",
				"-alias", "other", "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=other", "-validity", "30")
			otherBefore := fingerprintLine(t, keytool(t, "-list", "-keystore", ks, "-storepass", "changeit", "-alias", "other"))

			// The new CA, made and run by openssl.
			caKey, caCert := filepath.Join(dir, "ca.key"), filepath.Join(dir, "ca.pem")
			openssl(t, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", caKey,
				"-out", caCert, "-subj", "/CN=New Root CA", "-days", "30")

			csr := filepath.Join(dir, "client.csr")
			var out bytes.Buffer
			require.NoError(t, run([]string{"-keystore", ks, "-alias", "client", "-password-file", pwFile,
				"-new-csr", csr, "-key-type", "ec-p256"}, &out))
			assert.Contains(t, out.String(), "renewal CSR")
			fi, err := os.Stat(ks + ".pending")
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "the pending key file is 0600")

			ext := filepath.Join(dir, "ext.cnf")
			require.NoError(t, os.WriteFile(ext, []byte("extendedKeyUsage=clientAuth\n"), 0o600))
			reply := filepath.Join(dir, "reply.pem")
			openssl(t, "x509", "-req", "-in", csr, "-CA", caCert, "-CAkey", caKey, "-CAcreateserial",
				"-out", reply, "-days", "30", "-extfile", ext)

			out.Reset()
			require.NoError(t, run([]string{"-keystore", ks, "-alias", "client", "-password-file", pwFile,
				"-reply", reply, "-anchors", caCert}, &out))
			assert.Contains(t, out.String(), "installed chain of 2")

			// keytool sees the new certificate under the same alias, the
			// other entry unchanged, and no pending file remains.
			listing := keytool(t, "-list", "-v", "-keystore", ks, "-storepass", "changeit", "-alias", "client")
			assert.Contains(t, listing, "Alias name: client")
			assert.Contains(t, listing, "Issuer: CN=New Root CA")
			assert.Contains(t, listing, "Certificate chain length: 2")
			assert.Equal(t, otherBefore, fingerprintLine(t, keytool(t, "-list", "-keystore", ks, "-storepass", "changeit", "-alias", "other")))
			_, err = os.Stat(ks + ".pending")
			assert.True(t, os.IsNotExist(err))
			_, err = os.Stat(ks + ".bak")
			assert.NoError(t, err, "the previous keystore is kept as a backup")

			s, err := keystore.Open(ks, []byte("changeit"), nil)
			require.NoError(t, err)
			assert.Len(t, s.Aliases(), 2)
		})
	}
}

func TestFlagErrors(t *testing.T) {
	t.Setenv("CERTROLL_PASSWORD", "x")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no step", []string{"-keystore", "k"}, "give -new-csr FILE"},
		{"both steps", []string{"-keystore", "k", "-new-csr", "a", "-reply", "b"}, "not both"},
		{"bad format", []string{"-format", "jceks"}, "want jks or pkcs12"},
		{"stray argument", []string{"-keystore", "k", "-new-csr", "a", "extra", "-key-type", "ed25519"}, `unexpected arguments ["extra" "-key-type" "ed25519"]: replace-alias takes flags only`},
		{"unknown flag", []string{"-keystore", "k", "-new-cert", "a"}, "flag provided but not defined: -new-cert (see -h)"},
		{"real-file flags without a keystore", []string{"-new-csr", "a", "-password-env", "X"}, "-new-csr, -password-env need a real keystore: give -keystore FILE"},
		{"format with a keystore", []string{"-keystore", "k", "-format", "pkcs12", "-new-csr", "a"}, "-format applies to the demonstration"},
		{"discard with reply", []string{"-keystore", "k", "-reply", "b", "-discard-pending"}, "-discard-pending throws away the key that -reply installs"},
		{"anchors without reply", []string{"-keystore", "k", "-new-csr", "a", "-anchors", "r.pem"}, "-anchors applies to -reply (step 2)"},
		{"key type without a CSR", []string{"-keystore", "k", "-reply", "b", "-key-type", "ed25519"}, "-key-type applies to -new-csr (step 1)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := run(tc.args, &bytes.Buffer{})
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

func keytool(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("keytool", append([]string{"-J-Duser.language=en"}, args...)...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "keytool %s:\n%s", strings.Join(args, " "), out)
	return string(out)
}

func openssl(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command("openssl", args...).CombinedOutput()
	require.NoError(t, err, "openssl %s:\n%s", strings.Join(args, " "), out)
}

func fingerprintLine(t *testing.T, listing string) string {
	t.Helper()
	for _, l := range strings.Split(listing, "\n") {
		if strings.Contains(l, "SHA-256") || strings.Contains(l, "SHA256") {
			return strings.TrimSpace(l)
		}
	}
	t.Fatalf("no fingerprint in:\n%s", listing)
	return ""
}

// realStore lays out, in a temporary directory, a JKS keystore with a key
// entry "client" issued by an old CA and that CA's root as the trusted
// entry "old-root", and a password file.
type realStore struct {
	dir, ks, pwFile string
	oldCA, newCA    *localca.CA
}

func newRealStore(t *testing.T) realStore {
	t.Helper()
	dir := t.TempDir()
	oldCA, err := localca.New("Old Root CA", nil, nil)
	require.NoError(t, err)
	newCA, err := localca.New("New Root CA", nil, nil)
	require.NoError(t, err)
	key, err := keystore.GenerateKey(keystore.ECDSAP256, nil)
	require.NoError(t, err)
	chain, err := oldCA.Issue("tenant-client", key.Public())
	require.NoError(t, err)
	s := keystore.New(keystore.JKS, nil)
	require.NoError(t, s.Set(&keystore.Entry{Alias: "client", Key: key, Chain: chain}, nil))
	require.NoError(t, s.Set(&keystore.Entry{Alias: "old-root", Chain: chain[1:]}, nil))
	r := realStore{dir: dir, ks: filepath.Join(dir, "client.jks"), pwFile: filepath.Join(dir, "pw"), oldCA: oldCA, newCA: newCA}
	require.NoError(t, s.Save(r.ks, []byte("changeit"), nil))
	require.NoError(t, os.WriteFile(r.pwFile, []byte("changeit\n"), 0o600))
	return r
}

func (r realStore) args(more ...string) []string {
	return append([]string{"-keystore", r.ks, "-password-file", r.pwFile}, more...)
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

func assertMissing(t *testing.T, path string) {
	t.Helper()
	_, err := os.Lstat(path)
	assert.ErrorIs(t, err, fs.ErrNotExist, "%s must not exist", path)
}

// csrKey returns the public key a PEM CSR carries, DER-encoded.
func csrKey(t *testing.T, path string) []byte {
	t.Helper()
	block, _ := pem.Decode(readFile(t, path))
	require.NotNil(t, block)
	req, err := x509.ParseCertificateRequest(block.Bytes)
	require.NoError(t, err)
	der, err := x509.MarshalPKIXPublicKey(req.PublicKey)
	require.NoError(t, err)
	return der
}

// pendingKey returns the public key of the pending key entry, DER-encoded.
func pendingKey(t *testing.T, r realStore) []byte {
	t.Helper()
	p, err := keystore.Open(r.ks+".pending", []byte("changeit"), nil)
	require.NoError(t, err)
	e, err := p.Entry("client")
	require.NoError(t, err)
	der, err := x509.MarshalPKIXPublicKey(e.Key.Public())
	require.NoError(t, err)
	return der
}

// TestNewCSRTwice: a second -new-csr does not replace the key that the
// first CSR's reply needs; -discard-pending does, and the reply to the
// new CSR installs.
func TestNewCSRTwice(t *testing.T) {
	r := newRealStore(t)
	first, second := filepath.Join(r.dir, "first.csr"), filepath.Join(r.dir, "second.csr")
	var out bytes.Buffer
	require.NoError(t, run(r.args("-alias", "client", "-new-csr", first, "-key-type", "ec-p256"), &out))
	pendingBefore := readFile(t, r.ks+".pending")
	keystoreBefore := readFile(t, r.ks)
	assert.Equal(t, csrKey(t, first), pendingKey(t, r))

	out.Reset()
	err := run(r.args("-alias", "client", "-new-csr", second, "-key-type", "ec-p256"), &out)
	require.ErrorIs(t, err, errPendingKey)
	assert.Equal(t, "a pending key is waiting for its reply: "+r.ks+".pending holds the new key of an earlier -new-csr (alias \"client\"). "+
		"If its CSR went to the CA, install the reply: -reply FILE. To throw that key away and make a new one, give -discard-pending as well "+
		"(a reply to the earlier CSR can then never be installed)", err.Error())
	assert.Equal(t, pendingBefore, readFile(t, r.ks+".pending"), "the pending key is kept")
	assert.Equal(t, keystoreBefore, readFile(t, r.ks))
	assertMissing(t, second)
	assert.Empty(t, out.String())

	// Discarding it makes a new key and CSR; the reply to that CSR installs.
	require.NoError(t, run(r.args("-alias", "client", "-new-csr", second, "-key-type", "ec-p256", "-discard-pending"), &out))
	assert.Contains(t, out.String(), "the earlier pending key was discarded\n")
	assert.Equal(t, csrKey(t, second), pendingKey(t, r))
	assert.NotEqual(t, csrKey(t, first), pendingKey(t, r))
	chain, err := r.newCA.SignCSR(readFile(t, second))
	require.NoError(t, err)
	reply := filepath.Join(r.dir, "reply.pem")
	require.NoError(t, os.WriteFile(reply, testpki.PEM(chain...), 0o644))
	anchors := filepath.Join(r.dir, "new-root.pem")
	require.NoError(t, os.WriteFile(anchors, testpki.PEM(r.newCA.Cert), 0o644))
	out.Reset()
	require.NoError(t, run(r.args("-alias", "client", "-reply", reply, "-anchors", anchors), &out))
	assert.Contains(t, out.String(), "installed chain of 2")
	assertMissing(t, r.ks+".pending")
}

func TestDiscardPending(t *testing.T) {
	r := newRealStore(t)
	var out bytes.Buffer
	require.NoError(t, run(r.args("-new-csr", filepath.Join(r.dir, "c.csr"), "-key-type", "ec-p256"), &out))
	out.Reset()
	require.NoError(t, run(r.args("-discard-pending"), &out))
	assert.Equal(t, "pending key (alias \"client\") in "+r.ks+".pending discarded: a reply to its CSR can no longer be installed\n", out.String())
	assertMissing(t, r.ks+".pending")
	err := run(r.args("-discard-pending"), &out)
	assert.EqualError(t, err, "no pending key to discard: "+r.ks+".pending does not exist")
}

// TestNewCSRTrustedEntry: a trusted certificate entry has no key to renew;
// -new-csr refuses it as InstallReply would, writing nothing.
func TestNewCSRTrustedEntry(t *testing.T) {
	r := newRealStore(t)
	csr := filepath.Join(r.dir, "root.csr")
	before := readFile(t, r.ks)
	err := run(r.args("-alias", "old-root", "-new-csr", csr), &bytes.Buffer{})
	require.ErrorIs(t, err, keystore.ErrNotKeyEntry)
	assert.Contains(t, err.Error(), `alias "old-root" of `+r.ks+` is a trusted certificate entry: -new-csr renews the certificate of a key entry`)
	assertMissing(t, csr)
	assertMissing(t, r.ks+".pending")
	assert.Equal(t, before, readFile(t, r.ks))
}

// TestNewCSRUnwritableOutput: a CSR path in a missing directory is found
// before the pending key is written, so that the next try is not refused
// for a key whose CSR never left.
func TestNewCSRUnwritableOutput(t *testing.T) {
	r := newRealStore(t)
	missing := filepath.Join(r.dir, "no-such-dir", "client.csr")
	err := run(r.args("-new-csr", missing, "-key-type", "ec-p256"), &bytes.Buffer{})
	require.ErrorIs(t, err, fs.ErrNotExist)
	assert.Contains(t, err.Error(), fmt.Sprintf("-new-csr %q: cannot write there", missing))
	assert.Contains(t, err.Error(), "nothing was written")
	assertMissing(t, r.ks+".pending")
	entries, err := os.ReadDir(r.dir)
	require.NoError(t, err)
	assert.Equal(t, []string{"client.jks", "client.jks.lock", "pw"}, names(entries), "only the keystore, its lock file and the password file")

	require.NoError(t, run(r.args("-new-csr", filepath.Join(r.dir, "client.csr"), "-key-type", "ec-p256"), &bytes.Buffer{}))
	entries, err = os.ReadDir(r.dir)
	require.NoError(t, err)
	assert.Equal(t, []string{"client.csr", "client.jks", "client.jks.lock", "client.jks.pending", "client.jks.pending.lock", "pw"}, names(entries),
		"the keystore, the password file, the pending key and the CSR, with their lock files; no temporary file")
}

// names returns the names of entries, in directory order.
func names(entries []os.DirEntry) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func TestHelp(t *testing.T) {
	for _, arg := range []string{"-h", "-help", "--help"} {
		t.Run(arg, func(t *testing.T) {
			var out bytes.Buffer
			require.NoError(t, run([]string{arg}, &out), "-h is not an error: the process exits 0")
			assert.True(t, strings.HasPrefix(out.String(), "Usage:\n"), out.String())
			for _, f := range []string{"-keystore", "-new-csr", "-reply", "-discard-pending"} {
				assert.Regexp(t, `(?m)^  `+f+`( |$)`, out.String())
			}
			assert.NotContains(t, out.String(), "help requested")
		})
	}
}
