package truststore_test

import (
	"bytes"
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
	"github.com/certroll/certroll/truststore"
)

const cacertsPath = "testdata/cacerts.jks"

// keytoolList runs the real keytool on a keystore and returns its output.
func keytoolList(t *testing.T, path string, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("keytool")
	require.NoError(t, err, "keytool must be installed (CI installs a JDK)")
	cmd := exec.Command(bin, append([]string{"-list", "-keystore", path, "-storepass", "changeit"}, args...)...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "keytool: %s", out)
	return string(out)
}

// TestMergeIntoJavaCacerts merges a PEM bundle of three new roots and two
// roots that cacerts already holds into Debian's 144-root Java cacerts,
// and checks the report, a second merge, and the result with keytool.
func TestMergeIntoJavaCacerts(t *testing.T) {
	dir := t.TempDir()
	cacerts, err := truststore.Open(cacertsPath, storePassword)
	require.NoError(t, err)
	require.Equal(t, truststore.JKS, cacerts.Kind())
	require.Equal(t, 144, size(cacerts))
	orig := cacerts.Entries()

	// The bundle: three new roots, then two roots exported from cacerts.
	var newRoots []*testpki.CA
	var bundle bytes.Buffer
	for i := 1; i <= 3; i++ {
		r := testpki.NewRoot(t, fmt.Sprintf("certroll New Root %d", i))
		newRoots = append(newRoots, r)
		require.NoError(t, pem.Encode(&bundle, &pem.Block{Type: "CERTIFICATE", Bytes: r.Cert.Raw}))
	}
	present := []string{"debian:gts_root_r4.pem", "debian:isrg_root_x1.pem"}
	for _, a := range present {
		c, err := cacerts.Certificate(a)
		require.NoError(t, err)
		require.NoError(t, pem.Encode(&bundle, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
	}
	bundlePath := filepath.Join(dir, "bundle.pem")
	require.NoError(t, os.WriteFile(bundlePath, bundle.Bytes(), 0o644))
	src, err := truststore.Open(bundlePath, nil)
	require.NoError(t, err)
	require.Equal(t, truststore.PEMBundle, src.Kind())

	rep, err := cacerts.Merge(truststore.Certs(src.Certificates()...), opts)
	require.NoError(t, err)
	var wantAdded []string
	for i, r := range newRoots {
		wantAdded = append(wantAdded, fmt.Sprintf("%s-certroll-new-root-%d", hex8(r.Cert), i+1))
	}
	assert.Equal(t, counts{Added: 3, Skipped: 2}, countsOf(rep))
	assert.Equal(t, wantAdded, aliases(rep.Added))
	assert.Equal(t, present, aliases(rep.Skipped))
	for i, s := range rep.Skipped {
		assert.Equal(t, present[i], s.Alias)
	}
	assert.Equal(t, 147, size(cacerts))

	out := filepath.Join(dir, "out.jks")
	require.NoError(t, cacerts.Save(out, storePassword))

	// A second merge, into the saved file, adds nothing.
	again, err := truststore.Open(out, storePassword)
	require.NoError(t, err)
	rep2, err := again.Merge(src.Entries(), opts)
	require.NoError(t, err)
	assert.Equal(t, counts{Skipped: 5}, countsOf(rep2))
	assert.False(t, changed(rep2))

	// Only the three roots were added; every original entry is as it was.
	pristine, err := truststore.Open(cacertsPath, storePassword)
	require.NoError(t, err)
	d := truststore.Diff(pristine, again)
	assert.Empty(t, d.OnlyInA)
	assert.Equal(t, 144, d.Common)
	assert.Empty(t, d.AliasChanged)
	require.Len(t, d.OnlyInB, 3)
	for i, o := range orig {
		c, err := again.Certificate(o.Alias)
		require.NoError(t, err, "entry %d", i)
		assert.Equal(t, o.Cert.Raw, c.Raw, o.Alias)
	}

	// The real keytool reads the result.
	listing := keytoolList(t, out)
	assert.Contains(t, listing, "Keystore type: JKS")
	assert.Contains(t, listing, "Your keystore contains 147 entries")
	for i, a := range wantAdded {
		assert.Contains(t, listing, a+", ", "keytool lists %s", a)
		v := keytoolList(t, out, "-v", "-alias", a)
		assert.Contains(t, v, "Entry type: trustedCertEntry")
		assert.Contains(t, v, fmt.Sprintf("Owner: CN=certroll New Root %d, O=certroll test", i+1))
		assert.Contains(t, v, "SHA256: "+colonFP(newRoots[i].Cert))
	}
	assert.Equal(t, 147, strings.Count(listing, "trustedCertEntry"))
}
