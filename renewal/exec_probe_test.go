package renewal

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certroll/certroll/chain"
	"github.com/certroll/certroll/internal/testpki"
	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal/probe"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// probeCall is one call of a Prober: the leaf presented and the public key
// of the key that signed for it.
type probeCall struct {
	leaf *x509.Certificate
	pub  crypto.PublicKey
}

// fakeProber is a fake receiver reached over the network: its files
// (fakeReceiver) decide Accepts, and Probe fails, as a JSSE client would,
// while the chain's root is not among the names the server advertises.
// TrustRoot changes the files only, as HAProxy's runtime API does; the
// advertised names change with advertise (a reload). The server verifies
// a chain against the files, and against staleRoots and staleClients: a
// running server that was not reloaded after they were removed from the
// files.
type fakeProber struct {
	*fakeReceiver
	pmu                      sync.Mutex
	advertised               []*x509.Certificate
	probes                   []probeCall
	staleRoots, staleClients []*x509.Certificate
}

func (f *fakeProber) advertise(root *x509.Certificate) {
	f.pmu.Lock()
	defer f.pmu.Unlock()
	f.advertised = append(f.advertised, root)
}

func (f *fakeProber) Probe(ctx context.Context, certs []*x509.Certificate, key crypto.Signer) error {
	f.log.add("rcv.Probe %s", f.label(certs[0]))
	f.pmu.Lock()
	f.probes = append(f.probes, probeCall{leaf: certs[0], pub: key.Public()})
	advertised := append([]*x509.Certificate(nil), f.advertised...)
	f.pmu.Unlock()
	if !chain.KeyMatches(key.Public(), certs[0]) {
		return errors.New("fake probe: the key does not sign for the leaf: handshake failed")
	}
	root := certs[len(certs)-1]
	if !contains(advertised, root) {
		return fmt.Errorf("fake probe: the server does not advertise %q among its acceptable CA names: CA name not advertised", root.Subject.String())
	}
	roots, _ := f.Roots()
	accepted, _ := f.AcceptedClients()
	f.pmu.Lock()
	roots, accepted = append(roots, f.staleRoots...), append(accepted, f.staleClients...)
	f.pmu.Unlock()
	if err := acceptsChain(roots, accepted, certs); err != nil {
		return fmt.Errorf("fake probe: the server refuses the client certificate: handshake failed: %w", err)
	}
	return nil
}

func (f *fakeProber) probed() []probeCall {
	f.pmu.Lock()
	defer f.pmu.Unlock()
	return append([]probeCall(nil), f.probes...)
}

func TestProbeGateStopsBeforeSwap(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, SequenceOverlap)
	rcv := &fakeProber{fakeReceiver: f.rcv, advertised: []*x509.Certificate{f.oldCA.Cert}}
	f.exec.Receiver = rcv

	_, err := f.exec.Run(ctx)
	require.ErrorIs(t, err, ErrGateFailed)
	var ge *GateError
	require.ErrorAs(t, err, &ge)
	assert.Equal(t, StepSwapEntry, ge.Step.ID)
	assert.Equal(t, GateReceiverAcceptsBoth, ge.Step.Gate.Kind)
	require.Len(t, ge.Problems, 1, "the old chain passes the probe, the new one does not")
	assert.Contains(t, ge.Problems[0], "accepts the new chain")
	assert.Contains(t, ge.Problems[0], "a handshake presenting it fails")
	assert.Contains(t, ge.Problems[0], `does not advertise "CN=New Root CA`)
	assert.Contains(t, ge.Problems[0], "not advertised")

	// The probe was the verdict after the files said yes: Accepts first,
	// then Probe, for each chain, with the chain's own key.
	calls := f.calls.all()
	for _, which := range []string{"old-leaf", "new-leaf"} {
		acc := indexOf(calls, "rcv.Accepts "+which)
		prb := indexOf(calls, "rcv.Probe "+which)
		require.GreaterOrEqual(t, acc, 0, which)
		assert.Greater(t, prb, acc, "Probe after Accepts for %s", which)
	}
	staged, err := f.tenant.Pending()
	require.NoError(t, err)
	require.NotNil(t, staged)
	probes := rcv.probed()
	require.Len(t, probes, 2)
	assert.True(t, sameCert(probes[0].leaf, f.old.chain[0]))
	assert.True(t, keyEqual(probes[0].pub, f.old.key.Public()), "the old chain is probed with the live key")
	assert.True(t, sameCert(probes[1].leaf, staged.Chain[0]))
	assert.True(t, keyEqual(probes[1].pub, staged.Key.Public()), "the new chain is probed with the pending key of the staging store")

	// Nothing destructive happened: the live keystore is as it was, no
	// history, no restart, nothing removed at the receiver, which trusts
	// and accepts exactly what step 3 made it.
	live, err := os.ReadFile(f.tenant.Keystore)
	require.NoError(t, err)
	assert.True(t, sameBytes(f.liveBefore, live), "live keystore untouched")
	assert.NoFileExists(t, f.tenant.historyPath())
	for _, c := range calls {
		assert.NotContains(t, c, "Restart")
		assert.NotContains(t, c, "Remove")
	}
	roots, _ := f.rcv.Roots()
	accepted, _ := f.rcv.AcceptedClients()
	assert.Equal(t, []string{"old-root", "new-root"}, labels(f, roots))
	assert.Equal(t, []string{"old-leaf", "new-leaf"}, labels(f, accepted))

	// The journal says the gate failed before step 5 started.
	j := f.journal(t)
	assert.Equal(t, StatusFailed, j.State)
	rec := j.step(StepSwapEntry)
	assert.Equal(t, StatusFailed, rec.Status)
	assert.Zero(t, rec.Attempts, "the swap never started")
	assert.True(t, rec.Acted.IsZero())
	require.NotNil(t, rec.Gate)
	assert.False(t, rec.Gate.Passed)
	assert.Equal(t, ge.Problems, rec.Gate.Problems)
	assert.Contains(t, rec.Error, "not advertised")
	for _, id := range []StepID{StepGenerateKey, StepHandOverCertificate, StepReceiverAcceptBoth, StepConfirmAcceptBoth} {
		assert.Equal(t, StatusDone, j.step(id).Status, id)
	}

	// The receiver is reloaded and advertises the new root: the next run
	// resumes at the gate and completes with the same key.
	rcv.advertise(f.newCA.Cert)
	_, err = f.exec.Run(ctx)
	require.NoError(t, err)
	assertRenewed(t, f)
	assert.Equal(t, 1, f.calls.count("ca.Sign"))
	assert.True(t, keyEqual(f.liveEntry(t, liveAlias).Key.Public(), staged.Key.Public()), "the probed key is the one activated")
	// The end state is probed too: the new chain with the live key, then
	// the old chain with the old key from the history store, which the
	// server refuses.
	probes = rcv.probed()
	require.GreaterOrEqual(t, len(probes), 2)
	newProbe, oldProbe := probes[len(probes)-2], probes[len(probes)-1]
	assert.True(t, sameCert(newProbe.leaf, f.newLeaf(t)))
	assert.True(t, keyEqual(newProbe.pub, staged.Key.Public()))
	assert.True(t, sameCert(oldProbe.leaf, f.old.chain[0]))
	assert.True(t, keyEqual(oldProbe.pub, f.old.key.Public()), "the old key is read from the history store")
}

// TestEndStateProbesOldChain: a receiver whose files no longer hold the
// old root and certificate while its running server still lets the old
// certificate in (it was not reloaded) keeps the run from ending done,
// both at the removal and at the end-state check of a journal that says
// done.
func TestEndStateProbesOldChain(t *testing.T) {
	ctx := context.Background()
	for _, seq := range []Sequence{SequenceOverlap, SequenceDowntime} {
		t.Run(string(seq), func(t *testing.T) {
			f := newFixture(t, seq)
			rcv := &fakeProber{fakeReceiver: f.rcv, advertised: []*x509.Certificate{f.oldCA.Cert, f.newCA.Cert},
				staleRoots: []*x509.Certificate{f.oldCA.Cert}, staleClients: []*x509.Certificate{f.old.chain[0]}}
			f.exec.Receiver = rcv

			res, err := f.exec.Run(ctx)
			require.ErrorIs(t, err, ErrUnexpectedState)
			assert.NotEqual(t, StatusDone, res.State)
			assert.Contains(t, err.Error(), "still accepts the certificate")
			assert.Equal(t, StatusFailed, f.journal(t).step(StepRemoveOld).Status)
			// The files say the old root and certificate are gone.
			roots, _ := f.rcv.Roots()
			assert.False(t, contains(roots, f.oldCA.Cert))
			assert.False(t, f.rcv.Accepts(ctx, f.old.chain) == nil)

			// Run again: the removal resumes from its failed record and
			// makes its calls again (the files alone do not let it skip
			// them), and the server still lets the old certificate in.
			removals := f.calls.count("rcv.RemoveRoot")
			_, err = f.exec.Run(ctx)
			require.ErrorIs(t, err, ErrUnexpectedState)
			assert.Equal(t, removals+1, f.calls.count("rcv.RemoveRoot"))
			assert.NotEqual(t, StatusDone, f.journal(t).State)

			// Reloaded, the server refuses it: the run ends done.
			rcv.pmu.Lock()
			rcv.staleRoots, rcv.staleClients = nil, nil
			rcv.pmu.Unlock()
			res, err = f.exec.Run(ctx)
			require.NoError(t, err)
			assert.Equal(t, StatusDone, res.State)
			assertRenewed(t, f)

			// A journal that says done is checked again: the server is
			// back to its stale state (restored from a backup), and the
			// end state names it.
			rcv.pmu.Lock()
			rcv.staleRoots, rcv.staleClients = []*x509.Certificate{f.oldCA.Cert}, []*x509.Certificate{f.old.chain[0]}
			rcv.pmu.Unlock()
			res, err = f.exec.Run(ctx)
			var ee *EndStateError
			require.ErrorAs(t, err, &ee)
			require.Len(t, ee.Differences, 1)
			d := ee.Differences[0]
			assert.Equal(t, StepRemoveOld, d.Step)
			assert.Equal(t, "the receiver still accepts the old certificate in a handshake", d.Found)
			assert.Contains(t, d.Expected, "a handshake presenting the old chain")
			assert.Equal(t, StatusFailed, res.State)
		})
	}
}

func TestProbeGateDowntimeAfterReceiverSwap(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, SequenceDowntime)
	rcv := &fakeProber{fakeReceiver: f.rcv, advertised: []*x509.Certificate{f.oldCA.Cert}}
	f.exec.Receiver = rcv
	_, err := f.exec.Run(ctx)
	require.ErrorIs(t, err, ErrGateFailed)
	var ge *GateError
	require.ErrorAs(t, err, &ge)
	assert.Equal(t, GateReceiverAcceptsNew, ge.Step.Gate.Kind)
	assert.Contains(t, err.Error(), "not advertised")
	// The probe found the new key where it is at that point of the
	// downtime sequence.
	probes := rcv.probed()
	require.NotEmpty(t, probes)
	p, err := f.tenant.keyFor(probes[len(probes)-1].leaf)
	require.NoError(t, err)
	assert.True(t, keyEqual(p.Public(), probes[len(probes)-1].pub))

	rcv.advertise(f.newCA.Cert)
	_, err = f.exec.Run(ctx)
	require.NoError(t, err)
	assertRenewed(t, f)
}

func TestRollbackProbesOldChain(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, SequenceOverlap)
	rcv := &fakeProber{fakeReceiver: f.rcv, advertised: []*x509.Certificate{f.oldCA.Cert, f.newCA.Cert}}
	f.exec.Receiver = rcv
	// The run stops after the nodes restart, before the old root goes.
	stop, cancel := context.WithCancel(ctx)
	defer cancel()
	f.exec.hook = func(point string, id StepID) {
		if point == hookRecorded && id == StepRestartNodes {
			cancel()
		}
	}
	_, err := f.exec.Run(stop)
	require.ErrorIs(t, err, context.Canceled)
	require.True(t, sameCert(f.liveEntry(t, liveAlias).Leaf(), f.newLeaf(t)), "swapped")
	// The old root's name is no longer advertised (a receiver reloaded
	// with the new bundle only): restoring the old entry would break.
	rcv.pmu.Lock()
	rcv.advertised = []*x509.Certificate{f.newCA.Cert}
	rcv.pmu.Unlock()
	f.exec.hook = nil
	_, err = f.exec.Rollback(ctx)
	require.ErrorIs(t, err, ErrRollbackUnsafe)
	assert.Contains(t, err.Error(), "not advertised")
	probes := rcv.probed()
	last := probes[len(probes)-1]
	assert.True(t, sameCert(last.leaf, f.old.chain[0]))
	assert.True(t, keyEqual(last.pub, f.old.key.Public()), "the old key is read from the history store")
	assert.True(t, sameCert(f.liveEntry(t, liveAlias).Leaf(), f.newLeaf(t)), "nothing rolled back")
}

// tlsReceiver is a receiver whose verdict is a real TLS handshake with a
// crypto/tls server in this process: its files are the fakeReceiver's,
// and the server verifies client chains against the roots the files
// trust, but advertises in its CertificateRequest only the names in
// advertised, as HAProxy 2.6 does after its runtime API added a root.
type tlsReceiver struct {
	*fakeReceiver
	url   string
	roots *x509.CertPool // verifies the server's certificate

	mu         sync.Mutex
	advertised []*x509.Certificate
}

func (r *tlsReceiver) Probe(ctx context.Context, certs []*x509.Certificate, key crypto.Signer) error {
	r.log.add("rcv.Probe %s", r.label(certs[0]))
	_, err := probe.Probe(ctx, r.url, certs, key, &probe.Options{Roots: r.roots})
	return err
}

func (r *tlsReceiver) reload() {
	r.mu.Lock()
	defer r.mu.Unlock()
	roots, _ := r.Roots()
	r.advertised = roots
}

// startTLSReceiver starts the server of a tlsReceiver on 127.0.0.1.
func startTLSReceiver(t *testing.T, f *fixture) *tlsReceiver {
	t.Helper()
	now := time.Now()
	valid := testpki.Validity(now.Add(-time.Hour), now.Add(24*time.Hour))
	serverCA := testpki.NewRoot(t, "Receiver Server Root", valid)
	server := serverCA.Leaf(t, "receiver", valid, testpki.EKU(x509.ExtKeyUsageServerAuth), testpki.SANs("127.0.0.1"))
	r := &tlsReceiver{fakeReceiver: f.rcv, roots: testpki.Pool(serverCA.Cert), advertised: []*x509.Certificate{f.oldCA.Cert}}
	base := &tls.Config{Certificates: []tls.Certificate{server.TLSCertificate()}}
	base.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		r.mu.Lock()
		names := testpki.Pool(r.advertised...)
		r.mu.Unlock()
		trusted, _ := r.Roots()
		accepted, _ := r.AcceptedClients()
		return &tls.Config{
			Certificates: base.Certificates,
			// The names it advertises; the verification is its own.
			ClientCAs:  names,
			ClientAuth: tls.RequireAnyClientCert,
			VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
				var certs []*x509.Certificate
				for _, der := range raw {
					c, err := x509.ParseCertificate(der)
					if err != nil {
						return err
					}
					certs = append(certs, c)
				}
				return acceptsChain(trusted, accepted, certs)
			},
		}, nil
	}
	l, err := tls.Listen("tcp", "127.0.0.1:0", base)
	require.NoError(t, err)
	srv := &http.Server{
		Handler:  http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }),
		ErrorLog: log.New(io.Discard, "", 0), // refused handshakes are the point
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	r.url = "https://" + l.Addr().String() + "/health"
	return r
}

func TestProbeGateRealHandshake(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, SequenceOverlap)
	rcv := startTLSReceiver(t, f)
	f.exec.Receiver = rcv

	_, err := f.exec.Run(ctx)
	require.ErrorIs(t, err, ErrGateFailed)
	assert.ErrorIs(t, err, probe.ErrNotAdvertised, "the probe's verdict is wrapped")
	var pe *probe.Error
	require.ErrorAs(t, err, &pe)
	require.NotNil(t, pe.Missing)
	assert.True(t, sameCert(pe.Missing, f.newCA.Cert), "the missing name is the new root's")
	assert.Nil(t, pe.Handshake, "the server verifies the new chain; only the names are wrong")
	var ge *GateError
	require.ErrorAs(t, err, &ge)
	assert.Equal(t, StepSwapEntry, ge.Step.ID)
	require.Len(t, ge.Problems, 1)
	assert.Contains(t, ge.Problems[0], "new chain")
	assert.Contains(t, ge.Problems[0], "New Root CA")
	live, err := os.ReadFile(f.tenant.Keystore)
	require.NoError(t, err)
	assert.True(t, sameBytes(f.liveBefore, live), "live keystore untouched")
	assert.Equal(t, StatusFailed, f.journal(t).step(StepSwapEntry).Status)
	for _, c := range f.calls.all() {
		assert.False(t, strings.HasPrefix(c, "rt.Restart"), c)
	}

	// Reloaded, the server advertises both roots; the run completes.
	rcv.reload()
	_, err = f.exec.Run(ctx)
	require.NoError(t, err)
	assertRenewed(t, f)
}

func indexOf(calls []string, c string) int {
	for i, s := range calls {
		if s == c {
			return i
		}
	}
	return -1
}

func labels(f *fixture, certs []*x509.Certificate) []string {
	out := make([]string, len(certs))
	for i, c := range certs {
		out[i] = f.label(c)
	}
	return out
}

func keyEqual(a, b crypto.PublicKey) bool {
	return keystore.KeyFingerprint(a) == keystore.KeyFingerprint(b)
}
