package temporal

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/testsuite"

	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal"
	"github.com/certroll/certroll/renewal/handoff"
)

// run runs one renewal workflow, its workflow ID the renewal's name (the
// fakes key their state by it), and returns its final status.
func run(t *testing.T, env *testsuite.TestWorkflowEnvironment, in Input) *Status {
	t.Helper()
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: in.Name})
	env.ExecuteWorkflow(RenewalWorkflow, in)
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var st Status
	require.NoError(t, env.GetWorkflowResult(&st))
	return &st
}

func query(t *testing.T, env *testsuite.TestWorkflowEnvironment) *Status {
	t.Helper()
	v, err := env.QueryWorkflow(QueryStatus)
	require.NoError(t, err)
	var st Status
	require.NoError(t, v.Get(&st))
	return &st
}

// destructive lists the calls of a sequence's destructive steps that the
// fakes count, each of which must run exactly once.
func destructive(seq renewal.Sequence, name string) []string {
	calls := []string{"Activate:" + name, "RemoveRoot:" + name}
	if seq == renewal.SequenceOverlap {
		return append(calls, "RemoveClient:"+name)
	}
	return append(calls, "RemoveClient:"+name, "Stop:"+name+":node-a", "Stop:"+name+":node-b")
}

func TestRenewalWorkflowRunsEachSequenceToItsEnd(t *testing.T) {
	for _, seq := range []renewal.Sequence{renewal.SequenceOverlap, renewal.SequenceDowntime} {
		t.Run(string(seq), func(t *testing.T) {
			w := newWorld(t)
			f := w.add("r1", "rcv-1", seq)
			env := w.env()
			st := run(t, env, f.input)

			assert.Equal(t, renewal.StatusDone, st.State, "%v", st)
			require.Len(t, st.Steps, len(f.input.Plan.Steps))
			for _, s := range st.Steps {
				assert.Equal(t, renewal.StatusDone, s.Status, "step %d %s", s.Number, s.ID)
			}
			// The end state, read from the fakes and the keystore.
			assert.Equal(t, st.NewFingerprint, fingerprint(encodeChain(f.receiver.accepted)), "the receiver accepts only the new certificate")
			assert.Len(t, f.receiver.accepted, 1)
			assert.Len(t, f.receiver.roots, 1)
			assert.Equal(t, "New Root CA", f.receiver.roots[0].Subject.CommonName)
			assert.Equal(t, "New Root CA", f.live(t).Issuer.CommonName)
			for _, n := range f.runtime.nodes {
				assert.True(t, sameCert(f.runtime.presents[n], f.live(t)), "node %s presents the new certificate", n)
			}
			for _, c := range destructive(seq, "r1") {
				assert.Equal(t, 1, w.count(c), "%s runs once", c)
			}
			// The hand-offs carry the new fingerprint (the plan is rebuilt
			// with it after step 1).
			assert.Contains(t, strings.Join(w.notes, "\n"), keystoreFP(st.NewFingerprint))
			if seq == renewal.SequenceDowntime {
				// The flow stopped only once the window had started: the
				// workflow waited on a durable timer.
				assert.False(t, env.Now().Before(f.input.Plan.Params.Window.Start), "now %s, window start %s", env.Now(), f.input.Plan.Params.Window.Start)
			}
		})
	}
}

// keystoreFP is a fingerprint as the runbook prints it (keytool's form).
func keystoreFP(hex string) string {
	var b strings.Builder
	for i := 0; i < len(hex); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(strings.ToUpper(hex[i : i+2]))
	}
	return b.String()
}

func TestRenewalWorkflowRefusesAPlanThatIsNotBuilt(t *testing.T) {
	w := newWorld(t)
	f := w.add("r1", "rcv-1", renewal.SequenceOverlap)
	for i := range f.input.Plan.Steps {
		f.input.Plan.Steps[i].Destructive = false // a plan edited to drop the markings
	}
	st := run(t, w.env(), f.input)
	assert.Equal(t, renewal.StatusFailed, st.State)
	assert.Contains(t, st.Error, "make it again with certroll plan --json")
	assert.Equal(t, 0, w.count("Stage:r1"), "nothing ran")
}

func TestGateFailureStopsBeforeTheDestructiveStep(t *testing.T) {
	w := newWorld(t)
	f := w.add("r1", "rcv-1", renewal.SequenceOverlap)
	f.receiver.refuse = true // takes the new root, not the new certificate
	st := run(t, w.env(), f.input)

	assert.Equal(t, renewal.StatusFailed, st.State)
	require.NotNil(t, st.RefusedBy)
	assert.Equal(t, renewal.GateReceiverAcceptsBoth, st.RefusedBy.Kind)
	assert.Contains(t, strings.Join(st.RefusedBy.Problems, "\n"), "refuses the new chain")
	swap := st.Steps[4]
	require.Equal(t, renewal.StepSwapEntry, swap.ID)
	assert.Equal(t, renewal.StatusFailed, swap.Status)
	assert.Equal(t, 0, w.count("Activate:r1"), "the key entry was not swapped")
	assert.Equal(t, "Old Root CA", f.live(t).Issuer.CommonName)
	assert.Equal(t, renewal.StatusPending, st.Steps[5].Status)
}

func TestGateRetrySignalChecksTheGateAgain(t *testing.T) {
	w := newWorld(t)
	f := w.add("r1", "rcv-1", renewal.SequenceOverlap)
	f.receiver.refuse = true
	f.input.Options.GateRetry = 48 * time.Hour
	env := w.env()
	env.RegisterDelayedCallback(func() {
		st := query(t, env)
		assert.Equal(t, renewal.StatusWaiting, st.State)
		require.NotNil(t, st.Waiting)
		assert.Equal(t, SignalRetry, st.Waiting.Signal)
		require.NotNil(t, st.RefusedBy)
		// The receiver's administrator puts it right, then says so.
		f.receiver.mu.Lock()
		f.receiver.refuse = false
		f.receiver.accepted = append(f.receiver.accepted, lastSigned(t, w))
		f.receiver.mu.Unlock()
		env.SignalWorkflow(SignalRetry, nil)
	}, 24*time.Hour)
	st := run(t, env, f.input)
	assert.Equal(t, renewal.StatusDone, st.State, "%v", st)
	assert.Nil(t, st.RefusedBy)
	assert.Equal(t, 1, w.count("Activate:r1"))
}

// lastSigned returns the new certificate, pending in the renewal's
// staging store.
func lastSigned(t *testing.T, w *world) *x509.Certificate {
	t.Helper()
	p, err := w.acts.Tenants["r1"].Pending()
	require.NoError(t, err)
	require.NotNil(t, p)
	return p.Chain[0]
}

func TestHandOffSignalAfterThreeDaysContinues(t *testing.T) {
	w := newWorld(t)
	f := w.add("r1", "rcv-1", renewal.SequenceOverlap)
	f.input.Options.Confirm = []Confirm{{Step: renewal.StepConfirmAcceptBoth, Timeout: 48 * time.Hour}}
	env := w.env()
	var during *Status
	env.RegisterDelayedCallback(func() {
		during = query(t, env)
		env.SignalWorkflow(SignalConfirm, Confirmation{Step: renewal.StepConfirmAcceptBoth, By: "receiver admin"})
	}, 72*time.Hour)
	st := run(t, env, f.input)

	require.NotNil(t, during)
	assert.Equal(t, renewal.StatusWaiting, during.State)
	require.NotNil(t, during.Waiting)
	assert.Equal(t, renewal.StepConfirmAcceptBoth, during.Waiting.ID)
	assert.Equal(t, renewal.ReceiverAdmin, during.Waiting.On)
	assert.Equal(t, clock, during.Waiting.Since.Truncate(time.Minute), "waiting since the start")
	assert.True(t, during.Waiting.Overdue, "past its 48 h timeout: overdue, still waiting")
	assert.Equal(t, renewal.StatusPending, during.Steps[4].Status, "the swap waits for the confirmation")

	assert.Equal(t, renewal.StatusDone, st.State, "%v", st)
	assert.Equal(t, "delivered to tenant administrator and confirmed", st.Steps[3].Note)
	assert.False(t, st.Updated.Before(clock.Add(72*time.Hour)), "finished after the signal, at %s", st.Updated)
	assert.Equal(t, 1, w.count("Activate:r1"))
}

func TestDrainWaitsOnADurableTimer(t *testing.T) {
	w := newWorld(t)
	f := w.add("r1", "rcv-1", renewal.SequenceOverlap)
	obs := observingReceiver{fakeReceiver: f.receiver}
	w.acts.Receivers[f.input.Adapters.Receiver] = obs
	// The old certificate was seen an hour before the gate: in flight
	// from a node restarted moments ago.
	f.receiver.lastSeen = clock.Add(-time.Hour)
	f.input.Options.Drain = 4 * time.Hour
	env := w.env()
	var timers []string
	env.SetOnTimerScheduledListener(func(id string, d time.Duration) { timers = append(timers, fmt.Sprint(d)) })
	st := run(t, env, f.input)
	assert.Equal(t, renewal.StatusDone, st.State, "%v", st)
	assert.Equal(t, []string{"3h0m0s"}, timers, "one timer, until the drain since the last sighting ends")
	assert.Equal(t, clock.Add(3*time.Hour), st.Updated.Truncate(time.Minute))
}

func TestCAReplyThatNeverComesIsAClearWaitingState(t *testing.T) {
	w := newWorld(t)
	f := w.add("r1", "rcv-1", renewal.SequenceOverlap)
	dir := t.TempDir()
	w.acts.CAs["handoff"] = &handoff.CA{Dir: dir}
	f.input.Adapters.CA = "handoff"
	f.input.Options.ReplyTimeout = 7 * 24 * time.Hour
	env := w.env()
	var at8days *Status
	env.RegisterDelayedCallback(func() {
		at8days = query(t, env)
		env.CancelWorkflow() // nobody answers: the test ends it
	}, 8*24*time.Hour)
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: f.input.Name})
	env.ExecuteWorkflow(RenewalWorkflow, f.input)

	require.NotNil(t, at8days)
	assert.Equal(t, renewal.StatusWaiting, at8days.State, "waiting, not failed")
	require.NotNil(t, at8days.Waiting)
	wt := at8days.Waiting
	assert.Equal(t, renewal.StepGenerateKey, wt.ID)
	assert.Equal(t, renewal.TenantAdmin, wt.On)
	assert.Equal(t, SignalReply, wt.Signal)
	assert.True(t, wt.Overdue)
	assert.Equal(t, clock.Add(7*24*time.Hour), wt.Until.Truncate(time.Minute))
	assert.Contains(t, wt.For, dir, "says where the reply goes")
	assert.Equal(t, 1, w.count("Stage:r1"), "one key staged, the request sent once")
	told := 0
	for _, n := range w.notes {
		if strings.HasPrefix(n, "generate-key -> tenant administrator") {
			told++
		}
	}
	assert.Equal(t, 1, told, "the tenant administrator is told once where the request is: %q", w.notes)
	assert.Equal(t, "Old Root CA", f.live(t).Issuer.CommonName)
	require.Error(t, env.GetWorkflowError(), "cancelled by the test")
}

func TestCAReplySignalContinues(t *testing.T) {
	w := newWorld(t)
	f := w.add("r1", "rcv-1", renewal.SequenceOverlap)
	dir := t.TempDir()
	w.acts.CAs["handoff"] = &handoff.CA{Dir: dir}
	f.input.Adapters.CA = "handoff"
	env := w.env()
	var staged string
	env.RegisterDelayedCallback(func() {
		st := query(t, env)
		require.NotNil(t, st.Waiting)
		assert.Equal(t, renewal.StepGenerateKey, st.Waiting.ID)
		p, err := f.tenant.Pending()
		require.NoError(t, err)
		staged = keystore.KeyFingerprint(p.Key.Public()).Hex()
		answer(t, w, dir) // the CA's reply is put in the folder
		env.SignalWorkflow(SignalReply, nil)
	}, 3*24*time.Hour)
	st := run(t, env, f.input)
	assert.Equal(t, renewal.StatusDone, st.State, "%v", st)
	assert.Equal(t, 2, st.Steps[0].Attempts, "asked the CA twice: before and after the reply")
	assert.Equal(t, staged, keystore.KeyFingerprint(f.live(t).PublicKey).Hex(), "the key staged for the request is the one activated: no second key")
}

// answer signs the request in a hand-off folder with the world's new CA
// and puts the reply beside it, as the CA's people would.
func answer(t *testing.T, w *world, dir string) {
	t.Helper()
	reqs, err := filepath.Glob(filepath.Join(dir, "*.csr"))
	require.NoError(t, err)
	require.Len(t, reqs, 1)
	csr, err := os.ReadFile(reqs[0])
	require.NoError(t, err)
	chain, err := w.newCA.Sign(context.Background(), csr)
	require.NoError(t, err)
	reply := strings.TrimSuffix(reqs[0], ".csr") + ".reply"
	require.NoError(t, os.WriteFile(reply+".tmp", []byte(encodeChain(chain)), 0o644))
	require.NoError(t, os.Rename(reply+".tmp", reply))
}

func TestOldRootStaysWhileAnotherKeyEntryChainsToIt(t *testing.T) {
	w := newWorld(t)
	f := w.add("r1", "rcv-1", renewal.SequenceOverlap)
	// A second client certificate of the tenant, from the old CA, in the
	// same keystore: the old root must stay for it.
	key, err := keystore.GenerateKey(keystore.ECDSAP256, nil)
	require.NoError(t, err)
	other, err := w.oldCA.Issue("other-client", key.Public())
	require.NoError(t, err)
	require.NoError(t, keystore.Update(context.Background(), f.tenant.Keystore, livePassword, func(s *keystore.Store) error {
		return s.Set(&keystore.Entry{Alias: "other", Key: key, Chain: other}, nil)
	}, nil))
	st := run(t, w.env(), f.input)

	assert.Equal(t, renewal.StatusFailed, st.State)
	require.NotNil(t, st.RefusedBy)
	assert.Equal(t, renewal.GateOldRootUnused, st.RefusedBy.Kind)
	assert.Contains(t, strings.Join(st.RefusedBy.Problems, "\n"), `alias "other"`)
	assert.Equal(t, 0, w.count("RemoveRoot:r1"), "the old root stays")
	assert.Equal(t, 0, w.count("RemoveClient:r1"))
	assert.Equal(t, 1, w.count("Activate:r1"), "the swap before it ran")
}

func TestInputWithAPlanAndParametersIsRefused(t *testing.T) {
	w := newWorld(t)
	f := w.add("r1", "rcv-1", renewal.SequenceOverlap)
	in := f.input
	in.Params = &in.Plan.Params
	st := run(t, w.env(), in)
	assert.Equal(t, renewal.StatusFailed, st.State)
	assert.Contains(t, st.Error, "give one of them")
	assert.Equal(t, 0, w.count("Stage:r1"))
}

func TestDrainThatNeverEndsFailsTheGateAfterTenDrains(t *testing.T) {
	w := newWorld(t)
	f := w.add("r1", "rcv-1", renewal.SequenceOverlap)
	env := w.env()
	w.acts.Receivers[f.input.Adapters.Receiver] = observingReceiver{fakeReceiver: f.receiver, always: env.Now}
	f.input.Options.Drain = time.Hour
	timers := 0
	env.SetOnTimerScheduledListener(func(string, time.Duration) { timers++ })
	st := run(t, env, f.input)

	assert.Equal(t, renewal.StatusFailed, st.State)
	require.NotNil(t, st.RefusedBy)
	assert.Equal(t, renewal.GateOldRootUnused, st.RefusedBy.Kind)
	assert.Contains(t, strings.Join(st.RefusedBy.Problems, "\n"), "a client still presents the old client certificate")
	assert.GreaterOrEqual(t, timers, 10, "waited ten drains on durable timers")
	assert.Equal(t, 0, w.count("RemoveRoot:r1"), "the old root stays")
	assert.Equal(t, 0, w.count("RemoveClient:r1"))
}
