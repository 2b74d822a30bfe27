package keystore

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"

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
