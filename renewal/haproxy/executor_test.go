//go:build unix

package haproxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certroll/certroll/internal/testpki"
	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal"
	"github.com/certroll/certroll/renewal/internal/trustfiles"
	"github.com/certroll/certroll/renewal/local"
	"github.com/certroll/certroll/renewal/probe"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runtimeAPIReceiver is the receiver this package refuses to be: it
// changes HAProxy through the runtime API on the stats socket instead of
// writing the CA file and reloading. TrustRoot replaces the CA file's
// content in memory (set ssl ca-file, commit ssl ca-file) and writes
// nothing to disk; AcceptClient writes the ACL file without a reload and
// adds the pattern in memory (add acl). Its model of HAProxy (Accepts,
// Roots) counts the roots it set, so the files' fast answer says yes; the
// probe, a real handshake, is the verdict.
type runtimeAPIReceiver struct {
	*Receiver
	admin string // the stats socket
	acl   *trustfiles.Files

	mu    sync.Mutex
	roots []*x509.Certificate // set through the runtime API
}

func newRuntimeAPIReceiver(l *landscape) *runtimeAPIReceiver {
	return &runtimeAPIReceiver{
		Receiver: l.rcv, admin: filepath.Join(l.dir, "admin.sock"),
		acl: &trustfiles.Files{Prefix: "haproxy", List: l.aclFile(), ListFormat: trustfiles.HAProxyACL},
	}
}

// command sends one runtime API command and returns HAProxy's answer.
func (r *runtimeAPIReceiver) command(ctx context.Context, cmd string) (string, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", r.admin)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.Write([]byte(cmd)); err != nil {
		return "", err
	}
	var b strings.Builder
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		b.WriteString(sc.Text() + "\n")
	}
	return b.String(), sc.Err()
}

func (r *runtimeAPIReceiver) allRoots() ([]*x509.Certificate, error) {
	roots, err := r.Receiver.Roots()
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return append(roots, r.roots...), nil
}

func (r *runtimeAPIReceiver) TrustRoot(ctx context.Context, root *x509.Certificate) error {
	roots, err := r.allRoots()
	if err != nil {
		return err
	}
	ca := r.cfg.CAFile
	out, err := r.command(ctx, "set ssl ca-file "+ca+" <<\n"+string(testpki.PEM(append(roots, root)...))+"\n")
	if err != nil || !strings.Contains(out, "transaction created") {
		return fmt.Errorf("set ssl ca-file: %q: %v", out, err)
	}
	out, err = r.command(ctx, "commit ssl ca-file "+ca+"\n")
	if err != nil || !strings.Contains(out, "Success") {
		return fmt.Errorf("commit ssl ca-file: %q: %v", out, err)
	}
	r.mu.Lock()
	r.roots = append(r.roots, root)
	r.mu.Unlock()
	return nil
}

func (r *runtimeAPIReceiver) AcceptClient(ctx context.Context, chain []*x509.Certificate) error {
	if err := r.acl.Apply(ctx, r.acl.AcceptEdit(chain[0])); err != nil {
		return err
	}
	out, err := r.command(ctx, "add acl "+r.cfg.PinnedACL+" "+trustfiles.HAProxyACL.Key(chain[0])+"\n")
	if err != nil || strings.TrimSpace(out) != "" {
		return fmt.Errorf("add acl: %q: %v", out, err)
	}
	return nil
}

// Accepts is the model's answer: chain verifies to a root of the file or
// one set at run time, and its leaf is pinned.
func (r *runtimeAPIReceiver) Accepts(ctx context.Context, chain []*x509.Certificate) error {
	roots, err := r.allRoots()
	if err != nil {
		return err
	}
	if _, err := chain[0].Verify(x509.VerifyOptions{Roots: testpki.Pool(roots...), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return err
	}
	return r.acl.Accepts(chain)
}

func (r *runtimeAPIReceiver) Roots() ([]*x509.Certificate, error) { return r.allRoots() }

// fakeRuntime is a runtime whose nodes read the live keystore when they
// start and present its certificate until they are restarted, as the
// runtime's cached SSL context does. It counts starts.
type fakeRuntime struct {
	keystore string
	password []byte
	names    []string

	mu       sync.Mutex
	presents map[string]*x509.Certificate
	starts   int
}

func newFakeRuntime(t *testing.T, ks string, password []byte, nodes ...string) *fakeRuntime {
	t.Helper()
	r := &fakeRuntime{keystore: ks, password: password, names: nodes, presents: map[string]*x509.Certificate{}}
	for _, n := range nodes {
		require.NoError(t, r.Start(context.Background(), n))
	}
	r.starts = 0 // the landscape's own start is not the renewal's
	return r
}

func (r *fakeRuntime) Nodes(context.Context) ([]string, error) {
	return append([]string(nil), r.names...), nil
}

func (r *fakeRuntime) Stop(_ context.Context, n string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.presents[n] = nil
	return nil
}

func (r *fakeRuntime) Start(_ context.Context, n string) error {
	ks, err := keystore.Open(r.keystore, r.password, nil)
	if err != nil {
		return err
	}
	e, err := ks.Entry("client")
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.presents[n] = e.Leaf()
	r.starts++
	return nil
}

func (r *fakeRuntime) Restart(ctx context.Context, n string) error {
	if err := r.Stop(ctx, n); err != nil {
		return err
	}
	return r.Start(ctx, n)
}

func (r *fakeRuntime) Presents(_ context.Context, n string) (*x509.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.presents[n]
	if !ok {
		return nil, fmt.Errorf("fake runtime: no node %q", n)
	}
	return c, nil
}

func (r *fakeRuntime) startCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.starts
}

// TestExecutorStopsAtRuntimeAPI is the HAProxy 2.6 measurement as
// a renewal: step 3 done through the runtime API makes HAProxy verify the
// new root without advertising its name, so a Java client would present
// no certificate. The probe gate before the swap (step 5) must stop the
// run, naming the missing CA name, before anything destructive: the live
// keystore is byte for byte as it was and no node was restarted. After the
// CA file is written and HAProxy reloaded (the real receiver's TrustRoot),
// a second run completes.
func TestExecutorStopsAtRuntimeAPI(t *testing.T) {
	t.Parallel()
	l := startHAProxy(t)
	ctx := context.Background()
	password := []byte("changeit")
	live := filepath.Join(l.dir, "tenant.p12")
	ks := keystore.New(keystore.PKCS12, nil)
	require.NoError(t, ks.Set(&keystore.Entry{Alias: "client", Key: l.oldClient.Key, Chain: chainOf(l.oldClient, l.oldRoot)}, nil))
	require.NoError(t, ks.Save(live, password, nil))
	liveBefore := readFile(t, live)
	caBefore := readFile(t, l.caFile())

	ca, err := local.NewCA(local.CAConfig{Name: "New Tenant Root"})
	require.NoError(t, err)
	rt := newFakeRuntime(t, live, password, "node-1", "node-2")
	plan, err := renewal.Build(renewal.SequenceOverlap, renewal.Params{
		Alias: "client", Keystore: live, KeystoreFormat: "PKCS12", Truststore: l.caFile(),
		Nodes:              []string{"node-1", "node-2"},
		OldFingerprint:     keystore.CertFingerprint(l.oldClient.Cert).Hex(),
		OldRootSubject:     l.oldRoot.Cert.Subject.String(),
		OldRootFingerprint: keystore.CertFingerprint(l.oldRoot.Cert).Hex(),
		NewRootSubject:     ca.Root().Subject.String(),
		NewRootFingerprint: keystore.CertFingerprint(ca.Root()).Hex(),
	})
	require.NoError(t, err)
	x := &renewal.Executor{
		Plan:     plan,
		Tenant:   &renewal.Tenant{Keystore: live, Password: password, Alias: "client"},
		Journal:  filepath.Join(l.dir, "renewal.json"),
		CA:       ca,
		Receiver: newRuntimeAPIReceiver(l),
		Runtime:  rt,
		Notifier: &local.Notifier{W: &bytes.Buffer{}},
	}

	_, err = x.Run(ctx)
	require.Error(t, err)
	t.Logf("the first run: %v", err)
	assert.ErrorIs(t, err, renewal.ErrGateFailed)
	assert.ErrorIs(t, err, probe.ErrNotAdvertised, "the verdict is the probe's: %v", err)
	var ge *renewal.GateError
	require.ErrorAs(t, err, &ge)
	assert.Equal(t, renewal.StepSwapEntry, ge.Step.ID, "the gate before the swap stopped the run")
	var pe *probe.Error
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, ca.Root().Raw, pe.Missing.Raw, "the missing name is the new root's")
	assert.Contains(t, err.Error(), "not CN=New Tenant Root", "the error names the missing CA name")
	assert.Equal(t, []string{l.oldRoot.Cert.Subject.String()}, l.advertised(t), "HAProxy still advertises the old root only")

	// Nothing destructive has happened.
	assert.Equal(t, liveBefore, readFile(t, live), "the live keystore is byte for byte as it was")
	assert.Zero(t, rt.startCount(), "no node was restarted")
	for _, n := range []string{"node-1", "node-2"} {
		c, err := rt.Presents(ctx, n)
		require.NoError(t, err)
		assert.Equal(t, l.oldClient.Cert.Raw, c.Raw, "%s presents the old certificate", n)
	}
	assert.Equal(t, caBefore, readFile(t, l.caFile()), "the runtime API left the CA file as it was")
	j, err := renewal.ReadJournal(x.Journal)
	require.NoError(t, err)
	assert.Equal(t, renewal.StatusFailed, j.State)
	s5 := j.Steps[4]
	assert.Equal(t, renewal.StepSwapEntry, s5.ID)
	assert.Equal(t, renewal.StatusFailed, s5.Status)
	require.NotNil(t, s5.Gate, "the journal records the gate")
	assert.False(t, s5.Gate.Passed)
	assert.Contains(t, strings.Join(s5.Gate.Problems, "\n"), "not CN=New Tenant Root")
	for _, s := range j.Steps[:4] {
		assert.Equal(t, renewal.StatusDone, s.Status, "step %d", s.Number)
	}
	for _, s := range j.Steps[5:] {
		assert.Equal(t, renewal.StatusPending, s.Status, "step %d", s.Number)
	}

	// The administrator does it the way this package does: write the CA
	// file and reload; HAProxy then advertises both roots, and the second
	// run, with the real receiver, completes.
	require.NoError(t, l.rcv.TrustRoot(ctx, ca.Root()))
	assert.ElementsMatch(t, []string{l.oldRoot.Cert.Subject.String(), ca.Root().Subject.String()}, l.advertised(t))
	x.Receiver = l.rcv
	res, err := x.Run(ctx)
	require.NoError(t, err)
	assert.Equal(t, renewal.StatusDone, res.State)
	assert.Equal(t, 2, rt.startCount(), "each node restarted once")
	assert.Equal(t, []string{ca.Root().Subject.String()}, l.advertised(t), "the old root is gone")
	_, err = l.get(l.oldClient)
	assert.Error(t, err, "HAProxy refuses the old client's handshake")
	assert.NotContains(t, string(readFile(t, l.aclFile())), strings.ToUpper(sha1Hex(l.oldClient.Cert)), "the hand-written old pin is gone")
}
