package main

import (
	"bytes"
	"context"
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

func TestDowntimeFailsOnlyInsideTheWindow(t *testing.T) {
	cfg := testConfig(keystore.JKS)
	var out bytes.Buffer
	sum, err := renew(context.Background(), cfg, &out)
	require.NoError(t, err, out.String())
	assert.Equal(t, sum.StepsTotal, sum.StepsCompleted)
	assert.Positive(t, sum.RequestsFailed, "messages due while the flow is stopped fail")
	assert.Zero(t, sum.FailedOutsideWindow, "no message fails outside the window")
	assert.True(t, sum.WindowEnd.After(sum.WindowStart))
	assertCounted(t, sum)
	assertOldThenNew(t, sum, cfg.Nodes)
}

// TestSkippedNodeStopsTheRun forgets node 2 when the nodes are restarted:
// it stays stopped, the gate after the restart names it, and the run
// stops there.
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
	assert.Contains(t, err.Error(), `node "node-2" presents no certificate`)
	require.NotNil(t, sum)
	assert.Less(t, sum.StepsCompleted, sum.StepsTotal)
}

func TestRunbookOnly(t *testing.T) {
	var out, errOut bytes.Buffer
	require.Equal(t, 0, command([]string{"-runbook"}, &out, &errOut))
	assert.Contains(t, out.String(), "sequenceDiagram")
	assert.Contains(t, out.String(), "11.")
}
