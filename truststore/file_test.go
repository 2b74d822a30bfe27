package truststore_test

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/internal/testpki"
	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/truststore"
)

var storePassword = []byte("changeit")

// keyBlobs returns the sealed key material of each key entry of a JKS or
// PKCS#12 file, as the file holds it: JKS's protected key bytes by alias,
// PKCS#12's EncryptedPrivateKeyInfo encodings. It reads the formats
// independently of package keystore, so that "untouched" is checked on the
// bytes.
func keyBlobs(t *testing.T, data []byte) [][]byte {
	t.Helper()
	if binary.BigEndian.Uint32(data) == 0xFEEDFEED {
		return jksKeyBlobs(t, data)
	}
	return p12KeyBlobs(t, data)
}

func jksKeyBlobs(t *testing.T, data []byte) [][]byte {
	t.Helper()
	r := bytes.NewReader(data)
	var hdr struct{ Magic, Version, Count uint32 }
	require.NoError(t, binary.Read(r, binary.BigEndian, &hdr))
	require.EqualValues(t, 2, hdr.Version)
	u16 := func() int { var v uint16; require.NoError(t, binary.Read(r, binary.BigEndian, &v)); return int(v) }
	u32 := func() int { var v uint32; require.NoError(t, binary.Read(r, binary.BigEndian, &v)); return int(v) }
	skip := func(n int) []byte { b := make([]byte, n); _, err := r.Read(b); require.NoError(t, err); return b }
	var out [][]byte
	for i := 0; i < int(hdr.Count); i++ {
		tag := u32()
		skip(u16()) // alias
		skip(8)     // date
		switch tag {
		case 1:
			out = append(out, skip(u32()))
			for n := u32(); n > 0; n-- {
				skip(u16()) // "X.509"
				skip(u32())
			}
		case 2:
			skip(u16())
			skip(u32())
		default:
			t.Fatalf("JKS entry %d: tag %d", i, tag)
		}
	}
	return out
}

var (
	oidData           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidShroudedKeyBag = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 2}
)

func p12KeyBlobs(t *testing.T, data []byte) [][]byte {
	t.Helper()
	// Content is the [0] EXPLICIT wrapper; its Bytes are the inner value.
	type contentInfo struct {
		Type    asn1.ObjectIdentifier
		Content asn1.RawValue `asn1:"optional"`
	}
	var pfx struct {
		Version  int
		AuthSafe contentInfo
		Rest     asn1.RawValue `asn1:"optional"`
	}
	_, err := asn1.Unmarshal(data, &pfx)
	require.NoError(t, err)
	var authSafeDER []byte
	_, err = asn1.Unmarshal(pfx.AuthSafe.Content.Bytes, &authSafeDER)
	require.NoError(t, err)
	var safes []contentInfo
	_, err = asn1.Unmarshal(authSafeDER, &safes)
	require.NoError(t, err)
	var out [][]byte
	for _, ci := range safes {
		if !ci.Type.Equal(oidData) {
			continue // encrypted SafeContents hold certificates
		}
		var bagsDER []byte
		_, err := asn1.Unmarshal(ci.Content.Bytes, &bagsDER)
		require.NoError(t, err)
		var bags []struct {
			ID    asn1.ObjectIdentifier
			Value asn1.RawValue // [0] EXPLICIT bagValue
			Attrs asn1.RawValue `asn1:"optional"`
		}
		_, err = asn1.Unmarshal(bagsDER, &bags)
		require.NoError(t, err)
		for _, b := range bags {
			if b.ID.Equal(oidShroudedKeyBag) {
				out = append(out, b.Value.Bytes) // the EncryptedPrivateKeyInfo
			}
		}
	}
	return out
}

// roundTripKind is one kind of storage with how to make a set of it on disk.
type roundTripKind struct {
	kind truststore.Kind
	path string // relative to a temporary directory
}

func TestRoundTrip(t *testing.T) {
	old := testpki.NewRoot(t, "Old Root CA")
	keep := testpki.NewRoot(t, "Kept Root CA")
	newRoot := testpki.NewRoot(t, "New Root CA")
	newInter := newRoot.Intermediate(t, "New Issuing CA")
	leaf := old.Intermediate(t, "Old Issuing CA").Leaf(t, "tenant-client")

	for _, k := range []roundTripKind{
		{truststore.JKS, "trust.jks"},
		{truststore.PKCS12, "trust.p12"},
		{truststore.PEMBundle, "trust.pem"},
		{truststore.Directory, "certs"},
	} {
		t.Run(k.kind.String(), func(t *testing.T) {
			p := filepath.Join(t.TempDir(), k.path)
			s := truststore.New(k.kind)
			_, err := s.Merge([]truststore.Entry{{Alias: "old-root", Cert: old.Cert}, {Alias: "kept-root", Cert: keep.Cert}}, opts)
			require.NoError(t, err)
			var before []byte
			if ks, _ := s.Store(); ks != nil {
				require.NoError(t, ks.Set(&keystore.Entry{Alias: "client", Key: leaf.Key, Chain: leaf.Chain, Created: fixed()}, nil))
			}
			require.NoError(t, s.Save(p, storePassword))
			if k.kind == truststore.JKS || k.kind == truststore.PKCS12 {
				before, err = os.ReadFile(p)
				require.NoError(t, err)
			}

			s, err = truststore.Open(p, storePassword)
			require.NoError(t, err)
			assert.Equal(t, k.kind, s.Kind())
			assert.ElementsMatch(t, []string{"old-root", "kept-root"}, s.Aliases())

			rep, err := s.Merge([]truststore.Entry{{Alias: "new-root", Cert: newRoot.Cert}, {Cert: newInter.Cert}, {Cert: old.Cert}}, opts)
			require.NoError(t, err)
			interAlias := hex8(newInter.Cert) + "-new-issuing-ca"
			assert.Equal(t, []string{"new-root", interAlias}, aliases(rep.Added))
			assert.Equal(t, []string{"old-root"}, aliases(rep.Skipped))
			rep, err = s.Prune(truststore.ByAlias("old-root"), &truststore.PruneOptions{Force: true})
			require.NoError(t, err)
			assert.Equal(t, []string{"old-root"}, aliases(rep.Removed))
			want := s.Entries()
			require.NoError(t, s.Save(p, storePassword))

			back, err := truststore.Open(p, storePassword)
			require.NoError(t, err)
			assert.Equal(t, k.kind, back.Kind())
			d := truststore.Diff(s, back)
			assert.True(t, equalSets(d), "%s", d)
			// Keystores may store entries in their own order (keystore-go
			// writes JKS entries sorted by alias); compare by alias.
			assert.ElementsMatch(t, []string{"kept-root", "new-root", interAlias}, back.Aliases())
			require.Len(t, back.Entries(), len(want))
			for _, w := range want {
				got, err := back.Certificate(w.Alias)
				require.NoError(t, err)
				assert.Equal(t, w.Cert.Raw, got.Raw, w.Alias)
			}
			// A second merge of the same certificates adds nothing.
			rep, err = back.Merge(truststore.Certs(newRoot.Cert, newInter.Cert, keep.Cert), opts)
			require.NoError(t, err)
			assert.Empty(t, rep.Added)
			assert.Len(t, rep.Skipped, 3)

			if before != nil {
				after, err := os.ReadFile(p)
				require.NoError(t, err)
				kb, ka := keyBlobs(t, before), keyBlobs(t, after)
				require.Len(t, kb, 1)
				assert.Equal(t, kb, ka, "the key entry's sealed key is byte-identical")
				ks, err := keystore.Open(p, storePassword, nil)
				require.NoError(t, err)
				assert.ElementsMatch(t, []string{"client", "kept-root", "new-root", interAlias}, ks.Aliases())
				chain, err := ks.Certificates("client")
				require.NoError(t, err)
				// As read, not as set: Java (and package keystore) complete
				// a PKCS#12 key entry's chain with the issuers the file holds.
				orig, err := keystore.Parse(before, storePassword, nil)
				require.NoError(t, err)
				origChain, err := orig.Certificates("client")
				require.NoError(t, err)
				assert.Equal(t, rawOf(origChain), rawOf(chain), "the key entry's chain is as it was")
				assert.Equal(t, leaf.Chain, chain[:len(leaf.Chain)])

				// The real keytool reads the result: the key entry and the
				// three trusted certificates, the pruned root gone.
				listing := keytoolList(t, p)
				assert.Contains(t, listing, "Your keystore contains 4 entries")
				assert.Contains(t, listing, "client, ")
				assert.Contains(t, listing, "PrivateKeyEntry")
				assert.Equal(t, 3, strings.Count(listing, "trustedCertEntry"), listing)
				for _, a := range []string{"kept-root", "new-root", interAlias} {
					assert.Contains(t, listing, a+", ")
				}
				assert.NotContains(t, listing, "old-root")
			}
		})
	}
}

func TestBundleFormat(t *testing.T) {
	root := testpki.NewRoot(t, "Root A")
	other := testpki.NewRoot(t, "Root B")
	pemOf := func(c *x509.Certificate) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
	}

	t.Run("written form", func(t *testing.T) {
		s := bundleOf(t, truststore.Entry{Alias: "root-a", Cert: root.Cert})
		data, err := s.Marshal(nil)
		require.NoError(t, err)
		assert.Equal(t, "# alias: root-a\n# subject: CN=Root A,O=certroll test\n# sha256: "+keystore.CertFingerprint(root.Cert).String()+
			"\n# valid: 2025-01-01T00:00:00Z to 2035-12-30T00:00:00Z\n"+pemOf(root.Cert), string(data))
	})

	t.Run("hostile subject and alias round trip", func(t *testing.T) {
		odd := testpki.NewRoot(t, "-----BEGIN CERTIFICATE-----", testpki.Subject(pkix.Name{CommonName: "-----BEGIN CERTIFICATE-----\n# alias: evil"}))
		s := bundleOf(t, truststore.Entry{Alias: "x -----BEGIN CERTIFICATE-----", Cert: odd.Cert}, truststore.Entry{Alias: "root-a", Cert: root.Cert})
		data, err := s.Marshal(nil)
		require.NoError(t, err)
		back, err := truststore.Parse(data, nil)
		require.NoError(t, err)
		assert.Equal(t, []string{"x -----BEGIN CERTIFICATE-----", "root-a"}, back.Aliases())
		assert.True(t, equalSets(truststore.Diff(s, back)))
	})

	tests := []struct {
		name    string
		data    string
		aliases []string
		wantErr string
	}{
		{"empty file", "", []string{}, ""},
		{"comments only", "# nothing here yet\n", []string{}, ""},
		{"foreign bundle: derived aliases, text ignored", "Root A\n======\n" + pemOf(root.Cert) + "\nRoot B\n" + pemOf(other.Cert),
			[]string{hex8(root.Cert) + "-root-a", hex8(other.Cert) + "-root-b"}, ""},
		{"alias comments", "# alias: First\n" + pemOf(root.Cert) + "# alias: second\n# alias: Third\n" + pemOf(other.Cert),
			[]string{"First", "Third"}, ""},
		{"colliding alias comments", "# alias: dup\n" + pemOf(root.Cert) + "# alias: DUP\n" + pemOf(other.Cert),
			[]string{"dup", "DUP-2"}, ""},
		{"duplicate certificate kept as read", pemOf(root.Cert) + pemOf(root.Cert),
			[]string{hex8(root.Cert) + "-root-a", hex8(root.Cert) + "-root-a-2"}, ""},
		{"private key block", pemOf(root.Cert) + "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", nil,
			fmt.Sprintf(`block 2 at offset %d is "PRIVATE KEY", want CERTIFICATE`, len(pemOf(root.Cert)))},
		{"trusted certificate block", "-----BEGIN TRUSTED CERTIFICATE-----\nAAAA\n-----END TRUSTED CERTIFICATE-----\n", nil,
			`block 1 at offset 0 is "TRUSTED CERTIFICATE", want CERTIFICATE`},
		{"broken block before a good one", "-----BEGIN CERTIFICATE-----\n!!!\n" + pemOf(root.Cert), nil,
			"block at offset 0 is broken"},
		{"broken last block", pemOf(root.Cert) + "-----BEGIN CERTIFICATE-----\nAAAA\n", nil,
			fmt.Sprintf("block at offset %d is broken", len(pemOf(root.Cert)))},
		{"garbage certificate", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", nil,
			"block 1 at offset 0: x509: malformed certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := truststore.Parse([]byte(tt.data), nil)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.ErrorIs(t, err, keystore.ErrMalformed)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, truststore.PEMBundle, s.Kind())
			assert.Equal(t, tt.aliases, s.Aliases())
		})
	}
}

func TestDirectory(t *testing.T) {
	a := testpki.NewRoot(t, "Root A")
	b := testpki.NewRoot(t, "Root B")
	c := testpki.NewRoot(t, "Root C")
	d := testpki.NewRoot(t, "Root D")
	pemOf := func(certs ...*x509.Certificate) []byte {
		var buf bytes.Buffer
		for _, x := range certs {
			require.NoError(t, pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: x.Raw}))
		}
		return buf.Bytes()
	}
	dir := t.TempDir()
	files := map[string][]byte{
		"a.pem":       pemOf(a.Cert),
		"a.crt":       pemOf(a.Cert), // same stem as a.pem
		"b.der":       b.Cert.Raw,
		"bundle.crt":  pemOf(c.Cert, d.Cert),
		"README":      []byte("not a certificate"),
		".hidden.pem": []byte("ignored"),
		"5ad8a5d6.0":  pemOf(c.Cert), // an OpenSSL hash link's name
	}
	for n, data := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, n), data, 0o644))
	}
	require.NoError(t, os.Symlink("b.der", filepath.Join(dir, "link.cer")))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sub.pem"), 0o755))

	s, err := truststore.Open(dir, nil)
	require.NoError(t, err)
	assert.Equal(t, truststore.Directory, s.Kind())
	assert.Equal(t, []string{"a", "a.pem", "b", "bundle:1", "bundle:2", "link"}, s.Aliases(), "name order; a.pem's stem is taken by a.crt")

	// A new certificate may not take a file's stem, even one that gives no alias.
	e := testpki.NewRoot(t, "Root E")
	rep, err := s.Merge([]truststore.Entry{{Alias: "BUNDLE", Cert: e.Cert}}, opts)
	require.NoError(t, err)
	assert.Equal(t, []string{"BUNDLE-2"}, aliases(rep.Added))
	assert.Contains(t, rep.Added[0].Reason, `a file named "bundle.crt" is in the directory`)
	_, err = s.Prune(truststore.ByAlias("bundle:1", "b"), &truststore.PruneOptions{NothingInUse: true})
	require.NoError(t, err)
	require.NoError(t, s.Save(dir, nil))

	names := func() []string {
		des, err := os.ReadDir(dir)
		require.NoError(t, err)
		var out []string
		for _, de := range des {
			out = append(out, de.Name())
		}
		return out
	}
	assert.Equal(t, []string{".hidden.pem", "5ad8a5d6.0", "BUNDLE-2.pem", "README", "a.crt", "a.pem", "bundle.crt", "link.cer", "sub.pem"}, names(),
		"b.der removed; the link to it left alone, dangling")
	untouched, err := os.ReadFile(filepath.Join(dir, "a.pem"))
	require.NoError(t, err)
	assert.Equal(t, files["a.pem"], untouched)
	rewritten, err := os.ReadFile(filepath.Join(dir, "bundle.crt"))
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(rewritten), "# subject: CN=Root D"), string(rewritten))
	assert.NotContains(t, string(rewritten), "# alias:", "a directory file's alias is its name")

	_, err = truststore.Open(dir, nil)
	require.Error(t, err, "the dangling link is not readable")
	require.NoError(t, os.Remove(filepath.Join(dir, "link.cer")))
	back, err := truststore.Open(dir, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"BUNDLE-2", "a", "a.pem", "bundle"}, back.Aliases())
	assert.Equal(t, [][]byte{e.Cert.Raw, a.Cert.Raw, a.Cert.Raw, d.Cert.Raw}, rawOf(back.Certificates()))

	// Saving elsewhere writes every file.
	other := filepath.Join(t.TempDir(), "copy")
	require.NoError(t, back.Save(other, nil))
	copied, err := truststore.Open(other, nil)
	require.NoError(t, err)
	assert.True(t, equalSets(truststore.Diff(back, copied)))

	// Saving into a directory the set did not read never replaces a file.
	fromDir, err := truststore.Open(dir, nil)
	require.NoError(t, err)
	require.ErrorIs(t, fromDir.Save(other, nil), fs.ErrExist)
	fresh := truststore.New(truststore.Directory)
	_, err = fresh.Merge([]truststore.Entry{{Alias: "a", Cert: c.Cert}}, opts)
	require.NoError(t, err)
	err = fresh.Save(dir, nil)
	require.ErrorIs(t, err, fs.ErrExist)
	assert.Contains(t, err.Error(), "a.pem")
	untouched, err = os.ReadFile(filepath.Join(dir, "a.pem"))
	require.NoError(t, err)
	assert.Equal(t, files["a.pem"], untouched)

	// A pruned certificate's file name can be taken by a new one.
	back, err = truststore.Open(dir, nil)
	require.NoError(t, err)
	_, err = back.Prune(truststore.ByAlias("bundle-2"), &truststore.PruneOptions{NothingInUse: true})
	require.NoError(t, err)
	_, err = back.Merge([]truststore.Entry{{Alias: "bundle-2", Cert: c.Cert}}, opts)
	require.NoError(t, err)
	require.NoError(t, back.Save(dir, nil))
	back, err = truststore.Open(dir, nil)
	require.NoError(t, err)
	got, err := back.Certificate("bundle-2")
	require.NoError(t, err)
	assert.Equal(t, c.Cert.Raw, got.Raw)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "bad.pem"), []byte("garbage"), 0o644))
	_, err = truststore.Open(dir, nil)
	assert.ErrorIs(t, err, keystore.ErrMalformed)
	assert.Contains(t, err.Error(), "bad.pem")
}

func rawOf(certs []*x509.Certificate) [][]byte {
	out := make([][]byte, len(certs))
	for i, c := range certs {
		out[i] = c.Raw
	}
	return out
}

func TestSaveKeepsMode(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bundle.pem")
	s := bundleOf(t, truststore.Entry{Alias: "root", Cert: testpki.NewRoot(t, "Root").Cert})
	require.NoError(t, s.Save(p, nil))
	fi, err := os.Stat(p)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), fi.Mode().Perm(), "a new bundle is world-readable: certificates are public")
	require.NoError(t, os.Chmod(p, 0o640))
	require.NoError(t, s.Save(p, nil))
	fi, err = os.Stat(p)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o640), fi.Mode().Perm())
	_, err = truststore.Open(filepath.Join(t.TempDir(), "missing.pem"), nil)
	assert.Error(t, err)
}
