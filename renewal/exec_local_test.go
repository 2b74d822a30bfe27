package renewal_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certroll/certroll/internal/testpki"
	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal"
	"github.com/certroll/certroll/renewal/local"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests run the executor against the embedded defaults of package
// renewal/local: a CA, a file-based receiver serving HTTPS, and runtime
// nodes that send requests over real TLS with the client certificate they
// cached when they started, while the renewal runs.

func localClock() time.Time { return testpki.Now }

var localPassword = []byte("changeit")

// landscape is a tenant, a receiver and a runtime before the renewal.
type landscape struct {
	dir          string
	oldCA, newCA *local.CA
	oldChain     []*x509.Certificate
	receiver     *local.Receiver
	runtime      *local.Runtime
	exec         *renewal.Executor
	handoffs     *bytes.Buffer
}

func newLandscape(t *testing.T, nodes int) *landscape {
	t.Helper()
	ctx := context.Background()
	l := &landscape{dir: t.TempDir(), handoffs: &bytes.Buffer{}}
	var err error
	l.oldCA, err = local.NewCA(local.CAConfig{Name: "Old Root CA", Now: localClock})
	require.NoError(t, err)
	l.newCA, err = local.NewCA(local.CAConfig{Name: "New Root CA", Now: localClock})
	require.NoError(t, err)
	key, err := keystore.GenerateKey(keystore.ECDSAP256, nil)
	require.NoError(t, err)
	l.oldChain, err = l.oldCA.Issue("tenant-client", key.Public())
	require.NoError(t, err)

	live := filepath.Join(l.dir, "tenant.p12")
	ks := keystore.New(keystore.PKCS12, &keystore.StoreOptions{Now: localClock})
	require.NoError(t, ks.Set(&keystore.Entry{Alias: "client", Key: key, Chain: l.oldChain}, nil))
	require.NoError(t, ks.Save(live, localPassword, nil))

	l.receiver, err = local.NewReceiver(local.ReceiverConfig{
		Truststore:         filepath.Join(l.dir, "receiver-truststore.jks"),
		TruststorePassword: localPassword,
		Accepted:           filepath.Join(l.dir, "accepted-clients.pem"),
		Now:                localClock,
	})
	require.NoError(t, err)
	_, err = l.receiver.Start()
	require.NoError(t, err)
	t.Cleanup(func() { l.receiver.Close() })
	require.NoError(t, l.receiver.TrustRoot(ctx, l.oldCA.Root()))
	require.NoError(t, l.receiver.AcceptClient(ctx, l.oldChain))

	l.runtime, err = local.NewRuntime(local.RuntimeConfig{
		Nodes: nodes, Keystore: live, KeystorePassword: localPassword, Alias: "client",
		Receiver: l.receiver, Rate: 200,
	})
	require.NoError(t, err)
	require.NoError(t, l.runtime.StartAll(ctx))
	names, err := l.runtime.Nodes(ctx)
	require.NoError(t, err)

	plan, err := renewal.Build(renewal.SequenceOverlap, renewal.Params{
		Alias:              "client",
		Keystore:           live,
		KeystoreFormat:     "PKCS12",
		Truststore:         filepath.Join(l.dir, "receiver-truststore.jks"),
		Nodes:              names,
		OldFingerprint:     keystore.CertFingerprint(l.oldChain[0]).Hex(),
		OldRootSubject:     l.oldCA.Root().Subject.String(),
		OldRootFingerprint: keystore.CertFingerprint(l.oldCA.Root()).Hex(),
		NewRootSubject:     l.newCA.Root().Subject.String(),
		NewRootFingerprint: keystore.CertFingerprint(l.newCA.Root()).Hex(),
	})
	require.NoError(t, err)
	l.exec = &renewal.Executor{
		Plan:        plan,
		Tenant:      &renewal.Tenant{Keystore: live, Password: localPassword, Alias: "client", Now: localClock},
		Journal:     filepath.Join(l.dir, "renewal.json"),
		CA:          l.newCA,
		Receiver:    l.receiver,
		Runtime:     l.runtime,
		Notifier:    &local.Notifier{W: l.handoffs},
		HandOverDir: l.dir,
	}
	return l
}

// traffic runs the nodes' flows until stop is called, and makes every
// step wait until each node has sent a few more messages, so that every
// phase of the renewal carries traffic.
func (l *landscape) traffic(t *testing.T) (stop func() local.Stats) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second) // a safety bound
	done := make(chan local.Stats, 1)
	go func() { done <- l.runtime.Run(ctx) }()
	waitMore := func(n int) {
		start := l.runtime.Stats().PerNode
		require.Eventually(t, func() bool {
			for name, s := range l.runtime.Stats().PerNode {
				if s.Total < start[name].Total+n {
					return false
				}
			}
			return true
		}, 10*time.Second, 2*time.Millisecond)
	}
	waitMore(5)
	l.exec.OnEvent = func(e renewal.Event) {
		if e.Kind == renewal.EventStepDone {
			waitMore(3)
		}
	}
	return func() local.Stats {
		waitMore(3)
		cancel()
		return <-done
	}
}

func TestLocalOverlapOverTLS(t *testing.T) {
	l := newLandscape(t, 3)
	stop := l.traffic(t)
	res, err := l.exec.Run(context.Background())
	stats := stop()
	require.NoError(t, err)

	assert.Equal(t, renewal.StatusDone, res.State)
	assert.Len(t, res.Completed(), 9)
	assert.NotZero(t, stats.Total)
	assert.Zero(t, stats.Failed, "failures: %v", stats.Failures)
	newFP := res.Params.NewFingerprint
	oldFP := res.Params.OldFingerprint
	for name, s := range stats.PerNode {
		assert.NotZero(t, s.Presented[oldFP], "%s sent with the old certificate before its restart", name)
		assert.NotZero(t, s.Presented[newFP], "%s sent with the new certificate after its restart", name)
	}
	roots, err := l.receiver.Roots()
	require.NoError(t, err)
	require.Len(t, roots, 1)
	assert.Equal(t, l.newCA.Root().Raw, roots[0].Raw, "the old root is gone, the new one trusted")
	accepted, err := l.receiver.AcceptedClients()
	require.NoError(t, err)
	require.Len(t, accepted, 1)
	assert.Equal(t, newFP, keystore.CertFingerprint(accepted[0]).Hex())
	assert.ErrorIs(t, l.receiver.Accepts(context.Background(), l.oldChain), local.ErrNotAccepted)

	// The hand-offs went through the notifier with the fingerprints.
	out := l.handoffs.String()
	assert.Contains(t, out, "step 2: tenant administrator → receiver administrator")
	assert.Contains(t, out, keystore.CertFingerprint(l.newCA.Root()).String())
	assert.Equal(t, 4, strings.Count(out, "\nstep ")+boolInt(strings.HasPrefix(out, "step ")), "steps 2, 4, 6 and 8 are hand-offs:\n%s", out)
}

func TestLocalForgottenNodeKeepsOldRoot(t *testing.T) {
	l := newLandscape(t, 3)
	require.NoError(t, l.runtime.SkipRestart("node-2"))
	stop := l.traffic(t)
	_, err := l.exec.Run(context.Background())
	stats := stop()

	require.ErrorIs(t, err, renewal.ErrGateFailed)
	var ge *renewal.GateError
	require.ErrorAs(t, err, &ge)
	assert.Equal(t, renewal.StepRestartNodes, ge.Step.ID)
	assert.Equal(t, []string{"node-2"}, ge.Stragglers)
	assert.Contains(t, err.Error(), `node "node-2" presents the old certificate`)

	// The old certificate and root stay, so the forgotten node keeps
	// working: no message failed.
	roots, err := l.receiver.Roots()
	require.NoError(t, err)
	assert.Len(t, roots, 2)
	require.NoError(t, l.receiver.Accepts(context.Background(), l.oldChain))
	assert.Zero(t, stats.Failed, "failures: %v", stats.Failures)
	assert.NotZero(t, stats.PerNode["node-2"].Total)
	assert.Equal(t, stats.PerNode["node-2"].Total, stats.PerNode["node-2"].Presented[keystore.CertFingerprint(l.oldChain[0]).Hex()])
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
