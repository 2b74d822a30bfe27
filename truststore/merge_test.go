package truststore_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"math/big"
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

// bundleOf returns a PEM bundle set holding certs under the given aliases,
// leaves included.
func bundleOf(t *testing.T, items ...truststore.Entry) *truststore.Set {
	t.Helper()
	s := truststore.New(truststore.PEMBundle)
	rep, err := s.Merge(items, &truststore.MergeOptions{Now: fixed, IncludeNonCA: true})
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
		start       []truststore.Entry
		merge       []truststore.Entry
		wantAdded   []string
		wantSkipped []string
		wantAliases []string // of the set afterwards
		check       func(t *testing.T, rep *truststore.Report)
	}{
		{
			name:        "new certificates get derived aliases",
			start:       []truststore.Entry{{Alias: "root-a", Cert: rootA.Cert}},
			merge:       truststore.Certs(rootB.Cert, interA.Cert),
			wantAdded:   []string{hex8(rootB.Cert) + "-root-b", hex8(interA.Cert) + "-issuing-ca-a"},
			wantSkipped: []string{},
			wantAliases: []string{"root-a", hex8(rootB.Cert) + "-root-b", hex8(interA.Cert) + "-issuing-ca-a"},
			check: func(t *testing.T, rep *truststore.Report) {
				assert.Equal(t, counts{Added: 2}, countsOf(rep))
				assert.Equal(t, "new certificate", rep.Added[0].Reason)
				assert.Equal(t, fpHex(rootB.Cert), rep.Added[0].SHA256.Hex())
			},
		},
		{
			name:        "an identical certificate is skipped even under another alias",
			start:       []truststore.Entry{{Alias: "root-a", Cert: rootA.Cert}},
			merge:       []truststore.Entry{{Alias: "Another Name", Cert: rootA.Cert}},
			wantAdded:   []string{},
			wantSkipped: []string{"root-a"},
			wantAliases: []string{"root-a"},
			check: func(t *testing.T, rep *truststore.Report) {
				assert.Equal(t, "root-a", rep.Skipped[0].Alias)
				assert.Equal(t, `identical to "root-a", already in the set (not added again as "Another Name")`, rep.Skipped[0].Reason)
				assert.False(t, changed(rep))
			},
		},
		{
			name:        "a certificate given twice is added once",
			merge:       []truststore.Entry{{Alias: "b1", Cert: rootB.Cert}, {Alias: "b2", Cert: rootB.Cert}},
			wantAdded:   []string{"b1"},
			wantSkipped: []string{"b1"},
			wantAliases: []string{"b1"},
		},
		{
			name:        "a re-issued root is added and reported as a re-issue",
			start:       []truststore.Entry{{Alias: "root-a", Cert: rootA.Cert}},
			merge:       []truststore.Entry{{Alias: "root-a-2036", Cert: reissuedA.Cert}},
			wantAdded:   []string{"root-a-2036"},
			wantSkipped: []string{},
			wantAliases: []string{"root-a", "root-a-2036"},
			check: func(t *testing.T, rep *truststore.Report) {
				assert.Equal(t, []string{"root-a"}, rep.Added[0].ReissueOf)
				assert.Equal(t, 1, countsOf(rep).Reissued)
				assert.Equal(t, `re-issue of "root-a": same subject and key, valid 2025-12-31 to 2045-12-27 where "root-a" is valid 2025-01-01 to 2035-12-30`, rep.Added[0].Reason)
			},
		},
		{
			name:        "a taken alias is renamed, ignoring case",
			start:       []truststore.Entry{{Alias: "Root", Cert: rootA.Cert}, {Alias: "root-2", Cert: interA.Cert}},
			merge:       []truststore.Entry{{Alias: "ROOT", Cert: rootB.Cert}},
			wantAdded:   []string{"ROOT-3"},
			wantSkipped: []string{},
			wantAliases: []string{"Root", "root-2", "ROOT-3"},
			check: func(t *testing.T, rep *truststore.Report) {
				assert.Equal(t, "ROOT", rep.Added[0].RequestedAlias)
				assert.Equal(t, 1, countsOf(rep).Renamed)
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
			assert.Equal(t, len(tt.wantAliases), size(s))
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
	ks := keystore.New(keystore.JKS, nil)
	require.NoError(t, ks.Set(&keystore.Entry{Alias: "client", Key: leaf.Key, Chain: leaf.Chain}, nil))
	require.NoError(t, ks.Set(&keystore.Entry{Alias: "old-root", Chain: []*x509.Certificate{root.Cert}, Created: fixed()}, nil))

	s, err := truststore.FromStore(ks)
	require.NoError(t, err)
	assert.Equal(t, truststore.JKS, s.Kind())
	assert.Equal(t, []string{"old-root"}, s.Aliases(), "key entries are not part of the trust set")

	rep, err := s.Merge([]truststore.Entry{{Alias: "CLIENT", Cert: other.Cert}, {Alias: "Mixed", Cert: root.Cert}}, opts)
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
		items []truststore.Entry
		want  error
		msg   string
	}{
		{"nil certificate", truststore.PEMBundle, []truststore.Entry{{Cert: root.Cert}, {Alias: "x"}}, nil, "truststore: merge: item 2 of 2 has no certificate"},
		{"control character", truststore.PEMBundle, []truststore.Entry{{Alias: "a\nb", Cert: root.Cert}}, truststore.ErrInvalidAlias, `"a\nb" contains the character U+000A`},
		{"slash in a directory", truststore.Directory, []truststore.Entry{{Alias: "../x", Cert: root.Cert}}, truststore.ErrInvalidAlias, `"../x" cannot name a file`},
		{"leading dot in a directory", truststore.Directory, []truststore.Entry{{Alias: ".hidden", Cert: root.Cert}}, truststore.ErrInvalidAlias, "no leading '.'"},
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
			assert.Equal(t, 0, size(s), "nothing is added when an item is refused")
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

// v1Cert builds an X.509 version 1 certificate (no version field, no
// extensions) for pub named subject, signed by signer under the name
// issuer, as old roots are; crypto/x509 only writes version 3.
func v1Cert(t *testing.T, subject, issuer string, pub crypto.PublicKey, signer *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	name := func(cn string) asn1.RawValue {
		der, err := asn1.Marshal(pkix.Name{CommonName: cn, Organization: []string{"certroll test"}}.ToRDNSequence())
		require.NoError(t, err)
		return asn1.RawValue{FullBytes: der}
	}
	spki, err := x509.MarshalPKIXPublicKey(pub)
	require.NoError(t, err)
	alg := pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}} // ecdsa-with-SHA256
	tbs, err := asn1.Marshal(struct {
		Serial   *big.Int
		Alg      pkix.AlgorithmIdentifier
		Issuer   asn1.RawValue
		Validity struct{ NotBefore, NotAfter time.Time }
		Subject  asn1.RawValue
		SPKI     asn1.RawValue
	}{big.NewInt(1), alg, name(issuer), struct{ NotBefore, NotAfter time.Time }{testpki.Now.AddDate(-1, 0, 0), testpki.Now.AddDate(10, 0, 0)},
		name(subject), asn1.RawValue{FullBytes: spki}})
	require.NoError(t, err)
	digest := sha256.Sum256(tbs)
	sig, err := ecdsa.SignASN1(rand.Reader, signer, digest[:])
	require.NoError(t, err)
	der, err := asn1.Marshal(struct {
		TBS asn1.RawValue
		Alg pkix.AlgorithmIdentifier
		Sig asn1.BitString
	}{asn1.RawValue{FullBytes: tbs}, alg, asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}})
	require.NoError(t, err)
	c, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	require.Equal(t, 1, c.Version)
	return c
}

// TestMergeLeavesOutNonCA: a merge adds CA certificates only, and reports
// what it left out and why; IncludeNonCA adds them all.
func TestMergeLeavesOutNonCA(t *testing.T) {
	root := testpki.NewRoot(t, "Root")
	inter := root.Intermediate(t, "Issuing")
	leaf := inter.Leaf(t, "client")
	leafCAFalse := inter.Leaf(t, "client-ca-false", testpki.Modify(func(c *x509.Certificate) { c.BasicConstraintsValid = true }))
	selfSignedNoBC := testpki.NewRoot(t, "Self-signed without basicConstraints", testpki.Modify(func(c *x509.Certificate) {
		c.BasicConstraintsValid, c.IsCA = false, false
	}))
	selfSignedCAFalse := testpki.NewRoot(t, "Self-signed CA:false", testpki.Modify(func(c *x509.Certificate) { c.IsCA = false }))
	v1Key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	v1Root := v1Cert(t, "V1 Root", "V1 Root", v1Key.Public(), v1Key)
	v1Leaf := v1Cert(t, "V1 Leaf", "V1 Root", inter.Key.Public(), v1Key)
	forged := v1Cert(t, "Forged V1 Root", "Forged V1 Root", inter.Key.Public(), v1Key) // names itself, another key signed it

	tests := []struct {
		name    string
		cert    *x509.Certificate
		isCA    bool
		wantWhy string
	}{
		{"root", root.Cert, true, ""},
		{"intermediate", inter.Cert, true, ""},
		{"leaf without basicConstraints", leaf.Cert, false, "not a CA certificate: it has no basicConstraints extension and is not self-signed"},
		{"leaf with CA:false", leafCAFalse.Cert, false, "not a CA certificate: its basicConstraints say CA:false"},
		{"self-signed without basicConstraints", selfSignedNoBC.Cert, true, ""},
		{"self-signed with CA:false", selfSignedCAFalse.Cert, false, "not a CA certificate: its basicConstraints say CA:false"},
		{"version 1 root", v1Root, true, ""},
		{"version 1 leaf", v1Leaf, false, "not a CA certificate: it has no basicConstraints extension and is not self-signed"},
		{"version 1 naming itself, signed by another key", forged, false, "not a CA certificate: it has no basicConstraints extension and is not self-signed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.isCA, truststore.IsCA(tt.cert))

			s := truststore.New(truststore.JKS)
			rep, err := s.Merge([]truststore.Entry{{Alias: "given", Cert: tt.cert}}, opts)
			require.NoError(t, err)
			if tt.isCA {
				assert.Equal(t, []string{"given"}, aliases(rep.Added))
				assert.Empty(t, rep.LeftOut)
				assert.NotContains(t, rep.String(), "left out")
				return
			}
			assert.Empty(t, rep.Added)
			assert.Equal(t, 0, size(s), "a certificate left out is not in the set")
			require.Len(t, rep.LeftOut, 1)
			assert.Equal(t, "given", rep.LeftOut[0].Alias)
			assert.Equal(t, fpHex(tt.cert), rep.LeftOut[0].SHA256.Hex())
			assert.Equal(t, tt.wantWhy, rep.LeftOut[0].Reason)
			assert.Equal(t, 1, countsOf(rep).LeftOut)
			assert.False(t, changed(rep))
			assert.Equal(t, "merge into JKS: 0 added (0 re-issued, 0 renamed), 0 skipped as duplicates, 1 left out as not CA certificates\n"+
				"  left out given  "+tt.cert.Subject.String()+"  sha256 "+fpHex(tt.cert)[:16]+"  valid "+
				tt.cert.NotBefore.UTC().Format(time.DateOnly)+" to "+tt.cert.NotAfter.UTC().Format(time.DateOnly)+"\n"+
				"           "+tt.wantWhy+"\n", rep.String())

			data, err := json.Marshal(rep)
			require.NoError(t, err)
			var got struct {
				Counts  map[string]int `json:"counts"`
				LeftOut []struct {
					SHA256 string `json:"sha256"`
					Reason string `json:"reason"`
				} `json:"left_out"`
			}
			require.NoError(t, json.Unmarshal(data, &got))
			assert.Equal(t, 1, got.Counts["left_out"])
			require.Len(t, got.LeftOut, 1)
			assert.Equal(t, fpHex(tt.cert), got.LeftOut[0].SHA256)
			assert.Equal(t, tt.wantWhy, got.LeftOut[0].Reason)

			// Asked for, it is added.
			rep, err = s.Merge([]truststore.Entry{{Alias: "given", Cert: tt.cert}}, &truststore.MergeOptions{Now: fixed, IncludeNonCA: true})
			require.NoError(t, err)
			assert.Equal(t, []string{"given"}, aliases(rep.Added))
			assert.Empty(t, rep.LeftOut)
			assert.True(t, s.ContainsCert(tt.cert))
		})
	}

	// A CA's reply: the leaf it signed and its chain. Only the CAs are
	// trusted; the leaf, without an alias given, is reported under the
	// alias it would have had.
	s := truststore.New(truststore.PEMBundle)
	rep, err := s.Merge(truststore.Certs(leaf.Cert, inter.Cert, root.Cert), nil)
	require.NoError(t, err)
	assert.Equal(t, []string{hex8(inter.Cert) + "-issuing", hex8(root.Cert) + "-root"}, aliases(rep.Added))
	assert.Equal(t, []string{hex8(leaf.Cert) + "-client"}, aliases(rep.LeftOut))
	assert.False(t, s.ContainsCert(leaf.Cert))

	// A set built from certificates the caller names (a merge with IncludeNonCA) keeps every one given.
	pinned, err := fromCertificates(leaf.Cert, root.Cert)
	require.NoError(t, err)
	assert.True(t, pinned.ContainsCert(leaf.Cert))
	assert.Equal(t, 2, size(pinned))
}
