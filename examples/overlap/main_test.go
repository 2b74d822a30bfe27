package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/examples/internal/landscape"
	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal"
)

// The runs here are bounded: 3 nodes at 200 messages a second, for the
// dozen step pauses of a plan. What they check holds however fast the
// machine is: no assertion counts messages a machine achieves.
func testConfig(f keystore.Format) *landscape.Flags {
	return &landscape.Flags{Format: f, Nodes: 3, Rate: 200, StepPause: 50 * time.Millisecond, Drain: 200 * time.Millisecond}
}

// testOptions are the landscape options renew uses for cfg.
func testOptions(cfg *landscape.Flags) landscape.Options {
	return landscape.Options{Sequence: renewal.SequenceOverlap, Format: cfg.Format, Nodes: cfg.Nodes}
}

// assertCounted checks that the summary's counts add up: every node's
// requests are in the totals, and every request due was sent or skipped.
func assertCounted(t *testing.T, sum *landscape.Summary) {
	t.Helper()
	var sent, failed, skipped int
	for _, n := range sum.Nodes {
		sent, failed, skipped = sent+n.Sent, failed+n.Failed, skipped+n.Skipped
	}
	assert.Equal(t, sum.RequestsTotal, sent)
	assert.Equal(t, sum.RequestsFailed, failed)
	assert.Equal(t, sum.RequestsSkipped, skipped)
	assert.Equal(t, sum.RequestsDue, sum.RequestsTotal+sum.RequestsSkipped)
}

// assertOldThenNew checks that every node presented the old certificate
// until its restart and the new one after it.
func assertOldThenNew(t *testing.T, sum *landscape.Summary, nodes int) {
	t.Helper()
	require.Len(t, sum.Nodes, nodes)
	for _, n := range sum.Nodes {
		assert.Equal(t, []string{sum.OldFingerprint, sum.NewFingerprint}, n.Presented, n.Name)
	}
}

func TestOverlapRunsWithoutFailedRequests(t *testing.T) {
	for _, f := range []keystore.Format{keystore.JKS, keystore.PKCS12} {
		t.Run(f.String(), func(t *testing.T) {
			cfg := testConfig(f)
			cfg.Dir = t.TempDir()
			var out bytes.Buffer
			sum, err := renew(context.Background(), cfg, &out)
			require.NoError(t, err, out.String())
			assert.Equal(t, sum.StepsTotal, sum.StepsCompleted)
			assert.Zero(t, sum.RequestsFailed, "the overlap sequence loses no request")
			assertCounted(t, sum)
			assertOldThenNew(t, sum, cfg.Nodes)
			assert.NotEqual(t, sum.OldFingerprint, sum.NewFingerprint)
			assert.False(t, sum.OldRootInTruststore, "the old root is removed at the end")
			assert.True(t, sum.NewRootInTruststore)

			ks, err := keystore.Open(sum.Keystore, landscape.Password, nil)
			require.NoError(t, err)
			certs, err := ks.Certificates(landscape.Alias)
			require.NoError(t, err)
			assert.Equal(t, sum.NewFingerprint, keystore.CertFingerprint(certs[0]).Hex(), "the live alias holds the new certificate")
			assert.Equal(t, "CN=New Root CA,O=certroll example", certs[0].Issuer.String())
			for i := 1; i <= sum.StepsTotal; i++ {
				assert.Contains(t, out.String(), "step "+itoa(i)+"/"+itoa(sum.StepsTotal), "every step is shown")
			}
		})
	}
}

// TestOverlapUnderLoadLosesNoRequest runs the overlap renewal with many
// nodes and no pause between the steps, so that the old certificate and
// root are removed moments after the last node's restart, while requests
// it started with the old certificate may still be on the way. The
// runtime's restart waits for them (local.Runtime.Restart), and the
// executor's drain gate (Executor.Drain, with the receiver's LastSeen) for
// any other client the receiver still sees: not one request fails.
func TestOverlapUnderLoadLosesNoRequest(t *testing.T) {
	cfg := testConfig(keystore.JKS)
	cfg.Nodes, cfg.Rate, cfg.StepPause, cfg.Drain = 30, 20, 0, 500*time.Millisecond
	var out bytes.Buffer
	sum, err := renew(context.Background(), cfg, &out)
	require.NoError(t, err, out.String())
	assert.Equal(t, sum.StepsTotal, sum.StepsCompleted)
	assert.Zero(t, sum.RequestsFailed, "no request is cut off by the removal of the old certificate and root")
	assertCounted(t, sum)
	old, renewed := sum.OldFingerprint, sum.NewFingerprint
	for _, n := range sum.Nodes {
		// Without pauses a node may send nothing between the start and
		// its restart, or between its restart and the end; what it must
		// never do is go back to the old certificate.
		assert.Contains(t, [][]string{{old, renewed}, {old}, {renewed}}, n.Presented, n.Name)
	}
}

// TestSkippedNodeStopsTheRun forgets node 2 when the nodes are restarted:
// it keeps the old certificate, the gate after the restart names it, and
// the run stops there.
func TestSkippedNodeStopsTheRun(t *testing.T) {
	cfg := testConfig(keystore.JKS)
	cfg.SkipRestart = 2
	var out bytes.Buffer
	sum, err := renew(context.Background(), cfg, &out)
	require.ErrorIs(t, err, renewal.ErrGateFailed)
	var ge *renewal.GateError
	require.ErrorAs(t, err, &ge)
	assert.Equal(t, renewal.StepRestartNodes, ge.Step.ID)
	assert.Equal(t, []string{"node-2"}, ge.Stragglers)
	assert.Contains(t, err.Error(), `node "node-2" presents the old certificate`)
	require.NotNil(t, sum)
	assert.Less(t, sum.StepsCompleted, sum.StepsTotal)
	assert.True(t, sum.OldRootInTruststore, "the old root stays in place")
	assert.Zero(t, sum.RequestsFailed)
}

// TestResumeAfterInterruption stops a run after each step in turn and
// starts it again with the same directory; every run must end as an
// uninterrupted one does.
func TestResumeAfterInterruption(t *testing.T) {
	total := 2 // the plan's steps, learnt from the first run
	for stopAfter := 1; stopAfter < total; stopAfter++ {
		t.Run("after step "+itoa(stopAfter), func(t *testing.T) {
			dir := t.TempDir()
			cfg := testConfig(keystore.PKCS12)
			cfg.StepPause = 20 * time.Millisecond
			cfg.Dir = dir
			ctx, cancel := context.WithCancel(context.Background())
			var out bytes.Buffer
			sum, err := renew(ctx, cfg, &cancelAfter{w: &out, line: "step " + itoa(stopAfter+1) + "/", cancel: cancel})
			cancel()
			require.Error(t, err, "the first run is interrupted")
			total = sum.StepsTotal
			// Cancelled as step stopAfter+1 starts: that step may finish
			// or not, and nothing after it runs.
			assert.GreaterOrEqual(t, sum.StepsCompleted, stopAfter)
			assert.LessOrEqual(t, sum.StepsCompleted, stopAfter+1)

			sum, err = renew(context.Background(), cfg, &out)
			require.NoError(t, err, out.String())
			assert.Contains(t, out.String(), "resuming the overlap renewal")
			assert.Equal(t, sum.StepsTotal, sum.StepsCompleted)
			assert.False(t, sum.OldRootInTruststore)
			ks, err := keystore.Open(sum.Keystore, landscape.Password, nil)
			require.NoError(t, err)
			certs, err := ks.Certificates(landscape.Alias)
			require.NoError(t, err)
			assert.Equal(t, sum.NewFingerprint, keystore.CertFingerprint(certs[0]).Hex())
			assert.Zero(t, sum.RequestsFailed)
		})
	}
}

// cancelAfter cancels the run when the progress reaches a line.
type cancelAfter struct {
	w      *bytes.Buffer
	line   string
	cancel func()
}

func (c *cancelAfter) Write(p []byte) (int, error) {
	if strings.Contains(string(p), c.line) {
		c.cancel()
	}
	return c.w.Write(p)
}

func TestMainFlagsAndSummary(t *testing.T) {
	dir := t.TempDir()
	summary := filepath.Join(dir, "summary.json")
	var out, errOut bytes.Buffer
	code := command([]string{"-format", "pkcs12", "-nodes", "2", "-dir", filepath.Join(dir, "run"),
		"-step-pause", "50ms", "-summary", summary}, &out, &errOut)
	require.Equal(t, 0, code, errOut.String())
	data, err := os.ReadFile(summary)
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, json.Unmarshal(data, &got))
	for _, k := range []string{"plan", "steps_completed", "requests_total", "requests_failed", "requests_skipped", "requests_due",
		"requests_per_second", "requested_per_second", "nodes", "alias", "keystore", "truststore", "old_fingerprint", "new_fingerprint"} {
		assert.Contains(t, got, k)
	}
	assert.Equal(t, "overlap", got["plan"])
	assert.Len(t, got["new_fingerprint"], 64)
	assert.True(t, strings.HasSuffix(got["keystore"].(string), ".p12"))
	assert.Equal(t, 200.0, got["requested_per_second"], "2 nodes × 100 per second")
	assert.Len(t, got["nodes"], 2)
	assert.Contains(t, out.String(), "of 200 asked for")

	for _, args := range [][]string{{"-format", "jceks"}, {"-nodes", "0"}, {"-skip-restart-node", "4"}, {"-drain", "-1s"}, {"-bogus"}} {
		errOut.Reset()
		assert.Equal(t, 2, command(args, &out, &errOut), "%v", args)
	}

	// An output in a missing directory is refused before anything runs.
	runDir := filepath.Join(dir, "refused")
	errOut.Reset()
	out.Reset()
	assert.Equal(t, 2, command([]string{"-dir", runDir, "-summary", filepath.Join(dir, "missing", "s.json")}, &out, &errOut))
	assert.Contains(t, errOut.String(), "must exist before the run")
	assert.Empty(t, out.String(), "nothing ran")
	assert.NoDirExists(t, runDir, "no landscape was set up")
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestSetupInterruptedAtEachWrite stops the set-up after each of its
// writes, as a kill would (nothing is cleaned up), and runs again with the
// same -dir: the second run completes the landscape and the renewal.
func TestSetupInterruptedAtEachWrite(t *testing.T) {
	var points []string
	opts := testOptions(testConfig(keystore.JKS))
	opts.AfterWrite = func(p string) error { points = append(points, p); return nil }
	_, err := landscape.Open(t.TempDir(), opts)
	require.NoError(t, err)
	require.Contains(t, points, "keystore")
	require.Contains(t, points, "plan")
	require.Equal(t, "move plan", points[len(points)-1])

	errKilled := errors.New("killed")
	for _, point := range points {
		t.Run(point, func(t *testing.T) {
			dir := t.TempDir()
			cfg := testConfig(keystore.JKS)
			// The drain stays on, as in the example's own runs
			// (TestOverlapUnderLoadLosesNoRequest).
			cfg.Dir, cfg.Nodes, cfg.Rate, cfg.StepPause = dir, 1, 50, 0
			// The run's first act is opening the landscape: killed there.
			opts := testOptions(cfg)
			opts.AfterWrite = func(p string) error {
				if p == point {
					return errKilled
				}
				return nil
			}
			_, err := landscape.Open(dir, opts)
			require.ErrorIs(t, err, errKilled)

			var out bytes.Buffer
			sum, err := renew(context.Background(), cfg, &out)
			require.NoError(t, err, out.String())
			assert.Equal(t, sum.StepsTotal, sum.StepsCompleted)
			assert.Zero(t, sum.RequestsFailed)
			assert.NoDirExists(t, filepath.Join(dir, ".setup"), "the staging directory is gone")
			assert.FileExists(t, filepath.Join(dir, "plan.json"))
		})
	}
}

// TestResumeRefusesAnotherRunsDir resumes a landscape with flags that
// make another run: the run is refused before anything is touched, with
// one error naming every difference and the command that resumes it.
func TestResumeRefusesAnotherRunsDir(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(keystore.JKS)
	cfg.Dir, cfg.Runbook = dir, true
	_, err := renew(context.Background(), cfg, io.Discard) // builds the landscape and plan only
	require.NoError(t, err)
	before := snapshotDir(t, dir)

	// Each case is the landscape a run of the other example, or of this
	// one with other flags, asks for: the first thing the run opens.
	tests := []struct {
		name string
		edit func(*landscape.Options)
		want []string
	}{
		{"another sequence", func(o *landscape.Options) { o.Sequence = renewal.SequenceDowntime }, []string{"sequence overlap, not downtime"}},
		{"another format", func(o *landscape.Options) { o.Format = keystore.PKCS12 }, []string{"keystore format JKS, not PKCS#12"}},
		{"another number of nodes", func(o *landscape.Options) { o.Nodes = 5 }, []string{"3 nodes, not 5"}},
		{"another landscape", func(o *landscape.Options) { o.Real = true }, []string{"landscape embedded, not real"}},
		{"all three", func(o *landscape.Options) {
			o.Sequence, o.Format, o.Nodes = renewal.SequenceDowntime, keystore.PKCS12, 2
		},
			[]string{"sequence overlap, not downtime", "keystore format JKS, not PKCS#12", "3 nodes, not 2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := testOptions(testConfig(keystore.JKS))
			tc.edit(&opts)
			_, err := landscape.Open(dir, opts)
			var de *landscape.DirError
			require.ErrorAs(t, err, &de)
			assert.Equal(t, tc.want, de.Differences)
			assert.Equal(t, renewal.SequenceOverlap, de.Sequence)
			assert.Contains(t, err.Error(), "go run ./examples/overlap -dir "+dir+" -format jks -nodes 3")
			assert.Equal(t, 1, strings.Count(err.Error(), "landscape:"), "one message")
			assert.Equal(t, before, snapshotDir(t, dir), "nothing in the directory is touched")
		})
	}

	// This example with other flags is refused the same way.
	other := testConfig(keystore.PKCS12)
	other.Dir = dir
	_, err = renew(context.Background(), other, io.Discard)
	var de *landscape.DirError
	require.ErrorAs(t, err, &de)
	assert.Equal(t, []string{"keystore format JKS, not PKCS#12"}, de.Differences)
	assert.Equal(t, before, snapshotDir(t, dir), "nothing in the directory is touched")

	// The same flags resume it.
	cfg.Runbook = false
	var out bytes.Buffer
	sum, err := renew(context.Background(), cfg, &out)
	require.NoError(t, err, out.String())
	assert.Contains(t, out.String(), "resuming the overlap renewal")
	assert.Equal(t, sum.StepsTotal, sum.StepsCompleted)
}

// snapshotDir returns every file under dir and its contents.
func snapshotDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		files[path] = string(data)
		return err
	}))
	return files
}
