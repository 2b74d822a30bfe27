package temporal

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	sdktemporal "go.temporal.io/sdk/temporal"

	"github.com/certroll/certroll/renewal"
	"github.com/certroll/certroll/truststore"
)

// Tests of the review of issue 13: each failed before its fix.

// reloadingReceiver models a files+reload receiver (the command, nginx
// and HAProxy adapters): the inspector and Accepts read the files (the
// fake), served is what the running server accepts. AcceptClient writes
// the file, then the worker dies once before the reload.
type reloadingReceiver struct {
	*fakeReceiver
	mu      sync.Mutex
	crashed bool
	served  []*x509.Certificate
	calls   int
}

func (r *reloadingReceiver) AcceptClient(_ context.Context, chain []*x509.Certificate) error {
	r.mu.Lock()
	r.calls++
	first := !r.crashed
	r.crashed = true
	r.mu.Unlock()
	r.fakeReceiver.mu.Lock()
	r.fakeReceiver.accepted = appendNew(r.fakeReceiver.accepted, chain[0])
	r.fakeReceiver.mu.Unlock()
	if first {
		panic("worker died after the file write, before the reload")
	}
	r.mu.Lock()
	r.served = appendNew(r.served, chain[0])
	r.mu.Unlock()
	return nil
}

// A retried attempt makes the receiver change again although the
// receiver's files already hold it, as the executor's resumed step does:
// the second call reloads the server.
func TestRetryRemakesReceiverChangeWrittenButNotReloaded(t *testing.T) {
	w := newWorld(t)
	f := w.add("r1", "rcv-1", renewal.SequenceOverlap)
	rr := &reloadingReceiver{fakeReceiver: f.receiver}
	w.acts.Receivers[f.input.Adapters.Receiver] = rr
	st := run(t, w.env(), f.input)

	assert.Equal(t, renewal.StatusDone, st.State, "%v", st)
	assert.Equal(t, 2, rr.calls, "AcceptClient: the crashed call and the retry's")
	require.Len(t, rr.served, 1, "the running server was reloaded with the new client certificate")
	assert.Equal(t, st.NewFingerprint, fingerprint(encodeChain(rr.served)))
}

// keylessStores cannot give a key: a vault that does not export it, or a
// keystore that cannot be read.
type keylessStores struct{ Stores }

func (keylessStores) KeyFor(*x509.Certificate) (crypto.Signer, error) {
	return nil, errors.New("the key store is not reachable")
}

// probingReceiver is a fake receiver that can be reached by a handshake:
// every probe succeeds.
type probingReceiver struct {
	*fakeReceiver
	probes int
}

func (r *probingReceiver) Probe(context.Context, []*x509.Certificate, crypto.Signer) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.probes++
	return nil
}

// Stores that cannot give the key make the probe's gate fail: the
// handshake is the verdict, and not making it is no pass.
func TestGateRefusesWhenTheStoresCannotGiveTheProbesKey(t *testing.T) {
	w := newWorld(t)
	f := w.add("r1", "rcv-1", renewal.SequenceOverlap)
	w.acts.Tenants[f.input.Adapters.Tenant] = keylessStores{w.acts.Tenants[f.input.Adapters.Tenant]}
	pr := &probingReceiver{fakeReceiver: f.receiver}
	w.acts.Receivers[f.input.Adapters.Receiver] = pr
	st := run(t, w.env(), f.input)

	assert.Equal(t, renewal.StatusFailed, st.State)
	require.NotNil(t, st.RefusedBy, "%v", st)
	assert.Equal(t, renewal.GateReceiverAcceptsBoth, st.RefusedBy.Kind)
	assert.Contains(t, strings.Join(st.RefusedBy.Problems, "\n"), "the key store is not reachable")
	assert.Zero(t, pr.probes, "no handshake without the key")
	assert.Equal(t, 0, w.count("Activate:r1"), "nothing destructive ran")
}

// inUseUnknownStores cannot read the chains in use in the live keystore.
type inUseUnknownStores struct{ Stores }

func (inUseUnknownStores) ChainsInUse() ([]truststore.Dependent, error) {
	return nil, errors.New("the live keystore is not readable here")
}

// Stores that cannot say which chains are in use stop the old root's
// removal.
func TestOldRootGateRefusesWhenTheChainsInUseAreUnknown(t *testing.T) {
	w := newWorld(t)
	f := w.add("r1", "rcv-1", renewal.SequenceOverlap)
	w.acts.Tenants[f.input.Adapters.Tenant] = inUseUnknownStores{w.acts.Tenants[f.input.Adapters.Tenant]}
	st := run(t, w.env(), f.input)

	require.NotNil(t, st.RefusedBy, "%v", st)
	assert.Equal(t, renewal.GateOldRootUnused, st.RefusedBy.Kind)
	assert.Contains(t, strings.Join(st.RefusedBy.Problems, "\n"), "the live keystore is not readable here")
	assert.Equal(t, 0, w.count("RemoveRoot:r1"), "the old root stays")
}

// A campaign with GateRetry: refused renewals wait for SignalRetry, and
// the campaign counts them refused as they start waiting, so that it
// pauses then, not when they end.
func TestCampaignPausesWhenRefusedRenewalsStartWaitingForRetry(t *testing.T) {
	w := newWorld(t)
	c, fs := campaign(w, 6, 6, false)
	for i := range c.Renewals {
		c.Renewals[i].Options.GateRetry = 48 * time.Hour
		fs[i].receiver.refuse = true // every one fails its gate
	}
	c.PauseAfter, c.MaxConcurrent, c.MaxPerReceiver = 0, 10, 1
	env := w.env()
	var mid *Report
	env.RegisterDelayedCallback(func() { mid = queryReport(t, env) }, 24*time.Hour)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalResume, nil) }, 30*time.Hour)
	rep := runCampaign(t, env, c)

	require.NotNil(t, mid)
	assert.True(t, mid.Paused, "paused at 24 h, while the refused renewals wait: %v", mid.Counts)
	assert.Equal(t, 6, mid.Counts[string(renewal.StatusWaiting)])
	assert.Equal(t, 6, rep.Counts[string(StateRefused)])
	require.Len(t, rep.Resumes, 1)
	assert.True(t, rep.Resumes[0].Resumed)
	assert.Equal(t, 6, rep.Resumes[0].Refused)
	assert.False(t, rep.Paused, "each renewal counted once, not again at its end (48 h)")
}

// A resume while the campaign is not paused changes nothing: the
// refusals counted towards the next pause stay, and the report lists it.
func TestCampaignResumeWhileNotPausedKeepsTheRefusalCount(t *testing.T) {
	w := newWorld(t)
	c := Campaign{Name: "resume", PauseAfter: 1, MaxConcurrent: 1, MaxPerReceiver: 1} // pause at the second refusal
	var fs []*fixture
	for i, seq := range []renewal.Sequence{renewal.SequenceOverlap, renewal.SequenceDowntime, renewal.SequenceOverlap, renewal.SequenceOverlap} {
		f := w.add(fmt.Sprintf("t%d", i), "rcv-0", seq)
		fs = append(fs, f)
		c.Renewals = append(c.Renewals, f.input)
	}
	// t0 is refused at once; t1 waits for its window (6 h on) and is
	// refused then. The resume comes between the two.
	fs[0].receiver.refuse, fs[1].receiver.refuse = true, true
	env := w.env()
	var mid *Report
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalResume, nil) }, 3*time.Hour)
	env.RegisterDelayedCallback(func() { mid = queryReport(t, env) }, 10*time.Hour)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalResume, nil) }, 12*time.Hour)
	rep := runCampaign(t, env, c)

	require.NotNil(t, mid)
	assert.True(t, mid.Paused, "the second refusal pauses: the early resume did not reset the count: %v", mid.Counts)
	assert.Equal(t, 2, mid.Counts[string(StatePending)], "no renewal started while paused")
	require.Len(t, rep.Resumes, 2)
	assert.False(t, rep.Resumes[0].Resumed, "the first resume came while not paused")
	assert.True(t, rep.Resumes[1].Resumed)
	assert.Equal(t, 2, rep.Resumes[1].Refused)
	assert.Equal(t, map[string]int{"done": 2, "refused": 2}, rep.Counts)
}

// Cancelling a campaign starts no more renewals; the one running goes on
// to its end.
func TestCancelledCampaignLetsTheRunningRenewalEnd(t *testing.T) {
	w := newWorld(t)
	var fs []*fixture
	c := Campaign{Name: "cancel", MaxConcurrent: 1, MaxPerReceiver: 1}
	for _, n := range []string{"d0", "d1", "d2"} {
		f := w.add(n, "rcv-0", renewal.SequenceDowntime) // waits for its window, 6 h on
		fs = append(fs, f)
		c.Renewals = append(c.Renewals, f.input)
	}
	env := w.env()
	env.RegisterDelayedCallback(func() { env.CancelWorkflow() }, time.Hour)
	rep := runCampaign(t, env, c)

	assert.True(t, rep.Cancelled)
	assert.Equal(t, map[string]int{"done": 1, "pending": 2}, rep.Counts)
	assert.Equal(t, "New Root CA", fs[0].live(t).Issuer.CommonName, "the running renewal ended done")
	assert.Equal(t, "Old Root CA", fs[1].live(t).Issuer.CommonName, "no renewal started after the cancellation")
	assert.Zero(t, w.count("Stage:d1"))
}

// A cancelled wait ends the workflow with the cancellation: before and
// after the wait's timeout, and in the CA's reply wait.
func TestCancelledWaitEndsTheRenewal(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cancel time.Duration
	}{{"before the timeout", 30 * time.Minute}, {"overdue", 2 * time.Hour}} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			f := w.add("r1", "rcv-1", renewal.SequenceOverlap)
			f.input.Options.Confirm = []Confirm{{Step: renewal.StepConfirmAcceptBoth, Timeout: time.Hour}}
			env := w.env()
			// A workflow blocked for good would hold the test until this
			// guard, which is no measure of time.
			env.SetTestTimeout(time.Minute)
			var mid *Status
			env.RegisterDelayedCallback(func() { mid = query(t, env); env.CancelWorkflow() }, tc.cancel)
			env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: f.input.Name})
			env.ExecuteWorkflow(RenewalWorkflow, f.input)

			require.True(t, env.IsWorkflowCompleted())
			var ce *sdktemporal.CanceledError
			assert.ErrorAs(t, env.GetWorkflowError(), &ce)
			require.NotNil(t, mid)
			require.NotNil(t, mid.Waiting)
			assert.Equal(t, tc.cancel > time.Hour, mid.Waiting.Overdue)
			assert.Equal(t, 0, w.count("Activate:r1"), "nothing after the wait ran")
		})
	}
}

// endStateReceiver lets the test change what the receiver's files say
// once every step is done.
type endStateReceiver struct {
	*fakeReceiver
	rootsErr error
	extra    *x509.Certificate // listed as accepted, but Accepts refuses it
}

func (r *endStateReceiver) Roots() ([]*x509.Certificate, error) {
	if r.rootsErr != nil {
		return nil, r.rootsErr
	}
	return r.fakeReceiver.Roots()
}

func (r *endStateReceiver) AcceptedClients() ([]*x509.Certificate, error) {
	acc, err := r.fakeReceiver.AcceptedClients()
	if r.extra != nil {
		acc = append(acc, r.extra)
	}
	return acc, err
}

// VerifyEnd reports, as the executor's end check, roots it cannot read
// and an old certificate still listed as accepted.
func TestVerifyEndReportsUnreadableRootsAndAListedOldCertificate(t *testing.T) {
	w := newWorld(t)
	f := w.add("r1", "rcv-1", renewal.SequenceOverlap)
	er := &endStateReceiver{fakeReceiver: f.receiver}
	w.acts.Receivers[f.input.Adapters.Receiver] = er
	env := w.env()
	st := run(t, env, f.input)
	require.Equal(t, renewal.StatusDone, st.State, "%v", st)

	// The end state, checked again with the receiver's lists changed.
	in := StepInput{Renewal: "r1", Adapters: f.input.Adapters, Plan: f.input.Plan,
		Artifacts: Artifacts{OldChain: encodeChain(f.old), OldRoot: encodeChain([]*x509.Certificate{w.oldCA.Root()})}}
	newChain, err := f.tenant.LiveChain()
	require.NoError(t, err)
	in.Artifacts.NewChain, in.Artifacts.NewRoot = encodeChain(newChain), encodeChain(newChain[len(newChain)-1:])
	diffs, err := w.acts.VerifyEnd(context.Background(), in)
	require.NoError(t, err)
	assert.Empty(t, diffs, "the end state holds")

	er.rootsErr, er.extra = errors.New("the CA bundle is unreadable"), f.old[0]
	diffs, err = w.acts.VerifyEnd(context.Background(), in)
	require.NoError(t, err)
	all := strings.Join(diffs, "\n")
	assert.Contains(t, all, "the CA bundle is unreadable")
	assert.Contains(t, all, "still lists the old client certificate")
}

// The worker's lock of a renewal holds a second attempt back until the
// first lets go, gives up with the attempt's context, and is forgotten
// once nobody holds it.
func TestRenewalLockHoldsARetryBackOnTheWorker(t *testing.T) {
	a := &Activities{}
	unlock, err := a.lock(context.Background())
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = a.lock(ctx)
	require.ErrorIs(t, err, context.Canceled, "a second attempt waits while the first holds the lock")

	got := make(chan func())
	go func() {
		u, err := a.lock(context.Background())
		assert.NoError(t, err)
		got <- u
	}()
	select {
	case <-got:
		t.Fatal("the second attempt took the lock the first holds")
	default:
	}
	unlock()
	(<-got)()
	a.locksMu.Lock()
	defer a.locksMu.Unlock()
	assert.Empty(t, a.locks, "no lock is kept for a renewal nobody runs")
}
