package renewal

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certroll/certroll/chain"
	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/truststore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// assertRenewed checks the end state of a completed renewal: the live
// alias holds the new key and chain, every other live entry is as it was,
// the history store keeps the old entry, the staging store no longer
// holds the pending key, every node presents the new certificate, and the
// journal says done.
func assertRenewed(t *testing.T, f *fixture) {
	t.Helper()
	j := f.journal(t)
	assert.Equal(t, StatusDone, j.State)
	for _, s := range j.Steps {
		assert.Equal(t, StatusDone, s.Status, "step %d %s", s.Number, s.ID)
	}
	newLeaf := f.newLeaf(t)
	assert.Equal(t, "new-leaf", f.label(newLeaf))

	e := f.liveEntry(t, liveAlias)
	assert.Equal(t, liveAlias, e.Alias)
	require.Len(t, e.Chain, 2)
	assert.True(t, sameCert(e.Chain[0], newLeaf), "the live alias holds the new certificate")
	assert.True(t, sameCert(e.Chain[1], f.newCA.Cert), "the live chain ends at the new root")
	assert.True(t, chain.KeyMatches(e.Key.Public(), e.Chain[0]), "the live key is the new certificate's")
	assert.Equal(t, "old-leaf", f.label(f.old.chain[0]))

	// Other entries untouched.
	p := f.liveEntry(t, "partner")
	assert.Equal(t, f.partner.chain[0].Raw, p.Chain[0].Raw)
	assert.True(t, chain.KeyMatches(p.Key.Public(), f.partner.chain[0]))
	r := f.liveEntry(t, "partner-root")
	assert.Equal(t, f.partnerCA.Cert.Raw, r.Chain[0].Raw)

	// History keeps the old entry with its key.
	hist, err := keystore.Open(f.tenant.historyPath(), historyPassword, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{f.tenant.historyAlias(f.old.chain[0])}, hist.Aliases())
	he, err := hist.Entry(f.tenant.historyAlias(f.old.chain[0]))
	require.NoError(t, err)
	assert.Equal(t, f.old.chain[0].Raw, he.Chain[0].Raw)
	assert.True(t, chain.KeyMatches(he.Key.Public(), f.old.chain[0]))
	assert.Equal(t, f.tenant.historyAlias(f.old.chain[0]), j.Artifacts.HistoryAlias)

	// Staging no longer holds the new key.
	st, err := keystore.Open(f.tenant.stagingPath(), stagingPassword, nil)
	require.NoError(t, err)
	_, err = st.Kind(liveAlias)
	assert.ErrorIs(t, err, keystore.ErrAliasNotFound, "the pending entry left the staging store")

	for _, n := range f.rt.names {
		assert.Equal(t, "new-leaf", f.label(f.rt.presents[n]), n)
	}
}

func TestRunOverlap(t *testing.T) {
	ctx := context.Background()
	for _, format := range []keystore.Format{keystore.PKCS12, keystore.JKS} {
		t.Run(format.String(), func(t *testing.T) {
			f := newFixture(t, SequenceOverlap, withFormat(format))
			res, err := f.exec.Run(ctx)
			require.NoError(t, err)
			assertRenewed(t, f)

			assert.Equal(t, []string{
				"ca.Sign",
				"notify 2 hand-over-certificate",
				"rcv.TrustRoot new-root",
				"rcv.AcceptClient new-leaf",
				"notify 4 confirm-accept-both",
				"rcv.Accepts old-leaf", // gate before step 5
				"rcv.Accepts new-leaf",
				"rcv.Accepts unknown:partner-client", // would the receiver take another key entry?
				"notify 6 notify-restart",
				"rt.Restart node-a",
				"rt.Restart node-b",
				"rt.Restart node-c",
				"notify 8 notify-new-in-use",
				"rcv.RemoveClient old-leaf",
				"rcv.RemoveRoot old-root",
				"rcv.Accepts new-leaf", // the end state, before the run reports done
				"rcv.Accepts old-leaf",
			}, f.calls.all())
			assert.Equal(t, []*x509.Certificate{f.newCA.Cert}, f.rcv.roots)
			require.Len(t, f.rcv.accepted, 1)
			assert.Equal(t, "new-leaf", f.label(f.rcv.accepted[0]))

			newFP := keystore.CertFingerprint(f.newLeaf(t)).Hex()
			assert.Equal(t, SequenceOverlap, res.Sequence)
			assert.Equal(t, StatusDone, res.State)
			assert.Equal(t, f.plan.Params.OldFingerprint, res.Params.OldFingerprint)
			assert.Equal(t, newFP, res.Params.NewFingerprint)
			assert.Equal(t, f.plan.Params.OldRootFingerprint, res.Params.OldRootFingerprint)
			assert.Equal(t, f.plan.Params.NewRootFingerprint, res.Params.NewRootFingerprint)
			assert.Len(t, res.Completed(), 9)
			assert.Equal(t, f.exec.Journal, res.journal)
			clientPEM := filepath.Join(f.exec.HandOverDir, "tenant-client-new-client-"+newFP[:12]+".pem")
			rootPEM := filepath.Join(f.exec.HandOverDir, "new-root-"+f.plan.Params.NewRootFingerprint[:12]+".pem")
			assert.Equal(t, []string{f.tenant.stagingPath(), clientPEM, rootPEM, f.tenant.historyPath(), f.tenant.Keystore}, res.Files)

			// Hand-over files hold the certificates, and the hand-off
			// names them and the fingerprints in keytool's form.
			data, err := os.ReadFile(clientPEM)
			require.NoError(t, err)
			certs, err := keystore.ParseCertificates(data)
			require.NoError(t, err)
			require.Len(t, certs, 1)
			assert.Equal(t, newFP, keystore.CertFingerprint(certs[0]).Hex())
			data, err = os.ReadFile(rootPEM)
			require.NoError(t, err)
			certs, err = keystore.ParseCertificates(data)
			require.NoError(t, err)
			assert.Equal(t, f.newCA.Cert.Raw, certs[0].Raw)
			msg := f.nt.messages[StepHandOverCertificate]
			assert.Contains(t, msg, keystore.CertFingerprint(f.newLeaf(t)).String())
			assert.Contains(t, msg, keystore.CertFingerprint(f.newCA.Cert).String())
			assert.Contains(t, msg, clientPEM)
			assert.Contains(t, msg, rootPEM)
			assert.Contains(t, f.nt.messages[StepNotifyNewInUse], keystore.CertFingerprint(f.old.chain[0]).String())

			// Events: started and done per step, gates in between.
			want := []string{}
			for _, s := range f.plan.Steps {
				if s.Gate != nil && s.Gate.When == GateBefore {
					want = append(want, "gate passed "+string(s.ID))
				}
				want = append(want, "step started "+string(s.ID))
				if s.Gate != nil && s.Gate.When == GateAfter {
					want = append(want, "gate passed "+string(s.ID))
				}
				want = append(want, "step done "+string(s.ID))
			}
			assert.Equal(t, want, f.eventKinds())
			for _, e := range f.events {
				assert.Equal(t, testNow(), e.Time)
				assert.NotZero(t, e.Step.Number)
				assert.NotEmpty(t, e.Step.Title)
			}
		})
	}
}

func testNow() time.Time { return clock() }

func TestRunDowntime(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, SequenceDowntime)
	res, err := f.exec.Run(ctx)
	require.NoError(t, err)
	assertRenewed(t, f)
	assert.Equal(t, []string{
		"ca.Sign",
		"notify 2 agree-window",
		"notify 3 notify-stop",
		"rt.Stop node-a",
		"rt.Stop node-b",
		"rt.Stop node-c",
		"notify 5 confirm-stopped",
		"notify 7 hand-over-certificate",
		"rcv.TrustRoot new-root",
		"rcv.RemoveClient old-leaf",
		"rcv.AcceptClient new-leaf",
		"rcv.Accepts new-leaf", // gate after step 8
		"rcv.Accepts unknown:partner-client",
		"notify 9 confirm-swapped",
		"notify 10 notify-restart",
		"rt.Start node-a",
		"rt.Start node-b",
		"rt.Start node-c",
		"rcv.RemoveRoot old-root", // step 12; the old client went at step 8
		"rcv.Accepts new-leaf",    // the end state, before the run reports done
		"rcv.Accepts old-leaf",
	}, f.calls.all())
	// Like the overlap sequence, the downtime sequence ends with one
	// trusted root.
	assert.Equal(t, []*x509.Certificate{f.newCA.Cert}, f.rcv.roots)
	assert.Len(t, res.Completed(), 12)
	last := res.Steps[len(res.Steps)-1]
	assert.Equal(t, StepRemoveOld, last.ID)
	assert.True(t, f.journal(t).step(last.ID).Destructive)
}

// TestRunAgain checks that running a finished renewal changes nothing.
func TestRunAgain(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, SequenceOverlap)
	_, err := f.exec.Run(ctx)
	require.NoError(t, err)
	before := f.files(t)
	calls := len(f.mutations())
	f.events = nil
	res, err := f.exec.Run(ctx)
	require.NoError(t, err)
	assert.Equal(t, StatusDone, res.State)
	// Only the end state is checked again: Accepts, Presents.
	assert.Len(t, f.mutations(), calls, "no call that changes the CA, receiver, runtime or notifier")
	after := f.files(t)
	for p, b := range before {
		if p != f.exec.Journal {
			assert.True(t, sameBytes(b, after[p]), "%s unchanged", p)
		}
	}
	require.Len(t, f.events, 9)
	for _, e := range f.events {
		assert.Equal(t, EventStepSkipped, e.Kind)
	}
}

// TestKeyTypeAndPasswords runs the overlap sequence with an RSA key, a
// separate key password and a JKS keystore, and checks that the new key
// has the old key's type, that the key password still protects the
// entry, and that no password appears in the journal, the events or the
// log.
func TestKeyTypeAndPasswords(t *testing.T) {
	keyPass := []byte("key-secret-pw")
	tests := []struct {
		name   string
		format keystore.Format
		old    keystore.KeyType
		set    keystore.KeyType
		want   string
	}{
		{"like an RSA-2048 key", keystore.JKS, keystore.RSA2048, 0, "RSA 2048"},
		{"like an EC P-256 key", keystore.PKCS12, keystore.ECDSAP256, 0, "EC P-256"},
		{"configured EC P-384", keystore.PKCS12, keystore.RSA2048, keystore.ECDSAP384, "EC P-384"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, SequenceOverlap, withFormat(tc.format), withKeyPassword(keyPass), withOldKeyType(tc.old))
			f.tenant.KeyType = tc.set
			var logs bytes.Buffer
			f.exec.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			_, err := f.exec.Run(context.Background())
			require.NoError(t, err)
			assertRenewed(t, f)
			e := f.liveEntry(t, liveAlias) // opened with the key password
			assert.Equal(t, tc.want, keystore.KeyDescription(e.Key.Public()))

			// The live key is not readable with the store password alone.
			ks, err := keystore.Open(f.tenant.Keystore, livePassword, nil)
			require.NoError(t, err)
			_, err = ks.Entry(liveAlias)
			assert.ErrorIs(t, err, keystore.ErrIncorrectPassword)

			assert.NotZero(t, logs.Len())
			journal, err := os.ReadFile(f.exec.Journal)
			require.NoError(t, err)
			var events strings.Builder
			for _, e := range f.events {
				events.WriteString(e.String())
			}
			for _, pw := range [][]byte{livePassword, stagingPassword, historyPassword, keyPass} {
				assert.NotContains(t, logs.String(), string(pw))
				assert.NotContains(t, string(journal), string(pw))
				assert.NotContains(t, events.String(), string(pw))
			}
			assert.NotContains(t, string(journal), "PRIVATE KEY")
		})
	}
}

func TestKeyTypeFor(t *testing.T) {
	tests := []struct {
		name string
		old  keystore.KeyType
		want keystore.KeyType
	}{
		{"RSA 2048", keystore.RSA2048, keystore.RSA2048},
		{"RSA 3072", keystore.RSA3072, keystore.RSA3072},
		{"EC P-256", keystore.ECDSAP256, keystore.ECDSAP256},
		{"EC P-384", keystore.ECDSAP384, keystore.ECDSAP384},
		{"EC P-521", keystore.ECDSAP521, keystore.ECDSAP521},
		{"Ed25519", keystore.Ed25519, keystore.Ed25519},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, err := keystore.GenerateKey(tc.old, nil)
			require.NoError(t, err)
			assert.Equal(t, tc.want, keyTypeFor(k.Public()))
		})
	}
	t.Run("RSA 1024 becomes RSA 2048", func(t *testing.T) {
		assert.Equal(t, keystore.RSA2048, keyTypeFor(rsa1024(t)))
	})
	t.Run("unknown becomes RSA 2048", func(t *testing.T) {
		assert.Equal(t, keystore.RSA2048, keyTypeFor("not a key"))
	})
}

func TestGateBeforeSwapFails(t *testing.T) {
	ctx := context.Background()
	for _, seqCase := range []struct {
		name  string
		blind bool
	}{{"inspecting receiver", false}, {"receiver without inspector", true}} {
		t.Run(seqCase.name, func(t *testing.T) {
			f := newFixture(t, SequenceOverlap)
			f.rcv.ignoreAccept = true // the receiver administrator forgot the mapping
			if seqCase.blind {
				f.exec.Receiver = blindReceiver{f.rcv}
			}
			_, err := f.exec.Run(ctx)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrGateFailed)
			assert.ErrorIs(t, err, chain.ErrNotPinned, "the receiver's verdict is wrapped")
			var ge *GateError
			require.ErrorAs(t, err, &ge)
			assert.Equal(t, 5, ge.Step.Number)
			assert.Equal(t, StepSwapEntry, ge.Step.ID)
			assert.Equal(t, GateReceiverAcceptsBoth, ge.Step.Gate.Kind)
			require.Len(t, ge.Problems, 1)
			assert.Contains(t, ge.Problems[0], "refuses the new chain")
			assert.Contains(t, err.Error(), `gate "receiver accepts the old and the new chain" before step 5 (swap-entry) failed`)

			// Nothing destructive happened: the live keystore is byte for
			// byte what it was, there is no history, no node restarted,
			// nothing removed at the receiver.
			live, err := os.ReadFile(f.tenant.Keystore)
			require.NoError(t, err)
			assert.True(t, sameBytes(f.liveBefore, live), "live keystore untouched")
			assert.NoFileExists(t, f.tenant.historyPath())
			for _, c := range f.calls.all() {
				assert.NotContains(t, c, "Restart")
				assert.NotContains(t, c, "Remove")
			}
			// The journal records the failure.
			j := f.journal(t)
			assert.Equal(t, StatusFailed, j.State)
			rec := j.step(StepSwapEntry)
			assert.Equal(t, StatusFailed, rec.Status)
			assert.Zero(t, rec.Attempts, "the step never started")
			require.NotNil(t, rec.Gate)
			assert.False(t, rec.Gate.Passed)
			assert.Equal(t, ge.Problems, rec.Gate.Problems)
			assert.Equal(t, StatusDone, j.step(StepConfirmAcceptBoth).Status)
			assert.Equal(t, "gate failed swap-entry", f.eventKinds()[len(f.events)-1])

			// Fixed, the run resumes at step 5 and completes; steps 1-4
			// are not repeated.
			f.rcv.ignoreAccept = false
			f.rcv.accepted = append(f.rcv.accepted, f.newLeaf(t))
			_, err = f.exec.Run(ctx)
			require.NoError(t, err)
			assertRenewed(t, f)
			assert.Equal(t, 1, f.calls.count("ca.Sign"))
			assert.Equal(t, 1, f.calls.count("notify 2 "))
		})
	}
}

func TestGateAfterRestartNamesStragglers(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, SequenceOverlap)
	f.rt.skip["node-b"] = true // forgotten
	_, err := f.exec.Run(ctx)
	require.ErrorIs(t, err, ErrGateFailed)
	var ge *GateError
	require.ErrorAs(t, err, &ge)
	assert.Equal(t, StepRestartNodes, ge.Step.ID)
	assert.Equal(t, GateNodesPresentNew, ge.Step.Gate.Kind)
	assert.Equal(t, GateAfter, ge.Step.Gate.When)
	assert.Equal(t, []string{"node-b"}, ge.Stragglers)
	assert.Contains(t, err.Error(), `node "node-b" presents the old certificate`)
	assert.NotContains(t, err.Error(), "node-a")

	// The old certificate and root stay at the receiver.
	assert.Zero(t, f.calls.count("rcv.Remove"))
	assert.Len(t, f.rcv.roots, 2)
	j := f.journal(t)
	assert.Equal(t, StatusFailed, j.step(StepRestartNodes).Status)
	assert.Equal(t, StatusPending, j.step(StepNotifyNewInUse).Status)

	// Once node-b is restarted, the run resumes: only node-b is restarted
	// again, and the rest completes.
	f.rt.skip["node-b"] = false
	_, err = f.exec.Run(ctx)
	require.NoError(t, err)
	assertRenewed(t, f)
	assert.Equal(t, 1, f.calls.count("rt.Restart node-a"))
	assert.Equal(t, 2, f.calls.count("rt.Restart node-b"))
	assert.Equal(t, 1, f.calls.count("rcv.RemoveRoot"))
}

func TestGateOldRootInUse(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		configure func(t *testing.T, f *fixture) string // returns the dependent's name
	}{
		{"declared chain", func(t *testing.T, f *fixture) string {
			other := issue(t, f.oldCA, "billing-client", keystore.ECDSAP256)
			f.exec.InUse = []truststore.Dependent{{Name: "billing flow", Chain: other.chain[:1]}}
			return "billing flow"
		}},
		{"declared file", func(t *testing.T, f *fixture) string {
			other := issue(t, f.oldCA, "billing-client", keystore.ECDSAP256)
			path := filepath.Join(f.dir, "billing.pem")
			require.NoError(t, os.WriteFile(path, []byte(encodeChain(other.chain)), 0o644))
			deps, err := truststore.OpenDependents(path, nil)
			require.NoError(t, err)
			f.exec.InUse = deps
			return path
		}},
		{"another entry of the live keystore", func(t *testing.T, f *fixture) string {
			other := issue(t, f.oldCA, "legacy-client", keystore.ECDSAP256)
			require.NoError(t, keystore.Update(context.Background(), f.tenant.Keystore, livePassword, func(s *keystore.Store) error {
				return s.Set(&keystore.Entry{Alias: "legacy", Key: other.key, Chain: other.chain}, nil)
			}, &keystore.UpdateOptions{StoreOptions: keystore.StoreOptions{Now: clock}}))
			return `alias "legacy"`
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, SequenceOverlap)
			dep := tc.configure(t, f)
			_, err := f.exec.Run(ctx)
			require.ErrorIs(t, err, ErrGateFailed)
			var ge *GateError
			require.ErrorAs(t, err, &ge)
			assert.Equal(t, StepRemoveOld, ge.Step.ID)
			assert.Equal(t, GateOldRootUnused, ge.Step.Gate.Kind)
			require.Len(t, ge.Dependents, 1)
			assert.Contains(t, ge.Dependents[0], dep)
			assert.Contains(t, err.Error(), dep)
			assert.ErrorIs(t, err, truststore.ErrInUse)
			assert.Empty(t, ge.Stragglers)
			// Not removed.
			assert.Zero(t, f.calls.count("rcv.Remove"))
			assert.True(t, contains(f.rcv.roots, f.oldCA.Cert))
			assert.True(t, contains(f.rcv.accepted, f.old.chain[0]))
			assert.Equal(t, StatusDone, f.journal(t).step(StepNotifyNewInUse).Status)
		})
	}
}

// TestGateOldRootNodeStillOld: a node that presents the old certificate
// again (restarted from an old copy of the keystore after the restart
// gate passed) stops the removal, and is named.
func TestGateOldRootNodeStillOld(t *testing.T) {
	f := newFixture(t, SequenceOverlap)
	f.nt.after = func(s Step) {
		if s.ID == StepNotifyNewInUse {
			f.rt.presents["node-c"] = f.old.chain[0]
		}
	}
	_, err := f.exec.Run(context.Background())
	var ge *GateError
	require.ErrorAs(t, err, &ge)
	assert.Equal(t, GateOldRootUnused, ge.Step.Gate.Kind)
	assert.Equal(t, []string{"node-c"}, ge.Stragglers)
	assert.Contains(t, err.Error(), `node "node-c" still presents the old certificate`)
	assert.Zero(t, f.calls.count("rcv.Remove"))
}

func TestGateAfterReceiverSwapFails(t *testing.T) {
	f := newFixture(t, SequenceDowntime)
	f.rcv.ignoreAccept = true
	_, err := f.exec.Run(context.Background())
	var ge *GateError
	require.ErrorAs(t, err, &ge)
	assert.Equal(t, StepReceiverSwap, ge.Step.ID)
	assert.Equal(t, GateReceiverAcceptsNew, ge.Step.Gate.Kind)
	assert.Zero(t, f.calls.count("rt.Start"), "the flow stays stopped")
	j := f.journal(t)
	rec := j.step(StepReceiverSwap)
	assert.Equal(t, StatusFailed, rec.Status)
	assert.NotZero(t, rec.Acted, "the receiver step acted before its gate failed")

	// Fixed by hand; the resumed run checks the gate again without
	// repeating the destructive receiver step.
	f.rcv.ignoreAccept = false
	f.rcv.accepted = []*x509.Certificate{f.newLeaf(t)}
	before := len(f.mutations())
	_, err = f.exec.Run(context.Background())
	require.NoError(t, err)
	assertRenewed(t, f)
	assert.Equal(t, 1, f.calls.count("rcv.RemoveClient"))
	assert.Equal(t, 1, f.calls.count("rcv.AcceptClient"))
	assert.Equal(t, []string{"notify 9 confirm-swapped", "notify 10 notify-restart", "rt.Start node-a", "rt.Start node-b", "rt.Start node-c", "rcv.RemoveRoot old-root"},
		f.mutations()[before:])
}

func TestStepFailures(t *testing.T) {
	ctx := context.Background()
	t.Run("CA refuses", func(t *testing.T) {
		f := newFixture(t, SequenceOverlap)
		f.ca.err = errors.New("CA offline")
		_, err := f.exec.Run(ctx)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "CA offline")
		assert.Equal(t, StatusFailed, f.journal(t).step(StepGenerateKey).Status)
		// The staged key is reused when the CA is back.
		p, err := f.tenant.Pending()
		require.NoError(t, err)
		require.NotNil(t, p)
		assert.False(t, p.Signed)
		f.ca.err = nil
		_, err = f.exec.Run(ctx)
		require.NoError(t, err)
		assertRenewed(t, f)
		assert.True(t, chain.KeyMatches(p.Key.Public(), f.newLeaf(t)), "the key staged by the failed run was used")
	})
	t.Run("wrong CA", func(t *testing.T) {
		f := newFixture(t, SequenceOverlap)
		f.ca.other = f.partnerCA
		_, err := f.exec.Run(ctx)
		require.ErrorIs(t, err, ErrUnexpectedState)
		assert.Contains(t, err.Error(), "does not contain the plan's new root")
		p, err := f.tenant.Pending()
		require.NoError(t, err)
		assert.False(t, p.Signed, "the wrong reply was not installed")
	})
	t.Run("hand-off not confirmed", func(t *testing.T) {
		f := newFixture(t, SequenceOverlap)
		f.exec.Waits = map[StepID]time.Duration{StepConfirmAcceptBoth: time.Minute}
		f.nt.err = errors.New("not confirmed")
		_, err := f.exec.Run(ctx)
		require.ErrorContains(t, err, "not confirmed")
		assert.Equal(t, time.Duration(0), f.nt.waits[StepHandOverCertificate])
		assert.Equal(t, StatusFailed, f.journal(t).step(StepHandOverCertificate).Status)
		f.nt.err = nil
		_, err = f.exec.Run(ctx)
		require.NoError(t, err)
		assert.Equal(t, time.Minute, f.nt.waits[StepConfirmAcceptBoth])
		assert.Equal(t, 2, f.calls.count("notify 2 "), "a failed hand-off is sent again")
	})
	t.Run("window ahead waits", func(t *testing.T) {
		f := newFixture(t, SequenceDowntime)
		now := clock().Add(-90 * time.Minute) // the window opens at clock()-1h
		f.tenant.Now = func() time.Time { return now }
		for run := 1; run <= 2; run++ {
			res, err := f.exec.Run(ctx)
			require.ErrorIs(t, err, ErrAwaitingReply, "run %d", run)
			assert.False(t, errors.As(err, new(*AwaitingReplyError)), "not the CA's reply")
			assert.ErrorContains(t, err, "waiting for the downtime window (test window): it opens at ")
			assert.Equal(t, StatusWaiting, res.State)
			j := f.journal(t)
			assert.Equal(t, StatusDone, j.step(StepGenerateKey).Status)
			assert.Equal(t, StatusWaiting, j.step(StepAgreeWindow).Status)
			assert.Contains(t, j.step(StepAgreeWindow).Note, "it opens at ")
			assert.Equal(t, 1, f.calls.count("notify 2 "), "run %d: the window's hand-off is sent once", run)
			assert.Zero(t, f.calls.count("rt.Stop"), "nothing stops traffic before the window")
		}
		now = clock()
		res, err := f.exec.Run(ctx)
		require.NoError(t, err)
		assert.Equal(t, StatusDone, res.State)
		assert.Equal(t, 1, f.calls.count("notify 2 "), "not sent again once the window is open")
		assert.Contains(t, f.journal(t).step(StepAgreeWindow).Note, "window agreed and open")
	})
	t.Run("window over", func(t *testing.T) {
		f := newFixture(t, SequenceDowntime)
		f.tenant.Now = func() time.Time { return clock().Add(2 * time.Hour) }
		_, err := f.exec.Run(ctx)
		require.ErrorIs(t, err, ErrOutsideWindow)
		assert.True(t, strings.HasPrefix(err.Error(), "renewal: outside the downtime window: the window "), err)
		assert.Equal(t, 1, strings.Count(err.Error(), "renewal: "), "one renewal prefix: %s", err)
		assert.Zero(t, f.calls.count("rt.Stop"))
	})
	t.Run("live certificate is not the plan's", func(t *testing.T) {
		f := newFixture(t, SequenceOverlap)
		f.exec.Plan.Params.OldFingerprint = keystore.CertFingerprint(f.partner.chain[0]).Hex()
		f.exec.Plan, _ = Build(SequenceOverlap, f.exec.Plan.Params)
		_, err := f.exec.Run(ctx)
		require.ErrorIs(t, err, ErrUnexpectedState)
		assert.Empty(t, f.calls.all())
		assert.NoFileExists(t, f.exec.Journal)
	})
	t.Run("cancelled", func(t *testing.T) {
		f := newFixture(t, SequenceOverlap)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := f.exec.Run(cctx)
		require.ErrorIs(t, err, context.Canceled)
		assert.Empty(t, f.calls.all())
	})
	t.Run("missing parts", func(t *testing.T) {
		f := newFixture(t, SequenceOverlap)
		f.exec.CA, f.exec.Notifier = nil, nil
		_, err := f.exec.Run(ctx)
		require.ErrorContains(t, err, "found no CA, Notifier")
		_, err = f.exec.DryRun(ctx)
		require.ErrorContains(t, err, "found no CA, Notifier")
		assert.NoFileExists(t, f.exec.Journal)
	})
	t.Run("no journal path", func(t *testing.T) {
		f := newFixture(t, SequenceOverlap)
		f.exec.Journal = ""
		_, err := f.exec.Run(ctx)
		require.ErrorContains(t, err, "expected a journal path")
		_, err = f.exec.Rollback(ctx)
		require.ErrorContains(t, err, "expected a journal path")
	})
	t.Run("alias differs", func(t *testing.T) {
		f := newFixture(t, SequenceOverlap)
		f.tenant.Alias = "other"
		_, err := f.exec.Run(ctx)
		require.ErrorContains(t, err, `tenant's alias "other" is not the plan's alias "tenant-client"`)
	})
}

func TestDryRun(t *testing.T) {
	ctx := context.Background()
	t.Run("fresh", func(t *testing.T) {
		f := newFixture(t, SequenceOverlap)
		before := f.files(t)
		d, err := f.exec.DryRun(ctx)
		require.NoError(t, err)
		after := f.files(t)
		assert.Equal(t, fileNames(before), fileNames(after), "no file created")
		for p, b := range before {
			assert.True(t, sameBytes(b, after[p]), "%s unchanged", p)
		}
		for _, c := range f.calls.all() {
			assert.True(t, strings.HasPrefix(c, "rcv.Accepts"), "only read-only calls, found %q", c)
		}
		require.Len(t, d.Steps, 9)
		for _, p := range d.Steps {
			assert.Equal(t, StatusPending, p.Status)
			assert.NotEmpty(t, p.Would, "step %d", p.Number)
		}
		g := d.Steps[4].Gate
		require.NotNil(t, g)
		assert.Equal(t, []string{"the receiver accepts the old chain"}, g.Checked)
		require.Len(t, g.Deferred, 1)
		assert.Contains(t, g.Deferred[0], "step 1 (generate-key), step 3 (receiver-accept-both)")
		assert.Empty(t, g.Problems)
		assert.False(t, g.Passed)
		g = d.Steps[8].Gate
		assert.Equal(t, []string{"no chain declared in use chains to the old root"}, g.Checked)
		assert.Empty(t, g.Problems, "the live alias itself is left out: the run swaps it")
		assert.Contains(t, d.Steps[0].Would, "make a new ec-p256 key")
		assert.Contains(t, d.Steps[6].Would, "node-a presents the old certificate")
		out := d.String()
		assert.Contains(t, out, "nothing was changed")
		assert.Contains(t, out, "deferred: the receiver accepts the new chain")
		for _, e := range f.events {
			assert.True(t, e.dryRun)
		}
	})
	t.Run("old root in use", func(t *testing.T) {
		f := newFixture(t, SequenceOverlap)
		other := issue(t, f.oldCA, "billing-client", keystore.ECDSAP256)
		f.exec.InUse = []truststore.Dependent{{Name: "billing flow", Chain: other.chain}}
		d, err := f.exec.DryRun(ctx)
		require.ErrorIs(t, err, ErrGateFailed)
		assert.Contains(t, err.Error(), "billing flow")
		var ge *GateError
		require.ErrorAs(t, err, &ge)
		assert.Equal(t, StepRemoveOld, ge.Step.ID)
		assert.Equal(t, []string{"billing flow: CN=billing-client -> CN=Old Root CA"}, ge.Dependents)
		assert.Contains(t, d.String(), "FAILS: billing flow")
	})
	t.Run("receiver refuses the old chain today", func(t *testing.T) {
		f := newFixture(t, SequenceOverlap)
		f.rcv.roots = nil
		_, err := f.exec.DryRun(ctx)
		var ge *GateError
		require.ErrorAs(t, err, &ge)
		assert.Equal(t, StepSwapEntry, ge.Step.ID)
		assert.Contains(t, ge.Problems[0], "refuses the old chain")
	})
	t.Run("after a failed gate", func(t *testing.T) {
		f := newFixture(t, SequenceOverlap)
		f.rcv.ignoreAccept = true
		_, err := f.exec.Run(ctx)
		require.ErrorIs(t, err, ErrGateFailed)
		before := f.files(t)
		n := len(f.mutations())
		d, err := f.exec.DryRun(ctx)
		require.ErrorIs(t, err, ErrGateFailed)
		after := f.files(t)
		assert.Equal(t, len(before), len(after))
		for p, b := range before {
			assert.True(t, sameBytes(b, after[p]), "%s unchanged", p)
		}
		assert.Len(t, f.mutations(), n)
		assert.Equal(t, StatusDone, d.Steps[0].Status)
		assert.Equal(t, StatusFailed, d.Steps[4].Status)
		g := d.Steps[4].Gate
		assert.Len(t, g.Checked, 2, "every earlier step is done: the whole gate is evaluated")
		require.NotEmpty(t, g.Problems)
		assert.Contains(t, g.Problems[0], "refuses the new chain")
		assert.Empty(t, d.Steps[0].Would, "done steps say nothing")
		assert.Contains(t, d.String(), "done in an earlier run")
	})
}

func TestRollback(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, SequenceOverlap)
	other := issue(t, f.oldCA, "billing-client", keystore.ECDSAP256)
	f.exec.InUse = []truststore.Dependent{{Name: "billing flow", Chain: other.chain}}
	_, err := f.exec.Run(ctx)
	require.ErrorIs(t, err, ErrGateFailed) // stops before step 9, after the swap
	newLeaf := f.newLeaf(t)
	require.True(t, sameCert(f.liveEntry(t, liveAlias).Chain[0], newLeaf))

	res, err := f.exec.Rollback(ctx)
	require.NoError(t, err)
	assert.Equal(t, StatusRolledBack, res.State)
	e := f.liveEntry(t, liveAlias)
	assert.Equal(t, f.old.chain[0].Raw, e.Chain[0].Raw, "the old certificate is back under the alias")
	assert.True(t, chain.KeyMatches(e.Key.Public(), f.old.chain[0]))
	assert.Equal(t, f.partner.chain[0].Raw, f.liveEntry(t, "partner").Chain[0].Raw)
	p, err := f.tenant.Pending()
	require.NoError(t, err)
	require.NotNil(t, p)
	assert.True(t, p.Signed)
	assert.True(t, sameCert(p.Chain[0], newLeaf), "the new entry is staged again")
	for _, n := range f.rt.names {
		assert.Equal(t, "old-leaf", f.label(f.rt.presents[n]), n)
	}
	j := f.journal(t)
	assert.Equal(t, StatusDone, j.Steps[0].Status)
	for _, s := range j.Steps[1:] {
		assert.Equal(t, StatusPending, s.Status)
	}

	// Rolling back again changes nothing.
	_, err = f.exec.Rollback(ctx)
	require.NoError(t, err)

	// Running again redoes steps 2-9 with the same new certificate.
	f.exec.InUse = nil
	_, err = f.exec.Run(ctx)
	require.NoError(t, err)
	assertRenewed(t, f)
	assert.True(t, sameCert(f.liveEntry(t, liveAlias).Chain[0], newLeaf))
	assert.Equal(t, 1, f.calls.count("ca.Sign"))
}

func TestRollbackRefused(t *testing.T) {
	ctx := context.Background()
	t.Run("receiver no longer accepts the old chain", func(t *testing.T) {
		f := newFixture(t, SequenceDowntime)
		f.rt.skip["node-b"] = true
		f.rt.names = f.rt.names[:2]
		f.exec.Plan, _ = Build(SequenceDowntime, func() Params { p := f.plan.Params; p.Nodes = f.rt.names; return p }())
		f.rt.presents["node-b"] = nil
		f.nt.after = func(s Step) { // node-b comes back with the old keystore
			if s.ID == StepNotifyRestart {
				f.rt.presents["node-b"] = f.old.chain[0]
			}
		}
		_, err := f.exec.Run(ctx)
		require.ErrorIs(t, err, ErrGateFailed)
		liveBefore, err := os.ReadFile(f.tenant.Keystore)
		require.NoError(t, err)
		_, err = f.exec.Rollback(ctx)
		require.ErrorIs(t, err, ErrRollbackUnsafe)
		assert.ErrorIs(t, err, chain.ErrNotPinned)
		assert.True(t, strings.HasPrefix(err.Error(), "renewal: rollback unsafe: the receiver no longer accepts the old chain "), err)
		assert.Equal(t, 1, strings.Count(err.Error(), "renewal: "), "one renewal prefix: %s", err)
		live, err := os.ReadFile(f.tenant.Keystore)
		require.NoError(t, err)
		assert.True(t, sameBytes(liveBefore, live))
	})
	t.Run("nothing to roll back", func(t *testing.T) {
		f := newFixture(t, SequenceOverlap)
		_, err := f.exec.Rollback(ctx)
		require.ErrorIs(t, err, ErrUnexpectedState)
	})
}

func TestBlindReceiverCompletes(t *testing.T) {
	f := newFixture(t, SequenceOverlap)
	f.exec.Receiver = blindReceiver{f.rcv}
	f.exec.OldRoot = f.oldCA.Cert
	_, err := f.exec.Run(context.Background())
	require.NoError(t, err)
	assertRenewed(t, f)
	assert.Equal(t, []*x509.Certificate{f.newCA.Cert}, f.rcv.roots)
}

func TestOldRootLookup(t *testing.T) {
	t.Run("wrong Executor.OldRoot", func(t *testing.T) {
		f := newFixture(t, SequenceOverlap)
		f.exec.OldRoot = f.partnerCA.Cert
		_, err := f.exec.Run(context.Background())
		require.ErrorIs(t, err, ErrUnexpectedState)
		assert.Contains(t, err.Error(), "Executor.OldRoot")
	})
	t.Run("old root not in the chain, found at the receiver", func(t *testing.T) {
		f := newFixture(t, SequenceOverlap)
		require.NoError(t, keystore.Update(context.Background(), f.tenant.Keystore, livePassword, func(s *keystore.Store) error {
			_, err := s.Replace(liveAlias, f.old.key, f.old.chain[:1], nil)
			return err
		}, nil))
		_, err := f.exec.Run(context.Background())
		require.NoError(t, err)
		assert.Equal(t, []string{"new-root"}, []string{f.label(f.rcv.roots[0])})
	})
	t.Run("old root nowhere", func(t *testing.T) {
		f := newFixture(t, SequenceOverlap)
		require.NoError(t, keystore.Update(context.Background(), f.tenant.Keystore, livePassword, func(s *keystore.Store) error {
			_, err := s.Replace(liveAlias, f.old.key, f.old.chain[:1], nil)
			return err
		}, nil))
		f.exec.Receiver = blindReceiver{f.rcv}
		_, err := f.exec.Run(context.Background())
		require.ErrorIs(t, err, ErrUnexpectedState)
		assert.Contains(t, err.Error(), "give it in Executor.OldRoot")
		assert.Empty(t, f.calls.all())
	})
}

func TestJournalLocked(t *testing.T) {
	f := newFixture(t, SequenceOverlap)
	unlock, err := lockJournal(f.exec.Journal)
	require.NoError(t, err)
	defer unlock()
	_, err = f.exec.Run(context.Background())
	require.ErrorIs(t, err, ErrJournalLocked)
	assert.Empty(t, f.calls.all())
}

func TestJournalOfAnotherRenewal(t *testing.T) {
	f := newFixture(t, SequenceOverlap)
	_, err := f.exec.Run(context.Background())
	require.NoError(t, err)
	g := newFixture(t, SequenceDowntime)
	g.exec.Journal = f.exec.Journal
	_, err = g.exec.Run(context.Background())
	require.ErrorIs(t, err, ErrJournal)
	assert.Contains(t, err.Error(), `sequence: expected "downtime" as in the plan, found "overlap"`)
	_, err = g.exec.DryRun(context.Background())
	require.ErrorIs(t, err, ErrJournal)
}

func TestGateError(t *testing.T) {
	inner := errors.New("refused")
	e := &GateError{
		Step:       Step{Number: 7, ID: StepRestartNodes, Gate: &Gate{Kind: GateNodesPresentNew, When: GateAfter}},
		Problems:   []string{"node \"b\" presents the old certificate"},
		Stragglers: []string{"b"},
		errs:       []error{inner},
	}
	assert.ErrorIs(t, e, ErrGateFailed)
	assert.ErrorIs(t, e, inner)
	assert.Equal(t, `renewal: gate "every node presents the new certificate" after step 7 (restart-nodes) failed; stragglers: b; node "b" presents the old certificate`, e.Error())
}

func TestEventString(t *testing.T) {
	e := Event{Kind: EventGateFailed, Step: Step{Number: 5, Role: TenantAdmin, Title: "Swap",
		Gate: &Gate{Kind: GateReceiverAcceptsBoth, When: GateBefore}}, Err: errors.New("no")}
	assert.Equal(t, "step 5 (tenant administrator) gate failed: Swap [gate before: receiver accepts the old and the new chain]: no", e.String())
	for _, k := range []EventKind{EventStepStarted, EventStepDone, EventStepSkipped, EventStepFailed, EventGatePassed,
		EventGateFailed, EventWarning, EventGateWaiting} {
		assert.NotContains(t, string(k), "EventKind", "%s", k)
		assert.NotEmpty(t, string(k))
	}
	assert.Equal(t, "step done", string(EventStepDone))
}

// TestWarnsWhenReceiverAcceptsAnotherEntry checks the ambiguity warning:
// when the receiver would also accept another key entry of the live
// keystore, the run goes on and says so; otherwise it says nothing.
func TestWarnsWhenReceiverAcceptsAnotherEntry(t *testing.T) {
	for _, seq := range []Sequence{SequenceOverlap, SequenceDowntime} {
		for _, accepted := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v/partner accepted=%v", seq, accepted), func(t *testing.T) {
				f := newFixture(t, seq)
				if accepted {
					f.rcv.roots = append(f.rcv.roots, f.partnerCA.Cert)
					f.rcv.accepted = append(f.rcv.accepted, f.partner.chain[0])
				}
				_, err := f.exec.Run(context.Background())
				require.NoError(t, err)
				var warnings []Event
				for _, e := range f.events {
					if e.Kind == EventWarning {
						warnings = append(warnings, e)
					}
				}
				if !accepted {
					assert.Empty(t, warnings)
					return
				}
				require.Len(t, warnings, 1)
				assert.Contains(t, warnings[0].Message, `key entry "partner"`)
				assert.Contains(t, warnings[0].Message, keystore.CertFingerprint(f.partner.chain[0]).Hex())
				assert.Equal(t, "warning", string(warnings[0].Kind))
			})
		}
	}
}
