package truststore

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/internal/hostile"
)

// TestFreeAfterRemove checks that the remembered suffix does not skip an
// alias freed by a removal: after removing "x-2" of x, x-2, x-3, a new
// certificate wanting x gets x-2 again.
func TestFreeAfterRemove(t *testing.T) {
	data := bytes.ReplaceAll(hostile.Copies(3), []byte("-----BEGIN"), []byte("# alias: x\n-----BEGIN"))
	s, err := Parse(data, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"x", "x-2", "x-3"}, s.Aliases())
	assert.Equal(t, "x-4", s.free("x"))
	s.remove(map[*entry]bool{s.byAlias["x-2"]: true})
	assert.Equal(t, "X-2", s.free("X"))
	alias, why := s.allocate("x")
	assert.Equal(t, "x-2", alias)
	assert.Contains(t, why, `alias "x" is taken by`)
}
