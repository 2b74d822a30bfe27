package keystore

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/internal/hostile"
)

// FuzzParsePKCS12 feeds Parse hostile PKCS#12 input: it must never panic,
// and whatever it reads must write back byte for byte when untouched and
// read back with the same aliases and kept bags when rebuilt under
// another password.
//
// Its seeds are light (the fuzzer minimizes each new interesting input in
// time quadratic in its length; kilobyte seeds left a 10-second run at a
// dozen executions a second); FuzzParsePKCS12Vectors fuzzes from the
// vector files and RSA fixtures.
func FuzzParsePKCS12(f *testing.F) {
	// The hostile corpus's small files, and truncated headers.
	for _, data := range [][]byte{
		hostile.PBMAC1LongKey(),
		hostile.ManyDerivations(2),
		hostile.ManyTinyPieces(3),
		hostile.UnpairedKeys(2, 1),
		{0x30, 0x03, 0x02, 0x01, 0x03},
		{0x30, 0x80},
		{0x30, 0x84, 0xff, 0xff, 0xff, 0xff},
	} {
		f.Add(data)
	}
	small := hostile.UnpairedKeys(1, 1)
	for _, n := range []int{2, 6, 20, len(small) / 2, len(small) - 1} {
		f.Add(small[:n])
	}
	// A store of an Ed25519 key and its certificate, in each profile at
	// one iteration.
	key, cert := hostile.SmallKeyPair()
	for _, prof := range []Profile{Modern, Legacy, Passwordless, PBMAC1} {
		ks := withProfile(New(PKCS12, &StoreOptions{Now: p12Clock}), prof.WithIterations(1))
		require.NoError(f, ks.Set(&Entry{Alias: "k", Key: key, Chain: []*x509.Certificate{cert}}, nil))
		require.NoError(f, ks.Set(&Entry{Alias: "t", Chain: []*x509.Certificate{cert}}, nil))
		data, err := ks.Marshal(nil)
		require.NoError(f, err)
		f.Add(data)
	}
	f.Fuzz(p12FuzzTarget)
}

// FuzzParsePKCS12Vectors is FuzzParsePKCS12 seeded with the vector files
// of other tools and stores of the RSA fixture in each profile.
func FuzzParsePKCS12Vectors(f *testing.F) {
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
		data, err := fx.profiled(f, prof.WithIterations(1), nil).Marshal(nil)
		require.NoError(f, err)
		f.Add(data)
	}
	f.Fuzz(p12FuzzTarget)
}

// p12FuzzTarget is the body of the PKCS#12 fuzzers.
func p12FuzzTarget(t *testing.T, data []byte) {
	s, err := Parse(data, nil, &StoreOptions{Now: p12Clock})
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
	back, err := Parse(out, []byte("x"), &StoreOptions{Now: p12Clock})
	require.NoError(t, err)
	require.Equal(t, s.Aliases(), back.Aliases())
	require.Equal(t, s.keptBags(), back.keptBags())
}
