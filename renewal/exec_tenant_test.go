package renewal

import (
	"bytes"
	"context"
	"crypto/x509"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certroll/certroll/chain"
	"github.com/certroll/certroll/keystore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// signPending stages a key for the fixture's tenant and installs the new
// CA's reply, as step 1 does, and returns the new chain.
func signPending(t *testing.T, f *fixture) []*x509.Certificate {
	t.Helper()
	p, err := f.tenant.Stage(f.old.chain[0])
	require.NoError(t, err)
	reply, err := f.newCA.SignCSR(p.CSRPEM)
	require.NoError(t, err)
	res, err := f.tenant.Install(reply, f.newCA.Cert)
	require.NoError(t, err)
	return res.Chain
}

func TestTenantStage(t *testing.T) {
	f := newFixture(t, SequenceOverlap)
	p, err := f.tenant.Stage(f.old.chain[0])
	require.NoError(t, err)
	csrPEM := p.CSRPEM
	assert.False(t, p.Signed)
	require.Len(t, p.Chain, 1)
	assert.True(t, isPlaceholder(p.Chain), "a self-signed placeholder")
	assert.Equal(t, f.old.chain[0].RawSubject, p.Chain[0].RawSubject)
	assert.True(t, chain.KeyMatches(p.Key.Public(), p.Chain[0]))
	csr, err := keystore.ParseCSR(csrPEM)
	require.NoError(t, err)
	assert.Equal(t, f.old.chain[0].RawSubject, csr.RawSubject, "the request asks for the current subject")
	require.NotNil(t, p.CSR)
	assert.Equal(t, csr.Raw, p.CSR.Raw, "the parsed request is the PEM one")
	fi, err := os.Stat(f.tenant.stagingPath())
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o600), fi.Mode().Perm())
	ks, err := keystore.Open(f.tenant.stagingPath(), stagingPassword, nil)
	require.NoError(t, err)
	assert.Equal(t, keystore.PKCS12, ks.Format(), "the staging store has the live keystore's format")

	// Staging again reuses the pending key.
	q, err := f.tenant.Stage(f.old.chain[0])
	require.NoError(t, err)
	assert.True(t, chain.KeyMatches(q.Key.Public(), p.Chain[0]))

	// A reply from the wrong CA is refused and leaves the store as it was.
	before, err := os.ReadFile(f.tenant.stagingPath())
	require.NoError(t, err)
	q, err = f.tenant.Stage(f.old.chain[0])
	require.NoError(t, err)
	csrPEM = q.CSRPEM
	wrong, err := f.partnerCA.SignCSR(csrPEM)
	require.NoError(t, err)
	_, err = f.tenant.Install(wrong, f.newCA.Cert)
	require.ErrorIs(t, err, keystore.ErrUntrustedReply)
	after, err := os.ReadFile(f.tenant.stagingPath())
	require.NoError(t, err)
	assert.True(t, bytes.Equal(before, after))

	// The right reply installs once; installing it again changes nothing.
	reply, err := f.newCA.SignCSR(csrPEM)
	require.NoError(t, err)
	res, err := f.tenant.Install(reply, f.newCA.Cert)
	require.NoError(t, err)
	assert.False(t, res.Unchanged)
	res, err = f.tenant.Install(reply, f.newCA.Cert)
	require.NoError(t, err)
	assert.True(t, res.Unchanged)
	p, err = f.tenant.Pending()
	require.NoError(t, err)
	assert.True(t, p.Signed)
	assert.Equal(t, reply[0].Raw, p.Chain[0].Raw)
}

func TestTenantActivate(t *testing.T) {
	for _, format := range []keystore.Format{keystore.PKCS12, keystore.JKS} {
		t.Run(format.String(), func(t *testing.T) {
			f := newFixture(t, SequenceOverlap, withFormat(format))
			next := signPending(t, f)
			a, err := f.tenant.Activate(f.old.chain[0], next[0])
			require.NoError(t, err)
			assert.False(t, a.already)
			assert.Equal(t, liveAlias, a.alias)
			assert.Equal(t, f.old.chain[0].Raw, a.previous[0].Raw)
			assert.Equal(t, next[0].Raw, a.Chain[0].Raw)
			assert.Equal(t, []string{f.tenant.historyPath(), f.tenant.Keystore, f.tenant.stagingPath()}, a.Files)

			ks, err := keystore.Open(f.tenant.Keystore, livePassword, nil)
			require.NoError(t, err)
			assert.ElementsMatch(t, []string{"partner", liveAlias, "partner-root"}, ks.Aliases(), "the alias and every other entry are kept")
			hist, err := keystore.Open(f.tenant.historyPath(), historyPassword, nil)
			require.NoError(t, err)
			assert.Equal(t, format, hist.Format())

			// Again: nothing left to do.
			live, err := os.ReadFile(f.tenant.Keystore)
			require.NoError(t, err)
			a, err = f.tenant.Activate(f.old.chain[0], next[0])
			require.NoError(t, err)
			assert.True(t, a.already)
			assert.Empty(t, a.Files)
			again, err := os.ReadFile(f.tenant.Keystore)
			require.NoError(t, err)
			assert.True(t, bytes.Equal(live, again))

			// Rollback and activate again.
			r, err := f.tenant.Rollback(f.old.chain[0], next[0])
			require.NoError(t, err)
			assert.Equal(t, f.old.chain[0].Raw, r.Chain[0].Raw)
			assert.Equal(t, next[0].Raw, r.previous[0].Raw)
			r, err = f.tenant.Rollback(f.old.chain[0], next[0])
			require.NoError(t, err)
			assert.True(t, r.already)
			a, err = f.tenant.Activate(f.old.chain[0], next[0])
			require.NoError(t, err)
			assert.False(t, a.already)
			hist, err = keystore.Open(f.tenant.historyPath(), historyPassword, nil)
			require.NoError(t, err)
			assert.Len(t, hist.Aliases(), 1, "the old entry is kept once")
		})
	}
}

func TestTenantRefuses(t *testing.T) {
	// Lock files (empty, made by the keystore's Update) are not content.
	snapshot := func(t *testing.T, f *fixture) map[string][]byte {
		m := f.files(t)
		for p := range m {
			if strings.HasSuffix(p, ".lock") {
				delete(m, p)
			}
		}
		return m
	}
	tests := []struct {
		name  string
		setup func(t *testing.T, f *fixture) (old, next *x509.Certificate)
		act   func(f *fixture, old, next *x509.Certificate) error
		want  string
	}{
		{
			name: "live alias holds a third certificate",
			setup: func(t *testing.T, f *fixture) (*x509.Certificate, *x509.Certificate) {
				next := signPending(t, f)
				require.NoError(t, keystore.Update(context.Background(), f.tenant.Keystore, livePassword, func(s *keystore.Store) error {
					_, err := s.Replace(liveAlias, f.partner.key, f.partner.chain, nil)
					return err
				}, nil))
				return f.old.chain[0], next[0]
			},
			act: func(f *fixture, old, next *x509.Certificate) error {
				_, err := f.tenant.Activate(old, next)
				return err
			},
			want: `holds "CN=partner-client"`,
		},
		{
			name: "nothing staged",
			setup: func(t *testing.T, f *fixture) (*x509.Certificate, *x509.Certificate) {
				return f.old.chain[0], issue(t, f.newCA, "tenant-client", keystore.ECDSAP256).chain[0]
			},
			act: func(f *fixture, old, next *x509.Certificate) error {
				_, err := f.tenant.Activate(old, next)
				return err
			},
			want: "holds no signed entry for the new certificate",
		},
		{
			name: "staged but not signed",
			setup: func(t *testing.T, f *fixture) (*x509.Certificate, *x509.Certificate) {
				_, err := f.tenant.Stage(f.old.chain[0])
				require.NoError(t, err)
				return f.old.chain[0], issue(t, f.newCA, "tenant-client", keystore.ECDSAP256).chain[0]
			},
			act: func(f *fixture, old, next *x509.Certificate) error {
				_, err := f.tenant.Activate(old, next)
				return err
			},
			want: "holds no signed entry for the new certificate",
		},
		{
			name: "history alias taken by another certificate",
			setup: func(t *testing.T, f *fixture) (*x509.Certificate, *x509.Certificate) {
				next := signPending(t, f)
				hist := keystore.New(keystore.PKCS12, nil)
				require.NoError(t, hist.Set(&keystore.Entry{Alias: f.tenant.historyAlias(f.old.chain[0]), Key: f.partner.key, Chain: f.partner.chain}, nil))
				require.NoError(t, hist.Save(f.tenant.historyPath(), historyPassword, nil))
				return f.old.chain[0], next[0]
			},
			act: func(f *fixture, old, next *x509.Certificate) error {
				_, err := f.tenant.Activate(old, next)
				return err
			},
			want: "not the old certificate",
		},
		{
			name: "rollback without history",
			setup: func(t *testing.T, f *fixture) (*x509.Certificate, *x509.Certificate) {
				next := signPending(t, f)
				_, err := f.tenant.Activate(f.old.chain[0], next[0])
				require.NoError(t, err)
				require.NoError(t, keystore.Update(context.Background(), f.tenant.historyPath(), historyPassword, func(s *keystore.Store) error {
					return s.Delete(f.tenant.historyAlias(f.old.chain[0]))
				}, nil))
				return f.old.chain[0], next[0]
			},
			act: func(f *fixture, old, next *x509.Certificate) error {
				_, err := f.tenant.Rollback(old, next)
				return err
			},
			want: "has no alias",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, SequenceOverlap)
			old, next := tc.setup(t, f)
			before := snapshot(t, f)
			err := tc.act(f, old, next)
			require.ErrorIs(t, err, ErrUnexpectedState)
			assert.Contains(t, err.Error(), tc.want)
			after := snapshot(t, f)
			assert.Equal(t, fileNames(before), fileNames(after))
			for p, b := range before {
				assert.True(t, bytes.Equal(b, after[p]), "%s untouched", filepath.Base(p))
			}
		})
	}
}

func TestTenantCheck(t *testing.T) {
	tests := []struct {
		name   string
		tenant *Tenant
		want   string
	}{
		{"nil", nil, "found nil"},
		{"no keystore", &Tenant{Alias: "a"}, "live keystore's path"},
		{"no alias", &Tenant{Keystore: "k"}, "live alias"},
		{"staging is live", &Tenant{Keystore: "k", Alias: "a", Staging: "k"}, "distinct"},
		{"history is staging", &Tenant{Keystore: "k", Alias: "a", Staging: "s", History: "s"}, "distinct"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.tenant.LiveChain()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	t.Run("defaults", func(t *testing.T) {
		tn := &Tenant{Keystore: "/x/client.p12", Alias: "a", Password: []byte("p")}
		assert.Equal(t, "/x/client.p12.staging", tn.stagingPath())
		assert.Equal(t, "/x/client.p12.history", tn.historyPath())
		assert.Equal(t, []byte("p"), tn.stagingPassword())
		assert.Equal(t, []byte("p"), tn.historyPassword())
	})
	t.Run("trusted entry under the alias", func(t *testing.T) {
		f := newFixture(t, SequenceOverlap)
		f.tenant.Alias = "partner-root"
		_, err := f.tenant.LiveChain()
		require.ErrorIs(t, err, keystore.ErrNotKeyEntry)
	})
}

// TestExecutorWithSeparateKeyPasswordRollback checks that a rollback
// restores the old entry under the live key password.
func TestExecutorWithSeparateKeyPasswordRollback(t *testing.T) {
	keyPass := []byte("key-secret-pw")
	f := newFixture(t, SequenceOverlap, withFormat(keystore.JKS), withKeyPassword(keyPass))
	f.rt.skip["node-c"] = true
	_, err := f.exec.Run(context.Background())
	require.ErrorIs(t, err, ErrGateFailed)
	f.rt.skip["node-c"] = false
	_, err = f.exec.Rollback(context.Background())
	require.NoError(t, err)
	e := f.liveEntry(t, liveAlias) // needs the key password
	assert.Equal(t, f.old.chain[0].Raw, e.Chain[0].Raw)
	assert.True(t, chain.KeyMatches(e.Key.Public(), f.old.chain[0]))
}
