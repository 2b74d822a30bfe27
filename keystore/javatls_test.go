package keystore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/internal/testpki"
)

// javaTLSHandshake runs testdata/java/Client.java with the keystore at
// keystorePath (a java.security.KeyStore type such as "JKS" or "PKCS12",
// opened with password, which must also protect its keys) against a
// crypto/tls server on 127.0.0.1 that requires a client certificate
// verifying up to one of clientRoots. It asserts that the mTLS handshake
// and the HTTPS GET complete and that the client presented wantLeaf.
//
// It is format-neutral so the JKS and PKCS#12 tests share it. Java takes a
// few seconds to compile and run the client.
func javaTLSHandshake(t *testing.T, keystorePath, storeType string, password []byte, clientRoots []*x509.Certificate, wantLeaf *x509.Certificate) {
	t.Helper()
	java, err := exec.LookPath("java")
	require.NoError(t, err, "the Java TLS interoperability test needs java (JDK 17+) on PATH")

	var (
		mu        sync.Mutex
		presented [][]byte
	)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
			http.Error(w, "no client certificate", http.StatusForbidden)
			return
		}
		leaf := r.TLS.PeerCertificates[0]
		mu.Lock()
		presented = append(presented, leaf.Raw)
		mu.Unlock()
		fmt.Fprintf(w, "hello %s", leaf.Subject.CommonName)
	}))
	srv.TLS = &tls.Config{
		ClientAuth: tls.RequireAndVerifyClientCert,
		ClientCAs:  testpki.Pool(clientRoots...),
		// Client certificates come from testpki, valid at its fixed clock.
		Time: func() time.Time { return testpki.Now },
	}
	srv.StartTLS()
	defer srv.Close()

	dir := t.TempDir()
	pwFile := writeSecretFile(t, dir, password)
	serverCA := filepath.Join(dir, "server-ca.pem")
	require.NoError(t, os.WriteFile(serverCA, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600))
	client, err := filepath.Abs(filepath.Join("testdata", "java", "Client.java"))
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	host := strings.TrimPrefix(srv.URL, "https://")
	cmd := exec.CommandContext(ctx, java, "-Duser.language=en", client, keystorePath, storeType, pwFile, serverCA, host)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	require.NoError(t, err, "java Client.java failed:\n%s", out.String())

	sum := sha256.Sum256(wantLeaf.Raw)
	assert.Contains(t, out.String(), "status 200", "Java's output:\n%s", out.String())
	assert.Contains(t, out.String(), "client-sha256 "+hex.EncodeToString(sum[:]), "Java says it presented another certificate")
	assert.Contains(t, out.String(), "hello "+wantLeaf.Subject.CommonName)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, presented, 1, "the server should have seen one request")
	assert.True(t, bytes.Equal(wantLeaf.Raw, presented[0]), "the server saw client certificate %s, want %s (%s)",
		CertFingerprint(mustCert(t, presented[0])), CertFingerprint(wantLeaf), wantLeaf.Subject)
}

func mustCert(t *testing.T, der []byte) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return c
}

// TestJavaTLSClientUsesReplacedJKSEntry is the job end to end: a keystore
// keytool made holds the tenant's client key (self-signed) and the old
// root; the library replaces the key entry with a key whose chain comes
// from a different CA; a Java TLS client using the file as its key store
// completes an mTLS handshake with a server that trusts only the new CA,
// presenting the new certificate. The store password is "päss1234", so the
// password also goes from UTF-8 through JKS's UTF-16 hashing in Java.
func TestJavaTLSClientUsesReplacedJKSEntry(t *testing.T) {
	t.Parallel()
	k := newKeytoolStore(t)
	newRoot := testpki.NewRoot(t, "New Root CA")
	newLeaf := newRoot.Intermediate(t, "New Issuing CA").Leaf(t, "tenant-client")

	s := k.open(t)
	// Java's key manager opens every key with the store password, so the
	// entry with its own key password goes.
	require.NoError(t, s.Delete("other"))
	_, err := s.Replace("TenantClient", newLeaf.Key, newLeaf.Chain, nil)
	require.NoError(t, err)
	require.NoError(t, s.Save(k.path, k.storePass, nil))

	javaTLSHandshake(t, k.path, "JKS", k.storePass, []*x509.Certificate{newRoot.Cert}, newLeaf.Cert)
}
