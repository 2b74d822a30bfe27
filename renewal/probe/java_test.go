//go:build unix

package probe

import (
	"bytes"
	"context"
	"crypto/x509"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certroll/certroll/internal/testpki"
	"github.com/certroll/certroll/keystore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// javaRequest runs testdata/JavaClient.java with a JKS holding the new
// chain and returns what it printed: "status N" or "error: ...".
func javaRequest(t *testing.T, p *pki, url string) string {
	t.Helper()
	java := needProgram(t, "java", "openjdk-17-jdk-headless")
	password := []byte("changeit")
	s := keystore.New(keystore.JKS, nil)
	require.NoError(t, s.Set(&keystore.Entry{Alias: "client", Key: p.newClient.Key, Chain: p.newChain()}, nil))
	path := filepath.Join(t.TempDir(), "client.jks")
	require.NoError(t, s.Save(path, password, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 2*60e9)
	defer cancel()
	cmd := exec.CommandContext(ctx, java, filepath.Join("testdata", "JavaClient.java"), path, url)
	cmd.Stdin = bytes.NewReader(append(password, '\n'))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	return strings.TrimSpace(string(out))
}

// TestProbeAgreesWithJava checks the probe's verdict on advertised names
// against a real JDK client using the default key manager, on HAProxy before
// and after its runtime API is used.
func TestProbeAgreesWithJava(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	bothRoots := []*x509.Certificate{p.oldRoot.Cert, p.newRoot.Cert}
	opts := &Options{Roots: p.serverRoots()}

	t.Run("both roots in the ca-file", func(t *testing.T) {
		t.Parallel()
		u := startHAProxy(t, p, bothRoots).url
		_, err := Probe(context.Background(), u, p.newChain(), p.newClient.Key, opts)
		require.NoError(t, err)
		assert.Equal(t, "status 200", javaRequest(t, p, u))
	})
	t.Run("runtime API verifies the new root and advertises the old", func(t *testing.T) {
		t.Parallel()
		h := startHAProxy(t, p, bothRoots[:1])
		u, dir := h.url, h.dir
		caFile := filepath.Join(dir, "client-ca.pem")
		require.Contains(t, haproxyCommand(t, dir, "set ssl ca-file "+caFile+" <<\n"+string(testpki.PEM(bothRoots...))+"\n"), "transaction created")
		require.Contains(t, haproxyCommand(t, dir, "commit ssl ca-file "+caFile+"\n"), "Success")
		res, err := Probe(context.Background(), u, p.newChain(), p.newClient.Key, opts)
		require.ErrorIs(t, err, ErrNotAdvertised)
		assert.Equal(t, 200, res.Status, "HAProxy accepts the chain when it is presented")
		got := javaRequest(t, p, u)
		// Java's key manager finds no entry issued under an advertised
		// name and presents nothing; HAProxy requires a certificate. In
		// TLS 1.3 its alert (certificate_required) arrives after Java's
		// Finished, so Java reports either the alert or the broken write.
		assert.True(t, strings.HasPrefix(got, "error: "), "Java presents no certificate and fails: %s", got)
		t.Log("Java:", got)
	})
}
