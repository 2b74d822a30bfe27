package keystore

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	kgo "github.com/pavlo-v-chernykh/keystore-go/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/internal/testpki"
	"github.com/certroll/certroll/keystore/internal/jksguard"
)

// jksRaw is one entry for jksBuild, which writes JKS files field by field
// (including ones no tool would write) for the tests.
type jksRaw struct {
	tag     uint32
	alias   string // written as is (the tests choose the bytes)
	created int64
	key     []byte   // tag 1
	certs   [][]byte // tag 1: the chain; tag 2: one certificate
	certTyp string   // version 2 certificate type; "" means "X.509"
}

// jksBuild writes a JKS file of the given version whose digest is computed
// as the JDK computes it: over the password's UTF-16 characters, so that
// passwords keystore-go cannot express can be tested too.
func jksBuild(version uint32, password string, entries ...jksRaw) []byte {
	var b []byte
	u32 := func(v uint32) { b = binary.BigEndian.AppendUint32(b, v) }
	u16 := func(v uint16) { b = binary.BigEndian.AppendUint16(b, v) }
	cert := func(typ string, der []byte) {
		if version == 2 {
			if typ == "" {
				typ = "X.509"
			}
			u16(uint16(len(typ)))
			b = append(b, typ...)
		}
		u32(uint32(len(der)))
		b = append(b, der...)
	}
	u32(jksguard.Magic)
	u32(version)
	u32(uint32(len(entries)))
	for _, e := range entries {
		u32(e.tag)
		u16(uint16(len(e.alias)))
		b = append(b, e.alias...)
		b = binary.BigEndian.AppendUint64(b, uint64(e.created))
		if e.tag == jksguard.TagPrivateKey {
			u32(uint32(len(e.key)))
			b = append(b, e.key...)
			u32(uint32(len(e.certs)))
			for _, c := range e.certs {
				cert(e.certTyp, c)
			}
		} else {
			cert(e.certTyp, e.certs[0])
		}
	}
	return append(b, jksDigest(password, b)...)
}

// jksDigest is the JDK's integrity digest of body under password.
func jksDigest(password string, body []byte) []byte {
	h := sha1.New()
	for _, u := range utf16.Encode([]rune(password)) {
		h.Write([]byte{byte(u >> 8), byte(u)})
	}
	h.Write([]byte("Mighty Aphrodite"))
	h.Write(body)
	return h.Sum(nil)
}

// jksEntryBytes returns each entry's bytes in a JKS file by alias (the
// last one for an alias that occurs twice, as Java keeps).
func jksEntryBytes(t testing.TB, data []byte) map[string][]byte {
	t.Helper()
	f, err := jksguard.Walk(data)
	require.NoError(t, err)
	m := make(map[string][]byte, len(f.Entries))
	for _, e := range f.Entries {
		m[jksguard.DecodeModifiedUTF8(e.Alias)] = data[e.Start:e.End]
	}
	return m
}

// assertSameEntries checks that two stores hold the same entries: aliases
// (as written), kinds, creation times, certificates byte for byte, and the
// same keys where they can be decrypted (and the same failure where not).
func assertSameEntries(t testing.TB, want, got *Store) {
	t.Helper()
	require.Equal(t, len(want.Aliases()), len(got.Aliases()), "entries: want %q, got %q", want.Aliases(), got.Aliases())
	for _, w := range want.recs {
		i := got.find(w.alias)
		require.GreaterOrEqual(t, i, 0, "alias %q missing", w.alias)
		g := got.recs[i]
		assert.Equal(t, w.alias, g.alias)
		assert.Equal(t, w.kind, g.kind, w.alias)
		// JKS keeps creation times in milliseconds.
		assert.Equal(t, w.created.UnixMilli(), g.created.UnixMilli(), "alias %q created %v, want %v", w.alias, g.created, w.created)
		assert.Equal(t, w.ders(), g.ders(), w.alias)
		if w.kind != KeyEntry {
			continue
		}
		wk, werr := want.key(w)
		gk, gerr := got.key(g)
		if werr != nil || gerr != nil {
			assert.Equal(t, werr, gerr, "alias %q: key errors differ", w.alias)
			continue
		}
		assert.Equal(t, KeyFingerprint(wk.Public()), KeyFingerprint(gk.Public()), w.alias)
	}
}

func jksVector(t testing.TB, name string) []byte {
	t.Helper()
	return mustRead(t, filepath.Join("testdata", "jks", filepath.FromSlash(name)))
}

func pemKeyFingerprint(t testing.TB, path string) Fingerprint {
	t.Helper()
	block, _ := pem.Decode(mustRead(t, path))
	require.NotNil(t, block)
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	require.NoError(t, err)
	return KeyFingerprint(k.(crypto.Signer).Public())
}

// TestJKSVectors reads every JKS vector of the conformance corpus and
// checks what its INDEX documents (entries as keytool lists them, or the
// error expected).
func TestJKSVectors(t *testing.T) {
	type want struct {
		alias string
		kind  EntryKind
		chain int
	}
	tests := []struct {
		name    string
		file    string
		pw      string
		opts    *StoreOptions
		entries []want
		wantErr error
		check   func(t *testing.T, s *Store)
	}{
		{name: "empty", file: "pyjks/jks/empty.jks", pw: "", entries: nil},
		{name: "RSA1024 with trailing data", file: "pyjks/jks/RSA1024.jks", pw: "12345678", entries: []want{{"mykey", KeyEntry, 1}},
			check: func(t *testing.T, s *Store) {
				e, err := s.Entry("mykey")
				require.NoError(t, err)
				assert.Equal(t, "RSA 1024", KeyDescription(e.Key.Public()))
				assert.Equal(t, "RSA1024", e.Chain[0].Subject.CommonName)
				assert.NoError(t, matchKey("mykey", e.Key, e.Chain[0]))
			}},
		{name: "RSA2048 with 3 certificates", file: "pyjks/jks/RSA2048_3certs.jks", pw: "12345678", entries: []want{{"mykey", KeyEntry, 3}},
			check: func(t *testing.T, s *Store) {
				e, err := s.Entry("mykey")
				require.NoError(t, err)
				assert.Equal(t, "RSA 2048", KeyDescription(e.Key.Public()))
				assert.NoError(t, matchKey("mykey", e.Key, e.Chain[0]))
			}},
		{name: "DSA key lists but does not decode", file: "pyjks/jks/DSA2048.jks", pw: "12345678", entries: []want{{"mykey", KeyEntry, 1}},
			check: func(t *testing.T, s *Store) {
				_, err := s.Entry("mykey")
				require.Error(t, err)
				assert.Contains(t, err.Error(), `"mykey"`)
				assert.Contains(t, err.Error(), "DSA")
				assert.NotErrorIs(t, err, ErrIncorrectPassword)
				assert.ErrorIs(t, err, ErrUnsupportedKey)
				certs, err := s.Certificates("mykey")
				require.NoError(t, err)
				assert.Equal(t, "DSA 2048", KeyDescription(certs[0].PublicKey))
			}},
		{name: "three trusted certificates", file: "pyjks/jks/3certs.jks", pw: "12345678",
			entries: []want{{"cert1", TrustedEntry, 1}, {"cert2", TrustedEntry, 1}, {"cert3", TrustedEntry, 1}}},
		{name: "custom entry passwords", file: "pyjks/jks/custom_entry_passwords.jks", pw: "store_password",
			opts:    &StoreOptions{KeyPasswords: map[string][]byte{"private": []byte("private_password")}},
			entries: []want{{"cert", TrustedEntry, 1}, {"private", KeyEntry, 1}},
			check: func(t *testing.T, s *Store) {
				e, err := s.Entry("private")
				require.NoError(t, err)
				assert.NoError(t, matchKey("private", e.Key, e.Chain[0]))
			}},
		{name: "custom entry passwords, key password not given", file: "pyjks/jks/custom_entry_passwords.jks", pw: "store_password",
			entries: []want{{"cert", TrustedEntry, 1}, {"private", KeyEntry, 1}},
			check: func(t *testing.T, s *Store) {
				_, err := s.Entry("private")
				require.ErrorIs(t, err, ErrIncorrectPassword)
				assert.Contains(t, err.Error(), `"private"`)
				_, err = allEntries(s)
				require.ErrorIs(t, err, ErrIncorrectPassword)
			}},
		{name: "custom entry passwords, wrong key password", file: "pyjks/jks/custom_entry_passwords.jks", pw: "store_password",
			opts:    &StoreOptions{KeyPasswords: map[string][]byte{"PRIVATE": []byte("store_password2")}},
			entries: []want{{"cert", TrustedEntry, 1}, {"private", KeyEntry, 1}},
			check: func(t *testing.T, s *Store) {
				_, err := s.Entry("private")
				require.ErrorIs(t, err, ErrIncorrectPassword)
				assert.Contains(t, err.Error(), `alias "private"`)
				assert.NotContains(t, err.Error(), "store_password2")
			}},
		{name: "duplicate aliases: the last wins", file: "pyjks/jks/duplicate_aliases.jks", pw: "12345678",
			entries: []want{{"my_alias", TrustedEntry, 1}},
			check: func(t *testing.T, s *Store) {
				certs, err := s.Certificates("my_alias")
				require.NoError(t, err)
				assert.Equal(t, []string{"2"}, certs[0].Subject.Organization)
			}},
		{name: "password above U+00FF, as keytool hashes it", file: "pyjks/jks/non_ascii_password.jks", pw: "ლ(ಠ益ಠლ)",
			entries: []want{{"mykey", KeyEntry, 1}},
			check: func(t *testing.T, s *Store) {
				e, err := s.Entry("mykey")
				require.NoError(t, err, "the key is protected with the same password")
				assert.IsType(t, &rsa.PrivateKey{}, e.Key)
			}},
		{name: "corda truststore", file: "pyjks/jks/truststore.jks", pw: "trustpass",
			entries: []want{{"cordaintermediateca", TrustedEntry, 1}, {"cordarootca", TrustedEntry, 1}},
			check: func(t *testing.T, s *Store) {
				// Their keys are on a curve crypto/x509 does not support:
				// the entries list, and parsing names the alias.
				_, err := s.Certificates("cordarootca")
				require.Error(t, err)
				assert.Contains(t, err.Error(), `"cordarootca"`)
			}},
		{name: "key entry with an empty chain: keytool's SecretKeyEntry", file: "keystore-go/keystore.jks", pw: "password", entries: []want{{"alias", SecretKeyEntry, 0}},
			check: func(t *testing.T, s *Store) {
				e, err := s.Entry("alias")
				require.NoError(t, err)
				assert.Empty(t, e.Chain)
				assert.Equal(t, SecretKeyEntry, e.Kind())
				assert.Equal(t, "SecretKeyEntry", s.Summaries()[0].Kind.String())
				assert.Equal(t, pemKeyFingerprint(t, "testdata/jks/keystore-go/key.pem"), KeyFingerprint(e.Key.Public()))
			}},
		{name: "key password differs", file: "keystore-go/keystore_keypass.jks", pw: "password",
			opts: &StoreOptions{KeyPasswords: map[string][]byte{"alias": []byte("keypassword")}}, entries: []want{{"alias", KeyEntry, 1}},
			check: func(t *testing.T, s *Store) {
				e, err := s.Entry("alias")
				require.NoError(t, err)
				assert.Equal(t, pemKeyFingerprint(t, "testdata/jks/keystore-go/key_keypass.pem"), KeyFingerprint(e.Key.Public()))
				assert.NoError(t, matchKey("alias", e.Key, e.Chain[0]))
			}},
		{name: "Debian cacerts", file: "cacerts/cacerts.jks", pw: "changeit",
			check: func(t *testing.T, s *Store) {
				require.Equal(t, 144, len(s.Aliases()))
				kind, err := s.Kind("debian:gts_root_r4.pem")
				require.NoError(t, err)
				assert.Equal(t, TrustedEntry, kind)
				entries, err := allEntries(s)
				require.NoError(t, err)
				for _, e := range entries {
					assert.Equal(t, TrustedEntry, e.Kind(), e.Alias)
					assert.True(t, e.Chain[0].IsCA, e.Alias)
				}
			}},
	}
	jceks, err := filepath.Glob("testdata/jks/pyjks/jceks/*.jceks")
	require.NoError(t, err)
	require.Len(t, jceks, 15)
	for _, f := range jceks {
		rel, _ := filepath.Rel("testdata/jks", f)
		tests = append(tests, struct {
			name    string
			file    string
			pw      string
			opts    *StoreOptions
			entries []want
			wantErr error
			check   func(t *testing.T, s *Store)
		}{name: "JCEKS " + filepath.Base(f), file: filepath.ToSlash(rel), pw: "12345678", wantErr: ErrUnsupportedFormat})
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(jksVector(t, tt.file), []byte(tt.pw), tt.opts)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				if tt.pw != "" {
					assert.NotContains(t, err.Error(), tt.pw)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, JKS, s.Format())
			if tt.entries != nil || tt.check == nil {
				var got []want
				for _, a := range s.Aliases() {
					kind, err := s.Kind(a)
					require.NoError(t, err)
					got = append(got, want{a, kind, len(s.recs[s.find(a)].ders())})
				}
				assert.ElementsMatch(t, tt.entries, got)
			}
			if tt.check != nil {
				tt.check(t, s)
			}
		})
	}
}

// TestJKSVectorsMatchKeytool compares what the library lists for each
// vector with what keytool -list -v prints.
func TestJKSVectorsMatchKeytool(t *testing.T) {
	tests := []struct{ file, pw string }{
		{"pyjks/jks/empty.jks", ""}, // keytool needs a password of 6 characters or more only when writing
		{"pyjks/jks/RSA1024.jks", "12345678"},
		{"pyjks/jks/RSA2048_3certs.jks", "12345678"},
		{"pyjks/jks/DSA2048.jks", "12345678"},
		{"pyjks/jks/3certs.jks", "12345678"},
		{"pyjks/jks/custom_entry_passwords.jks", "store_password"},
		{"pyjks/jks/duplicate_aliases.jks", "12345678"},
		{"pyjks/jks/truststore.jks", "trustpass"},
		{"keystore-go/keystore.jks", "password"},
		{"keystore-go/keystore_keypass.jks", "password"},
		{"cacerts/cacerts.jks", "changeit"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			s, err := Parse(jksVector(t, tt.file), []byte(tt.pw), nil)
			require.NoError(t, err)
			path := filepath.Join(t.TempDir(), "v.jks")
			require.NoError(t, os.WriteFile(path, jksVector(t, tt.file), 0o600))
			assert.Equal(t, keytoolList(t, path, "JKS", []byte(tt.pw)), listingOf(t, s))
		})
	}
}

// TestJKSRoundTrip reads each vector, writes it back without changes and
// reads it again: the same entries, every entry's bytes identical.
func TestJKSRoundTrip(t *testing.T) {
	tests := []struct {
		file, pw string
		opts     *StoreOptions
	}{
		{"pyjks/jks/empty.jks", "", nil},
		{"pyjks/jks/RSA1024.jks", "12345678", nil},
		{"pyjks/jks/RSA2048_3certs.jks", "12345678", nil},
		{"pyjks/jks/DSA2048.jks", "12345678", nil},
		{"pyjks/jks/3certs.jks", "12345678", nil},
		{"pyjks/jks/custom_entry_passwords.jks", "store_password", &StoreOptions{KeyPasswords: map[string][]byte{"private": []byte("private_password")}}},
		{"pyjks/jks/duplicate_aliases.jks", "12345678", nil},
		{"pyjks/jks/truststore.jks", "trustpass", nil},
		{"keystore-go/keystore.jks", "password", nil},
		{"keystore-go/keystore_keypass.jks", "password", &StoreOptions{KeyPasswords: map[string][]byte{"alias": []byte("keypassword")}}},
		{"cacerts/cacerts.jks", "changeit", nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data := jksVector(t, tt.file)
			s, err := Parse(data, []byte(tt.pw), tt.opts)
			require.NoError(t, err)
			out, err := s.Marshal([]byte(tt.pw))
			require.NoError(t, err)
			again, err := s.Marshal([]byte(tt.pw))
			require.NoError(t, err)
			assert.Equal(t, out, again, "marshalling twice gives different bytes")
			back, err := Parse(out, []byte(tt.pw), tt.opts)
			require.NoError(t, err)
			assertSameEntries(t, s, back)
			assert.Equal(t, jksEntryBytes(t, data), jksEntryBytes(t, out))
		})
	}
}

// TestJKSMixedCaseAliasInFile: a file written by another tool may hold a
// mixed-case alias. The store keeps it as written, finds it ignoring case
// and writes it back as it was. The JDK keeps such an alias as read but
// looks aliases up lower-cased, so keytool lists it and then cannot find
// it; renaming it to lower case makes it usable.
func TestJKSMixedCaseAliasInFile(t *testing.T) {
	t.Parallel()
	root := testpki.NewRoot(t, "Mixed Root")
	ks := kgo.New(kgo.WithCaseExactAliases())
	require.NoError(t, ks.SetTrustedCertificateEntry("MixedCase", kgo.TrustedCertificateEntry{
		CreationTime: testpki.Now, Certificate: kgo.Certificate{Type: "X.509", Content: root.Cert.Raw}}))
	var buf bytes.Buffer
	pw := []byte("changeit")
	require.NoError(t, ks.Store(&buf, pw))

	s, err := Parse(buf.Bytes(), pw, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"MixedCase"}, s.Aliases())
	assert.True(t, hasAlias(s, "mixedcase"))
	e, err := s.Entry("MIXEDCASE")
	require.NoError(t, err)
	assert.Equal(t, "MixedCase", e.Alias)
	assert.True(t, e.Created.Equal(testpki.Now))

	out, err := s.Marshal(pw)
	require.NoError(t, err)
	assert.Equal(t, jksEntryBytes(t, buf.Bytes()), jksEntryBytes(t, out))
	dir := t.TempDir()
	pwFile := writeSecretFile(t, dir, pw)
	path := filepath.Join(dir, "mixed.jks")
	require.NoError(t, os.WriteFile(path, out, 0o600))
	msg, err := runKeytoolErr(t, "-list", "-keystore", path, "-storetype", "JKS", "-storepass:file", pwFile)
	require.Error(t, err)
	assert.Contains(t, msg, "Alias <MixedCase> does not exist")

	require.NoError(t, s.Rename("MixedCase", "mixedcase"))
	require.NoError(t, s.Save(path, pw, nil))
	got := keytoolList(t, path, "JKS", pw)
	require.Len(t, got, 1)
	assert.Equal(t, "mixedcase", got[0].Alias)
	assert.Equal(t, []string{CertFingerprint(root.Cert).String()}, got[0].SHA256)
}

// TestJKSAliasEncoding: aliases are Java modified UTF-8 in the file (NUL
// as two bytes, characters above U+FFFF as surrogate pairs); keytool reads
// what the library writes.
func TestJKSAliasEncoding(t *testing.T) {
	root := testpki.NewRoot(t, "Alias Root")
	s := New(JKS, &StoreOptions{Now: func() time.Time { return testpki.Now }})
	alias := "grüße 😀"
	require.NoError(t, s.Set(&Entry{Alias: alias, Chain: []*x509.Certificate{root.Cert}}, nil))
	require.NoError(t, s.Set(&Entry{Alias: "nul\x00", Chain: []*x509.Certificate{root.Cert}}, nil))
	out, err := s.Marshal([]byte("changeit"))
	require.NoError(t, err)
	f, err := jksguard.Walk(out)
	require.NoError(t, err)
	var raw [][]byte
	for _, e := range f.Entries {
		raw = append(raw, e.Alias)
	}
	assert.ElementsMatch(t, [][]byte{
		[]byte("gr\xc3\xbc\xc3\x9fe \xed\xa0\xbd\xed\xb8\x80"), // U+1F600 as the surrogates D83D DE00
		[]byte("nul\xc0\x80"),
	}, raw)
	back, err := Parse(out, []byte("changeit"), nil)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{alias, "nul\x00"}, back.Aliases())

	path := filepath.Join(t.TempDir(), "alias.jks")
	require.NoError(t, os.WriteFile(path, out, 0o600))
	pw := writeSecretFile(t, filepath.Dir(path), []byte("changeit"))
	c := keytoolExport(t, path, "JKS", pw, alias)
	assert.True(t, c.Equal(root.Cert))
}

func TestJKSPasswordEncoding(t *testing.T) {
	root := testpki.NewRoot(t, "Password Root")
	tests := []struct {
		name    string
		pw      string
		wantErr string // "" means it works
	}{
		{"ascii", "changeit", ""},
		{"empty", "", ""},
		{"latin-1", "päss1234", ""},
		{"U+00FF", "\u00ffpass", ""},
		{"above U+00FF", "pass€word", ""},
		{"astral, a surrogate pair as in Java's char[]", "😀", ""},
		{"invalid UTF-8", "pass\xffword", "not valid UTF-8 (byte 5 of 9)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(JKS, nil)
			require.NoError(t, s.Set(&Entry{Alias: "root", Chain: []*x509.Certificate{root.Cert}}, nil))
			out, err := s.Marshal([]byte(tt.pw))
			// A file the JDK would write with the same password.
			javaFile := jksBuild(2, strings.ToValidUTF8(tt.pw, "\ufffd"), jksRaw{tag: 2, alias: "root", certs: [][]byte{root.Cert.Raw}})
			_, perr := Parse(javaFile, []byte(tt.pw), nil)
			if tt.wantErr == "" {
				require.NoError(t, err)
				back, err := Parse(out, []byte(tt.pw), nil)
				require.NoError(t, err)
				assert.Equal(t, []string{"root"}, back.Aliases())
				assert.NoError(t, perr, "a JDK-style file with this password does not open")
				return
			}
			for _, err := range []error{err, perr} {
				require.ErrorIs(t, err, ErrPasswordEncoding)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.NotContains(t, err.Error(), tt.pw)
			}
		})
	}
}

// TestJKSStructureErrors feeds files with one field wrong and checks the
// error names the field and its offset.
func TestJKSStructureErrors(t *testing.T) {
	root := testpki.NewRoot(t, "Structure Root")
	trusted := jksRaw{tag: 2, alias: "a", certs: [][]byte{root.Cert.Raw}}
	good := jksBuild(2, "changeit", trusted)
	set := func(b []byte, off int, v uint32) []byte {
		c := append([]byte(nil), b...)
		binary.BigEndian.PutUint32(c[off:], v)
		return c
	}
	tests := []struct {
		name      string
		data      []byte
		wantErr   error
		field     string
		offset    int64
		wantInMsg string
	}{
		{"bad version", set(good, 4, 3), ErrMalformed, "version", 4, "want 1 or 2, got 3"},
		{"too many entries", set(good, 8, 1000), ErrMalformed, "entry count", 8, "1000 entries"},
		{"unknown tag", set(good, 12, 7), ErrMalformed, "entry tag", 12, "got 7"},
		{"secret key entry", jksBuild(2, "changeit", jksRaw{tag: 3, alias: "aes", certs: [][]byte{{1}}}), ErrUnsupportedFormat, "", 0, `"aes"`},
		{"short file", good[:31], ErrMalformed, "file", 0, "got 31"},
		{"truncated", good[:len(good)-21], ErrMalformed, "certificate length", 34, "remain before the 20-byte digest"},
		{"certificate type", jksBuild(2, "changeit", jksRaw{tag: 2, alias: "a", certs: [][]byte{root.Cert.Raw}, certTyp: "PGP"}), ErrMalformed, "certificate type", 29, `want "X.509", got "PGP"`},
		{"alias not modified UTF-8", jksBuild(2, "changeit", jksRaw{tag: 2, alias: "a\xff", certs: [][]byte{root.Cert.Raw}}), ErrMalformed, "alias", 19, "0xFF"},
		{"key not protected", jksBuild(2, "changeit", jksRaw{tag: 1, alias: "k", key: []byte{0x30, 0}, certs: [][]byte{root.Cert.Raw}}), ErrMalformed, "key", 31, "EncryptedPrivateKeyInfo"},
		{"wrong password", good, ErrIncorrectPassword, "", 0, "tampered with, or password incorrect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pw := []byte("changeit")
			if errors.Is(tt.wantErr, ErrIncorrectPassword) {
				pw = []byte("changeme")
			}
			s, err := Parse(tt.data, pw, nil)
			if err == nil && tt.field == "key" {
				// The key is checked when it is used; the entry lists.
				assert.Equal(t, []string{"k"}, s.Aliases())
				_, err = s.Entry("k")
			}
			require.ErrorIs(t, err, tt.wantErr)
			assert.Contains(t, err.Error(), tt.wantInMsg)
			if tt.field != "" {
				var me *MalformedError
				require.ErrorAs(t, err, &me)
				assert.Equal(t, JKS, me.Format)
				assert.Equal(t, tt.field, me.Field)
				assert.Equal(t, tt.offset, me.Offset)
			}
		})
	}
}

// TestJKSEveryTruncationFails: no prefix of a valid file parses, and none
// panics.
func TestJKSEveryTruncationFails(t *testing.T) {
	data := jksVector(t, "pyjks/jks/3certs.jks")
	for n := 0; n < len(data); n++ {
		_, err := Parse(data[:n], []byte("12345678"), nil)
		require.ErrorIs(t, err, ErrMalformed, "prefix of %d bytes", n)
	}
}

// TestJKSHostileLengths: a file of a few dozen bytes whose length or count
// fields claim 4 GiB fails at once without allocating what they claim
// (keystore-go alone would allocate it).
func TestJKSHostileLengths(t *testing.T) {
	hdr := func(count uint32) []byte {
		b := binary.BigEndian.AppendUint32(nil, jksguard.Magic)
		b = binary.BigEndian.AppendUint32(b, 2)
		return binary.BigEndian.AppendUint32(b, count)
	}
	entry := func(b []byte, tag uint32) []byte {
		b = binary.BigEndian.AppendUint32(b, tag)
		b = append(b, 0, 1, 'a')
		return append(b, make([]byte, 8)...) // creation time
	}
	// Padding after the hostile field, so that the file is long enough for
	// one entry and the walk reaches the field.
	digest := make([]byte, 20+24)
	u32 := binary.BigEndian.AppendUint32
	tests := []struct {
		name  string
		data  []byte
		field string
	}{
		{"entry count", append(u32(hdr(0xFFFFFFFF), 1), digest...), "entry count"},
		{"certificate length", append(u32(append(entry(hdr(1), 2), 0, 0), 0xFFFFFFFF), digest...), "certificate length"},
		{"key length", append(u32(entry(hdr(1), 1), 0xFFFFFFFF), digest...), "key length"},
		{"chain count", append(u32(u32(entry(hdr(1), 1), 0), 0xFFFFFFFF), digest...), "certificate count"},
		{"alias length", append(append(u32(hdr(1), 1), 0xFF, 0xFF), digest...), "alias length"},
		{"certificate type length", append(append(entry(hdr(1), 2), 0xFF, 0xFF), digest...), "certificate type length"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Less(t, len(tt.data), 96)
			var err error
			allocated := jksAllocated(100, func() { _, err = Parse(tt.data, []byte("changeit"), nil) })
			require.ErrorIs(t, err, ErrMalformed)
			var me *MalformedError
			require.ErrorAs(t, err, &me)
			assert.Equal(t, tt.field, me.Field)
			assert.Less(t, allocated, uint64(64<<10), "allocated %d bytes to reject a %d-byte file", allocated, len(tt.data))

			// The same file cut to 40 bytes (keystore-go alone would
			// allocate 4 GiB for it) fails as fast, whichever check
			// catches it first.
			short := tt.data[:min(40, len(tt.data))]
			allocated = jksAllocated(100, func() { _, err = Parse(short, []byte("changeit"), nil) })
			require.ErrorIs(t, err, ErrMalformed)
			assert.Less(t, allocated, uint64(64<<10), "allocated %d bytes to reject a %d-byte file", allocated, len(short))
		})
	}
}

// TestJKSAllocationLinear: decoding n bytes allocates O(n).
func TestJKSAllocationLinear(t *testing.T) {
	data := jksVector(t, "cacerts/cacerts.jks")
	var err error
	allocated := jksAllocated(5, func() { _, err = Parse(data, []byte("changeit"), nil) })
	require.NoError(t, err)
	assert.Less(t, allocated, uint64(4*len(data)), "allocated %d bytes for a %d-byte file", allocated, len(data))
}

// jksAllocated returns the bytes allocated by one call of f, averaged over
// runs.
func jksAllocated(runs int, f func()) uint64 {
	f() // warm up
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 0; i < runs; i++ {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / uint64(runs)
}

// TestJKSVersion1 reads a version 1 file (no certificate types), which
// writes back as version 2.
func TestJKSVersion1(t *testing.T) {
	leaf := testpki.NewRoot(t, "V1 Root").Leaf(t, "v1")
	key := jksProtect(t, leaf.Key, "changeit")
	data := jksBuild(1, "changeit",
		jksRaw{tag: 1, alias: "client", created: testpki.Now.UnixMilli(), key: key, certs: [][]byte{leaf.Cert.Raw, leaf.Issuer.Cert.Raw}},
		jksRaw{tag: 2, alias: "root", created: testpki.Now.UnixMilli(), certs: [][]byte{leaf.Issuer.Cert.Raw}})
	s, err := Parse(data, []byte("changeit"), nil)
	require.NoError(t, err)
	e, err := s.Entry("client")
	require.NoError(t, err)
	assert.Equal(t, KeyFingerprint(leaf.Key.Public()), KeyFingerprint(e.Key.Public()))
	assert.True(t, e.Created.Equal(testpki.Now))
	out, err := s.Marshal([]byte("changeit"))
	require.NoError(t, err)
	f, err := jksguard.Walk(out)
	require.NoError(t, err)
	assert.Equal(t, uint32(2), f.Version)
	back, err := Parse(out, []byte("changeit"), nil)
	require.NoError(t, err)
	assertSameEntries(t, s, back)
}

// jksProtect encrypts key as the JDK's key protector does, through
// keystore-go, and returns the protected bytes.
func jksProtect(t testing.TB, key any, password string) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	ks := kgo.New()
	require.NoError(t, ks.SetPrivateKeyEntry("k", kgo.PrivateKeyEntry{PrivateKey: der}, []byte(password)))
	var buf bytes.Buffer
	require.NoError(t, ks.Store(&buf, []byte(password)))
	f, err := jksguard.Walk(buf.Bytes())
	require.NoError(t, err)
	return f.Entries[0].Key
}

// TestJKSReplaceKeepsOtherEntries: after Replace, Delete, Rename and Set,
// untouched entries are byte-identical, changed ones decode, and deleted
// ones are gone.
func TestJKSReplaceKeepsOtherEntries(t *testing.T) {
	data := jksVector(t, "cacerts/cacerts.jks")
	pw := []byte("changeit")
	s, err := Parse(data, pw, &StoreOptions{Now: func() time.Time { return testpki.Now }})
	require.NoError(t, err)
	root := testpki.NewRoot(t, "Tenant Root")
	leaf := root.Intermediate(t, "Tenant CA").Leaf(t, "tenant")

	require.NoError(t, s.Set(&Entry{Alias: "Tenant", Key: leaf.Key, Chain: leaf.Chain}, nil))
	out, err := s.Marshal(pw)
	require.NoError(t, err)
	s, err = Parse(out, pw, nil)
	require.NoError(t, err)
	require.Equal(t, 145, len(s.Aliases()))
	before := jksEntryBytes(t, out)

	leaf2 := testpki.NewRoot(t, "Other Root").Leaf(t, "tenant")
	_, err = s.Replace("TENANT", leaf2.Key, leaf2.Chain, nil)
	require.NoError(t, err)
	require.NoError(t, s.Delete("debian:gts_root_r4.pem"))
	require.NoError(t, s.Rename("debian:gts_root_r2.pem", "Renamed"))
	out2, err := s.Marshal(pw)
	require.NoError(t, err)
	after := jksEntryBytes(t, out2)
	require.Len(t, after, 144)
	for alias, b := range before {
		switch alias {
		case "tenant":
			assert.NotEqual(t, b, after[alias])
		case "debian:gts_root_r4.pem", "debian:gts_root_r2.pem":
			assert.NotContains(t, after, alias)
		default:
			assert.Equal(t, b, after[alias], alias)
		}
	}
	back, err := Parse(out2, pw, nil)
	require.NoError(t, err)
	assertSameEntries(t, s, back)
	e, err := back.Entry("tenant")
	require.NoError(t, err)
	assert.True(t, e.Chain[0].Equal(leaf2.Cert))
	renamed, err := back.Entry("renamed")
	require.NoError(t, err)
	assert.Equal(t, "GTS Root R2", renamed.Chain[0].Subject.CommonName)
}

// TestJKSKeyPasswordOnWrite: a changed key entry is encrypted with its own
// key password when one was given, else with the store password.
func TestJKSKeyPasswordOnWrite(t *testing.T) {
	ca := testpki.NewRoot(t, "KP Root")
	a, b := ca.Leaf(t, "a"), ca.Leaf(t, "b")
	s := New(JKS, &StoreOptions{KeyPasswords: map[string][]byte{"A": []byte("a-key")}})
	require.NoError(t, s.Set(&Entry{Alias: "a", Key: a.Key, Chain: a.Chain}, nil))
	require.NoError(t, s.Set(&Entry{Alias: "b", Key: b.Key, Chain: b.Chain}, nil))
	out, err := s.Marshal([]byte("store"))
	require.NoError(t, err)

	back, err := Parse(out, []byte("store"), nil)
	require.NoError(t, err)
	_, err = back.Entry("a")
	require.ErrorIs(t, err, ErrIncorrectPassword)
	_, err = back.Entry("b")
	require.NoError(t, err)

	back, err = Parse(out, []byte("store"), &StoreOptions{KeyPasswords: map[string][]byte{"a": []byte("a-key")}})
	require.NoError(t, err)
	e, err := back.Entry("a")
	require.NoError(t, err)
	assert.Equal(t, KeyFingerprint(a.Key.Public()), KeyFingerprint(e.Key.Public()))
}

// TestJKSDeterministic: with a fixed random source, the same store
// marshals to the same bytes.
func TestJKSDeterministic(t *testing.T) {
	ca := testpki.NewRoot(t, "Det Root")
	leaf := ca.Leaf(t, "det")
	build := func() []byte {
		s := New(JKS, &StoreOptions{Rand: bytes.NewReader(make([]byte, 1024)), Now: func() time.Time { return testpki.Now }})
		require.NoError(t, s.Set(&Entry{Alias: "z", Chain: []*x509.Certificate{ca.Cert}}, nil))
		require.NoError(t, s.Set(&Entry{Alias: "det", Key: leaf.Key, Chain: leaf.Chain}, nil))
		out, err := s.Marshal([]byte("changeit"))
		require.NoError(t, err)
		return out
	}
	assert.Equal(t, build(), build())
}

func TestJKSModifiedUTF8(t *testing.T) {
	tests := []struct {
		name string
		s    string
		enc  []byte
	}{
		{"ascii", "abc", []byte("abc")},
		{"nul", "a\x00b", []byte("a\xc0\x80b")},
		{"latin-1", "ä", []byte("\xc3\xa4")},
		{"bmp", "€", []byte("\xe2\x82\xac")},
		{"astral", "😀", []byte("\xed\xa0\xbd\xed\xb8\x80")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.enc, jksguard.AppendModifiedUTF8(nil, tt.s))
			_, err := jksguard.CheckModifiedUTF8(tt.enc)
			require.NoError(t, err)
			assert.Equal(t, tt.s, jksguard.DecodeModifiedUTF8(tt.enc))
		})
	}
}

// TestJKSDuplicateAliases: of several entries whose aliases are equal
// ignoring case, the last counts, whatever the kinds; the others are gone
// from what is written.
func TestJKSDuplicateAliases(t *testing.T) {
	a, b, c := testpki.NewRoot(t, "Dup A"), testpki.NewRoot(t, "Dup B"), testpki.NewRoot(t, "Dup C")
	leaf := a.Leaf(t, "dup")
	data := jksBuild(2, "changeit",
		jksRaw{tag: 1, alias: "dup", key: jksProtect(t, leaf.Key, "changeit"), certs: [][]byte{leaf.Cert.Raw}},
		jksRaw{tag: 2, alias: "DUP", certs: [][]byte{a.Cert.Raw}},
		jksRaw{tag: 2, alias: "other", certs: [][]byte{b.Cert.Raw}},
		jksRaw{tag: 2, alias: "Dup", certs: [][]byte{c.Cert.Raw}},
		jksRaw{tag: 2, alias: "DUP", certs: [][]byte{b.Cert.Raw}},
		jksRaw{tag: 2, alias: "dup", certs: [][]byte{c.Cert.Raw}},
	)
	s, err := Parse(data, []byte("changeit"), nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"other", "dup"}, s.Aliases())
	kind, err := s.Kind("DUP")
	require.NoError(t, err)
	assert.Equal(t, TrustedEntry, kind)
	certs, err := s.Certificates("Dup")
	require.NoError(t, err)
	assert.True(t, certs[0].Equal(c.Cert))

	out, err := s.Marshal([]byte("changeit"))
	require.NoError(t, err)
	got := jksEntryBytes(t, out)
	assert.Len(t, got, 2)
	assert.Equal(t, jksEntryBytes(t, data)["dup"], got["dup"])
	back, err := Parse(out, []byte("changeit"), nil)
	require.NoError(t, err)
	assertSameEntries(t, s, back)
}

func TestJKSKeyPasswordEncoding(t *testing.T) {
	leaf := testpki.NewRoot(t, "KPE Root").Leaf(t, "a")
	s := New(JKS, &StoreOptions{KeyPasswords: map[string][]byte{"a": []byte("€uro")}})
	require.NoError(t, s.Set(&Entry{Alias: "a", Key: leaf.Key, Chain: leaf.Chain}, nil))
	out, err := s.Marshal([]byte("changeit"))
	require.NoError(t, err, "a key password above U+00FF is hashed as the JDK hashes it")
	back, err := Parse(out, []byte("changeit"), &StoreOptions{KeyPasswords: map[string][]byte{"a": []byte("€uro")}})
	require.NoError(t, err)
	e, err := back.Entry("a")
	require.NoError(t, err)
	assert.True(t, leaf.Cert.Equal(e.Chain[0]))

	// Only invalid UTF-8 cannot be hashed; the message never shows it.
	s = New(JKS, &StoreOptions{KeyPasswords: map[string][]byte{"a": []byte("k\xffy")}})
	require.NoError(t, s.Set(&Entry{Alias: "a", Key: leaf.Key, Chain: leaf.Chain}, nil))
	_, err = s.Marshal([]byte("changeit"))
	require.ErrorIs(t, err, ErrPasswordEncoding)
	assert.Contains(t, err.Error(), `key password of alias "a" is not valid UTF-8`)
	assert.NotContains(t, err.Error(), "k\xffy")
}

// TestJKSPasswordAboveLatin1WithKeytool: keytool makes a JKS whose store
// and key password have characters above U+00FF (and above U+FFFF); the
// library opens it and uses the key, and keytool lists what the library
// writes back with such a password.
func TestJKSPasswordAboveLatin1WithKeytool(t *testing.T) {
	dir := t.TempDir()
	pw := []byte("pass€word😀")
	pwFile := writeSecretFile(t, dir, pw)
	path := filepath.Join(dir, "euro.jks")
	runKeytool(t, "-genkeypair", "-storetype", "JKS", "-keystore", path, "-storepass:file", pwFile, "-keypass:file", pwFile,
		"-alias", "client", "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=euro", "-validity", "30")

	s, err := Open(path, pw, nil)
	require.NoError(t, err)
	e, err := s.Entry("client")
	require.NoError(t, err, "the key entry opens with the same password")
	assert.Equal(t, "CN=euro", e.Chain[0].Subject.String())

	out := filepath.Join(dir, "back.jks")
	require.NoError(t, s.Save(out, pw, nil))
	listing := runKeytool(t, "-list", "-storetype", "JKS", "-keystore", out, "-storepass:file", pwFile)
	assert.Contains(t, listing, "client, ")
	assert.Contains(t, listing, "PrivateKeyEntry")
}

// TestJKSNewStorePassword: writing a store with another password keeps
// untouched keys under the password they were read with (as keytool
// -storepasswd does for JKS); keys set anew take the new one.
func TestJKSNewStorePassword(t *testing.T) {
	ca := testpki.NewRoot(t, "NSP Root")
	old, fresh := ca.Leaf(t, "old"), ca.Leaf(t, "fresh")
	data := jksBuild(2, "old-pass", jksRaw{tag: 1, alias: "old", key: jksProtect(t, old.Key, "old-pass"), certs: [][]byte{old.Cert.Raw}})
	s, err := Parse(data, []byte("old-pass"), nil)
	require.NoError(t, err)
	require.NoError(t, s.Set(&Entry{Alias: "fresh", Key: fresh.Key, Chain: fresh.Chain}, nil))
	out, err := s.Marshal([]byte("new-pass"))
	require.NoError(t, err)

	back, err := Parse(out, []byte("new-pass"), nil)
	require.NoError(t, err)
	_, err = back.Entry("fresh")
	require.NoError(t, err)
	_, err = back.Entry("old")
	require.ErrorIs(t, err, ErrIncorrectPassword)
	back, err = Parse(out, []byte("new-pass"), &StoreOptions{KeyPasswords: map[string][]byte{"old": []byte("old-pass")}})
	require.NoError(t, err)
	e, err := back.Entry("old")
	require.NoError(t, err)
	assert.Equal(t, KeyFingerprint(old.Key.Public()), KeyFingerprint(e.Key.Public()))
	assert.Equal(t, jksEntryBytes(t, data)["old"], jksEntryBytes(t, out)["old"])
}
