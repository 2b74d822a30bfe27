package keystore

import (
	"crypto/x509"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/internal/testpki"
)

func fixedClock() time.Time { return testpki.Now }

// testStore builds a store with a key entry "Client" (as written: mixed
// case), a second key entry and a trusted root.
func testStore(t *testing.T, f Format) (*Store, *testpki.Leaf, *testpki.CA) {
	t.Helper()
	root := testpki.NewRoot(t, "Old Root")
	inter := root.Intermediate(t, "Old Issuing CA")
	leaf := inter.Leaf(t, "tenant-client")
	other := root.Leaf(t, "other-client")
	s := New(f, &StoreOptions{Now: fixedClock})
	require.NoError(t, s.Set(&Entry{Alias: "Client", Key: leaf.Key, Chain: leaf.Chain}, nil))
	require.NoError(t, s.Set(&Entry{Alias: "other", Key: other.Key, Chain: other.Chain}, nil))
	require.NoError(t, s.Set(&Entry{Alias: "old-root", Chain: []*x509.Certificate{root.Cert}}, nil))
	return s, leaf, root
}

func TestStoreAliasesFollowJava(t *testing.T) {
	s, leaf, _ := testStore(t, JKS)
	assert.Equal(t, []string{"client", "other", "old-root"}, s.Aliases(), "new aliases are stored lower-cased, as Java stores them")
	for _, alias := range []string{"client", "CLIENT", "Client"} {
		t.Run(alias, func(t *testing.T) {
			e, err := s.Entry(alias)
			require.NoError(t, err)
			assert.Equal(t, "client", e.Alias)
			assert.Equal(t, KeyEntry, e.Kind())
			assert.Equal(t, leaf.Cert.Raw, e.Leaf().Raw)
			assert.Equal(t, testpki.Now, e.Created)
		})
	}
	_, err := s.Entry("missing")
	assert.ErrorIs(t, err, ErrAliasNotFound)
	assert.ErrorContains(t, err, `"missing"`)
}

func TestStoreSetValidates(t *testing.T) {
	root := testpki.NewRoot(t, "Root")
	leaf := root.Leaf(t, "a")
	otherLeaf := root.Leaf(t, "b")
	unrelated := testpki.NewRoot(t, "Unrelated")
	tests := []struct {
		name  string
		entry *Entry
		want  error
		text  string
	}{
		{"nil entry", nil, nil, "nil entry"},
		{"empty alias", &Entry{Key: leaf.Key, Chain: leaf.Chain}, nil, "alias must not be empty"},
		{"key without chain", &Entry{Alias: "a", Key: leaf.Key}, nil, "want a certificate chain"},
		{"key of another certificate", &Entry{Alias: "a", Key: otherLeaf.Key, Chain: leaf.Chain}, ErrKeyMismatch, "SHA256:"},
		{"chain not linked", &Entry{Alias: "a", Key: leaf.Key, Chain: []*x509.Certificate{leaf.Cert, unrelated.Cert}}, ErrBrokenChain, "is not signed by certificate 2"},
		{"trusted entry with two certificates", &Entry{Alias: "t", Chain: []*x509.Certificate{root.Cert, unrelated.Cert}}, nil, "want exactly one certificate, got 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New(JKS, nil)
			err := s.Set(tc.entry, nil)
			require.Error(t, err)
			if tc.want != nil {
				assert.ErrorIs(t, err, tc.want)
			}
			assert.ErrorContains(t, err, tc.text)
			assert.Zero(t, len(s.Aliases()), "a refused entry must not be added")
		})
	}
}

func TestStoreReplace(t *testing.T) {
	s, oldLeaf, _ := testStore(t, JKS)
	newRoot := testpki.NewRoot(t, "New Root")
	newLeaf := newRoot.Leaf(t, "tenant-client")
	before, err := allEntries(s)
	require.NoError(t, err)

	prev, err := s.Replace("CLIENT", newLeaf.Key, append(newLeaf.Chain, newRoot.Cert), nil)
	require.NoError(t, err)
	assert.Equal(t, oldLeaf.Cert.Raw, prev.Leaf().Raw, "Replace returns the previous entry")
	assert.Equal(t, []string{"client", "other", "old-root"}, s.Aliases(), "the alias and order are kept")

	e, err := s.Entry("client")
	require.NoError(t, err)
	assert.Equal(t, newLeaf.Cert.Raw, e.Leaf().Raw)
	assert.Len(t, e.Chain, 2)
	after, err := allEntries(s)
	require.NoError(t, err)
	for i := 1; i < len(before); i++ {
		assert.Equal(t, before[i], after[i], "entry %q must be untouched", before[i].Alias)
	}
}

func TestStoreReplaceRefuses(t *testing.T) {
	newRoot := testpki.NewRoot(t, "New Root")
	newLeaf := newRoot.Leaf(t, "tenant-client")
	wrong := newRoot.Leaf(t, "someone-else")
	tests := []struct {
		name  string
		alias string
		run   func(s *Store) error
		want  error
	}{
		{"missing alias", "nope", func(s *Store) error {
			_, err := s.Replace("nope", newLeaf.Key, newLeaf.Chain, nil)
			return err
		}, ErrAliasNotFound},
		{"trusted entry", "old-root", func(s *Store) error {
			_, err := s.Replace("old-root", newLeaf.Key, newLeaf.Chain, nil)
			return err
		}, ErrNotKeyEntry},
		{"key mismatch", "client", func(s *Store) error {
			_, err := s.Replace("client", wrong.Key, newLeaf.Chain, nil)
			return err
		}, ErrKeyMismatch},
		{"broken chain", "client", func(s *Store) error {
			_, err := s.Replace("client", newLeaf.Key, []*x509.Certificate{newLeaf.Cert, testpki.NewRoot(t, "Other").Cert}, nil)
			return err
		}, ErrBrokenChain},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, _, _ := testStore(t, JKS)
			before, err := allEntries(s)
			require.NoError(t, err)
			err = tc.run(s)
			require.ErrorIs(t, err, tc.want)
			after, err := allEntries(s)
			require.NoError(t, err)
			assert.Equal(t, before, after, "a refused Replace changes nothing")
		})
	}
}

func TestStoreReplaceCreateIfMissing(t *testing.T) {
	s := New(PKCS12, &StoreOptions{Now: fixedClock})
	root := testpki.NewRoot(t, "Root")
	leaf := root.Leaf(t, "c")
	prev, err := s.Replace("New-Alias", leaf.Key, leaf.Chain, &ReplaceOptions{Create: true})
	require.NoError(t, err)
	assert.Nil(t, prev)
	assert.Equal(t, []string{"new-alias"}, s.Aliases())
}

func TestStoreKeyMismatchShowsBothKeys(t *testing.T) {
	s, _, _ := testStore(t, JKS)
	other := testpki.NewRoot(t, "R").Leaf(t, "x")
	y := testpki.NewRoot(t, "R2").Leaf(t, "y")
	_, err := s.Replace("client", other.Key, y.Chain, nil)
	require.ErrorIs(t, err, ErrKeyMismatch)
	certKey, stored := KeyFingerprint(y.Cert.PublicKey), KeyFingerprint(other.Key.Public())
	assert.NotEqual(t, certKey, stored)
	assert.Contains(t, err.Error(), certKey.String())
	assert.Contains(t, err.Error(), stored.String())
}

func TestStoreRenameAndDelete(t *testing.T) {
	s, leaf, _ := testStore(t, JKS)
	require.ErrorIs(t, s.Rename("client", "OTHER"), ErrAliasExists)
	require.NoError(t, s.Rename("client", "Renamed"))
	assert.Equal(t, []string{"renamed", "other", "old-root"}, s.Aliases())
	e, err := s.Entry("renamed")
	require.NoError(t, err)
	assert.Equal(t, leaf.Cert.Raw, e.Leaf().Raw)
	assert.Equal(t, testpki.Now, e.Created, "a rename keeps the creation date")

	require.NoError(t, s.Delete("RENAMED"))
	assert.Equal(t, []string{"other", "old-root"}, s.Aliases())
	assert.ErrorIs(t, s.Delete("renamed"), ErrAliasNotFound)
}

func TestStoreEntriesAreCopies(t *testing.T) {
	s, _, _ := testStore(t, JKS)
	e, err := s.Entry("client")
	require.NoError(t, err)
	e.Chain[0] = nil
	e.Alias = "changed"
	again, err := s.Entry("client")
	require.NoError(t, err)
	assert.NotNil(t, again.Chain[0])
	assert.Equal(t, "client", again.Alias)
}

func TestSniff(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want Format
		err  error
		text string
	}{
		{"JKS", []byte{0xFE, 0xED, 0xFE, 0xED, 0, 0, 0, 2}, JKS, nil, ""},
		{"PKCS12", []byte{0x30, 0x82, 0x01, 0x00}, PKCS12, nil, ""},
		{"JCEKS", []byte{0xCE, 0xCE, 0xCE, 0xCE, 0, 0, 0, 2}, formatUnknown, ErrUnsupportedFormat, "-srcstoretype JCEKS"},
		{"BKS", []byte{0, 0, 0, 2, 0, 0, 0, 20}, formatUnknown, ErrUnsupportedFormat, "BKS"},
		{"PEM", []byte("-----BEGIN CERTIFICATE-----\n"), formatUnknown, ErrUnsupportedFormat, "PEM"},
		{"empty", nil, formatUnknown, ErrMalformed, "empty file"},
		{"short", []byte{0xFE, 0xED}, formatUnknown, ErrMalformed, "want 4 bytes"},
		{"garbage", []byte("GIF89a"), formatUnknown, ErrMalformed, "0x47494638"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Sniff(tc.in)
			assert.Equal(t, tc.want, f)
			if tc.err == nil {
				assert.NoError(t, err)
				return
			}
			assert.ErrorIs(t, err, tc.err)
			assert.ErrorContains(t, err, tc.text)
			_, perr := Parse(tc.in, []byte("changeit"), nil)
			assert.ErrorIs(t, perr, tc.err, "Parse reports what Sniff found")
		})
	}
}

func TestSummaries(t *testing.T) {
	s, leaf, root := testStore(t, JKS)
	sums := s.Summaries()
	require.Len(t, sums, 3)
	assert.Equal(t, "client", sums[0].Alias)
	assert.Equal(t, "PrivateKeyEntry", sums[0].Kind.String())
	assert.Equal(t, 2, sums[0].ChainLength, "leaf and intermediate")
	assert.Equal(t, CertFingerprint(leaf.Cert), sums[0].Fingerprint)
	assert.Equal(t, "EC P-256", sums[0].Key)
	assert.Equal(t, "trustedCertEntry", sums[2].Kind.String())
	assert.Equal(t, "CN="+root.Cert.Subject.CommonName+", O=certroll test", sums[2].Subject, "as keytool prints it")
}
