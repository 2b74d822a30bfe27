package temporal

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal"
	"github.com/certroll/certroll/renewal/local"
)

// TestCampaignAgainstTheEmbeddedLandscapes runs a campaign of three
// overlap renewals through the test suite against renewal/local's
// embedded landscapes: three receivers serving HTTPS on 127.0.0.1, each
// with a runtime of two nodes sending messages over real TLS while the
// campaign runs. Not one message may fail, and every node must end
// presenting its new certificate.
func TestCampaignAgainstTheEmbeddedLandscapes(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	oldCA, err := local.NewCA(local.CAConfig{Name: "Old Root CA"})
	require.NoError(t, err)
	newCA, err := local.NewCA(local.CAConfig{Name: "New Root CA"})
	require.NoError(t, err)
	acts := &Activities{
		Tenants: map[string]Stores{}, CAs: map[string]renewal.CA{"new-ca": newCA},
		Receivers: map[string]renewal.Receiver{}, Runtimes: map[string]renewal.Runtime{},
		Notifiers: map[string]renewal.Notifier{"people": &local.Notifier{}},
	}
	c := Campaign{Name: "e2e", MaxConcurrent: 3, MaxPerReceiver: 1}
	var runtimes []*local.Runtime
	for i := range 3 {
		name := fmt.Sprintf("tenant-%d", i)
		_, rt, in := embedded(t, acts, dir, name, oldCA, newCA)
		runtimes = append(runtimes, rt)
		c.Renewals = append(c.Renewals, in)
	}

	// A safety bound, not an expectation: the run ends when the campaign
	// has and the nodes have sent with the new certificates.
	runCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	done := make([]chan local.Stats, len(runtimes))
	for i, rt := range runtimes {
		done[i] = make(chan local.Stats, 1)
		go func() { done[i] <- rt.Run(runCtx) }()
	}
	// Traffic flows before the campaign starts.
	require.Eventually(t, func() bool {
		for _, rt := range runtimes {
			if rt.Stats().Total < 10 {
				return false
			}
		}
		return true
	}, time.Minute, 5*time.Millisecond)

	env := newEnv(acts)
	env.SetStartTime(time.Now()) // the landscapes run on the wall clock
	rep := runCampaign(t, env, c)
	assert.Equal(t, map[string]int{"done": 3}, rep.Counts, "%s", rep.Markdown())

	// Traffic flows after it, with the new certificates.
	marks := make([]local.Stats, len(runtimes))
	for i, rt := range runtimes {
		marks[i] = rt.Stats()
	}
	require.Eventually(t, func() bool {
		for i, rt := range runtimes {
			for n, ns := range rt.Stats().PerNode {
				if ns.Total-marks[i].PerNode[n].Total < 5 {
					return false
				}
			}
		}
		return true
	}, time.Minute, 5*time.Millisecond)
	cancel()
	for i := range runtimes {
		stats := <-done[i]
		assert.Zero(t, stats.Failed, "tenant-%d: %v; first failures %v", i, stats, first(stats.Failures, 3))
		live, err := acts.Tenants[fmt.Sprintf("tenant-%d", i)].LiveChain()
		require.NoError(t, err)
		assert.Equal(t, "New Root CA", live[0].Issuer.CommonName)
		for n, ns := range stats.PerNode {
			require.NotEmpty(t, ns.Sequence, n)
			assert.Equal(t, keystore.CertFingerprint(live[0]).Hex(), ns.Sequence[len(ns.Sequence)-1], "tenant-%d %s ends presenting the new certificate", i, n)
		}
	}
}

func first[T any](s []T, n int) []T { return s[:min(n, len(s))] }

// embedded makes renewal name's landscape with renewal/local: a PKCS#12
// keystore, a receiver serving HTTPS that accepts the old certificate, a
// runtime of two nodes presenting it, and the plan, registered in acts.
func embedded(t *testing.T, acts *Activities, dir, name string, oldCA, newCA *local.CA) (*local.Receiver, *local.Runtime, Input) {
	t.Helper()
	ctx := context.Background()
	pw := []byte("changeit-e2e")
	key, err := keystore.GenerateKey(keystore.ECDSAP256, nil)
	require.NoError(t, err)
	old, err := oldCA.Issue(name, key.Public())
	require.NoError(t, err)
	ksPath := filepath.Join(dir, name+".p12")
	ks := keystore.New(keystore.PKCS12, nil)
	require.NoError(t, ks.Set(&keystore.Entry{Alias: "client", Key: key, Chain: old}, nil))
	require.NoError(t, ks.Save(ksPath, pw, nil))

	rcv, err := local.NewReceiver(local.ReceiverConfig{
		Truststore: filepath.Join(dir, name+"-receiver-truststore.jks"), TruststorePassword: pw,
		Accepted: filepath.Join(dir, name+"-accepted.pem"),
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = rcv.Close() })
	_, err = rcv.Start()
	require.NoError(t, err)
	require.NoError(t, rcv.TrustRoot(ctx, oldCA.Root()))
	require.NoError(t, rcv.AcceptClient(ctx, old))

	rt, err := local.NewRuntime(local.RuntimeConfig{Nodes: 2, Keystore: ksPath, KeystorePassword: pw, Alias: "client", Receiver: rcv, Rate: 50})
	require.NoError(t, err)
	require.NoError(t, rt.StartAll(ctx))

	acts.Tenants[name] = TenantStores(&renewal.Tenant{Keystore: ksPath, Password: pw, Alias: "client"})
	acts.Receivers[name], acts.Runtimes[name] = rcv, rt
	plan, err := renewal.Build(renewal.SequenceOverlap, renewal.Params{
		Alias: "client", Keystore: ksPath, Nodes: []string{"node-1", "node-2"},
		OldFingerprint:     keystore.CertFingerprint(old[0]).Hex(),
		OldRootSubject:     oldCA.Root().Subject.String(),
		OldRootFingerprint: keystore.CertFingerprint(oldCA.Root()).Hex(),
		NewRootSubject:     newCA.Root().Subject.String(),
		NewRootFingerprint: keystore.CertFingerprint(newCA.Root()).Hex(),
	})
	require.NoError(t, err)
	return rcv, rt, Input{Name: name, Plan: plan,
		Adapters: Adapters{Tenant: name, CA: "new-ca", Receiver: name, Runtime: name, Notifier: "people"}}
}

// TestProbeGateRefusesAReceiverThatDoesNotAdvertiseTheNewRoot: the
// receiver's files accept the new chain, but the running server does not
// name the new root in its CertificateRequest (HAProxy 2.6 after a root
// added through its runtime API), so a Java node holding only the new
// certificate would send none. The handshake probe of the gate before the
// swap catches it, and the key entry is not swapped.
func TestProbeGateRefusesAReceiverThatDoesNotAdvertiseTheNewRoot(t *testing.T) {
	oldCA, err := local.NewCA(local.CAConfig{Name: "Old Root CA"})
	require.NoError(t, err)
	newCA, err := local.NewCA(local.CAConfig{Name: "New Root CA"})
	require.NoError(t, err)
	acts := &Activities{
		Tenants: map[string]Stores{}, CAs: map[string]renewal.CA{"new-ca": newCA},
		Receivers: map[string]renewal.Receiver{}, Runtimes: map[string]renewal.Runtime{},
		Notifiers: map[string]renewal.Notifier{"people": &local.Notifier{}},
	}
	rcv, _, in := embedded(t, acts, t.TempDir(), "tenant-0", oldCA, newCA)
	require.NoError(t, rcv.AdvertiseOnly(oldCA.Root()))
	env := newEnv(acts)
	env.SetStartTime(time.Now())
	st := run(t, env, in)

	assert.Equal(t, renewal.StatusFailed, st.State, "%v", st)
	require.NotNil(t, st.RefusedBy)
	assert.Equal(t, renewal.GateReceiverAcceptsBoth, st.RefusedBy.Kind)
	assert.Contains(t, strings.Join(st.RefusedBy.Problems, "\n"), "but a handshake presenting it fails")
	live, err := acts.Tenants["tenant-0"].LiveChain()
	require.NoError(t, err)
	assert.Equal(t, "Old Root CA", live[0].Issuer.CommonName, "not swapped")
}
