package pkcs12

import (
	"errors"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/internal/hostile"
)

// TestWorkRefusesHostileFiles checks that files whose key derivations
// would exceed the budget are refused with a *LimitError before any
// derivation: the hash-block counter does not move.
func TestWorkRefusesHostileFiles(t *testing.T) {
	tests := []struct {
		name, field string
		data        []byte
	}{
		{"PBMAC1 keyLength 512, 5,000,000 iterations", "hash blocks) for the MAC", hostile.PBMAC1LongKey()},
		{"two 3DES pieces and a MAC, counts summing to 10,000,000, empty password", "hash blocks) for the MAC and 2 encrypted SafeContents", hostile.ManyDerivations(1000)},
		{"8,000 encryptedData of one iteration", "number of key derivations for 8000 encrypted SafeContents", hostile.ManyTinyPieces(8000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := DerivedBlocks()
			_, err := Decode(tt.data, nil)
			var le *LimitError
			require.True(t, errors.As(err, &le), "want a *LimitError, got %v", err)
			assert.Contains(t, le.Field, tt.field)
			assert.Greater(t, le.Value, le.Max)
			assert.Equal(t, int64(0), DerivedBlocks()-before, "work done before refusing")
		})
	}
}

// TestWorkCounts checks that the budget charges at least the work the
// derivations do (so that the bound holds) and not much more (so that real
// files are not refused), and counts every derivation.
func TestWorkCounts(t *testing.T) {
	key, cert, _, _ := testBags(t)
	tests := []struct {
		name     string
		password []byte
		mac      MACParams
		enc      EncParams
		runs     int64
	}{
		{"HMAC-SHA-256, PBES2 AES-256", []byte("pw"), MACParams{Kind: HMAC, Hash: SHA256, Iterations: 2000, SaltLen: 8},
			EncParams{Cipher: PBES2AES256CBC, PRF: SHA256, Iterations: 2000, SaltLen: 16}, 2},
		{"PBMAC1 SHA-512, 3DES, empty password", []byte{}, MACParams{Kind: PBMAC1, Hash: SHA512, KDFPRF: SHA512, Iterations: 1000, SaltLen: 16, KeyLen: 64},
			EncParams{Cipher: PBEWithSHAAnd3KeyTripleDESCBC, Iterations: 1000, SaltLen: 8}, 1 + 2},
		{"HMAC-SHA-1 empty password, RC2-40", nil, MACParams{Kind: HMAC, Hash: SHA1, Iterations: 1000, SaltLen: 20},
			EncParams{Cipher: PBEWithSHAAnd40BitRC2CBC, Iterations: 1000, SaltLen: 8}, 1 + 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := Encode(&EncodeSpec{Password: tt.password, Rand: rand.New(rand.NewSource(1)), MAC: tt.mac,
				Contents: []ContentSpec{{Bags: [][]byte{key}}, {Bags: [][]byte{cert}, Enc: &tt.enc}}})
			require.NoError(t, err)
			before := DerivedBlocks()
			f, err := Decode(data, tt.password)
			require.NoError(t, err)
			done := DerivedBlocks() - before
			blocks, runs := f.Work.Spent()
			assert.Equal(t, tt.runs, runs)
			assert.GreaterOrEqual(t, blocks, done, "charged less than was done")
			assert.LessOrEqual(t, blocks, done+done/10+runs*64, "charged much more than was done")
			left, _ := f.Work.Left()
			assert.Equal(t, int64(MaxWork)-blocks, left)
		})
	}
}

// TestDecryptKeyWithin checks that a key derivation the budget cannot pay
// for is refused before it runs, and that a nil budget is unlimited.
func TestDecryptKeyWithin(t *testing.T) {
	key, _, _, _ := testBags(t)
	data, err := Encode(&EncodeSpec{Password: []byte("pw"), Rand: rand.New(rand.NewSource(1)), MAC: MACParams{Kind: NoMAC},
		Contents: []ContentSpec{{Bags: [][]byte{key}}}})
	require.NoError(t, err)
	f, err := Decode(data, []byte("pw"))
	require.NoError(t, err)
	bag := f.Bags[0]

	before := DerivedBlocks()
	_, err = bag.DecryptKeyWithin([]byte("pw"), NewWork(10, 10))
	var le *LimitError
	require.True(t, errors.As(err, &le), "want a *LimitError, got %v", err)
	assert.Contains(t, le.Field, "hash blocks) for a shrouded key")
	assert.Equal(t, int64(0), DerivedBlocks()-before)

	_, err = bag.DecryptKeyWithin([]byte("pw"), NewWork(10_000, 0))
	require.True(t, errors.As(err, &le), "want a *LimitError, got %v", err)
	assert.Contains(t, le.Field, "number of key derivations for a shrouded key")

	// An empty password has two forms: a budget for one is refused
	// before the first is tried.
	empty, err := NewShroudedKeyBag(unhex(t, "3010020100300306010004064142434445 46"), Attrs{},
		EncParams{Cipher: PBEWithSHAAnd3KeyTripleDESCBC, Iterations: 1000, SaltLen: 8}, []byte("other"), rand.New(rand.NewSource(1)))
	require.NoError(t, err)
	data, err = Encode(&EncodeSpec{Rand: rand.New(rand.NewSource(1)), Contents: []ContentSpec{{Bags: [][]byte{empty}}}})
	require.NoError(t, err)
	f, err = Decode(data, nil)
	require.NoError(t, err)
	alg, err := f.Bags[0].KeyAlg()
	require.NoError(t, err)
	one := alg.formCost(2)
	before = DerivedBlocks()
	_, err = f.Bags[0].DecryptKeyWithin(nil, NewWork(one.blocks+1, 10))
	require.True(t, errors.As(err, &le), "want a *LimitError, got %v", err)
	assert.Equal(t, int64(0), DerivedBlocks()-before)

	w := NewWork(MaxWork, MaxKDFRuns)
	_, err = bag.DecryptKeyWithin([]byte("pw"), w)
	require.NoError(t, err)
	b, r := w.Spent()
	assert.Equal(t, int64(1), r)
	assert.Positive(t, b)

	_, err = bag.DecryptKey([]byte("pw"))
	require.NoError(t, err)
}

// TestCosts pins the cost model on the cases of issue 8.
func TestCosts(t *testing.T) {
	// PBKDF2-HMAC-SHA-1 for 512 bytes: 26 blocks of two compressions per
	// iteration.
	c := pbkdf2Cost(SHA1, 0, 16, 5_000_000, 512)
	assert.GreaterOrEqual(t, c.blocks, int64(26*2*5_000_000))
	assert.Equal(t, int64(1), c.runs)
	// 3DES under the PKCS #12 KDF: a 24-byte key (two SHA-1 blocks) and an
	// 8-byte IV (one), for each of the two forms of an empty password.
	a := &Alg{EncParams: EncParams{Cipher: PBEWithSHAAnd3KeyTripleDESCBC, Iterations: 5_000_000}, Salt: make([]byte, 8)}
	c = a.cost(nil)
	assert.GreaterOrEqual(t, c.blocks, int64(2*3*5_000_000))
	assert.Equal(t, int64(4), c.runs)
	// The SHA-512 family counts three per compression.
	assert.GreaterOrEqual(t, pkcs12KDFCost(SHA512, 2, 8, 1000, 64).blocks, int64(3*1000))
}
