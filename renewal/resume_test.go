package renewal

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/certroll/certroll/chain"
	"github.com/certroll/certroll/internal/localca"
	"github.com/certroll/certroll/keystore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The kill-and-resume test runs the test binary as a child process that
// performs a renewal and ends itself with os.Exit at a chosen point of a
// chosen step: once the journal records the step as started (destructive
// steps), once its action is done but before the journal records it, and
// once the journal records it as done. The parent then resumes the
// renewal and checks that the end state is that of an uninterrupted run
// and that no destructive call was made twice. Everything the child
// changes lives in files: the tenant's keystores, the journal, and the
// file-backed fakes below, which also log every call to a file.

const (
	envResumeDir  = "CERTROLL_RESUME_DIR"
	envResumeKill = "CERTROLL_RESUME_KILL" // "<step id>:<hook point>"
	killedCode    = 75
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(envResumeDir); dir != "" {
		os.Exit(resumeChild(dir, os.Getenv(envResumeKill)))
	}
	os.Exit(m.Run())
}

// resumeChild runs the renewal of the world in dir, exiting with
// killedCode at the kill point.
func resumeChild(dir, kill string) int {
	w, err := openWorld(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	e := w.executor()
	id, point, _ := strings.Cut(kill, ":")
	e.hook = func(p string, s StepID) {
		if p == point && string(s) == id {
			os.Exit(killedCode)
		}
	}
	if _, err := e.Run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// worldFile is the world's description, written by the parent.
type worldFile struct {
	Sequence Sequence `json:"sequence"`
	Params   Params   `json:"params"`
	Live     string   `json:"live"` // file name of the live keystore
}

// world is a renewal whose every part lives in a directory.
type world struct {
	dir     string
	seq     Sequence
	params  Params
	live    string
	newCA   *localca.CA
	oldRoot *x509.Certificate
}

func openWorld(dir string) (*world, error) {
	data, err := os.ReadFile(filepath.Join(dir, "world.json"))
	if err != nil {
		return nil, err
	}
	var wf worldFile
	if err := json.Unmarshal(data, &wf); err != nil {
		return nil, err
	}
	w := &world{dir: dir, seq: wf.Sequence, params: wf.Params, live: filepath.Join(dir, wf.Live)}
	w.params.Keystore = w.live
	certs, err := readCerts(filepath.Join(dir, "newca.pem"))
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, "newca.key"))
	if err != nil {
		return nil, err
	}
	b, _ := pem.Decode(keyPEM)
	if b == nil {
		return nil, errors.New("world: newca.key holds no PEM block")
	}
	key, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, err
	}
	w.newCA = &localca.CA{Cert: certs[0], Key: key.(crypto.Signer), Now: clock}
	old, err := readCerts(filepath.Join(dir, "oldca.pem"))
	if err != nil {
		return nil, err
	}
	w.oldRoot = old[0]
	return w, nil
}

func readCerts(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return keystore.ParseCertificates(data)
}

func (w *world) tenant() *Tenant {
	return &Tenant{Keystore: w.live, Password: livePassword, Alias: liveAlias,
		StagingPassword: stagingPassword, HistoryPassword: historyPassword, Now: clock}
}

func (w *world) executor() *Executor {
	plan, err := Build(w.seq, w.params)
	if err != nil {
		panic(err) // the parent wrote valid parameters
	}
	t := w.tenant()
	return &Executor{
		Plan: plan, Tenant: t, Journal: filepath.Join(w.dir, "journal.json"),
		CA:          &fileCA{w: w},
		Receiver:    &fileReceiver{w: w},
		Runtime:     &fileRuntime{w: w, tenant: t},
		Notifier:    &fileNotifier{w: w},
		HandOverDir: w.dir,
	}
}

// call appends a line to the world's call log.
func (w *world) call(format string, args ...any) error {
	f, err := os.OpenFile(filepath.Join(w.dir, "calls.log"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(f, format+"\n", args...); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func (w *world) calls(t testing.TB) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(w.dir, "calls.log"))
	require.NoError(t, err)
	return strings.Split(strings.TrimSpace(string(data)), "\n")
}

// label names a certificate of the world.
func (w *world) label(c *x509.Certificate) string {
	switch {
	case c == nil:
		return "nil"
	case sameCert(c, w.oldRoot):
		return "old-root"
	case sameCert(c, w.newCA.Cert):
		return "new-root"
	case keystore.CertFingerprint(c).Hex() == w.params.OldFingerprint:
		return "old-leaf"
	case c.CheckSignatureFrom(w.newCA.Cert) == nil:
		return "new-leaf"
	}
	return "unknown:" + c.Subject.CommonName
}

// state files: JSON maps of PEM strings.

func (w *world) load(name string, v any) error {
	data, err := os.ReadFile(filepath.Join(w.dir, name))
	if err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

func (w *world) store(name string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(w.dir, name), data, 0o600)
}

type receiverFile struct {
	Roots    []string `json:"roots"`
	Accepted []string `json:"accepted"`
}

func pemOf(c *x509.Certificate) string { return encodeChain([]*x509.Certificate{c}) }

func parsePEMs(ss []string) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for _, s := range ss {
		c, err := keystore.ParseCertificates([]byte(s))
		if err != nil {
			return nil, err
		}
		out = append(out, c...)
	}
	return out, nil
}

// fileReceiver is a Receiver (and ReceiverInspector) kept in
// receiver.json.
type fileReceiver struct{ w *world }

func (r *fileReceiver) state() (roots, accepted []*x509.Certificate, err error) {
	var f receiverFile
	if err := r.w.load("receiver.json", &f); err != nil {
		return nil, nil, err
	}
	if roots, err = parsePEMs(f.Roots); err != nil {
		return nil, nil, err
	}
	accepted, err = parsePEMs(f.Accepted)
	return roots, accepted, err
}

func (r *fileReceiver) update(what string, c *x509.Certificate, fn func(roots, accepted []*x509.Certificate) ([]*x509.Certificate, []*x509.Certificate)) error {
	if err := r.w.call("rcv.%s %s", what, r.w.label(c)); err != nil {
		return err
	}
	roots, accepted, err := r.state()
	if err != nil {
		return err
	}
	roots, accepted = fn(roots, accepted)
	var f receiverFile
	for _, c := range roots {
		f.Roots = append(f.Roots, pemOf(c))
	}
	for _, c := range accepted {
		f.Accepted = append(f.Accepted, pemOf(c))
	}
	return r.w.store("receiver.json", &f)
}

func without(certs []*x509.Certificate, c *x509.Certificate) []*x509.Certificate {
	var out []*x509.Certificate
	for _, d := range certs {
		if !sameCert(c, d) {
			out = append(out, d)
		}
	}
	return out
}

func with(certs []*x509.Certificate, c *x509.Certificate) []*x509.Certificate {
	if contains(certs, c) {
		return certs
	}
	return append(certs, c)
}

func (r *fileReceiver) TrustRoot(ctx context.Context, root *x509.Certificate) error {
	return r.update("TrustRoot", root, func(ro, ac []*x509.Certificate) ([]*x509.Certificate, []*x509.Certificate) {
		return with(ro, root), ac
	})
}

func (r *fileReceiver) AcceptClient(ctx context.Context, c []*x509.Certificate) error {
	return r.update("AcceptClient", c[0], func(ro, ac []*x509.Certificate) ([]*x509.Certificate, []*x509.Certificate) {
		return ro, with(ac, c[0])
	})
}

func (r *fileReceiver) RemoveClient(ctx context.Context, leaf *x509.Certificate) error {
	return r.update("RemoveClient", leaf, func(ro, ac []*x509.Certificate) ([]*x509.Certificate, []*x509.Certificate) {
		return ro, without(ac, leaf)
	})
}

func (r *fileReceiver) RemoveRoot(ctx context.Context, root *x509.Certificate) error {
	return r.update("RemoveRoot", root, func(ro, ac []*x509.Certificate) ([]*x509.Certificate, []*x509.Certificate) {
		return without(ro, root), ac
	})
}

func (r *fileReceiver) Accepts(ctx context.Context, c []*x509.Certificate) error {
	roots, accepted, err := r.state()
	if err != nil {
		return err
	}
	return acceptsChain(roots, accepted, c)
}

func (r *fileReceiver) Roots() ([]*x509.Certificate, error) {
	roots, _, err := r.state()
	return roots, err
}

func (r *fileReceiver) AcceptedClients() ([]*x509.Certificate, error) {
	_, accepted, err := r.state()
	return accepted, err
}

// fileRuntime is a Runtime whose nodes' certificates are kept in
// runtime.json ("" for a stopped node).
type fileRuntime struct {
	w      *world
	tenant *Tenant
}

func (r *fileRuntime) nodes() (map[string]string, error) {
	m := map[string]string{}
	return m, r.w.load("runtime.json", &m)
}

func (r *fileRuntime) set(node, what string, load bool) error {
	if err := r.w.call("rt.%s %s", what, node); err != nil {
		return err
	}
	m, err := r.nodes()
	if err != nil {
		return err
	}
	m[node] = ""
	if load {
		c, err := r.tenant.LiveChain()
		if err != nil {
			return err
		}
		m[node] = pemOf(c[0])
	}
	return r.w.store("runtime.json", m)
}

func (r *fileRuntime) Nodes(ctx context.Context) ([]string, error) {
	return append([]string(nil), r.w.params.Nodes...), nil
}
func (r *fileRuntime) Stop(ctx context.Context, n string) error    { return r.set(n, "Stop", false) }
func (r *fileRuntime) Start(ctx context.Context, n string) error   { return r.set(n, "Start", true) }
func (r *fileRuntime) Restart(ctx context.Context, n string) error { return r.set(n, "Restart", true) }

func (r *fileRuntime) Presents(ctx context.Context, n string) (*x509.Certificate, error) {
	m, err := r.nodes()
	if err != nil {
		return nil, err
	}
	if m[n] == "" {
		return nil, nil
	}
	c, err := keystore.ParseCertificates([]byte(m[n]))
	if err != nil {
		return nil, err
	}
	return c[0], nil
}

type fileCA struct{ w *world }

func (c *fileCA) Sign(ctx context.Context, csr []byte) ([]*x509.Certificate, error) {
	if err := c.w.call("ca.Sign"); err != nil {
		return nil, err
	}
	return c.w.newCA.SignCSR(csr)
}

type fileNotifier struct{ w *world }

func (n *fileNotifier) HandOff(ctx context.Context, s Step, msg string, wait time.Duration) error {
	return n.w.call("notify %s", s.ID)
}

// makeWorld writes a world in a new directory: the overlap or downtime
// renewal of the fixture's landscape, with a PKCS#12 or JKS keystore.
func makeWorld(t *testing.T, seq Sequence, format keystore.Format) string {
	t.Helper()
	f := newFixture(t, seq, withFormat(format))
	dir := t.TempDir()
	live := filepath.Base(f.tenant.Keystore)
	data, err := os.ReadFile(f.tenant.Keystore)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, live), data, 0o600))
	key, err := x509.MarshalPKCS8PrivateKey(f.newCA.Key)
	require.NoError(t, err)
	files := map[string][]byte{
		"newca.pem": []byte(pemOf(f.newCA.Cert)),
		"newca.key": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}),
		"oldca.pem": []byte(pemOf(f.oldCA.Cert)),
	}
	wf := worldFile{Sequence: seq, Params: f.plan.Params, Live: live}
	files["world.json"], err = json.Marshal(wf)
	require.NoError(t, err)
	files["receiver.json"], err = json.Marshal(receiverFile{Roots: []string{pemOf(f.oldCA.Cert)}, Accepted: []string{pemOf(f.old.chain[0])}})
	require.NoError(t, err)
	nodes := map[string]string{}
	for _, n := range f.plan.Params.Nodes {
		nodes[n] = pemOf(f.old.chain[0])
	}
	files["runtime.json"], err = json.Marshal(nodes)
	require.NoError(t, err)
	files["calls.log"] = nil
	for name, b := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o600))
	}
	return dir
}

// copyWorld copies the world in base to a new directory.
func copyWorld(t *testing.T, base string) *world {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir(base)
	require.NoError(t, err)
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(base, e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, e.Name()), data, 0o600))
	}
	w, err := openWorld(dir)
	require.NoError(t, err)
	return w
}

// endState is what a renewal leaves behind, with certificates named by
// label, so that the states of two runs (with different new keys) compare
// equal when they are alike.
type endState struct {
	Journal        Status
	Statuses       []Status
	Live           []string // labels of the live alias's chain
	LiveKeyMatches bool
	LiveAliases    []string
	History        map[string]string // alias -> leaf label
	StagingAliases []string
	ReceiverRoots  []string
	Accepted       []string
	Nodes          map[string]string
	Files          []string       // base names
	Calls          map[string]int // calls other than hand-offs
	HandOffs       map[string]int // hand-offs by step ID
	JournalNewLeaf bool           // the journal's new certificate is the live one
}

func summarize(t *testing.T, w *world) endState {
	t.Helper()
	var s endState
	j, err := readJournal(filepath.Join(w.dir, "journal.json"))
	require.NoError(t, err)
	s.Journal = j.State
	for _, r := range j.Steps {
		s.Statuses = append(s.Statuses, r.Status)
	}
	for _, f := range j.Files {
		s.Files = append(s.Files, strings.ReplaceAll(filepath.Base(f), keystore.CertFingerprint(w.newCA.Cert).Hex()[:12], "ROOT"))
	}
	newChain, err := decodeChain(j.Artifacts.NewChain, "new chain")
	require.NoError(t, err)
	for i, f := range s.Files {
		s.Files[i] = strings.ReplaceAll(f, keystore.CertFingerprint(newChain[0]).Hex()[:12], "LEAF")
	}

	ks, err := keystore.Open(w.live, livePassword, nil)
	require.NoError(t, err)
	s.LiveAliases = ks.Aliases()
	e, err := ks.Entry(liveAlias)
	require.NoError(t, err)
	for _, c := range e.Chain {
		s.Live = append(s.Live, w.label(c))
	}
	s.LiveKeyMatches = chain.KeyMatches(e.Key.Public(), e.Chain[0])
	s.JournalNewLeaf = sameCert(e.Chain[0], newChain[0])

	tn := w.tenant()
	hist, err := keystore.Open(tn.historyPath(), historyPassword, nil)
	require.NoError(t, err)
	s.History = map[string]string{}
	for _, a := range hist.Aliases() {
		c, err := hist.Certificates(a)
		require.NoError(t, err)
		s.History[a] = w.label(c[0])
	}
	st, err := keystore.Open(tn.stagingPath(), stagingPassword, nil)
	require.NoError(t, err)
	s.StagingAliases = st.Aliases()

	rcv := &fileReceiver{w: w}
	roots, accepted, err := rcv.state()
	require.NoError(t, err)
	for _, c := range roots {
		s.ReceiverRoots = append(s.ReceiverRoots, w.label(c))
	}
	for _, c := range accepted {
		s.Accepted = append(s.Accepted, w.label(c))
	}
	sort.Strings(s.ReceiverRoots)
	sort.Strings(s.Accepted)
	rt := &fileRuntime{w: w}
	s.Nodes = map[string]string{}
	for _, n := range w.params.Nodes {
		c, err := rt.Presents(context.Background(), n)
		require.NoError(t, err)
		s.Nodes[n] = w.label(c)
	}
	s.Calls, s.HandOffs = map[string]int{}, map[string]int{}
	for _, c := range w.calls(t) {
		if id, ok := strings.CutPrefix(c, "notify "); ok {
			s.HandOffs[id]++
		} else {
			s.Calls[c]++
		}
	}
	return s
}

func runChild(t *testing.T, dir, kill string) (int, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envResumeDir+"="+dir, envResumeKill+"="+kill)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), string(out)
	}
	require.NoError(t, err, "child: %s", out)
	return 0, string(out)
}

func TestKillAndResume(t *testing.T) {
	tests := []struct {
		seq    Sequence
		format keystore.Format
	}{
		{SequenceOverlap, keystore.PKCS12},
		{SequenceDowntime, keystore.JKS},
	}
	for _, tc := range tests {
		t.Run(string(tc.seq), func(t *testing.T) {
			base := makeWorld(t, tc.seq, tc.format)

			// The reference: an uninterrupted run, in a child process too.
			ref := copyWorld(t, base)
			code, out := runChild(t, ref.dir, "")
			require.Zero(t, code, out)
			want := summarize(t, ref)
			// Sanity of the reference itself.
			assert.Equal(t, StatusDone, want.Journal)
			assert.Equal(t, []string{"new-leaf", "new-root"}, want.Live)
			assert.True(t, want.LiveKeyMatches)
			assert.True(t, want.JournalNewLeaf)
			assert.Equal(t, map[string]string{ref.tenant().historyAlias(mustOldLeaf(t, ref)): "old-leaf"}, want.History)
			assert.Empty(t, want.StagingAliases)
			assert.Equal(t, []string{"new-leaf"}, want.Accepted)
			for _, n := range ref.params.Nodes {
				assert.Equal(t, "new-leaf", want.Nodes[n])
			}
			assert.Equal(t, 1, want.Calls["ca.Sign"])
			// Both sequences end with one trusted root.
			assert.Equal(t, []string{"new-root"}, want.ReceiverRoots)
			assert.Equal(t, 1, want.Calls["rcv.RemoveRoot old-root"])
			if tc.seq == SequenceOverlap {
				assert.Equal(t, 1, want.Calls["rt.Restart node-a"])
			} else {
				assert.Equal(t, 1, want.Calls["rt.Stop node-a"])
				assert.Equal(t, 1, want.Calls["rt.Start node-a"])
			}
			assert.Equal(t, 1, want.Calls["rcv.RemoveClient old-leaf"])

			plan, err := Build(tc.seq, ref.params)
			require.NoError(t, err)
			for _, s := range plan.Steps {
				points := []string{hookActed, hookRecorded}
				if s.Destructive {
					points = append([]string{hookStarted}, points...)
				}
				for _, point := range points {
					t.Run(fmt.Sprintf("%02d-%s-%s", s.Number, s.ID, point), func(t *testing.T) {
						t.Parallel()
						w := copyWorld(t, base)
						code, out := runChild(t, w.dir, string(s.ID)+":"+point)
						require.Equal(t, killedCode, code, "the child must die at the kill point: %s", out)

						j, err := ReadJournal(filepath.Join(w.dir, "journal.json"))
						require.NoError(t, err)
						rec := j.Step(s.ID)
						switch point {
						case hookRecorded:
							assert.Equal(t, StatusDone, rec.Status)
						default:
							assert.Equal(t, StatusStarted, rec.Status, "killed before the journal recorded the step's end")
						}

						// Resume, in this process.
						res, err := w.executor().Run(context.Background())
						require.NoError(t, err)
						assert.Equal(t, StatusDone, res.State)
						got := summarize(t, w)

						// A receiver step resumed from its started
						// record makes its calls again, whatever the
						// receiver's files say (they may not be what
						// the running server does); the calls are
						// idempotent, so the end state is the same.
						for _, c := range repeatedReceiverCalls(tc.seq, s.ID, point) {
							assert.Equal(t, want.Calls[c]+1, got.Calls[c], c)
							got.Calls[c]--
						}
						// Hand-offs are not destructive: one interrupted
						// after delivery is delivered again.
						if s.Kind == KindHandOff || s.Kind == KindWait {
							if point == hookActed {
								assert.Equal(t, want.HandOffs[string(s.ID)]+1, got.HandOffs[string(s.ID)])
								got.HandOffs[string(s.ID)]--
							}
						}
						assert.Equal(t, want, got)
					})
				}
			}
		})
	}
}

func mustOldLeaf(t *testing.T, w *world) *x509.Certificate {
	t.Helper()
	ks, err := keystore.Open(filepath.Join(w.dir, filepath.Base(w.live))+".history", historyPassword, nil)
	require.NoError(t, err)
	for _, a := range ks.Aliases() {
		c, err := ks.Certificates(a)
		require.NoError(t, err)
		if keystore.CertFingerprint(c[0]).Hex() == w.params.OldFingerprint {
			return c[0]
		}
	}
	t.Fatal("no old certificate in the history store")
	return nil
}

// repeatedReceiverCalls are the receiver calls that a run resumed after
// a kill at point of step id makes once more than an uninterrupted run:
// every call of a receiver step killed after it acted, and, for the
// downtime sequence's last step killed before it acted, the removal of
// the old client certificate the swap made already.
func repeatedReceiverCalls(seq Sequence, id StepID, point string) []string {
	calls := map[StepID][]string{
		StepReceiverAcceptBoth: {"rcv.TrustRoot new-root", "rcv.AcceptClient new-leaf"},
		StepReceiverSwap:       {"rcv.TrustRoot new-root", "rcv.RemoveClient old-leaf", "rcv.AcceptClient new-leaf"},
		StepRemoveOld:          {"rcv.RemoveClient old-leaf", "rcv.RemoveRoot old-root"},
	}
	switch {
	case point == hookActed:
		return calls[id]
	case point == hookStarted && seq == SequenceDowntime && id == StepRemoveOld:
		return []string{"rcv.RemoveClient old-leaf"}
	}
	return nil
}
