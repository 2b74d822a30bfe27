//go:build unix

package haproxy

import (
	"context"
	"crypto/tls"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pending opens a connection presenting leaf and sends half a request
// on it, so that the worker that took it lingers after a reload (waiting
// for the rest) as an old worker; the cleanup closes it.
func (l *landscape) pending(t *testing.T, leaf tls.Certificate) {
	t.Helper()
	c, err := tls.Dial("tcp", l.addr, &tls.Config{RootCAs: l.serverRoots, ServerName: "127.0.0.1", Certificates: []tls.Certificate{leaf}})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	_, err = io.WriteString(c, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
	require.NoError(t, err)
}

// TestHAProxyReloadWaitsForOldWorkers: only the ACL file changes (the CA
// names stay, so their check proves nothing), and the old worker lingers
// with a keep-alive connection. When AcceptClient returns, no worker of
// the old configuration may still be a current worker or listen: every
// new connection is the new configuration's, and the newly pinned client
// gets 200 on each.
func TestHAProxyReloadWaitsForOldWorkers(t *testing.T) {
	t.Parallel()
	for _, bySignal := range []bool{false, true} {
		name := "master socket"
		if bySignal {
			name = "SIGUSR2"
		}
		t.Run(name, func(t *testing.T) {
			l := startHAProxy(t)
			ctx := context.Background()
			require.NoError(t, l.rcv.TrustRoot(ctx, l.newRoot.Cert))
			rcv := l.rcv
			if bySignal {
				var err error
				rcv, err = NewReceiver(Config{CAFile: l.caFile(), PinnedACL: l.aclFile(), HAProxy: l.rcv.cfg.HAProxy,
					ConfigFiles: []string{l.conf}, PidFile: l.pidFile, URL: l.url, ServerRoots: l.serverRoots, Timeout: 30 * time.Second})
				require.NoError(t, err)
			}
			l.pending(t, l.oldClient.TLSCertificate())
			before, err := showProc(ctx, l.socket)
			require.NoError(t, err)

			require.NoError(t, rcv.AcceptClient(ctx, chainOf(l.newClient, l.newRoot)))
			now, err := showProc(ctx, l.socket)
			require.NoError(t, err)
			for pid := range before.workers {
				_, current := now.workers[pid]
				assert.False(t, current, "worker %d of the old configuration is still current (show proc: %+v)", pid, now)
				serving, err := listening(pid)
				require.NoError(t, err)
				assert.False(t, serving, "worker %d of the old configuration still listens", pid)
			}
			for pid := range before.workers {
				if !now.old[pid] {
					t.Logf("worker %d of the old configuration did not linger (show proc after the reload: %+v)", pid, now)
				}
			}
			for i := 0; i < 20; i++ {
				assert.Equal(t, 200, l.status(t, l.newClient), "request %d after the reload", i)
			}
		})
	}
}
