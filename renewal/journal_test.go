package renewal

import (
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testJournal(t testing.TB) *journalFile {
	t.Helper()
	plan := mustBuild(t, SequenceOverlap, testParams(t))
	j := newJournal(plan, clock())
	j.Steps[0].Status = StatusDone
	j.Steps[0].Started = clock()
	j.Steps[1].Status = StatusStarted
	j.Steps[4].Gate = &gateRecord{Kind: GateReceiverAcceptsBoth, When: GateBefore, At: clock(), Problems: []string{"refused"}}
	j.Artifacts.OldChain = "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"
	j.Artifacts.OldFingerprint = plan.Params.OldFingerprint
	j.addFile("/tmp/a")
	j.addFile("/tmp/a")
	return j
}

func TestJournalRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "j.json")
	j := testJournal(t)
	require.NoError(t, j.write(path, clock().Add(time.Minute)))
	got, err := readJournal(path)
	require.NoError(t, err)
	assert.Equal(t, j, got)
	assert.Equal(t, []string{"/tmp/a"}, got.Files)
	assert.Equal(t, clock().Add(time.Minute), got.Updated)

	// ReadJournal gives the same record as a Result, for a status display.
	res, err := ReadJournal(path)
	require.NoError(t, err)
	assert.Equal(t, &Result{
		Sequence: j.Sequence, State: j.State,
		Params: Params{Alias: j.Alias, Keystore: j.Keystore,
			OldFingerprint: j.Artifacts.OldFingerprint, NewFingerprint: j.Artifacts.NewFingerprint,
			OldRootFingerprint: j.Artifacts.OldRootFingerprint, NewRootFingerprint: j.Artifacts.NewRootFingerprint},
		Created: j.Created, Updated: j.Updated, Steps: publicSteps(j.Steps),
		journal: path, Files: j.Files,
	}, res)
	assert.Equal(t, j.Steps[0].public(), *res.Step(j.Steps[0].ID))
	assert.Nil(t, res.Step("no-such-step"))

	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o600), fi.Mode().Perm())
	require.NoError(t, os.Chmod(path, 0o640))
	require.NoError(t, j.write(path, clock()))
	fi, err = os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o640), fi.Mode().Perm(), "an existing journal keeps its mode")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.Equal(t, []string{"j.json", "j.json.lock"}, names, "no temporary file is left behind; the lock file stays")

	data, err := os.ReadFile(path)
	require.NoError(t, err)
	for _, field := range []string{`"schema_version": 1`, `"sequence": "overlap"`, `"status": "done"`, `"status": "started"`,
		`"status": "pending"`, `"kind": "receiver_accepts_both"`, `"old_chain_pem"`} {
		assert.Contains(t, string(data), field)
	}
}

func TestReadJournalRefuses(t *testing.T) {
	good, err := json.Marshal(testJournal(t))
	require.NoError(t, err)
	edit := func(fn func(m map[string]any)) string {
		var m map[string]any
		require.NoError(t, json.Unmarshal(good, &m))
		fn(m)
		b, err := json.Marshal(m)
		require.NoError(t, err)
		return string(b)
	}
	step := func(m map[string]any, i int) map[string]any { return m["steps"].([]any)[i].(map[string]any) }
	tests := []struct {
		name, data, want string
	}{
		{"not JSON", "{", "decoding"},
		{"no version", edit(func(m map[string]any) { delete(m, "schema_version") }), "expected schema_version 1, found none"},
		{"version 2", edit(func(m map[string]any) { m["schema_version"] = 2 }), "expected schema_version 1, found 2"},
		{"unknown field", edit(func(m map[string]any) { m["extra"] = true }), `unknown field "extra"`},
		{"unknown state", edit(func(m map[string]any) { m["state"] = "paused" }), `unknown run state "paused"`},
		{"unknown status", edit(func(m map[string]any) { step(m, 2)["status"] = "half" }), `step 3: unknown status "half"`},
		{"steps out of order", edit(func(m map[string]any) { step(m, 2)["number"] = 7 }), "step record 3 has number 7, expected 3"},
		{"unknown sequence", edit(func(m map[string]any) { m["sequence"] = "sideways" }), `unknown sequence "sideways"`},
		{"unknown gate kind", edit(func(m map[string]any) { step(m, 4)["gate"].(map[string]any)["kind"] = "vibes" }), `unknown gate kind "vibes"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "j.json")
			require.NoError(t, os.WriteFile(path, []byte(tc.data), 0o600))
			_, err := ReadJournal(path)
			require.ErrorIs(t, err, ErrJournal)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), path)
		})
	}
	t.Run("too large", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "j.json")
		require.NoError(t, os.WriteFile(path, []byte(`{"schema_version":1,"x":"`+strings.Repeat("a", maxJournal)+`"}`), 0o600))
		_, err := ReadJournal(path)
		require.ErrorIs(t, err, ErrJournal)
		assert.Contains(t, err.Error(), "expected at most 16777216 bytes")
	})
	t.Run("missing", func(t *testing.T) {
		_, err := ReadJournal(filepath.Join(t.TempDir(), "none.json"))
		require.ErrorIs(t, err, fs.ErrNotExist)
	})
}

func TestJournalMatches(t *testing.T) {
	p := testParams(t)
	plan := mustBuild(t, SequenceOverlap, p)
	other := p
	other.Alias = "another"
	q := p
	q.OldFingerprint = fp("something else")
	ks := p
	ks.Keystore = "/srv/other/client.p12"
	tests := []struct {
		name  string
		plan  *Plan
		field string
		want  string
	}{
		{"same", plan, "", ""},
		{"sequence", mustBuild(t, SequenceDowntime, p), "sequence", `sequence: expected "downtime" as in the plan, found "overlap"`},
		{"alias", mustBuild(t, SequenceOverlap, other), "alias", `alias: expected "another" as in the plan, found "tenant-client"`},
		{"old certificate", mustBuild(t, SequenceOverlap, q), "old_fingerprint", "old_fingerprint: expected"},
		// The journal's keystore was ignored.
		{"keystore", mustBuild(t, SequenceOverlap, ks), "keystore", `keystore: expected "/srv/other/client.p12" as in the plan, found "/srv/tenant/client.p12"`},
	}
	j := newJournal(plan, clock())
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := j.matches(tc.plan)
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrJournal)
			var je *JournalError
			require.ErrorAs(t, err, &je)
			assert.Equal(t, tc.field, je.Field)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), "give the plan it was written for", "says what to do")
		})
	}
	t.Run("steps", func(t *testing.T) {
		k := newJournal(plan, clock())
		k.Steps[3].ID = "something-else"
		err := k.matches(plan)
		require.ErrorIs(t, err, ErrJournal)
		assert.Contains(t, err.Error(), `steps[3].id: expected "confirm-accept-both" as in the plan, found "something-else"`)
	})
}

func TestJournalLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.json")
	unlock, err := lockJournal(path)
	require.NoError(t, err)
	_, err = lockJournal(path)
	require.ErrorIs(t, err, ErrJournalLocked)
	unlock()
	unlock2, err := lockJournal(path)
	require.NoError(t, err)
	unlock2()
}

// FuzzParseJournal checks that no input makes the journal reader panic,
// and that what it accepts writes back to something it reads the same.
func FuzzParseJournal(f *testing.F) {
	good, err := json.Marshal(testJournal(f))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"schema_version":1,"state":"done","steps":[]}`))
	f.Add([]byte(`{"schema_version":1}`))
	f.Add([]byte(`{"schema_version":2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		j, err := parseJournal(data)
		if err != nil {
			return
		}
		again, err := json.Marshal(j)
		if err != nil {
			return // a value that does not marshal, such as an unnamed enum
		}
		k, err := parseJournal(again)
		if err != nil {
			t.Fatalf("journal accepted once refused after a round trip: %v\n%s", err, again)
		}
		if k.State != j.State || len(k.Steps) != len(j.Steps) {
			t.Fatalf("round trip changed the journal: %+v vs %+v", j, k)
		}
	})
}

// TestJournalGolden pins the journal's JSON form: a journal written by
// this version must read back in later ones, so a change to this file is
// a change of journalVersion.
func TestJournalGolden(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.json")
	require.NoError(t, testJournal(t).write(path, clock()))
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	golden := filepath.Join("testdata", "exec", "journal-v1.json.golden")
	if *update {
		require.NoError(t, os.MkdirAll(filepath.Dir(golden), 0o755))
		require.NoError(t, os.WriteFile(golden, got, 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	assert.Equal(t, string(want), string(got))
	j, err := readJournal(golden)
	require.NoError(t, err)
	assert.Equal(t, testJournal(t), j)
}

// TestJournalWaiting: only step 1 (for the CA's reply) and the window's
// step wait, and the run is waiting exactly when one does; any other waiting status is refused
// with a *JournalError, by ReadJournal and by a run's check against its
// plan.
func TestJournalWaiting(t *testing.T) {
	plan := mustBuild(t, SequenceOverlap, testParams(t))
	tests := []struct {
		name  string
		edit  func(j *journalFile)
		field string
		want  string
	}{
		{"step 1 waiting", func(j *journalFile) {
			j.State, j.Steps[0].Status = StatusWaiting, StatusWaiting
		}, "", ""},
		{"another step waiting", func(j *journalFile) {
			j.State = StatusWaiting
			j.Steps[0].Status, j.Steps[1].Status, j.Steps[2].Status = StatusDone, StatusDone, StatusWaiting
		}, "steps[2].status", `expected not "waiting" (only step "generate-key" waits, for the CA's reply, and step "agree-window", for the window to open), found "waiting" for step "receiver-accept-both"`},
		{"the swap waiting after a done prefix", func(j *journalFile) {
			j.State = StatusRunning
			for i := range 4 {
				j.Steps[i].Status = StatusDone
			}
			j.Steps[4].Status = StatusWaiting
		}, "steps[4].status", `for step "swap-entry"`},
		{"run waiting, step 1 pending", func(j *journalFile) {
			j.State = StatusWaiting
		}, "state", `expected "waiting" only while step "generate-key" or "agree-window" is "waiting", found "waiting" with no step waiting`},
		{"run waiting, step 1 done", func(j *journalFile) {
			j.State, j.Steps[0].Status = StatusWaiting, StatusDone
		}, "state", "with no step waiting"},
		{"step 1 waiting, run failed", func(j *journalFile) {
			j.State, j.Steps[0].Status = StatusFailed, StatusWaiting
		}, "state", `expected "waiting" while step "generate-key" is "waiting", found "failed"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := newJournal(plan, clock())
			j.Artifacts.OldChain = "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"
			j.Artifacts.OldFingerprint = plan.Params.OldFingerprint
			tc.edit(j)
			path := filepath.Join(t.TempDir(), "j.json")
			require.NoError(t, j.write(path, clock()))
			_, rerr := ReadJournal(path)
			merr := j.matches(plan)
			if tc.want == "" {
				require.NoError(t, rerr)
				require.NoError(t, merr)
				return
			}
			for _, err := range []error{rerr, merr} {
				require.ErrorIs(t, err, ErrJournal)
				var je *JournalError
				require.ErrorAs(t, err, &je)
				assert.Equal(t, tc.field, je.Field)
				assert.Contains(t, err.Error(), tc.want)
				assert.Contains(t, err.Error(), "restore the journal the executor wrote")
			}
			assert.Contains(t, rerr.Error(), path)
		})
	}
}
