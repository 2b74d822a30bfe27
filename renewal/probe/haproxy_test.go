//go:build unix

package probe

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/certroll/certroll/internal/testpki"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// haproxyConf is a receiver as a user configures one: the client-CA file on
// the bind line, verify required, and an admin stats socket for the runtime
// API.
const haproxyConf = `global
    stats socket %[1]s/admin.sock level admin
defaults
    mode http
    timeout connect 5s
    timeout client 10s
    timeout server 10s
frontend receiver
    bind 127.0.0.1:%[2]s ssl crt %[1]s/server.pem ca-file %[1]s/client-ca.pem verify required
    http-request return status 200 content-type text/plain string ok
`

// haproxy is a real HAProxy started by a test.
type haproxy struct {
	url  string        // the receiver's URL
	dir  string        // its directory: configuration, CA file and sockets
	proc *os.Process   // the process started: the master in master-worker mode
	log  func() string // its output so far, for failure messages
	// master is the master CLI's socket in master-worker mode, else "".
	master string
}

// startHAProxy runs a real HAProxy trusting (and advertising) roots.
func startHAProxy(t *testing.T, p *pki, roots []*x509.Certificate) *haproxy {
	t.Helper()
	return runHAProxy(t, p, roots, false)
}

// startHAProxyMaster runs HAProxy as startHAProxy does, in master-worker
// mode (-W) with a master CLI socket (-S), and returns once the master is
// ready for a reload.
//
// Listening is not enough: the master binds the port before it forks the
// worker, which may serve at once, and installs its SIGUSR2 handler only
// afterwards, as it enters its event loop. Until then HAProxy 2.6 drops a
// SIGUSR2 (no reload, nothing logged), or dies of it very early. The
// master CLI is served by that event loop, so an answer to "show proc"
// listing a worker means that the handler is in place.
func startHAProxyMaster(t *testing.T, p *pki, roots []*x509.Certificate) *haproxy {
	t.Helper()
	h := runHAProxy(t, p, roots, true)
	h.waitWorker(t, "")
	return h
}

func runHAProxy(t *testing.T, p *pki, roots []*x509.Certificate, masterWorker bool) *haproxy {
	t.Helper()
	bin := needProgram(t, "/usr/sbin/haproxy", "haproxy")
	// HAProxy reads a comma in an address as a list separator, and the
	// directory's name comes from the test's: keep commas out of the names.
	dir := t.TempDir()
	require.NotContains(t, dir, ",", "a test name with a comma breaks HAProxy's socket paths")
	writeFile(t, dir, "server.pem", append(testpki.PEM(p.server.Chain...), testpki.KeyPEM(t, p.server.Key)...))
	writeFile(t, dir, "client-ca.pem", testpki.PEM(roots...))
	conf := filepath.Join(dir, "haproxy.cfg")
	h := &haproxy{dir: dir}
	var extra []string
	if masterWorker {
		h.master = filepath.Join(dir, "master.sock")
		extra = []string{"-W", "-S", h.master}
	}
	var addr string
	addr, h.proc, h.log = startServer(t, func(port string) []string {
		require.NoError(t, os.WriteFile(conf, fmt.Appendf(nil, haproxyConf, dir, port), 0o600))
		return append([]string{bin, "-db", "-f", conf}, extra...)
	}, func() string { return "" })
	h.url = "https://" + addr + "/health"
	return h
}

// socketCommand sends one command to an HAProxy CLI socket (the stats
// socket or the master CLI) and returns the answer, read until HAProxy
// closes the connection.
func socketCommand(path, command string) (string, error) {
	c, err := net.DialTimeout("unix", path, 10*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		return "", err
	}
	if _, err := c.Write([]byte(command)); err != nil {
		return "", err
	}
	// The end of the input ends the session: the master CLI would
	// otherwise wait for another command.
	if err := c.(*net.UnixConn).CloseWrite(); err != nil {
		return "", err
	}
	b, err := io.ReadAll(c)
	return string(b), err
}

// haproxyCommand sends one runtime API command over the stats socket and
// returns the answer.
func haproxyCommand(t *testing.T, dir, command string) string {
	t.Helper()
	out, err := socketCommand(filepath.Join(dir, "admin.sock"), command)
	require.NoError(t, err)
	return out
}

// procs is what the master CLI's "show proc" lists: the current workers'
// PIDs and the number of failed reloads.
type procs struct {
	workers []string
	failed  int
	text    string // the answer as HAProxy gave it
}

// showProc asks the master CLI for its processes. The answer reads
//
//	#<PID>          <type>          <reloads>       <uptime>        <version>
//	1162            master          1 [failed: 0]   0d00h02m07s     2.6.12
//	# workers
//	1271            worker          0               0d00h00m00s     2.6.12
//	# old workers
//	1233            worker          1               0d00h00m43s     2.6.12
func (h *haproxy) showProc() (procs, error) {
	out, err := socketCommand(h.master, "show proc\n")
	if err != nil {
		return procs{}, err
	}
	if !strings.Contains(out, "# workers") {
		return procs{}, fmt.Errorf("show proc answered %q, want a list of workers", out)
	}
	ps := procs{text: out}
	section := ""
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case strings.HasPrefix(line, "#"):
			section = strings.TrimSpace(strings.TrimPrefix(line, "#"))
		case len(f) > 1 && f[1] == "master":
			if i := strings.Index(line, "[failed: "); i >= 0 {
				if _, err := fmt.Sscanf(line[i:], "[failed: %d]", &ps.failed); err != nil {
					return procs{}, fmt.Errorf("show proc: master line %q: %w", line, err)
				}
			}
		case section == "workers":
			ps.workers = append(ps.workers, f[0])
		}
	}
	return ps, nil
}

// waitWorker polls the master CLI until it lists a current worker other
// than old ("" for any) and returns that worker's PID. It fails the test,
// with HAProxy's output, if a reload failed or if no such worker appears
// before a generous deadline. While the master reexecutes itself for a
// reload its socket does not answer; that is retried.
func (h *haproxy) waitWorker(t *testing.T, old string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ps, err := h.showProc()
		if err == nil && ps.failed > 0 {
			t.Fatalf("HAProxy's reload failed; show proc:\n%s\nHAProxy's output:\n%s", ps.text, h.log())
		}
		if err == nil {
			for _, w := range ps.workers {
				if w != old {
					return w
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no HAProxy worker other than %q after 30 s; show proc: %q, %v\nHAProxy's output:\n%s", old, ps.text, err, h.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestProbeHAProxy(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	bothRoots := []*x509.Certificate{p.oldRoot.Cert, p.newRoot.Cert}
	all := []error{ErrHandshake, ErrStatus, ErrNotAdvertised, ErrNotRequested, ErrExchange}
	check := func(t *testing.T, err error, want ...error) {
		t.Helper()
		for _, s := range all {
			assert.Equal(t, contains(want, s), errors.Is(err, s), "errors.Is(%v) for %v", s, err)
		}
	}
	opts := func() *Options { return &Options{Roots: p.serverRoots()} }

	t.Run("ca-file with both roots", func(t *testing.T) {
		t.Parallel()
		u := startHAProxy(t, p, bothRoots).url
		res, err := Probe(context.Background(), u, p.newChain(), p.newClient.Key, opts())
		require.NoError(t, err)
		assert.Equal(t, 200, res.Status)
		assert.Equal(t, []string{"CN=Old Root", "CN=New Root"}, res.AdvertisedNames())
	})

	t.Run("ca-file with the old root only", func(t *testing.T) {
		t.Parallel()
		u := startHAProxy(t, p, bothRoots[:1]).url
		res, err := Probe(context.Background(), u, p.newChain(), p.newClient.Key, opts())
		check(t, err, ErrHandshake, ErrNotAdvertised)
		assert.ErrorContains(t, err, "the server advertises CN=Old Root but not CN=New Root")
		assert.Equal(t, []string{"CN=Old Root"}, res.AdvertisedNames())
		assert.Zero(t, res.Status)
	})

	// The measurement on HAProxy 2.6: the runtime API makes the
	// new root verify, but the CertificateRequest keeps the old names, so
	// curl gets 200 and a Java client presents nothing. The probe must
	// fail, naming the missing root, although the status is 200.
	t.Run("runtime API set and commit ssl ca-file", func(t *testing.T) {
		t.Parallel()
		h := startHAProxy(t, p, bothRoots[:1])
		u, dir := h.url, h.dir
		caFile := filepath.Join(dir, "client-ca.pem")
		out := haproxyCommand(t, dir, "set ssl ca-file "+caFile+" <<\n"+string(testpki.PEM(bothRoots...))+"\n")
		require.Contains(t, out, "transaction created", "set ssl ca-file: %s", out)
		out = haproxyCommand(t, dir, "commit ssl ca-file "+caFile+"\n")
		require.Contains(t, out, "Success", "commit ssl ca-file: %s", out)

		res, err := Probe(context.Background(), u, p.newChain(), p.newClient.Key, opts())
		assert.Equal(t, 200, res.Status, "HAProxy verifies the new root after the commit")
		check(t, err, ErrNotAdvertised)
		assert.ErrorContains(t, err, "the server advertises CN=Old Root but not CN=New Root: a Java client will not present this certificate")
		var pe *Error
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, p.newRoot.Cert, pe.Missing)
		// The file on disk still holds the old root only.
		disk, err := os.ReadFile(caFile)
		require.NoError(t, err)
		assert.Equal(t, testpki.PEM(bothRoots[:1]...), disk)
	})
}

// The fix for the runtime API's stale names: write the CA file and reload
// HAProxy (USR2 to the master in master-worker mode); the new worker reads
// the file and advertises both roots.
func TestProbeHAProxyReload(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	bothRoots := []*x509.Certificate{p.oldRoot.Cert, p.newRoot.Cert}
	h := startHAProxyMaster(t, p, bothRoots[:1])
	opts := &Options{Roots: p.serverRoots()}
	_, err := Probe(context.Background(), h.url, p.newChain(), p.newClient.Key, opts)
	require.ErrorIs(t, err, ErrNotAdvertised, "before the reload")
	old := h.waitWorker(t, "")

	require.NoError(t, os.WriteFile(filepath.Join(h.dir, "client-ca.pem"), testpki.PEM(bothRoots...), 0o600))
	require.NoError(t, h.proc.Signal(syscall.SIGUSR2))
	// The reload took once the master lists a new worker, which has read
	// the file.
	renewed := h.waitWorker(t, old)

	// The old worker stops listening when the new one is up, and may take
	// a connection meanwhile: poll.
	deadline := time.Now().Add(30 * time.Second)
	var res *Result
	for {
		res, err = Probe(context.Background(), h.url, p.newChain(), p.newClient.Key, opts)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	require.NoError(t, err, "after the reload from worker %s to %s; HAProxy's output:\n%s", old, renewed, h.log())
	assert.Equal(t, []string{"CN=Old Root", "CN=New Root"}, res.AdvertisedNames())
	assert.Equal(t, 200, res.Status)
}
