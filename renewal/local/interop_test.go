package local

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certroll/certroll/internal/testpki"
	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/truststore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tool returns the path of a command the test needs. CI installs keytool
// and openssl, so a missing one fails the test rather than skipping it.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	require.NoError(t, err, "%s must be installed for this test", name)
	return p
}

// TestTruststoreWithKeytool checks that keytool reads the truststore the
// receiver writes, and that the receiver picks up a root keytool imports.
func TestTruststoreWithKeytool(t *testing.T) {
	keytool := tool(t, "keytool")
	for _, format := range []truststore.Kind{truststore.JKS, truststore.PKCS12} {
		t.Run(format.String(), func(t *testing.T) {
			storetype := map[truststore.Kind]string{truststore.JKS: "JKS", truststore.PKCS12: "PKCS12"}[format]
			run := func(args ...string) string {
				t.Helper()
				args = append(args, "-storetype", storetype, "-storepass", string(storePassword))
				out, err := exec.Command(keytool, args...).CombinedOutput()
				require.NoError(t, err, "keytool %v: %s", args, out)
				return string(out)
			}
			ctx := context.Background()
			r := newTestReceiver(t, format)
			a := newTestCA(t, "Client Root A")
			b := newTestCA(t, "Client Root B")
			require.NoError(t, r.TrustRoot(ctx, a.Root()))

			out := run("-list", "-v", "-keystore", r.cfg.Truststore)
			assert.Contains(t, out, "Alias name: client-root-a-"+keystore.CertFingerprint(a.Root()).Hex()[:12])
			assert.Contains(t, out, "Entry type: trustedCertEntry")
			assert.Contains(t, out, "SHA256: "+keystore.CertFingerprint(a.Root()).String())
			assert.Contains(t, out, "Your keystore contains 1 entry")

			// keytool adds root B; a client of B is accepted at the next
			// handshake.
			clientB := issueClient(t, b, "tenant-client-b")
			require.NoError(t, r.AcceptClient(ctx, clientB.chain))
			cert := clientB.tlsCertificate()
			require.Error(t, request(t, r, &cert))
			rootFile := filepath.Join(t.TempDir(), "b.pem")
			require.NoError(t, os.WriteFile(rootFile, testpki.PEM(b.Root()), 0o600))
			run("-importcert", "-noprompt", "-alias", "root-b", "-file", rootFile, "-keystore", r.cfg.Truststore)
			require.NoError(t, request(t, r, &cert))
			require.NoError(t, r.Accepts(ctx, clientB.chain))

			// And the receiver removes what keytool added.
			require.NoError(t, r.RemoveRoot(ctx, b.Root()))
			out = run("-list", "-keystore", r.cfg.Truststore)
			assert.NotContains(t, out, "root-b")
			assert.Contains(t, out, "Your keystore contains 1 entry")
			assert.Error(t, request(t, r, &cert))
		})
	}
}

// TestReceiverWithOpenSSLClient sends requests with openssl s_client, a
// TLS client that shares no code with crypto/tls, and checks that the
// receiver answers the accepted certificate and refuses the other.
func TestReceiverWithOpenSSLClient(t *testing.T) {
	openssl := tool(t, "openssl")
	ctx := context.Background()
	r := newTestReceiver(t, truststore.PEMBundle)
	ca := newTestCA(t, "Client Root A")
	accepted := issueClient(t, ca, "accepted-client")
	unmapped := issueClient(t, ca, "unmapped-client")
	require.NoError(t, r.TrustRoot(ctx, ca.Root()))
	require.NoError(t, r.AcceptClient(ctx, accepted.chain))

	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, data, 0o600))
		return p
	}
	serverRoot := write("server-root.pem", testpki.PEM(r.server.Root))
	u, err := url.Parse(r.serving())
	require.NoError(t, err)

	tests := []struct {
		name   string
		client identity
		want   bool
	}{
		{"accepted", accepted, true},
		{"not in the accepted list", unmapped, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cert := write(tc.name+"-cert.pem", testpki.PEM(tc.client.chain...))
			key := write(tc.name+"-key.pem", testpki.KeyPEM(t, tc.client.key))
			cmd := exec.Command(openssl, "s_client", "-connect", u.Host, "-servername", "localhost",
				"-cert", cert, "-key", key, "-CAfile", serverRoot, "-verify_return_error", "-quiet", "-ign_eof")
			cmd.Stdin = strings.NewReader("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
			out, _ := cmd.CombinedOutput() // a refused handshake exits non-zero
			if tc.want {
				assert.Contains(t, string(out), "HTTP/1.1 200 OK")
				assert.Contains(t, string(out), "accepted client certificate SHA-256 "+keystore.CertFingerprint(tc.client.leaf()).Hex())
			} else {
				assert.NotContains(t, string(out), "200 OK")
			}
		})
	}
	assert.Equal(t, map[string]int{keystore.CertFingerprint(accepted.leaf()).Hex(): 1}, r.servedByFingerprint())
}
