package java_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/internal/testpki"
	"github.com/certroll/certroll/keystore"
)

// needJava returns the java launcher, failing the test in CI (which
// installs it) and skipping it elsewhere when it is missing.
func needJava(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("java")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("java (JDK 17) is not on PATH; install it: apt-get install -y openjdk-17-jdk-headless")
		}
		t.Skip("java (JDK 17) is not on PATH; install it: apt-get install -y openjdk-17-jdk-headless")
	}
	return p
}

// pki is the landscape of a renewal: the receiver's server certificate,
// the old and the new client root, and a client certificate from each.
type pki struct {
	serverRoot *testpki.CA
	server     tls.Certificate
	oldRoot    *testpki.CA
	newRoot    *testpki.CA
	oldLeaf    *testpki.Leaf
	newLeaf    *testpki.Leaf
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	// Java checks validity against the wall clock, so the leaves are
	// valid around now rather than around testpki.Now.
	now := time.Now()
	valid := testpki.Validity(now.Add(-time.Hour), now.Add(30*24*time.Hour))
	p := &pki{
		serverRoot: testpki.NewRoot(t, "receiver server root", testpki.Validity(now.Add(-time.Hour), now.Add(365*24*time.Hour))),
		oldRoot:    testpki.NewRoot(t, "old client root", testpki.Validity(now.Add(-time.Hour), now.Add(365*24*time.Hour))),
		newRoot:    testpki.NewRoot(t, "new client root", testpki.Validity(now.Add(-time.Hour), now.Add(365*24*time.Hour))),
	}
	p.server = p.serverRoot.Leaf(t, "127.0.0.1", testpki.SANs("127.0.0.1"), valid,
		testpki.EKU(x509.ExtKeyUsageServerAuth)).TLSCertificate()
	p.oldLeaf = p.oldRoot.Leaf(t, "tenant client", valid)
	p.newLeaf = p.newRoot.Leaf(t, "tenant client", valid)
	return p
}

// writeKeystore writes a keystore of format f holding leaf under alias
// "client" and returns its path.
func writeKeystore(t *testing.T, f keystore.Format, leaf *testpki.Leaf, password []byte) string {
	t.Helper()
	s := keystore.New(f, nil)
	require.NoError(t, s.Set(&keystore.Entry{Alias: "client", Key: leaf.Key, Chain: leaf.Chain}, nil))
	path := filepath.Join(t.TempDir(), "client.ks")
	require.NoError(t, s.Save(path, password, nil))
	return path
}

// replaceEntry replaces the "client" entry of the keystore at path with
// leaf, as the renewal's swap step does.
func replaceEntry(t *testing.T, path string, password []byte, leaf *testpki.Leaf) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, keystore.Update(ctx, path, password, func(s *keystore.Store) error {
		_, err := s.Replace("client", leaf.Key, leaf.Chain, nil)
		return err
	}, nil))
}

// receiver is an HTTPS server that requires client certificates and
// records the fingerprint of every one it accepted.
type receiver struct {
	srv      *httptest.Server
	mu       sync.Mutex
	seen     []keystore.Fingerprint
	accepted atomic.Int64
}

// startReceiver starts a receiver with tc's client settings (ClientAuth,
// ClientCAs, VerifyPeerCertificate, GetConfigForClient) and the server
// certificate of p.
func startReceiver(t *testing.T, p *pki, tc *tls.Config) *receiver {
	t.Helper()
	r := &receiver{}
	r.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.TLS != nil && len(req.TLS.PeerCertificates) > 0 {
			r.mu.Lock()
			r.seen = append(r.seen, keystore.CertFingerprint(req.TLS.PeerCertificates[0]))
			r.mu.Unlock()
		}
		r.accepted.Add(1)
		_, _ = io.WriteString(w, "ok\n")
	}))
	tc.Certificates = []tls.Certificate{p.server}
	r.srv.TLS = tc
	r.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the failed handshakes are the point of some tests
	r.srv.StartTLS()
	t.Cleanup(r.srv.Close)
	return r
}

// lastSeen returns the certificate the receiver accepted last.
func (r *receiver) lastSeen() keystore.Fingerprint {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.seen) == 0 {
		return keystore.Fingerprint{}
	}
	return r.seen[len(r.seen)-1]
}

// eventually polls cond until it holds, failing the test after a generous
// deadline: a wait for a JVM, not an assertion about its speed.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
