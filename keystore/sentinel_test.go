package keystore

import (
	"crypto/x509"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/chain"
	"github.com/certroll/certroll/internal/testpki"
)

// TestSentinelsAreChains: a broken chain or a key mismatch found by the
// store matches package chain's sentinel, and one found by package chain
// matches the store's, so errors.Is does not depend on which path failed.
func TestSentinelsAreChains(t *testing.T) {
	root := testpki.NewRoot(t, "Root")
	leaf := root.Leaf(t, "a")
	other := root.Leaf(t, "b")
	unrelated := testpki.NewRoot(t, "Unrelated")

	tests := []struct {
		name string
		err  func() error
		want []error
	}{
		{"store: key mismatch", func() error {
			return New(JKS, nil).Set(&Entry{Alias: "a", Key: other.Key, Chain: leaf.Chain}, nil)
		}, []error{ErrKeyMismatch, chain.ErrKeyMismatch}},
		{"store: broken chain", func() error {
			return New(JKS, nil).Set(&Entry{Alias: "a", Key: leaf.Key, Chain: []*x509.Certificate{leaf.Cert, unrelated.Cert}}, nil)
		}, []error{ErrBrokenChain, chain.ErrBrokenChain}},
		{"chain: broken chain", func() error {
			_, _, err := chain.Complete([]*x509.Certificate{leaf.Cert, unrelated.Cert}, nil)
			return err
		}, []error{ErrBrokenChain, chain.ErrBrokenChain}},
		{"chain: key mismatch", func() error {
			_, err := (&chain.Receiver{Roots: []*x509.Certificate{root.Cert}, Time: testpki.Now}).VerifyKey(other.Key.Public(), leaf.Chain)
			return err
		}, []error{ErrKeyMismatch, chain.ErrKeyMismatch}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.err()
			require.Error(t, err)
			for _, want := range tt.want {
				assert.ErrorIs(t, err, want)
			}
			pkg := strings.SplitN(tt.name, ":", 2)[0]
			if pkg == "store" {
				pkg = "keystore"
			}
			assert.True(t, strings.HasPrefix(err.Error(), pkg+": "), "message %q starts with the package that failed", err.Error())
			assert.NotContains(t, err.Error(), "chain: chain:")
		})
	}
}
