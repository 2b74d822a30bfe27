package keystore

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	p12 "github.com/certroll/certroll/keystore/internal/pkcs12"
)

// p12PieceOf reports whether b is a piece of buf.
func p12PieceOf(b, buf []byte) bool {
	if len(b) == 0 {
		return false
	}
	for i := range buf {
		if &buf[i] == &b[0] {
			return i+len(b) <= len(buf)
		}
	}
	return false
}

// TestPKCS12InPlaceUntouchedIsTheFile: the certificates of a store read
// with Parse or Open are decrypted in the store's own buffer (the bags
// read from the encrypted SafeContents are pieces of it, not of a copy),
// the caller's bytes given to Parse are not changed, and an untouched
// store is still written as the file read, byte for byte, every time,
// after its entries were read too, for every profile.
func TestPKCS12InPlaceUntouchedIsTheFile(t *testing.T) {
	pw := []byte("changeit")
	for _, prof := range p12BenchProfiles {
		t.Run(prof.presetName(), func(t *testing.T) {
			data, err := p12BenchStore(t, prof.WithIterations(1), 30).Marshal(pw)
			require.NoError(t, err)
			given := bytes.Clone(data)

			s, err := Parse(given, pw, nil)
			require.NoError(t, err)
			assert.Equal(t, data, given, "Parse does not change the caller's bytes")
			c := s.codec.(*pkcs12Codec)
			encrypted := prof.certs.Cipher != p12.NoCipher
			assert.Equal(t, encrypted, c.sealed != nil, "decrypted in place when encrypted")
			if encrypted {
				assert.NotEqual(t, data, c.original, "the store's copy holds the certificates decrypted")
			}
			n := 0
			for _, b := range c.lazy.bags {
				if b.Cert() != nil {
					assert.True(t, p12PieceOf(b.Raw, c.original), "a certificate bag is a piece of the store's buffer")
					n++
				}
			}
			assert.Equal(t, 31, n, "30 leaves and their CA")

			for range 2 {
				out, err := s.Marshal(pw)
				require.NoError(t, err)
				assert.Equal(t, data, out, "an untouched store is the file read")
			}
			e, err := s.Entry("client-7")
			require.NoError(t, err)
			assert.Len(t, e.Chain, 2, "the leaf and its CA")
			out, err := s.Marshal(pw)
			require.NoError(t, err)
			assert.Equal(t, data, out, "reading an entry changes nothing")

			path := p12WriteFile(t, t.TempDir(), "in.p12", data)
			o, err := Open(path, pw, nil)
			require.NoError(t, err)
			_, err = o.Entry("client-29")
			require.NoError(t, err)
			require.NoError(t, o.Save(path, pw, nil))
			assert.Equal(t, data, mustRead(t, path), "saved untouched: the file as it was")

			if prof.mac.Kind != p12.NoMAC {
				_, err = Open(path, []byte("wrong"), nil)
				assert.ErrorIs(t, err, ErrIncorrectPassword)
				_, err = Parse(given, []byte("wrong"), nil)
				assert.ErrorIs(t, err, ErrIncorrectPassword)
				assert.Equal(t, data, given)
			}
		})
	}
}

// TestPKCS12InPlaceChangedReadsBack: a store whose certificates were
// decrypted in place, with one entry replaced and one removed, is written
// with its other bags as read (plaintext, re-encrypted by the encoder),
// and reads back with every entry's chain; keytool lists it.
func TestPKCS12InPlaceChangedReadsBack(t *testing.T) {
	pw := []byte("changeit")
	data, err := p12BenchStore(t, Modern.WithIterations(1), 40).Marshal(pw)
	require.NoError(t, err)
	dir := t.TempDir()
	path := p12WriteFile(t, dir, "in.p12", data)
	s, err := Open(path, pw, nil)
	require.NoError(t, err)
	repl := p12BenchEntries(t, 1)[0]
	repl.Alias = "client-3"
	require.NoError(t, s.Set(repl, nil))
	require.NoError(t, s.Delete("client-5"))
	require.NoError(t, s.Save(path, pw, nil))

	back, err := Open(path, pw, nil)
	require.NoError(t, err)
	assert.Len(t, back.Aliases(), 39)
	for _, a := range back.Aliases() {
		e, err := back.Entry(a)
		require.NoError(t, err, a)
		assert.Len(t, e.Chain, 2, a)
	}
	out := p12MustExec(t, "keytool", "-list", "-keystore", path, "-storetype", "PKCS12", "-storepass", "changeit")
	assert.Contains(t, out, "Your keystore contains 39 entries")
}
