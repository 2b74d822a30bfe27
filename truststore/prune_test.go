package truststore_test

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/internal/testpki"
	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/truststore"
)

func colonFP(c *x509.Certificate) string { return keystore.CertFingerprint(c).String() }

// parseFP reads a fingerprint as a person pastes it; the forms and the
// errors of malformed ones are tested with keystore.ParseFingerprint.
func parseFP(s string) keystore.Fingerprint {
	fp, err := keystore.ParseFingerprint(s)
	if err != nil {
		panic(err)
	}
	return fp
}

func TestPruneSelectors(t *testing.T) {
	old := testpki.NewRoot(t, "Old Root", testpki.Expired())
	cur := testpki.NewRoot(t, "Current Root")
	inter := cur.Intermediate(t, "Issuing CA")
	start := []truststore.Entry{{Alias: "old-root", Cert: old.Cert}, {Alias: "current-root", Cert: cur.Cert}, {Alias: "issuing", Cert: inter.Cert}}

	tests := []struct {
		name        string
		sel         truststore.Selector
		wantRemoved []string
		wantErr     error
		wantMsg     string
	}{
		{"alias ignoring case", truststore.ByAlias("OLD-ROOT"), []string{"old-root"}, nil, ""},
		{"several aliases", truststore.ByAlias("old-root", "issuing"), []string{"old-root", "issuing"}, nil, ""},
		{"fingerprint as keytool prints it", truststore.ByFingerprint(parseFP(colonFP(cur.Cert))), []string{"current-root"}, nil, ""},
		{"fingerprint in lower-case hex with prefix", truststore.ByFingerprint(parseFP("sha256:" + fpHex(inter.Cert))), []string{"issuing"}, nil, ""},
		{"subject", truststore.BySubject("CN=Old Root,O=certroll test"), []string{"old-root"}, nil, ""},
		{"expired at the fixed clock", expiredAt(testpki.Now), []string{"old-root"}, nil, ""},
		{"expired selecting nothing is no error", expiredAt(testpki.Now.Add(-3 * 365 * 24 * time.Hour)), []string{}, nil, ""},
		{"predicate", truststore.Where("not self-signed", func(e truststore.Entry) bool { return e.Cert.CheckSignatureFrom(e.Cert) != nil }), []string{"issuing"}, nil, ""},
		{"unknown alias", truststore.ByAlias("old-root", "nope"), nil, truststore.ErrNotFound, `prune aliases "old-root", "nope": no certificate of the PEM bundle set (3 certificates) matches "nope"`},
		{"unknown fingerprint", truststore.ByFingerprint(parseFP(strings.Repeat("ab", 32))), nil, truststore.ErrNotFound, "matches"},
		{"unknown subject", truststore.BySubject("CN=Nobody"), nil, truststore.ErrNotFound, `matches "CN=Nobody"`},
		{"zero selector", truststore.Selector{}, nil, nil, "truststore: prune: empty selector"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := bundleOf(t, start...)
			rep, err := s.Prune(tt.sel, &truststore.PruneOptions{NothingInUse: true})
			if tt.wantMsg != "" {
				require.Error(t, err)
				assert.Nil(t, rep)
				if tt.wantErr != nil {
					assert.ErrorIs(t, err, tt.wantErr)
				}
				assert.Contains(t, err.Error(), tt.wantMsg)
				assert.True(t, strings.HasPrefix(err.Error(), "truststore: "), err.Error())
				assert.Equal(t, 3, size(s), "nothing removed")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantRemoved, aliases(rep.Removed))
			assert.Empty(t, rep.Refused)
			assert.Equal(t, 3-len(tt.wantRemoved), size(s))
			for _, a := range tt.wantRemoved {
				_, err := s.Certificate(a)
				assert.ErrorIs(t, err, truststore.ErrNotFound)
			}
			if len(tt.wantRemoved) > 0 {
				assert.Equal(t, "selected by "+truststore.SelectorText(tt.sel), rep.Removed[0].Reason)
			}
		})
	}
}

// TestPruneRequiresDeclaredUsage: a prune whose caller did not say what
// uses the set removes nothing, whatever it selects; saying that nothing
// does (or forcing) is a declaration too.
func TestPruneRequiresDeclaredUsage(t *testing.T) {
	root := testpki.NewRoot(t, "Root")
	leaf := root.Leaf(t, "client")
	inUse := []truststore.Dependent{{Name: "client.p12", Chain: leaf.Chain}}
	tests := []struct {
		name        string
		opts        *truststore.PruneOptions
		wantMsg     string // an ErrUsageUndeclared error containing this
		wantRemoved []string
		wantInUse   bool
	}{
		{"nil options", nil, "options are nil; set PruneOptions.InUse to the chains in use", nil, false},
		{"zero options", &truststore.PruneOptions{}, "InUse is empty and neither NothingInUse nor Force is set", nil, false},
		{"empty InUse", &truststore.PruneOptions{InUse: []truststore.Dependent{}}, "or NothingInUse to remove without a usage check", nil, false},
		{"both declarations", &truststore.PruneOptions{InUse: inUse, NothingInUse: true}, "NothingInUse is set but InUse lists 1 chain; set one or the other", nil, false},
		{"nothing in use", &truststore.PruneOptions{NothingInUse: true}, "", []string{"root"}, false},
		{"force without usage", &truststore.PruneOptions{Force: true}, "", []string{"root"}, false},
		{"chains in use", &truststore.PruneOptions{InUse: inUse}, "", []string{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := bundleOf(t, truststore.Entry{Alias: "root", Cert: root.Cert})
			rep, err := s.Prune(truststore.ByAlias("root"), tt.opts)
			if tt.wantMsg != "" {
				require.ErrorIs(t, err, truststore.ErrUsageUndeclared)
				assert.Contains(t, err.Error(), tt.wantMsg)
				assert.True(t, strings.HasPrefix(err.Error(), "truststore: prune: usage not declared: "), err.Error())
				assert.Nil(t, rep)
				assert.Equal(t, 1, size(s), "nothing removed")
				return
			}
			if tt.wantInUse {
				require.ErrorIs(t, err, truststore.ErrInUse)
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, tt.wantRemoved, aliases(rep.Removed))
		})
	}

	// A selector that names nothing still reports that first only once
	// usage is declared: the declaration is checked before anything else.
	s := bundleOf(t, truststore.Entry{Alias: "root", Cert: root.Cert})
	_, err := s.Prune(truststore.ByAlias("nope"), nil)
	assert.ErrorIs(t, err, truststore.ErrUsageUndeclared)
}

// clientStore is a keystore with one key entry whose chain is signed by
// inter.
func clientStore(t *testing.T, inter *testpki.CA) (*keystore.Store, *testpki.Leaf) {
	t.Helper()
	leaf := inter.Leaf(t, "tenant-client")
	ks := keystore.New(keystore.JKS, nil)
	require.NoError(t, ks.Set(&keystore.Entry{Alias: "client", Key: leaf.Key, Chain: leaf.Chain, Created: fixed()}, nil))
	return ks, leaf
}

func TestPruneUsageCheck(t *testing.T) {
	oldRoot := testpki.NewRoot(t, "Old Root CA")
	newRoot := testpki.NewRoot(t, "New Root CA")
	oldInter := oldRoot.Intermediate(t, "Old Issuing CA")
	newInter := newRoot.Intermediate(t, "New Issuing CA")
	ks, _ := clientStore(t, oldInter)

	trust := bundleOf(t, truststore.Entry{Alias: "old-root", Cert: oldRoot.Cert}, truststore.Entry{Alias: "new-root", Cert: newRoot.Cert})
	inUse, err := truststore.KeystoreChains("client.jks", ks)
	require.NoError(t, err)
	require.Len(t, inUse, 1)
	assert.Equal(t, `client.jks alias "client"`, inUse[0].Name)

	// Refused while the keystore's chain still ends at the old root.
	rep, err := trust.Prune(truststore.ByAlias("old-root"), &truststore.PruneOptions{InUse: inUse})
	require.Error(t, err)
	assert.ErrorIs(t, err, truststore.ErrInUse)
	require.NotNil(t, rep)
	require.Len(t, rep.Refused, 1)
	assert.Equal(t, `truststore: refused to remove 1 certificate still anchoring chains in use: "old-root" (CN=Old Root CA,O=certroll test) anchors client.jks alias "client": CN=tenant-client -> CN=Old Issuing CA (move them to another root first, or force the removal)`, err.Error())
	require.NotNil(t, rep)
	assert.Empty(t, rep.Removed)
	assert.Equal(t, []string{"old-root"}, aliases(rep.Refused))
	assert.Equal(t, []string{`client.jks alias "client": CN=tenant-client -> CN=Old Issuing CA`}, rep.Refused[0].Dependents)
	assert.Equal(t, 2, size(trust), "the old root is kept")

	// The tenant moves the key entry onto a chain under the new root.
	next := newInter.Leaf(t, "tenant-client")
	_, err = ks.Replace("client", next.Key, next.Chain, nil)
	require.NoError(t, err)
	inUse, err = truststore.KeystoreChains("client.jks", ks)
	require.NoError(t, err)
	rep, err = trust.Prune(truststore.ByAlias("old-root"), &truststore.PruneOptions{InUse: inUse})
	require.NoError(t, err)
	assert.Equal(t, []string{"old-root"}, aliases(rep.Removed))
	assert.Equal(t, []string{"new-root"}, trust.Aliases())

	// And the new root is now the one refused.
	_, err = trust.Prune(truststore.ByAlias("new-root"), &truststore.PruneOptions{InUse: inUse})
	assert.ErrorIs(t, err, truststore.ErrInUse)
}

func TestPruneAnchors(t *testing.T) {
	root := testpki.NewRoot(t, "Root")
	inter := root.Intermediate(t, "Issuing")
	leaf := inter.Leaf(t, "client")
	reissued := root.Reissue(t, testpki.Validity(testpki.Now, testpki.Now.Add(20*365*24*time.Hour)))
	impostor := testpki.NewRoot(t, "Root") // same name, other key
	otherLeaf := testpki.NewRoot(t, "Elsewhere").Leaf(t, "client")
	rsaRoot := testpki.NewRoot(t, "RSA Root", testpki.WithKeyType(testpki.KeyRSA2048))
	md5Inter := rsaRoot.Intermediate(t, "MD5 Issuing", testpki.MD5())

	tests := []struct {
		name        string
		set         []truststore.Entry
		sel         truststore.Selector
		inUse       []truststore.Dependent
		force       bool
		wantRemoved []string
		wantRefused []string
	}{
		{"top signed by the root", []truststore.Entry{{Alias: "root", Cert: root.Cert}}, truststore.ByAlias("root"),
			[]truststore.Dependent{{Name: "pem", Chain: leaf.Chain}}, false, []string{}, []string{"root"}},
		{"top is the root", []truststore.Entry{{Alias: "root", Cert: root.Cert}}, truststore.ByAlias("root"),
			[]truststore.Dependent{{Name: "pem", Chain: append(leaf.Chain, root.Cert)}}, false, []string{}, []string{"root"}},
		{"intermediate held as an anchor", []truststore.Entry{{Alias: "inter", Cert: inter.Cert}}, truststore.ByAlias("inter"),
			[]truststore.Dependent{{Name: "pem", Chain: leaf.Chain[:1]}}, false, []string{}, []string{"inter"}},
		{"pinned client certificate held in the set", []truststore.Entry{{Alias: "pinned", Cert: leaf.Cert}}, truststore.ByAlias("pinned"),
			pinnedCertificates("receiver pins", leaf.Cert), false, []string{}, []string{"pinned"}},
		{"a re-issue with the same key keeps the chain anchored", []truststore.Entry{{Alias: "root", Cert: root.Cert}, {Alias: "root-2045", Cert: reissued.Cert}}, truststore.ByAlias("root"),
			[]truststore.Dependent{{Name: "pem", Chain: leaf.Chain}}, false, []string{"root"}, []string{}},
		{"removing the root and its re-issue together is refused for both", []truststore.Entry{{Alias: "root", Cert: root.Cert}, {Alias: "root-2045", Cert: reissued.Cert}}, truststore.ByAlias("root", "root-2045"),
			[]truststore.Dependent{{Name: "pem", Chain: leaf.Chain}}, false, []string{}, []string{"root", "root-2045"}},
		{"same name but another key does not anchor", []truststore.Entry{{Alias: "impostor", Cert: impostor.Cert}}, truststore.ByAlias("impostor"),
			[]truststore.Dependent{{Name: "pem", Chain: leaf.Chain}}, false, []string{"impostor"}, []string{}},
		{"unrelated chain", []truststore.Entry{{Alias: "root", Cert: root.Cert}}, truststore.ByAlias("root"),
			[]truststore.Dependent{{Name: "pem", Chain: otherLeaf.Chain}}, false, []string{"root"}, []string{}},
		{"empty chain is ignored", []truststore.Entry{{Alias: "root", Cert: root.Cert}}, truststore.ByAlias("root"),
			[]truststore.Dependent{{Name: "pem"}}, false, []string{"root"}, []string{}},
		{"a signature crypto/x509 cannot check (MD5) counts as made by the named issuer", []truststore.Entry{{Alias: "rsa-root", Cert: rsaRoot.Cert}}, truststore.ByAlias("rsa-root"),
			[]truststore.Dependent{{Name: "pem", Chain: []*x509.Certificate{md5Inter.Cert}}}, false, []string{}, []string{"rsa-root"}},
		{"forced", []truststore.Entry{{Alias: "root", Cert: root.Cert}}, truststore.ByAlias("root"),
			[]truststore.Dependent{{Name: "pem", Chain: leaf.Chain}}, true, []string{"root"}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := bundleOf(t, tt.set...)
			rep, err := s.Prune(tt.sel, &truststore.PruneOptions{InUse: tt.inUse, Force: tt.force})
			if len(tt.wantRefused) > 0 {
				assert.ErrorIs(t, err, truststore.ErrInUse)
			} else {
				require.NoError(t, err)
			}
			require.NotNil(t, rep)
			assert.Equal(t, tt.wantRemoved, aliases(rep.Removed))
			assert.Equal(t, tt.wantRefused, aliases(rep.Refused))
			assert.Equal(t, len(tt.set)-len(tt.wantRemoved), size(s))
			for _, r := range rep.Refused {
				assert.NotEmpty(t, r.Dependents)
				assert.Contains(t, r.Reason, "no other certificate of the set anchors it")
			}
			if tt.force {
				assert.NotEmpty(t, rep.Removed[0].Dependents, "a forced removal names its dependents")
				assert.Equal(t, []string{"pem: CN=client -> CN=Issuing"}, rep.Removed[0].Dependents)
				assert.Contains(t, rep.Removed[0].Reason, "forced although 1 chain in use depends on it")
			}
		})
	}
}

func TestPruneKeepsKeystoreEntries(t *testing.T) {
	root := testpki.NewRoot(t, "Root")
	ks, _ := clientStore(t, root.Intermediate(t, "Issuing"))
	require.NoError(t, ks.Set(&keystore.Entry{Alias: "root", Chain: []*x509.Certificate{root.Cert}, Created: fixed()}, nil))
	s, err := truststore.FromStore(ks)
	require.NoError(t, err)

	_, err = s.Prune(truststore.ByAlias("client"), &truststore.PruneOptions{NothingInUse: true})
	assert.ErrorIs(t, err, truststore.ErrNotFound, "a key entry is not part of the trust set")
	rep, err := s.Prune(truststore.ByAlias("root"), &truststore.PruneOptions{Force: true})
	require.NoError(t, err)
	assert.Equal(t, []string{"root"}, aliases(rep.Removed))
	_, err = s.Store()
	require.NoError(t, err)
	assert.Equal(t, []string{"client"}, ks.Aliases())

	// A removed alias can be taken again by a new certificate.
	other := testpki.NewRoot(t, "Other")
	rep, err = s.Merge([]truststore.Entry{{Alias: "root", Cert: other.Cert}}, opts)
	require.NoError(t, err)
	assert.Equal(t, []string{"root"}, aliases(rep.Added))
	_, err = s.Store()
	require.NoError(t, err)
	assert.Equal(t, []string{"client", "root"}, ks.Aliases())
	got, err := ks.Certificates("root")
	require.NoError(t, err)
	assert.Equal(t, other.Cert.Raw, got[0].Raw)
}

func TestOpenDependents(t *testing.T) {
	root := testpki.NewRoot(t, "Root")
	leaf := root.Intermediate(t, "Issuing").Leaf(t, "client")
	dir := t.TempDir()

	var chainPEM []byte
	for _, c := range leaf.Chain {
		chainPEM = append(chainPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	pemPath := filepath.Join(dir, "chain.pem")
	require.NoError(t, os.WriteFile(pemPath, chainPEM, 0o644))
	derPath := filepath.Join(dir, "leaf.der")
	require.NoError(t, os.WriteFile(derPath, leaf.Cert.Raw, 0o644))
	ks, _ := clientStore(t, root)
	require.NoError(t, ks.Set(&keystore.Entry{Alias: "root", Chain: []*x509.Certificate{root.Cert}, Created: fixed()}, nil))
	ksPath := filepath.Join(dir, "client.p12")
	require.NoError(t, ks.Save(ksPath, storePassword, nil))
	garbage := filepath.Join(dir, "garbage.pem")
	require.NoError(t, os.WriteFile(garbage, []byte("not a chain"), 0o644))

	tests := []struct {
		name      string
		path      string
		wantNames []string
		wantLens  []int
		wantLeaf  string
		wantErr   string
	}{
		{"PEM chain", pemPath, []string{pemPath}, []int{2}, "client", ""},
		{"DER certificate", derPath, []string{derPath}, []int{1}, "client", ""},
		// The chain as package keystore reads it (it may complete it with
		// the root the file holds, as Java does), so its length is not fixed here.
		{"keystore: key entries only", ksPath, []string{ksPath + ` alias "client"`}, nil, "tenant-client", ""},
		{"text without certificates", garbage, nil, nil, "", "garbage.pem"},
		{"missing file", filepath.Join(dir, "missing"), nil, nil, "", "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			deps, err := truststore.OpenDependents(tt.path, storePassword)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.True(t, strings.HasPrefix(err.Error(), "truststore: "), err.Error())
				return
			}
			require.NoError(t, err)
			var names []string
			var lens []int
			for _, d := range deps {
				names = append(names, d.Name)
				lens = append(lens, len(d.Chain))
			}
			assert.Equal(t, tt.wantNames, names)
			if tt.wantLens != nil {
				assert.Equal(t, tt.wantLens, lens)
			}
			assert.Equal(t, tt.wantLeaf, deps[0].Chain[0].Subject.CommonName)
		})
	}
	_, err := truststore.OpenDependents(ksPath, []byte("wrong"))
	assert.ErrorIs(t, err, keystore.ErrIncorrectPassword)
}
