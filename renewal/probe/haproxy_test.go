//go:build unix

package probe

import (
	"bufio"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
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

// startHAProxy runs a real HAProxy trusting (and advertising) roots and
// returns its base URL, its directory and its process; extraArgs go to its command
// line (-W for master-worker mode).
func startHAProxy(t *testing.T, p *pki, roots []*x509.Certificate, extraArgs ...string) (string, string, *os.Process) {
	t.Helper()
	haproxy := needProgram(t, "/usr/sbin/haproxy", "haproxy")
	// HAProxy reads a comma in an address as a list separator, and the
	// directory's name comes from the test's: keep commas out of the names.
	dir := t.TempDir()
	require.NotContains(t, dir, ",", "a test name with a comma breaks HAProxy's stats socket path")
	writeFile(t, dir, "server.pem", append(testpki.PEM(p.server.Chain...), testpki.KeyPEM(t, p.server.Key)...))
	writeFile(t, dir, "client-ca.pem", testpki.PEM(roots...))
	conf := filepath.Join(dir, "haproxy.cfg")
	addr, proc := startServer(t, func(port string) []string {
		require.NoError(t, os.WriteFile(conf, fmt.Appendf(nil, haproxyConf, dir, port), 0o600))
		return append([]string{haproxy, "-db", "-f", conf}, extraArgs...)
	}, func() string { return "" })
	return "https://" + addr + "/health", dir, proc
}

// haproxyCommand sends one runtime API command over the stats socket and
// returns the answer.
func haproxyCommand(t *testing.T, dir, command string) string {
	t.Helper()
	c, err := net.DialTimeout("unix", filepath.Join(dir, "admin.sock"), 10*time.Second)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(30*time.Second)))
	_, err = c.Write([]byte(command))
	require.NoError(t, err)
	var b strings.Builder
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
	}
	return b.String()
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
		u, _, _ := startHAProxy(t, p, bothRoots)
		res, err := Probe(context.Background(), u, p.newChain(), p.newClient.Key, opts())
		require.NoError(t, err)
		assert.Equal(t, 200, res.Status)
		assert.Equal(t, []string{"CN=Old Root", "CN=New Root"}, res.AdvertisedNames())
	})

	t.Run("ca-file with the old root only", func(t *testing.T) {
		t.Parallel()
		u, _, _ := startHAProxy(t, p, bothRoots[:1])
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
		u, dir, _ := startHAProxy(t, p, bothRoots[:1])
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
	u, dir, master := startHAProxy(t, p, bothRoots[:1], "-W")
	opts := &Options{Roots: p.serverRoots()}
	_, err := Probe(context.Background(), u, p.newChain(), p.newClient.Key, opts)
	require.ErrorIs(t, err, ErrNotAdvertised, "before the reload")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "client-ca.pem"), testpki.PEM(bothRoots...), 0o600))
	// The master installs its SIGUSR2 handler only once it runs its loop,
	// which can be after the worker listens: a signal sent earlier is lost
	// (or ends the master). Wait until /proc shows the handler.
	waitCatches(t, master.Pid, syscall.SIGUSR2)
	require.NoError(t, master.Signal(syscall.SIGUSR2))

	// Poll until the new worker answers; the old one may still take a
	// connection or two meanwhile.
	deadline := time.Now().Add(30 * time.Second)
	var res *Result
	for {
		res, err = Probe(context.Background(), u, p.newChain(), p.newClient.Key, opts)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	require.NoError(t, err, "after the reload")
	assert.Equal(t, []string{"CN=Old Root", "CN=New Root"}, res.AdvertisedNames())
	assert.Equal(t, 200, res.Status)
}

// waitCatches polls /proc/<pid>/status until the process has a handler for
// sig (its SigCgt mask), with a generous deadline.
func waitCatches(t *testing.T, pid int, sig syscall.Signal) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		require.NoError(t, err)
		for _, line := range strings.Split(string(data), "\n") {
			if hex, ok := strings.CutPrefix(line, "SigCgt:"); ok {
				mask, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
				require.NoError(t, err)
				if mask&(1<<(int(sig)-1)) != 0 {
					return
				}
			}
		}
		require.True(t, time.Now().Before(deadline), "process %d does not handle %v", pid, sig)
		time.Sleep(20 * time.Millisecond)
	}
}
