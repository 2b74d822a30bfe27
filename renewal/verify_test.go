package renewal

import (
	"context"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/certroll/certroll/chain"
	"github.com/certroll/certroll/keystore"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runUntil runs f's renewal and stops it (as a kill would) once the
// journal records step id as done.
func runUntil(t *testing.T, f *fixture, id StepID) {
	t.Helper()
	f.exec.hook = func(point string, s StepID) {
		if point == hookRecorded && s == id {
			panic(stopHere{})
		}
	}
	defer func() {
		f.exec.hook = nil
		r := recover()
		if _, ok := r.(stopHere); !ok {
			t.Fatalf("the run did not stop after %s: %v", id, r)
		}
	}()
	_, _ = f.exec.Run(context.Background())
}

// editJournal changes the fixture's journal as a person with an editor
// would.
func (f *fixture) editJournal(t *testing.T, edit func(j *journalFile)) {
	t.Helper()
	j := f.journal(t)
	edit(j)
	require.NoError(t, j.write(f.exec.Journal, clock()))
}

// resetAfter marks every step after id pending, as an attacker who wants
// the later steps to run again would.
func resetAfter(j *journalFile, id StepID) {
	after := false
	for i := range j.Steps {
		if after {
			j.Steps[i] = stepRecord{Number: j.Steps[i].Number, ID: j.Steps[i].ID, Destructive: j.Steps[i].Destructive, Status: StatusPending}
		}
		if j.Steps[i].ID == id {
			after = true
		}
	}
	j.State = StatusRunning
}

// requireJournalError checks that err is a *JournalError for field, that
// nothing was changed at the receiver by the refused run, and that the
// error says what to do.
func requireJournalError(t *testing.T, f *fixture, err error, field string) *JournalError {
	t.Helper()
	require.ErrorIs(t, err, ErrJournal)
	var je *JournalError
	require.ErrorAs(t, err, &je, "%v", err)
	assert.Equal(t, field, je.Field, "%v", err)
	assert.Equal(t, f.exec.Journal, je.path)
	assert.NotEmpty(t, je.Expected)
	assert.NotEmpty(t, je.Found)
	assert.Contains(t, err.Error(), f.exec.Journal)
	assert.Contains(t, err.Error(), field)
	return je
}

// TestJournalForeignRoot is the issue's attack: the journal's new root
// replaced by a foreign one, the later steps reset. The run refuses
// before the receiver is told to trust anything.
func TestJournalForeignRoot(t *testing.T) {
	attacker := newLocalCA(t, "Attacker Root")
	tests := []struct {
		name  string
		edit  func(j *journalFile)
		field string
	}{
		{"root only", func(j *journalFile) {
			j.Artifacts.NewRoot = pemOf(attacker.Cert)
		}, "artifacts.new_root_pem"},
		{"root and its fingerprint", func(j *journalFile) {
			j.Artifacts.NewRoot = pemOf(attacker.Cert)
			j.Artifacts.NewRootFingerprint = keystore.CertFingerprint(attacker.Cert).Hex()
		}, "artifacts.new_root_fingerprint"},
		{"root and a chain to it", func(j *journalFile) {
			c := issue(t, attacker, "tenant-client", keystore.ECDSAP256)
			j.Artifacts.NewRoot = pemOf(attacker.Cert)
			j.Artifacts.NewChain = encodeChain(c.chain)
			j.Artifacts.NewFingerprint = keystore.CertFingerprint(c.chain[0]).Hex()
		}, "artifacts.new_root_pem"},
		{"new chain not signed by the root", func(j *journalFile) {
			c := issue(t, attacker, "tenant-client", keystore.ECDSAP256)
			j.Artifacts.NewChain = encodeChain(c.chain[:1])
			j.Artifacts.NewFingerprint = keystore.CertFingerprint(c.chain[0]).Hex()
		}, "artifacts.new_chain_pem"},
		{"new fingerprint", func(j *journalFile) {
			j.Artifacts.NewFingerprint = fp("other")
		}, "artifacts.new_chain_pem"},
		{"old chain", func(j *journalFile) {
			j.Artifacts.OldChain = encodeChain(issue(t, attacker, "tenant-client", keystore.ECDSAP256).chain)
		}, "artifacts.old_chain_pem"},
		{"old root", func(j *journalFile) {
			j.Artifacts.OldRoot = pemOf(attacker.Cert)
		}, "artifacts.old_root_pem"},
		{"old chain's issuers swapped, its leaf kept", func(j *journalFile) {
			chain, err := keystore.ParseCertificates([]byte(j.Artifacts.OldChain))
			require.NoError(t, err)
			j.Artifacts.OldChain = encodeChain([]*x509.Certificate{chain[0], attacker.Cert})
		}, "artifacts.old_chain_pem"},
		{"keystore", func(j *journalFile) {
			j.Keystore = "/elsewhere/client.p12"
		}, "keystore"},
		{"history alias", func(j *journalFile) {
			j.Artifacts.HistoryAlias = "partner"
		}, "artifacts.history_alias"},
		{"hand-over files", func(j *journalFile) {
			j.Artifacts.HandOver = []string{"/etc/passwd"}
		}, "artifacts.hand_over"},
		{"steps out of order", func(j *journalFile) {
			j.Steps[5].Status = StatusDone // step 6 done, step 5 pending
		}, "steps[5].status"},
		{"destructive marking", func(j *journalFile) {
			j.Steps[4].Destructive = false
		}, "steps[4].destructive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, SequenceOverlap)
			runUntil(t, f, StepConfirmAcceptBoth)
			f.editJournal(t, func(j *journalFile) {
				resetAfter(j, StepGenerateKey)
				tc.edit(j)
			})
			before := f.files(t)
			calls := len(f.calls.all())
			_, err := f.exec.Run(context.Background())
			requireJournalError(t, f, err, tc.field)
			assert.Len(t, f.calls.all(), calls, "no call to the CA, receiver, runtime or notifier")
			assert.Equal(t, before, f.files(t), "no file changed")
			for _, r := range f.rcv.roots {
				assert.NotEqual(t, "CN=Attacker Root", chain.Name(r))
			}
			_, err = f.exec.DryRun(context.Background())
			requireJournalError(t, f, err, tc.field)
		})
	}
}

// TestJournalPlanWithOtherRoot: editing the new root's fingerprint in the
// plan (the example's plan.json) after the journal was made is refused,
// before and after step 1.
func TestJournalPlanWithOtherRoot(t *testing.T) {
	attacker := newLocalCA(t, "Attacker Root")
	for _, after := range []StepID{"", StepGenerateKey} {
		t.Run("after "+string(after), func(t *testing.T) {
			f := newFixture(t, SequenceOverlap)
			if after == "" {
				f.ca.err = errors.New("CA offline") // the journal exists, step 1 failed
				_, err := f.exec.Run(context.Background())
				require.Error(t, err)
				f.ca.err = nil
			} else {
				runUntil(t, f, after)
			}
			p := f.plan.Params
			p.NewRootFingerprint = keystore.CertFingerprint(attacker.Cert).Hex()
			p.NewRootSubject = "CN=Attacker Root"
			f.exec.Plan = mustBuild(t, SequenceOverlap, p)
			f.ca.other = attacker
			_, err := f.exec.Run(context.Background())
			requireJournalError(t, f, err, "artifacts.new_root_fingerprint")
			assert.Zero(t, f.calls.count("rcv.TrustRoot"))
		})
	}
}

// TestPlanMustBeBuilt: a plan that is not what Build gives for its
// parameters (a destructive marking dropped, a gate removed, a step
// left out) is refused before anything runs.
func TestPlanMustBeBuilt(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(p *Plan)
		step  int
		field string
	}{
		{"destructive", func(p *Plan) { p.Steps[8].Destructive = false }, 9, "Destructive"},
		{"gate", func(p *Plan) { p.Steps[8].Gate = nil }, 9, "Gate"},
		{"gate point", func(p *Plan) { g := *p.Steps[4].Gate; g.When = GateAfter; p.Steps[4].Gate = &g }, 5, "Gate"},
		{"detail", func(p *Plan) { p.Steps[1].Detail = "Send the files to attacker@example.com." }, 2, "Detail"},
		{"steps", func(p *Plan) {
			p.Steps = p.Steps[:8]
		}, 0, "Steps"},
		{"params", func(p *Plan) {
			// Build holds times in UTC.
			zone := time.FixedZone("CET", 3600)
			p.Params.Window = Window{Start: clock().In(zone), End: clock().Add(time.Hour).In(zone)}
		}, 0, "Params"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, SequenceOverlap)
			p := mustBuild(t, SequenceOverlap, f.plan.Params)
			tc.edit(p)
			require.NoError(t, p.validate(), "well formed, but not built")
			f.exec.Plan = p
			_, err := f.exec.Run(context.Background())
			require.ErrorIs(t, err, ErrInvalidPlan)
			var pe *PlanError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tc.step, pe.Step)
			assert.Equal(t, tc.field, pe.Field)
			assert.Contains(t, err.Error(), "Build")
			assert.Empty(t, f.calls.all())
			assert.NoFileExists(t, f.exec.Journal)
		})
	}
}

// TestEndStateMarkedDone is the issue's second attack: steps 7 to 9
// marked done by hand. The run does not report completed: it names what
// differs, and the journal records the run as failed.
func TestEndStateMarkedDone(t *testing.T) {
	f := newFixture(t, SequenceOverlap)
	runUntil(t, f, StepNotifyRestart)
	f.editJournal(t, func(j *journalFile) {
		for i := 6; i < 9; i++ {
			j.Steps[i].Status = StatusDone
		}
		j.State = StatusDone
	})
	res, err := f.exec.Run(context.Background())
	require.ErrorIs(t, err, ErrUnexpectedState)
	var ee *EndStateError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, StatusFailed, res.State)
	assert.Equal(t, StatusFailed, f.journal(t).State)
	whats := map[StepID][]string{}
	for _, d := range ee.Differences {
		whats[d.Step] = append(whats[d.Step], d.What)
		assert.NotEmpty(t, d.Expected)
		assert.NotEmpty(t, d.Found)
	}
	assert.Equal(t, []string{`node "node-a"`, `node "node-b"`, `node "node-c"`}, whats[StepRestartNodes])
	assert.Equal(t, []string{"the receiver", "the receiver's roots", "the receiver's client certificates"}, whats[StepRemoveOld])
	assert.NotContains(t, whats, StepSwapEntry, "the live alias does hold the new certificate")
	assert.Contains(t, err.Error(), "the old certificate")
	assert.Contains(t, err.Error(), "a person must look")
	assert.Zero(t, f.calls.count("rcv.Remove"), "nothing is done for steps the journal says are done")

	// Running again reports the same: the journal is not trusted.
	_, err = f.exec.Run(context.Background())
	require.ErrorAs(t, err, &ee)
}

// TestEndStateChangedAfterward: a finished renewal whose receiver trusts
// the old root again is not reported as done when run again.
func TestEndStateChangedAfterward(t *testing.T) {
	for _, seq := range []Sequence{SequenceOverlap, SequenceDowntime} {
		t.Run(string(seq), func(t *testing.T) {
			f := newFixture(t, seq)
			_, err := f.exec.Run(context.Background())
			require.NoError(t, err)
			f.rcv.roots = append(f.rcv.roots, f.oldCA.Cert)
			f.rcv.accepted = append(f.rcv.accepted, f.old.chain[0])
			res, err := f.exec.Run(context.Background())
			var ee *EndStateError
			require.ErrorAs(t, err, &ee)
			assert.Equal(t, StatusFailed, res.State)
			var steps []StepID
			for _, d := range ee.Differences {
				steps = append(steps, d.Step)
			}
			assert.Equal(t, []StepID{StepRemoveOld, StepRemoveOld, StepRemoveOld}, steps)
		})
	}
}

// TestEndStateBlindReceiver: without an inspector, the end state is what
// Accepts says: the old chain must be refused.
func TestEndStateBlindReceiver(t *testing.T) {
	f := newFixture(t, SequenceOverlap)
	f.exec.Receiver = blindReceiver{f.rcv}
	_, err := f.exec.Run(context.Background())
	require.NoError(t, err)
	f.rcv.roots = append(f.rcv.roots, f.oldCA.Cert)
	f.rcv.accepted = append(f.rcv.accepted, f.old.chain[0])
	_, err = f.exec.Run(context.Background())
	var ee *EndStateError
	require.ErrorAs(t, err, &ee)
	require.Len(t, ee.Differences, 1)
	assert.Equal(t, "the receiver", ee.Differences[0].What)
	assert.Contains(t, ee.Differences[0].Expected, "refuses the old chain")
}
