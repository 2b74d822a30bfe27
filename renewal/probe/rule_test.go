package probe

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"

	"github.com/certroll/certroll/internal/testpki"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestChosen checks the SunX509 rule on its own: no names, or an issuer of a
// certificate of the chain among them.
func TestChosen(t *testing.T) {
	t.Parallel()
	root := testpki.NewRoot(t, "New Root")
	inter := root.Intermediate(t, "New Issuing CA")
	leaf := inter.Leaf(t, "tenant-client")
	other := testpki.NewRoot(t, "Old Root")
	der := func(n pkix.Name) []byte {
		b, err := asn1.Marshal(n.ToRDNSequence())
		require.NoError(t, err)
		return b
	}
	// The root's name as another encoder might write it: UTF8String
	// instead of PrintableString, and another case.
	shouted := der(pkix.Name{CommonName: "NEW ROOT", Organization: []string{"CERTROLL TEST"}})
	tests := []struct {
		name  string
		names [][]byte
		want  bool
	}{
		{"no names: Java offers every entry", nil, true},
		{"the root", [][]byte{other.Cert.RawSubject, root.Cert.RawSubject}, true},
		{"the intermediate, issuer of the leaf", [][]byte{inter.Cert.RawSubject}, true},
		{"the root's name in other case", [][]byte{shouted}, true},
		{"only another root", [][]byte{other.Cert.RawSubject}, false},
		{"the leaf's own subject is not an issuer", [][]byte{leaf.Cert.RawSubject}, false},
		{"an undecodable name", [][]byte{{0x01, 0x02}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, chosen(tt.names, leaf.Chain, root.Cert))
		})
	}
	assert.Equal(t, "CN=New Root", shortName(parseName(root.Cert.RawSubject)))
	assert.Contains(t, shortName(parseName([]byte{1, 2})), "undecodable name 0102")
}
