//go:build unix

package command

import (
	"context"
	"crypto/x509"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/certroll/certroll/internal/testpki"
	"github.com/certroll/certroll/renewal"
	"github.com/certroll/certroll/renewal/probe"
	"github.com/certroll/certroll/truststore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAdapterOffersWhatIsConfigured: the executor finds Prober and
// UsageObserver by type assertion, so Adapter offers each only when its
// field is set.
func TestAdapterOffersWhatIsConfigured(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name            string
		log, url        string
		observer, probe bool
	}{
		{"neither", "", "", false, false},
		{"access log", "access.log", "", true, false},
		{"URL", "", "https://127.0.0.1:8443/", false, true},
		{"both", "access.log", "https://127.0.0.1:8443/", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewReceiver(Config{TrustFile: filepath.Join(dir, "ca.pem"), TrustKind: truststore.PEMBundle,
				AccessLog: tc.log, URL: tc.url})
			require.NoError(t, err)
			a := r.Adapter()
			_, isObserver := a.(renewal.UsageObserver)
			_, isProber := a.(renewal.Prober)
			_, isInspector := a.(renewal.ReceiverInspector)
			assert.Equal(t, tc.observer, isObserver)
			assert.Equal(t, tc.probe, isProber)
			assert.True(t, isInspector)
		})
	}
	_, err := NewReceiver(Config{TrustFile: filepath.Join(dir, "ca.pem"), TrustKind: truststore.PEMBundle, URL: "http://x/"})
	assert.ErrorContains(t, err, "Config.URL: want https://")
}

// TestProbeOpenSSLServer probes a real openssl s_server that requires a
// client certificate and advertises the roots of the receiver's trust file
// (-CAfile): before TrustRoot the probe fails naming the new root; after
// TrustRoot and a restart of the server (what the reload command would do)
// it passes.
func TestProbeOpenSSLServer(t *testing.T) {
	openssl := needProgram(t, "openssl", "openssl")
	now := time.Now() // openssl verifies at the wall clock
	valid := testpki.Validity(now.Add(-time.Hour), now.Add(24*time.Hour))
	oldRoot, newRoot := testpki.NewRoot(t, "Old Root", valid), testpki.NewRoot(t, "New Root", valid)
	serverCA := testpki.NewRoot(t, "Server Root", valid)
	server := serverCA.Leaf(t, "receiver", valid, testpki.EKU(x509.ExtKeyUsageServerAuth), testpki.SANs("127.0.0.1"))
	client := newRoot.Leaf(t, "new client", valid)
	dir := t.TempDir()
	trust := filepath.Join(dir, "client-ca.pem")
	require.NoError(t, os.WriteFile(trust, testpki.PEM(oldRoot.Cert), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "server.pem"), testpki.PEM(server.Cert), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "server.key"), testpki.KeyPEM(t, server.Key), 0o600))

	start := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		require.NoError(t, ln.Close())
		cmd := exec.Command(openssl, "s_server", "-quiet", "-accept", addr, "-www",
			"-cert", filepath.Join(dir, "server.pem"), "-key", filepath.Join(dir, "server.key"),
			"-Verify", "2", "-CAfile", trust)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		out := filepath.Join(dir, "s_server.out")
		f, err := os.Create(out)
		require.NoError(t, err)
		cmd.Stdout, cmd.Stderr = f, f
		require.NoError(t, cmd.Start())
		f.Close()
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		t.Cleanup(func() {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		})
		deadline := time.Now().Add(30 * time.Second)
		for {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				return "https://" + addr + "/"
			}
			select {
			case <-exited:
				msg, _ := os.ReadFile(out)
				t.Fatalf("openssl s_server exited: %s", msg)
			default:
			}
			require.True(t, time.Now().Before(deadline), "openssl s_server not listening on %s", addr)
			time.Sleep(20 * time.Millisecond)
		}
	}

	u := start()
	r, err := NewReceiver(Config{TrustFile: trust, TrustKind: truststore.PEMBundle, URL: u,
		ServerRoots: testpki.Pool(serverCA.Cert)})
	require.NoError(t, err)
	prober := r.Adapter().(renewal.Prober)
	newChain := append(append([]*x509.Certificate{}, client.Chain...), newRoot.Cert)
	ctx := context.Background()

	err = prober.Probe(ctx, newChain, client.Key)
	var pe *probe.Error
	require.ErrorAs(t, err, &pe, "before TrustRoot")
	assert.ErrorIs(t, err, probe.ErrNotAdvertised)
	assert.Equal(t, newRoot.Cert, pe.Missing)
	assert.ErrorContains(t, err, "but not CN=New Root")

	require.NoError(t, r.TrustRoot(ctx, newRoot.Cert))
	r.cfg.URL = start() // the reload: a server that reads the edited file
	require.NoError(t, prober.Probe(ctx, newChain, client.Key), "after TrustRoot and the restart")
}
