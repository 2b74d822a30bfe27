package nginx

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal"
	"github.com/certroll/certroll/renewal/internal/trustfiles"
	"github.com/certroll/certroll/renewal/local"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeRuntime is a runtime whose nodes read the live keystore when they
// start and present its certificate until they are restarted, as the
// runtime's cached SSL context does. It records every start and restart.
type fakeRuntime struct {
	keystore string
	password []byte
	alias    string
	names    []string

	mu       sync.Mutex
	presents map[string]*x509.Certificate
	starts   map[string]int
}

func newFakeRuntime(t *testing.T, ks string, password []byte, alias string, nodes ...string) *fakeRuntime {
	t.Helper()
	r := &fakeRuntime{keystore: ks, password: password, alias: alias, names: nodes,
		presents: map[string]*x509.Certificate{}, starts: map[string]int{}}
	for _, n := range nodes {
		require.NoError(t, r.Start(context.Background(), n))
	}
	r.starts = map[string]int{} // the landscape's own start is not the renewal's
	return r
}

func (r *fakeRuntime) Nodes(context.Context) ([]string, error) {
	return append([]string(nil), r.names...), nil
}

func (r *fakeRuntime) node(n string) error {
	for _, m := range r.names {
		if m == n {
			return nil
		}
	}
	return fmt.Errorf("fake runtime: no node %q", n)
}

func (r *fakeRuntime) Stop(_ context.Context, n string) error {
	if err := r.node(n); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.presents[n] = nil
	return nil
}

func (r *fakeRuntime) Start(_ context.Context, n string) error {
	if err := r.node(n); err != nil {
		return err
	}
	ks, err := keystore.Open(r.keystore, r.password, nil)
	if err != nil {
		return err
	}
	e, err := ks.Entry(r.alias)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.presents[n] = e.Leaf()
	r.starts[n]++
	return nil
}

func (r *fakeRuntime) Restart(ctx context.Context, n string) error {
	if err := r.Stop(ctx, n); err != nil {
		return err
	}
	return r.Start(ctx, n)
}

func (r *fakeRuntime) Presents(_ context.Context, n string) (*x509.Certificate, error) {
	if err := r.node(n); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.presents[n], nil
}

func (r *fakeRuntime) startCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.starts {
		n += c
	}
	return n
}

var tenantPassword = []byte("changeit")

// renewalRun is an executor for a renewal of the landscape's old client
// certificate (the tenant's live keystore holds it) by one of a new local
// CA, against nginx.
type renewalRun struct {
	exec    *renewal.Executor
	ca      *local.CA
	runtime *fakeRuntime
	live    string
}

func newRenewalRun(t *testing.T, l *landscape, seq renewal.Sequence, rcv renewal.Receiver) *renewalRun {
	t.Helper()
	live := filepath.Join(l.dir, "tenant.p12")
	ks := keystore.New(keystore.PKCS12, nil)
	require.NoError(t, ks.Set(&keystore.Entry{Alias: "client", Key: l.oldClient.PrivateKey.(crypto.Signer), Chain: chainOf(l.oldClient)}, nil))
	require.NoError(t, ks.Save(live, tenantPassword, nil))
	// The CA keeps its root in a directory, so that a second run (a second
	// process) finds the same root the plan names.
	ca, err := local.NewCA(local.CAConfig{Name: "New Client Root", Dir: filepath.Join(l.dir, "new-ca")})
	require.NoError(t, err)
	rt := newFakeRuntime(t, live, tenantPassword, "client", "node-1", "node-2")
	p := renewal.Params{
		Alias: "client", Keystore: live, KeystoreFormat: "PKCS12",
		Truststore:         filepath.Join(l.dir, "client-ca.pem"),
		Nodes:              []string{"node-1", "node-2"},
		OldFingerprint:     keystore.CertFingerprint(l.oldClient.Leaf).Hex(),
		OldRootSubject:     l.oldCA.cert.Subject.String(),
		OldRootFingerprint: keystore.CertFingerprint(l.oldCA.cert).Hex(),
		NewRootSubject:     ca.Root().Subject.String(),
		NewRootFingerprint: keystore.CertFingerprint(ca.Root()).Hex(),
	}
	if seq == renewal.SequenceDowntime {
		p.Window = renewal.Window{Description: "now, for the test"}
	}
	plan, err := renewal.Build(seq, p)
	require.NoError(t, err)
	return &renewalRun{
		exec: &renewal.Executor{
			Plan:     plan,
			Tenant:   &renewal.Tenant{Keystore: live, Password: tenantPassword, Alias: "client"},
			Journal:  filepath.Join(l.dir, "renewal.json"),
			CA:       ca,
			Receiver: rcv,
			Runtime:  rt,
			Notifier: &local.Notifier{W: &bytes.Buffer{}},
		},
		ca: ca, runtime: rt, live: live,
	}
}

// freshReceiver is a receiver for the landscape's nginx made anew, as a
// new process makes it: it has been handed no certificate, so the hand-written
// pin line of the old certificate (a SHA-1, no certificate comment) is one it
// cannot name.
func freshReceiver(t *testing.T, l *landscape) *Receiver {
	t.Helper()
	rcv, err := NewReceiver(l.rcv.cfg)
	require.NoError(t, err)
	return rcv
}

// TestExecutorRemovesHandWrittenPin runs whole renewals with the executor
// against nginx, starting from a map whose only line for the old client
// certificate was written by hand, and a receiver that was never handed
// that certificate: the executor must still remove the old pin (it asks
// the files whether they accept the old chain, not only the inspector,
// which cannot name a line without a certificate), and the end-state check
// must pass. Before the fix, the downtime run skipped the removal and
// ended with "found the old certificate".
func TestExecutorRemovesHandWrittenPin(t *testing.T) {
	for _, seq := range []renewal.Sequence{renewal.SequenceDowntime, renewal.SequenceOverlap} {
		t.Run(string(seq), func(t *testing.T) {
			l := startNginx(t)
			ctx := context.Background()
			pinMap := filepath.Join(l.dir, "pinned-clients.map")
			oldLine := sha1Line(l.oldClient.Leaf)
			before, err := os.ReadFile(pinMap)
			require.NoError(t, err)
			require.Contains(t, string(before), oldLine+"\n", "the landscape pins the old certificate by hand")
			require.NotContains(t, string(before), "BEGIN CERTIFICATE")

			r := newRenewalRun(t, l, seq, freshReceiver(t, l))
			if seq == renewal.SequenceOverlap {
				// Stop the run before its last step, so that the removal runs in
				// a second run, with a receiver made afresh: what the first
				// run's gates handed the receiver is forgotten, as in a new
				// process.
				n := r.exec.Notifier.(*local.Notifier)
				n.Confirm = func(context.Context, renewal.Step, string) error {
					return fmt.Errorf("not yet: the receiver administrator is away")
				}
				r.exec.Waits = map[renewal.StepID]time.Duration{renewal.StepNotifyNewInUse: time.Minute}
				_, err := r.exec.Run(ctx)
				require.Error(t, err, "the first run stops at step 8")
				n.Confirm = nil
				r.exec.Waits = nil
				r.exec.Receiver = freshReceiver(t, l)
			}
			res, err := r.exec.Run(ctx)
			require.NoError(t, err, "the run ends with a passing end-state check")
			assert.Equal(t, renewal.StatusDone, res.State)

			after, err := os.ReadFile(pinMap)
			require.NoError(t, err)
			assert.NotContains(t, string(after), oldLine, "the hand-written pin of the old certificate is gone")
			assert.Contains(t, string(after), "# pinned by hand\n", "the administrator's comment is kept")
			ks, err := keystore.Open(r.live, tenantPassword, nil)
			require.NoError(t, err)
			e, err := ks.Entry("client")
			require.NoError(t, err)
			assert.Contains(t, string(after), sha1Line(e.Leaf()), "the new certificate is pinned")
			assert.Equal(t, 400, l.status(t, l.oldClient), "nginx refuses the old certificate (its root is gone too)")
			assert.Equal(t, 2, r.runtime.startCount(), "each node started once with the new certificate")
		})
	}
}

// sha1Line is the map line that pins c.
func sha1Line(c *x509.Certificate) string { return trustfiles.NginxMap.Key(c) }
