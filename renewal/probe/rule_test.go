package probe

import (
	"bytes"
	"crypto/x509/pkix"
	"encoding/asn1"
	"slices"
	"testing"

	"github.com/certroll/certroll/internal/testpki"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestJavaChooses checks the SunX509 rule on its own: no names, or an
// issuer of a certificate of the chain among them; and the probe's rule,
// which counts the root's subject too, so that a chain given without its
// root is chosen under the root's name. renewal/local's key manager
// test runs the same cases through its nodes' choice.
func TestJavaChooses(t *testing.T) {
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
		want  bool // for the whole chain, and for the probe given the leaf and the root
		// leafOnly is JavaChooses's answer for an entry that holds the
		// leaf alone: only the leaf's issuer counts.
		leafOnly bool
	}{
		{"no names: Java offers every entry", nil, true, true},
		{"the root", [][]byte{other.Cert.RawSubject, root.Cert.RawSubject}, true, false},
		{"the intermediate, issuer of the leaf", [][]byte{inter.Cert.RawSubject}, true, true},
		{"the root's name in other case", [][]byte{shouted}, true, false},
		{"only another root", [][]byte{other.Cert.RawSubject}, false, false},
		{"the leaf's own subject is not an issuer", [][]byte{leaf.Cert.RawSubject}, false, false},
		{"an undecodable name", [][]byte{{0x01, 0x02}}, false, false},
		{"a name with trailing bytes", [][]byte{append(bytes.Clone(inter.Cert.RawSubject), 0)}, false, false},
	}
	require.Len(t, leaf.Chain, 2, "leaf and intermediate")
	whole := append(slices.Clone(leaf.Chain), root.Cert)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, JavaChooses(tt.names, whole), "the whole chain")
			assert.Equal(t, tt.want, JavaChooses(tt.names, leaf.Chain), "the chain below the root: the intermediate's issuer is the root")
			assert.Equal(t, tt.leafOnly, JavaChooses(tt.names, leaf.Chain[:1]), "the leaf alone")
			assert.Equal(t, tt.want, chosen(tt.names, whole, root.Cert), "the probe, the whole chain")
			assert.Equal(t, tt.want, chosen(tt.names, leaf.Chain[:1], root.Cert), "the probe, the leaf and the root: the root's subject counts")
		})
	}
	assert.Equal(t, "CN=New Root", shortName(parseName(root.Cert.RawSubject)))
	assert.Contains(t, shortName(parseName([]byte{1, 2})), "undecodable name 0102")
}
