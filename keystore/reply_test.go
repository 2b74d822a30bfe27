package keystore

import (
	"context"
	"crypto/x509"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/chain"
	"github.com/certroll/certroll/internal/testpki"
)

func TestInstallReply(t *testing.T) {
	newRoot := testpki.NewRoot(t, "New Root")
	newInter := newRoot.Intermediate(t, "New Issuing CA")
	renewed := newInter.Leaf(t, "tenant-client")
	stranger := newInter.Leaf(t, "stranger")
	untrustedRoot := testpki.NewRoot(t, "Unknown Root")
	untrustedLeaf := untrustedRoot.Leaf(t, "tenant-client")
	full := []*x509.Certificate{renewed.Cert, newInter.Cert, newRoot.Cert}

	tests := []struct {
		name       string
		reply      []*x509.Certificate
		opts       *ReplyOptions
		want       error
		wantChain  []*x509.Certificate
		wantAnchor *x509.Certificate
	}{
		{"complete reply in order", full,
			&ReplyOptions{NewKey: renewed.Key, Anchors: []*x509.Certificate{newRoot.Cert}}, nil, full, newRoot.Cert},
		{"reply out of order", []*x509.Certificate{newRoot.Cert, renewed.Cert, newInter.Cert},
			&ReplyOptions{NewKey: renewed.Key, Anchors: []*x509.Certificate{newRoot.Cert}}, nil, full, newRoot.Cert},
		{"leaf only, completed from anchors", []*x509.Certificate{renewed.Cert},
			&ReplyOptions{NewKey: renewed.Key, Anchors: []*x509.Certificate{newInter.Cert, newRoot.Cert}}, nil,
			[]*x509.Certificate{renewed.Cert, newInter.Cert}, newInter.Cert},
		{"root carried by the reply is not trusted by itself", full,
			&ReplyOptions{NewKey: renewed.Key}, ErrUntrustedReply, nil, nil},
		{"untrusted allowed", []*x509.Certificate{untrustedLeaf.Cert, untrustedRoot.Cert},
			&ReplyOptions{NewKey: untrustedLeaf.Key, AllowUntrusted: true}, nil,
			[]*x509.Certificate{untrustedLeaf.Cert, untrustedRoot.Cert}, nil},
		{"reply for another key", []*x509.Certificate{stranger.Cert, newInter.Cert},
			&ReplyOptions{NewKey: renewed.Key, Anchors: []*x509.Certificate{newRoot.Cert}}, ErrKeyMismatch, nil, nil},
		{"reply for another key than the entry's", full,
			&ReplyOptions{Anchors: []*x509.Certificate{newRoot.Cert}}, ErrKeyMismatch, nil, nil},
		{"incomplete and no anchor", []*x509.Certificate{renewed.Cert},
			&ReplyOptions{NewKey: renewed.Key}, ErrUntrustedReply, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _, _ := testStore(t, JKS)
			before, err := allEntries(s)
			require.NoError(t, err)
			res, err := s.InstallReply("CLIENT", tc.reply, tc.opts)
			if tc.want != nil {
				require.ErrorIs(t, err, tc.want)
				after, err := allEntries(s)
				require.NoError(t, err)
				assert.Equal(t, before, after, "a refused reply changes nothing")
				return
			}
			require.NoError(t, err)
			assert.False(t, res.Unchanged)
			assert.Equal(t, "client", res.alias)
			assert.Equal(t, chain.Path(tc.wantChain), chain.Path(res.Chain))
			if tc.wantAnchor == nil {
				assert.Nil(t, res.Anchor)
			} else {
				require.NotNil(t, res.Anchor)
				assert.Equal(t, tc.wantAnchor.Raw, res.Anchor.Raw)
			}
			e, err := s.Entry("client")
			require.NoError(t, err)
			assert.Equal(t, chain.Path(tc.wantChain), chain.Path(e.Chain))
			assert.True(t, chain.KeyMatches(e.Key.Public(), res.Chain[0]), "the entry holds the key of the installed leaf")
			assert.Equal(t, []string{"client", "other", "old-root"}, s.Aliases())
		})
	}
}

func TestInstallReplyIdentical(t *testing.T) {
	s, leaf, root := testStore(t, JKS)
	e, err := s.Entry("client")
	require.NoError(t, err)
	installed := append(append([]*x509.Certificate(nil), e.Chain...), root.Cert)
	res, err := s.InstallReply("client", installed, nil)
	require.NoError(t, err)
	require.False(t, res.Unchanged, "the first install adds the root")
	res, err = s.InstallReply("client", []*x509.Certificate{leaf.Cert}, nil)
	require.NoError(t, err)
	assert.True(t, res.Unchanged)
	assert.Contains(t, res.String(), "nothing changed")
}

func TestInstallReplyOnTrustedOrMissing(t *testing.T) {
	s, leaf, _ := testStore(t, JKS)
	_, err := s.InstallReply("old-root", leaf.Chain, nil)
	assert.ErrorIs(t, err, ErrNotKeyEntry)
	_, err = s.InstallReply("nobody", leaf.Chain, nil)
	assert.ErrorIs(t, err, ErrAliasNotFound)
	_, err = s.InstallReply("client", nil, nil)
	assert.ErrorContains(t, err, "holds no certificate")
}

// TestInstallReplyFailureLeavesFile checks that a refused reply, installed
// through Update, leaves the keystore file byte-identical.
func TestInstallReplyFailureLeavesFile(t *testing.T) {
	newRoot := testpki.NewRoot(t, "New Root")
	renewed := newRoot.Leaf(t, "tenant-client")
	stranger := newRoot.Leaf(t, "stranger")
	for _, f := range []Format{JKS, PKCS12} {
		for _, tc := range []struct {
			name  string
			reply []*x509.Certificate
			opts  *ReplyOptions
			want  error
		}{
			{"key mismatch", []*x509.Certificate{stranger.Cert, newRoot.Cert}, &ReplyOptions{NewKey: renewed.Key, Anchors: []*x509.Certificate{newRoot.Cert}}, ErrKeyMismatch},
			{"untrusted", []*x509.Certificate{renewed.Cert, newRoot.Cert}, &ReplyOptions{NewKey: renewed.Key}, ErrUntrustedReply},
		} {
			t.Run(f.String()+"/"+tc.name, func(t *testing.T) {
				path, _ := saveTestStore(t, f)
				before, err := os.ReadFile(path)
				require.NoError(t, err)
				err = Update(context.Background(), path, storePassword, func(s *Store) error {
					_, err := s.InstallReply("client", tc.reply, tc.opts)
					return err
				}, nil)
				require.ErrorIs(t, err, tc.want)
				after, err := os.ReadFile(path)
				require.NoError(t, err)
				assert.Equal(t, before, after)
			})
		}
	}
}

// TestInstallReplyReplacesAKeyGoCannotUse renews an entry whose DSA key Go
// cannot parse: with WithNewKey the old key is never needed.
func TestInstallReplyReplacesAKeyGoCannotUse(t *testing.T) {
	data, err := os.ReadFile("testdata/jks/pyjks/jks/DSA2048.jks")
	require.NoError(t, err)
	s, err := Parse(data, []byte("12345678"), nil)
	require.NoError(t, err)
	_, err = s.Entry("mykey")
	require.ErrorIs(t, err, ErrUnsupportedKey)

	newRoot := testpki.NewRoot(t, "New Root")
	renewed := newRoot.Leaf(t, "mykey")
	res, err := s.InstallReply("mykey", []*x509.Certificate{renewed.Cert}, &ReplyOptions{NewKey: renewed.Key, Anchors: []*x509.Certificate{newRoot.Cert}})
	require.NoError(t, err)
	assert.Equal(t, chain.Path([]*x509.Certificate{renewed.Cert, newRoot.Cert}), chain.Path(res.Chain))
	assert.Len(t, res.Previous, 1, "the DSA entry's chain is reported as the previous one")

	out, err := s.Marshal([]byte("12345678"))
	require.NoError(t, err)
	back, err := Parse(out, []byte("12345678"), nil)
	require.NoError(t, err)
	e, err := back.Entry("mykey")
	require.NoError(t, err)
	assert.Equal(t, renewed.Cert.Raw, e.Leaf().Raw)
}
