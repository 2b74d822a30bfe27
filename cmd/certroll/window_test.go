package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/internal/atomicfile"
	"github.com/certroll/certroll/renewal"
)

// notifierLog is a notifier command that appends each hand-off's step
// to a file, and the file's path.
func notifierLog(t *testing.T) (config, log string) {
	t.Helper()
	dir := t.TempDir()
	log = filepath.Join(dir, "handoffs.log")
	script := filepath.Join(dir, "notify.sh")
	require.NoError(t, os.WriteFile(script, []byte("#!/bin/sh\necho \"$CERTROLL_STEP $CERTROLL_STEP_ID\" >> "+log+"\ncat >/dev/null\n"), 0o755))
	return "notifier: {command: [" + script + "]}\n", log
}

// handOffs returns how many hand-offs the notifier command got for step.
func handOffs(t *testing.T, log, step string) int {
	t.Helper()
	data, err := os.ReadFile(log)
	if os.IsNotExist(err) {
		return 0
	}
	require.NoError(t, err)
	n := 0
	for _, l := range strings.Split(string(data), "\n") {
		if l == step {
			n++
		}
	}
	return n
}

// A hand-over CA and a window that opens later: while the CA's reply is
// missing, renew and status name step 1 (not the window's step); once the
// reply is in place, renew installs it, hands off the window's agreement
// and exits 3 waiting on step 2, and a second run waits again without
// sending that hand-off a second time.
func TestWindowAheadWithHandOverCA(t *testing.T) {
	notify, log := notifierLog(t)
	cfg, ca := embeddedLandscape(t, notify+"sequence: downtime\nwindow: {start: 2099-01-01T22:00:00Z, end: 2099-01-02T02:00:00Z, description: CHG-7}\n")

	code, stdout, stderr := certroll("renew", "-q", cfg)
	require.Equal(t, exitWaiting, code, stderr)
	assert.Contains(t, stderr, "waiting for the CA's reply")
	assert.Contains(t, stdout, "Waiting for: step 1 (generate-key)")
	code, stdout, stderr = certroll("status", cfg)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "Waiting for: step 1 (generate-key)")
	assert.NotContains(t, stdout, "agree-window)")
	assert.NotContains(t, stdout, "the downtime window opens")
	code, stdout, _ = certroll("status", "--json", cfg)
	require.Equal(t, exitOK, code)
	assert.NotContains(t, stdout, "window_opens", "the renewal waits for the CA, not the window")

	signReplies(t, filepath.Dir(cfg), ca)
	for run := 1; run <= 2; run++ {
		code, stdout, stderr = certroll("renew", "-q", cfg)
		require.Equal(t, exitWaiting, code, "run %d: %s", run, stderr)
		assert.Contains(t, stderr, "waiting for the downtime window (CHG-7): it opens at 2099-01-01T22:00:00Z", "run %d", run)
		assert.Contains(t, stdout, "Waiting for: step 2 (agree-window)", "run %d", run)
		assert.Equal(t, 1, handOffs(t, log, "2 agree-window"), "run %d: the window's hand-off is sent once", run)
	}
	code, stdout, _ = certroll("status", "--json", cfg)
	require.Equal(t, exitOK, code)
	assert.Contains(t, stdout, `"window_opens": "2099-01-01T22:00:00Z"`)
	res, err := renewal.ReadJournal(cfg + ".journal")
	require.NoError(t, err)
	assert.Equal(t, renewal.StatusWaiting, res.State)
	assert.Equal(t, renewal.StatusPending, res.Step(renewal.StepStopFlow).Status, "nothing stopped traffic")
}

// A window that opened in the past and ends in the future is open: renew
// runs to the end.
func TestWindowOpenNow(t *testing.T) {
	cfg, ca := embeddedLandscape(t, "sequence: downtime\nwindow: {start: 2020-01-01T00:00:00Z, end: 2099-01-01T00:00:00Z}\n")
	code, _, stderr := certroll("renew", "-q", cfg)
	require.Equal(t, exitWaiting, code, stderr)
	signReplies(t, filepath.Dir(cfg), ca)
	code, stdout, stderr := certroll("renew", "-q", cfg)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "State: done")
	assert.Contains(t, stdout, "agree-window: window agreed and open")
}

// A junk reply fails step 1: status says it stopped at step 1, and the
// window's step is not named.
func TestFailedStepOneIsStepOne(t *testing.T) {
	cfg, _ := embeddedLandscape(t, "sequence: downtime\nwindow: {start: 2099-01-01T22:00:00Z, end: 2099-01-02T02:00:00Z}\n")
	code, _, stderr := certroll("renew", "-q", cfg)
	require.Equal(t, exitWaiting, code, stderr)
	csrs, err := filepath.Glob(filepath.Join(filepath.Dir(cfg), "handover", "renewal-*.csr"))
	require.NoError(t, err)
	require.Len(t, csrs, 1)
	require.NoError(t, os.WriteFile(strings.TrimSuffix(csrs[0], ".csr")+".reply", []byte("junk\n"), 0o644))
	code, stdout, stderr := certroll("renew", "-q", cfg)
	require.Equal(t, exitUsage, code, stderr)
	assert.Contains(t, stdout, "State: failed")
	assert.Contains(t, stdout, "Stopped at: step 1 (generate-key)")
	assert.Equal(t, 1, strings.Count(stderr, "replace it"), "the advice is given once: %s", stderr)
	for _, args := range [][]string{{"status", cfg}, {"status", "--json", cfg}, {"renew", "--json", cfg}} {
		_, stdout, _ = certroll(args...)
		assert.Contains(t, stdout, "generate-key", "%v", args)
		for _, p := range []string{"renewal: ", "handoff: ", "keystore: "} {
			assert.NotContains(t, stdout, p, "%v: no package prefix", args)
		}
	}
	code, stdout, _ = certroll("status", cfg)
	require.Equal(t, exitOK, code)
	assert.Contains(t, stdout, "step  1  failed   generate-key: getting the request signed by the CA: the reply ")
	assert.Contains(t, stdout, "Stopped at: step 1 (generate-key)")
	assert.NotContains(t, stdout, "agree-window)")
}

// With the window ahead and step 1 done, a second renew while another
// holds the journal's lock is refused (4), and a journal of another
// renewal is bad input (2): the executor checks both, as for any run.
func TestWindowAheadLockAndForeignJournal(t *testing.T) {
	path := demoWithSequence(t, "sequence: downtime\nwindow: {start: 2099-01-01T22:00:00Z, end: 2099-01-02T02:00:00Z}")
	code, _, stderr := runCmd("renew", "-q", path)
	require.Equal(t, exitWaiting, code, stderr)

	t.Run("locked", func(t *testing.T) {
		unlock := holdLock(t, path+".journal")
		defer unlock()
		code, _, stderr := runCmd("renew", "-q", path)
		assert.Equal(t, exitRefused, code, stderr)
		assert.Contains(t, stderr, "another certroll renew or rollback is running")
	})
	t.Run("foreign journal", func(t *testing.T) {
		other := demoWithSequence(t, "sequence: downtime\nwindow: {start: 2099-01-01T22:00:00Z, end: 2099-01-02T02:00:00Z}")
		data, err := os.ReadFile(path + ".journal")
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(other+".journal", data, 0o600))
		code, _, stderr := runCmd("renew", "-q", other)
		assert.Equal(t, exitUsage, code, stderr)
		assert.Contains(t, stderr, "does not belong to this configuration")
	})
}

// A run interrupted leaves the journal running: status says what to do.
func TestStatusRunningSaysNext(t *testing.T) {
	path := demoWithSequence(t, "sequence: downtime\nwindow: {start: 2099-01-01T22:00:00Z, end: 2099-01-02T02:00:00Z}")
	code, _, stderr := runCmd("renew", "-q", path)
	require.Equal(t, exitWaiting, code, stderr)
	data, err := os.ReadFile(path + ".journal")
	require.NoError(t, err)
	// As a run killed while it ran step 2 leaves it.
	text := strings.Replace(string(data), `"state": "waiting"`, `"state": "running"`, 1)
	text = strings.Replace(text, `"status": "waiting"`, `"status": "started"`, 1)
	require.NotEqual(t, string(data), text)
	require.NoError(t, os.WriteFile(path+".journal", []byte(text), 0o600))
	code, stdout, stderr := runCmd("status", path)
	require.Equal(t, exitOK, code, stderr)
	assert.Contains(t, stdout, "State: running")
	assert.Contains(t, stdout, "Next: the last run stopped before the end (interrupted), or is still running: run certroll renew "+path+" to go on")
}

// holdLock takes the journal's lock as another run of the renewal would.
func holdLock(t *testing.T, journal string) func() {
	t.Helper()
	l, err := atomicfile.TryLock(journal)
	require.NoError(t, err)
	return func() { _ = l.Unlock() }
}
