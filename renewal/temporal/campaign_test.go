package temporal

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/certroll/certroll/renewal"
)

// campaign makes n renewals, in blocks of n/k on receivers rcv-0 … rcv-(k-1)
// (so that without the per-receiver limit many would run on one), every
// fourth one in the downtime sequence if mixed.
func campaign(w *world, n, receivers int, mixed bool) (Campaign, []*fixture) {
	c := Campaign{Name: "new-ca-2026"}
	var fs []*fixture
	for i := range n {
		seq := renewal.SequenceOverlap
		if mixed && i%4 == 3 {
			seq = renewal.SequenceDowntime
		}
		f := w.add(fmt.Sprintf("tenant-%03d", i), fmt.Sprintf("rcv-%d", i*receivers/n), seq)
		in := f.input
		if i%2 == 1 {
			in = in.Compact() // both forms of the input
		}
		c.Renewals = append(c.Renewals, in)
		fs = append(fs, f)
	}
	return c, fs
}

func runCampaign(t *testing.T, env *testsuite.TestWorkflowEnvironment, c Campaign) *Report {
	t.Helper()
	env.ExecuteWorkflow(CampaignWorkflow, c)
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var rep Report
	require.NoError(t, env.GetWorkflowResult(&rep))
	return &rep
}

func queryReport(t *testing.T, env *testsuite.TestWorkflowEnvironment) *Report {
	t.Helper()
	v, err := env.QueryWorkflow(QueryReport)
	require.NoError(t, err)
	var rep Report
	require.NoError(t, v.Get(&rep))
	return &rep
}

func TestCampaignOf200RenewalsEndsWithEveryOneDoneWithinItsLimits(t *testing.T) {
	w := newWorld(t)
	w.pause = time.Millisecond // adapter calls of concurrent renewals overlap
	c, fs := campaign(w, 200, 10, true)
	c.MaxConcurrent, c.MaxPerReceiver = 12, 3
	rep := runCampaign(t, w.env(), c)

	assert.Equal(t, 200, rep.Total)
	assert.Equal(t, map[string]int{"done": 200}, rep.Counts)
	assert.False(t, rep.Paused)
	for _, f := range fs {
		assert.Equal(t, "New Root CA", f.live(t).Issuer.CommonName, "%s: the live alias holds the new certificate", f.name)
		assert.Len(t, f.receiver.accepted, 1, "%s: the receiver accepts only the new certificate", f.name)
		for _, c := range destructive(f.input.Plan.Sequence, f.name) {
			assert.Equal(t, 1, w.count(c), "%s ran once", c)
		}
	}
	// The limits, as the fakes saw them: adapter calls in flight at once,
	// per receiver and overall (the CA, shared, counts only overall).
	w.mu.Lock()
	defer w.mu.Unlock()
	for r, n := range w.maxIn {
		if r == "ca" {
			continue
		}
		assert.LessOrEqual(t, n, 3, "calls in flight at once on %s", r)
	}
	assert.LessOrEqual(t, w.maxTotal, 12, "calls in flight at once (one activity at a time per renewal, its calls one after the other)")
	// The campaign ran as many at once as it may.
	assert.Equal(t, 12, rep.MaxRunning)
	assert.Equal(t, 3, rep.MaxRunningPerReceiver)
	t.Logf("most adapter calls in flight at once: %d overall; per receiver %v", w.maxTotal, w.maxIn)
}

func TestCampaignPausesWhenMoreThanTheThresholdFailAGate(t *testing.T) {
	w := newWorld(t)
	c, fs := campaign(w, 100, 10, false)
	c.MaxConcurrent, c.MaxPerReceiver, c.PauseAfter = 5, 1, 5
	var refused []string
	for i, f := range fs {
		if i%10 == 7 { // 10%
			f.receiver.refuse = true
			refused = append(refused, f.name)
		}
	}
	env := w.env()
	var paused *Report
	env.RegisterDelayedCallback(func() {
		paused = queryReport(t, env)
		env.SignalWorkflow(SignalResume, nil)
	}, 30*24*time.Hour)
	rep := runCampaign(t, env, c)

	require.NotNil(t, paused)
	assert.True(t, paused.Paused, "paused once more than 5 were refused")
	assert.Contains(t, paused.PausedReason, "more than the campaign's threshold of 5")
	require.Len(t, paused.Refused, 1)
	assert.Equal(t, renewal.GateReceiverAcceptsBoth, paused.Refused[0].Gate)
	got := paused.Refused[0].Renewals
	assert.GreaterOrEqual(t, len(got), 6)
	assert.Subset(t, refused, got, "refused by name")
	assert.Positive(t, paused.Counts["pending"], "no renewal started while paused")
	assert.Zero(t, paused.Counts["running"], "those running when it paused ended")

	// Resumed: every other renewal is done, and the report names the ten.
	assert.False(t, rep.Paused)
	assert.Equal(t, 90, rep.Counts["done"])
	assert.Equal(t, 10, rep.Counts["refused"])
	require.Len(t, rep.Refused, 1)
	assert.Equal(t, refused, rep.Refused[0].Renewals)
	for _, f := range fs {
		if slices.Contains(refused, f.name) {
			assert.Equal(t, 0, w.count("Activate:"+f.name), "%s: refused before the swap", f.name)
			assert.Equal(t, "Old Root CA", f.live(t).Issuer.CommonName)
		}
	}
	md := rep.Markdown()
	assert.Contains(t, md, "| refused | 10 |")
	assert.Contains(t, md, "`receiver_accepts_both`, receiver accepts the old and the new chain (10): `tenant-007`, `tenant-017`")
	js, err := json.Marshal(rep)
	require.NoError(t, err)
	assert.Contains(t, string(js), `"refused":[{"gate":"receiver_accepts_both","renewals":["tenant-007",`)
}

func TestCampaignReportSaysWhoIsWaitedFor(t *testing.T) {
	w := newWorld(t)
	c, _ := campaign(w, 6, 3, true)
	c.MaxConcurrent, c.MaxPerReceiver = 6, 2
	for i := range c.Renewals {
		if i%2 == 0 {
			c.Renewals[i].Options.Confirm = []Confirm{{Step: renewal.StepConfirmAcceptBoth, Timeout: 24 * time.Hour}, {Step: renewal.StepConfirmSwapped, Timeout: 24 * time.Hour}}
		}
	}
	env := w.env()
	var during *Report
	env.RegisterDelayedCallback(func() {
		during = queryReport(t, env)
		for i, in := range c.Renewals {
			if i%2 == 0 {
				id := renewal.StepConfirmAcceptBoth
				if in.Plan.Sequence == renewal.SequenceDowntime {
					id = renewal.StepConfirmSwapped
				}
				require.NoError(t, env.SignalWorkflowByID("default-test-workflow-id/"+in.Name, SignalConfirm, Confirmation{Step: id}))
			}
		}
	}, 3*24*time.Hour)
	rep := runCampaign(t, env, c)

	require.NotNil(t, during)
	require.Len(t, during.Waiting, 1, "%+v", during.Waiting)
	assert.Equal(t, renewal.ReceiverAdmin, during.Waiting[0].Role)
	assert.Equal(t, []string{"tenant-000", "tenant-002", "tenant-004"}, during.Waiting[0].Renewals)
	assert.Equal(t, 3, during.Counts["done"])
	md := during.Markdown()
	assert.Contains(t, md, "- on the receiver administrator (3): `tenant-000`, `tenant-002`, `tenant-004`")
	assert.Contains(t, md, "(overdue)")
	assert.True(t, strings.Contains(md, "| `tenant-000` | `rcv-0` | waiting | step 4 (confirm-accept-both)"), md)

	assert.Equal(t, map[string]int{"done": 6}, rep.Counts)
}

func TestCompactInputIsAFractionOfThePlan(t *testing.T) {
	w := newWorld(t)
	f := w.add("tenant-000", "rcv-0", renewal.SequenceDowntime)
	full, err := json.Marshal(f.input)
	require.NoError(t, err)
	small, err := json.Marshal(f.input.Compact())
	require.NoError(t, err)
	assert.Less(t, 4*len(small), len(full), "compact %d bytes, full %d", len(small), len(full))
	t.Logf("input per renewal: %d bytes with the plan, %d compact", len(full), len(small))

	st := run(t, w.env(), f.input.Compact())
	assert.Equal(t, renewal.StatusDone, st.State, "%v", st)
	assert.Len(t, st.Steps, 12)
}
