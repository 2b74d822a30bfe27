package handoff_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certroll/certroll/chain"
	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal"
	"github.com/certroll/certroll/renewal/handoff"
	"github.com/certroll/certroll/renewal/local"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// needProgram returns the program's path. Without it the test fails in CI
// (the CI environment variable is set) with the line that installs it,
// and is skipped elsewhere.
func needProgram(t *testing.T, name, aptPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		msg := "handoff: " + name + " not found: install it: apt-get install -y " + aptPackage
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

// runCmd runs a command with a timeout and fails the test with its output.
func runCmd(t *testing.T, argv ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	require.NoError(t, err, "%s: %s", strings.Join(argv, " "), out)
}

var password = []byte("changeit")

// landscape is a tenant, the embedded receiver and runtime of
// renewal/local, an executor whose CA is a hand-off CA, and the new CA
// kept on disk (ca.pem, ca.key) for openssl to sign with by hand.
type landscape struct {
	dir, handover, caDir string
	newCA                *local.CA
	live                 string
	liveBefore           []byte
	exec                 *renewal.Executor
	notes                *bytes.Buffer
}

func newLandscape(t *testing.T) *landscape {
	t.Helper()
	ctx := context.Background()
	l := &landscape{dir: t.TempDir(), notes: &bytes.Buffer{}}
	l.handover = filepath.Join(l.dir, "handover")
	l.caDir = filepath.Join(l.dir, "new-ca")
	require.NoError(t, os.Mkdir(l.handover, 0o755))
	oldCA, err := local.NewCA(local.CAConfig{Name: "Old Root CA"})
	require.NoError(t, err)
	l.newCA, err = local.NewCA(local.CAConfig{Name: "New Root CA", Dir: l.caDir})
	require.NoError(t, err)
	key, err := keystore.GenerateKey(keystore.ECDSAP256, nil)
	require.NoError(t, err)
	oldChain, err := oldCA.Issue("tenant-client", key.Public())
	require.NoError(t, err)

	l.live = filepath.Join(l.dir, "tenant.p12")
	ks := keystore.New(keystore.PKCS12, nil)
	require.NoError(t, ks.Set(&keystore.Entry{Alias: "client", Key: key, Chain: oldChain}, nil))
	require.NoError(t, ks.Save(l.live, password, nil))
	l.liveBefore, err = os.ReadFile(l.live)
	require.NoError(t, err)

	rcv, err := local.NewReceiver(local.ReceiverConfig{
		Truststore: filepath.Join(l.dir, "receiver.jks"), TruststorePassword: password,
		Accepted: filepath.Join(l.dir, "accepted.pem"),
	})
	require.NoError(t, err)
	_, err = rcv.Start()
	require.NoError(t, err)
	t.Cleanup(func() { rcv.Close() })
	require.NoError(t, rcv.TrustRoot(ctx, oldCA.Root()))
	require.NoError(t, rcv.AcceptClient(ctx, oldChain))
	rt, err := local.NewRuntime(local.RuntimeConfig{Nodes: 2, Keystore: l.live, KeystorePassword: password, Alias: "client", Receiver: rcv})
	require.NoError(t, err)
	require.NoError(t, rt.StartAll(ctx))
	names, err := rt.Nodes(ctx)
	require.NoError(t, err)

	plan, err := renewal.Build(renewal.SequenceOverlap, renewal.Params{
		Alias: "client", Keystore: l.live, Nodes: names,
		OldFingerprint:     keystore.CertFingerprint(oldChain[0]).Hex(),
		OldRootSubject:     oldCA.Root().Subject.String(),
		OldRootFingerprint: keystore.CertFingerprint(oldCA.Root()).Hex(),
		NewRootSubject:     l.newCA.Root().Subject.String(),
		NewRootFingerprint: keystore.CertFingerprint(l.newCA.Root()).Hex(),
	})
	require.NoError(t, err)
	l.exec = &renewal.Executor{
		Plan:     plan,
		Tenant:   &renewal.Tenant{Keystore: l.live, Password: password, Alias: "client"},
		Journal:  filepath.Join(l.dir, "renewal.journal.json"),
		CA:       &handoff.CA{Dir: l.handover},
		Receiver: rcv, Runtime: rt,
		Notifier: &local.Notifier{W: l.notes},
	}
	return l
}

// stagedKey returns the public key fingerprint of the pending key.
func (l *landscape) stagedKey(t *testing.T) keystore.Fingerprint {
	t.Helper()
	p, err := l.exec.Tenant.Pending()
	require.NoError(t, err)
	require.NotNil(t, p, "a key is staged")
	return keystore.KeyFingerprint(p.Key.Public())
}

// opensslSign signs the request at csr with the new CA's key on disk, as
// the CA's administrator would, and returns the certificate's PEM path.
func (l *landscape) opensslSign(t *testing.T, openssl, csr string) string {
	t.Helper()
	ext := filepath.Join(l.dir, "client.ext")
	require.NoError(t, os.WriteFile(ext, []byte("keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n"), 0o644))
	out := filepath.Join(l.dir, "signed-"+filepath.Base(csr)+".pem")
	runCmd(t, openssl, "x509", "-req", "-in", csr,
		"-CA", filepath.Join(l.caDir, "ca.pem"), "-CAkey", filepath.Join(l.caDir, "ca.key"),
		"-days", "30", "-extfile", ext, "-out", out)
	return out
}

func TestHandOffRenewalWithOpenSSL(t *testing.T) {
	openssl := needProgram(t, "openssl", "openssl")
	ctx := context.Background()
	l := newLandscape(t)

	// Run 1: the request goes into the folder; the run waits.
	res, err := l.exec.Run(ctx)
	require.ErrorIs(t, err, renewal.ErrAwaitingReply)
	var w *renewal.AwaitingReplyError
	require.ErrorAs(t, err, &w)
	assert.Equal(t, l.handover, filepath.Dir(w.Request))
	assert.Equal(t, l.handover, filepath.Dir(w.Reply))
	assert.Contains(t, err.Error(), "waiting for the CA's reply: put it at "+`"`+w.Reply+`"`)
	require.NotNil(t, res)
	assert.Equal(t, renewal.StatusWaiting, res.State)
	assert.Equal(t, renewal.StatusWaiting, res.Step(renewal.StepGenerateKey).Status)
	assert.Equal(t, renewal.StatusPending, res.Step(renewal.StepHandOverCertificate).Status)
	assert.Contains(t, res.Step(renewal.StepGenerateKey).Note, w.Reply)
	assert.Empty(t, res.Step(renewal.StepGenerateKey).Error, "waiting is not a failure")
	fi, err := os.Stat(w.Request)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), fi.Mode().Perm())
	csrPEM, err := os.ReadFile(w.Request)
	require.NoError(t, err)
	csr, err := keystore.ParseCSR(csrPEM)
	require.NoError(t, err)
	key1 := l.stagedKey(t)
	assert.Equal(t, key1, keystore.KeyFingerprint(csr.PublicKey), "the request is for the staged key")
	assert.NoFileExists(t, w.Reply)
	// The tenant administrator is told where the reply goes, once.
	told := l.notes.String()
	assert.Contains(t, told, "tenant administrator")
	assert.Contains(t, told, "waiting for the CA's reply: put it at")
	assert.Contains(t, told, w.Reply)
	assert.Contains(t, told, w.Request)
	live, err := os.ReadFile(l.live)
	require.NoError(t, err)
	assert.Equal(t, l.liveBefore, live, "the live keystore is untouched")
	jr, err := renewal.ReadJournal(l.exec.Journal)
	require.NoError(t, err)
	assert.Equal(t, renewal.StatusWaiting, jr.State, "the journal says waiting")

	// Run 2, no reply yet: the same waiting result, the same request file
	// (not written again), the same key, nobody told again.
	res, err = l.exec.Run(ctx)
	var w2 *renewal.AwaitingReplyError
	require.ErrorAs(t, err, &w2)
	assert.Equal(t, *w, *w2)
	assert.Equal(t, renewal.StatusWaiting, res.State)
	again, err := os.ReadFile(w.Request)
	require.NoError(t, err)
	assert.Equal(t, csrPEM, again, "the request is not written again")
	assert.Equal(t, key1, l.stagedKey(t), "no second key")
	assert.Equal(t, told, l.notes.String(), "told once")

	// Run 3: a reply to another request (another key) is refused, and
	// the staging store is left as it was.
	otherKey, err := keystore.GenerateKey(keystore.ECDSAP256, nil)
	require.NoError(t, err)
	otherCSR, err := keystore.RenewalCSR(otherKey, csr2cert(t, csr))
	require.NoError(t, err)
	otherPath := filepath.Join(l.dir, "other.csr")
	require.NoError(t, os.WriteFile(otherPath, otherCSR, 0o644))
	require.NoError(t, os.Rename(l.opensslSign(t, openssl, otherPath), w.Reply))
	staging := l.exec.Tenant.Keystore + ".staging"
	stagingBefore, err := os.ReadFile(staging)
	require.NoError(t, err)
	_, err = l.exec.Run(ctx)
	var re *handoff.ReplyError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, w.Reply, re.Path)
	assert.Contains(t, err.Error(), "answers another request")
	stagingAfter, err := os.ReadFile(staging)
	require.NoError(t, err)
	assert.Equal(t, stagingBefore, stagingAfter, "the staging store is untouched")
	assert.Equal(t, key1, l.stagedKey(t))

	// Run 4: the CA's reply to our request, signed by openssl, as PKCS#7
	// DER with the root before the leaf.
	leafPEM := l.opensslSign(t, openssl, w.Request)
	p7 := filepath.Join(l.dir, "reply.p7b")
	runCmd(t, openssl, "crl2pkcs7", "-nocrl", "-certfile", filepath.Join(l.caDir, "ca.pem"), "-certfile", leafPEM, "-outform", "DER", "-out", p7)
	require.NoError(t, os.Rename(p7, w.Reply))
	res, err = l.exec.Run(ctx)
	require.NoError(t, err)
	assert.Equal(t, renewal.StatusDone, res.State)
	assert.Equal(t, 4, res.Step(renewal.StepGenerateKey).Attempts)

	ks, err := keystore.Open(l.live, password, nil)
	require.NoError(t, err)
	e, err := ks.Entry("client")
	require.NoError(t, err)
	assert.Equal(t, key1, keystore.KeyFingerprint(e.Key.Public()), "the key staged in run 1 is the one activated")
	signed, err := os.ReadFile(leafPEM)
	require.NoError(t, err)
	b, _ := pem.Decode(signed)
	require.NotNil(t, b)
	assert.Equal(t, b.Bytes, e.Leaf().Raw, "the live alias holds openssl's certificate")
	assert.Equal(t, "CN=tenant-client -> CN=New Root CA", chain.Path(e.Chain))
}

// csr2cert makes a certificate carrying the request's subject, as the
// current certificate RenewalCSR copies it from.
func csr2cert(t *testing.T, csr *x509.CertificateRequest) *x509.Certificate {
	t.Helper()
	return &x509.Certificate{Subject: csr.Subject, RawSubject: csr.RawSubject}
}
