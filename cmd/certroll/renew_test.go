package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal"
	"github.com/certroll/certroll/renewal/local"
)

// embeddedLandscape writes, in a new directory, the embedded landscape a
// renewal starts from (a tenant PKCS#12 keystore whose alias "client" holds
// a certificate of an old CA, a JKS truststore trusting the old root, the
// accepted list with the old certificate, and a new CA kept in new-ca/),
// and a configuration renewing it with a hand-over CA. It returns the
// configuration's path and the new CA.
func embeddedLandscape(t *testing.T, extra string) (string, *local.CA) {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	t.Setenv("TENANT_PW", "tenant-secret")
	t.Setenv("RECEIVER_PW", "receiver-secret")

	oldCA, err := local.NewCA(local.CAConfig{Name: "Old Root CA"})
	require.NoError(t, err)
	newCA, err := local.NewCA(local.CAConfig{Name: "New Root CA", Dir: filepath.Join(dir, "new-ca")})
	require.NoError(t, err)
	key, err := keystore.GenerateKey(keystore.ECDSAP256, nil)
	require.NoError(t, err)
	oldChain, err := oldCA.Issue("tenant-client", key.Public())
	require.NoError(t, err)
	ks := keystore.New(keystore.PKCS12, nil)
	require.NoError(t, ks.Set(&keystore.Entry{Alias: "client", Key: key, Chain: oldChain}, nil))
	require.NoError(t, ks.Save(filepath.Join(dir, "tenant.p12"), []byte("tenant-secret"), nil))

	rcv, err := local.NewReceiver(local.ReceiverConfig{
		Truststore:         filepath.Join(dir, "receiver-truststore.jks"),
		TruststorePassword: []byte("receiver-secret"),
		Accepted:           filepath.Join(dir, "accepted-clients.pem"),
	})
	require.NoError(t, err)
	require.NoError(t, rcv.TrustRoot(ctx, oldCA.Root()))
	require.NoError(t, rcv.AcceptClient(ctx, oldChain))

	// Another client of the old CA, for a configuration that declares it
	// in use.
	otherKey, err := keystore.GenerateKey(keystore.ECDSAP256, nil)
	require.NoError(t, err)
	other, err := oldCA.Issue("other-client", otherKey.Public())
	require.NoError(t, err)
	var pemChain bytes.Buffer
	for _, c := range other {
		require.NoError(t, pem.Encode(&pemChain, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "other-client.pem"), pemChain.Bytes(), 0o644))

	cfg := `tenant:
  keystore: tenant.p12
  alias: client
  password: {env: TENANT_PW}
ca:
  handoff: {dir: handover, pool: [new-ca/ca.pem]}
receiver:
  embedded:
    truststore: receiver-truststore.jks
    password: {env: RECEIVER_PW}
    accepted: accepted-clients.pem
runtime:
  embedded: {nodes: 2, rate: 20}
drain: 0s
` + extra
	path := filepath.Join(dir, "renewal.yaml")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o644))
	return path, newCA
}

// signReplies signs every request in the hand-over folder with ca and
// puts the reply beside it, as the CA's administrator does.
func signReplies(t *testing.T, dir string, ca *local.CA) {
	t.Helper()
	csrs, err := filepath.Glob(filepath.Join(dir, "handover", "renewal-*.csr"))
	require.NoError(t, err)
	require.NotEmpty(t, csrs)
	for _, csr := range csrs {
		data, err := os.ReadFile(csr)
		require.NoError(t, err)
		chain, err := ca.Sign(context.Background(), data)
		require.NoError(t, err)
		reply := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: chain[0].Raw})
		require.NoError(t, os.WriteFile(strings.TrimSuffix(csr, ".csr")+".reply", reply, 0o644))
	}
}

// certroll runs the command in process and returns its exit code and
// output.
func certroll(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func liveFingerprint(t *testing.T, cfgPath string) string {
	t.Helper()
	ks, err := keystore.Open(filepath.Join(filepath.Dir(cfgPath), "tenant.p12"), []byte("tenant-secret"), nil)
	require.NoError(t, err)
	certs, err := ks.Certificates("client")
	require.NoError(t, err)
	return keystore.CertFingerprint(certs[0]).Hex()
}

func TestRenewExitCodes(t *testing.T) {
	cfg, ca := embeddedLandscape(t, "")
	old := liveFingerprint(t, cfg)

	code, _, stderr := certroll("renew", "-q", cfg)
	require.Equal(t, exitWaiting, code, stderr)
	assert.Contains(t, stderr, "waiting for the CA's reply")
	assert.Contains(t, stderr, "then run certroll renew "+cfg+" again")

	code, stdout, _ := certroll("status", cfg)
	assert.Equal(t, exitOK, code)
	assert.Contains(t, stdout, "State: waiting")

	code, _, _ = certroll("renew", "-q", cfg)
	assert.Equal(t, exitWaiting, code, "still no reply")

	signReplies(t, filepath.Dir(cfg), ca)
	code, stdout, stderr = certroll("renew", "-q", cfg)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "State: done")
	assert.Contains(t, stdout, ", 0 failed")
	assert.NotEqual(t, old, liveFingerprint(t, cfg))

	// The receiver no longer accepts the old chain: rollback refuses.
	code, _, stderr = certroll("rollback", "-q", cfg)
	assert.Equal(t, exitRefused, code, stderr)
	assert.Contains(t, stderr, "rollback")
}

func TestRenewGateFailureAndRollback(t *testing.T) {
	// Another chain in use still needs the old root, so the gate before
	// step 9 refuses after the entry was swapped and the nodes restarted.
	cfg, ca := embeddedLandscape(t, "in_use: [other-client.pem]\n")
	old := liveFingerprint(t, cfg)
	code, _, _ := certroll("renew", "-q", cfg)
	require.Equal(t, exitWaiting, code)
	signReplies(t, filepath.Dir(cfg), ca)

	code, _, stderr := certroll("renew", "-q", cfg)
	require.Equal(t, exitRefused, code, stderr)
	assert.Contains(t, stderr, "other-client.pem")
	assert.Contains(t, stderr, "certroll rollback "+cfg)
	assert.NotEqual(t, old, liveFingerprint(t, cfg), "the entry was swapped before the gate")

	code, stdout, _ := certroll("status", "--json", cfg)
	assert.Equal(t, exitOK, code)
	assert.Contains(t, stdout, `"state": "failed"`)

	code, _, stderr = certroll("rollback", "-q", cfg)
	require.Equal(t, exitOK, code, stderr)
	assert.Equal(t, old, liveFingerprint(t, cfg), "the old entry is back")
}

func TestRenewBadInput(t *testing.T) {
	cfg, _ := embeddedLandscape(t, "")
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{name: "missing configuration", args: []string{"renew", filepath.Join(t.TempDir(), "none.yaml")}, want: "cannot be read"},
		{name: "no argument", args: []string{"renew"}, want: "accepts 1 arg"},
		{name: "password not set", args: []string{"plan", cfg}, env: map[string]string{"TENANT_PW": ""}, want: "environment variable TENANT_PW is not set"},
		{name: "wrong password", args: []string{"renew", cfg}, env: map[string]string{"TENANT_PW": "wrong"}, want: "the password is wrong, or the file was tampered with: check the password that tenant.password in " + cfg + " names (the environment variable TENANT_PW)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				if v == "" {
					t.Setenv(k, "")
					os.Unsetenv(k)
				} else {
					t.Setenv(k, v)
				}
			}
			code, _, stderr := certroll(tt.args...)
			assert.Equal(t, exitUsage, code, stderr)
			assert.Contains(t, stderr, tt.want)
			assert.NotContains(t, stderr, "tenant-secret")
			_, err := os.Stat(cfg + ".journal")
			assert.ErrorIs(t, err, os.ErrNotExist, "nothing was written")
		})
	}
}

func TestPlanOutputs(t *testing.T) {
	cfg, _ := embeddedLandscape(t, "")
	code, md, stderr := certroll("plan", cfg)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, md, "CN=New Root CA")
	assert.Contains(t, md, "By hand:", "the hand-over CA's instructions")
	code, mm, _ := certroll("plan", "--mermaid", cfg)
	require.Equal(t, exitOK, code)
	assert.Contains(t, mm, "sequenceDiagram")
	code, js, _ := certroll("plan", "--json", cfg)
	require.Equal(t, exitOK, code)
	assert.Contains(t, js, `"schema_version": 1`)
	assert.Contains(t, js, `"sequence": "overlap"`)

	// A dry run writes nothing.
	code, dry, stderr := certroll("renew", "--dry-run", cfg)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, dry, "would")
	_, err := os.Stat(cfg + ".journal")
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// renew --json writes one JSON document on stdout, waiting or done.
func TestRenewJSON(t *testing.T) {
	cfg, ca := embeddedLandscape(t, "")
	code, stdout, _ := certroll("renew", "--json", cfg)
	require.Equal(t, exitWaiting, code)
	var v resultJSON
	require.NoError(t, json.Unmarshal([]byte(stdout), &v), stdout)
	assert.Equal(t, "waiting", v.State)
	require.NotNil(t, v.Waiting)
	assert.Equal(t, "generate-key", v.Waiting.ID)

	signReplies(t, filepath.Dir(cfg), ca)
	code, stdout, _ = certroll("renew", "--json", cfg)
	require.Equal(t, exitOK, code)
	require.NoError(t, json.Unmarshal([]byte(stdout), &v), stdout)
	assert.Equal(t, "done", v.State)
	assert.Len(t, v.Steps, 9)
}

// A run interrupted (as Ctrl-C does) right after the entry was swapped
// stops with exit 1 and says how to go on; the next run does only what is
// left and completes.
func TestRenewInterrupted(t *testing.T) {
	cfg, ca := embeddedLandscape(t, "")
	code, _, _ := certroll("renew", "-q", cfg)
	require.Equal(t, exitWaiting, code)
	signReplies(t, filepath.Dir(cfg), ca)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	interruptible = func() (context.Context, context.CancelFunc) { return ctx, cancel }
	testEventHook = func(ev renewal.Event) {
		if ev.Kind == renewal.EventStepDone && ev.Step.ID == renewal.StepSwapEntry {
			cancel()
		}
	}
	t.Cleanup(func() {
		interruptible = func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }
		testEventHook = nil
	})
	code, _, stderr := certroll("renew", "-q", cfg)
	require.Equal(t, exitInternal, code, stderr)
	assert.Contains(t, stderr, "interrupted; the journal "+cfg+".journal records how far it got: run certroll renew "+cfg+" again to go on")

	res, err := renewal.ReadJournal(cfg + ".journal")
	require.NoError(t, err)
	assert.Equal(t, renewal.StatusDone, res.Step(renewal.StepSwapEntry).Status)
	assert.NotEqual(t, renewal.StatusDone, res.State)

	testEventHook = nil
	interruptible = func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) }
	code, stdout, stderr := certroll("renew", "-q", cfg)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "State: done")
	res, err = renewal.ReadJournal(cfg + ".journal")
	require.NoError(t, err)
	assert.Equal(t, 1, res.Step(renewal.StepSwapEntry).Attempts, "the swap ran once")
}

// A reply in the hand-over folder that cannot be used is bad input (exit
// 2): garbage, or a certificate for another key. Nothing is installed, and
// once the right reply is there the next run completes.
func TestRenewBadReply(t *testing.T) {
	cfg, ca := embeddedLandscape(t, "")
	dir := filepath.Dir(cfg)
	old := liveFingerprint(t, cfg)
	code, _, stderr := certroll("renew", "-q", cfg)
	require.Equal(t, exitWaiting, code, stderr)
	csrs, err := filepath.Glob(filepath.Join(dir, "handover", "renewal-*.csr"))
	require.NoError(t, err)
	require.Len(t, csrs, 1)
	reply := strings.TrimSuffix(csrs[0], ".csr") + ".reply"

	otherKey, err := keystore.GenerateKey(keystore.ECDSAP256, nil)
	require.NoError(t, err)
	otherChain, err := ca.Issue("someone-else", otherKey.Public())
	require.NoError(t, err)
	for _, tc := range []struct {
		name  string
		reply []byte
		want  string
	}{
		{"garbage", []byte("this is not a certificate\n"), "cannot be installed"},
		{"a certificate for another key", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: otherChain[0].Raw}), "cannot be installed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, os.WriteFile(reply, tc.reply, 0o644))
			code, _, stderr := certroll("renew", "-q", cfg)
			assert.Equal(t, exitUsage, code, stderr)
			assert.Contains(t, stderr, tc.want)
			assert.Contains(t, stderr, "nothing was installed")
			assert.Contains(t, stderr, "run certroll renew "+cfg+" again")
			assert.NotContains(t, stderr, "handoff:", "no package prefix")
			assert.Equal(t, old, liveFingerprint(t, cfg), "the entry is as it was")
		})
	}
	require.NoError(t, os.Remove(reply))
	signReplies(t, dir, ca)
	code, stdout, stderr := certroll("renew", "-q", cfg)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "State: done")
}
