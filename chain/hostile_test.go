package chain

import (
	"crypto/x509"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/internal/hostile"
)

// TestCompleteSameNamePool checks Complete on a pool of 3,000 CAs that
// all bear the leaf's issuer name and none of which leads to a root (5.5 s
// before the search was bounded): it reports the missing issuer with a
// partial path, after at most maxCompleteSignatures signature checks and
// maxSearchSteps tries. The CA that signed the leaf is the last of the
// pool, beyond the signature budget: names decide, and pool order.
func TestCompleteSameNamePool(t *testing.T) {
	leaf, pool := hostile.SameNameLeaf(), hostile.SameNameCAs()
	s := newSearcher(pool)
	ext, ok := s.extend(leaf, 0)
	assert.False(t, ok)
	require.NotEmpty(t, ext)
	assert.Equal(t, pool[0], ext[0], "past the signature budget, pool order decides")
	assert.LessOrEqual(t, maxCompleteSignatures-s.sigLeft, maxCompleteSignatures)
	assert.LessOrEqual(t, len(s.sigs), maxCompleteSignatures)
	assert.LessOrEqual(t, s.steps, maxSearchSteps+1)

	_, _, err := Complete([]*x509.Certificate{leaf}, pool)
	var me *OrderError
	require.True(t, errors.As(err, &me) && me.err == ErrMissingIssuer, "want a *OrderError for a missing issuer, got %v", err)
	assert.Equal(t, "CN=Upper CA", me.Certificates[0].Issuer.String())
	assert.Equal(t, []*x509.Certificate{leaf, pool[0]}, me.Path)

	// Within the budget, the CA whose signature verifies wins.
	path, _, err := Complete([]*x509.Certificate{leaf}, pool[len(pool)-maxCompleteSignatures/2:])
	require.True(t, errors.As(err, &me) && me.err == ErrMissingIssuer, "want a *OrderError for a missing issuer, got %v (%s)", err, Path(path))
	assert.Equal(t, pool[len(pool)-1], me.Path[1])
}

// TestCompleteAKIDMismatch checks that Complete stops looking once it has
// examined maxExamined certificates, when every step's candidates fail the
// key identifier check: 1,000 steps over 2,000 certificates each would be
// 2 million.
func TestCompleteAKIDMismatch(t *testing.T) {
	leaf, pool := hostile.AKIDMismatch()
	s := newSearcher(pool)
	_, ok := s.extend(leaf, 0)
	assert.False(t, ok)
	assert.Greater(t, s.examined, maxExamined, "the bound was reached")
	assert.LessOrEqual(t, s.examined, maxExamined+maxDepth, "each level stops at its next look")

	_, _, err := Complete([]*x509.Certificate{leaf}, pool)
	var me *OrderError
	require.True(t, errors.As(err, &me) && me.err == ErrMissingIssuer, "want a *OrderError for a missing issuer, got %v", err)
	assert.Equal(t, "CN=X CA", me.Certificates[0].Issuer.String())
}
