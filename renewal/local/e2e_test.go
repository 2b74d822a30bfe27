package local

import (
	"context"
	"crypto/x509"
	"testing"
	"time"

	"github.com/certroll/certroll/chain"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOverlapRenewalWithoutFailures runs the overlap sequence of the
// reference by hand (no executor) while three nodes send messages over new
// TLS connections, and checks what the renewal guarantees, however fast
// the machine is: not one message fails, every message sent is answered,
// every message due is counted, and each node presents the old
// certificate until its restart and the new one after it.
func TestOverlapRenewalWithoutFailures(t *testing.T) {
	const nodes = 3
	ctx := context.Background()
	l := newLandscape(t)
	rt := l.runtime(t, RuntimeConfig{Nodes: nodes, Rate: 100})
	require.NoError(t, rt.StartAll(ctx))

	// A safety bound, not an expectation: the checks below wait for
	// messages, not for seconds, and the run ends when the renewal has.
	runCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	done := make(chan Stats, 1)
	go func() { done <- rt.Run(runCtx) }()

	// waitFor blocks until every node has sent at least n more messages
	// with the client certificate c (any, if c is nil) than it had in
	// from, so that each phase of the renewal carries traffic.
	waitFor := func(from Stats, n int, c *x509.Certificate) {
		t.Helper()
		count := func(ns Stats) int {
			if c == nil {
				return ns.Total
			}
			return ns.Presented[fp(c)]
		}
		require.Eventually(t, func() bool {
			for name, ns := range rt.Stats().PerNode {
				if count(ns)-count(from.PerNode[name]) < n {
					return false
				}
			}
			return true
		}, time.Minute, 5*time.Millisecond)
	}
	waitFor(Stats{}, 5, l.old.leaf())

	// 1. New key pair and CSR, signed by the new CA.
	renewed := renewClient(t, l.newCA, l.old.leaf())
	require.Len(t, renewed.chain, 2)
	assert.Equal(t, l.newCA.Root().Raw, renewed.chain[1].Raw)
	// 2.-3. The receiver trusts the new root and accepts the new
	// certificate next to the old one.
	require.NoError(t, l.receiver.TrustRoot(ctx, l.newCA.Root()))
	require.NoError(t, l.receiver.AcceptClient(ctx, renewed.chain))
	// 4. Gate: the receiver accepts both.
	require.NoError(t, l.receiver.Accepts(ctx, l.old.chain))
	require.NoError(t, l.receiver.Accepts(ctx, renewed.chain))

	// 5. Swap the key entry under the same alias. The nodes keep sending
	// the cached old certificate.
	swapTenantKey(t, l.keystore, renewed)
	waitFor(rt.Stats(), 3, l.old.leaf())
	for _, n := range []string{"node-1", "node-2", "node-3"} {
		assert.Equal(t, fp(l.old.leaf()), fp(presents(t, rt, n)), "%s must present the cached certificate until restarted", n)
	}

	// 7. Restart every node, one at a time, with traffic in between.
	for _, n := range []string{"node-1", "node-2", "node-3"} {
		require.NoError(t, rt.Restart(ctx, n))
		assert.Equal(t, fp(renewed.leaf()), fp(presents(t, rt, n)))
		waitFor(rt.Stats(), 1, nil) // traffic between the restarts
	}
	// Gate: every node presents the new certificate and has sent with it.
	// A node sends one message at a time, so once it has sent one with
	// the new certificate no message with the old one is on the way.
	waitFor(Stats{}, 1, renewed.leaf())
	oldSeen, err := l.receiver.LastSeen(ctx, l.old.leaf())
	require.NoError(t, err)
	assert.False(t, oldSeen.IsZero(), "the receiver saw the old certificate")

	// 9. The receiver removes the old certificate and the old root.
	require.NoError(t, l.receiver.RemoveClient(ctx, l.old.leaf()))
	require.NoError(t, l.receiver.RemoveRoot(ctx, l.oldCA.Root()))
	err = l.receiver.Accepts(ctx, l.old.chain)
	assert.ErrorIs(t, err, chain.ErrUnknownAuthority)
	assert.ErrorIs(t, err, chain.ErrNotPinned)
	require.NoError(t, l.receiver.Accepts(ctx, renewed.chain))
	waitFor(rt.Stats(), 3, renewed.leaf()) // messages flow after the removal
	cancel()
	stats := <-done

	assert.Zero(t, stats.Failed, "failures: %v", stats.Failures)
	served := l.receiver.servedByFingerprint()
	assert.Equal(t, stats.Total, served[fp(l.old.leaf())]+served[fp(renewed.leaf())], "every message sent was answered")
	for name, ns := range stats.PerNode {
		assert.Equal(t, []string{fp(l.old.leaf()), fp(renewed.leaf())}, ns.Sequence,
			"%s presents the old certificate until its restart and the new one after it, never the old again", name)
		assert.Equal(t, ns.Total, ns.Presented[fp(l.old.leaf())]+ns.Presented[fp(renewed.leaf())], name)
	}
}

// TestForgottenNodeFailsAfterRemoval shows the mistake the reference warns
// about: a node not restarted keeps the old certificate, and once the
// receiver removes it, that node's messages fail.
func TestForgottenNodeFailsAfterRemoval(t *testing.T) {
	ctx := context.Background()
	l := newLandscape(t)
	rt := l.runtime(t, RuntimeConfig{Nodes: 2, Rate: 1000, MaxMessages: 20})
	require.NoError(t, rt.StartAll(ctx))
	require.NoError(t, rt.SkipRestart("node-2"))

	renewed := renewClient(t, l.newCA, l.old.leaf())
	require.NoError(t, l.receiver.TrustRoot(ctx, l.newCA.Root()))
	require.NoError(t, l.receiver.AcceptClient(ctx, renewed.chain))
	swapTenantKey(t, l.keystore, renewed)
	for _, n := range []string{"node-1", "node-2"} {
		require.NoError(t, rt.Restart(ctx, n))
	}
	var stale []string
	for _, n := range []string{"node-1", "node-2"} {
		if fp(presents(t, rt, n)) != fp(renewed.leaf()) {
			stale = append(stale, n)
		}
	}
	assert.Equal(t, []string{"node-2"}, stale, "the check that every node presents the new certificate names the forgotten node")

	require.NoError(t, l.receiver.RemoveClient(ctx, l.old.leaf()))
	require.NoError(t, l.receiver.RemoveRoot(ctx, l.oldCA.Root()))
	s := rt.Run(ctx)
	assert.Equal(t, 40, s.Total)
	assert.Equal(t, 20, s.Failed)
	assert.Zero(t, s.PerNode["node-1"].Failed)
	assert.Equal(t, 20, s.PerNode["node-2"].Failed)
}

// TestDowntimeRenewalFailsOnlyWhileStopped runs the downtime sequence by
// hand for a receiver that accepts one certificate at a time: messages fail
// only while the flow is stopped, and only as stopped (no refused
// handshake).
func TestDowntimeRenewalFailsOnlyWhileStopped(t *testing.T) {
	ctx := context.Background()
	l := newLandscape(t)
	rt := l.runtime(t, RuntimeConfig{Nodes: 2, Rate: 200})
	require.NoError(t, rt.StartAll(ctx))
	runCtx, cancel := context.WithTimeout(ctx, 2*time.Minute) // a safety bound
	defer cancel()
	done := make(chan Stats, 1)
	go func() { done <- rt.Run(runCtx) }()
	waitTotal := func(n int) {
		t.Helper()
		require.Eventually(t, func() bool { return rt.Stats().Total >= n }, time.Minute, 2*time.Millisecond)
	}
	waitTotal(20)

	renewed := renewClient(t, l.newCA, l.old.leaf()) // 1.
	beforeStop := rt.Stats()
	for _, n := range []string{"node-1", "node-2"} { // 3.-4.
		require.NoError(t, rt.Stop(ctx, n))
	}
	stoppedAt := rt.Stats()
	swapTenantKey(t, l.keystore, renewed) // 6.
	// 8. The receiver swaps certificate and root.
	require.NoError(t, l.receiver.RemoveClient(ctx, l.old.leaf()))
	require.NoError(t, l.receiver.RemoveRoot(ctx, l.oldCA.Root()))
	require.NoError(t, l.receiver.TrustRoot(ctx, l.newCA.Root()))
	require.NoError(t, l.receiver.AcceptClient(ctx, renewed.chain))
	require.NoError(t, l.receiver.Accepts(ctx, renewed.chain))
	require.ErrorIs(t, l.receiver.Accepts(ctx, l.old.chain), ErrNotAccepted)
	waitTotal(stoppedAt.Total + 20)                  // the downtime window
	for _, n := range []string{"node-1", "node-2"} { // 11.
		require.NoError(t, rt.Restart(ctx, n))
	}
	restartedAt := rt.Stats()
	waitTotal(restartedAt.Total + 40)
	cancel()
	s := <-done

	assert.Positive(t, s.Failed)
	assert.Equal(t, restartedAt.Failed, s.Failed, "no failure after the restart")
	assert.Zero(t, beforeStop.Failed, "no failure before the stop")
	for _, f := range s.Failures {
		assert.ErrorIs(t, f.Err, ErrNodeStopped, "failures happen only while stopped, not as refused handshakes")
	}
	served := l.receiver.servedByFingerprint()
	assert.Equal(t, s.Total-s.Failed, served[fp(l.old.leaf())]+served[fp(renewed.leaf())])
	assert.Positive(t, served[fp(renewed.leaf())])
}
