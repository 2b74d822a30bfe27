package keystore

import (
	"bytes"
	"crypto/x509"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/internal/hostile"
	"github.com/certroll/certroll/keystore/internal/jksguard"
)

// jksErrClass names the sentinel an error wraps, so that failures can be
// compared between two files that differ in layout (offsets differ).
func jksErrClass(err error) string {
	for _, s := range []error{ErrIncorrectPassword, ErrMalformed, ErrUnsupportedFormat, ErrPasswordEncoding, ErrLimit} {
		if errors.Is(err, s) {
			return s.Error()
		}
	}
	if err == nil {
		return "ok"
	}
	return "other"
}

// FuzzParseJKS checks that no input makes the JKS decoder panic, that
// every failure wraps a sentinel, and that whatever parses marshals and
// parses back to the same entries. Inputs whose structure is sound are
// also tried with their digest recomputed for the password, so that the
// fuzzer explores past the integrity check.
//
// Its seeds are light, a few hundred bytes at most: the fuzzer minimizes
// every new interesting input, in time quadratic in its length, and with
// the kilobyte vector files as seeds a 10-second run spent almost all its
// time minimizing (27 executions a second). FuzzParseJKSVectors fuzzes
// from the vector files.
func FuzzParseJKS(f *testing.F) {
	f.Add(jksVector(f, "pyjks/jks/empty.jks"), "")
	f.Add(jksBuild(1, "pw", jksRaw{tag: 2, alias: "v1", certs: [][]byte{{0x30, 0}}}), "pw")
	f.Add(jksBuild(2, "pw", jksRaw{tag: 1, alias: "k\xc0\x80", key: []byte{0x30, 0x03, 0x04, 0x01, 0x00}, certs: [][]byte{{1}, {2}}}), "pw")
	f.Add(jksBuild(2, "pw", jksRaw{tag: 3, alias: "secret", certs: [][]byte{{1}}}), "pw")
	f.Add([]byte("\xfe\xed\xfe\xed\x00\x00\x00\x02\xff\xff\xff\xff"), "")
	// Small files and truncated headers, among them minimal entries from
	// the hostile corpus.
	light := hostile.MinimalJKS(3)
	f.Add(light, "changeit")
	f.Add(hostile.MinimalJKS(1), "changeit")
	f.Add(jksBuild(2, "pw"), "pw")
	f.Add(jksBuild(2, "", jksRaw{tag: 2, alias: "a", certs: [][]byte{{0x30, 0}}}), "")
	for _, n := range []int{0, 4, 8, 12, 14, len(light) - 20, len(light) - 1} {
		f.Add(light[:n], "changeit")
	}
	// A real key entry and a trusted entry, as small as they come: an
	// Ed25519 key and a certificate without extensions.
	key, cert := hostile.SmallKeyPair()
	ks := New(JKS, &StoreOptions{Now: p12Clock})
	require.NoError(f, ks.Set(&Entry{Alias: "k", Key: key, Chain: []*x509.Certificate{cert}}, nil))
	require.NoError(f, ks.Set(&Entry{Alias: "t", Chain: []*x509.Certificate{cert}}, nil))
	small, err := ks.Marshal([]byte("pw"))
	require.NoError(f, err)
	f.Add(small, "pw")
	f.Add(small[:len(small)/2], "pw")

	f.Fuzz(jksFuzzTarget)
}

// FuzzParseJKSVectors is FuzzParseJKS seeded with the vector files written
// by keytool and other libraries (RSA, DSA, several certificates, entry
// passwords of their own).
func FuzzParseJKSVectors(f *testing.F) {
	for _, v := range []struct{ file, pw string }{
		{"pyjks/jks/empty.jks", ""},
		{"pyjks/jks/RSA1024.jks", "12345678"},
		{"pyjks/jks/DSA2048.jks", "12345678"},
		{"pyjks/jks/3certs.jks", "12345678"},
		{"pyjks/jks/custom_entry_passwords.jks", "store_password"},
		{"pyjks/jks/duplicate_aliases.jks", "12345678"},
		{"keystore-go/keystore.jks", "password"},
		{"keystore-go/keystore_keypass.jks", "password"},
	} {
		f.Add(jksVector(f, v.file), v.pw)
	}
	f.Fuzz(jksFuzzTarget)
}

// jksFuzzTarget runs jksFuzzOne on data and, when its structure is sound,
// on data with the digest recomputed for password.
func jksFuzzTarget(t *testing.T, data []byte, password string) {
	jksFuzzOne(t, data, []byte(password))
	fl, err := jksguard.Walk(data)
	if err != nil {
		return
	}
	body := data[:fl.DigestOffset:fl.DigestOffset]
	jksFuzzOne(t, append(body, jksDigest(password, body)...), []byte(password))
}

func jksFuzzOne(t *testing.T, data, password []byte) {
	if f, err := Sniff(data); err != nil || f != JKS {
		return // other formats have their own fuzz targets
	}
	s, err := Parse(data, password, nil)
	if err != nil {
		require.NotEqual(t, "other", jksErrClass(err), "error wraps no sentinel: %v", err)
		if len(password) >= 8 && strings.Contains(err.Error(), string(password)) {
			// The password may be a word the message has anyway
			// ("password"), or bytes of the input it quotes: then the
			// message for another password has it too.
			_, other := Parse(data, []byte("\x01-not-it-\x02"), nil)
			require.Error(t, other)
			assert.Contains(t, other.Error(), string(password), "the error shows the password: %v", err)
		}
		return
	}
	// Everything decoded lazily must fail cleanly too.
	for _, a := range s.Aliases() {
		_, _ = s.Certificates(a)
		_, _ = s.Entry(a)
	}
	out, err := s.Marshal(password)
	require.NoError(t, err)
	back, err := Parse(out, password, nil)
	require.NoError(t, err)
	require.Equal(t, len(s.Aliases()), len(back.Aliases()))
	for _, w := range s.recs {
		g := back.recs[back.find(w.alias)]
		assert.Equal(t, w.alias, g.alias)
		assert.Equal(t, w.kind, g.kind)
		assert.Equal(t, w.created.UnixMilli(), g.created.UnixMilli())
		assert.Equal(t, w.chainDER, g.chainDER)
		if w.kind == KeyEntry {
			wk, werr := s.key(w)
			gk, gerr := back.key(g)
			require.Equal(t, jksErrClass(werr), jksErrClass(gerr), "alias %q: %v / %v", w.alias, werr, gerr)
			if werr == nil {
				assert.Equal(t, KeyFingerprint(wk.Public()), KeyFingerprint(gk.Public()))
			}
		}
	}
	// Untouched entries of a version 2 file are written back byte for
	// byte (version 1 entries gain certificate types).
	if f, _ := jksguard.Walk(data); f.Version == 2 {
		before, after := jksEntryBytes(t, data), jksEntryBytes(t, out)
		for _, r := range s.recs {
			assert.True(t, bytes.Equal(before[r.alias], after[r.alias]), "entry %q changed", r.alias)
		}
	}
}
