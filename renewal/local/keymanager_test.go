package local

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"path/filepath"
	"testing"

	"github.com/certroll/certroll/internal/testpki"
	"github.com/certroll/certroll/keystore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestKeyManagerChoose checks the SunX509 rule on its own: no names, or an
// issuer of a certificate of an entry's chain among them, the configured
// alias first: probe.JavaChooses, through the node's choice. The cases
// are those of renewal/probe's TestJavaChooses.
func TestKeyManagerChoose(t *testing.T) {
	t.Parallel()
	root := testpki.NewRoot(t, "New Root")
	inter := root.Intermediate(t, "New Issuing CA")
	leaf := inter.Leaf(t, "tenant-client")
	old := testpki.NewRoot(t, "Old Root")
	oldLeaf := old.Leaf(t, "tenant-client")
	other := testpki.NewRoot(t, "Other Root")
	der := func(n pkix.Name) []byte {
		b, err := asn1.Marshal(n.ToRDNSequence())
		require.NoError(t, err)
		return b
	}
	// The root's name as another encoder might write it: UTF8String
	// instead of PrintableString, and another case.
	shouted := der(pkix.Name{CommonName: "NEW ROOT", Organization: []string{"CERTROLL TEST"}})
	km := &keyManager{entries: []keyEntry{
		{alias: "client", chain: leaf.Chain},        // configured: leaf and intermediate
		{alias: "legacy", chain: oldLeaf.Chain[:1]}, // the leaf alone
	}}
	tests := []struct {
		name  string
		names [][]byte
		want  string // alias, or "" for none
	}{
		{"no names: every entry qualifies, the configured alias wins", nil, "client"},
		{"both roots: the configured alias wins", [][]byte{old.Cert.RawSubject, root.Cert.RawSubject}, "client"},
		{"the root, issuer of the intermediate", [][]byte{root.Cert.RawSubject}, "client"},
		{"the intermediate, issuer of the leaf", [][]byte{inter.Cert.RawSubject}, "client"},
		{"the root's name in other case", [][]byte{shouted}, "client"},
		{"only the old root: the other entry", [][]byte{old.Cert.RawSubject}, "legacy"},
		{"only another root: none", [][]byte{other.Cert.RawSubject}, ""},
		{"the leaf's own subject is not an issuer", [][]byte{leaf.Cert.RawSubject}, ""},
		{"an undecodable name", [][]byte{{0x01, 0x02}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := km.choose(tt.names)
			if tt.want == "" {
				assert.Nil(t, got)
				return
			}
			require.NotNil(t, got)
			assert.Equal(t, tt.want, got.alias)
		})
	}
	err := km.noneMatches("node-1", [][]byte{other.Cert.RawSubject, {1, 2}})
	assert.ErrorIs(t, err, ErrNoCertificate)
	assert.Contains(t, err.Error(), "on node-1, no key entry's issuer is among the CA names the receiver advertises (CN=Other Root, undecodable name 0102)")
	assert.Contains(t, err.Error(), `"client" (CN=tenant-client, issued by CN=New Issuing CA and CN=New Root)`)
	assert.Contains(t, err.Error(), `"legacy" (CN=tenant-client, issued by CN=Old Root)`)
	assert.Contains(t, km.noneMatches("node-1", nil).Error(), "advertises (none)")
}

// writeKeystore writes a JKS keystore holding ids under their aliases, in
// that order.
func writeKeystore(t *testing.T, ids map[string]identity, order ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tenant.jks")
	s := keystore.New(keystore.JKS, &keystore.StoreOptions{Now: clock})
	for _, a := range order {
		require.NoError(t, s.Set(&keystore.Entry{Alias: a, Key: ids[a].key, Chain: ids[a].chain}, nil))
	}
	require.NoError(t, s.Save(path, storePassword, nil))
	return path
}

// TestRuntimeKeyManager checks over real TLS that a node picks, from the
// key entries it cached, the one whose issuer the receiver advertises,
// preferring the configured alias, and presents none when none matches;
// the receiver's advertised names change without a restart of either.
func TestRuntimeKeyManager(t *testing.T) {
	ctx := context.Background()
	l := newLandscape(t)
	renewed := renewClient(t, l.newCA, l.old.leaf())
	third := newTestCA(t, "Third Root CA")
	require.NoError(t, l.receiver.TrustRoot(ctx, l.newCA.Root()))
	require.NoError(t, l.receiver.AcceptClient(ctx, renewed.chain))
	// The configured alias holds the new certificate, another the old.
	path := writeKeystore(t, map[string]identity{"legacy": l.old, tenantAlias: renewed}, "legacy", tenantAlias)
	rt, err := NewRuntime(RuntimeConfig{Nodes: 1, Keystore: path, KeystorePassword: storePassword, Alias: tenantAlias,
		Receiver: l.receiver, Rate: 1000, MaxMessages: 5})
	require.NoError(t, err)
	require.NoError(t, rt.Start(ctx, "node-1"))

	steps := []struct {
		name      string
		advertise []*x509.Certificate
		want      *x509.Certificate // nil: none matches
	}{
		{"both roots advertised: the configured alias", nil, renewed.leaf()},
		{"only the old root advertised: the other entry", []*x509.Certificate{l.oldCA.Root()}, l.old.leaf()},
		{"only the new root advertised", []*x509.Certificate{l.newCA.Root()}, renewed.leaf()},
		{"only an unrelated root advertised: no certificate", []*x509.Certificate{third.Root()}, nil},
		{"every trusted root advertised again", nil, renewed.leaf()},
	}
	var before Stats
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			require.NoError(t, l.receiver.AdvertiseOnly(s.advertise...))
			got, err := rt.Presents(ctx, "node-1")
			st := rt.Run(ctx)
			node := st.PerNode["node-1"]
			sent, failed := node.Total-before.PerNode["node-1"].Total, node.Failed-before.PerNode["node-1"].Failed
			assert.Equal(t, 5, sent)
			if s.want == nil {
				assert.Nil(t, got)
				assert.ErrorIs(t, err, ErrNoCertificate)
				assert.ErrorContains(t, err, "advertises (CN=Third Root CA)")
				assert.Equal(t, 5, failed, "every message fails without a certificate")
				for _, f := range st.Failures[len(before.Failures):] {
					assert.ErrorIs(t, f.Err, ErrNoCertificate)
					assert.ErrorContains(t, f.Err, "advertises (CN=Third Root CA)")
					assert.Empty(t, f.Fingerprint)
				}
			} else {
				require.NoError(t, err)
				assert.Equal(t, fp(s.want), fp(got))
				assert.Zero(t, failed, "%v", st.Failures)
				assert.Equal(t, 5, node.Presented[fp(s.want)]-before.PerNode["node-1"].Presented[fp(s.want)],
					"every message presented what Presents said")
			}
			before = st
		})
	}
}

// TestRuntimeReadsEveryKeyEntry checks that a node fails to start when a
// key entry other than the configured one cannot be read, as Java's key
// manager, which reads them all with one password, does.
func TestRuntimeReadsEveryKeyEntry(t *testing.T) {
	ctx := context.Background()
	l := newLandscape(t)
	other := issueClient(t, l.oldCA, "other")
	path := filepath.Join(t.TempDir(), "tenant.jks")
	s := keystore.New(keystore.JKS, &keystore.StoreOptions{Now: clock, KeyPasswords: map[string][]byte{"other": []byte("another-secret")}})
	require.NoError(t, s.Set(&keystore.Entry{Alias: tenantAlias, Key: l.old.key, Chain: l.old.chain}, nil))
	require.NoError(t, s.Set(&keystore.Entry{Alias: "other", Key: other.key, Chain: other.chain}, nil))
	require.NoError(t, s.Save(path, storePassword, nil))

	rt, err := NewRuntime(RuntimeConfig{Nodes: 1, Keystore: path, KeystorePassword: storePassword, Alias: tenantAlias, Receiver: l.receiver})
	require.NoError(t, err)
	err = rt.Start(ctx, "node-1")
	assert.ErrorIs(t, err, keystore.ErrIncorrectPassword)
	assert.ErrorContains(t, err, `key entry "other"`)
	assert.NotContains(t, err.Error(), "another-secret")
	assert.Nil(t, presents(t, rt, "node-1"), "the node stays stopped")
}
