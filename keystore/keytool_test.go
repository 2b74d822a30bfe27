package keystore

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/internal/testpki"
)

// Helpers for running keytool, shared by the JKS and PKCS#12 tests. They
// fail the test (never skip it) when keytool is missing: CI installs it.

// keytoolJVMFlags make keytool's messages English (the listing parser
// reads them) and its password files UTF-8 whatever the locale.
// The last two make the short-lived JVM start faster (C1 only, serial GC).
var keytoolJVMFlags = []string{"-J-Duser.language=en", "-J-Duser.country=US", "-J-Dfile.encoding=UTF-8",
	"-J-XX:TieredStopAtLevel=1", "-J-XX:+UseSerialGC"}

// runKeytoolErr runs keytool with args and returns its combined output.
func runKeytoolErr(t testing.TB, args ...string) (string, error) {
	t.Helper()
	kt, err := exec.LookPath("keytool")
	require.NoError(t, err, "the interoperability tests need keytool (JDK 17+) on PATH")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, kt, append(append([]string(nil), keytoolJVMFlags...), args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	return out.String(), err
}

// runKeytool runs keytool with args, failing the test if it fails, and
// returns its combined output.
func runKeytool(t testing.TB, args ...string) string {
	t.Helper()
	out, err := runKeytoolErr(t, args...)
	require.NoError(t, err, "keytool %s:\n%s", strings.Join(args, " "), out)
	return out
}

// writeSecretFile writes password to a new 0600 file in dir, for keytool's
// -storepass:file and -keypass:file (read as UTF-8 thanks to
// keytoolJVMFlags) and for Client.java, and returns its path.
func writeSecretFile(t testing.TB, dir string, password []byte) string {
	t.Helper()
	f, err := os.CreateTemp(dir, "secret-*")
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, f.Chmod(0o600))
	_, err = f.Write(password)
	require.NoError(t, err)
	return f.Name()
}

// keytoolGenKey adds a key entry with a self-signed certificate to the
// store at path of the given type (creating it), as an administrator does
// with keytool -genkeypair. keyAlg is "EC" (P-256) or "RSA" (2048 bits).
// For PKCS12, keytool wants the key password to be the store password.
func keytoolGenKey(t testing.TB, path, storeType, storePassFile, keyPassFile, alias, keyAlg string) {
	t.Helper()
	args := []string{"-genkeypair", "-keystore", path, "-storetype", storeType, "-storepass:file", storePassFile,
		"-keypass:file", keyPassFile, "-alias", alias, "-dname", "CN=" + alias + ",O=keytool", "-validity", "365", "-keyalg", keyAlg}
	if keyAlg == "EC" {
		args = append(args, "-groupname", "secp256r1")
	} else {
		args = append(args, "-keysize", "2048")
	}
	runKeytool(t, args...)
}

// keytoolEntry is one entry of keytool -list -v.
type keytoolEntry struct {
	Alias  string
	Type   string   // "PrivateKeyEntry", "trustedCertEntry"
	SHA256 []string // certificate fingerprints, leaf first, "AB:CD:..."
}

// keytoolList runs keytool -list -v on the store at path and returns its
// entries sorted by alias, after checking the count keytool announces.
func keytoolList(t testing.TB, path, storeType string, password []byte) []keytoolEntry {
	t.Helper()
	pw := writeSecretFile(t, filepath.Dir(path), password)
	defer os.Remove(pw)
	out := runKeytool(t, "-list", "-v", "-keystore", path, "-storetype", storeType, "-storepass:file", pw)
	var (
		entries []keytoolEntry
		count   = -1
	)
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "Your keystore contains "):
			n, err := strconv.Atoi(strings.Fields(line)[3])
			require.NoError(t, err, "keytool line %q", line)
			count = n
		case strings.HasPrefix(line, "Alias name: "):
			entries = append(entries, keytoolEntry{Alias: strings.TrimPrefix(line, "Alias name: ")})
		case strings.HasPrefix(line, "Entry type: ") && len(entries) > 0:
			entries[len(entries)-1].Type = strings.TrimPrefix(line, "Entry type: ")
		case strings.HasPrefix(line, "SHA256: ") && len(entries) > 0:
			e := &entries[len(entries)-1]
			e.SHA256 = append(e.SHA256, strings.TrimPrefix(line, "SHA256: "))
		}
	}
	require.Equal(t, count, len(entries), "keytool announced %d entries and listed %d:\n%s", count, len(entries), out)
	sort.Slice(entries, func(i, j int) bool { return entries[i].Alias < entries[j].Alias })
	return entries
}

// listingOf returns what keytool -list -v should print for s: aliases as
// Java lists them (lower-cased), kinds and certificate fingerprints,
// sorted by alias. Certificates are hashed from their DER, so entries
// whose certificates Go cannot parse are compared too.
func listingOf(t testing.TB, s *Store) []keytoolEntry {
	t.Helper()
	var out []keytoolEntry
	for _, r := range s.recs {
		e := keytoolEntry{Alias: strings.ToLower(r.alias), Type: r.kind.String()}
		if r.kind == KeyEntry && len(r.ders()) == 0 {
			// A PKCS#12 key without certificates: keytool calls it a
			// SecretKeyEntry (KeyStoreSpi.engineEntryInstanceOf).
			e.Type = "SecretKeyEntry"
		}
		for _, der := range r.ders() {
			e.SHA256 = append(e.SHA256, CertFingerprint(&x509.Certificate{Raw: der}).String())
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Alias < out[j].Alias })
	return out
}

// keytoolCSRKey runs keytool -certreq for alias, which makes keytool
// decrypt the entry's private key and sign with it, and returns the
// request's public key fingerprint.
func keytoolCSRKey(t testing.TB, path, storeType, storePassFile, keyPassFile, alias string) Fingerprint {
	t.Helper()
	out := runKeytool(t, "-certreq", "-keystore", path, "-storetype", storeType, "-storepass:file", storePassFile,
		"-keypass:file", keyPassFile, "-alias", alias)
	block, _ := pem.Decode([]byte(out[strings.Index(out, "-----BEGIN"):]))
	require.NotNil(t, block, "keytool -certreq printed no PEM:\n%s", out)
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	require.NoError(t, err)
	require.NoError(t, csr.CheckSignature(), "keytool signed the request with a key that does not match it")
	return KeyFingerprint(csr.PublicKey)
}

// keytoolStore is a copy, in a test's temporary directory, of the store
// the interoperability tests start from, made by keytool as an
// administrator makes one: store password "päss1234" (keytool hashes ä as
// the UTF-16 character U+00E4), a key entry created as "TenantClient" (EC
// P-256), a key entry "other" (RSA) whose key password differs from the
// store password, and a trusted certificate "Old Root" imported from a PEM
// file. keytool runs once per test binary to make it.
type keytoolStore struct {
	dir, path        string
	storePass        []byte
	storePassFile    string
	otherKeyPass     []byte
	otherKeyPassFile string
	root             *x509.Certificate
	// listing is what keytool -list -v printed for the store.
	listing []keytoolEntry
}

var sharedKeytoolStore struct {
	once    sync.Once
	ok      bool
	data    []byte
	root    *x509.Certificate
	listing []keytoolEntry
}

func newKeytoolStore(t testing.TB) *keytoolStore {
	t.Helper()
	sh := &sharedKeytoolStore
	storePass, otherKeyPass := []byte("päss1234"), []byte("other-key-pass")
	sh.once.Do(func() {
		dir := t.TempDir()
		path := filepath.Join(dir, "store.jks")
		storePassFile := writeSecretFile(t, dir, storePass)
		keytoolGenKey(t, path, "JKS", storePassFile, storePassFile, "TenantClient", "EC")
		keytoolGenKey(t, path, "JKS", storePassFile, writeSecretFile(t, dir, otherKeyPass), "other", "RSA")
		root := testpki.NewRoot(t, "Old Root")
		rootPEM := filepath.Join(dir, "root.pem")
		require.NoError(t, os.WriteFile(rootPEM, testpki.PEM(root.Cert), 0o600))
		runKeytool(t, "-importcert", "-noprompt", "-keystore", path, "-storetype", "JKS", "-storepass:file", storePassFile,
			"-alias", "Old Root", "-file", rootPEM)
		sh.listing = keytoolList(t, path, "JKS", storePass)
		sh.data, sh.root = mustRead(t, path), root.Cert
		sh.ok = true
	})
	require.True(t, sh.ok, "building the keytool store failed in an earlier test")
	dir := t.TempDir()
	k := &keytoolStore{dir: dir, path: filepath.Join(dir, "store.jks"), storePass: storePass, otherKeyPass: otherKeyPass,
		root: sh.root, listing: sh.listing}
	require.NoError(t, os.WriteFile(k.path, sh.data, 0o600))
	k.storePassFile = writeSecretFile(t, dir, storePass)
	k.otherKeyPassFile = writeSecretFile(t, dir, otherKeyPass)
	return k
}

func (k *keytoolStore) open(t testing.TB) *Store {
	t.Helper()
	s, err := Open(k.path, k.storePass, &StoreOptions{KeyPasswords: map[string][]byte{"other": k.otherKeyPass}})
	require.NoError(t, err)
	return s
}

// keytoolExport returns the certificate keytool -exportcert gives for alias.
func keytoolExport(t testing.TB, path, storeType, storePassFile, alias string) *x509.Certificate {
	t.Helper()
	out := runKeytool(t, "-exportcert", "-rfc", "-keystore", path, "-storetype", storeType, "-storepass:file", storePassFile, "-alias", alias)
	block, _ := pem.Decode([]byte(out[strings.Index(out, "-----BEGIN"):]))
	require.NotNil(t, block, "keytool -exportcert printed no PEM:\n%s", out)
	c, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	return c
}

// TestKeytoolStoresRead reads the store keytool made: the same entries,
// kinds and fingerprints as keytool -list -v, and the same keys keytool
// signs with.
func TestKeytoolStoresRead(t *testing.T) {
	t.Parallel()
	k := newKeytoolStore(t)
	s := k.open(t)

	assert.Equal(t, k.listing, listingOf(t, s))
	// Java lower-cases aliases; lookups ignore case.
	assert.ElementsMatch(t, []string{"tenantclient", "other", "old root"}, s.Aliases())
	for alias, want := range map[string]EntryKind{"TenantClient": KeyEntry, "OTHER": KeyEntry, "Old Root": TrustedEntry} {
		kind, err := s.Kind(alias)
		require.NoError(t, err, alias)
		assert.Equal(t, want, kind, alias)
	}

	root, err := s.Entry("old root")
	require.NoError(t, err)
	assert.True(t, root.Chain[0].Equal(k.root))

	for alias, keyPassFile := range map[string]string{"tenantclient": k.storePassFile, "other": k.otherKeyPassFile} {
		e, err := s.Entry(alias)
		require.NoError(t, err, alias)
		require.Len(t, e.Chain, 1)
		assert.Equal(t, KeyFingerprint(e.Chain[0].PublicKey), KeyFingerprint(e.Key.Public()), alias)
		assert.Equal(t, keytoolCSRKey(t, k.path, "JKS", k.storePassFile, keyPassFile, alias), KeyFingerprint(e.Key.Public()), alias)
		assert.True(t, strings.EqualFold(alias, e.Chain[0].Subject.CommonName), "subject %s", e.Chain[0].Subject)
	}
	assert.Equal(t, "EC P-256", KeyDescription(mustEntry(t, s, "tenantclient").Key.Public()))
	assert.Equal(t, "RSA 2048", KeyDescription(mustEntry(t, s, "other").Key.Public()))
}

func mustEntry(t testing.TB, s *Store, alias string) *Entry {
	t.Helper()
	e, err := s.Entry(alias)
	require.NoError(t, err)
	return e
}

func TestKeytoolKeyPasswordDiffers(t *testing.T) {
	t.Parallel()
	k := newKeytoolStore(t)
	s, err := Open(k.path, k.storePass, nil) // no WithKeyPassword for "other"
	require.NoError(t, err)
	// The store and its other entries still read.
	_, err = s.Entry("tenantclient")
	require.NoError(t, err)
	certs, err := s.Certificates("other")
	require.NoError(t, err)
	require.Len(t, certs, 1)

	_, err = s.Entry("Other")
	require.ErrorIs(t, err, ErrIncorrectPassword)
	assert.Contains(t, err.Error(), `"other"`)
	assert.Contains(t, err.Error(), "tampered with, or password incorrect")
	assert.NotContains(t, err.Error(), string(k.storePass))
}

func TestKeytoolWrongStorePassword(t *testing.T) {
	t.Parallel()
	k := newKeytoolStore(t)
	for _, pw := range []string{"pass1234", "PÄSS1234", "päss123", ""} {
		_, err := Open(k.path, []byte(pw), nil)
		require.ErrorIs(t, err, ErrIncorrectPassword, "password %q", pw)
		assert.Contains(t, err.Error(), "tampered with, or password incorrect")
	}
}

// TestKeytoolAfterReplace replaces one key entry with a key and chain
// from a different CA and checks, with keytool, that the store lists the
// same aliases, the new certificates under the replaced one, and the other
// entries unchanged, and that their bytes are identical.
func TestKeytoolAfterReplace(t *testing.T) {
	t.Parallel()
	k := newKeytoolStore(t)
	before := k.listing
	beforeBytes := jksEntryBytes(t, mustRead(t, k.path))

	newCA := testpki.NewRoot(t, "New Root").Intermediate(t, "New Issuing CA")
	leaf := newCA.Leaf(t, "tenantclient")
	s := k.open(t)
	prev, err := s.Replace("TENANTCLIENT", leaf.Key, leaf.Chain, nil)
	require.NoError(t, err)
	require.NotNil(t, prev)
	assert.Equal(t, "tenantclient", prev.Alias)
	require.NoError(t, s.Save(k.path, k.storePass, nil))

	after := keytoolList(t, k.path, "JKS", k.storePass)
	require.Len(t, after, len(before))
	for i := range before {
		assert.Equal(t, before[i].Alias, after[i].Alias)
		assert.Equal(t, before[i].Type, after[i].Type, before[i].Alias)
		if before[i].Alias == "tenantclient" {
			assert.Equal(t, []string{CertFingerprint(leaf.Cert).String(), CertFingerprint(newCA.Cert).String()}, after[i].SHA256)
			assert.NotEqual(t, before[i].SHA256, after[i].SHA256)
			continue
		}
		assert.Equal(t, before[i].SHA256, after[i].SHA256, before[i].Alias)
	}

	// keytool decrypts the new key (encrypted with the store password) and
	// the untouched one (still under its own key password).
	assert.Equal(t, KeyFingerprint(leaf.Key.Public()), keytoolCSRKey(t, k.path, "JKS", k.storePassFile, k.storePassFile, "tenantclient"))
	afterBytes := jksEntryBytes(t, mustRead(t, k.path))
	for alias, b := range beforeBytes {
		if alias == "tenantclient" {
			assert.NotEqual(t, b, afterBytes[alias])
			continue
		}
		assert.Equal(t, b, afterBytes[alias], "entry %q changed", alias)
	}
	keytoolCSRKey(t, k.path, "JKS", k.storePassFile, k.otherKeyPassFile, "other")
}

func TestKeytoolListsStoreBuiltFromScratch(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "new.jks")
	storePass, keyPass := []byte("päss1234"), []byte("key-päss")
	ca := testpki.NewRoot(t, "Root").Intermediate(t, "Issuing CA")
	client := ca.Leaf(t, "client", testpki.WithKeyType(testpki.KeyRSA2048))
	other := ca.Leaf(t, "other")

	s := New(JKS, &StoreOptions{Now: func() time.Time { return testpki.Now }, KeyPasswords: map[string][]byte{"Other": keyPass}})
	require.NoError(t, s.Set(&Entry{Alias: "Client", Key: client.Key, Chain: client.Chain}, nil))
	require.NoError(t, s.Set(&Entry{Alias: "other", Key: other.Key, Chain: other.Chain}, nil))
	require.NoError(t, s.Set(&Entry{Alias: "Root CA", Chain: []*x509.Certificate{ca.Root().Cert}}, nil))
	require.NoError(t, s.Save(path, storePass, nil))

	want := []keytoolEntry{
		{Alias: "client", Type: "PrivateKeyEntry", SHA256: []string{CertFingerprint(client.Cert).String(), CertFingerprint(ca.Cert).String()}},
		{Alias: "other", Type: "PrivateKeyEntry", SHA256: []string{CertFingerprint(other.Cert).String(), CertFingerprint(ca.Cert).String()}},
		{Alias: "root ca", Type: "trustedCertEntry", SHA256: []string{CertFingerprint(ca.Root().Cert).String()}},
	}
	assert.Equal(t, want, keytoolList(t, path, "JKS", storePass))
	storePassFile := writeSecretFile(t, dir, storePass)
	assert.Equal(t, KeyFingerprint(client.Key.Public()), keytoolCSRKey(t, path, "JKS", storePassFile, storePassFile, "client"))
	// The key of "other" is protected by its own key password.
	assert.Equal(t, KeyFingerprint(other.Key.Public()), keytoolCSRKey(t, path, "JKS", storePassFile, writeSecretFile(t, dir, keyPass), "other"))
}

// TestKeytoolRoundTrip reads a keytool store and writes it back without
// changes: keytool lists the same, and every entry's bytes are identical.
func TestKeytoolRoundTrip(t *testing.T) {
	t.Parallel()
	k := newKeytoolStore(t)
	data := mustRead(t, k.path)
	s := k.open(t)
	out, err := s.Marshal(k.storePass)
	require.NoError(t, err)
	back, err := Parse(out, k.storePass, &StoreOptions{KeyPasswords: map[string][]byte{"other": k.otherKeyPass}})
	require.NoError(t, err)
	assertSameEntries(t, s, back)
	assert.Equal(t, jksEntryBytes(t, data), jksEntryBytes(t, out))

	path := filepath.Join(k.dir, "roundtrip.jks")
	require.NoError(t, os.WriteFile(path, out, 0o600))
	assert.Equal(t, k.listing, keytoolList(t, path, "JKS", k.storePass))
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}
