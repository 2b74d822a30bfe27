package hostile

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCorpusIsDeterministic checks that each input is the same on every
// build, so that figures measured on it compare across runs.
func TestCorpusIsDeterministic(t *testing.T) {
	for _, f := range []struct {
		name string
		gen  func() []byte
	}{
		{"PBMAC1LongKey", PBMAC1LongKey},
		{"ManyDerivations", func() []byte { return ManyDerivations(10) }},
		{"ManyTinyPieces", func() []byte { return ManyTinyPieces(10) }},
		{"ManyDerivationsAt", func() []byte { return ManyDerivationsAt(2, 1) }},
		{"UnpairedKeys", func() []byte { return UnpairedKeys(10, 7) }},
		{"OneAlias", func() []byte { return OneAlias(3) }},
		{"MinimalJKS", func() []byte { return MinimalJKS(3) }},
	} {
		t.Run(f.name, func(t *testing.T) {
			assert.Equal(t, f.gen(), f.gen())
		})
	}
}

// TestCorpusShapes checks that the inputs are what their names say.
func TestCorpusShapes(t *testing.T) {
	assert.Less(t, len(PBMAC1LongKey()), 600)
	assert.InDelta(t, 145_000, len(ManyDerivations(1000)), 20_000)
	assert.Equal(t, 320_000*31+12+20, len(MinimalJKS(320_000)))

	var certs []*x509.Certificate
	rest := OneAlias(3)
	for {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		require.NoError(t, err)
		certs = append(certs, c)
	}
	require.Len(t, certs, 3)
	assert.NotEqual(t, certs[0].Raw, certs[1].Raw)
	assert.Equal(t, 3, bytes.Count(OneAlias(3), []byte("# alias: x\n")))

	cas := SameNameCAs()
	require.Len(t, cas, SameNameCount)
	leaf := SameNameLeaf()
	assert.Equal(t, cas[0].RawSubject, leaf.RawIssuer)
	assert.Empty(t, leaf.AuthorityKeyId)
	assert.NoError(t, leaf.CheckSignatureFrom(cas[SameNameCount-1]))
	assert.Error(t, leaf.CheckSignatureFrom(cas[0]))

	assert.Equal(t, 331, len(pemOf(smallCert())))
	for _, in := range Corpus() {
		assert.LessOrEqual(t, in.Size(), 10<<20, in.Name)
		assert.Positive(t, in.Size(), in.Name)
	}
}
