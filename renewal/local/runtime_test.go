package local

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/truststore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// landscape is a receiver that accepts the tenant's old client
// certificate, and the tenant keystore holding it.
type landscape struct {
	oldCA, newCA *CA
	old          identity
	receiver     *Receiver
	keystore     string
}

func newLandscape(t *testing.T) *landscape {
	t.Helper()
	ctx := context.Background()
	l := &landscape{
		oldCA:    newTestCA(t, "Old Client Root CA"),
		newCA:    newTestCA(t, "New Client Root CA"),
		receiver: newTestReceiver(t, truststore.JKS),
	}
	l.old = issueClient(t, l.oldCA, "tenant-client")
	l.keystore = writeTenantKeystore(t, t.TempDir(), l.old)
	require.NoError(t, l.receiver.TrustRoot(ctx, l.oldCA.Root()))
	require.NoError(t, l.receiver.AcceptClient(ctx, l.old.chain))
	return l
}

func (l *landscape) runtime(t *testing.T, cfg RuntimeConfig) *Runtime {
	t.Helper()
	cfg.Keystore = l.keystore
	cfg.KeystorePassword = storePassword
	cfg.Alias = tenantAlias
	cfg.Receiver = l.receiver
	rt, err := NewRuntime(cfg)
	require.NoError(t, err)
	return rt
}

func presents(t *testing.T, rt *Runtime, node string) *x509.Certificate {
	t.Helper()
	c, err := rt.Presents(context.Background(), node)
	require.NoError(t, err)
	return c
}

func fp(c *x509.Certificate) string { return keystore.CertFingerprint(c).Hex() }

// unskipped returns s with Skipped zero: how many messages a node skips
// depends on how fast the machine is, what it sends does not.
func unskipped(s Stats) Stats {
	s.Skipped = 0
	return s
}

func TestRuntimeCachesKeystore(t *testing.T) {
	ctx := context.Background()
	l := newLandscape(t)
	// The receiver advertises both roots, as in an overlap, so that a node
	// presents whichever certificate it cached (see
	// TestRuntimeKeyManager for what it does when the name is missing).
	require.NoError(t, l.receiver.TrustRoot(ctx, l.newCA.Root()))
	rt := l.runtime(t, RuntimeConfig{Nodes: 3})

	nodes, err := rt.Nodes(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"node-1", "node-2", "node-3"}, nodes)
	for _, n := range nodes {
		assert.Nil(t, presents(t, rt, n), "%s must start stopped", n)
	}
	require.NoError(t, rt.StartAll(ctx))
	for _, n := range nodes {
		assert.Equal(t, l.old.leaf().Raw, presents(t, rt, n).Raw)
	}

	renewed := renewClient(t, l.newCA, l.old.leaf())
	swapTenantKey(t, l.keystore, renewed)

	steps := []struct {
		name string
		do   func() error
		want map[string]*x509.Certificate // nil: stopped
	}{
		{"after the swap every node still presents the cached certificate", func() error { return nil },
			map[string]*x509.Certificate{"node-1": l.old.leaf(), "node-2": l.old.leaf(), "node-3": l.old.leaf()}},
		{"Start on a running node keeps its cache", func() error { return rt.Start(ctx, "node-1") },
			map[string]*x509.Certificate{"node-1": l.old.leaf(), "node-2": l.old.leaf(), "node-3": l.old.leaf()}},
		{"Restart reads the keystore afresh", func() error { return rt.Restart(ctx, "node-1") },
			map[string]*x509.Certificate{"node-1": renewed.leaf(), "node-2": l.old.leaf(), "node-3": l.old.leaf()}},
		{"a skipped Restart keeps the old certificate", func() error {
			require.NoError(t, rt.SkipRestart("node-2"))
			return rt.Restart(ctx, "node-2")
		}, map[string]*x509.Certificate{"node-1": renewed.leaf(), "node-2": l.old.leaf(), "node-3": l.old.leaf()}},
		{"Stop drops the cache", func() error { return rt.Stop(ctx, "node-3") },
			map[string]*x509.Certificate{"node-1": renewed.leaf(), "node-2": l.old.leaf(), "node-3": nil}},
		{"Stop twice is not an error", func() error { return rt.Stop(ctx, "node-3") },
			map[string]*x509.Certificate{"node-1": renewed.leaf(), "node-2": l.old.leaf(), "node-3": nil}},
		{"Start reads the keystore", func() error { return rt.Start(ctx, "node-3") },
			map[string]*x509.Certificate{"node-1": renewed.leaf(), "node-2": l.old.leaf(), "node-3": renewed.leaf()}},
		{"Stop stops a skipped node, and Start leaves it stopped", func() error {
			require.NoError(t, rt.Stop(ctx, "node-2"))
			return rt.Start(ctx, "node-2")
		}, map[string]*x509.Certificate{"node-1": renewed.leaf(), "node-2": nil, "node-3": renewed.leaf()}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			require.NoError(t, s.do())
			for node, want := range s.want {
				got := presents(t, rt, node)
				if want == nil {
					assert.Nil(t, got, node)
				} else if assert.NotNil(t, got, node) {
					assert.Equal(t, fp(want), fp(got), node)
				}
			}
		})
	}
}

// TestRuntimeTrafficPresentsCachedCertificate checks that what the nodes
// send is what Presents says, and that the receiver's verdict applies to
// each node's cached certificate.
func TestRuntimeTrafficPresentsCachedCertificate(t *testing.T) {
	ctx := context.Background()
	l := newLandscape(t)
	rt := l.runtime(t, RuntimeConfig{Nodes: 2, Rate: 500, MaxMessages: 10})
	require.NoError(t, rt.StartAll(ctx))

	renewed := renewClient(t, l.newCA, l.old.leaf())
	swapTenantKey(t, l.keystore, renewed)
	require.NoError(t, rt.Restart(ctx, "node-2"))

	// The receiver trusts and advertises only the old root: node-1
	// (cached old) succeeds; node-2 (restarted, new) finds no key entry
	// issued under an advertised name, presents none, as a Java client
	// does, and fails.
	s := rt.Run(ctx)
	assert.Equal(t, 20, s.Total)
	assert.Equal(t, 10, s.Failed)
	assert.Equal(t, Stats{Total: 10, Failed: 0, Presented: map[string]int{fp(l.old.leaf()): 10}, Sequence: []string{fp(l.old.leaf())}},
		unskipped(s.PerNode["node-1"]))
	assert.Equal(t, Stats{Total: 10, Failed: 10, Presented: map[string]int{}}, unskipped(s.PerNode["node-2"]))
	assert.NotNil(t, presents(t, rt, "node-1"), "node-1 is running")
	_, err := rt.Presents(ctx, "node-2")
	assert.ErrorIs(t, err, ErrNoCertificate, "node-2 is running but has nothing to present")
	require.Len(t, s.Failures, 10)
	for _, f := range s.Failures {
		assert.Equal(t, "node-2", f.Node)
		assert.Empty(t, f.Fingerprint)
		assert.ErrorIs(t, f.Err, ErrNoCertificate)
		assert.NotErrorIs(t, f.Err, ErrNodeStopped)
		assert.False(t, f.At.IsZero())
	}
	assert.Equal(t, map[string]int{fp(l.old.leaf()): 10}, l.receiver.servedByFingerprint())
	seen, err := l.receiver.LastSeen(ctx, renewed.leaf())
	require.NoError(t, err)
	assert.True(t, seen.IsZero(), "node-2 never presented the new certificate")

	// Stats accumulate across runs.
	require.NoError(t, l.receiver.TrustRoot(ctx, l.newCA.Root()))
	require.NoError(t, l.receiver.AcceptClient(ctx, renewed.chain))
	s = rt.Run(ctx)
	assert.Equal(t, 40, s.Total)
	assert.Equal(t, 10, s.Failed, "no new failures once the receiver accepts both")
	assert.Equal(t, 10, s.PerNode["node-2"].Presented[fp(renewed.leaf())])
	assert.Equal(t, map[string]int{fp(l.old.leaf()): 20, fp(renewed.leaf()): 10}, l.receiver.servedByFingerprint())
	assert.Equal(t, fp(renewed.leaf()), fp(presents(t, rt, "node-2")))
}

func TestRuntimeStoppedNode(t *testing.T) {
	tests := []struct {
		name        string
		idle        bool
		wantTotal   int
		wantFailed  int
		wantNode2At int
	}{
		{"messages fail while stopped", false, 30, 15, 15},
		{"no messages while stopped", true, 15, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			l := newLandscape(t)
			rt := l.runtime(t, RuntimeConfig{Nodes: 2, Rate: 1000, MaxMessages: 15})
			rt.idleWhileStopped = tc.idle
			require.NoError(t, rt.Start(ctx, "node-1"))
			s := rt.Run(ctx)
			assert.Equal(t, tc.wantTotal, s.Total)
			assert.Equal(t, tc.wantFailed, s.Failed)
			assert.Equal(t, Stats{Total: 15, Presented: map[string]int{fp(l.old.leaf()): 15}, Sequence: []string{fp(l.old.leaf())}},
				unskipped(s.PerNode["node-1"]))
			assert.Equal(t, Stats{Total: tc.wantNode2At, Failed: tc.wantNode2At, Presented: map[string]int{}}, unskipped(s.PerNode["node-2"]))
			assert.NotNil(t, presents(t, rt, "node-1"), "node-1 is running")
			assert.Nil(t, presents(t, rt, "node-2"), "node-2 is stopped")
			require.Len(t, s.Failures, tc.wantFailed)
			for _, f := range s.Failures {
				assert.Equal(t, "node-2", f.Node)
				assert.ErrorIs(t, f.Err, ErrNodeStopped)
				assert.Empty(t, f.Fingerprint)
			}
		})
	}
}

func TestRuntimeRunStopsWithContext(t *testing.T) {
	l := newLandscape(t)
	// Unlimited messages at a slow rate: only the context ends the run.
	rt := l.runtime(t, RuntimeConfig{Nodes: 2, Rate: 20})
	require.NoError(t, rt.StartAll(context.Background()))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	s := rt.Run(ctx)
	require.ErrorIs(t, ctx.Err(), context.DeadlineExceeded, "the context ended the run")
	for name, ns := range s.PerNode {
		assert.Positive(t, ns.Total+ns.Skipped, "%s: the first message falls due at once", name)
	}
	assert.Zero(t, s.Failed)
}

func TestRuntimeMaxFailures(t *testing.T) {
	l := newLandscape(t)
	rt := l.runtime(t, RuntimeConfig{Nodes: 1, Rate: 5000, MaxMessages: 50})
	rt.maxFailures = 7
	s := rt.Run(context.Background())
	assert.Equal(t, 50, s.Failed)
	assert.Len(t, s.Failures, 7)
}

func TestRuntimeErrors(t *testing.T) {
	ctx := context.Background()
	l := newLandscape(t)
	rt := l.runtime(t, RuntimeConfig{Nodes: 2})

	_, err := rt.Presents(ctx, "node-3")
	assert.ErrorIs(t, err, errUnknownNode)
	assert.Contains(t, err.Error(), `"node-3"`)
	assert.Contains(t, err.Error(), "node-1 to node-2")
	for name, f := range map[string]func() error{
		"Start":       func() error { return rt.Start(ctx, "nope") },
		"Stop":        func() error { return rt.Stop(ctx, "nope") },
		"Restart":     func() error { return rt.Restart(ctx, "nope") },
		"SkipRestart": func() error { return rt.SkipRestart("nope") },
	} {
		assert.ErrorIs(t, f(), errUnknownNode, name)
	}

	// A node that cannot read its keystore stays stopped.
	wrong := l.runtime(t, RuntimeConfig{Nodes: 1})
	wrong.cfg.KeystorePassword = []byte("wrong-password")
	wrong.cfg.KeyPassword = wrong.cfg.KeystorePassword
	err = wrong.Start(ctx, "node-1")
	assert.ErrorIs(t, err, keystore.ErrIncorrectPassword)
	assert.NotContains(t, err.Error(), "wrong-password")
	assert.Nil(t, presents(t, wrong, "node-1"))

	// A restart that cannot read the keystore leaves the node stopped,
	// as a flow that fails to start.
	broken := l.runtime(t, RuntimeConfig{Nodes: 1})
	require.NoError(t, broken.Start(ctx, "node-1"))
	broken.cfg.Keystore = filepath.Join(t.TempDir(), "missing.jks")
	err = broken.Restart(ctx, "node-1")
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.Contains(t, err.Error(), "restarting node-1")
	assert.Nil(t, presents(t, broken, "node-1"))

	noAlias := l.runtime(t, RuntimeConfig{Nodes: 1})
	noAlias.cfg.Alias = "other"
	assert.ErrorIs(t, noAlias.Start(ctx, "node-1"), keystore.ErrAliasNotFound)

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	assert.ErrorIs(t, rt.Start(cancelled, "node-1"), context.Canceled)
	assert.Nil(t, presents(t, rt, "node-1"))

	base := RuntimeConfig{Keystore: filepath.Join(t.TempDir(), "k.jks"), Alias: "a", Receiver: l.receiver}

	bad := []struct {
		name string
		edit func(*RuntimeConfig)
		want string
	}{
		{"no keystore", func(c *RuntimeConfig) { c.Keystore = "" }, "Keystore"},
		{"no alias", func(c *RuntimeConfig) { c.Alias = "" }, "Alias"},
		{"no receiver", func(c *RuntimeConfig) { c.Receiver = nil }, "Receiver"},
		{"negative nodes", func(c *RuntimeConfig) { c.Nodes = -1 }, "Nodes"},
		{"negative rate", func(c *RuntimeConfig) { c.Rate = -1 }, "Rate"},
		{"negative max", func(c *RuntimeConfig) { c.MaxMessages = -1 }, "MaxMessages"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			tc.edit(&cfg)
			_, err := NewRuntime(cfg)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	def, err := NewRuntime(base)
	require.NoError(t, err)
	names, err := def.Nodes(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"node-1", "node-2"}, names, "zero Nodes means 2")
}

// TestRuntimePKCS12Keystore checks a node that reads a PKCS#12 tenant
// keystore whose key password differs from the store password.
func TestRuntimePKCS12Keystore(t *testing.T) {
	ctx := context.Background()
	l := newLandscape(t)
	path := filepath.Join(t.TempDir(), "tenant.p12")
	keyPassword := []byte("key-secret")
	s := keystore.New(keystore.PKCS12, &keystore.StoreOptions{Now: clock, KeyPasswords: map[string][]byte{tenantAlias: keyPassword}})
	require.NoError(t, s.Set(&keystore.Entry{Alias: tenantAlias, Key: l.old.key, Chain: l.old.chain}, nil))
	require.NoError(t, s.Save(path, storePassword, nil))

	rt, err := NewRuntime(RuntimeConfig{
		Nodes: 1, Keystore: path, KeystorePassword: storePassword, KeyPassword: keyPassword, Alias: tenantAlias,
		Receiver: l.receiver, Rate: 1000, MaxMessages: 5,
	})
	require.NoError(t, err)
	require.NoError(t, rt.Start(ctx, "node-1"))
	assert.Equal(t, fp(l.old.leaf()), fp(presents(t, rt, "node-1")))
	st := rt.Run(ctx)
	assert.Equal(t, 5, st.Total)
	assert.Zero(t, st.Failed, "%v", st.Failures)
}

// TestRuntimeCountsSkippedMessages holds a node's first message at the
// receiver so that the node falls behind its schedule by a known minimum,
// and checks that every message that fell due is counted: sent or
// skipped, no more than the schedule had due by the end of the run.
func TestRuntimeCountsSkippedMessages(t *testing.T) {
	const (
		rate     = 100 // one message every 10 ms
		interval = time.Second / rate
		hold     = 300 * time.Millisecond // well over the 100 ms a node may lag
	)
	tests := []struct {
		name string
		max  int
		end  func(cancel func()) // called once the first message is held
	}{
		{"a bounded run sends its messages and counts the skipped ones", 3, func(func()) {}},
		{"a run ended while a message is held counts what fell due", 0, func(cancel func()) { cancel() }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			arrived, release := make(chan struct{}), make(chan struct{})
			var once sync.Once
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				first := false
				once.Do(func() { first = true })
				if first {
					close(arrived)
					<-release
				}
			}))
			srv.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
			srv.StartTLS()
			t.Cleanup(srv.Close)

			l := newLandscape(t)
			rt := l.runtime(t, RuntimeConfig{Nodes: 1, Rate: rate, MaxMessages: tc.max})
			rt.url, rt.serverRoot = srv.URL, srv.Certificate()
			require.NoError(t, rt.StartAll(context.Background()))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			begin := time.Now()
			done := make(chan Stats, 1)
			go func() { done <- rt.Run(ctx) }()
			<-arrived
			time.Sleep(hold) // the node falls at least this far behind
			tc.end(cancel)
			close(release)
			s := <-done
			elapsed := time.Since(begin)

			assert.Zero(t, s.Failed, "%v", s.Failures)
			if tc.max > 0 {
				assert.Equal(t, tc.max, s.Total, "a bounded run sends all its messages")
			} else {
				assert.Equal(t, 1, s.Total, "only the held message was sent")
			}
			assert.GreaterOrEqual(t, s.Skipped, int(hold/interval), "the messages due while the first was held are skipped, and counted")
			assert.LessOrEqual(t, s.Total+s.Skipped, int(elapsed/interval)+1, "no more messages than the schedule had due")
			assert.Equal(t, s.Skipped, s.PerNode["node-1"].Skipped)
		})
	}
}

// TestRuntimeRunEndsWithoutSkipping ends a run while a node's message is
// on the way and its next one is not yet due: nothing is counted as
// skipped.
func TestRuntimeRunEndsWithoutSkipping(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(arrived); <-release })
	}))
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	l := newLandscape(t)
	// One message every 5 s, each bounded by 2 s: the second is never due
	// before the run ends.
	rt := l.runtime(t, RuntimeConfig{Nodes: 1, Rate: 0.2})
	rt.timeout = 2 * time.Second
	rt.url, rt.serverRoot = srv.URL, srv.Certificate()
	require.NoError(t, rt.StartAll(context.Background()))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan Stats, 1)
	go func() { done <- rt.Run(ctx) }()
	<-arrived
	cancel() // while the first message is on the way
	close(release)
	s := <-done
	assert.Equal(t, 1, s.Total)
	assert.Zero(t, s.Skipped, "a message not yet due is not skipped")
}

// TestRuntimeRestartWaitsForMessagesOnTheWay restarts a node while a
// message with the old certificate is on the way: Restart returns only
// once that message has finished, so that a receiver changed afterwards
// (the old certificate removed) sees no more traffic with it. The server
// holds the message until the node presents the new certificate, which
// the restart does before it waits.
func TestRuntimeRestartWaitsForMessagesOnTheWay(t *testing.T) {
	l := newLandscape(t)
	// One message: the run ends when it has finished.
	rt := l.runtime(t, RuntimeConfig{Nodes: 1, Rate: 0.2, MaxMessages: 1})
	renewed := renewClient(t, l.newCA, l.old.leaf())
	arrived := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if c, err := rt.Presents(context.Background(), "node-1"); err == nil && c != nil && c.Equal(renewed.leaf()) {
				return
			}
		}
	}))
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	rt.url, rt.serverRoot = srv.URL, srv.Certificate()
	// Presents answers for the CA names the landscape's receiver
	// advertises: it trusts both roots, as during an overlap.
	require.NoError(t, l.receiver.TrustRoot(context.Background(), l.newCA.Root()))
	require.NoError(t, rt.StartAll(context.Background()))

	done := make(chan Stats, 1)
	go func() { done <- rt.Run(context.Background()) }()
	<-arrived
	swapTenantKey(t, l.keystore, renewed)
	require.NoError(t, rt.Restart(context.Background(), "node-1"))
	atRestart := rt.Stats()
	assert.Equal(t, 1, atRestart.Total, "the message on the way finished before Restart returned")
	assert.Equal(t, map[string]int{fp(l.old.leaf()): 1}, atRestart.PerNode["node-1"].Presented, "it presented the old certificate")
	assert.Zero(t, atRestart.Failed, "%v", atRestart.Failures)
	assert.Equal(t, fp(renewed.leaf()), fp(presents(t, rt, "node-1")))
	<-done
}
