package local

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/certroll/certroll/renewal/probe"
	"github.com/certroll/certroll/truststore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestReceiverAdvertiseOnlyProbe reproduces HAProxy 2.6 updated through its
// runtime API: the receiver trusts the new root but advertises only the
// old one. The file-based check passes, the probe fails and names the new
// root, and a node holding only the new certificate presents none and
// fails; once the receiver advertises both, the probe passes and the same
// node, not restarted, succeeds.
func TestReceiverAdvertiseOnlyProbe(t *testing.T) {
	ctx := context.Background()
	l := newLandscape(t)
	renewed := renewClient(t, l.newCA, l.old.leaf())
	require.NoError(t, l.receiver.TrustRoot(ctx, l.newCA.Root()))
	require.NoError(t, l.receiver.AcceptClient(ctx, renewed.chain))
	require.NoError(t, l.receiver.AdvertiseOnly(l.oldCA.Root()))

	require.NoError(t, l.receiver.Accepts(ctx, renewed.chain), "the files trust the new certificate")
	require.NoError(t, l.receiver.Probe(ctx, l.old.chain, l.old.key), "the old certificate's root is advertised")
	err := l.receiver.Probe(ctx, renewed.chain, renewed.key)
	require.ErrorIs(t, err, probe.ErrNotAdvertised)
	assert.NotErrorIs(t, err, probe.ErrHandshake, "the server verifies the new certificate when it is presented")
	var pe *probe.Error
	require.True(t, errors.As(err, &pe))
	assert.Equal(t, l.newCA.Root().Raw, pe.Missing.Raw, "the probe names the missing root")
	assert.Equal(t, []string{"CN=Old Client Root CA"}, pe.Result.AdvertisedNames())
	assert.ErrorContains(t, err, "but not CN=New Client Root CA")

	// A node holding only the new certificate.
	path := writeKeystore(t, map[string]identity{tenantAlias: renewed}, tenantAlias)
	rt, err := NewRuntime(RuntimeConfig{Nodes: 1, Keystore: path, KeystorePassword: storePassword, Alias: tenantAlias,
		Receiver: l.receiver, Rate: 1000, MaxMessages: 10})
	require.NoError(t, err)
	require.NoError(t, rt.Start(ctx, "node-1"))
	_, err = rt.Presents(ctx, "node-1")
	assert.ErrorIs(t, err, ErrNoCertificate)
	s := rt.Run(ctx)
	assert.Equal(t, 10, s.Total)
	assert.Equal(t, 10, s.Failed)
	require.NotEmpty(t, s.Failures)
	assert.ErrorIs(t, s.Failures[0].Err, ErrNoCertificate)
	assert.ErrorContains(t, s.Failures[0].Err, "no key entry's issuer is among the CA names the receiver advertises (CN=Old Client Root CA)")
	assert.ErrorContains(t, s.Failures[0].Err, "certificate required", "the receiver refused the handshake without a certificate")

	// The receiver advertises every trusted root again, as a reload does.
	require.NoError(t, l.receiver.AdvertiseOnly())
	require.NoError(t, l.receiver.Probe(ctx, renewed.chain, renewed.key))
	s = rt.Run(ctx)
	assert.Equal(t, 20, s.Total)
	assert.Equal(t, 10, s.Failed, "no failure once the new root is advertised, without a restart")
	assert.Equal(t, 10, s.PerNode["node-1"].Presented[fp(renewed.leaf())])
	assert.Equal(t, fp(renewed.leaf()), fp(presents(t, rt, "node-1")))
}

func TestReceiverProbeErrors(t *testing.T) {
	ctx := context.Background()
	l := newLandscape(t)
	err := l.receiver.Probe(ctx, l.old.chain, nil)
	assert.ErrorIs(t, err, probe.ErrInvalid)
	assert.ErrorContains(t, err, "local: probing the receiver")
	other := issueClient(t, l.oldCA, "not-accepted")
	err = l.receiver.Probe(ctx, other.chain, other.key)
	assert.ErrorIs(t, err, probe.ErrHandshake, "a certificate not in the accepted list is refused in the handshake")
	assert.NotErrorIs(t, err, probe.ErrNotAdvertised)

	assert.ErrorContains(t, l.receiver.AdvertiseOnly(l.oldCA.Root(), nil), "root 2 is nil")
	require.NoError(t, l.receiver.Probe(ctx, l.old.chain, l.old.key), "a refused AdvertiseOnly changes nothing")

	require.NoError(t, l.receiver.Close())
	assert.ErrorContains(t, l.receiver.Probe(ctx, other.chain, other.key), "not running", "a stopped server refuses everyone")
	assert.ErrorIs(t, l.receiver.Accepts(ctx, other.chain), ErrNotAccepted, "the files still answer, and refuse it")
}

// TestReceiverProbeNotRunning: a receiver that was started and has
// stopped fails every probe, an accepted chain's too (a server that
// stopped mid-run lets nobody in), until it is started again; one that
// was never started is its files only, and answers as Accepts does.
func TestReceiverProbeNotRunning(t *testing.T) {
	ctx := context.Background()
	t.Run("started, then closed", func(t *testing.T) {
		l := newLandscape(t)
		require.NoError(t, l.receiver.Probe(ctx, l.old.chain, l.old.key), "running, it accepts the old certificate")
		require.NoError(t, l.receiver.Close())
		err := l.receiver.Probe(ctx, l.old.chain, l.old.key)
		require.Error(t, err, "a stopped server must not pass a probe")
		assert.ErrorContains(t, err, "local: probing the receiver: its server was started and is not running")
		require.NoError(t, l.receiver.Accepts(ctx, l.old.chain), "the files still accept it")

		_, err = l.receiver.Start()
		require.NoError(t, err)
		assert.NoError(t, l.receiver.Probe(ctx, l.old.chain, l.old.key), "started again, it is probed again")
	})
	t.Run("never started", func(t *testing.T) {
		oldCA := newTestCA(t, "Old Client Root CA")
		old := issueClient(t, oldCA, "tenant-client")
		other := issueClient(t, oldCA, "not-accepted")
		dir := t.TempDir()
		r, err := NewReceiver(ReceiverConfig{
			Truststore: filepath.Join(dir, "truststore.pem"), TruststoreKind: truststore.PEMBundle,
			Accepted: filepath.Join(dir, "accepted.pem"), Now: clock,
		})
		require.NoError(t, err)
		require.NoError(t, r.TrustRoot(ctx, oldCA.Root()))
		require.NoError(t, r.AcceptClient(ctx, old.chain))
		assert.NoError(t, r.Probe(ctx, old.chain, old.key), "files only: the files accept it")
		err = r.Probe(ctx, other.chain, other.key)
		assert.ErrorIs(t, err, ErrNotAccepted, "files only: the files refuse it")
		assert.ErrorContains(t, err, "never started")
		require.NoError(t, r.RemoveClient(ctx, old.leaf()))
		assert.ErrorIs(t, r.Probe(ctx, old.chain, old.key), ErrNotAccepted, "files only: removed from the files, refused")
	})
}
