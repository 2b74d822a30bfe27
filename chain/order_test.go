package chain

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"testing"

	"github.com/certroll/certroll/internal/testpki"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOrder(t *testing.T) {
	root := testpki.NewRoot(t, "root")
	inter := root.Intermediate(t, "inter")
	inter2 := inter.Intermediate(t, "inter2")
	leaf := inter2.Leaf(t, "leaf")
	other := testpki.NewRoot(t, "other root")
	otherLeaf := other.Leaf(t, "other leaf")
	reissued := root.Reissue(t)
	sameName := testpki.NewRoot(t, "root") // same subject as root, other key
	// a and b cross-sign each other: a loop with no leaf.
	ra, rb := testpki.NewRoot(t, "A"), testpki.NewRoot(t, "B")
	aByB, bByA := rb.CrossSign(t, ra), ra.CrossSign(t, rb)

	tests := []struct {
		name     string
		in       []*x509.Certificate
		want     string // Path of the result
		wantErr  error
		errNames []*x509.Certificate // certificates the typed error lists
	}{
		{name: "already ordered", in: []*x509.Certificate{leaf.Cert, inter2.Cert, inter.Cert, root.Cert},
			want: "CN=leaf -> CN=inter2 -> CN=inter -> CN=root"},
		{name: "reversed", in: []*x509.Certificate{root.Cert, inter.Cert, inter2.Cert, leaf.Cert},
			want: "CN=leaf -> CN=inter2 -> CN=inter -> CN=root"},
		{name: "shuffled without root", in: []*x509.Certificate{inter.Cert, leaf.Cert, inter2.Cert},
			want: "CN=leaf -> CN=inter2 -> CN=inter"},
		{name: "duplicates collapse", in: []*x509.Certificate{inter2.Cert, leaf.Cert, inter2.Cert, leaf.Cert, inter.Cert},
			want: "CN=leaf -> CN=inter2 -> CN=inter"},
		{name: "single certificate", in: []*x509.Certificate{leaf.Cert}, want: "CN=leaf"},
		{name: "single root", in: []*x509.Certificate{root.Cert}, want: "CN=root"},
		{name: "same-named root with other key is not an issuer",
			in:       []*x509.Certificate{sameName.Cert, inter.Cert},
			wantErr:  ErrSeveralLeaves,
			errNames: []*x509.Certificate{sameName.Cert, inter.Cert}},
		{name: "several leaves", in: []*x509.Certificate{leaf.Cert, inter2.Cert, otherLeaf.Cert, other.Cert},
			wantErr: ErrSeveralLeaves, errNames: []*x509.Certificate{leaf.Cert, otherLeaf.Cert}},
		{name: "gap makes two leaves", in: []*x509.Certificate{leaf.Cert, inter.Cert},
			wantErr: ErrSeveralLeaves, errNames: []*x509.Certificate{leaf.Cert, inter.Cert}},
		{name: "loop", in: []*x509.Certificate{aByB.Cert, bByA.Cert},
			wantErr: ErrLoop, errNames: []*x509.Certificate{aByB.Cert, bByA.Cert}},
		{name: "leaf into a loop", in: []*x509.Certificate{ra.Leaf(t, "looped").Cert, aByB.Cert, bByA.Cert},
			wantErr: ErrLoop, errNames: []*x509.Certificate{aByB.Cert, bByA.Cert}},
		{name: "root next to its re-issue", in: []*x509.Certificate{inter.Cert, root.Cert, reissued.Cert},
			wantErr: ErrUnplaced, errNames: []*x509.Certificate{reissued.Cert}},
		{name: "empty", in: nil, wantErr: ErrNoCertificates},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Order(tt.in)
			if tt.wantErr == nil {
				require.NoError(t, err)
				assert.Equal(t, tt.want, Path(got))
				return
			}
			require.ErrorIs(t, err, tt.wantErr)
			assert.Regexp(t, "^chain: ", err.Error())
			var listed []*x509.Certificate
			var oe *OrderError
			if errors.As(err, &oe) {
				require.ErrorIs(t, oe.err, tt.wantErr)
				listed = oe.Certificates
				if oe.err == ErrUnplaced {
					assert.Equal(t, "CN=inter -> CN=root", Path(oe.Path))
				}
			}
			assert.ElementsMatch(t, tt.errNames, listed)
		})
	}

	_, err := Order([]*x509.Certificate{leaf.Cert, nil})
	assert.ErrorContains(t, err, "chain: certificate 2 of 2 is nil")
}

func TestComplete(t *testing.T) {
	root := testpki.NewRoot(t, "root")
	inter := root.Intermediate(t, "inter")
	inter2 := inter.Intermediate(t, "inter2")
	leaf := inter2.Leaf(t, "leaf")
	newRoot := testpki.NewRoot(t, "new root")
	cross := root.CrossSign(t, newRoot)
	newLeaf := newRoot.Leaf(t, "new leaf")
	unrelated := testpki.NewRoot(t, "unrelated")

	tests := []struct {
		name       string
		chain      []*x509.Certificate
		pool       []*x509.Certificate
		want       string
		wantAnchor *x509.Certificate
		wantErr    error
		errDetail  string
	}{
		{name: "adds two intermediates", chain: []*x509.Certificate{leaf.Cert},
			pool: []*x509.Certificate{unrelated.Cert, root.Cert, inter.Cert, inter2.Cert},
			want: "CN=leaf -> CN=inter2 -> CN=inter", wantAnchor: root.Cert},
		{name: "already complete", chain: leaf.Chain, pool: []*x509.Certificate{root.Cert},
			want: "CN=leaf -> CN=inter2 -> CN=inter", wantAnchor: root.Cert},
		{name: "root in chain is dropped and reported", chain: append(append([]*x509.Certificate{}, leaf.Chain...), root.Cert),
			want: "CN=leaf -> CN=inter2 -> CN=inter", wantAnchor: root.Cert},
		{name: "shortest way to a root wins", chain: []*x509.Certificate{newLeaf.Cert},
			pool: []*x509.Certificate{cross.Cert, root.Cert, newRoot.Cert},
			want: "CN=new leaf", wantAnchor: newRoot.Cert},
		{name: "cross-signed path when only the old root is in the pool", chain: []*x509.Certificate{newLeaf.Cert},
			pool: []*x509.Certificate{root.Cert, cross.Cert},
			want: "CN=new leaf -> CN=new root", wantAnchor: root.Cert},
		{name: "missing intermediate", chain: []*x509.Certificate{leaf.Cert},
			pool: []*x509.Certificate{root.Cert, inter.Cert}, wantErr: ErrMissingIssuer,
			errDetail: `chain: issuer of CN=leaf not found: expected issuer "CN=inter2,O=certroll test" with key id ` + keyID(inter2.Cert.SubjectKeyId) + " in the chain or the pool"},
		{name: "missing root", chain: []*x509.Certificate{leaf.Cert},
			pool: []*x509.Certificate{inter.Cert, inter2.Cert}, wantErr: ErrMissingIssuer,
			errDetail: `chain: issuer of CN=inter not found: expected issuer "CN=root,O=certroll test"`},
		{name: "broken chain", chain: []*x509.Certificate{leaf.Cert, inter.Cert}, wantErr: ErrBrokenChain,
			errDetail: `certificate 1 (CN=leaf) names issuer "CN=inter2,O=certroll test"`},
		{name: "empty", wantErr: ErrNoCertificates},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, anchor, err := Complete(tt.chain, tt.pool)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				assert.Contains(t, err.Error(), tt.errDetail)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, Path(got))
			assert.Same(t, tt.wantAnchor, anchor)

			again, _, err := Complete(tt.chain, tt.pool) // the same inputs give the same path
			require.NoError(t, err)
			assert.Equal(t, got, again)
		})
	}

	t.Run("partial path in error", func(t *testing.T) {
		_, _, err := Complete([]*x509.Certificate{leaf.Cert}, []*x509.Certificate{inter2.Cert})
		var missing *OrderError
		require.ErrorAs(t, err, &missing)
		require.ErrorIs(t, err, ErrMissingIssuer)
		assert.Equal(t, "CN=leaf -> CN=inter2", Path(missing.Path))
		assert.Same(t, inter2.Cert, missing.Certificates[0])
	})
}

func TestKeyMatches(t *testing.T) {
	root := testpki.NewRoot(t, "root", testpki.WithKeyType(testpki.KeyRSA2048))
	ec := root.Leaf(t, "ec")
	rsaLeaf := root.Leaf(t, "rsa", testpki.WithKeyType(testpki.KeyRSA2048))
	ed := root.Leaf(t, "ed", testpki.WithKeyType(testpki.KeyEd25519))
	tests := []struct {
		name string
		key  any
		cert *x509.Certificate
		want bool
	}{
		{"ECDSA signer", ec.Key, ec.Cert, true},
		{"ECDSA public", ec.Key.Public(), ec.Cert, true},
		{"RSA signer", rsaLeaf.Key, rsaLeaf.Cert, true},
		{"Ed25519 signer", ed.Key, ed.Cert, true},
		{"Ed25519 public", ed.Key.Public(), ed.Cert, true},
		{"other ECDSA key", ec.Key, root.Leaf(t, "ec2").Cert, false},
		{"RSA key, ECDSA cert", rsaLeaf.Key, ec.Cert, false},
		{"issuer key", root.Key, rsaLeaf.Cert, false},
		{"nil key", nil, ec.Cert, false},
		{"nil cert", ec.Key, nil, false},
		{"unsupported type", "key", ec.Cert, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, KeyMatches(tt.key, tt.cert))
		})
	}
}

func TestPathAndName(t *testing.T) {
	root := testpki.NewRoot(t, "root")
	noCN := root.Leaf(t, "", testpki.Subject(pkix.Name{Organization: []string{"certroll test"}}))
	empty := root.Leaf(t, "", testpki.Subject(pkix.Name{}))
	assert.Equal(t, "(empty chain)", Path(nil))
	assert.Equal(t, "CN=root", Path([]*x509.Certificate{root.Cert}))
	assert.Equal(t, "O=certroll test -> CN=root", Path([]*x509.Certificate{noCN.Cert, root.Cert}))
	assert.Equal(t, "<nil>", Name(nil))
	assert.Equal(t, "serial:"+empty.Cert.SerialNumber.String(), Name(empty.Cert))
}

func TestOrderTooMany(t *testing.T) {
	root := testpki.NewRoot(t, "root")
	key := testpki.NewKey(t, testpki.KeyECDSAP256)
	bag := make([]*x509.Certificate, 0, maxCertificates+1)
	for range maxCertificates + 1 {
		bag = append(bag, root.Leaf(t, "leaf", testpki.WithKey(key)).Cert)
	}
	_, err := Order(bag)
	require.ErrorIs(t, err, ErrTooMany)
	assert.EqualError(t, err, "chain: too many certificates: 1001 distinct certificates to order, at most 1000 accepted")
}
