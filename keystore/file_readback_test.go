package keystore

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReadBackAgreesWithParse checks that the read-back check of Update,
// which does not parse the output fully, finds the aliases a full parse
// finds, on the stores of other tools in testdata (named, unnamed and
// duplicate entries) as marshalled by this package.
func TestReadBackAgreesWithParse(t *testing.T) {
	var files []string
	for _, pat := range []string{"testdata/pkcs12/*.p12", "testdata/pkcs12/*/*.p12", "testdata/jks/*/*.jks", "testdata/jks/*/*.ks"} {
		m, err := filepath.Glob(pat)
		require.NoError(t, err)
		files = append(files, m...)
	}
	passwords := [][]byte{[]byte("cryptography"), storePassword, []byte("password"), nil, []byte("")}
	checked := 0
	for _, file := range files {
		data, err := os.ReadFile(file)
		require.NoError(t, err)
		for _, pw := range passwords {
			s, err := Parse(data, pw, nil)
			if err != nil {
				continue
			}
			out, err := s.Marshal(pw)
			if err != nil {
				break
			}
			back, err := Parse(out, pw, nil)
			require.NoError(t, err, file)
			got, err := readBackAliases(s.Format(), out, pw)
			require.NoError(t, err, file)
			assert.Equal(t, aliasSet(back.Aliases()), got, file)
			assert.NoError(t, s.check(out, pw), file)
			checked++
			break
		}
	}
	assert.Greater(t, checked, 20, "the vectors must be read")
}

// TestReadBackRefuses checks that output which would not read back is
// refused: a wrong digest or MAC, a missing alias, a different format.
func TestReadBackRefuses(t *testing.T) {
	for _, f := range []Format{JKS, PKCS12} {
		t.Run(f.String(), func(t *testing.T) {
			s, _, _ := testStore(t, f)
			out, err := s.Marshal(storePassword)
			require.NoError(t, err)
			require.NoError(t, s.check(out, storePassword))

			flipped := append([]byte(nil), out...)
			flipped[len(flipped)-1] ^= 1 // the JKS digest; the PKCS#12 MAC's salt or count
			err = s.check(flipped, storePassword)
			assert.ErrorContains(t, err, "keystore: the updated store does not read back")

			err = s.check(out, []byte("other password"))
			assert.ErrorIs(t, err, ErrIncorrectPassword)

			fewer, _, _ := testStore(t, f)
			require.NoError(t, fewer.Delete("other"))
			short, err := fewer.Marshal(storePassword)
			require.NoError(t, err)
			assert.EqualError(t, s.check(short, storePassword), "keystore: the updated store reads back with 2 entries, want 3")

			renamed, _, _ := testStore(t, f)
			require.NoError(t, renamed.Rename("other", "another"))
			wrong, err := renamed.Marshal(storePassword)
			require.NoError(t, err)
			assert.EqualError(t, s.check(wrong, storePassword), `keystore: the updated store reads back without alias "other"`)

			other := JKS
			if f == JKS {
				other = PKCS12
			}
			o, _, _ := testStore(t, other)
			odata, err := o.Marshal(storePassword)
			require.NoError(t, err)
			assert.ErrorContains(t, s.check(odata, storePassword), "does not read back")
		})
	}
}
