package command

import (
	"context"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certroll/certroll/internal/testpki"
	"github.com/certroll/certroll/truststore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// needProgram returns the path of a real program the test runs; without it
// the test fails in CI, saying how to install it, and is skipped elsewhere.
func needProgram(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	msg := name + " not found: install it: apt-get install -y " + pkg
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func writePEM(t *testing.T, path string, der []byte) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
}

// TestReceiverWithOpenSSLCheck runs the receiver with openssl as the check
// command: "openssl verify" of the client certificate that must stay
// accepted, against the edited trust file. Removing the root it needs is
// refused by openssl and rolled back; the reload command (cp, standing for
// the server reading the file) runs only after a check that passed.
func TestReceiverWithOpenSSLCheck(t *testing.T) {
	openssl := needProgram(t, "openssl", "openssl")
	cp := needProgram(t, "cp", "coreutils")
	oldCA, newCA := testpki.NewRoot(t, "Old Root CA"), testpki.NewRoot(t, "New Root CA")
	oldChain, newChain := append(oldCA.Leaf(t, "old client").Chain, oldCA.Cert), append(newCA.Leaf(t, "new client").Chain, newCA.Cert)
	dir := t.TempDir()
	trust := filepath.Join(dir, "client-ca.pem")
	list := filepath.Join(dir, "pinned.txt")
	live := filepath.Join(dir, "live-client-ca.pem")
	mustStay := filepath.Join(dir, "must-stay.pem")
	writePEM(t, mustStay, oldChain[0].Raw)

	rcv, err := NewReceiver(Config{
		TrustFile: trust, TrustKind: truststore.PEMBundle,
		AcceptedList: list, AcceptedFormat: SHA256List,
		// -no_check_time: the test certificates are dated at a fixed clock
		Check:   []string{openssl, "verify", "-no_check_time", "-CAfile", trust, mustStay},
		Reload:  []string{cp, trust, live},
		Timeout: 30 * time.Second,
		Now:     func() time.Time { return testpki.Now },
	})
	require.NoError(t, err)
	ctx := context.Background()

	require.NoError(t, rcv.TrustRoot(ctx, oldCA.Cert))
	require.NoError(t, rcv.AcceptClient(ctx, oldChain))
	require.NoError(t, rcv.TrustRoot(ctx, newCA.Cert))
	require.NoError(t, rcv.TrustRoot(ctx, newCA.Cert), "trusting again is not an error")
	require.NoError(t, rcv.AcceptClient(ctx, newChain))
	require.NoError(t, rcv.AcceptClient(ctx, newChain), "accepting again is not an error")
	require.NoError(t, rcv.Accepts(ctx, newChain))
	require.NoError(t, rcv.Accepts(ctx, oldChain))
	trustBytes, err := os.ReadFile(trust)
	require.NoError(t, err)
	liveBytes, err := os.ReadFile(live)
	require.NoError(t, err)
	assert.Equal(t, trustBytes, liveBytes, "the reload ran after the last edit")
	listBytes, err := os.ReadFile(list)
	require.NoError(t, err)

	// openssl refuses a trust file without the old root: the edit is rolled back.
	err = rcv.RemoveRoot(ctx, oldCA.Cert)
	var rb *RolledBackError
	require.ErrorAs(t, err, &rb)
	var ce *CommandError
	require.ErrorAs(t, err, &ce)
	assert.NotZero(t, ce.ExitCode)
	assert.Contains(t, string(ce.Output), "unable to get local issuer certificate", "openssl's own complaint is in the error")
	after, _ := os.ReadFile(trust)
	assert.Equal(t, trustBytes, after, "the trust file is restored byte for byte")
	after, _ = os.ReadFile(list)
	assert.Equal(t, listBytes, after)
	after, _ = os.ReadFile(live)
	assert.Equal(t, liveBytes, after, "no reload after a failed check")

	// The certificate that must stay moves to the new chain; now the removal passes.
	writePEM(t, mustStay, newChain[0].Raw)
	require.NoError(t, rcv.RemoveClient(ctx, oldChain[0]))
	require.NoError(t, rcv.RemoveRoot(ctx, oldCA.Cert))
	require.NoError(t, rcv.RemoveRoot(ctx, oldCA.Cert), "removing again is not an error")
	require.NoError(t, rcv.RemoveClient(ctx, oldChain[0]), "removing again is not an error")
	var na *NotAcceptedError
	require.ErrorAs(t, rcv.Accepts(ctx, oldChain), &na)
	require.NoError(t, rcv.Accepts(ctx, newChain))
	roots, err := rcv.Roots()
	require.NoError(t, err)
	require.Len(t, roots, 1)
	assert.Equal(t, newCA.Cert.Raw, roots[0].Raw)
	acc, err := rcv.AcceptedClients()
	require.NoError(t, err)
	require.Len(t, acc, 1)
	assert.Equal(t, newChain[0].Raw, acc[0].Raw)

	// openssl reads the live file the reload produced as the new root only.
	out, err := exec.Command(openssl, "crl2pkcs7", "-nocrl", "-certfile", live).CombinedOutput()
	require.NoError(t, err, "%s", out)
	out, err = exec.Command(openssl, "verify", "-no_check_time", "-CAfile", live, mustStay).CombinedOutput()
	require.NoError(t, err, "%s", out)
}

// TestReceiverPKCS12WithKeytool edits a PKCS#12 truststore and checks it
// with keytool, the password passed through the environment, never argv.
func TestReceiverPKCS12WithKeytool(t *testing.T) {
	keytool := needProgram(t, "keytool", "openjdk-17-jdk-headless")
	ca := testpki.NewRoot(t, "Root For Keytool")
	dir := t.TempDir()
	trust := filepath.Join(dir, "trust.p12")
	t.Setenv("CERTROLL_TEST_STOREPASS", "changeit")
	rcv, err := NewReceiver(Config{
		TrustFile: trust, TrustKind: truststore.PKCS12, TrustPassword: []byte("changeit"),
		Check: []string{keytool, "-list", "-keystore", trust, "-storetype", "PKCS12", "-storepass:env", "CERTROLL_TEST_STOREPASS"},
	})
	require.NoError(t, err)
	require.NoError(t, rcv.TrustRoot(context.Background(), ca.Cert))
	out, err := exec.Command(keytool, "-list", "-keystore", trust, "-storetype", "PKCS12", "-storepass:env", "CERTROLL_TEST_STOREPASS").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "trustedCertEntry")

	// A wrong password is refused by keytool: the file is restored.
	before, _ := os.ReadFile(trust)
	t.Setenv("CERTROLL_TEST_STOREPASS", "wrong")
	err = rcv.TrustRoot(context.Background(), testpki.NewRoot(t, "Second").Cert)
	var ce *CommandError
	require.ErrorAs(t, err, &ce)
	assert.NotContains(t, err.Error(), "changeit", "the password is never in an error")
	after, _ := os.ReadFile(trust)
	assert.Equal(t, before, after)
}

func TestReceiverTimeoutRollsBack(t *testing.T) {
	sleep := needProgram(t, "sleep", "coreutils")
	dir := t.TempDir()
	list := filepath.Join(dir, "pinned.acl")
	require.NoError(t, os.WriteFile(list, []byte("# pinned\n"), 0o644))
	rcv, err := NewReceiver(Config{AcceptedList: list, AcceptedFormat: HAProxyACL,
		Reload: []string{sleep, "30"}, Timeout: 200 * time.Millisecond})
	require.NoError(t, err)
	err = rcv.AcceptClient(context.Background(), testpki.NewRoot(t, "CA").Leaf(t, "c").Chain)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	data, _ := os.ReadFile(list)
	assert.Equal(t, "# pinned\n", string(data))
}

func TestObservingReceiver(t *testing.T) {
	ca := testpki.NewRoot(t, "CA")
	leaf := ca.Leaf(t, "c").Cert
	dir := t.TempDir()
	rcv, err := NewReceiver(Config{AcceptedList: filepath.Join(dir, "l"), AcceptedFormat: NginxMap})
	require.NoError(t, err)
	_, err = rcv.Observing()
	assert.ErrorContains(t, err, "AccessLog")

	log := filepath.Join(dir, "access.log")
	fp := strings.TrimSuffix(NginxMap.Key(leaf), " 1;")
	require.NoError(t, os.WriteFile(log, []byte("2025-06-01T12:00:00+00:00 "+fp+" 200\n"), 0o644))
	rcv, err = NewReceiver(Config{AcceptedList: filepath.Join(dir, "l"), AcceptedFormat: NginxMap, AccessLog: log})
	require.NoError(t, err)
	obs, err := rcv.Observing()
	require.NoError(t, err)
	got, err := obs.LastSeen(context.Background(), leaf)
	require.NoError(t, err)
	assert.True(t, got.Equal(time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)), "got %v", got)
}

func TestNewReceiverErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := NewReceiver(Config{})
	assert.ErrorContains(t, err, "command: Config")
	_, err = NewReceiver(Config{TrustFile: filepath.Join(dir, "t")})
	assert.ErrorContains(t, err, "kind")
	bad := filepath.Join(dir, "bad.txt")
	require.NoError(t, os.WriteFile(bad, []byte("not a fingerprint\n"), 0o644))
	_, err = NewReceiver(Config{AcceptedList: bad, AcceptedFormat: SHA256List})
	assert.ErrorContains(t, err, "line 1")
}
