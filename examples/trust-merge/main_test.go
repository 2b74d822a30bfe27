package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
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
	assert.Regexp(t, `^truststore.jks trusts partner-root, [0-9a-f]{8}-new-root-ca, [0-9a-f]{8}-new-issuing-ca\n$`, last)

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
	_, err := ts.Merge([]truststore.Entry{{Alias: "old-root", Cert: f.oldRoot.Cert}}, nil)
	require.NoError(t, err)
	require.NoError(t, ts.Save(f.trust, password))

	var b bytes.Buffer
	for _, c := range []*testpki.CA{f.newRoot, f.newInter} {
		require.NoError(t, pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Cert.Raw}))
	}
	require.NoError(t, os.WriteFile(f.bundle, b.Bytes(), 0o644))

	leaf := f.oldRoot.Intermediate(t, "Old Issuing").Leaf(t, "tenant-client")
	ks := keystore.New(keystore.PKCS12, nil)
	require.NoError(t, ks.Set(&keystore.Entry{Alias: "client", Key: leaf.Key, Chain: leaf.Chain}, nil))
	require.NoError(t, ks.Save(f.client, password, nil))
	t.Setenv("TRUST_PW", "s3cret")
	return f
}

func TestRealFiles(t *testing.T) {
	f := layout(t)
	pw := []string{"-password-env", "TRUST_PW"}
	oldFP := keystore.CertFingerprint(f.oldRoot.Cert).String()

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
	assert.NotContains(t, out.String(), "written (", "nothing written")
	assert.Contains(t, err.Error(), f.trust+" not written")
	assert.Contains(t, out.String(), "in use by "+f.client+` alias "client": CN=tenant-client -> CN=Old Issuing`)
	after, err := os.ReadFile(f.trust)
	require.NoError(t, err)
	assert.Equal(t, before, after)

	// A dry run of a forced removal reports it as JSON and writes nothing.
	out.Reset()
	require.NoError(t, run(append([]string{"-truststore", f.trust, "-prune-fingerprint", oldFP, "-in-use", f.client, "-force", "-dry-run", "-json"}, pw...), &out))
	var res struct {
		Prune, Merge *truststore.Report
		Result       string
		Certificates int
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &res), "the output is one JSON document:\n%s", out.String())
	require.NotNil(t, res.Prune)
	assert.Nil(t, res.Merge)
	var wire struct {
		Prune struct {
			Counts  map[string]int `json:"counts"`
			Removed []struct {
				Forced bool `json:"forced"`
			} `json:"removed"`
		} `json:"prune"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &wire))
	assert.Equal(t, 1, wire.Prune.Counts["removed"])
	require.Len(t, wire.Prune.Removed, 1)
	assert.True(t, wire.Prune.Removed[0].Forced)
	assert.Len(t, res.Prune.Removed, 1)
	assert.NotEmpty(t, res.Prune.Removed[0].Dependents, "a forced removal names its dependents")
	assert.Equal(t, "dry run", res.Result)
	assert.Equal(t, 2, res.Certificates, "as it would be")
	after, err = os.ReadFile(f.trust)
	require.NoError(t, err)
	assert.Equal(t, before, after)

	// The client moves to the new root; now the prune goes through.
	next := f.newInter.Leaf(t, "tenant-client")
	require.NoError(t, keystore.Update(context.Background(), f.client, []byte("s3cret"), func(s *keystore.Store) error {
		_, err := s.Replace("client", next.Key, next.Chain, nil)
		return err
	}, nil))
	out.Reset()
	require.NoError(t, run(append([]string{"-truststore", f.trust, "-prune-fingerprint", oldFP, "-in-use", f.client}, pw...), &out))
	assert.Contains(t, out.String(), "prune of JKS: 1 removed, 0 refused\n")
	ts, err := truststore.Open(f.trust, []byte("s3cret"))
	require.NoError(t, err)
	assert.Equal(t, 2, len(ts.Certificates()))
	assert.False(t, ts.ContainsCert(f.oldRoot.Cert))
}

func TestFlagErrors(t *testing.T) {
	f := layout(t)
	fp := keystore.CertFingerprint(f.oldRoot.Cert).String()
	before, err := os.ReadFile(f.trust)
	require.NoError(t, err)
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
		{"bad fingerprint", []string{"-truststore", f.trust, "-prune-fingerprint", "AB:CD", "-nothing-in-use", "-password-env", "TRUST_PW"}, `-prune-fingerprint "AB:CD": expected a SHA-256 fingerprint as 32 colon-separated hex pairs, found 2 groups`},
		{"stray argument between flags", []string{"-truststore", f.trust, "-bundle", f.bundle, "extra", "-dry-run"}, `unexpected arguments ["extra" "-dry-run"]: trust-merge takes flags only`},
		{"unknown flag", []string{"-truststore", f.trust, "-bundel", f.bundle}, "flag provided but not defined: -bundel (see -h)"},
		{"flags without a truststore", []string{"-bundle", f.bundle, "-json"}, "-bundle, -json need a real truststore: give -truststore FILE"},
		{"prune without usage", []string{"-truststore", f.trust, "-prune-fingerprint", fp, "-password-env", "TRUST_PW"},
			"-prune-fingerprint: say what uses the truststore before anything is removed: -in-use FILE (repeatable) for each keystore or certificate chain whose chains must stay anchored, or -nothing-in-use if nothing does (-force removes even what is in use)"},
		{"in use and nothing in use", []string{"-truststore", f.trust, "-prune-fingerprint", fp, "-in-use", f.client, "-nothing-in-use"}, "-in-use and -nothing-in-use contradict each other"},
		{"usage without a removal", []string{"-truststore", f.trust, "-bundle", f.bundle, "-in-use", f.client, "-force"}, "-in-use, -force apply to a removal: give -prune-fingerprint FP too"},
		{"include-non-ca without a bundle", []string{"-truststore", f.trust, "-prune-fingerprint", fp, "-nothing-in-use", "-include-non-ca"}, "-include-non-ca applies to a merge"},
		{"in-use file declaring nothing", []string{"-truststore", f.trust, "-prune-fingerprint", fp, "-in-use", f.trust, "-password-env", "TRUST_PW"},
			fmt.Sprintf("-in-use %q holds no key entry and no certificate chain, so it declares nothing in use", f.trust)},
		{"fingerprint not in the truststore", []string{"-truststore", f.trust, "-prune-fingerprint", strings.Repeat("ab", 32), "-nothing-in-use", "-password-env", "TRUST_PW"}, "not written"},
		{"missing bundle", []string{"-truststore", f.trust, "-bundle", f.bundle + ".missing", "-password-env", "TRUST_PW"}, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(tt.args, &out)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), "PruneOptions", "no Go API names for the user")
			after, err := os.ReadFile(f.trust)
			require.NoError(t, err)
			assert.Equal(t, before, after, "the truststore is untouched")
		})
	}
}

func TestHelp(t *testing.T) {
	for _, arg := range []string{"-h", "-help", "--help"} {
		t.Run(arg, func(t *testing.T) {
			var out bytes.Buffer
			require.NoError(t, run([]string{arg}, &out), "-h is not an error: the process exits 0")
			assert.True(t, strings.HasPrefix(out.String(), "Usage:\n"), out.String())
			for _, f := range []string{"-truststore", "-bundle", "-include-non-ca", "-in-use", "-nothing-in-use", "-json"} {
				assert.Regexp(t, `(?m)^  `+f+`( |$)`, out.String())
			}
			assert.NotContains(t, out.String(), "help requested")
		})
	}
}

// writeP7B writes certs as a PKCS#7 certificate bundle, as a CA sends its
// reply, with openssl.
func writeP7B(t *testing.T, path string, certs ...*x509.Certificate) {
	t.Helper()
	pemPath := path + ".pem"
	require.NoError(t, os.WriteFile(pemPath, testpki.PEM(certs...), 0o644))
	out, err := exec.Command("openssl", "crl2pkcs7", "-nocrl", "-certfile", pemPath, "-outform", "DER", "-out", path).CombinedOutput()
	require.NoError(t, err, "openssl crl2pkcs7:\n%s", out)
}

// TestBundleWithLeaf: merging a CA's reply trusts its CAs, not the client
// certificate it carries, unless -include-non-ca asks for it.
func TestBundleWithLeaf(t *testing.T) {
	f := layout(t)
	pw := []string{"-password-env", "TRUST_PW"}
	leaf := f.newInter.Leaf(t, "tenant-client")
	reply := filepath.Join(filepath.Dir(f.trust), "reply.p7b")
	writeP7B(t, reply, leaf.Cert, f.newInter.Cert, f.newRoot.Cert)

	var out bytes.Buffer
	require.NoError(t, run(append([]string{"-truststore", f.trust, "-bundle", reply}, pw...), &out))
	assert.Contains(t, out.String(), "merge into JKS: 2 added (0 re-issued, 0 renamed), 0 skipped as duplicates, 1 left out as not CA certificates\n")
	assert.Contains(t, out.String(), "  left out "+hex8(leaf.Cert)+"-tenant-client  CN=tenant-client")
	assert.Contains(t, out.String(), "not a CA certificate: it has no basicConstraints extension and is not self-signed\n")
	assert.Contains(t, out.String(), "1 certificate of "+reply+" left out: a truststore holds CA certificates; give -include-non-ca to trust it too\n")
	ts, err := truststore.Open(f.trust, []byte("s3cret"))
	require.NoError(t, err)
	assert.False(t, ts.ContainsCert(leaf.Cert), "the client certificate is not trusted")
	assert.True(t, ts.ContainsCert(f.newRoot.Cert))
	assert.True(t, ts.ContainsCert(f.newInter.Cert))

	// As JSON, the leaf is in the merge report's left_out list.
	out.Reset()
	require.NoError(t, run(append([]string{"-truststore", f.trust, "-bundle", reply, "-json", "-dry-run"}, pw...), &out))
	var res struct {
		Merge struct {
			Counts  map[string]int `json:"counts"`
			LeftOut []struct {
				SHA256, Reason string
			} `json:"left_out"`
		} `json:"merge"`
		Result string `json:"result"`
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &res), out.String())
	assert.Equal(t, 1, res.Merge.Counts["left_out"])
	require.Len(t, res.Merge.LeftOut, 1)
	assert.Equal(t, keystoreHex(leaf.Cert), res.Merge.LeftOut[0].SHA256)
	assert.Equal(t, "unchanged", res.Result)

	// Asked for, it is trusted (a receiver that pins the client).
	out.Reset()
	require.NoError(t, run(append([]string{"-truststore", f.trust, "-bundle", reply, "-include-non-ca"}, pw...), &out))
	assert.Contains(t, out.String(), "1 added")
	ts, err = truststore.Open(f.trust, []byte("s3cret"))
	require.NoError(t, err)
	assert.True(t, ts.ContainsCert(leaf.Cert))
}

// TestPruneDeclaredUsage: -nothing-in-use declares that nothing uses the
// truststore, and the root goes without a usage check.
func TestPruneDeclaredUsage(t *testing.T) {
	f := layout(t)
	var out bytes.Buffer
	require.NoError(t, run([]string{"-truststore", f.trust, "-password-env", "TRUST_PW", "-prune-fingerprint", keystore.CertFingerprint(f.oldRoot.Cert).String(), "-nothing-in-use"}, &out))
	assert.Contains(t, out.String(), "prune of JKS: 1 removed, 0 refused\n")
	ts, err := truststore.Open(f.trust, []byte("s3cret"))
	require.NoError(t, err)
	assert.Equal(t, 0, len(ts.Certificates()))
}

// TestJSONIsOneDocument: whatever the steps and their outcome, -json
// prints one JSON document and nothing after it.
func TestJSONIsOneDocument(t *testing.T) {
	f := layout(t)
	pw := []string{"-password-env", "TRUST_PW", "-json"}
	oldFP := keystore.CertFingerprint(f.oldRoot.Cert).String()
	tests := []struct {
		name       string
		args       []string
		wantErr    bool
		wantResult string
	}{
		{"merge written", []string{"-bundle", f.bundle}, false, "written"},
		{"merge unchanged", []string{"-bundle", f.bundle}, false, "unchanged"},
		{"merge and refused prune", []string{"-bundle", f.bundle, "-prune-fingerprint", oldFP, "-in-use", f.client}, true, "not written"},
		{"prune dry run", []string{"-prune-fingerprint", oldFP, "-nothing-in-use", "-dry-run"}, false, "dry run"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(append(append([]string{"-truststore", f.trust}, pw...), tt.args...), &out)
			if tt.wantErr {
				require.Error(t, err)
			} else {
				require.NoError(t, err)
			}
			var res map[string]any
			require.NoError(t, json.Unmarshal(out.Bytes(), &res), "one JSON document:\n%s", out.String())
			assert.Equal(t, tt.wantResult, res["result"])
			assert.Equal(t, f.trust, res["truststore"])
			if tt.wantErr {
				assert.Contains(t, res["error"], "not written")
			}
		})
	}
}

func hex8(c *x509.Certificate) string { return keystoreHex(c)[:8] }

func keystoreHex(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}
