package nginx

import (
	"context"
	"crypto"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/certroll/certroll/renewal/probe"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// needNginx returns the nginx program; without it the test fails in CI,
// saying how to install it, and is skipped elsewhere.
func needNginx(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"nginx", "/usr/sbin/nginx"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	msg := "nginx not found: install it: apt-get install -y nginx"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

const confTemplate = `daemon off;
master_process on;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 64; }
http {
    client_body_temp_path %[1]s/tmp/body;
    proxy_temp_path %[1]s/tmp/proxy;
    fastcgi_temp_path %[1]s/tmp/fastcgi;
    uwsgi_temp_path %[1]s/tmp/uwsgi;
    scgi_temp_path %[1]s/tmp/scgi;
    access_log off;

    map $ssl_client_fingerprint $certroll_pinned {
        default 0;
        include %[1]s/pinned-clients.map;
    }
    log_format certroll '$time_iso8601 $ssl_client_fingerprint $status';

    server {
        listen 127.0.0.1:%[2]d ssl;
        ssl_certificate %[1]s/server.pem;
        ssl_certificate_key %[1]s/server.key;

        ssl_client_certificate %[1]s/client-ca.pem;
        ssl_verify_client on;
        access_log %[1]s/certroll-clients.log certroll;
        if ($certroll_pinned = 0) {
            return 403;
        }
        location / {
            return 200 "ok\n";
        }
    }
}
`

type landscape struct {
	dir, conf, addr string
	serverRoot      *x509.CertPool
	oldCA, newCA    *testCA
	oldClient       tls.Certificate
	newClient       tls.Certificate
	unpinned        tls.Certificate // under the new root, never pinned
	rcv             *Receiver
}

// startNginx starts nginx in a temporary directory on a free loopback port,
// trusting the old root and pinning the old client certificate (a map line
// written by hand, as an administrator would before certroll).
func startNginx(t *testing.T) *landscape {
	bin := needNginx(t)
	l := &landscape{dir: t.TempDir()}
	l.oldCA, l.newCA = newTestCA(t, "Old Client Root"), newTestCA(t, "New Client Root")
	serverCA := newTestCA(t, "Server Root")
	l.serverRoot = x509.NewCertPool()
	l.serverRoot.AddCert(serverCA.cert)
	writeCertKey(t, filepath.Join(l.dir, "server.pem"), filepath.Join(l.dir, "server.key"), serverCA.issue(t, "127.0.0.1", false))
	l.oldClient = l.oldCA.issue(t, "old client", true)
	l.newClient = l.newCA.issue(t, "new client", true)
	l.unpinned = l.newCA.issue(t, "unpinned client", true)
	require.NoError(t, os.MkdirAll(filepath.Join(l.dir, "tmp"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(l.dir, "client-ca.pem"),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: l.oldCA.cert.Raw}), 0o644))
	sum := sha1.Sum(l.oldClient.Leaf.Raw)
	require.NoError(t, os.WriteFile(filepath.Join(l.dir, "pinned-clients.map"),
		[]byte("# pinned by hand\n"+hex.EncodeToString(sum[:])+" 1;\n"), 0o644))
	l.conf = filepath.Join(l.dir, "nginx.conf")

	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port := freePort(t)
		require.NoError(t, os.WriteFile(l.conf, []byte(fmt.Sprintf(confTemplate, l.dir, port)), 0o644))
		logPath := filepath.Join(l.dir, fmt.Sprintf("nginx-%d.out", attempt))
		out, err := os.Create(logPath)
		require.NoError(t, err)
		cmd := exec.Command(bin, "-p", l.dir, "-c", l.conf)
		// a file, not a pipe: workers that outlive the master must not
		// hold Wait up
		cmd.Stdout, cmd.Stderr = out, out
		// its own process group, so that the cleanup reaches the workers
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		require.NoError(t, cmd.Start())
		out.Close()
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		l.addr = fmt.Sprintf("127.0.0.1:%d", port)
		if lastErr = waitListening(l.addr, exited); lastErr == nil {
			pid := cmd.Process.Pid
			t.Cleanup(func() { stopNginx(pid, exited) })
			break
		}
		stopNginx(cmd.Process.Pid, exited)
		msg, _ := os.ReadFile(logPath)
		lastErr = fmt.Errorf("%w: %s", lastErr, msg)
	}
	require.NoError(t, lastErr, "starting nginx")

	rcv, err := NewReceiver(Config{
		ClientCA: filepath.Join(l.dir, "client-ca.pem"), PinMap: filepath.Join(l.dir, "pinned-clients.map"),
		AccessLog: filepath.Join(l.dir, "certroll-clients.log"),
		Nginx:     bin, Prefix: l.dir, ConfFile: l.conf, PidFile: filepath.Join(l.dir, "nginx.pid"),
		Addr: l.addr, URL: "https://" + l.addr + "/", ServerRoots: l.serverRoot, Timeout: 30 * time.Second,
	})
	require.NoError(t, err)
	l.rcv = rcv
	return l
}

// stopNginx stops the master and its workers (TERM, then KILL to the
// process group), and waits for the master.
func stopNginx(pid int, exited chan error) {
	_ = syscall.Kill(pid, syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-exited
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL) // any worker left behind
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitListening polls until addr accepts connections (and the pid file is
// written), or nginx exits; the deadline is generous, not a measurement.
func waitListening(addr string, exited chan error) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("nginx exited: %v", err)
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("nginx did not listen within 30s")
}

// get sends one request presenting client and returns the status, or an
// error for a refused handshake.
func (l *landscape) get(t *testing.T, client tls.Certificate) (int, error) {
	t.Helper()
	tr := &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{
		RootCAs: l.serverRoot, ServerName: "127.0.0.1", Certificates: []tls.Certificate{client}}}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	resp, err := c.Get("https://" + l.addr + "/")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

func (l *landscape) status(t *testing.T, client tls.Certificate) int {
	t.Helper()
	s, err := l.get(t, client)
	require.NoError(t, err)
	return s
}

func subjects(t *testing.T, l *landscape) []string {
	t.Helper()
	names, err := probe.AdvertisedCANames(context.Background(), "https://"+l.addr+"/", &probe.Options{Roots: l.serverRoot})
	require.NoError(t, err)
	var out []string
	for _, n := range names {
		var seq pkix.RDNSequence
		_, err := asn1.Unmarshal(n, &seq)
		require.NoError(t, err)
		var name pkix.Name
		name.FillFromRDNSequence(&seq)
		out = append(out, name.String())
	}
	return out
}

func TestNginxOverlapRenewal(t *testing.T) {
	l := startNginx(t)
	ctx := context.Background()
	oldChain, newChain := chainOf(l.oldClient), chainOf(l.newClient)

	require.Equal(t, 200, l.status(t, l.oldClient), "the starting configuration accepts the old client")
	require.Equal(t, 400, l.status(t, l.newClient), "nginx refuses a client of an untrusted root with 400")
	require.NoError(t, l.rcv.Accepts(ctx, oldChain))
	assert.Error(t, l.rcv.Accepts(ctx, newChain))

	require.NoError(t, l.rcv.TrustRoot(ctx, l.newCA.cert))
	assert.ElementsMatch(t, []string{l.oldCA.cert.Subject.String(), l.newCA.cert.Subject.String()}, subjects(t, l),
		"after the reload nginx advertises both roots")
	assert.Equal(t, 403, l.status(t, l.newClient), "trusted but not pinned: 403")
	require.NoError(t, l.rcv.AcceptClient(ctx, newChain))
	assert.Equal(t, 200, l.status(t, l.newClient), "trusted and pinned: 200")
	assert.Equal(t, 403, l.status(t, l.unpinned), "a certificate of the new root that is not pinned: 403")
	assert.Equal(t, 200, l.status(t, l.oldClient), "the old client still gets through during the overlap")
	require.NoError(t, l.rcv.Accepts(ctx, newChain))

	// idempotence: nothing changes, nothing is run
	mapBefore, _ := os.ReadFile(filepath.Join(l.dir, "pinned-clients.map"))
	pidBefore, _ := os.ReadFile(filepath.Join(l.dir, "nginx.pid"))
	require.NoError(t, l.rcv.TrustRoot(ctx, l.newCA.cert))
	require.NoError(t, l.rcv.AcceptClient(ctx, newChain))
	mapAfter, _ := os.ReadFile(filepath.Join(l.dir, "pinned-clients.map"))
	assert.Equal(t, mapBefore, mapAfter)
	pidAfter, _ := os.ReadFile(filepath.Join(l.dir, "nginx.pid"))
	assert.Equal(t, pidBefore, pidAfter)

	roots, err := l.rcv.Roots()
	require.NoError(t, err)
	assert.Len(t, roots, 2)
	acc, err := l.rcv.AcceptedClients()
	require.NoError(t, err)
	assert.Len(t, acc, 2, "the hand-written old line (its certificate handed in by Accepts) and the new one")

	// LastSeen: the old leaf was just used; the unpinned leaf got 403 and is logged too
	since := time.Now().Truncate(time.Second)
	require.Equal(t, 200, l.status(t, l.oldClient))
	seen, err := l.rcv.LastSeen(ctx, l.oldClient.Leaf)
	require.NoError(t, err)
	assert.False(t, seen.Before(since), "last seen %v, request sent at %v", seen, since)
	never := l.oldCA.issue(t, "never used", true)
	seen, err = l.rcv.LastSeen(ctx, never.Leaf)
	require.NoError(t, err)
	assert.False(t, seen.IsZero(), "not named: the log's start")
	assert.False(t, seen.After(since), "the log began before the request, got %v", seen)

	// the end of the renewal: the old certificate and root go
	require.NoError(t, l.rcv.RemoveClient(ctx, oldChain[0]))
	assert.Equal(t, 403, l.status(t, l.oldClient), "the old client is no longer pinned")
	require.NoError(t, l.rcv.RemoveRoot(ctx, l.oldCA.cert))
	assert.Equal(t, []string{l.newCA.cert.Subject.String()}, subjects(t, l), "only the new root is advertised")
	assert.Equal(t, 400, l.status(t, l.oldClient), "the old chain no longer verifies")
	assert.Equal(t, 200, l.status(t, l.newClient))
	require.NoError(t, l.rcv.RemoveRoot(ctx, l.oldCA.cert), "removing again is not an error")
	require.NoError(t, l.rcv.RemoveClient(ctx, oldChain[0]), "removing again is not an error")
	var na *NotAcceptedError
	assert.ErrorAs(t, l.rcv.Accepts(ctx, oldChain), &na)
	m, _ := os.ReadFile(filepath.Join(l.dir, "pinned-clients.map"))
	assert.True(t, strings.HasPrefix(string(m), "# pinned by hand\n"), "the administrator's comment stays")
}

// TestNginxProbe: the probe is the verdict. Before TrustRoot nginx
// advertises the old root only, and the probe fails naming the new root;
// after TrustRoot, AcceptClient and the reloads, it passes with the new
// chain, and fails with 403 for a chain of the new root that is not pinned.
func TestNginxProbe(t *testing.T) {
	l := startNginx(t)
	ctx := context.Background()
	newChain := chainOf(l.newClient)
	key := l.newClient.PrivateKey.(crypto.Signer)

	err := l.rcv.Probe(ctx, newChain, key)
	var pe *probe.Error
	require.ErrorAs(t, err, &pe, "before TrustRoot")
	assert.ErrorIs(t, err, probe.ErrNotAdvertised)
	assert.Equal(t, l.newCA.cert, pe.Missing)
	assert.ErrorContains(t, err, "but not CN=New Client Root")

	require.NoError(t, l.rcv.TrustRoot(ctx, l.newCA.cert))
	err = l.rcv.Probe(ctx, newChain, key)
	assert.ErrorIs(t, err, probe.ErrStatus, "trusted but not pinned: 403")
	assert.NotErrorIs(t, err, probe.ErrNotAdvertised)
	require.NoError(t, l.rcv.AcceptClient(ctx, newChain))
	require.NoError(t, l.rcv.Probe(ctx, newChain, key), "after TrustRoot and AcceptClient")
	err = l.rcv.Probe(ctx, chainOf(l.unpinned), l.unpinned.PrivateKey.(crypto.Signer))
	assert.ErrorIs(t, err, probe.ErrStatus, "a chain of the new root that is not pinned")

	l.rcv.cfg.URL = ""
	require.NoError(t, l.rcv.Probe(ctx, newChain, key), "Config.Addr stands in for the URL")
	l.rcv.cfg.Addr = ""
	assert.ErrorContains(t, l.rcv.Probe(ctx, newChain, key), "Config.URL")
}

func TestNginxRefusesBrokenConfiguration(t *testing.T) {
	l := startNginx(t)
	ctx := context.Background()
	caPath, mapPath := filepath.Join(l.dir, "client-ca.pem"), filepath.Join(l.dir, "pinned-clients.map")
	caBefore, _ := os.ReadFile(caPath)
	mapBefore, _ := os.ReadFile(mapPath)
	pidBefore, _ := os.ReadFile(filepath.Join(l.dir, "nginx.pid"))

	// someone broke the configuration meanwhile
	good, err := os.ReadFile(l.conf)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(l.conf, append(append([]byte{}, good...), "certroll_no_such_directive on;\n"...), 0o644))

	err = l.rcv.TrustRoot(ctx, l.newCA.cert)
	var rb *RolledBackError
	require.ErrorAs(t, err, &rb, "got %v", err)
	var ce *CommandError
	require.ErrorAs(t, err, &ce)
	assert.Contains(t, string(ce.Output), "certroll_no_such_directive", "nginx -t's complaint is in the error")
	caAfter, _ := os.ReadFile(caPath)
	assert.Equal(t, caBefore, caAfter, "the bundle is restored byte for byte")

	err = l.rcv.AcceptClient(ctx, chainOf(l.newClient))
	require.ErrorAs(t, err, &rb)
	mapAfter, _ := os.ReadFile(mapPath)
	assert.Equal(t, mapBefore, mapAfter, "the map is restored byte for byte")

	assert.Equal(t, 200, l.status(t, l.oldClient), "nginx still runs the old configuration")
	assert.Equal(t, 400, l.status(t, l.newClient))
	assert.Equal(t, []string{l.oldCA.cert.Subject.String()}, subjects(t, l))
	pidAfter, _ := os.ReadFile(filepath.Join(l.dir, "nginx.pid"))
	assert.Equal(t, pidBefore, pidAfter)

	// fixed, the same call goes through
	require.NoError(t, os.WriteFile(l.conf, good, 0o644))
	require.NoError(t, l.rcv.TrustRoot(ctx, l.newCA.cert))
	require.NoError(t, l.rcv.AcceptClient(ctx, chainOf(l.newClient)))
	assert.Equal(t, 200, l.status(t, l.newClient))
}

func TestNginxReloadBySignal(t *testing.T) {
	l := startNginx(t)
	l.rcv.cfg.ReloadSignal = true
	ctx := context.Background()
	require.NoError(t, l.rcv.TrustRoot(ctx, l.newCA.cert))
	require.NoError(t, l.rcv.AcceptClient(ctx, chainOf(l.newClient)))
	assert.Equal(t, 200, l.status(t, l.newClient))
}

func TestNewReceiverErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no bundle", Config{PinMap: "m", PidFile: "p"}, "Config.ClientCA"},
		{"no map", Config{ClientCA: "c", PidFile: "p"}, "Config.PinMap"},
		{"no pid file", Config{ClientCA: "c", PinMap: "m"}, "Config.PidFile"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewReceiver(tc.cfg)
			assert.ErrorContains(t, err, tc.want)
		})
	}
	bad := filepath.Join(dir, "bad.map")
	require.NoError(t, os.WriteFile(bad, []byte("default 0;\n"), 0o644))
	_, err := NewReceiver(Config{ClientCA: filepath.Join(dir, "ca.pem"), PinMap: bad, PidFile: "p"})
	assert.ErrorContains(t, err, "line 1")
	r, err := NewReceiver(Config{ClientCA: filepath.Join(dir, "ca.pem"), PinMap: filepath.Join(dir, "m"), PidFile: "p"})
	require.NoError(t, err)
	_, err = r.LastSeen(context.Background(), newTestCA(t, "x").cert)
	assert.ErrorContains(t, err, "log_format certroll")
}
