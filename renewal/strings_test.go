package renewal

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStringsNameWhatAPersonKnows prints what the tenant's operations
// return with %v: each reads as a sentence naming certificates, never as
// pointers, keys or passwords.
func TestStringsNameWhatAPersonKnows(t *testing.T) {
	f := newFixture(t, SequenceOverlap)
	noPointer := func(t *testing.T, s string) {
		t.Helper()
		assert.NotContains(t, s, "0x", "no pointer")
		assert.NotContains(t, s, "&{", "no struct dump")
		assert.NotContains(t, s, string(livePassword), "no password")
	}

	p, err := f.tenant.Stage(f.old.chain[0])
	require.NoError(t, err)
	s := fmt.Sprint(p)
	noPointer(t, s)
	assert.Contains(t, s, `pending key for "CN=tenant-client": awaiting the CA's reply`)
	assert.Contains(t, s, "certificate request ready")

	next := signPending(t, f)
	p, err = f.tenant.Pending()
	require.NoError(t, err)
	s = fmt.Sprint(p)
	noPointer(t, s)
	assert.Contains(t, s, `signed, "CN=tenant-client" (SHA-256 `)
	assert.Contains(t, s, `issued by "CN=New Root CA"`)

	a, err := f.tenant.Activate(f.old.chain[0], next[0])
	require.NoError(t, err)
	s = fmt.Sprint(a)
	noPointer(t, s)
	assert.Contains(t, s, fmt.Sprintf("alias %q now holds %s, before %s", liveAlias, describeCert(next[0]), describeCert(f.old.chain[0])))
	assert.Contains(t, s, fmt.Sprintf("history alias %q; 3 files written", a.HistoryAlias))

	s = fmt.Sprint(f.tenant)
	noPointer(t, s)
	assert.Contains(t, s, f.tenant.stagingPath())

	rec := StepRecord{Number: 5, ID: StepSwapEntry, Status: StatusDone, Attempts: 1, Note: "swapped"}
	assert.Equal(t, "step 5 swap-entry: done (1 attempt): swapped", rec.String())
	ps := StepRecord{Number: 5, ID: StepSwapEntry, Status: StatusPending,
		Gate: &GateRecord{Kind: GateReceiverAcceptsBoth, When: GateBefore, Checked: []string{"old"}, Deferred: []string{"new"}}, Would: "swap"}
	assert.Equal(t, "step 5 swap-entry: pending; gate before: receiver accepts the old and the new chain: 1 condition checked, 1 condition deferred; would: swap", ps.String())
	assert.Equal(t, "12 steps", plural(12, "step"))
}
