//go:build unix

package haproxy

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/certroll/certroll/renewal/probe"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHAProxyOverlapRenewal runs the overlap sequence against a real
// HAProxy reloaded through its master socket.
func TestHAProxyOverlapRenewal(t *testing.T) {
	t.Parallel()
	l := startHAProxy(t)
	ctx := context.Background()
	oldChain, newChain := chainOf(l.oldClient, l.oldRoot), chainOf(l.newClient, l.newRoot)

	require.Equal(t, 200, l.status(t, l.oldClient), "the starting configuration accepts the old client")
	_, err := l.get(l.newClient)
	require.Error(t, err, "HAProxy refuses the handshake of a client of an untrusted root")
	require.NoError(t, l.rcv.Accepts(ctx, oldChain))
	assert.Error(t, l.rcv.Accepts(ctx, newChain))
	assert.Equal(t, []string{l.oldRoot.Cert.Subject.String()}, l.advertised(t))

	reloads := l.reloads(t)
	require.NoError(t, l.rcv.TrustRoot(ctx, l.newRoot.Cert))
	assert.Equal(t, reloads+1, l.reloads(t), "one reload")
	assert.ElementsMatch(t, []string{l.oldRoot.Cert.Subject.String(), l.newRoot.Cert.Subject.String()}, l.advertised(t),
		"after the reload HAProxy advertises both roots")
	assert.Equal(t, 403, l.status(t, l.newClient), "trusted but not pinned: 403")
	require.NoError(t, l.rcv.AcceptClient(ctx, newChain))
	assert.Equal(t, 200, l.status(t, l.newClient), "trusted and pinned: 200")
	assert.Equal(t, 403, l.status(t, l.unpinned), "a certificate of the new root that is not pinned: 403")
	assert.Equal(t, 200, l.status(t, l.oldClient), "the old client still gets through during the overlap")
	require.NoError(t, l.rcv.Accepts(ctx, newChain))

	// Idempotence: nothing changes, nothing is run.
	caBefore, aclBefore, reloads := readFile(t, l.caFile()), readFile(t, l.aclFile()), l.reloads(t)
	require.NoError(t, l.rcv.TrustRoot(ctx, l.newRoot.Cert))
	require.NoError(t, l.rcv.AcceptClient(ctx, newChain))
	assert.Equal(t, caBefore, readFile(t, l.caFile()))
	assert.Equal(t, aclBefore, readFile(t, l.aclFile()))
	assert.Equal(t, reloads, l.reloads(t), "no reload when nothing changes")

	roots, err := l.rcv.Roots()
	require.NoError(t, err)
	assert.Len(t, roots, 2)
	acc, err := l.rcv.AcceptedClients()
	require.NoError(t, err)
	assert.Len(t, acc, 2, "the hand-written old line (its certificate handed in by Accepts) and the new one")

	// LastSeen: the old leaf was just used. The log line travels through
	// the datagram socket, so poll for it.
	since := time.Now().Truncate(time.Second)
	require.Equal(t, 200, l.status(t, l.oldClient))
	var seen time.Time
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		seen, err = l.rcv.LastSeen(ctx, l.oldClient.Cert)
		if err == nil && !seen.Before(since) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(t, err)
	assert.False(t, seen.Before(since), "last seen %v, request sent at %v", seen, since)
	never := l.oldRoot.Leaf(t, "never used")
	seen, err = l.rcv.LastSeen(ctx, never.Cert)
	require.NoError(t, err)
	assert.False(t, seen.IsZero(), "not named: the log's start")
	assert.False(t, seen.After(since), "the log began before the request, got %v", seen)

	// The end of the renewal: the old certificate and root go.
	require.NoError(t, l.rcv.RemoveClient(ctx, oldChain[0]))
	assert.Equal(t, 403, l.status(t, l.oldClient), "the old client is no longer pinned")
	require.NoError(t, l.rcv.RemoveRoot(ctx, l.oldRoot.Cert))
	assert.Equal(t, []string{l.newRoot.Cert.Subject.String()}, l.advertised(t), "only the new root is advertised")
	_, err = l.get(l.oldClient)
	assert.Error(t, err, "the old chain no longer verifies")
	assert.Equal(t, 200, l.status(t, l.newClient))
	require.NoError(t, l.rcv.RemoveRoot(ctx, l.oldRoot.Cert), "removing again is not an error")
	require.NoError(t, l.rcv.RemoveClient(ctx, oldChain[0]), "removing again is not an error")
	var na *NotAcceptedError
	assert.ErrorAs(t, l.rcv.Accepts(ctx, oldChain), &na)
	assert.True(t, strings.HasPrefix(string(readFile(t, l.aclFile())), "# pinned by hand\n"), "the administrator's comment stays")
}

// TestHAProxyProbe: the probe is the verdict. Before TrustRoot HAProxy
// advertises the old root only and the probe fails naming the new root;
// after TrustRoot and AcceptClient it passes with the new chain.
func TestHAProxyProbe(t *testing.T) {
	t.Parallel()
	l := startHAProxy(t)
	ctx := context.Background()
	newChain := chainOf(l.newClient, l.newRoot)

	err := l.rcv.Probe(ctx, newChain, l.newClient.Key)
	var pe *probe.Error
	require.ErrorAs(t, err, &pe, "before TrustRoot")
	assert.ErrorIs(t, err, probe.ErrNotAdvertised)
	assert.Equal(t, l.newRoot.Cert, pe.Missing)
	assert.ErrorContains(t, err, "the server advertises CN=Old Client Root but not CN=New Client Root")

	require.NoError(t, l.rcv.TrustRoot(ctx, l.newRoot.Cert))
	err = l.rcv.Probe(ctx, newChain, l.newClient.Key)
	assert.ErrorIs(t, err, probe.ErrStatus, "trusted but not pinned: 403")
	assert.NotErrorIs(t, err, probe.ErrNotAdvertised)
	require.NoError(t, l.rcv.AcceptClient(ctx, newChain))
	require.NoError(t, l.rcv.Probe(ctx, newChain, l.newClient.Key), "after TrustRoot and AcceptClient")
}

// TestHAProxyRefusesBrokenConfiguration: haproxy -c fails, nothing is
// reloaded and both files are restored byte for byte.
func TestHAProxyRefusesBrokenConfiguration(t *testing.T) {
	t.Parallel()
	l := startHAProxy(t)
	ctx := context.Background()
	caBefore, aclBefore, reloads := readFile(t, l.caFile()), readFile(t, l.aclFile()), l.reloads(t)

	// Someone broke the configuration meanwhile.
	good := readFile(t, l.conf)
	require.NoError(t, os.WriteFile(l.conf, append(append([]byte{}, good...), "    certroll_no_such_keyword on\n"...), 0o644))

	err := l.rcv.TrustRoot(ctx, l.newRoot.Cert)
	var rb *RolledBackError
	require.ErrorAs(t, err, &rb, "got %v", err)
	assert.Equal(t, "check", rb.Step)
	var ce *CommandError
	require.ErrorAs(t, err, &ce)
	assert.Contains(t, string(ce.Output), "certroll_no_such_keyword", "haproxy -c's complaint is in the error")
	assert.Equal(t, caBefore, readFile(t, l.caFile()), "the CA file is restored byte for byte")

	err = l.rcv.AcceptClient(ctx, chainOf(l.newClient, l.newRoot))
	require.ErrorAs(t, err, &rb)
	assert.Equal(t, aclBefore, readFile(t, l.aclFile()), "the ACL file is restored byte for byte")

	assert.Equal(t, reloads, l.reloads(t), "HAProxy was not reloaded")
	assert.Equal(t, 200, l.status(t, l.oldClient), "HAProxy still runs the old configuration")
	assert.Equal(t, []string{l.oldRoot.Cert.Subject.String()}, l.advertised(t))

	// Fixed, the same calls go through.
	require.NoError(t, os.WriteFile(l.conf, good, 0o644))
	require.NoError(t, l.rcv.TrustRoot(ctx, l.newRoot.Cert))
	require.NoError(t, l.rcv.AcceptClient(ctx, chainOf(l.newClient, l.newRoot)))
	assert.Equal(t, 200, l.status(t, l.newClient))
}

// TestHAProxyFailedReload: haproxy -c passes on the files the receiver is
// told about, but the master reads a configuration that fails; show proc
// reports the failed reload, the receiver reports it at once and restores
// the CA file, and the old worker keeps serving.
func TestHAProxyFailedReload(t *testing.T) {
	t.Parallel()
	l := startHAProxy(t)
	ctx := context.Background()
	good := readFile(t, l.conf)
	copyPath := l.dir + "/checked.cfg"
	require.NoError(t, os.WriteFile(copyPath, good, 0o644))
	l.rcv.cfg.ConfigFiles = []string{copyPath}
	require.NoError(t, os.WriteFile(l.conf, append(append([]byte{}, good...), "    certroll_no_such_keyword on\n"...), 0o644))
	caBefore := readFile(t, l.caFile())

	err := l.rcv.TrustRoot(ctx, l.newRoot.Cert)
	var rb *RolledBackError
	require.ErrorAs(t, err, &rb, "got %v", err)
	assert.Equal(t, "reload", rb.Step)
	var re *ReloadError
	require.ErrorAs(t, err, &re)
	assert.Contains(t, re.State, "the master reports the reload failed")
	assert.Equal(t, caBefore, readFile(t, l.caFile()), "the CA file is restored byte for byte")
	assert.Equal(t, 200, l.status(t, l.oldClient), "the old worker still serves")
	assert.Equal(t, []string{l.oldRoot.Cert.Subject.String()}, l.advertised(t))
}

// TestHAProxyReloadBySignal reloads with SIGUSR2 to the master named by the
// pid file, without the master socket.
func TestHAProxyReloadBySignal(t *testing.T) {
	t.Parallel()
	l := startHAProxy(t)
	ctx := context.Background()
	rcv, err := NewReceiver(Config{
		CAFile: l.caFile(), PinnedACL: l.aclFile(), HAProxy: l.rcv.cfg.HAProxy,
		ConfigFiles: []string{l.conf}, PidFile: l.pidFile,
		URL: l.url, ServerRoots: l.serverRoots, Timeout: 30 * time.Second,
	})
	require.NoError(t, err)
	reloads := l.reloads(t)
	require.NoError(t, rcv.TrustRoot(ctx, l.newRoot.Cert))
	require.NoError(t, rcv.AcceptClient(ctx, chainOf(l.newClient, l.newRoot)))
	assert.Equal(t, 200, l.status(t, l.newClient))
	assert.Equal(t, reloads+2, l.reloads(t), "two reloads by SIGUSR2")
	require.NoError(t, rcv.Probe(ctx, chainOf(l.newClient, l.newRoot), l.newClient.Key))
}

func TestNewReceiverErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const u = "https://127.0.0.1:8443/"
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no CA file", Config{PinnedACL: "a", ConfigFiles: []string{"c"}, MasterSocket: "s", URL: u}, "Config.CAFile"},
		{"no ACL file", Config{CAFile: "c", ConfigFiles: []string{"c"}, MasterSocket: "s", URL: u}, "Config.PinnedACL"},
		{"no configuration", Config{CAFile: "c", PinnedACL: "a", MasterSocket: "s", URL: u}, "Config.ConfigFiles"},
		{"no URL", Config{CAFile: "c", PinnedACL: "a", ConfigFiles: []string{"c"}, MasterSocket: "s"}, "Config.URL"},
		{"no master", Config{CAFile: "c", PinnedACL: "a", ConfigFiles: []string{"c"}, URL: u}, "Config.MasterSocket and Config.PidFile"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewReceiver(tc.cfg)
			assert.ErrorContains(t, err, tc.want)
		})
	}
	bad := dir + "/bad.acl"
	require.NoError(t, os.WriteFile(bad, []byte("not a fingerprint\n"), 0o644))
	_, err := NewReceiver(Config{CAFile: dir + "/ca.pem", PinnedACL: bad, ConfigFiles: []string{"c"}, MasterSocket: "s", URL: u})
	assert.ErrorContains(t, err, "line 1")
	r, err := NewReceiver(Config{CAFile: dir + "/ca.pem", PinnedACL: dir + "/p.acl", ConfigFiles: []string{"c"}, MasterSocket: "s", URL: u})
	require.NoError(t, err)
	_, err = r.LastSeen(context.Background(), nil)
	assert.ErrorContains(t, err, "want a certificate")
}

func TestParseShowProc(t *testing.T) {
	t.Parallel()
	out := "#<PID>          <type>          <reloads>       <uptime>        <version>\n" +
		"2812            master          2 [failed: 1]   0d00h10m25s     2.6.12-1+deb12u3\n" +
		"# workers\n" +
		"22385           worker          1               0d00h00m13s     2.6.12-1+deb12u3\n" +
		"22704           worker          0               0d00h00m01s     2.6.12-1+deb12u3\n" +
		"# programs\n\n"
	p, err := parseShowProc(out)
	require.NoError(t, err)
	assert.Equal(t, 2, p.reloads)
	assert.Equal(t, 1, p.failed)
	assert.Equal(t, map[int]int{22385: 1, 22704: 0}, p.workers)
	assert.Empty(t, p.old)

	// after the master told the old worker to stop
	out = "#<PID>          <type>          <reloads>       <uptime>        <version>\n" +
		"2812            master          2 [failed: 0]   0d00h10m25s     2.6.12-1+deb12u3\n" +
		"# workers\n" +
		"22704           worker          0               0d00h00m01s     2.6.12-1+deb12u3\n" +
		"# old workers\n" +
		"22385           worker          1               0d00h00m13s     2.6.12-1+deb12u3\n" +
		"# programs\n\n"
	p, err = parseShowProc(out)
	require.NoError(t, err)
	assert.Equal(t, map[int]int{22704: 0}, p.workers)
	assert.Equal(t, map[int]bool{22385: true}, p.old)
	_, err = parseShowProc("Unknown command\n")
	assert.ErrorContains(t, err, "want a table with the master's line")
}
