package keystore

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzParsePKCS12 feeds Parse hostile PKCS#12 input: it must never panic,
// and whatever it reads must write back byte for byte when untouched and
// read back with the same aliases and kept bags when rebuilt under
// another password.
func FuzzParsePKCS12(f *testing.F) {
	for _, pattern := range []string{"testdata/pkcs12/*.p12", "testdata/pkcs12/*/*.p12", "testdata/pkcs12/*/*.pfx"} {
		files, err := filepath.Glob(pattern)
		require.NoError(f, err)
		for _, name := range files {
			data, err := os.ReadFile(name)
			require.NoError(f, err)
			f.Add(data)
		}
	}
	fx := newP12Fixture(f)
	for _, prof := range []Profile{Modern, Legacy, Passwordless, PBMAC1} {
		data, err := fx.store(f, WithProfile(prof.WithIterations(1))).Marshal(nil)
		require.NoError(f, err)
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data, nil, WithClock(p12Clock))
		if err != nil {
			return
		}
		same, err := s.Marshal(nil)
		require.NoError(t, err)
		require.Equal(t, data, same)

		out, err := s.Marshal([]byte("x"))
		if err != nil {
			// Refusing is allowed (a key that does not decrypt cannot be
			// re-encrypted); panicking or writing garbage is not.
			return
		}
		back, err := Parse(out, []byte("x"), WithClock(p12Clock))
		require.NoError(t, err)
		require.Equal(t, s.Aliases(), back.Aliases())
		require.Equal(t, s.KeptBags(), back.KeptBags())
	})
}
