package main

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
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

func TestDemo(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(nil, &out))
	got := out.String()
	for _, want := range []string{
		"truststore.jks trusts old-root, partner-root\n",
		"client.p12 alias \"client\": CN=tenant-client\n",
		"merge into JKS: 2 added (0 re-issued, 0 renamed), 1 skipped as duplicates\n",
		"-new-root-ca  CN=New Root CA,O=certroll example",
		"-new-issuing-ca  CN=New Issuing CA,O=certroll example",
		"  skipped  partner-root  CN=Partner Root CA,O=certroll example",
		"prune of JKS: 0 removed, 1 refused\n  refused  old-root  CN=Old Root CA,O=certroll example",
		"in use by client.p12 alias \"client\": CN=tenant-client\n",
		"=> truststore: refused to remove 1 certificate still anchoring chains in use",
		"3. client.p12 alias \"client\" replaced: CN=tenant-client -> CN=New Issuing CA\n",
		"prune of JKS: 1 removed, 0 refused\n  removed  old-root",
	} {
		assert.Contains(t, got, want)
	}
	last := got[strings.LastIndex(strings.TrimRight(got, "\n"), "\n")+1:]
	assert.Regexp(t, `^truststore.jks trusts [0-9a-f]{8}-new-root-ca, [0-9a-f]{8}-new-issuing-ca, partner-root\n$`, last)

	var again bytes.Buffer
	require.NoError(t, run(nil, &again))
	assert.Equal(t, got, again.String(), "the demonstration prints the same on every run")
}

// files lays out a truststore, a CA bundle and a client keystore in dir.
type files struct {
	trust, bundle, client string
	oldRoot, newRoot      *testpki.CA
	newInter              *testpki.CA
}

func layout(t *testing.T) files {
	t.Helper()
	dir := t.TempDir()
	f := files{trust: filepath.Join(dir, "trust.jks"), bundle: filepath.Join(dir, "ca.pem"), client: filepath.Join(dir, "client.p12")}
	f.oldRoot = testpki.NewRoot(t, "Old Root")
	f.newRoot = testpki.NewRoot(t, "New Root")
	f.newInter = f.newRoot.Intermediate(t, "New Issuing")
	password := []byte("s3cret")

	ts := truststore.New(truststore.JKS)
	_, err := ts.Merge([]truststore.Item{{Alias: "old-root", Cert: f.oldRoot.Cert}}, nil)
	require.NoError(t, err)
	require.NoError(t, ts.Save(f.trust, password))

	var b bytes.Buffer
	for _, c := range []*testpki.CA{f.newRoot, f.newInter} {
		require.NoError(t, pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Cert.Raw}))
	}
	require.NoError(t, os.WriteFile(f.bundle, b.Bytes(), 0o644))

	leaf := f.oldRoot.Intermediate(t, "Old Issuing").Leaf(t, "tenant-client")
	ks := keystore.New(keystore.PKCS12)
	require.NoError(t, ks.Set(&keystore.Entry{Alias: "client", Key: leaf.Key, Chain: leaf.Chain}))
	require.NoError(t, ks.Save(f.client, password))
	t.Setenv("TRUST_PW", "s3cret")
	return f
}

func TestRealFiles(t *testing.T) {
	f := layout(t)
	pw := []string{"-password-env", "TRUST_PW"}
	oldFP := keystore.CertFingerprint(f.oldRoot.Cert)

	// Merge the bundle.
	var out bytes.Buffer
	require.NoError(t, run(append([]string{"-truststore", f.trust, "-bundle", f.bundle}, pw...), &out))
	assert.Contains(t, out.String(), "merge into JKS: 2 added (0 re-issued, 0 renamed), 0 skipped as duplicates\n")
	assert.Contains(t, out.String(), f.trust+" written (JKS, 3 certificates)\n")

	// Merging again changes nothing and writes nothing.
	out.Reset()
	require.NoError(t, run(append([]string{"-truststore", f.trust, "-bundle", f.bundle}, pw...), &out))
	assert.Contains(t, out.String(), "2 skipped as duplicates")
	assert.Contains(t, out.String(), f.trust+" unchanged\n")

	// Pruning the old root is refused while the client keystore uses it,
	// and the truststore is not written.
	before, err := os.ReadFile(f.trust)
	require.NoError(t, err)
	out.Reset()
	err = run(append([]string{"-truststore", f.trust, "-prune-fingerprint", oldFP, "-in-use", f.client}, pw...), &out)
	require.ErrorIs(t, err, truststore.ErrInUse)
	assert.Contains(t, err.Error(), f.trust+" not written")
	assert.Contains(t, out.String(), "in use by "+f.client+` alias "client": CN=tenant-client -> CN=Old Issuing`)
	after, err := os.ReadFile(f.trust)
	require.NoError(t, err)
	assert.Equal(t, before, after)

	// A dry run of a forced removal reports it as JSON and writes nothing.
	out.Reset()
	require.NoError(t, run(append([]string{"-truststore", f.trust, "-prune-fingerprint", oldFP, "-in-use", f.client, "-force", "-dry-run", "-json"}, pw...), &out))
	dec := json.NewDecoder(&out)
	var rep truststore.Report
	require.NoError(t, dec.Decode(&rep))
	assert.Equal(t, 1, rep.Counts.Removed)
	assert.True(t, rep.Removed[0].Forced)
	after, err = os.ReadFile(f.trust)
	require.NoError(t, err)
	assert.Equal(t, before, after)

	// The client moves to the new root; now the prune goes through.
	next := f.newInter.Leaf(t, "tenant-client")
	require.NoError(t, keystore.Update(f.client, []byte("s3cret"), func(s *keystore.Store) error {
		_, err := s.Replace("client", next.Key, next.Chain)
		return err
	}))
	out.Reset()
	require.NoError(t, run(append([]string{"-truststore", f.trust, "-prune-fingerprint", oldFP, "-in-use", f.client}, pw...), &out))
	assert.Contains(t, out.String(), "prune of JKS: 1 removed, 0 refused\n")
	ts, err := truststore.Open(f.trust, []byte("s3cret"))
	require.NoError(t, err)
	assert.Equal(t, 2, ts.Len())
	assert.False(t, ts.Contains(f.oldRoot.Cert))
}

func TestFlagErrors(t *testing.T) {
	f := layout(t)
	pwFile := filepath.Join(t.TempDir(), "pw")
	require.NoError(t, os.WriteFile(pwFile, []byte("wrong\n"), 0o600))
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"nothing to do", []string{"-truststore", f.trust}, "give -bundle FILE to merge and/or -prune-fingerprint FP"},
		{"stray argument", []string{"-truststore", f.trust, "extra"}, `unexpected arguments ["extra"]`},
		{"wrong password", []string{"-truststore", f.trust, "-bundle", f.bundle, "-password-file", pwFile}, "password incorrect"},
		{"no password", []string{"-truststore", f.trust, "-bundle", f.bundle, "-password-env", "TRUST_MERGE_UNSET"}, "set TRUST_MERGE_UNSET or give -password-file"},
		{"bad fingerprint", []string{"-truststore", f.trust, "-prune-fingerprint", "AB:CD", "-password-env", "TRUST_PW"}, "want 64 hexadecimal digits"},
		{"missing bundle", []string{"-truststore", f.trust, "-bundle", f.bundle + ".missing", "-password-env", "TRUST_PW"}, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(tt.args, &out)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}
