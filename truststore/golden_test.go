package truststore_test

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/truststore"
)

var update = flag.Bool("update", false, "rewrite testdata/reports.golden from the reports the code makes")

const reportsGolden = "testdata/reports.golden"

// pemCert reads the one certificate of a PEM file of testdata.
func pemCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	block, _ := pem.Decode(data)
	require.NotNil(t, block, "%s holds a PEM block", path)
	c, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	return c
}

// TestReportsGolden holds the JSON form and the String of every kind of
// report, and the JSON of a CertInfo and a Change on their own, to the
// bytes in testdata/reports.golden. The certificates are real ones, so that
// the names have the attributes and characters CAs use: Debian's Java
// cacerts, a leaf with three OUs (left out of a merge, issuer not its
// subject) and an intermediate CA (added, issuer not its subject), from
// pyca/cryptography's vectors. The golden file was written by the code
// that printed the names eagerly into string fields (go test ./truststore
// -run TestReportsGolden -update, before the names became lazy), so the
// test shows that the lazy names print the same bytes.
func TestReportsGolden(t *testing.T) {
	cacerts, err := truststore.Open(cacertsPath, storePassword)
	require.NoError(t, err)
	roots := cacerts.Entries()
	require.Len(t, roots, 144)
	leaf := pemCert(t, "testdata/cryptography.io.pem")
	inter := pemCert(t, "testdata/letsencryptx3.pem")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	var out strings.Builder
	add := func(name string, v any) {
		data, err := json.Marshal(v)
		require.NoError(t, err, name)
		fmt.Fprintf(&out, "== %s json\n%s\n", name, data)
		if s, ok := v.(fmt.Stringer); ok {
			fmt.Fprintf(&out, "== %s text\n%s", name, s)
		}
	}

	set := truststore.New(truststore.PEMBundle)
	items := append([]truststore.Entry{}, roots[:20]...)
	items = append(items,
		truststore.Entry{Cert: inter},
		truststore.Entry{Cert: leaf},
		roots[0], // a duplicate
		truststore.Entry{Alias: "other", Cert: roots[0].Cert},         // a duplicate under another alias
		truststore.Entry{Alias: roots[1].Alias, Cert: roots[30].Cert}, // renamed: the alias is taken
	)
	merge, err := set.Merge(items, &truststore.MergeOptions{Now: fixed})
	require.NoError(t, err)
	require.Len(t, merge.Added, 22)
	require.Len(t, merge.LeftOut, 1)
	add("merge", merge)
	add("merge value", *merge)
	add("added change", merge.Added[20])
	add("added change pointer", &merge.Added[20])
	add("added certinfo", merge.Added[20].CertInfo)
	add("left out change", merge.LeftOut[0])
	add("changes", merge.Added[:3])

	again, err := set.Merge(items[:5], &truststore.MergeOptions{Now: fixed})
	require.NoError(t, err)
	add("merge again", again)

	pinned := []truststore.Dependent{{Name: "pinned", Chain: []*x509.Certificate{roots[2].Cert}}}
	refused, err := set.Prune(truststore.ByAlias(roots[2].Alias, roots[3].Alias), &truststore.PruneOptions{InUse: pinned})
	require.ErrorIs(t, err, truststore.ErrInUse)
	fmt.Fprintf(&out, "== prune refused error\n%s\n", err)
	add("prune refused", refused)
	forced, err := set.Prune(truststore.ByAlias(roots[2].Alias), &truststore.PruneOptions{InUse: pinned, Force: true})
	require.NoError(t, err)
	add("prune forced", forced)
	removed, err := set.Prune(truststore.ByAlias(roots[4].Alias), &truststore.PruneOptions{NothingInUse: true})
	require.NoError(t, err)
	add("prune", removed)

	other := truststore.New(truststore.JKS)
	_, err = other.Merge(roots[:32], &truststore.MergeOptions{Now: fixed})
	require.NoError(t, err)
	d := truststore.Diff(other, set)
	require.NotEmpty(t, d.AliasChanged)
	add("diff", d)
	add("diff value", *d)
	add("expiring", set.Expiring(5*365*24*time.Hour, now))
	add("expiring cacerts", cacerts.Expiring(3*365*24*time.Hour, now))

	// Made by the caller: no certificate, so empty names.
	add("zero certinfo", truststore.CertInfo{})
	add("zero change", truststore.Change{})
	add("caller's certinfo", truststore.CertInfo{Alias: "by-hand", SHA256: merge.Added[0].SHA256, NotAfter: now})
	add("caller's change", truststore.Change{CertInfo: truststore.CertInfo{Alias: "by-hand"}, ReissueOf: []string{"a"}, Reason: "why"})

	if *update {
		require.NoError(t, os.WriteFile(reportsGolden, []byte(out.String()), 0o644))
	}
	want, err := os.ReadFile(reportsGolden)
	require.NoError(t, err)
	assert.Equal(t, string(want), out.String())
}
