package keystore

import (
	"bytes"
	"crypto/x509"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	kgo "github.com/pavlo-v-chernykh/keystore-go/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/internal/testpki"
)

// TestJKSLargeStoreEdits edits the 10,000-entry store of the benchmarks
// (written by keystore-go) as the codec's fast path does: untouched, it is
// written back byte for byte, from Open's buffer and from Parse's copy
// (which does not share the caller's bytes); after Replace, Delete, Rename
// and Set (runs of untouched entries copied, changed ones encoded) the
// file Save writes is read by keystore-go, the reference codec, with every
// entry as expected, and listed by keytool with the new certificate's
// fingerprint under the replaced alias.
func TestJKSLargeStoreEdits(t *testing.T) {
	const n = 10000
	pw := []byte(jksBenchPassword)
	data := jksBenchFile(t, n)
	leaf := jksBench.leaf
	dir := t.TempDir()
	path := filepath.Join(dir, "big.jks")
	require.NoError(t, os.WriteFile(path, data, 0o600))

	t.Run("untouched", func(t *testing.T) {
		s, err := Open(path, pw, nil)
		require.NoError(t, err)
		out, err := s.Marshal(pw)
		require.NoError(t, err)
		assert.True(t, bytes.Equal(data, out), "Open+Marshal of an untouched store changed its bytes")

		in := bytes.Clone(data)
		s, err = Parse(in, pw, nil)
		require.NoError(t, err)
		clear(in) // the caller reuses its buffer
		out, err = s.Marshal(pw)
		require.NoError(t, err)
		assert.True(t, bytes.Equal(data, out), "Parse kept the caller's bytes instead of a copy")
		e, err := s.Entry("ca-00001")
		require.NoError(t, err)
		assert.Equal(t, "Bench CA 00001", e.Chain[0].Subject.CommonName)
	})

	s, err := Open(path, pw, &StoreOptions{Now: func() time.Time { return testpki.Now }})
	require.NoError(t, err)
	_, err = s.Replace("tenant-client", leaf.Key, leaf.Chain, nil)
	require.NoError(t, err)
	require.NoError(t, s.Delete("ca-04242"))
	require.NoError(t, s.Rename("ca-00007", "Renamed-7"))
	extra := testpki.NewRoot(t, "Large Extra Root")
	require.NoError(t, s.Set(&Entry{Alias: "extra", Chain: []*x509.Certificate{extra.Cert}}, nil))
	require.NoError(t, s.Save(path, pw, nil))

	// keystore-go reads what was saved.
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	ks := kgo.New()
	require.NoError(t, ks.Load(f, pw))
	aliases := ks.Aliases()
	require.Equal(t, n, len(aliases)) // one deleted, one added
	has := map[string]bool{}
	for _, a := range aliases {
		has[a] = true
	}
	assert.False(t, has["ca-04242"], "the deleted alias is still there")
	assert.False(t, has["ca-00007"], "the renamed alias is still there")
	pk, err := ks.GetPrivateKeyEntry("tenant-client", pw)
	require.NoError(t, err)
	wantKey, err := x509.MarshalPKCS8PrivateKey(leaf.Key)
	require.NoError(t, err)
	assert.Equal(t, wantKey, pk.PrivateKey, "keystore-go decrypts another key under the replaced alias")
	require.Len(t, pk.CertificateChain, len(leaf.Chain))
	for i, c := range leaf.Chain {
		assert.Equal(t, c.Raw, pk.CertificateChain[i].Content, "chain certificate %d", i)
	}
	orig := kgo.New()
	require.NoError(t, orig.Load(bytes.NewReader(data), pw))
	for i := 1; i < n; i++ {
		alias := "ca-" + strconv.Itoa(100000 + i)[1:]
		want, err := orig.GetTrustedCertificateEntry(alias)
		require.NoError(t, err)
		switch alias {
		case "ca-04242":
			continue
		case "ca-00007":
			alias = "renamed-7" // new aliases are lower-cased, as Java stores them
		}
		got, err := ks.GetTrustedCertificateEntry(alias)
		require.NoError(t, err, alias)
		if !bytes.Equal(want.Certificate.Content, got.Certificate.Content) || !got.CreationTime.Equal(want.CreationTime) {
			t.Fatalf("entry %q differs after the edit", alias)
		}
	}
	got, err := ks.GetTrustedCertificateEntry("extra")
	require.NoError(t, err)
	assert.Equal(t, extra.Cert.Raw, got.Certificate.Content)

	t.Run("many changes", func(t *testing.T) {
		// More changed entries than SaveLocked writes one by one: it
		// joins the parts first, and the file is the same as Marshal's.
		s, err := Open(path, pw, nil)
		require.NoError(t, err)
		for i := 100; i < n; i += 100 {
			require.NoError(t, s.Rename("ca-"+strconv.Itoa(100000 + i)[1:], "moved-"+strconv.Itoa(i)))
		}
		want, err := s.Marshal(pw)
		require.NoError(t, err)
		require.NoError(t, s.Save(path, pw, nil))
		saved, err := os.ReadFile(path)
		require.NoError(t, err)
		assert.True(t, bytes.Equal(want, saved), "Save wrote other bytes than Marshal returns")
		ks := kgo.New()
		require.NoError(t, ks.Load(bytes.NewReader(saved), pw))
		assert.Equal(t, n, len(ks.Aliases()))
		moved, err := ks.GetTrustedCertificateEntry("moved-4200")
		require.NoError(t, err)
		assert.Equal(t, jksBench.roots[4200-1].Raw, moved.Certificate.Content)
	})

	// keytool lists it: the count, and the new leaf under the replaced alias.
	t.Setenv("CERTROLL_TEST_STOREPASS", string(pw))
	out := runKeytool(t, "-list", "-keystore", path, "-storetype", "JKS", "-storepass:env", "CERTROLL_TEST_STOREPASS")
	count := -1
	var fp string
	lines := strings.Split(out, "\n")
	for i, line := range lines {
		if rest, ok := strings.CutPrefix(line, "Your keystore contains "); ok {
			// keytool groups digits by the locale ("10,000").
			count, err = strconv.Atoi(strings.ReplaceAll(strings.Fields(rest)[0], ",", ""))
			require.NoError(t, err, "keytool line %q", line)
		}
		if strings.HasPrefix(line, "tenant-client,") && i+1 < len(lines) {
			require.Contains(t, line, "PrivateKeyEntry")
			fp = strings.TrimSpace(strings.TrimPrefix(lines[i+1], "Certificate fingerprint (SHA-256):"))
		}
	}
	assert.Equal(t, n, count, "the entry count keytool announces")
	assert.Equal(t, CertFingerprint(leaf.Cert).String(), fp, "keytool's fingerprint of tenant-client")
}
