package renewal

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certroll/certroll/chain"
	"github.com/certroll/certroll/internal/localca"
	"github.com/certroll/certroll/internal/testpki"
	"github.com/certroll/certroll/keystore"
	"github.com/stretchr/testify/require"
)

// The executor's unit tests run against in-memory fakes of the CA, the
// receiver, the runtime and the notifier that record every call in one
// log, so that tests can assert the order of calls across them. The
// tenant's keystores are real files.

var (
	livePassword    = []byte("live-secret-pw")
	stagingPassword = []byte("staging-secret-pw")
	historyPassword = []byte("history-secret-pw")
)

const liveAlias = "tenant-client"

// clock is the fixed clock of the executor tests.
func clock() time.Time { return testpki.Now }

// callLog records calls to the fakes, in order.
type callLog struct {
	mu    sync.Mutex
	calls []string
}

func (l *callLog) add(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, fmt.Sprintf(format, args...))
}

func (l *callLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.calls)
}

// count returns how many calls start with prefix.
func (l *callLog) count(prefix string) int {
	n := 0
	for _, c := range l.all() {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

// labeler names the certificates of a fixture in call logs.
type labeler func(*x509.Certificate) string

type fakeCA struct {
	ca    *localca.CA
	log   *callLog
	err   error
	other *localca.CA // if set, signs with this CA instead: the wrong CA
}

func (f *fakeCA) Sign(ctx context.Context, csr []byte) ([]*x509.Certificate, error) {
	f.log.add("ca.Sign")
	if f.err != nil {
		return nil, f.err
	}
	if f.other != nil {
		return f.other.SignCSR(csr)
	}
	return f.ca.SignCSR(csr)
}

// fakeReceiver accepts a chain that verifies to one of its roots at the
// fixed clock and whose leaf it accepts. It implements ReceiverInspector.
type fakeReceiver struct {
	mu       sync.Mutex
	roots    []*x509.Certificate
	accepted []*x509.Certificate
	log      *callLog
	label    labeler
	// ignoreAccept makes AcceptClient do nothing: a receiver whose
	// administrator forgot the mapping.
	ignoreAccept bool
}

func (f *fakeReceiver) TrustRoot(ctx context.Context, root *x509.Certificate) error {
	f.log.add("rcv.TrustRoot %s", f.label(root))
	f.mu.Lock()
	defer f.mu.Unlock()
	if !contains(f.roots, root) {
		f.roots = append(f.roots, root)
	}
	return nil
}

func (f *fakeReceiver) AcceptClient(ctx context.Context, c []*x509.Certificate) error {
	f.log.add("rcv.AcceptClient %s", f.label(c[0]))
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.ignoreAccept && !contains(f.accepted, c[0]) {
		f.accepted = append(f.accepted, c[0])
	}
	return nil
}

func (f *fakeReceiver) RemoveClient(ctx context.Context, leaf *x509.Certificate) error {
	f.log.add("rcv.RemoveClient %s", f.label(leaf))
	f.mu.Lock()
	defer f.mu.Unlock()
	f.accepted = slices.DeleteFunc(f.accepted, func(c *x509.Certificate) bool { return sameCert(c, leaf) })
	return nil
}

func (f *fakeReceiver) RemoveRoot(ctx context.Context, root *x509.Certificate) error {
	f.log.add("rcv.RemoveRoot %s", f.label(root))
	f.mu.Lock()
	defer f.mu.Unlock()
	f.roots = slices.DeleteFunc(f.roots, func(c *x509.Certificate) bool { return sameCert(c, root) })
	return nil
}

func (f *fakeReceiver) Accepts(ctx context.Context, c []*x509.Certificate) error {
	f.log.add("rcv.Accepts %s", f.label(c[0]))
	f.mu.Lock()
	defer f.mu.Unlock()
	return acceptsChain(f.roots, f.accepted, c)
}

func (f *fakeReceiver) Roots() ([]*x509.Certificate, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.roots), nil
}

func (f *fakeReceiver) AcceptedClients() ([]*x509.Certificate, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.accepted), nil
}

// acceptsChain is the fakes' verdict: the chain verifies to a root at the
// fixed clock and its leaf is accepted.
func acceptsChain(roots, accepted, c []*x509.Certificate) error {
	if len(accepted) == 0 {
		return errors.New("fake receiver: accepts no client certificate")
	}
	r := &chain.Receiver{Roots: roots, Pinned: accepted, Time: testpki.Now}
	_, err := r.Verify(c)
	return err
}

// blindReceiver hides the inspector methods of the receiver it wraps.
type blindReceiver struct{ Receiver }

// fakeRuntime's nodes present the live keystore's certificate from their
// last (re)start.
type fakeRuntime struct {
	mu       sync.Mutex
	names    []string
	presents map[string]*x509.Certificate
	skip     map[string]bool // Restart does nothing on these
	log      *callLog
	label    labeler
	tenant   *Tenant
}

func (f *fakeRuntime) Nodes(ctx context.Context) ([]string, error) {
	return slices.Clone(f.names), nil
}

func (f *fakeRuntime) Stop(ctx context.Context, n string) error {
	f.log.add("rt.Stop %s", n)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.presents[n] = nil
	return nil
}

func (f *fakeRuntime) Start(ctx context.Context, n string) error {
	f.log.add("rt.Start %s", n)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.presents[n] != nil {
		return nil
	}
	return f.load(n)
}

func (f *fakeRuntime) Restart(ctx context.Context, n string) error {
	f.log.add("rt.Restart %s", n)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.skip[n] {
		return nil
	}
	return f.load(n)
}

func (f *fakeRuntime) load(n string) error {
	c, err := f.tenant.LiveChain()
	if err != nil {
		return err
	}
	f.presents[n] = c[0]
	return nil
}

func (f *fakeRuntime) Presents(ctx context.Context, n string) (*x509.Certificate, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.presents[n]
	if !ok {
		return nil, fmt.Errorf("fake runtime: no node %q", n)
	}
	return c, nil
}

type fakeNotifier struct {
	mu       sync.Mutex
	log      *callLog
	messages map[StepID]string
	waits    map[StepID]time.Duration
	err      error
	// after, if set, runs after each hand-off.
	after func(s Step)
}

func (f *fakeNotifier) HandOff(ctx context.Context, s Step, msg string, wait time.Duration) error {
	f.log.add("notify %d %s", s.Number, s.ID)
	f.mu.Lock()
	f.messages[s.ID] = msg
	f.waits[s.ID] = wait
	err := f.err
	f.mu.Unlock()
	if f.after != nil {
		f.after(s)
	}
	return err
}

// identity is a key and the chain it presents.
type identity struct {
	key   crypto.Signer
	chain []*x509.Certificate
}

func issue(t testing.TB, ca *localca.CA, cn string, kt keystore.KeyType) identity {
	t.Helper()
	key, err := keystore.GenerateKey(kt, nil)
	require.NoError(t, err)
	c, err := ca.Issue(cn, key.Public())
	require.NoError(t, err)
	return identity{key: key, chain: c}
}

func newLocalCA(t testing.TB, name string) *localca.CA {
	t.Helper()
	ca, err := localca.New(name, clock, nil)
	require.NoError(t, err)
	return ca
}

// fixture is a tenant with a live keystore (the client entry under
// liveAlias, signed by the old CA, plus an unrelated key entry and a
// trusted entry), a receiver that trusts the old root and accepts the old
// certificate, three nodes presenting it, and a plan to move to the new
// CA.
type fixture struct {
	dir          string
	oldCA, newCA *localca.CA
	partnerCA    *localca.CA
	old, partner identity
	tenant       *Tenant
	plan         *Plan
	calls        *callLog
	ca           *fakeCA
	rcv          *fakeReceiver
	rt           *fakeRuntime
	nt           *fakeNotifier
	exec         *Executor
	events       []Event
	liveBefore   []byte
}

type fixtureOpt func(*fixtureConfig)

type fixtureConfig struct {
	format  keystore.Format
	keyType keystore.KeyType
	keyPass []byte
}

func withFormat(f keystore.Format) fixtureOpt      { return func(c *fixtureConfig) { c.format = f } }
func withKeyPassword(p []byte) fixtureOpt          { return func(c *fixtureConfig) { c.keyPass = p } }
func withOldKeyType(k keystore.KeyType) fixtureOpt { return func(c *fixtureConfig) { c.keyType = k } }

func newFixture(t testing.TB, seq Sequence, opts ...fixtureOpt) *fixture {
	t.Helper()
	cfg := fixtureConfig{format: keystore.PKCS12, keyType: keystore.ECDSAP256}
	for _, o := range opts {
		o(&cfg)
	}
	f := &fixture{dir: t.TempDir(), calls: &callLog{}}
	f.oldCA = newLocalCA(t, "Old Root CA")
	f.newCA = newLocalCA(t, "New Root CA")
	f.partnerCA = newLocalCA(t, "Partner CA")
	f.old = issue(t, f.oldCA, "tenant-client", cfg.keyType)
	f.partner = issue(t, f.partnerCA, "partner-client", keystore.ECDSAP256)

	live := filepath.Join(f.dir, "client.p12")
	if cfg.format == keystore.JKS {
		live = filepath.Join(f.dir, "client.jks")
	}
	kopts := &keystore.StoreOptions{Now: clock}
	if cfg.keyPass != nil {
		kopts.KeyPasswords = map[string][]byte{liveAlias: cfg.keyPass}
	}
	ks := keystore.New(cfg.format, kopts)
	require.NoError(t, ks.Set(&keystore.Entry{Alias: "partner", Key: f.partner.key, Chain: f.partner.chain}, nil))
	require.NoError(t, ks.Set(&keystore.Entry{Alias: liveAlias, Key: f.old.key, Chain: f.old.chain}, nil))
	require.NoError(t, ks.Set(&keystore.Entry{Alias: "partner-root", Chain: []*x509.Certificate{f.partnerCA.Cert}}, nil))
	require.NoError(t, ks.Save(live, livePassword, nil))
	var err error
	f.liveBefore, err = os.ReadFile(live)
	require.NoError(t, err)

	f.tenant = &Tenant{
		Keystore: live, Password: livePassword, KeyPassword: cfg.keyPass, Alias: liveAlias,
		StagingPassword: stagingPassword, HistoryPassword: historyPassword,
		Now: clock,
	}
	p := Params{
		Alias:              liveAlias,
		Keystore:           live,
		Nodes:              []string{"node-a", "node-b", "node-c"},
		OldFingerprint:     keystore.CertFingerprint(f.old.chain[0]).Hex(),
		OldRootSubject:     f.oldCA.Cert.Subject.String(),
		OldRootFingerprint: keystore.CertFingerprint(f.oldCA.Cert).Hex(),
		NewRootSubject:     f.newCA.Cert.Subject.String(),
		NewRootFingerprint: keystore.CertFingerprint(f.newCA.Cert).Hex(),
		Window:             Window{Start: testpki.Now.Add(-time.Hour), End: testpki.Now.Add(time.Hour), Description: "test window"},
	}
	f.plan, err = Build(seq, p)
	require.NoError(t, err)

	f.ca = &fakeCA{ca: f.newCA, log: f.calls}
	f.rcv = &fakeReceiver{roots: []*x509.Certificate{f.oldCA.Cert}, accepted: []*x509.Certificate{f.old.chain[0]}, log: f.calls, label: f.label}
	f.rt = &fakeRuntime{names: []string{"node-a", "node-b", "node-c"}, presents: map[string]*x509.Certificate{},
		skip: map[string]bool{}, log: f.calls, label: f.label, tenant: f.tenant}
	for _, n := range f.rt.names {
		f.rt.presents[n] = f.old.chain[0]
	}
	f.nt = &fakeNotifier{log: f.calls, messages: map[StepID]string{}, waits: map[StepID]time.Duration{}}
	f.exec = &Executor{
		Plan: f.plan, Tenant: f.tenant, Journal: filepath.Join(f.dir, "renewal.journal.json"),
		CA: f.ca, Receiver: f.rcv, Runtime: f.rt, Notifier: f.nt,
		HandOverDir: filepath.Join(f.dir, "handover"),
		OnEvent:     func(e Event) { f.events = append(f.events, e) },
	}
	require.NoError(t, os.Mkdir(f.exec.HandOverDir, 0o755))
	return f
}

// label names a certificate of the fixture.
func (f *fixture) label(c *x509.Certificate) string {
	switch {
	case c == nil:
		return "nil"
	case sameCert(c, f.old.chain[0]):
		return "old-leaf"
	case sameCert(c, f.oldCA.Cert):
		return "old-root"
	case sameCert(c, f.newCA.Cert):
		return "new-root"
	case c.CheckSignatureFrom(f.newCA.Cert) == nil:
		return "new-leaf"
	case c.CheckSignatureFrom(f.oldCA.Cert) == nil:
		return "other-old-leaf"
	}
	return "unknown:" + c.Subject.CommonName
}

// mutations returns the calls that change something (not Accepts).
func (f *fixture) mutations() []string {
	var out []string
	for _, c := range f.calls.all() {
		if !strings.HasPrefix(c, "rcv.Accepts") {
			out = append(out, c)
		}
	}
	return out
}

// files returns every file under the fixture's directory with its
// content, for byte-for-byte comparisons.
func (f *fixture) files(t testing.TB) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(f.dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		out[p] = b
		return err
	})
	require.NoError(t, err)
	return out
}

func fileNames(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, filepath.Base(k))
	}
	sort.Strings(out)
	return out
}

// liveEntry returns the entry under alias in the live keystore.
func (f *fixture) liveEntry(t testing.TB, alias string) *keystore.Entry {
	t.Helper()
	var opts keystore.StoreOptions
	if f.tenant.KeyPassword != nil {
		opts.KeyPasswords = map[string][]byte{liveAlias: f.tenant.KeyPassword}
	}
	ks, err := keystore.Open(f.tenant.Keystore, livePassword, &opts)
	require.NoError(t, err)
	e, err := ks.Entry(alias)
	require.NoError(t, err)
	return e
}

// journal reads the fixture's journal.
func (f *fixture) journal(t testing.TB) *journalFile {
	t.Helper()
	j, err := readJournal(f.exec.Journal)
	require.NoError(t, err)
	return j
}

// newLeaf returns the new certificate the journal records.
func (f *fixture) newLeaf(t testing.TB) *x509.Certificate {
	t.Helper()
	c, err := decodeChain(f.journal(t).Artifacts.NewChain, "new chain")
	require.NoError(t, err)
	return c[0]
}

// eventKinds returns "kind id" for each event.
func (f *fixture) eventKinds() []string {
	var out []string
	for _, e := range f.events {
		out = append(out, fmt.Sprintf("%s %s", e.Kind, e.Step.ID))
	}
	return out
}

func sameBytes(a, b []byte) bool { return bytes.Equal(a, b) }

func rsa1024(t testing.TB) crypto.PublicKey {
	t.Helper()
	return testpki.NewKey(t, testpki.KeyRSA1024).Public()
}
