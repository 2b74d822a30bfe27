package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal"
)

// The runs here are bounded: 3 nodes at 200 messages a second, for the
// dozen step pauses of a plan.
func testConfig(seq renewal.Sequence, f keystore.Format) Config {
	return Config{Sequence: seq, Format: f, Nodes: 3, Rate: 200, StepPause: 50 * time.Millisecond}
}

func TestOverlapRunsWithoutFailedRequests(t *testing.T) {
	for _, f := range []keystore.Format{keystore.JKS, keystore.PKCS12} {
		t.Run(f.String(), func(t *testing.T) {
			cfg := testConfig(renewal.SequenceOverlap, f)
			cfg.Dir = t.TempDir()
			var out bytes.Buffer
			cfg.Out = &out
			sum, err := Run(context.Background(), cfg)
			require.NoError(t, err, out.String())
			assert.Equal(t, 9, sum.StepsCompleted)
			assert.Zero(t, sum.RequestsFailed, "the overlap sequence loses no request")
			// 3 nodes × 200/s over at least 11 pauses of 50 ms.
			assert.GreaterOrEqual(t, sum.RequestsTotal, 200)
			assert.NotEqual(t, sum.OldFingerprint, sum.NewFingerprint)
			assert.False(t, sum.OldRootInTruststore, "the old root is removed at the end")
			assert.True(t, sum.NewRootInTruststore)

			ks, err := keystore.Open(sum.Keystore, password)
			require.NoError(t, err)
			certs, err := ks.Certificates(alias)
			require.NoError(t, err)
			assert.Equal(t, sum.NewFingerprint, keystore.Fingerprint256Hex(certs[0]), "the live alias holds the new certificate")
			assert.Equal(t, "CN=New Root CA,O=certroll example", certs[0].Issuer.String())
			for i := 1; i <= 9; i++ {
				assert.Contains(t, out.String(), "step "+itoa(i)+"/9", "every step is shown")
			}
		})
	}
}

func TestDowntimeFailsOnlyInsideTheWindow(t *testing.T) {
	cfg := testConfig(renewal.SequenceDowntime, keystore.JKS)
	var out bytes.Buffer
	cfg.Out = &out
	sum, err := Run(context.Background(), cfg)
	require.NoError(t, err, out.String())
	assert.Equal(t, 11, sum.StepsCompleted)
	assert.Positive(t, sum.RequestsFailed, "messages due while the flow is stopped fail")
	assert.Zero(t, sum.FailedOutsideWindow, "no message fails outside the window")
	assert.True(t, sum.WindowEnd.After(sum.WindowStart))
	assert.Greater(t, sum.RequestsTotal, sum.RequestsFailed)
}

func TestSkippedNodeStopsTheRun(t *testing.T) {
	cfg := testConfig(renewal.SequenceOverlap, keystore.JKS)
	cfg.SkipRestart = 2
	var out bytes.Buffer
	cfg.Out = &out
	sum, err := Run(context.Background(), cfg)
	require.ErrorIs(t, err, renewal.ErrGateFailed)
	assert.Contains(t, err.Error(), "node-2")
	assert.NotContains(t, err.Error(), "node-1")
	require.NotNil(t, sum)
	assert.True(t, sum.OldRootInTruststore, "the old root stays in place")
	assert.Less(t, sum.StepsCompleted, 9)
	assert.Zero(t, sum.RequestsFailed)
}

// TestResumeAfterInterruption stops a run after each step in turn and
// starts it again with the same directory; every run must end as an
// uninterrupted one does.
func TestResumeAfterInterruption(t *testing.T) {
	for stopAfter := 1; stopAfter <= 8; stopAfter++ {
		t.Run("after step "+itoa(stopAfter), func(t *testing.T) {
			dir := t.TempDir()
			cfg := testConfig(renewal.SequenceOverlap, keystore.PKCS12)
			cfg.StepPause = 20 * time.Millisecond
			cfg.Dir = dir
			ctx, cancel := context.WithCancel(context.Background())
			var out bytes.Buffer
			cfg.Out = &cancelAfter{w: &out, line: "step " + itoa(stopAfter+1) + "/9", cancel: cancel}
			sum, err := Run(ctx, cfg)
			cancel()
			require.Error(t, err, "the first run is interrupted")
			// Cancelled as step stopAfter+1 starts: that step may finish
			// or not, and nothing after it runs.
			assert.GreaterOrEqual(t, sum.StepsCompleted, stopAfter)
			assert.LessOrEqual(t, sum.StepsCompleted, stopAfter+1)

			cfg.Out = &out
			sum, err = Run(context.Background(), cfg)
			require.NoError(t, err, out.String())
			assert.Contains(t, out.String(), "resuming the overlap renewal")
			assert.Equal(t, 9, sum.StepsCompleted)
			assert.False(t, sum.OldRootInTruststore)
			ks, err := keystore.Open(sum.Keystore, password)
			require.NoError(t, err)
			certs, err := ks.Certificates(alias)
			require.NoError(t, err)
			assert.Equal(t, sum.NewFingerprint, keystore.Fingerprint256Hex(certs[0]))
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
	code := Main(renewal.SequenceOverlap, []string{"-format", "pkcs12", "-nodes", "2", "-dir", filepath.Join(dir, "run"),
		"-step-pause", "50ms", "-summary", summary}, &out, &errOut)
	require.Equal(t, 0, code, errOut.String())
	data, err := os.ReadFile(summary)
	require.NoError(t, err)
	var got map[string]any
	require.NoError(t, json.Unmarshal(data, &got))
	for _, k := range []string{"plan", "steps_completed", "requests_total", "requests_failed", "alias", "keystore", "truststore", "old_fingerprint", "new_fingerprint"} {
		assert.Contains(t, got, k)
	}
	assert.Equal(t, "overlap", got["plan"])
	assert.Len(t, got["new_fingerprint"], 64)
	assert.True(t, strings.HasSuffix(got["keystore"].(string), ".p12"))

	out.Reset()
	require.Equal(t, 0, Main(renewal.SequenceDowntime, []string{"-runbook"}, &out, &errOut))
	assert.Contains(t, out.String(), "sequenceDiagram")
	assert.Contains(t, out.String(), "11.")

	for _, args := range [][]string{{"-format", "jceks"}, {"-nodes", "0"}, {"-skip-restart-node", "4"}, {"-bogus"}} {
		errOut.Reset()
		assert.Equal(t, 2, Main(renewal.SequenceOverlap, args, &out, &errOut), "%v", args)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
