package keystore

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	gopkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/certroll/certroll/internal/testpki"
)

// Interoperability of the PKCS#12 codec with keytool 17, OpenSSL 3.0,
// Java's KeyStore API and go-pkcs12, in both directions. The tools fail
// the tests when missing (CI installs them).

// p12Exec runs a program and returns its combined output.
func p12Exec(t testing.TB, stdin []byte, name string, args ...string) (string, error) {
	t.Helper()
	bin, err := exec.LookPath(name)
	require.NoError(t, err, "the interoperability tests need %s on PATH", name)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	return out.String(), err
}

func p12MustExec(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := p12Exec(t, nil, name, args...)
	require.NoError(t, err, "%s %s:\n%s", name, strings.Join(args, " "), out)
	return out
}

// p12JavaTool runs testdata/pkcs12/java/P12Tool.java.
func p12JavaTool(t testing.TB, args ...string) string {
	t.Helper()
	tool, err := filepath.Abs(filepath.Join("testdata", "pkcs12", "java", "P12Tool.java"))
	require.NoError(t, err)
	return p12MustExec(t, "java", append([]string{"-Duser.language=en", tool}, args...)...)
}

// p12JavaKeyCheck has Java decrypt the key under alias, sign with it and
// check the signature with the leaf's public key; it returns that key's
// fingerprint.
func p12JavaKeyCheck(t testing.TB, path, storeType, storePassFile, alias, keyPassFile string) Fingerprint {
	t.Helper()
	out := p12JavaTool(t, "keycheck", path, storeType, storePassFile, alias, keyPassFile)
	i := strings.Index(out, "key-ok ")
	require.GreaterOrEqual(t, i, 0, "P12Tool printed:\n%s", out)
	fp, err := ParseFingerprint(strings.TrimSpace(out[i+len("key-ok "):]))
	require.NoError(t, err, "P12Tool printed:\n%s", out)
	return fp
}

func p12WriteFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, data, 0o600))
	return path
}

// p12OpenSSLView is what openssl pkcs12 -nodes prints, summarised.
type p12OpenSSLView struct {
	keys, certs   int
	friendlyNames []string
	javaTrust     int // bags with Java's trust attribute
}

func p12OpenSSLRead(t testing.TB, path string, password []byte, extra ...string) (p12OpenSSLView, error) {
	t.Helper()
	pwFile := writeSecretFile(t, filepath.Dir(path), password)
	defer os.Remove(pwFile)
	passin := "file:" + pwFile
	if len(password) == 0 {
		passin = "pass:"
	}
	args := append([]string{"pkcs12", "-in", path, "-passin", passin, "-nodes", "-info"}, extra...)
	out, err := p12Exec(t, nil, "openssl", args...)
	if err != nil {
		return p12OpenSSLView{}, &opensslError{out}
	}
	var v p12OpenSSLView
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "-----BEGIN PRIVATE KEY-----":
			v.keys++
		case line == "-----BEGIN CERTIFICATE-----":
			v.certs++
		case strings.HasPrefix(line, "friendlyName: "):
			v.friendlyNames = append(v.friendlyNames, strings.TrimPrefix(line, "friendlyName: "))
		case strings.HasPrefix(line, "2.16.840.1.113894.746875.1.1:"):
			v.javaTrust++
		}
	}
	return v, nil
}

type opensslError struct{ out string }

func (e *opensslError) Error() string { return "openssl failed:\n" + e.out }

// TestPKCS12InteropProfiles writes the fixture store in every profile and
// has keytool (-list -v, and -importkeystore into a JKS whose keys Java
// then decrypts), openssl pkcs12 and go-pkcs12 read it, exactly when
// Profile.ReadableBy says they can.
func TestPKCS12InteropProfiles(t *testing.T) {
	f := newP12Fixture(t)
	// Java's PKCS12KeyStore takes only printable ASCII passwords (see
	// TestPKCS12JavaNeedsASCIIPasswords).
	pw := []byte("change it")
	for _, prof := range []Profile{Modern, Legacy, Passwordless, PBMAC1} {
		t.Run(prof.presetName(), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s := f.profiled(t, prof, nil)
			data, err := s.Marshal(pw)
			require.NoError(t, err)
			path := p12WriteFile(t, dir, "store.p12", data)
			read, err := Parse(data, pw, nil)
			require.NoError(t, err)
			require.Equal(t, p12FixtureEntries, p12Entries(t, read))

			javaOK, why := prof.ReadableBy(Java17)
			pwFile := writeSecretFile(t, dir, pw)
			if javaOK {
				assert.Equal(t, listingOf(t, read), keytoolList(t, path, "PKCS12", pw), why)

				jks := filepath.Join(dir, "imported.jks")
				runKeytool(t, "-importkeystore", "-noprompt", "-srckeystore", path, "-srcstoretype", "PKCS12", "-srcstorepass:file", pwFile,
					"-destkeystore", jks, "-deststoretype", "JKS", "-deststorepass:file", pwFile)
				assert.Equal(t, listingOf(t, read), keytoolList(t, jks, "JKS", pw))
				for alias, key := range map[string]crypto.Signer{"tenantclient": f.client.Key, "other": f.alt.Key} {
					assert.Equal(t, KeyFingerprint(key.Public()), p12JavaKeyCheck(t, path, "PKCS12", pwFile, alias, pwFile), alias)
					assert.Equal(t, KeyFingerprint(key.Public()), p12JavaKeyCheck(t, jks, "JKS", pwFile, alias, pwFile), alias)
				}
			} else {
				out, err := runKeytoolErr(t, "-list", "-keystore", path, "-storetype", "PKCS12", "-storepass:file", pwFile)
				assert.Error(t, err, "ReadableBy says %q, but keytool read the file:\n%s", why, out)
			}

			opensslOK, why := prof.ReadableBy(OpenSSL30)
			var legacy []string
			if prof.presetName() == "Legacy" {
				legacy = []string{"-legacy"}
			}
			view, err := p12OpenSSLRead(t, path, pw, legacy...)
			if !opensslOK {
				require.Error(t, err, "ReadableBy says %q, but openssl read the file", why)
				return
			}
			require.NoError(t, err, why)
			// Two keys; the chains (leaf, intermediate, root) and the two
			// trusted roots.
			assert.Equal(t, 2, view.keys)
			assert.Equal(t, 7, view.certs)
			assert.Equal(t, 2, view.javaTrust)
			assert.Subset(t, view.friendlyNames, []string{"tenantclient", "other", "root a", "root b"})
			if legacy != nil {
				_, err := p12OpenSSLRead(t, path, pw)
				assert.NoError(t, err, "Legacy uses no RC2, so OpenSSL 3 reads it without -legacy too")
			}
		})
	}
}

// TestPKCS12JavaNeedsASCIIPasswords documents a limit of Java's
// PKCS12KeyStore that no profile avoids: it derives encryption keys only
// from printable ASCII passwords ("Password is not ASCII"), while OpenSSL
// and this package take any UTF-8 password.
func TestPKCS12JavaNeedsASCIIPasswords(t *testing.T) {
	t.Parallel()
	f := newP12Fixture(t)
	pw := []byte("chänge it")
	for _, prof := range []Profile{Modern, Legacy} {
		dir := t.TempDir()
		data, err := f.profiled(t, prof, nil).Marshal(pw)
		require.NoError(t, err)
		path := p12WriteFile(t, dir, "store.p12", data)
		out, err := runKeytoolErr(t, "-list", "-v", "-keystore", path, "-storetype", "PKCS12", "-storepass:file", writeSecretFile(t, dir, pw))
		require.Error(t, err, prof.presetName())
		assert.Contains(t, out, "Password is not ASCII", prof.presetName())
		view, err := p12OpenSSLRead(t, path, pw)
		require.NoError(t, err, prof.presetName())
		assert.Equal(t, 2, view.keys)
	}
}

// TestPKCS12GoPKCS12ReadsOutput: go-pkcs12, an independent decoder, reads
// a single identity with DecodeChain and a truststore with
// DecodeTrustStore, in every profile.
func TestPKCS12GoPKCS12ReadsOutput(t *testing.T) {
	f := newP12Fixture(t)
	for _, prof := range []Profile{Modern, Legacy, Passwordless, PBMAC1} {
		t.Run(prof.presetName(), func(t *testing.T) {
			pw := "changeit"
			if prof.presetName() == "Passwordless" {
				pw = "" // go-pkcs12 reads a file without MAC only with no password
			}
			id := withProfile(New(PKCS12, &StoreOptions{Rand: p12Rand(8)}), prof)
			require.NoError(t, id.Set(&Entry{Alias: "client", Key: f.client.Key, Chain: f.client.Chain}, nil))
			data, err := id.Marshal([]byte(pw))
			require.NoError(t, err)
			key, leaf, cas, err := gopkcs12.DecodeChain(data, pw)
			require.NoError(t, err)
			assert.Equal(t, KeyFingerprint(f.client.Key.Public()), KeyFingerprint(key.(crypto.Signer).Public()))
			assert.True(t, leaf.Equal(f.client.Cert))
			require.Len(t, cas, 1)
			assert.True(t, cas[0].Equal(f.caA.Cert))

			ts := withProfile(New(PKCS12, &StoreOptions{Rand: p12Rand(9)}), prof)
			require.NoError(t, ts.Set(&Entry{Alias: "root a", Chain: []*x509.Certificate{f.rootA}}, nil))
			require.NoError(t, ts.Set(&Entry{Alias: "root b", Chain: []*x509.Certificate{f.rootB}}, nil))
			data, err = ts.Marshal([]byte(pw))
			require.NoError(t, err)
			certs, err := gopkcs12.DecodeTrustStore(data, pw)
			require.NoError(t, err)
			require.Len(t, certs, 2)
			assert.True(t, certs[0].Equal(f.rootA))
			assert.True(t, certs[1].Equal(f.rootB))
		})
	}
}

// p12KeytoolStore builds, with keytool, a PKCS#12 store holding two key
// entries created with mixed-case aliases and two trusted certificates.
// javaOpts are keytool -J options (keystore.pkcs12.* properties choose
// the algorithms).
func p12KeytoolStore(t testing.TB, dir string, pw []byte, javaOpts ...string) (path string, roots []*x509.Certificate) {
	t.Helper()
	path = filepath.Join(dir, "keytool.p12")
	pwFile := writeSecretFile(t, dir, pw)
	for _, k := range []struct{ alias, alg string }{{"TenantClient", "EC"}, {"Other Key", "RSA"}} {
		args := append([]string{"-genkeypair", "-keystore", path, "-storetype", "PKCS12", "-storepass:file", pwFile,
			"-alias", k.alias, "-dname", "CN=" + k.alias + ",O=keytool", "-validity", "365", "-keyalg", k.alg}, javaOpts...)
		if k.alg == "EC" {
			args = append(args, "-groupname", "secp256r1")
		} else {
			args = append(args, "-keysize", "2048")
		}
		runKeytool(t, args...)
	}
	for _, name := range []string{"Old Root", "Partner Root"} {
		root := testpki.NewRoot(t, name)
		pemPath := filepath.Join(dir, name+".pem")
		require.NoError(t, os.WriteFile(pemPath, testpki.PEM(root.Cert), 0o600))
		runKeytool(t, append([]string{"-importcert", "-noprompt", "-keystore", path, "-storetype", "PKCS12", "-storepass:file", pwFile,
			"-alias", name, "-file", pemPath}, javaOpts...)...)
		roots = append(roots, root.Cert)
	}
	return path, roots
}

// TestPKCS12ReadsKeytoolStores reads stores keytool wrote with its
// default (Modern), legacy and password-less settings: the same entries
// as keytool lists, keys that match what keytool signs with, and the
// profile recognised.
func TestPKCS12ReadsKeytoolStores(t *testing.T) {
	tests := []struct {
		name     string
		opts     []string
		profile  string
		certsEnc string
	}{
		{"default", nil, "Modern2024", "PBES2 AES-256-CBC"},
		{"legacy", []string{"-J-Dkeystore.pkcs12.legacy"}, "custom", "pbeWithSHAAnd40BitRC2-CBC"},
		{"password-less", []string{"-J-Dkeystore.pkcs12.certProtectionAlgorithm=NONE", "-J-Dkeystore.pkcs12.macAlgorithm=NONE"}, "Passwordless", "none"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			pw := []byte("changeit")
			path, roots := p12KeytoolStore(t, dir, pw, tt.opts...)
			s, err := Open(path, pw, nil)
			require.NoError(t, err)
			assert.Equal(t, keytoolList(t, path, "PKCS12", pw), listingOf(t, s))
			// keytool stores a new key entry's alias lower-cased and a
			// trusted certificate's as given; both are listed lower-cased.
			assert.Equal(t, []string{"tenantclient", "other key", "Old Root", "Partner Root"}, s.Aliases())
			prof, _ := s.Profile()
			assert.Equal(t, tt.profile, prof.presetName(), prof.String())
			assert.Equal(t, tt.certsEnc, prof.certs.Cipher.String())
			for i, alias := range []string{"Old Root", "Partner Root"} {
				certs, err := s.Certificates(alias)
				require.NoError(t, err)
				assert.True(t, certs[0].Equal(roots[i]))
			}
			pwFile := writeSecretFile(t, dir, pw)
			for _, alias := range []string{"tenantclient", "other key"} {
				e, err := s.Entry(alias)
				require.NoError(t, err)
				assert.Equal(t, keytoolCSRKey(t, path, "PKCS12", pwFile, pwFile, alias), KeyFingerprint(e.Key.Public()), alias)
			}
			// Created dates come from keytool's "Time <millis>" localKeyId.
			e, err := s.Entry("tenantclient")
			require.NoError(t, err)
			assert.WithinDuration(t, time.Now(), e.Created, 10*time.Minute)
		})
	}
}

// TestPKCS12KeytoolStoreReplace is the job on a store keytool made: the
// library replaces one alias; keytool then lists the same aliases, the
// new certificates under the replaced one and the others unchanged, and
// the untouched entries' bags are byte for byte what keytool wrote.
func TestPKCS12KeytoolStoreReplace(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pw := []byte("changeit")
	path, _ := p12KeytoolStore(t, dir, pw)
	before := keytoolList(t, path, "PKCS12", pw)
	beforeData := mustRead(t, path)

	newCA := testpki.NewRoot(t, "New Root").Intermediate(t, "New Issuing CA")
	leaf := newCA.Leaf(t, "tenantclient")
	require.NoError(t, Update(context.Background(), path, pw, func(s *Store) error {
		_, err := s.Replace("TenantClient", leaf.Key, leaf.Chain, nil)
		return err
	}, nil))

	after := keytoolList(t, path, "PKCS12", pw)
	require.Len(t, after, len(before))
	for i := range before {
		assert.Equal(t, before[i].Alias, after[i].Alias)
		assert.Equal(t, before[i].Type, after[i].Type, before[i].Alias)
		if before[i].Alias == "tenantclient" {
			assert.Equal(t, []string{CertFingerprint(leaf.Cert).String(), CertFingerprint(newCA.Cert).String()}, after[i].SHA256)
			continue
		}
		assert.Equal(t, before[i].SHA256, after[i].SHA256, before[i].Alias)
	}
	pwFile := writeSecretFile(t, dir, pw)
	assert.Equal(t, KeyFingerprint(leaf.Key.Public()), keytoolCSRKey(t, path, "PKCS12", pwFile, pwFile, "tenantclient"))

	beforeBags, afterBags := p12BagsByName(t, beforeData), p12BagsByName(t, mustRead(t, path))
	for name, raw := range beforeBags {
		if name == "tenantclient" {
			continue
		}
		assert.Equal(t, raw, afterBags[name], "the bags of %q changed", name)
	}
	s, err := Open(path, pw, nil)
	require.NoError(t, err)
	prof, _ := s.Profile()
	assert.Equal(t, "Modern2024", prof.presetName(), "the store keeps keytool's profile")
}

// TestPKCS12TwoPasswordStore: a key protected by a password other than
// the store's (made with Java's KeyStore API, as keytool did before JDK 9)
// opens with WithKeyPassword, and keeps its own password when another
// entry is replaced and the store saved.
func TestPKCS12TwoPasswordStore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pw, keyPW := []byte("changeit"), []byte("other key pass")
	path, _ := p12KeytoolStore(t, dir, pw)
	pwFile, keyPWFile := writeSecretFile(t, dir, pw), writeSecretFile(t, dir, keyPW)
	p12JavaTool(t, "setkeypass", path, pwFile, "other key", keyPWFile)

	s, err := Open(path, pw, nil)
	require.NoError(t, err)
	_, err = s.Entry("Other Key")
	require.ErrorIs(t, err, ErrIncorrectPassword)
	assert.Contains(t, err.Error(), `"other key"`)

	s, err = Open(path, pw, &StoreOptions{KeyPasswords: map[string][]byte{"Other Key": keyPW}})
	require.NoError(t, err)
	e, err := s.Entry("other key")
	require.NoError(t, err)
	want := p12JavaKeyCheck(t, path, "PKCS12", pwFile, "other key", keyPWFile)
	assert.Equal(t, want, KeyFingerprint(e.Key.Public()))

	leaf := testpki.NewRoot(t, "Another Root").Leaf(t, "tenantclient")
	_, err = s.Replace("tenantclient", leaf.Key, leaf.Chain, nil)
	require.NoError(t, err)
	require.NoError(t, s.Save(path, pw, nil))
	assert.Equal(t, want, p12JavaKeyCheck(t, path, "PKCS12", pwFile, "other key", keyPWFile), "the other key keeps its own password")
	assert.Equal(t, KeyFingerprint(leaf.Key.Public()), p12JavaKeyCheck(t, path, "PKCS12", pwFile, "tenantclient", pwFile))
}

// TestPKCS12ReadsOpenSSLStores reads what openssl pkcs12 -export writes
// with each of its encryption and MAC options.
func TestPKCS12ReadsOpenSSLStores(t *testing.T) {
	ca := testpki.NewRoot(t, "OpenSSL Root").Intermediate(t, "OpenSSL CA")
	leaf := ca.Leaf(t, "openssl-client", testpki.WithKeyType(testpki.KeyRSA2048))
	dir := t.TempDir()
	keyPath := p12WriteFile(t, dir, "key.pem", testpki.KeyPEM(t, leaf.Key))
	certPath := p12WriteFile(t, dir, "cert.pem", testpki.PEM(leaf.Cert))
	chainPath := p12WriteFile(t, dir, "chain.pem", testpki.PEM(ca.Cert, ca.Root().Cert))
	tests := []struct {
		name    string
		pw      string
		args    []string
		mac     string // the MAC the profile reads
		certEnc string
	}{
		{"default", "changeit", nil, "HMAC-SHA-256 (PKCS #12 KDF, 2048 iterations)", "PBES2 AES-256-CBC"},
		{"legacy", "changeit", []string{"-legacy"}, "HMAC-SHA-1 (PKCS #12 KDF, 2048 iterations)", "pbeWithSHAAnd40BitRC2-CBC"},
		{"2-key 3DES and 128-bit RC2", "changeit", []string{"-legacy", "-certpbe", "PBE-SHA1-2DES", "-keypbe", "PBE-SHA1-RC2-128"}, "HMAC-SHA-1", "pbeWithSHAAnd2-KeyTripleDES-CBC"},
		{"3DES certificates", "changeit", []string{"-descert"}, "HMAC-SHA-256", "pbeWithSHAAnd3-KeyTripleDES-CBC"},
		{"AES-128 and AES-192", "changeit", []string{"-keypbe", "AES-128-CBC", "-certpbe", "AES-192-CBC"}, "HMAC-SHA-256", "PBES2 AES-192-CBC"},
		{"DES-EDE3 PBES2", "changeit", []string{"-keypbe", "DES-EDE3-CBC", "-certpbe", "DES-EDE3-CBC"}, "HMAC-SHA-256", "PBES2 DES-EDE3-CBC"},
		{"SHA-512 MAC", "changeit", []string{"-macalg", "sha512"}, "HMAC-SHA-512", "PBES2 AES-256-CBC"},
		{"SHA-384 MAC", "changeit", []string{"-macalg", "sha384"}, "HMAC-SHA-384", "PBES2 AES-256-CBC"},
		{"SHA-224 MAC", "changeit", []string{"-macalg", "sha224"}, "HMAC-SHA-224", "PBES2 AES-256-CBC"},
		// OpenSSL leaves the certificates unencrypted without a MAC.
		{"no MAC", "changeit", []string{"-nomac"}, "none", "none"},
		{"nothing encrypted", "changeit", []string{"-keypbe", "NONE", "-certpbe", "NONE"}, "HMAC-SHA-256", "none"},
		{"empty password", "", nil, "HMAC-SHA-256", "PBES2 AES-256-CBC"},
		{"non-ASCII password", "pässwört 😀", nil, "HMAC-SHA-256", "PBES2 AES-256-CBC"},
		{"one iteration", "changeit", []string{"-iter", "1", "-maciter"}, "HMAC-SHA-256", "PBES2 AES-256-CBC"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "store.p12")
			pwFile := writeSecretFile(t, dir, []byte(tt.pw))
			passout := "file:" + pwFile
			if tt.pw == "" {
				passout = "pass:"
			}
			args := append([]string{"pkcs12", "-export", "-inkey", keyPath, "-in", certPath, "-certfile", chainPath,
				"-name", "Mixed Case Name", "-out", out, "-passout", passout}, tt.args...)
			p12MustExec(t, "openssl", args...)

			s, err := Open(out, []byte(tt.pw), &StoreOptions{Now: p12Clock})
			require.NoError(t, err)
			assert.Equal(t, []p12Want{p12Key("Mixed Case Name", "openssl-client", "OpenSSL CA", "OpenSSL Root")}, p12Entries(t, s))
			e, err := s.Entry("mixed case name")
			require.NoError(t, err)
			assert.Equal(t, KeyFingerprint(leaf.Key.Public()), KeyFingerprint(e.Key.Public()))
			prof, _ := s.Profile()
			assert.Contains(t, prof.mac.String(), tt.mac)
			assert.Equal(t, tt.certEnc, prof.certs.Cipher.String())

			// Rebuilt with another password, it reads back the same.
			data, err := s.Marshal([]byte("new"))
			require.NoError(t, err)
			back, err := Parse(data, []byte("new"), &StoreOptions{Now: p12Clock})
			require.NoError(t, err)
			assertSameEntries(t, s, back)
		})
	}
}

// TestJavaTLSClientUsesPKCS12 is the job end to end with PKCS#12: keytool
// makes the tenant's keystore; the library replaces the client key with
// one signed by a different CA and writes the Modern profile; a Java TLS
// client using the file completes an mTLS handshake with a server that
// trusts only the new CA, presenting the new certificate.
func TestJavaTLSClientUsesPKCS12(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pw := []byte("changeit")
	path, _ := p12KeytoolStore(t, dir, pw)
	newCA := testpki.NewRoot(t, "New Client Root").Intermediate(t, "New Client CA")
	leaf := newCA.Leaf(t, "tenant-client")
	s, err := Open(path, pw, nil)
	require.NoError(t, err)
	err = s.SetProfile(Modern)
	require.NoError(t, err)
	_, err = s.Replace("tenantclient", leaf.Key, leaf.Chain, nil)
	require.NoError(t, err)
	// The other key entry would be a second client identity: Java's key
	// manager picks by the server's accepted issuers, so it may stay.
	require.NoError(t, s.Save(path, pw, nil))
	javaTLSHandshake(t, path, "PKCS12", pw, []*x509.Certificate{newCA.Root().Cert}, leaf.Cert)
}

// TestPKCS12ReadersAgreeOnVectors: for the vectors keytool reads, keytool
// lists what the package reads.
func TestPKCS12ReadersAgreeOnVectors(t *testing.T) {
	for _, tt := range []struct{ file, password string }{
		{"keytool17/truststore-changeit.p12", "changeit"},
		{"keytool17/keypair-ec-changeit.p12", "changeit"},
		{"openssl/test-BER.p12", "12345"},
		{"name-unicode-pwd.p12", "password"},
		{"go-pkcs12/windows-certmgr-pbes2-aes256cbc.p12", "password"},
	} {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join("testdata", "pkcs12", filepath.FromSlash(tt.file))
			s, err := Open(path, []byte(tt.password), nil)
			require.NoError(t, err)
			abs, err := filepath.Abs(path)
			require.NoError(t, err)
			// keytoolList writes its password file beside the store.
			dir := t.TempDir()
			cp := p12WriteFile(t, dir, filepath.Base(abs), mustRead(t, abs))
			assert.Equal(t, keytoolList(t, cp, "PKCS12", []byte(tt.password)), listingOf(t, s))
		})
	}
}
