package renewal

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/certroll/certroll/internal/atomicfile"
)

// journalVersion is the version of the journal's JSON form that this
// package writes and reads. A reader refuses any other version.
const journalVersion = 1

// maxJournal bounds the size of a journal file read back. A journal holds
// a few certificate chains and one record per step; 16 MiB is far beyond
// that, and the bound keeps a damaged or hostile file from costing memory.
const maxJournal = 16 << 20

// Status is how far a step, or a whole run, got, as the journal records
// it: a step is pending, started, waiting, done or failed; a run is
// running, waiting, done, failed or rolled back.
type Status string

const (
	// StatusPending: the step has not started.
	StatusPending Status = "pending"
	// StatusStarted: the executor recorded the step as started and may or
	// may not have performed its action; a resumed run checks the state
	// before acting again.
	StatusStarted Status = "started"
	// StatusRunning: a run is in progress, or was interrupted.
	StatusRunning Status = "running"
	// StatusDone: the step's action and gate completed; for a run, every
	// step is done.
	StatusDone Status = "done"
	// StatusFailed: the step's action or gate failed; [StepRecord.Error]
	// says why. A resumed run tries the step again (a destructive step
	// whose action completed only has its gate checked again). For a
	// run: the last run stopped at a failed step or gate.
	StatusFailed Status = "failed"
	// StatusWaiting: the step waits for an answer that comes later, such
	// as the reply of a CA that signs by hand ([ErrAwaitingReply]); for a
	// run: the last run stopped there, cleanly. Nothing failed: the next
	// run does the step again and goes on if the answer has come.
	StatusWaiting Status = "waiting"
	// StatusRolledBack: [Executor.Rollback] restored the old key entry;
	// a later run starts again from the swap of the key entry. Only a
	// run has it.
	StatusRolledBack Status = "rolled_back"
)

// validStep reports whether s is a step's status.
func (s Status) validStep() bool {
	return s == StatusPending || s == StatusStarted || s == StatusWaiting || s == StatusDone || s == StatusFailed
}

// validRun reports whether s is a run's status.
func (s Status) validRun() bool {
	return s == StatusRunning || s == StatusWaiting || s == StatusFailed || s == StatusDone || s == StatusRolledBack
}

// journalFile is the executor's record of a run, kept in a JSON file so that
// a run interrupted at any point can be resumed without repeating a
// destructive step. It holds certificates and fingerprints, never a
// private key or a password.
//
// The executor writes the journal atomically (a temporary file in the same
// directory, synced, renamed over the journal, then the directory synced)
// after every change of a step's status, so that a reader sees the old
// journal or the new one, never a mix.
type journalFile struct {
	// SchemaVersion is [journalVersion].
	SchemaVersion int `json:"schema_version"`
	// Sequence, Alias, Keystore and OldFingerprint identify the renewal;
	// a resumed run refuses a journal whose values differ from its plan's.
	Sequence       Sequence `json:"sequence"`
	Alias          string   `json:"alias"`
	Keystore       string   `json:"keystore"`
	OldFingerprint string   `json:"old_fingerprint"`
	// State is the state of the run as a whole.
	State Status `json:"state"`
	// Created and Updated are the executor's clock when the journal was
	// made and last written.
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
	// Steps has one record per step of the plan, in order.
	Steps []stepRecord `json:"steps"`
	// Artifacts are what a resumed run needs from earlier steps.
	Artifacts journalArtifacts `json:"artifacts"`
	// Files lists the files the runs wrote, besides the journal, in the
	// order first written.
	Files []string `json:"files,omitempty"`
}

// StepRecord is the progress of one step, as the journal records it.
type StepRecord struct {
	// Number and ID are the plan step's.
	Number int
	ID     StepID
	// Status is the step's progress.
	Status Status
	// Attempts counts the runs that started the step.
	Attempts int
	// Note says what the action did, or why nothing was needed.
	Note string
	// Error is the message of the error that failed the step.
	Error string
	// Gate is the last evaluation of the step's gate; nil if it has none
	// or it was not evaluated. In a dry run it is the evaluation today.
	Gate *GateRecord
	// Would says, in a dry run, what a run would do for the step; empty
	// for a done step and outside a dry run.
	Would string
}

// public returns what a caller sees of the record.
func (r *stepRecord) public() StepRecord {
	return StepRecord{Number: r.Number, ID: r.ID, Status: r.Status, Attempts: r.Attempts,
		Note: r.Note, Error: r.Error, Gate: r.Gate.public()}
}

// publicSteps returns what a caller sees of the records.
func publicSteps(recs []stepRecord) []StepRecord {
	var out []StepRecord
	for i := range recs {
		out = append(out, recs[i].public())
	}
	return out
}

// stepRecord is the journal's record of one step; [StepRecord] is what
// a caller sees of it.
type stepRecord struct {
	// Number and ID are the plan step's.
	Number int    `json:"number"`
	ID     StepID `json:"id"`
	// Destructive is the plan step's marking.
	Destructive bool `json:"destructive"`
	// Status is the step's progress.
	Status Status `json:"status"`
	// Attempts counts the runs that started the step.
	Attempts int `json:"attempts,omitempty"`
	// Started is when the step last started; Acted when its action last
	// completed; Finished when it was last done or failed.
	Started  time.Time `json:"started,omitzero"`
	Acted    time.Time `json:"acted,omitzero"`
	Finished time.Time `json:"finished,omitzero"`
	// Note says what the action did, or why nothing was needed.
	Note string `json:"note,omitempty"`
	// Error is the message of the error that failed the step.
	Error string `json:"error,omitempty"`
	// Gate is the last evaluation of the step's gate; nil if it has none
	// or it was not evaluated. In a dry run it is the evaluation today.
	Gate *gateRecord `json:"gate,omitempty"`
}

// GateRecord is one evaluation of a gate: by a run (recorded in the
// journal) or by a dry run. A dry run evaluates the conditions that do
// not depend on steps not yet done (the receiver cannot accept a
// certificate that does not exist yet) against the state today, and
// defers the others.
type GateRecord struct {
	// Kind and When are the gate's.
	Kind GateKind
	When GatePoint
	// Passed is set when every condition was evaluated and held.
	Passed bool
	// Problems are those of the failure, one line each.
	Problems []string
	// Checked lists the conditions a dry run evaluated; Deferred the
	// others, each with the step it waits for. Both are empty for a
	// run's evaluation, which checks every condition.
	Checked, Deferred []string
}

// gateRecord is the journal's record of a gate's last evaluation.
type gateRecord struct {
	// Kind and When are the gate's.
	Kind GateKind  `json:"kind"`
	When GatePoint `json:"when"`
	// Passed is set when every condition held.
	Passed bool `json:"passed"`
	// At is when the gate was evaluated.
	At time.Time `json:"at"`
	// Problems are those of the failure, one line each.
	Problems []string `json:"problems,omitempty"`
}

// public returns what a caller sees of the record; nil for none.
func (g *gateRecord) public() *GateRecord {
	if g == nil {
		return nil
	}
	return &GateRecord{Kind: g.Kind, When: g.When, Passed: g.Passed, Problems: g.Problems}
}

// journalArtifacts are the certificates and names a resumed run needs from the
// steps before it. Chains are PEM, leaf first; fingerprints are SHA-256 as
// 64 lower-case hex digits.
type journalArtifacts struct {
	// OldChain is the live alias's chain when the first run started.
	OldChain string `json:"old_chain_pem"`
	// OldRoot is the old root, when known (the overlap sequence needs it).
	OldRoot string `json:"old_root_pem,omitempty"`
	// NewChain is the CA's reply as installed; empty until step 1 is done.
	NewChain string `json:"new_chain_pem,omitempty"`
	// NewRoot is the new root, from the CA's reply.
	NewRoot string `json:"new_root_pem,omitempty"`
	// The fingerprints of the certificates above.
	OldFingerprint     string `json:"old_fingerprint"`
	NewFingerprint     string `json:"new_fingerprint,omitempty"`
	OldRootFingerprint string `json:"old_root_fingerprint,omitempty"`
	NewRootFingerprint string `json:"new_root_fingerprint,omitempty"`
	// HistoryAlias is the alias under which the old entry is kept in the
	// history store once the entry has been swapped.
	HistoryAlias string `json:"history_alias,omitempty"`
	// HandOver lists the certificate files written for the receiver
	// administrator.
	HandOver []string `json:"hand_over,omitempty"`
	// StagedKey is the SHA-256 fingerprint of the public key of the
	// staged key that step 1's request was made for, and Request where
	// that request went ([AwaitingReplyError.Request]); both are set when
	// step 1 starts waiting for the CA's reply. A resumed run refuses a
	// staging store that does not hold that key: a new key would not
	// match the reply to the request already sent.
	StagedKey string `json:"staged_key_fingerprint,omitempty"`
	Request   string `json:"request_path,omitempty"`
}

// step returns the record of the step with the given ID, or nil.
func (j *journalFile) step(id StepID) *stepRecord {
	for i := range j.Steps {
		if j.Steps[i].ID == id {
			return &j.Steps[i]
		}
	}
	return nil
}

// ReadJournal reads and checks a journal file written by an [Executor]
// and returns what the runs did so far, as [Executor.Run] returns it:
// the run's state, one [StepRecord] per step, the alias, keystore and
// fingerprints recorded (in [Result.Params]) and the files written. It is meant for a status display; it takes no
// lock, and a run in progress may write a newer journal at any time.
// It refuses a file over 16 MiB, an unknown schema version, unknown
// fields, records out of order, and a waiting status on another step
// than [StepGenerateKey] or on the run without that step, with an error
// matching [ErrJournal]; a missing file gives an error matching [fs.ErrNotExist].
func ReadJournal(path string) (*Result, error) {
	j, err := readJournal(path)
	if err != nil {
		return nil, err
	}
	a := j.Artifacts
	return &Result{
		Sequence: j.Sequence,
		Params: Params{Alias: j.Alias, Keystore: j.Keystore,
			OldFingerprint: a.OldFingerprint, NewFingerprint: a.NewFingerprint,
			OldRootFingerprint: a.OldRootFingerprint, NewRootFingerprint: a.NewRootFingerprint},
		State: j.State, Created: j.Created, Updated: j.Updated,
		Steps:   publicSteps(j.Steps),
		Files:   append([]string(nil), j.Files...),
		journal: path,
	}, nil
}

// readJournal reads and checks a journal file (see [ReadJournal]).
func readJournal(path string) (*journalFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("renewal: journal: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxJournal+1))
	if err != nil {
		return nil, fmt.Errorf("renewal: journal %s: %w", path, err)
	}
	if len(data) > maxJournal {
		return nil, fmt.Errorf("renewal: journal %s: expected at most %d bytes, found more: %w", path, maxJournal, ErrJournal)
	}
	j, err := parseJournal(data)
	if err != nil {
		return nil, fmt.Errorf("renewal: journal %s: %w", path, err)
	}
	if err := j.checkWaiting(); err != nil {
		return nil, withJournalPath(err, path)
	}
	return j, nil
}

// parseJournal decodes and checks a journal.
func parseJournal(data []byte) (*journalFile, error) {
	var version struct {
		SchemaVersion *int `json:"schema_version"`
	}
	if err := json.Unmarshal(data, &version); err != nil {
		return nil, fmt.Errorf("decoding: %w: %w", ErrJournal, err)
	}
	if version.SchemaVersion == nil || *version.SchemaVersion != journalVersion {
		found := "none"
		if version.SchemaVersion != nil {
			found = fmt.Sprint(*version.SchemaVersion)
		}
		return nil, fmt.Errorf("expected schema_version %d, found %s: %w", journalVersion, found, ErrJournal)
	}
	var j journalFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return nil, fmt.Errorf("decoding: %w: %w", ErrJournal, err)
	}
	if !j.Sequence.valid() {
		return nil, fmt.Errorf("unknown sequence %q, expected one of %s: %w", j.Sequence, nameList(sequences), ErrJournal)
	}
	if !j.State.validRun() {
		return nil, fmt.Errorf("unknown run state %q: %w", j.State, ErrJournal)
	}
	for i, s := range j.Steps {
		if s.Number != i+1 {
			return nil, fmt.Errorf("step record %d has number %d, expected %d: %w", i+1, s.Number, i+1, ErrJournal)
		}
		if !s.Status.validStep() {
			return nil, fmt.Errorf("step %d: unknown status %q: %w", s.Number, s.Status, ErrJournal)
		}
		if g := s.Gate; g != nil && !g.Kind.valid() {
			return nil, fmt.Errorf("step %d: unknown gate kind %q, expected one of %s: %w", s.Number, string(g.Kind), nameList(gateKinds), ErrJournal)
		}
		if g := s.Gate; g != nil && !g.When.valid() {
			return nil, fmt.Errorf("step %d: unknown gate point %q, expected one of %s: %w", s.Number, g.When, nameList(gatePoints), ErrJournal)
		}
	}
	return &j, nil
}

// newJournal returns a journal with every step of plan pending.
func newJournal(plan *Plan, now time.Time) *journalFile {
	j := &journalFile{
		SchemaVersion:  journalVersion,
		Sequence:       plan.Sequence,
		Alias:          plan.Params.Alias,
		Keystore:       plan.Params.Keystore,
		OldFingerprint: plan.Params.OldFingerprint,
		State:          StatusRunning,
		Created:        now.UTC(),
		Updated:        now.UTC(),
	}
	for _, s := range plan.Steps {
		j.Steps = append(j.Steps, stepRecord{Number: s.Number, ID: s.ID, Destructive: s.Destructive, Status: StatusPending})
	}
	return j
}

// matches reports why the journal does not belong to plan, or nil: its
// identity (sequence, alias, keystore, old certificate), its steps (IDs,
// destructive markings, an order a run can leave) and the fingerprints it
// recorded must be the plan's. The error is a [*JournalError].
func (j *journalFile) matches(plan *Plan) error {
	const fix = "the journal is for another renewal: give the plan it was written for, or a journal path of its own for this plan"
	mismatch := func(field, want, got string) error {
		return &JournalError{Field: field, Expected: fmt.Sprintf("%q as in the plan", want), Found: fmt.Sprintf("%q", got), fix: fix}
	}
	switch {
	case j.Sequence != plan.Sequence:
		return mismatch("sequence", string(plan.Sequence), string(j.Sequence))
	case j.Alias != plan.Params.Alias:
		return mismatch("alias", plan.Params.Alias, j.Alias)
	case j.Keystore != plan.Params.Keystore:
		return mismatch("keystore", plan.Params.Keystore, j.Keystore)
	case j.OldFingerprint != plan.Params.OldFingerprint:
		return mismatch("old_fingerprint", plan.Params.OldFingerprint, j.OldFingerprint)
	case len(j.Steps) != len(plan.Steps):
		return mismatch("steps", fmt.Sprintf("%d steps", len(plan.Steps)), fmt.Sprintf("%d steps", len(j.Steps)))
	}
	for i, s := range plan.Steps {
		if j.Steps[i].ID != s.ID {
			return mismatch(fmt.Sprintf("steps[%d].id", i), string(s.ID), string(j.Steps[i].ID))
		}
	}
	return j.checkSteps(plan)
}

// addFile records a written file once.
func (j *journalFile) addFile(path string) {
	for _, f := range j.Files {
		if f == path {
			return
		}
	}
	j.Files = append(j.Files, path)
}

// write saves the journal to path atomically, through the lock the run
// holds (see [lockJournal]) or else under path's lock.
func (j *journalFile) write(path string, now time.Time) error {
	j.Updated = now.UTC()
	data, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return fmt.Errorf("renewal: journal: %w", err)
	}
	data = append(data, '\n')
	if l, ok := heldJournals.Load(path); ok {
		if err := l.(*atomicfile.Locked).Write(data, atomicfile.Options{Mode: 0o600}); err != nil {
			return fmt.Errorf("renewal: %w", err)
		}
		return nil
	}
	return writeFileAtomic(path, data, 0o600)
}

// writeFileAtomic replaces path with data atomically under path's lock
// (see [atomicfile.Write]; it waits up to [atomicfile.DefaultTimeout]):
// after a crash path holds the old content or the new, and a completed
// write survives a power loss. An existing file keeps its permission
// bits, owner and group; a new one gets mode.
func writeFileAtomic(path string, data []byte, mode fs.FileMode) error {
	ctx, cancel := atomicfile.Within()
	defer cancel()
	if err := atomicfile.Write(ctx, path, data, atomicfile.Options{Mode: mode}); err != nil {
		return fmt.Errorf("renewal: %w", err)
	}
	return nil
}

// heldJournals are the journal locks this process holds, by journal path:
// a run writes its journal through the lock it holds, since a second lock
// on the same file would wait for the first.
var heldJournals sync.Map // string -> *atomicfile.Locked

// lockJournal takes the advisory lock that keeps two runs from driving
// the same renewal at once, the journal file's own lock (path + ".lock",
// beside the file a symbolic link points to), held until unlock is
// called; the run's journal writes go through it.
func lockJournal(path string) (unlock func(), err error) {
	l, err := atomicfile.TryLock(path)
	if le, ok := err.(*atomicfile.LockError); ok {
		return nil, fmt.Errorf("renewal: %s is locked by another run of this renewal: %w", le.Lock, ErrJournalLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("renewal: lock %s: %w", path, err)
	}
	heldJournals.Store(path, l)
	return func() {
		heldJournals.Delete(path)
		l.Unlock()
	}, nil
}
