package temporal

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal"
	"github.com/certroll/certroll/renewal/local"
)

// The workflow tests run against in-memory fakes of the receiver, the
// runtime and the notifier, a real CA (package renewal/local's) and real
// tenant keystores in t.TempDir(). The fakes count every call, and the
// calls in flight per receiver, so that the tests can assert that no
// destructive call ran twice and that the campaign's limits held.

// clock is the tests' start time; the workflows' clock starts there.
var clock = time.Date(2026, time.March, 2, 9, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return clock }

var livePassword = []byte("live-secret-pw")

// world is one test's landscape: the CAs, the fakes, the counters.
type world struct {
	t            testing.TB
	dir          string
	oldCA, newCA *local.CA
	acts         *Activities

	mu       sync.Mutex
	calls    map[string]int // "Activate:r1", "RemoveRoot:rcv-1:r1", ...
	inflight map[string]int // per receiver
	maxIn    map[string]int
	total    int
	maxTotal int
	// crash holds the calls that "crash" once: the call takes effect,
	// then the attempt dies (a panic) before it can return.
	crash map[string]bool
	// pause, if set, is how long each adapter call takes, so that calls
	// of concurrent activities overlap.
	pause time.Duration
	// notes are the hand-offs delivered, "renewal: step -> role".
	notes []string
}

func newWorld(t testing.TB) *world {
	t.Helper()
	oldCA, err := local.NewCA(local.CAConfig{Name: "Old Root CA", Now: fixedNow})
	require.NoError(t, err)
	newCA, err := local.NewCA(local.CAConfig{Name: "New Root CA", Now: fixedNow})
	require.NoError(t, err)
	w := &world{t: t, dir: t.TempDir(), oldCA: oldCA, newCA: newCA,
		calls: map[string]int{}, inflight: map[string]int{}, maxIn: map[string]int{}, crash: map[string]bool{}}
	w.acts = &Activities{
		Tenants: map[string]Stores{}, CAs: map[string]renewal.CA{}, Receivers: map[string]renewal.Receiver{},
		Runtimes: map[string]renewal.Runtime{}, Notifiers: map[string]renewal.Notifier{},
	}
	w.acts.CAs["new-ca"] = &countingCA{w: w, ca: newCA}
	w.acts.Notifiers["people"] = &fakeNotifier{w: w}
	return w
}

// call records a call on behalf of receiver rcv's renewals: it counts it
// under key, holds rcv's in-flight count for the call's duration, and
// crashes after fn if key is to crash.
func (w *world) call(rcv, key string, fn func() error) error {
	w.mu.Lock()
	w.calls[key]++
	w.inflight[rcv]++
	w.total++
	w.maxIn[rcv] = max(w.maxIn[rcv], w.inflight[rcv])
	w.maxTotal = max(w.maxTotal, w.total)
	crash := w.crash[key]
	delete(w.crash, key)
	pause := w.pause
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		w.inflight[rcv]--
		w.total--
		w.mu.Unlock()
	}()
	if pause > 0 {
		time.Sleep(pause)
	}
	err := fn()
	if crash {
		panic(fmt.Sprintf("injected crash during %s", key))
	}
	return err
}

func (w *world) count(key string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.calls[key]
}

func (w *world) crashOnce(key string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.crash[key] = true
}

func (w *world) crashPending() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.crash) > 0
}

// fixture is one renewal of a world.
type fixture struct {
	name     string
	tenant   *renewal.Tenant
	runtime  *fakeRuntime
	receiver *fakeReceiver
	old      []*x509.Certificate
	input    Input
}

// add makes renewal name against receiver rcv: a live keystore holding
// an old certificate the receiver accepts, a runtime of two nodes
// presenting it, and the plan.
func (w *world) add(name, rcv string, seq renewal.Sequence) *fixture {
	t := w.t
	t.Helper()
	key, err := keystore.GenerateKey(keystore.ECDSAP256, nil)
	require.NoError(t, err)
	old, err := w.oldCA.Issue(name, key.Public())
	require.NoError(t, err)
	path := filepath.Join(w.dir, name+".jks")
	ks := keystore.New(keystore.JKS, nil)
	require.NoError(t, ks.Set(&keystore.Entry{Alias: "client", Key: key, Chain: old}, nil))
	require.NoError(t, ks.Save(path, livePassword, nil))
	tenant := &renewal.Tenant{Keystore: path, Password: livePassword, Alias: "client", Now: fixedNow}

	r := &fakeReceiver{w: w, group: rcv, name: name, roots: []*x509.Certificate{w.oldCA.Root()}, accepted: []*x509.Certificate{old[0]}}
	w.acts.Receivers[rcv+"/"+name] = r

	stores := &countingStores{Stores: TenantStores(tenant), w: w, name: name, rcv: rcv}
	rt := &fakeRuntime{w: w, name: name, rcv: rcv, stores: stores, nodes: []string{"node-a", "node-b"}, presents: map[string]*x509.Certificate{}}
	for _, n := range rt.nodes {
		rt.presents[n] = old[0]
	}
	w.acts.Tenants[name], w.acts.Runtimes[name] = stores, rt

	p := renewal.Params{
		Alias: "client", Keystore: path, Nodes: rt.nodes,
		OldFingerprint:     keystore.CertFingerprint(old[0]).Hex(),
		OldRootSubject:     w.oldCA.Root().Subject.String(),
		OldRootFingerprint: keystore.CertFingerprint(w.oldCA.Root()).Hex(),
		NewRootSubject:     w.newCA.Root().Subject.String(),
		NewRootFingerprint: keystore.CertFingerprint(w.newCA.Root()).Hex(),
	}
	if seq == renewal.SequenceDowntime {
		p.Window = renewal.Window{Start: clock.Add(6 * time.Hour), End: clock.Add(30 * time.Hour), Description: "Saturday night"}
	}
	plan, err := renewal.Build(seq, p)
	require.NoError(t, err)
	return &fixture{name: name, receiver: r, tenant: tenant, runtime: rt, old: old, input: Input{
		Name: name, Plan: plan, Group: rcv,
		Adapters: Adapters{Tenant: name, CA: "new-ca", Receiver: rcv + "/" + name, Runtime: name, Notifier: "people"},
	}}
}

func appendNew(certs []*x509.Certificate, c *x509.Certificate) []*x509.Certificate {
	if contains(certs, c) {
		return certs
	}
	return append(certs, c)
}

// live returns the certificate under the fixture's live alias.
func (f *fixture) live(t testing.TB) *x509.Certificate {
	t.Helper()
	c, err := f.tenant.LiveChain()
	require.NoError(t, err)
	return c[0]
}

// countingStores counts the tenant's destructive calls.
type countingStores struct {
	Stores
	w         *world
	name, rcv string
}

func (s *countingStores) Activate(old, next *x509.Certificate) (a *renewal.Activation, err error) {
	err = s.w.call(s.rcv, "Activate:"+s.name, func() error {
		a, err = s.Stores.Activate(old, next)
		return err
	})
	return a, err
}

func (s *countingStores) Stage(current *x509.Certificate) (p *renewal.Pending, err error) {
	err = s.w.call(s.rcv, "Stage:"+s.name, func() error {
		p, err = s.Stores.Stage(current)
		return err
	})
	return p, err
}

type countingCA struct {
	w  *world
	ca renewal.CA
}

func (c *countingCA) Sign(ctx context.Context, csr []byte) (chain []*x509.Certificate, err error) {
	err = c.w.call("ca", "Sign", func() error {
		chain, err = c.ca.Sign(ctx, csr)
		return err
	})
	return chain, err
}

// fakeReceiver is one tenant's configuration on a receiver server (the
// roots it trusts for that tenant, the client certificates it maps to
// the tenant's technical user). Several renewals share a server: calls
// are counted in flight per server (group), and keyed by the renewal.
// refuse makes it silently not take the new certificate: the gate
// before the swap must notice.
type fakeReceiver struct {
	w               *world
	group, name     string
	mu              sync.Mutex
	roots, accepted []*x509.Certificate
	refuse          bool
	lastSeen        time.Time // of the old certificate, for the drain
}

func (r *fakeReceiver) do(op string, fn func()) error {
	return r.w.call(r.group, op+":"+r.name, func() error {
		r.mu.Lock()
		defer r.mu.Unlock()
		fn()
		return nil
	})
}

func (r *fakeReceiver) TrustRoot(_ context.Context, root *x509.Certificate) error {
	return r.do("TrustRoot", func() { r.roots = appendNew(r.roots, root) })
}

func (r *fakeReceiver) AcceptClient(_ context.Context, chain []*x509.Certificate) error {
	return r.do("AcceptClient", func() {
		if !r.refuse {
			r.accepted = appendNew(r.accepted, chain[0])
		}
	})
}

func (r *fakeReceiver) RemoveClient(_ context.Context, leaf *x509.Certificate) error {
	return r.do("RemoveClient", func() {
		r.accepted = slices.DeleteFunc(r.accepted, func(c *x509.Certificate) bool { return sameCert(c, leaf) })
	})
}

func (r *fakeReceiver) RemoveRoot(_ context.Context, root *x509.Certificate) error {
	return r.do("RemoveRoot", func() {
		r.roots = slices.DeleteFunc(r.roots, func(c *x509.Certificate) bool { return sameCert(c, root) })
	})
}

func (r *fakeReceiver) Accepts(_ context.Context, chain []*x509.Certificate) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !contains(r.accepted, chain[0]) {
		return fmt.Errorf("fake receiver %s: client certificate %s is not accepted", r.name, chain[0].Subject.CommonName)
	}
	if !contains(r.roots, chain[len(chain)-1]) {
		return fmt.Errorf("fake receiver %s: root %s is not trusted", r.name, chain[len(chain)-1].Subject.CommonName)
	}
	return nil
}

func (r *fakeReceiver) Roots() ([]*x509.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.roots), nil
}

func (r *fakeReceiver) AcceptedClients() ([]*x509.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.accepted), nil
}

// observingReceiver adds the UsageObserver of the drain. With always
// set, a client presents the old certificate all the time: the receiver
// saw it a minute before always() (the test environment's clock).
type observingReceiver struct {
	*fakeReceiver
	always func() time.Time
}

func (r observingReceiver) LastSeen(context.Context, *x509.Certificate) (time.Time, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.always != nil {
		return r.always().Add(-time.Minute), nil
	}
	return r.lastSeen, nil
}

// fakeRuntime is one renewal's nodes: each presents what the live
// keystore held when it last started.
type fakeRuntime struct {
	w         *world
	name, rcv string
	stores    Stores
	mu        sync.Mutex
	nodes     []string
	presents  map[string]*x509.Certificate
}

func (r *fakeRuntime) Nodes(context.Context) ([]string, error) { return slices.Clone(r.nodes), nil }

func (r *fakeRuntime) op(op, node string, fn func() error) error {
	return r.w.call(r.rcv, fmt.Sprintf("%s:%s:%s", op, r.name, node), func() error {
		r.mu.Lock()
		defer r.mu.Unlock()
		if !slices.Contains(r.nodes, node) {
			return fmt.Errorf("fake runtime %s: no node %q", r.name, node)
		}
		return fn()
	})
}

func (r *fakeRuntime) load(node string) error {
	c, err := r.stores.LiveChain()
	if err != nil {
		return err
	}
	r.presents[node] = c[0]
	return nil
}

func (r *fakeRuntime) Stop(_ context.Context, node string) error {
	return r.op("Stop", node, func() error { r.presents[node] = nil; return nil })
}

func (r *fakeRuntime) Start(_ context.Context, node string) error {
	return r.op("Start", node, func() error {
		if r.presents[node] != nil {
			return nil
		}
		return r.load(node)
	})
}

func (r *fakeRuntime) Restart(_ context.Context, node string) error {
	return r.op("Restart", node, func() error { return r.load(node) })
}

func (r *fakeRuntime) Presents(_ context.Context, node string) (*x509.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !slices.Contains(r.nodes, node) {
		return nil, fmt.Errorf("fake runtime %s: no node %q", r.name, node)
	}
	return r.presents[node], nil
}

// fakeNotifier records the hand-offs.
type fakeNotifier struct{ w *world }

func (n *fakeNotifier) HandOff(_ context.Context, s renewal.Step, msg string, wait time.Duration) error {
	if wait != 0 {
		return errors.New("fake notifier: the workflow must not ask the notifier to wait")
	}
	n.w.mu.Lock()
	defer n.w.mu.Unlock()
	n.w.notes = append(n.w.notes, fmt.Sprintf("%s -> %s: %s", s.ID, s.To, msg))
	return nil
}

// env makes a test workflow environment running w's activities.
func (w *world) env() *testsuite.TestWorkflowEnvironment {
	env := newEnv(w.acts)
	env.SetStartTime(clock)
	return env
}

// newEnv makes a test workflow environment running acts.
func newEnv(acts *Activities) *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	// The crash tests' panics would fill the output with stacks.
	if os.Getenv("I13_LOG") == "" {
		s.SetLogger(log.NewStructuredLogger(slog.New(slog.DiscardHandler)))
	}
	env := s.NewTestWorkflowEnvironment()
	env.RegisterWorkflow(RenewalWorkflow)
	env.RegisterWorkflow(CampaignWorkflow)
	env.RegisterActivity(acts)
	env.SetTestTimeout(5 * time.Minute)
	return env
}
