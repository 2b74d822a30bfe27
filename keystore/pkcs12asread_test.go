package keystore

import (
	"crypto/x509"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/internal/testpki"
)

// TestPKCS12WriteAsRead: a store with a few entries changed is written
// from the bags read, without building the untouched chains
// (encodeAsRead), and reads back as the general path's output does:
// the same entries, chains, other certificates and kept bags.
func TestPKCS12WriteAsRead(t *testing.T) {
	pw := []byte("changeit")
	root := testpki.NewRoot(t, "AsRead Root")
	ca := root.Intermediate(t, "AsRead CA")
	own := testpki.NewRoot(t, "AsRead Own Root").Intermediate(t, "AsRead Own CA")
	s := withProfile(New(PKCS12, &StoreOptions{Now: p12Clock}), Modern.WithIterations(1))
	for _, name := range []string{"a", "b", "c", "e"} {
		l := ca.Leaf(t, name)
		require.NoError(t, s.Set(&Entry{Alias: name, Key: l.Key, Chain: l.Chain}, nil))
	}
	// Six entries with localKeyIds a millisecond apart: a new entry
	// created at the first moves past them (newLocalKeyID).
	base := time.UnixMilli(p12Clock().UnixMilli() + 7_000).UTC()
	for i := range 6 {
		l := ca.Leaf(t, fmt.Sprintf("t%d", i))
		require.NoError(t, s.Set(&Entry{Alias: l.Cert.Subject.CommonName, Key: l.Key, Chain: l.Chain, Created: base.Add(time.Duration(i) * time.Millisecond)}, nil))
	}
	l := own.Leaf(t, "own")
	require.NoError(t, s.Set(&Entry{Alias: "own", Key: l.Key, Chain: l.Chain}, nil))
	require.NoError(t, s.Set(&Entry{Alias: "ca", Chain: []*x509.Certificate{ca.Cert}}, nil))
	require.NoError(t, s.Set(&Entry{Alias: "root", Chain: []*x509.Certificate{root.Cert}}, nil))
	data, err := s.Marshal(pw)
	require.NoError(t, err)

	newRoot := testpki.NewRoot(t, "AsRead New Root")
	twin := testpki.NewRoot(t, "AsRead Root").Intermediate(t, "AsRead CA") // another CA with the same subject
	fromNew, fromCA, added, fromTwin := newRoot.Leaf(t, "a"), ca.Leaf(t, "a"), ca.Leaf(t, "d"), twin.Leaf(t, "a")
	for _, c := range []struct {
		name   string
		edit   func(t *testing.T, s *Store)
		asRead bool // written by encodeAsRead
	}{
		{"replace, new root", func(t *testing.T, s *Store) {
			n := fromNew
			_, err := s.Replace("a", n.Key, []*x509.Certificate{n.Cert}, nil)
			require.NoError(t, err)
		}, true},
		{"replace, same CA", func(t *testing.T, s *Store) {
			n := fromCA
			_, err := s.Replace("a", n.Key, n.Chain, nil)
			require.NoError(t, err)
		}, true},
		{"delete the entry with its own CA", func(t *testing.T, s *Store) { require.NoError(t, s.Delete("own")) }, true},
		{"delete the trusted CA in the chains", func(t *testing.T, s *Store) { require.NoError(t, s.Delete("ca")) }, true},
		{"rename", func(t *testing.T, s *Store) { require.NoError(t, s.Rename("c", "c2")) }, true},
		{"add", func(t *testing.T, s *Store) {
			n := added
			require.NoError(t, s.Set(&Entry{Alias: "d", Key: n.Key, Chain: n.Chain}, nil))
		}, true},
		{"add at a taken localKeyId", func(t *testing.T, s *Store) {
			require.NoError(t, s.Set(&Entry{Alias: "late", Key: added.Key, Chain: added.Chain, Created: base}, nil))
		}, true},
		{"rename a trusted entry", func(t *testing.T, s *Store) { require.NoError(t, s.Rename("ca", "ca2")) }, false},
		{"replace with a CA of a subject already read", func(t *testing.T, s *Store) {
			n := fromTwin
			_, err := s.Replace("a", n.Key, n.Chain, nil)
			require.NoError(t, err)
		}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			fast, err := Parse(data, pw, &StoreOptions{Now: p12Clock}) // new entries dated alike
			require.NoError(t, err)
			slow, err := Parse(data, pw, &StoreOptions{Now: p12Clock})
			require.NoError(t, err)
			slow.codec.(*pkcs12Codec).resolve() // every chain built: the general path
			c.edit(t, fast)
			c.edit(t, slow)
			fastOut, err := fast.Marshal(pw)
			require.NoError(t, err)
			slowOut, err := slow.Marshal(pw)
			require.NoError(t, err)
			pending := false
			for _, r := range fast.recs {
				pending = pending || r.chainPending
			}
			assert.Equal(t, c.asRead, pending, "untouched chains left unbuilt")
			assert.Equal(t, p12Readback(t, slowOut, pw), p12Readback(t, fastOut, pw))
		})
	}
}

// p12Readback is what a store reads back as: each entry's kind and
// chain, their order, the other certificates and the kept bags.
func p12Readback(t *testing.T, data, pw []byte) map[string]any {
	t.Helper()
	s, err := Parse(data, pw, &StoreOptions{Now: p12Clock}) // trusted entries are dated when read
	require.NoError(t, err)
	out := map[string]any{}
	for _, a := range s.Aliases() {
		k, err := s.Kind(a)
		require.NoError(t, err)
		chain, err := s.Certificates(a)
		require.NoError(t, err)
		var names []string
		for _, c := range chain {
			names = append(names, CertFingerprint(c).String())
		}
		out[a] = []any{k, names, s.recs[s.find(a)].created}
	}
	other, err := s.OtherCertificates()
	require.NoError(t, err)
	var names []string
	for _, c := range other {
		names = append(names, CertFingerprint(c).String())
	}
	out["(other)"] = names
	out["(kept)"] = s.keptBags()
	out["(order)"] = s.Aliases()
	return out
}
