package keystore

import (
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/internal/testpki"
	p12 "github.com/certroll/certroll/keystore/internal/pkcs12"
)

// Keystores as other tools wrote them (issue 8).

// TestKeyPasswordFallsBack: keytool made a JKS store whose "tenantclient"
// key is under the store password and whose "other" key has its own
// (-keypass). One key password given for every alias, as Spring's
// key-password is, opens both: the store password is tried after it.
// Without a key password, the store password is tried and then the
// default key password. Errors say which passwords were tried, never a
// password, and hint at WithKeyPassword only where none was given.
func TestKeyPasswordFallsBack(t *testing.T) {
	t.Parallel()
	k := newKeytoolStore(t)
	data, err := os.ReadFile(k.path)
	require.NoError(t, err)
	open := func(opts *StoreOptions) *Store {
		s, err := Parse(data, k.storePass, opts)
		require.NoError(t, err)
		return s
	}

	t.Run("one key password for every alias", func(t *testing.T) {
		s := open(&StoreOptions{KeyPasswords: map[string][]byte{"TenantClient": k.otherKeyPass, "other": k.otherKeyPass}})
		for _, alias := range []string{"tenantclient", "other"} {
			e, err := s.Entry(alias)
			require.NoError(t, err, alias)
			assert.NoError(t, matchKey(alias, e.Key, e.Chain[0]), alias)
		}
	})
	t.Run("default key password after the store password", func(t *testing.T) {
		s := open(&StoreOptions{DefaultKeyPassword: k.otherKeyPass})
		entries, err := allEntries(s)
		require.NoError(t, err)
		assert.Len(t, entries, 3)
	})
	t.Run("wrong key password: both tried, no hint", func(t *testing.T) {
		s := open(&StoreOptions{KeyPasswords: map[string][]byte{"other": []byte("not-the-key-pass")}})
		_, err := s.Entry("other")
		require.ErrorIs(t, err, ErrIncorrectPassword)
		assert.Contains(t, err.Error(), `with the key password given for alias "other" and the store password`)
		assert.NotContains(t, err.Error(), "KeyPasswords")
		assert.NotContains(t, err.Error(), "not-the-key-pass")
		assert.NotContains(t, err.Error(), string(k.storePass))
	})
	t.Run("no key password: the store password, and the hint", func(t *testing.T) {
		s := open(nil)
		_, err := s.Entry("other")
		require.ErrorIs(t, err, ErrIncorrectPassword)
		assert.Contains(t, err.Error(), `cannot recover the key of alias "other" with the store password (no key password was given for the alias`)
		assert.Contains(t, err.Error(), "KeyPasswords")
		_, err = s.Entry("tenantclient")
		require.NoError(t, err)
	})
	t.Run("wrong default key password", func(t *testing.T) {
		s := open(&StoreOptions{DefaultKeyPassword: []byte("wrong-default")})
		_, err := s.Entry("other")
		require.ErrorIs(t, err, ErrIncorrectPassword)
		assert.Contains(t, err.Error(), "with the store password and the default key password")
		assert.NotContains(t, err.Error(), "KeyPasswords")
		assert.NotContains(t, err.Error(), "wrong-default")
	})
	t.Run("PKCS#12", func(t *testing.T) {
		f := newP12Fixture(t)
		// "other" under its own key password, "tenantclient" under the
		// store password.
		out, err := f.store(t, &StoreOptions{KeyPasswords: map[string][]byte{"other": []byte("key-pass-1")}}).Marshal([]byte("store-pass-1"))
		require.NoError(t, err)
		s, err := Parse(out, []byte("store-pass-1"),
			&StoreOptions{KeyPasswords: map[string][]byte{"tenantclient": []byte("key-pass-1"), "other": []byte("key-pass-1")}})
		require.NoError(t, err)
		_, err = allEntries(s)
		require.NoError(t, err)
		s, err = Parse(out, []byte("store-pass-1"), &StoreOptions{KeyPasswords: map[string][]byte{"other": []byte("key-pass-2")}})
		require.NoError(t, err)
		_, err = s.Entry("other")
		require.ErrorIs(t, err, ErrIncorrectPassword)
		assert.Contains(t, err.Error(), `the key password given for alias "other" and the store password`)
		assert.NotContains(t, err.Error(), "key-pass-")
	})
}

// jksSecretKeyFile is a JKS file with a key entry that has no
// certificates, which keytool lists as SecretKeyEntry, and a trusted
// certificate. keytool itself cannot write such an entry (KeyStore.setKeyEntry
// wants a chain for a private key, and JKS refuses other keys), but the
// JDK's JavaKeyStore writes one through setKeyEntry(alias, protectedKey,
// null), and keystore-go's own test store (testdata/jks/keystore-go/keystore.jks)
// is one: the file is built here from the documented format, as those
// writers write it.
func jksSecretKeyFile(t testing.TB) ([]byte, *testpki.Leaf) {
	t.Helper()
	leaf := testpki.NewRoot(t, "Secret Root").Leaf(t, "secret-holder")
	return jksBuild(2, "changeit",
		jksRaw{tag: 1, alias: "wrapped", created: testpki.Now.UnixMilli(), key: jksProtect(t, leaf.Key, "changeit")},
		jksRaw{tag: 2, alias: "root", created: testpki.Now.UnixMilli(), certs: [][]byte{leaf.Issuer.Cert.Raw}}), leaf
}

// TestJKSSecretKeyEntry: a key entry without certificates lists as
// keytool lists it (SecretKeyEntry), is written back byte for byte, and
// Set, Replace and InstallReply refuse to turn it into a private-key
// entry unless told to.
func TestJKSSecretKeyEntry(t *testing.T) {
	data, leaf := jksSecretKeyFile(t)
	pw := []byte("changeit")
	parse := func(t *testing.T) *Store {
		s, err := Parse(data, pw, &StoreOptions{Now: func() time.Time { return testpki.Now }})
		require.NoError(t, err)
		return s
	}

	s := parse(t)
	kind, err := s.Kind("wrapped")
	require.NoError(t, err)
	assert.Equal(t, SecretKeyEntry, kind)
	assert.Equal(t, "SecretKeyEntry", kind.String())
	assert.Equal(t, "SecretKeyEntry", s.Summaries()[0].Kind.String())
	e, err := s.Entry("wrapped")
	require.NoError(t, err)
	assert.Equal(t, SecretKeyEntry, e.Kind())
	assert.Empty(t, e.Chain)

	// keytool lists it so.
	path := t.TempDir() + "/secret.jks"
	require.NoError(t, os.WriteFile(path, data, 0o600))
	assert.Equal(t, listingOf(t, s), keytoolList(t, path, "JKS", pw))

	other := testpki.NewRoot(t, "Other Root")
	t.Run("kept byte for byte", func(t *testing.T) {
		s := parse(t)
		require.NoError(t, s.Set(&Entry{Alias: "other", Chain: []*x509.Certificate{other.Cert}}, nil))
		require.NoError(t, s.Rename("root", "renamed-root"))
		out, err := s.Marshal(pw)
		require.NoError(t, err)
		assert.Equal(t, jksEntryBytes(t, data)["wrapped"], jksEntryBytes(t, out)["wrapped"])
		back, err := Parse(out, pw, nil)
		require.NoError(t, err)
		kind, err := back.Kind("wrapped")
		require.NoError(t, err)
		assert.Equal(t, SecretKeyEntry, kind)
	})

	reply := testpki.NewRoot(t, "Reply Root").Leaf(t, "secret-holder", testpki.WithKey(leaf.Key))
	refusals := []struct {
		name string
		op   func(s *Store, overwrite bool) error
	}{
		{"Set", func(s *Store, overwrite bool) error {
			return s.Set(&Entry{Alias: "WRAPPED", Chain: []*x509.Certificate{other.Cert}}, &SetOptions{OverwriteAnyKind: overwrite})
		}},
		{"Replace", func(s *Store, overwrite bool) error {
			_, err := s.Replace("wrapped", leaf.Key, leaf.Chain, &ReplaceOptions{OverwriteAnyKind: overwrite})
			return err
		}},
		{"InstallReply", func(s *Store, overwrite bool) error {
			_, err := s.InstallReply("wrapped", reply.Chain, &ReplyOptions{AllowUntrusted: true, OverwriteAnyKind: overwrite})
			return err
		}},
	}
	for _, tt := range refusals {
		t.Run(tt.name+" refuses", func(t *testing.T) {
			s := parse(t)
			err := tt.op(s, false)
			require.ErrorIs(t, err, ErrNotKeyEntry)
			var ke *kindError
			require.ErrorAs(t, err, &ke)
			assert.Equal(t, kindError{op: tt.name, alias: "wrapped", kind: SecretKeyEntry, want: ke.want}, *ke)
			assert.Contains(t, err.Error(), `alias "wrapped" holds a SecretKeyEntry`)
			assert.Contains(t, err.Error(), "OverwriteAnyKind")
			out, err := s.Marshal(pw)
			require.NoError(t, err)
			assert.Equal(t, data, out, "a refused operation changes nothing")
		})
		t.Run(tt.name+" overwrites when told to", func(t *testing.T) {
			s := parse(t)
			require.NoError(t, tt.op(s, true))
			kind, err := s.Kind("wrapped")
			require.NoError(t, err)
			assert.NotEqual(t, SecretKeyEntry, kind)
		})
	}
}

// TestUnparsableCertificate: the Corda truststore (pyjks) holds two
// certificates on secp256k1, which Go cannot parse. They list with the
// SHA-256 of their raw bytes, subject and curve; the error names the
// curve's OID; a save keeps them byte for byte; Set replaces one, and
// InstallReply with WithNewKey renews a key entry whose certificate is
// such a one, while Replace points to it.
func TestUnparsableCertificate(t *testing.T) {
	data := jksVector(t, "pyjks/jks/truststore.jks")
	pw := []byte("trustpass")
	s, err := Parse(data, pw, nil)
	require.NoError(t, err)
	raw := s.recs[s.find("cordarootca")].ders()[0]

	_, err = s.Certificates("cordarootca")
	require.ErrorIs(t, err, ErrUnsupportedCertificate)
	var ce *entryCertificateError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "1.3.132.0.10", ce.curve)
	assert.Equal(t, "1.2.840.10045.2.1", ce.algorithm)
	assert.Equal(t, CertFingerprint(&x509.Certificate{Raw: raw}), ce.sha256)
	assert.Contains(t, ce.subject, "CN=Corda Node Root CA")
	assert.Contains(t, err.Error(), "secp256k1 (OID 1.3.132.0.10)")
	assert.Contains(t, err.Error(), "kept unchanged when the store is saved")

	var sum Summary
	for _, x := range s.Summaries() {
		if x.Alias == "cordarootca" {
			sum = x
		}
	}
	assert.Equal(t, CertFingerprint(&x509.Certificate{Raw: raw}), sum.Fingerprint)
	assert.Contains(t, sum.Subject, "CN=Corda Node Root CA")
	assert.Equal(t, "EC on curve secp256k1 (OID 1.3.132.0.10)", sum.Key)
	assert.NotEmpty(t, sum.Problem)

	// A save keeps both entries byte for byte.
	root := testpki.NewRoot(t, "New Root")
	require.NoError(t, s.Set(&Entry{Alias: "new-root", Chain: []*x509.Certificate{root.Cert}}, nil))
	out, err := s.Marshal(pw)
	require.NoError(t, err)
	before, after := jksEntryBytes(t, data), jksEntryBytes(t, out)
	assert.Equal(t, before["cordarootca"], after["cordarootca"])
	assert.Equal(t, before["cordaintermediateca"], after["cordaintermediateca"])

	// Set replaces it.
	require.NoError(t, s.Set(&Entry{Alias: "cordarootca", Chain: []*x509.Certificate{root.Cert}}, nil))
	certs, err := s.Certificates("cordarootca")
	require.NoError(t, err)
	assert.True(t, certs[0].Equal(root.Cert))

	// A key entry whose certificate is the secp256k1 one.
	old := testpki.NewRoot(t, "Old Key Holder").Leaf(t, "holder")
	key := jksBuild(2, "changeit", jksRaw{tag: 1, alias: "client", created: testpki.Now.UnixMilli(),
		key: jksProtect(t, old.Key, "changeit"), certs: [][]byte{raw}})
	ks, err := Parse(key, []byte("changeit"), nil)
	require.NoError(t, err)
	next := root.Leaf(t, "client")
	_, err = ks.Replace("client", next.Key, next.Chain, nil)
	require.ErrorIs(t, err, ErrUnsupportedCertificate)
	assert.Contains(t, err.Error(), "InstallReply with ReplyOptions.NewKey, or Set, replaces the entry without reading it")
	res, err := ks.InstallReply("client", next.Chain, &ReplyOptions{NewKey: next.Key, Anchors: []*x509.Certificate{root.Cert}})
	require.NoError(t, err)
	assert.Nil(t, res.Previous)
	e, err := ks.Entry("client")
	require.NoError(t, err)
	assert.True(t, e.Chain[0].Equal(next.Cert))
}

// TestDSAReplacePointsToInstallReply: Replace cannot read a DSA entry's
// key (Go has no DSA private keys) and says which call can replace it;
// that call works.
func TestDSAReplacePointsToInstallReply(t *testing.T) {
	s, err := Parse(jksVector(t, "pyjks/jks/DSA2048.jks"), []byte("12345678"), nil)
	require.NoError(t, err)
	root := testpki.NewRoot(t, "DSA Successor Root")
	next := root.Leaf(t, "mykey")
	_, err = s.Replace("mykey", next.Key, next.Chain, nil)
	require.ErrorIs(t, err, ErrUnsupportedKey)
	assert.Contains(t, err.Error(), "InstallReply with ReplyOptions.NewKey, or Set, replaces the entry without reading it")
	assert.Contains(t, err.Error(), "DSA")

	_, err = s.InstallReply("mykey", next.Chain, &ReplyOptions{Anchors: []*x509.Certificate{root.Cert}})
	require.ErrorIs(t, err, ErrUnsupportedKey)
	assert.Contains(t, err.Error(), "NewKey")

	res, err := s.InstallReply("mykey", next.Chain, &ReplyOptions{NewKey: next.Key, Anchors: []*x509.Certificate{root.Cert}})
	require.NoError(t, err)
	assert.Equal(t, "DSA 2048", KeyDescription(res.Previous[0].PublicKey))
	out, err := s.Marshal([]byte("12345678"))
	require.NoError(t, err)
	back, err := Parse(out, []byte("12345678"), nil)
	require.NoError(t, err)
	e, err := back.Entry("mykey")
	require.NoError(t, err)
	assert.Equal(t, KeyFingerprint(next.Key.Public()), KeyFingerprint(e.Key.Public()))
}

// corruptRSA returns key as PKCS #8 with its first prime moved on by
// two, so that p·q ≠ n: bytes that decrypt and parse as DER but that no
// consistency check accepts.
func corruptRSA(t testing.TB, key *rsa.PrivateKey) []byte {
	t.Helper()
	pkcs1, err := asn1.Marshal(struct {
		Version               int
		N                     *big.Int
		E                     int
		D, P, Q, Dp, Dq, Qinv *big.Int
	}{0, key.N, key.E, key.D, new(big.Int).Add(key.Primes[0], big.NewInt(2)), key.Primes[1],
		key.Precomputed.Dp, key.Precomputed.Dq, key.Precomputed.Qinv})
	require.NoError(t, err)
	pkcs8, err := asn1.Marshal(struct {
		Version int
		Algo    pkix.AlgorithmIdentifier
		Key     []byte
	}{0, pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}, Parameters: asn1.NullRawValue}, pkcs1})
	require.NoError(t, err)
	return pkcs8
}

// TestCorruptKey: an RSA key whose primes do not multiply to its modulus,
// behind a valid JKS digest and key check value, or a valid PKCS#12 MAC,
// is ErrCorruptKey, not ErrUnsupportedKey nor a password error.
func TestCorruptKey(t *testing.T) {
	leaf := testpki.NewRoot(t, "Corrupt Root").Leaf(t, "corrupt", testpki.WithKeyType(testpki.KeyRSA2048))
	pkcs8 := corruptRSA(t, leaf.Key.(*rsa.PrivateKey))
	pw := []byte("changeit")

	kpw, err := jksPassword(pw, "test")
	require.NoError(t, err)
	blob, err := jksProtectKey(pkcs8, kpw, p12Rand(7))
	require.NoError(t, err)
	jks := jksBuild(2, "changeit", jksRaw{tag: 1, alias: "corrupt", created: testpki.Now.UnixMilli(), key: blob, certs: [][]byte{leaf.Cert.Raw}})

	bag, err := p12.NewShroudedKeyBag(pkcs8, p12.Attrs{FriendlyName: "corrupt", HasFriendlyName: true, LocalKeyID: []byte("Time 1")},
		Modern.keys, pw, p12Rand(8))
	require.NoError(t, err)
	pfx, err := p12.Encode(&p12.EncodeSpec{Password: pw, Rand: p12Rand(9), MAC: Modern.mac, Contents: []p12.ContentSpec{
		{Bags: [][]byte{bag}},
		{Bags: [][]byte{p12.NewCertBag(leaf.Cert.Raw, p12.Attrs{LocalKeyID: []byte("Time 1")})}},
	}})
	require.NoError(t, err)

	for name, data := range map[string][]byte{"JKS": jks, "PKCS#12": pfx} {
		t.Run(name, func(t *testing.T) {
			s, err := Parse(data, pw, nil)
			require.NoError(t, err, "the integrity check passes")
			_, err = s.Entry("corrupt")
			require.ErrorIs(t, err, ErrCorruptKey)
			assert.NotErrorIs(t, err, ErrUnsupportedKey)
			assert.NotErrorIs(t, err, ErrIncorrectPassword)
			assert.Contains(t, err.Error(), `alias "corrupt"`)
			assert.Contains(t, err.Error(), "RSA")
			// The entry is kept as it was.
			out, err := s.Marshal(pw)
			require.NoError(t, err)
			back, err := Parse(out, pw, nil)
			require.NoError(t, err)
			_, err = back.Entry("corrupt")
			require.ErrorIs(t, err, ErrCorruptKey)
		})
	}
}

// TestReplacedKeyKeepsItsPassword: a store opened with one key password
// for every alias (Spring's key-password) finds the "tenantclient" key
// under the store password by falling back. The key that Replace, Set or
// InstallReply puts in its place is sealed with the password the old one
// had, not with the one given: keytool recovers the new key with the store
// password, as Tomcat would, and the "other" key still has its own.
func TestReplacedKeyKeepsItsPassword(t *testing.T) {
	t.Parallel()
	root := testpki.NewRoot(t, "New Root")
	for _, op := range []string{"Replace", "Set", "InstallReply"} {
		t.Run(op, func(t *testing.T) {
			k := newKeytoolStore(t)
			s, err := Open(k.path, k.storePass, &StoreOptions{KeyPasswords: map[string][]byte{"TenantClient": k.otherKeyPass, "other": k.otherKeyPass}})
			require.NoError(t, err)
			leaf := root.Leaf(t, "tenant-client")
			switch op {
			case "Replace":
				_, err = s.Replace("tenantclient", leaf.Key, leaf.Chain, nil)
			case "Set":
				err = s.Set(&Entry{Alias: "tenantclient", Key: leaf.Key, Chain: leaf.Chain}, nil)
			case "InstallReply":
				_, err = s.InstallReply("tenantclient", leaf.Chain, &ReplyOptions{NewKey: leaf.Key, Anchors: []*x509.Certificate{root.Cert}})
			}
			require.NoError(t, err)
			out := filepath.Join(k.dir, "out.jks")
			require.NoError(t, s.Save(out, k.storePass, nil))

			back, err := Open(out, k.storePass, nil)
			require.NoError(t, err)
			e, err := back.Entry("tenantclient")
			require.NoError(t, err, "the new key is under the store password, as the old one was")
			assert.True(t, leaf.Cert.Equal(e.Chain[0]))
			_, err = back.Entry("other")
			require.ErrorIs(t, err, ErrIncorrectPassword, "the other key still has its own password")

			runKeytool(t, "-importkeystore", "-noprompt", "-srckeystore", out, "-srcstoretype", "JKS", "-srcstorepass:file", k.storePassFile,
				"-srcalias", "tenantclient", "-srckeypass:file", k.storePassFile,
				"-destkeystore", filepath.Join(k.dir, "dest.jks"), "-deststoretype", "JKS", "-deststorepass:file", k.storePassFile)
		})
	}
}

// TestReplacedDSAKeyKeepsItsPassword: the key Go cannot use (DSA) is the
// one the docs send to InstallReply with a new key. Its password is known
// once it decrypts, even though Go then refuses the key, so the new key
// goes under the same password: the store password here, although one key
// password was given for every alias.
func TestReplacedDSAKeyKeepsItsPassword(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	storePass := []byte("storepw1")
	pwFile := writeSecretFile(t, dir, storePass)
	path := filepath.Join(dir, "dsa.jks")
	keytoolGenKey(t, path, "JKS", pwFile, pwFile, "legacy", "DSA")
	s, err := Open(path, storePass, &StoreOptions{KeyPasswords: map[string][]byte{"legacy": []byte("given-99")}})
	require.NoError(t, err)
	_, err = s.Entry("legacy")
	require.ErrorIs(t, err, ErrUnsupportedKey)

	root := testpki.NewRoot(t, "New Root")
	leaf := root.Leaf(t, "legacy")
	_, err = s.InstallReply("legacy", leaf.Chain, &ReplyOptions{NewKey: leaf.Key, Anchors: []*x509.Certificate{root.Cert}})
	require.NoError(t, err)
	out := filepath.Join(dir, "out.jks")
	require.NoError(t, s.Save(out, storePass, nil))
	runKeytool(t, "-importkeystore", "-noprompt", "-srckeystore", out, "-srcstoretype", "JKS", "-srcstorepass:file", pwFile,
		"-srcalias", "legacy", "-srckeypass:file", pwFile,
		"-destkeystore", filepath.Join(dir, "dest.jks"), "-deststoretype", "JKS", "-deststorepass:file", pwFile)
}

// TestDefaultKeyPasswordKeptOnResave: a PKCS#12 key found under the
// default key password stays under it when the store is saved with
// another store password, whether or not its entry was read first.
func TestDefaultKeyPasswordKeptOnResave(t *testing.T) {
	t.Parallel()
	leaf := testpki.NewRoot(t, "Default Root").Leaf(t, "k")
	own := []byte("key-pw-12")
	s := New(PKCS12, &StoreOptions{KeyPasswords: map[string][]byte{"k": own}})
	require.NoError(t, s.Set(&Entry{Alias: "k", Key: leaf.Key, Chain: leaf.Chain}, nil))
	data, err := s.Marshal([]byte("store-pw"))
	require.NoError(t, err)
	for _, readFirst := range []bool{false, true} {
		back, err := Parse(data, []byte("store-pw"), &StoreOptions{DefaultKeyPassword: own})
		require.NoError(t, err)
		if readFirst {
			_, err = back.Entry("k")
			require.NoError(t, err)
		}
		back.SetProfile(Legacy) // forces the key to be encrypted anew
		again, err := back.Marshal([]byte("new-store-pw"))
		require.NoError(t, err)
		check, err := Parse(again, []byte("new-store-pw"), &StoreOptions{KeyPasswords: map[string][]byte{"k": own}})
		require.NoError(t, err)
		e, err := check.Entry("k")
		require.NoError(t, err, "read first: %v", readFirst)
		assert.True(t, leaf.Cert.Equal(e.Chain[0]))
		noOwn, err := Parse(again, []byte("new-store-pw"), nil)
		require.NoError(t, err)
		_, err = noOwn.Entry("k")
		assert.ErrorIs(t, err, ErrIncorrectPassword, "not under the new store password (read first: %v)", readFirst)
	}
}
