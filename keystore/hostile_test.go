package keystore

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/internal/hostile"
	p12 "github.com/certroll/certroll/keystore/internal/pkcs12"
)

// TestHostilePKCS12Work checks, by counting the hash blocks key derivation
// computes rather than by timing, that no PKCS#12 input of the hostile
// corpus makes Parse derive more than the budget allows, and that the
// inputs meant to be refused are refused with ErrLimit before any
// derivation.
func TestHostilePKCS12Work(t *testing.T) {
	for _, in := range hostile.Corpus(hostile.PKCS12) {
		t.Run(in.Name, func(t *testing.T) {
			before := p12.DerivedBlocks()
			_, err := Parse(in.Data, in.Password, nil)
			done := p12.DerivedBlocks() - before
			assert.LessOrEqual(t, done, int64(p12.MaxWork))
			if in.Limit {
				assert.True(t, errors.Is(err, ErrLimit), "want ErrLimit, got %v", err)
				assert.Contains(t, err.Error(), "PKCS#12")
				assert.Equal(t, int64(0), done, "derived before refusing")
			}
		})
	}
}

// TestHostilePKCS12KeyWork reads small files whose keys ask for more
// derivation work than any tool writes: a key asked for later (Entry,
// Entries) is refused with ErrLimit before its derivation runs, instead of
// costing seconds each, and what is derived stays within maxKeyWork a key.
func TestHostilePKCS12KeyWork(t *testing.T) {
	data := hostile.UnpairedKeys(8, 4_999_999)
	s, err := Parse(data, nil, nil)
	if err != nil {
		require.ErrorIs(t, err, ErrLimit, "refused while reading is fine too")
		return
	}
	require.Len(t, s.Aliases(), 8)
	for _, alias := range s.Aliases() {
		before := p12.DerivedBlocks()
		_, err = s.Entry(alias)
		assert.ErrorIs(t, err, ErrLimit, alias)
		assert.LessOrEqual(t, p12.DerivedBlocks()-before, int64(maxKeyWork), alias)
	}
	_, err = allEntries(s)
	assert.ErrorIs(t, err, ErrLimit)
}
