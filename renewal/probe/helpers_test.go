package probe

import (
	"crypto/x509"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/certroll/certroll/internal/testpki"
	"github.com/stretchr/testify/require"
)

// needProgram returns path if the program is installed. Without it the test
// fails in CI (the CI environment variable is set) with the line that
// installs it, and is skipped elsewhere.
func needProgram(t *testing.T, path, aptPackage string) string {
	t.Helper()
	if _, err := exec.LookPath(path); err != nil {
		msg := "probe: " + path + " not found: install it: apt-get install -y " + aptPackage
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return path
}

// pki is the landscape of a renewal: the receiver's server certificate, and
// an old and a new client certificate, each under its own root.
//
// Real servers check validity against the wall clock, so these certificates
// are valid around time.Now rather than testpki.Now; no test here judges
// validity.
type pki struct {
	oldRoot, newRoot, serverCA *testpki.CA
	server                     *testpki.Leaf
	oldClient, newClient       *testpki.Leaf
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	now := time.Now()
	valid := testpki.Validity(now.Add(-time.Hour), now.Add(24*time.Hour))
	p := &pki{
		oldRoot:  testpki.NewRoot(t, "Old Root", valid),
		newRoot:  testpki.NewRoot(t, "New Root", valid),
		serverCA: testpki.NewRoot(t, "Server Root", valid),
	}
	p.server = p.serverCA.Leaf(t, "receiver", valid, testpki.EKU(x509.ExtKeyUsageServerAuth),
		testpki.SANs("127.0.0.1", "localhost"))
	p.oldClient = p.oldRoot.Leaf(t, "tenant-client", valid)
	p.newClient = p.newRoot.Leaf(t, "tenant-client", valid)
	return p
}

// newChain is the new client chain as the executor holds it: leaf first,
// ending with the new root.
func (p *pki) newChain() []*x509.Certificate {
	return append(append([]*x509.Certificate{}, p.newClient.Chain...), p.newRoot.Cert)
}

func (p *pki) serverRoots() *x509.CertPool { return testpki.Pool(p.serverCA.Cert) }

// writeFile writes data to name in dir and returns its path.
func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, data, 0o600))
	return path
}

// freePort returns a port on 127.0.0.1 that was free a moment ago, for a
// server that cannot report the port it bound.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	_, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	return port
}

// waitListening polls until addr accepts TCP connections, failing the test
// with the server's log if it has not after a generous deadline or exits.
func waitListening(t *testing.T, addr string, exited <-chan struct{}, log func() string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			t.Fatalf("server exited before listening on %s:\n%s", addr, log())
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("server not listening on %s:\n%s", addr, log())
}
