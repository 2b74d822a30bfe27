package truststore_test

import (
	"crypto/x509"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/internal/testpki"
	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/truststore"
)

func TestReportJSON(t *testing.T) {
	root := testpki.NewRoot(t, "Root A")
	again := root.Reissue(t)
	s := bundleOf(t, truststore.Entry{Alias: "root-a", Cert: root.Cert})
	rep, err := s.Merge([]truststore.Entry{{Alias: "root-a", Cert: again.Cert}, {Cert: root.Cert}}, opts)
	require.NoError(t, err)

	data, err := json.Marshal(rep)
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, json.Unmarshal(data, &got))
	assert.Equal(t, "merge", got["operation"])
	assert.Equal(t, "PEM bundle", got["kind"])
	assert.Equal(t, map[string]any{"added": 1.0, "skipped": 1.0, "reissued": 1.0, "renamed": 1.0, "removed": 0.0, "refused": 0.0, "left_out": 0.0}, got["counts"])
	assert.Equal(t, []any{}, got["removed"], "empty lists are [] not null")
	assert.Equal(t, []any{}, got["refused"])
	assert.Equal(t, []any{}, got["left_out"])
	added := got["added"].([]any)[0].(map[string]any)
	assert.Equal(t, "root-a-2", added["alias"])
	assert.Equal(t, "root-a", added["requested_alias"])
	assert.Equal(t, []any{"root-a"}, added["reissue_of"])
	assert.Equal(t, fpHex(again.Cert), added["sha256"])
	assert.Equal(t, "CN=Root A,O=certroll test", added["subject"])
	assert.Equal(t, "CN=Root A,O=certroll test", added["issuer"])
	assert.Equal(t, "2025-01-01T00:00:00Z", added["not_before"])
	assert.Equal(t, "2035-12-30T00:00:00Z", added["not_after"])
	skipped := got["skipped"].([]any)[0].(map[string]any)
	assert.Equal(t, "root-a", skipped["duplicate_of"])
	assert.Equal(t, `identical to "root-a", already in the set`, skipped["reason"])
	for k := range added {
		assert.Equal(t, strings.ToLower(k), k, "snake_case field %q", k)
	}
}

func TestReportString(t *testing.T) {
	root := testpki.NewRoot(t, "Root A")
	leaf := root.Leaf(t, "client")
	s := bundleOf(t, truststore.Entry{Alias: "root-a", Cert: root.Cert})
	rep, err := s.Prune(truststore.ByAlias("root-a"), &truststore.PruneOptions{InUse: []truststore.Dependent{{Name: "client.p12", Chain: leaf.Chain}}})
	require.ErrorIs(t, err, truststore.ErrInUse)
	want := "prune of PEM bundle: 0 removed, 1 refused\n" +
		"  refused  root-a  CN=Root A,O=certroll test  sha256 " + fpHex(root.Cert)[:16] + "  valid 2025-01-01 to 2035-12-30\n" +
		"           selected by alias \"root-a\", but 1 chain in use depends on it and no other certificate of the set anchors it\n" +
		"           in use by client.p12: CN=client\n"
	assert.Equal(t, want, rep.String())

	rep, err = s.Merge(truststore.Certs(root.Cert), opts)
	require.NoError(t, err)
	assert.Equal(t, "merge into PEM bundle: 0 added (0 re-issued, 0 renamed), 1 skipped as duplicates\n"+
		"  skipped  root-a  CN=Root A,O=certroll test  sha256 "+fpHex(root.Cert)[:16]+"  valid 2025-01-01 to 2035-12-30\n"+
		"           identical to \"root-a\", already in the set\n", rep.String())
}

func TestDiff(t *testing.T) {
	a1 := testpki.NewRoot(t, "A1")
	both := testpki.NewRoot(t, "Both")
	renamed := testpki.NewRoot(t, "Renamed")
	b1 := testpki.NewRoot(t, "B1")
	a := bundleOf(t, truststore.Entry{Alias: "a1", Cert: a1.Cert}, truststore.Entry{Alias: "both", Cert: both.Cert}, truststore.Entry{Alias: "old-name", Cert: renamed.Cert})
	b := bundleOf(t, truststore.Entry{Alias: "BOTH", Cert: both.Cert}, truststore.Entry{Alias: "new-name", Cert: renamed.Cert}, truststore.Entry{Alias: "b1", Cert: b1.Cert})

	d := truststore.Diff(a, b)
	assert.False(t, equalSets(d))
	assert.Equal(t, 2, d.Common)
	require.Len(t, d.OnlyInA, 1)
	assert.Equal(t, "a1", d.OnlyInA[0].Alias)
	require.Len(t, d.OnlyInB, 1)
	assert.Equal(t, "b1", d.OnlyInB[0].Alias)
	assert.Equal(t, []truststore.AliasChange{{SHA256: keystore.CertFingerprint(renamed.Cert), Subject: "CN=Renamed,O=certroll test", AliasA: "old-name", AliasB: "new-name"}}, d.AliasChanged,
		"an alias differing only in case is not a change")
	assert.Equal(t, "diff: 1 only in a, 1 only in b, 2 in both (1 under another alias)\n"+
		"  - a1  CN=A1,O=certroll test  sha256 "+fpHex(a1.Cert)[:16]+"\n"+
		"  + b1  CN=B1,O=certroll test  sha256 "+fpHex(b1.Cert)[:16]+"\n"+
		"  ~ old-name -> new-name  CN=Renamed,O=certroll test  sha256 "+fpHex(renamed.Cert)[:16]+"\n", d.String())

	data, err := json.Marshal(d)
	require.NoError(t, err)
	assert.Contains(t, string(data), `"only_in_a":[{"alias":"a1"`)
	assert.Contains(t, string(data), `"alias_changed":[{"sha256":"`+fpHex(renamed.Cert)+`"`)

	same := truststore.Diff(a, a)
	assert.True(t, equalSets(same))
	assert.Equal(t, 3, same.Common)
}

func TestExpiring(t *testing.T) {
	expired := testpki.NewRoot(t, "Expired", testpki.Expired())
	soon := testpki.NewRoot(t, "Soon", testpki.Validity(testpki.Now.Add(-time.Hour), testpki.Now.Add(10*24*time.Hour)))
	later := testpki.NewRoot(t, "Later", testpki.Validity(testpki.Now.Add(-time.Hour), testpki.Now.Add(60*24*time.Hour)))
	s := bundleOf(t, truststore.Entry{Alias: "later", Cert: later.Cert}, truststore.Entry{Alias: "soon", Cert: soon.Cert}, truststore.Entry{Alias: "expired", Cert: expired.Cert})

	tests := []struct {
		name   string
		within time.Duration
		want   []string
	}{
		{"30 days", 30 * 24 * time.Hour, []string{"expired", "soon"}},
		{"90 days, earliest first", 90 * 24 * time.Hour, []string{"expired", "soon", "later"}},
		{"zero window lists the expired", 0, []string{"expired"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.Expiring(tt.within, testpki.Now)
			var got []string
			for _, c := range r.Certificates {
				got = append(got, c.Alias)
			}
			assert.Equal(t, tt.want, got)
			assert.True(t, r.Certificates[0].NotAfter.Before(r.Now), "expired")
		})
	}
	r := s.Expiring(30*24*time.Hour, testpki.Now)
	assert.Equal(t, "2 certificates expired or expiring within 30 days of 2026-01-01\n"+
		"  expired  CN=Expired,O=certroll test  not after 2025-12-31T00:00:00Z (expired 1 day ago)\n"+
		"  soon  CN=Soon,O=certroll test  not after 2026-01-11T00:00:00Z (expires in 10 days)\n", r.String())
	data, err := json.Marshal(r)
	require.NoError(t, err)
	assert.Contains(t, string(data), `"expired":true,"remaining_ns":-86400000000000`)
}

func TestCertPoolAndAccessors(t *testing.T) {
	root := testpki.NewRoot(t, "Root")
	leaf := root.Intermediate(t, "Issuing").Leaf(t, "client")
	other := testpki.NewRoot(t, "Other")
	s, err := fromCertificates(root.Cert, other.Cert, root.Cert)
	require.NoError(t, err)
	assert.Equal(t, 2, size(s))
	assert.Equal(t, []*x509.Certificate{root.Cert, other.Cert}, s.Certificates())
	assert.Equal(t, []string{truststore.DeriveAlias(root.Cert), truststore.DeriveAlias(other.Cert)}, s.Aliases())
	assert.True(t, s.ContainsCert(root.Cert))
	assert.False(t, s.ContainsCert(leaf.Cert))
	got, err := s.Certificate(strings.ToUpper(truststore.DeriveAlias(other.Cert)))
	require.NoError(t, err)
	assert.Same(t, other.Cert, got)
	ks, err := s.Store()
	assert.NoError(t, err)
	assert.Nil(t, ks, "a PEM bundle has no keystore")

	opts := x509.VerifyOptions{Roots: certPool(s), CurrentTime: testpki.Now, Intermediates: testpki.Pool(leaf.Chain[1:]...),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	chains, err := leaf.Cert.Verify(opts)
	require.NoError(t, err)
	assert.Equal(t, root.Cert, chains[0][len(chains[0])-1])

	empty := truststore.New(truststore.JKS)
	opts.Roots = certPool(empty)
	_, err = leaf.Cert.Verify(opts)
	assert.Error(t, err, "an empty set trusts nothing")
}

// TestCertInfoNames checks that the names a report prints when asked are
// those crypto/x509 prints, for a root (issuer = subject), an intermediate
// and a leaf of real CAs, and are empty for a CertInfo made by the caller.
func TestCertInfoNames(t *testing.T) {
	cacerts, err := truststore.Open(cacertsPath, storePassword)
	require.NoError(t, err)
	root := cacerts.Entries()[0].Cert
	inter := pemCert(t, "testdata/letsencryptx3.pem")
	leaf := pemCert(t, "testdata/cryptography.io.pem")
	s := truststore.New(truststore.PEMBundle)
	rep, err := s.Merge(truststore.Certs(root, inter, leaf, root), opts)
	require.NoError(t, err)
	require.Len(t, rep.Added, 2)
	require.Len(t, rep.LeftOut, 1)
	require.Len(t, rep.Skipped, 1)

	tests := []struct {
		name string
		info truststore.CertInfo
		cert *x509.Certificate
	}{
		{"root", rep.Added[0].CertInfo, root},
		{"intermediate", rep.Added[1].CertInfo, inter},
		{"leaf left out", rep.LeftOut[0].CertInfo, leaf},
		{"root skipped", rep.Skipped[0].CertInfo, root},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.cert.Subject.String(), tt.info.Subject())
			assert.Equal(t, tt.cert.Issuer.String(), tt.info.Issuer())
			assert.Equal(t, keystore.CertFingerprint(tt.cert), tt.info.SHA256)
		})
	}
	assert.NotEqual(t, rep.LeftOut[0].Subject(), rep.LeftOut[0].Issuer())

	var zero truststore.CertInfo
	assert.Equal(t, "", zero.Subject())
	assert.Equal(t, "", zero.Issuer())
	byHand := truststore.CertInfo{Alias: "by-hand", SHA256: keystore.CertFingerprint(root)}
	assert.Equal(t, "", byHand.Subject())

	// Decoding keeps everything but the names, which need the certificate.
	data, err := json.Marshal(rep.Added[1].CertInfo)
	require.NoError(t, err)
	var back truststore.CertInfo
	require.NoError(t, json.Unmarshal(data, &back))
	assert.Equal(t, rep.Added[1].Alias, back.Alias)
	assert.Equal(t, rep.Added[1].SHA256, back.SHA256)
	assert.True(t, rep.Added[1].NotAfter.Equal(back.NotAfter))
	assert.Equal(t, "", back.Subject())
}
