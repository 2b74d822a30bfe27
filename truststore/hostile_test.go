package truststore_test

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/internal/hostile"
	"github.com/certroll/certroll/truststore"
)

// TestParseLargeBundles checks the exact result of the bundles that took
// minutes before aliases were allocated in linear time: every block is
// kept as read, in order, the k-th under the wanted alias with "-k".
func TestParseLargeBundles(t *testing.T) {
	t.Run("29,000 copies of one certificate", func(t *testing.T) {
		data := hostile.Copies(29000)
		s, err := truststore.Parse(data, nil)
		require.NoError(t, err)
		require.Equal(t, 29000, size(s))
		block, _ := pem.Decode(data)
		c, err := x509.ParseCertificate(block.Bytes)
		require.NoError(t, err)
		want := truststore.DeriveAlias(c)
		for i, e := range s.Entries() {
			name := want
			if i > 0 {
				name += "-" + strconv.Itoa(i+1)
			}
			require.Equal(t, name, e.Alias)
			require.Equal(t, c.Raw, e.Cert.Raw)
		}
	})
	t.Run(`20,000 certificates under "# alias: x"`, func(t *testing.T) {
		s, err := truststore.Parse(hostile.OneAlias(20000), nil)
		require.NoError(t, err)
		require.Equal(t, 20000, size(s))
		for i, e := range s.Entries() {
			name := "x"
			if i > 0 {
				name += "-" + strconv.Itoa(i+1)
			}
			require.Equal(t, name, e.Alias)
			require.Equal(t, "Hostile "+strconv.Itoa(i), e.Cert.Subject.CommonName)
		}
	})
}

// TestOpenDirCaseVariants checks the aliases of a directory of files whose
// names differ only in case, which all want one alias: the first file
// gets its stem, the second its name, and the k-th its name with "-(k-1)",
// named in linear time.
func TestOpenDirCaseVariants(t *testing.T) {
	dir := t.TempDir()
	block := hostile.Copies(1)
	var names []string
	for i := 0; i < 512; i++ {
		name := []byte("certifica") // nine letters, 512 spellings
		for b := range name {
			if i&(1<<b) != 0 {
				name[b] -= 'a' - 'A'
			}
		}
		names = append(names, string(name)+".pem")
		require.NoError(t, os.WriteFile(filepath.Join(dir, names[i]), block, 0o644))
	}
	sort.Strings(names)
	s, err := truststore.Open(dir, nil)
	require.NoError(t, err)
	require.Equal(t, len(names), size(s))
	for k, e := range s.Entries() {
		want := names[k]
		switch {
		case k == 0:
			want = strings.TrimSuffix(want, ".pem")
		case k >= 2:
			want += "-" + strconv.Itoa(k)
		}
		require.Equal(t, want, e.Alias)
	}
}
