package truststore_test

import (
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/internal/testpki"
	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/truststore"
)

// fixed is the clock new keystore entries are dated with.
func fixed() time.Time { return testpki.Now }

var opts = &truststore.MergeOptions{Now: fixed}

// hex8 is the fingerprint prefix of a derived alias, computed here
// independently of the package.
func hex8(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:4])
}

func fpHex(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}

// bundleOf returns a PEM bundle set holding certs under the given aliases.
func bundleOf(t *testing.T, items ...truststore.Item) *truststore.Set {
	t.Helper()
	s := truststore.New(truststore.PEMBundle)
	rep, err := s.Merge(items, opts)
	require.NoError(t, err)
	require.Len(t, rep.Added, len(items))
	return s
}

func aliases(changes []truststore.Change) []string {
	out := []string{}
	for _, c := range changes {
		out = append(out, c.Alias)
	}
	return out
}

func TestDeriveAlias(t *testing.T) {
	tests := []struct {
		name    string
		subject pkix.Name
		want    string // after the fingerprint prefix and hyphen
	}{
		{"common name", pkix.Name{CommonName: "New Root CA", Organization: []string{"X"}}, "new-root-ca"},
		{"punctuation runs collapse", pkix.Name{CommonName: "  Foo -- Bar_(R2)!! "}, "foo-bar-r2"},
		{"non-ASCII letters become hyphens", pkix.Name{CommonName: "Főtanúsítvány 2"}, "f-tan-s-tv-ny-2"},
		{"organizational unit without CN", pkix.Name{OrganizationalUnit: []string{"Root Unit"}, Organization: []string{"Org"}}, "root-unit"},
		{"organization without CN or OU", pkix.Name{Organization: []string{"Org Only"}}, "org-only"},
		{"nothing usable", pkix.Name{Country: []string{"DE"}}, "certificate"},
		{"long name cut to 48", pkix.Name{CommonName: strings.Repeat("abcdefghij ", 10)},
			"abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testpki.NewRoot(t, "x", testpki.Subject(tt.subject)).Cert
			got := truststore.DeriveAlias(c)
			assert.Equal(t, hex8(c)+"-"+tt.want, got)
		})
	}
}

func TestMerge(t *testing.T) {
	rootA := testpki.NewRoot(t, "Root A")
	rootB := testpki.NewRoot(t, "Root B")
	interA := rootA.Intermediate(t, "Issuing CA A")
	reissuedA := rootA.Reissue(t, testpki.Validity(testpki.Now.Add(-24*time.Hour), testpki.Now.Add(20*365*24*time.Hour)))

	tests := []struct {
		name        string
		start       []truststore.Item
		merge       []truststore.Item
		wantAdded   []string
		wantSkipped []string
		wantAliases []string // of the set afterwards
		check       func(t *testing.T, rep *truststore.Report)
	}{
		{
			name:        "new certificates get derived aliases",
			start:       []truststore.Item{{Alias: "root-a", Cert: rootA.Cert}},
			merge:       truststore.Certs(rootB.Cert, interA.Cert),
			wantAdded:   []string{hex8(rootB.Cert) + "-root-b", hex8(interA.Cert) + "-issuing-ca-a"},
			wantSkipped: []string{},
			wantAliases: []string{"root-a", hex8(rootB.Cert) + "-root-b", hex8(interA.Cert) + "-issuing-ca-a"},
			check: func(t *testing.T, rep *truststore.Report) {
				assert.Equal(t, truststore.Counts{Added: 2}, rep.Counts)
				assert.Equal(t, "new certificate", rep.Added[0].Reason)
				assert.Equal(t, fpHex(rootB.Cert), rep.Added[0].SHA256)
			},
		},
		{
			name:        "an identical certificate is skipped even under another alias",
			start:       []truststore.Item{{Alias: "root-a", Cert: rootA.Cert}},
			merge:       []truststore.Item{{Alias: "Another Name", Cert: rootA.Cert}},
			wantAdded:   []string{},
			wantSkipped: []string{"root-a"},
			wantAliases: []string{"root-a"},
			check: func(t *testing.T, rep *truststore.Report) {
				assert.Equal(t, "root-a", rep.Skipped[0].DuplicateOf)
				assert.Equal(t, `identical to "root-a", already in the set (not added again as "Another Name")`, rep.Skipped[0].Reason)
				assert.False(t, rep.Changed())
			},
		},
		{
			name:        "a certificate given twice is added once",
			merge:       []truststore.Item{{Alias: "b1", Cert: rootB.Cert}, {Alias: "b2", Cert: rootB.Cert}},
			wantAdded:   []string{"b1"},
			wantSkipped: []string{"b1"},
			wantAliases: []string{"b1"},
		},
		{
			name:        "a re-issued root is added and reported as a re-issue",
			start:       []truststore.Item{{Alias: "root-a", Cert: rootA.Cert}},
			merge:       []truststore.Item{{Alias: "root-a-2036", Cert: reissuedA.Cert}},
			wantAdded:   []string{"root-a-2036"},
			wantSkipped: []string{},
			wantAliases: []string{"root-a", "root-a-2036"},
			check: func(t *testing.T, rep *truststore.Report) {
				assert.Equal(t, []string{"root-a"}, rep.Added[0].ReissueOf)
				assert.Equal(t, 1, rep.Counts.Reissued)
				assert.Equal(t, `re-issue of "root-a": same subject and key, valid 2025-12-31 to 2045-12-27 where "root-a" is valid 2025-01-01 to 2035-12-30`, rep.Added[0].Reason)
			},
		},
		{
			name:        "a taken alias is renamed, ignoring case",
			start:       []truststore.Item{{Alias: "Root", Cert: rootA.Cert}, {Alias: "root-2", Cert: interA.Cert}},
			merge:       []truststore.Item{{Alias: "ROOT", Cert: rootB.Cert}},
			wantAdded:   []string{"ROOT-3"},
			wantSkipped: []string{},
			wantAliases: []string{"Root", "root-2", "ROOT-3"},
			check: func(t *testing.T, rep *truststore.Report) {
				assert.Equal(t, "ROOT", rep.Added[0].RequestedAlias)
				assert.Equal(t, 1, rep.Counts.Renamed)
				assert.Contains(t, rep.Added[0].Reason, `stored as "ROOT-3": alias "Root" is taken by CN=Root A`)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := truststore.New(truststore.PEMBundle)
			if len(tt.start) > 0 {
				s = bundleOf(t, tt.start...)
			}
			rep, err := s.Merge(tt.merge, opts)
			require.NoError(t, err)
			assert.Equal(t, "merge", rep.Operation)
			assert.Equal(t, tt.wantAdded, aliases(rep.Added))
			assert.Equal(t, tt.wantSkipped, aliases(rep.Skipped))
			assert.Equal(t, tt.wantAliases, s.Aliases())
			assert.Equal(t, len(tt.wantAliases), s.Len())
			if tt.check != nil {
				tt.check(t, rep)
			}
		})
	}
}

func TestMergeIntoKeystore(t *testing.T) {
	root := testpki.NewRoot(t, "Old Root")
	other := testpki.NewRoot(t, "Other Root")
	leaf := root.Intermediate(t, "Issuing").Leaf(t, "tenant-client")
	ks := keystore.New(keystore.JKS)
	require.NoError(t, ks.Set(&keystore.Entry{Alias: "client", Key: leaf.Key, Chain: leaf.Chain}))
	require.NoError(t, ks.Set(&keystore.Entry{Alias: "old-root", Chain: []*x509.Certificate{root.Cert}, Created: fixed()}))

	s, err := truststore.FromStore(ks)
	require.NoError(t, err)
	assert.Equal(t, truststore.JKS, s.Kind())
	assert.Equal(t, []string{"old-root"}, s.Aliases(), "key entries are not part of the trust set")

	rep, err := s.Merge([]truststore.Item{{Alias: "CLIENT", Cert: other.Cert}, {Alias: "Mixed", Cert: root.Cert}}, opts)
	require.NoError(t, err)
	require.Len(t, rep.Added, 1)
	assert.Equal(t, "client-2", rep.Added[0].Alias, "Java stores new aliases lower-cased, and the key entry's alias is taken")
	assert.Equal(t, "client", rep.Added[0].RequestedAlias)
	assert.Contains(t, rep.Added[0].Reason, "the keystore has a PrivateKeyEntry under it")
	assert.Equal(t, []string{"old-root"}, aliases(rep.Skipped))

	// Changes reach the keystore when asked for.
	assert.Equal(t, []string{"client", "old-root"}, ks.Aliases(), "not applied before Store or Save")
	got, err := s.Store()
	require.NoError(t, err)
	assert.Same(t, ks, got)
	assert.Equal(t, []string{"client", "old-root", "client-2"}, ks.Aliases())
	e, err := ks.Entry("client-2")
	require.NoError(t, err)
	assert.Equal(t, keystore.TrustedEntry, e.Kind())
	assert.True(t, e.Created.Equal(testpki.Now), "dated by MergeOptions.Now")
	assert.Equal(t, other.Cert.Raw, e.Chain[0].Raw)
	k, err := ks.Entry("client")
	require.NoError(t, err)
	assert.Equal(t, keystore.KeyFingerprint(leaf.Key.Public()), keystore.KeyFingerprint(k.Key.Public()), "the key entry is kept")
}

func TestMergeRefusesBadItems(t *testing.T) {
	root := testpki.NewRoot(t, "Root")
	tests := []struct {
		name  string
		kind  truststore.Kind
		items []truststore.Item
		want  error
		msg   string
	}{
		{"nil certificate", truststore.PEMBundle, []truststore.Item{{Cert: root.Cert}, {Alias: "x"}}, nil, "truststore: merge: item 2 of 2 has no certificate"},
		{"control character", truststore.PEMBundle, []truststore.Item{{Alias: "a\nb", Cert: root.Cert}}, truststore.ErrInvalidAlias, `"a\nb" contains the character U+000A`},
		{"slash in a directory", truststore.Directory, []truststore.Item{{Alias: "../x", Cert: root.Cert}}, truststore.ErrInvalidAlias, `"../x" cannot name a file`},
		{"leading dot in a directory", truststore.Directory, []truststore.Item{{Alias: ".hidden", Cert: root.Cert}}, truststore.ErrInvalidAlias, "no leading '.'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := truststore.New(tt.kind)
			rep, err := s.Merge(tt.items, opts)
			require.Error(t, err)
			assert.Nil(t, rep)
			if tt.want != nil {
				assert.ErrorIs(t, err, tt.want)
			}
			assert.Contains(t, err.Error(), tt.msg)
			assert.True(t, strings.HasPrefix(err.Error(), "truststore: "))
			assert.Equal(t, 0, s.Len(), "nothing is added when an item is refused")
		})
	}
}

func TestMergeIsDeterministic(t *testing.T) {
	var certs []*x509.Certificate
	for _, n := range []string{"Zeta", "Alpha", "Mid"} {
		certs = append(certs, testpki.NewRoot(t, n).Cert)
	}
	a := truststore.New(truststore.PEMBundle)
	b := truststore.New(truststore.PEMBundle)
	ra, err := a.Merge(truststore.Certs(certs...), opts)
	require.NoError(t, err)
	rb, err := b.Merge(truststore.Certs(certs...), opts)
	require.NoError(t, err)
	assert.Equal(t, ra.String(), rb.String())
	assert.Equal(t, a.Aliases(), b.Aliases())
	da, err := a.Marshal(nil)
	require.NoError(t, err)
	db, err := b.Marshal(nil)
	require.NoError(t, err)
	assert.Equal(t, da, db)
}
