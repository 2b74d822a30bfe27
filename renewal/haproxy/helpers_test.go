//go:build unix

package haproxy

import (
	"context"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
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

	"github.com/certroll/certroll/internal/testpki"
	"github.com/certroll/certroll/renewal/probe"
	"github.com/stretchr/testify/require"
)

// needHAProxy returns the haproxy program; without it the test fails in CI,
// saying how to install it, and is skipped elsewhere.
func needHAProxy(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"haproxy", "/usr/sbin/haproxy"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	msg := "haproxy not found: install it: apt-get install -y haproxy"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// confTemplate is the configuration of the package doc, on a loopback port
// of a temporary directory, logging raw to a unix datagram socket the test
// reads (as a syslog daemon would), with an admin stats socket for the
// runtime API. {DIR}, {PORT} and {LOGFORMAT} are
// replaced (fmt verbs would clash with HAProxy's %[...]).
const confTemplate = `global
    log {DIR}/log.sock format raw local0
    stats socket {DIR}/admin.sock level admin
defaults
    mode http
    log global
    timeout connect 5s
    timeout client 10s
    timeout server 10s
frontend receiver
    bind 127.0.0.1:{PORT} ssl crt {DIR}/server.pem ca-file {DIR}/client-ca.pem verify required
    {LOGFORMAT}
    acl certroll_pinned ssl_c_sha1,hex -m str -f {DIR}/pinned-clients.acl
    http-request deny unless certroll_pinned
    http-request return status 200 content-type text/plain string ok
`

// landscape is a running HAProxy with an old and a new client root.
type landscape struct {
	dir, conf, addr, url string
	socket, pidFile      string
	serverRoots          *x509.CertPool
	oldRoot, newRoot     *testpki.CA
	oldClient, newClient *testpki.Leaf
	unpinned             *testpki.Leaf // under the new root, never pinned
	rcv                  *Receiver
}

func (l *landscape) caFile() string  { return filepath.Join(l.dir, "client-ca.pem") }
func (l *landscape) aclFile() string { return filepath.Join(l.dir, "pinned-clients.acl") }
func (l *landscape) logFile() string { return filepath.Join(l.dir, "access.log") }

// chain is the chain as the executor holds it: leaf first, ending with the
// root.
func chainOf(leaf *testpki.Leaf, root *testpki.CA) []*x509.Certificate {
	return append(append([]*x509.Certificate{}, leaf.Chain...), root.Cert)
}

// startHAProxy starts HAProxy -W -S in a temporary directory on a free
// loopback port, trusting the old root and pinning the old client (an ACL
// line written by hand, as an administrator would before certroll), and a
// receiver for it reloading through the master socket.
func startHAProxy(t *testing.T) *landscape {
	bin := needHAProxy(t)
	// HAProxy reads a comma in an address as a list separator.
	l := &landscape{dir: t.TempDir()}
	require.NotContains(t, l.dir, ",")
	now := time.Now() // HAProxy verifies at the wall clock
	valid := testpki.Validity(now.Add(-time.Hour), now.Add(24*time.Hour))
	l.oldRoot = testpki.NewRoot(t, "Old Client Root", valid)
	l.newRoot = testpki.NewRoot(t, "New Client Root", valid)
	serverCA := testpki.NewRoot(t, "Server Root", valid)
	server := serverCA.Leaf(t, "receiver", valid, testpki.EKU(x509.ExtKeyUsageServerAuth), testpki.SANs("127.0.0.1"))
	l.serverRoots = testpki.Pool(serverCA.Cert)
	l.oldClient = l.oldRoot.Leaf(t, "old client", valid)
	l.newClient = l.newRoot.Leaf(t, "new client", valid)
	l.unpinned = l.newRoot.Leaf(t, "unpinned client", valid)

	write := func(name string, data []byte) {
		require.NoError(t, os.WriteFile(filepath.Join(l.dir, name), data, 0o644))
	}
	write("server.pem", append(testpki.PEM(server.Chain...), testpki.KeyPEM(t, server.Key)...))
	write("client-ca.pem", testpki.PEM(l.oldRoot.Cert))
	sum := sha1.Sum(l.oldClient.Cert.Raw)
	write("pinned-clients.acl", []byte("# pinned by hand\n"+strings.ToUpper(hex.EncodeToString(sum[:]))+"\n"))
	l.conf = filepath.Join(l.dir, "haproxy.cfg")
	l.socket = filepath.Join(l.dir, "master.sock")
	l.pidFile = filepath.Join(l.dir, "haproxy.pid")
	readLog(t, filepath.Join(l.dir, "log.sock"), l.logFile())

	for attempt := 0; ; attempt++ {
		port := freePort(t)
		conf := strings.NewReplacer("{DIR}", l.dir, "{PORT}", port, "{LOGFORMAT}", LogFormat).Replace(confTemplate)
		write("haproxy.cfg", []byte(conf))
		outPath := filepath.Join(l.dir, fmt.Sprintf("haproxy-%d.out", attempt))
		out, err := os.Create(outPath)
		require.NoError(t, err)
		cmd := exec.Command(bin, "-W", "-db", "-S", l.socket, "-p", l.pidFile, "-f", l.conf)
		// a file, not a pipe: workers must not hold Wait up
		cmd.Stdout, cmd.Stderr = out, out
		// its own process group, so that the cleanup reaches the workers
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		require.NoError(t, cmd.Start())
		out.Close()
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		pid := cmd.Process.Pid
		l.addr = "127.0.0.1:" + port
		err = l.waitReady(exited)
		if err == nil {
			t.Cleanup(func() { stop(pid, exited) })
			break
		}
		stop(pid, exited)
		msg, _ := os.ReadFile(outPath)
		if attempt < 3 && strings.Contains(string(msg), "in use") {
			continue
		}
		require.NoError(t, err, "starting haproxy: %s", msg)
	}
	l.url = "https://" + l.addr + "/health"
	var err error
	l.rcv, err = NewReceiver(Config{
		CAFile: l.caFile(), PinnedACL: l.aclFile(), AccessLog: l.logFile(),
		HAProxy: bin, ConfigFiles: []string{l.conf}, MasterSocket: l.socket,
		URL: l.url, ServerRoots: l.serverRoots, Timeout: 30 * time.Second,
	})
	require.NoError(t, err)
	return l
}

// waitReady polls until HAProxy listens and the master CLI lists a worker:
// only then is the master in its loop, where a reload (or SIGUSR2) is not
// lost. The deadline is generous, not a measurement.
func (l *landscape) waitReady(exited <-chan struct{}) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("haproxy exited")
		default:
		}
		if c, err := net.DialTimeout("tcp", l.addr, time.Second); err == nil {
			c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			p, err := showProc(ctx, l.socket)
			cancel()
			if err == nil && len(p.workers) > 0 {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("haproxy not ready on %s within 30s", l.addr)
}

// stop ends the master (SIGTERM stops the workers too), and kills the
// process group if that hangs.
func stop(pid int, exited <-chan struct{}) {
	_ = syscall.Kill(pid, syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
}

// readLog listens on a unix datagram socket at sock, as rsyslog would, and
// appends each datagram as a line to file, until the test ends.
func readLog(t *testing.T, sock, file string) {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	require.NoError(t, err)
	f, err := os.OpenFile(file, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	require.NoError(t, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64<<10)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			line := strings.TrimRight(string(buf[:n]), "\n") + "\n"
			_, _ = f.WriteString(line)
		}
	}()
	t.Cleanup(func() {
		conn.Close()
		<-done
		f.Close()
	})
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	_, port, err := net.SplitHostPort(ln.Addr().String())
	require.NoError(t, err)
	return port
}

// get sends one request presenting leaf and returns the status, or the
// error of a refused handshake.
func (l *landscape) get(leaf *testpki.Leaf) (int, error) {
	tr := &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{
		RootCAs: l.serverRoots, ServerName: "127.0.0.1", Certificates: []tls.Certificate{leaf.TLSCertificate()}}}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	resp, err := c.Get(l.url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

func (l *landscape) status(t *testing.T, leaf *testpki.Leaf) int {
	t.Helper()
	s, err := l.get(leaf)
	require.NoError(t, err)
	return s
}

// advertised returns the CA names HAProxy advertises, as pkix.Name
// strings.
func (l *landscape) advertised(t *testing.T) []string {
	t.Helper()
	names, err := probe.AdvertisedCANames(context.Background(), l.url, &probe.Options{Roots: l.serverRoots})
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

// reloads returns the master's reload count, polling while the master
// re-executes itself after a reload (its socket is away meanwhile).
func (l *landscape) reloads(t *testing.T) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		p, err := showProc(ctx, l.socket)
		cancel()
		if err == nil {
			return p.reloads
		}
		if time.Now().After(deadline) {
			require.NoError(t, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}
