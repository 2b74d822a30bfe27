package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certroll/certroll/renewal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// demoWithSequence writes the demo landscape in a new folder and replaces
// its sequence line with lines; it returns the configuration's path.
func demoWithSequence(t *testing.T, lines string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "demo")
	code, _, stderr := runCmd("config", "demo", dir)
	require.Equal(t, exitOK, code, stderr)
	path := filepath.Join(dir, "renewal.yaml")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	text := strings.Replace(string(data), "\nsequence: choose\n", "\n"+lines+"\n", 1)
	require.NotEqual(t, string(data), text, "the demo's renewal.yaml has a sequence line")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	return path
}

func TestDowntimeWithoutWindowIsBadInput(t *testing.T) {
	path := demoWithSequence(t, "sequence: downtime")
	for _, args := range [][]string{{"config", "check", path}, {"plan", path}, {"renew", path}} {
		code, _, stderr := runCmd(args...)
		assert.Equal(t, exitUsage, code, "%v: %s", args, stderr)
		assert.Contains(t, stderr, "sequence downtime needs a window", "%v", args)
	}
	_, err := os.Stat(path + ".journal")
	assert.True(t, os.IsNotExist(err), "a refused configuration writes no journal")
}

func TestDowntimeWindowNotATime(t *testing.T) {
	path := demoWithSequence(t, "sequence: downtime\nwindow: {start: tonight, end: 2099-01-01T00:00:00Z}")
	code, _, stderr := runCmd("renew", path)
	assert.Equal(t, exitUsage, code, stderr)
	assert.Contains(t, stderr, `window.start "tonight" is not a time`)
}

func TestDowntimeWindowEndBeforeStart(t *testing.T) {
	path := demoWithSequence(t, "sequence: downtime\nwindow: {start: 2099-01-02T00:00:00Z, end: 2099-01-01T00:00:00Z}")
	code, _, stderr := runCmd("plan", path)
	assert.Equal(t, exitUsage, code, stderr)
	assert.Contains(t, stderr, "does not give a usable plan: window.end: expected a time after the start 2099-01-02T00:00:00Z")
}

// A window that has ended stops the renewal before anything that breaks
// traffic: the tenant's keystore and the receiver's files are as they
// were, and the run is refused (exit 4) saying what to do.
func TestDowntimeWindowEnded(t *testing.T) {
	path := demoWithSequence(t, "sequence: downtime\nwindow: {start: 2020-01-01T00:00:00Z, end: 2020-01-02T00:00:00Z, description: past}")
	dir := filepath.Dir(path)
	files := []string{"tenant.p12", "receiver-truststore.jks", "accepted-clients.pem"}
	before := map[string][]byte{}
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(dir, f))
		require.NoError(t, err)
		before[f] = data
	}
	code, stdout, stderr := runCmd("renew", path)
	assert.Equal(t, exitRefused, code, stderr)
	assert.Contains(t, stderr, "agree a new window")
	assert.Contains(t, stdout, "Stopped at: step 2 (agree-window)")
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(dir, f))
		require.NoError(t, err)
		assert.Equal(t, before[f], data, "%s is untouched", f)
	}
}

// The command adapters' configuration refuses what they cannot use, with
// exit 2 and the key's name.
func TestCommandAdaptersBadInput(t *testing.T) {
	base := `tenant:
  keystore: tenant.p12
  alias: client
  password: {env: TENANT_PW}
ca:
  command: {argv: [openssl, x509, -req, -in, "{csr}", -out, "{out}"], pool: [new-ca.pem]}
receiver:
  command:
    trust_file: client-ca.pem
    trust_kind: %s
    accepted_list: accepted.txt
    accepted_format: %s
runtime:
  command:
    nodes:
      - {name: node-1, stop: [./node.sh, stop], start: [./node.sh, start], presents: %s}
`
	for _, tc := range []struct{ kind, format, presents, want string }{
		{"PEMS", "sha256", "[./node.sh, presents]", `receiver.command.trust_kind "PEMS"`},
		{"PEM", "sha1", "[./node.sh, presents]", `receiver.command.accepted_format "sha1"`},
		{"PEM", "sha256", "[]", "runtime.command.nodes[0].presents is missing"},
	} {
		dir := t.TempDir()
		path := filepath.Join(dir, "renewal.yaml")
		text := strings.NewReplacer("%s", "\x00").Replace(base)
		for _, v := range []string{tc.kind, tc.format, tc.presents} {
			text = strings.Replace(text, "\x00", v, 1)
		}
		require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
		code, _, stderr := runCmd("config", "check", path)
		assert.Equal(t, exitUsage, code, stderr)
		assert.Contains(t, stderr, tc.want)
	}
}

// A window that opens later does not make renew wait for it: the steps
// before it run, the window's hand-off is sent, then renew exits 3 saying
// when the window opens and to run it again then; status says the same;
// nothing that stops traffic was done, and a second run still waits
// without repeating step 1.
func TestDowntimeWindowAhead(t *testing.T) {
	path := demoWithSequence(t, "sequence: downtime\nwindow: {start: 2099-01-01T22:00:00Z, end: 2099-01-02T02:00:00Z, description: CHG-42}")
	dir := filepath.Dir(path)
	files := []string{"tenant.p12", "receiver-truststore.jks", "accepted-clients.pem"}
	before := map[string][]byte{}
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(dir, f))
		require.NoError(t, err)
		before[f] = data
	}
	want := "certroll: waiting for the downtime window (CHG-42): it opens at 2099-01-01T22:00:00Z; nothing that stops traffic was done; run again once it is open: certroll renew " + path
	waiting := "Waiting for: step 2 (agree-window) since "
	opens := ": the downtime window opens at 2099-01-01T22:00:00Z; run certroll renew " + path + " again then"
	for run := 1; run <= 2; run++ {
		code, stdout, stderr := runCmd("renew", path)
		require.Equal(t, exitWaiting, code, "run %d: %s", run, stderr)
		assert.Contains(t, stderr, want, "run %d", run)
		assert.Contains(t, stdout, "State: waiting", "run %d", run)
		assert.Contains(t, stdout, waiting, "run %d", run)
		assert.Contains(t, stdout, opens, "run %d", run)
		assert.Contains(t, stdout, "step  1  done     generate-key", "run %d", run)
	}
	code, stdout, stderr := runCmd("status", path)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, waiting)
	assert.Contains(t, stdout, opens)
	assert.Contains(t, stdout, "step  2  waiting  agree-window: waiting for the downtime window (CHG-42): it opens at 2099-01-01T22:00:00Z")
	code, stdout, _ = runCmd("status", "--json", path)
	require.Equal(t, exitOK, code)
	assert.Contains(t, stdout, `"window_opens": "2099-01-01T22:00:00Z"`)
	assert.Contains(t, stdout, `"state": "waiting"`)
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(dir, f))
		require.NoError(t, err)
		assert.Equal(t, before[f], data, "%s is untouched", f)
	}
	res, err := renewal.ReadJournal(path + ".journal")
	require.NoError(t, err)
	assert.Equal(t, renewal.StatusWaiting, res.State, "the journal says waiting, not running")
	assert.Equal(t, 1, res.Step(renewal.StepGenerateKey).Attempts, "step 1 ran once")
	assert.Equal(t, renewal.StatusWaiting, res.Step(renewal.StepAgreeWindow).Status)
	assert.Equal(t, renewal.StatusPending, res.Step(renewal.StepStopFlow).Status, "the flow was not stopped")
}
