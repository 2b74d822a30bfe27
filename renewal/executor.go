package renewal

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"time"

	"github.com/certroll/certroll/chain"
	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/truststore"
)

// ReceiverInspector is implemented by a [Receiver] that can list its
// configuration, such as the file-based receiver of package
// renewal/local. When the receiver implements it, the executor asks it
// what a receiver step still has to do and makes only those calls. A
// receiver step resumed after an interruption (its record started, or
// failed after starting) makes its calls again whatever the inspector
// says, since the files it reads may have been written by a call that did
// not reach the running server; the [Receiver] contract makes that
// harmless (each call is idempotent).
type ReceiverInspector interface {
	// Roots returns the roots the receiver trusts for client certificates.
	Roots() ([]*x509.Certificate, error)
	// AcceptedClients returns the client certificates it accepts.
	AcceptedClients() ([]*x509.Certificate, error)
}

// Executor runs a renewal [Plan] against the tenant's keystores and the
// [CA], [Receiver], [Runtime] and [Notifier] the caller provides,
// recording progress in a journal so that a run interrupted at any point
// (a crash, a kill, a failed gate) can be started again and resumes where
// it stopped without repeating a destructive step.
//
// Each step is dispatched on its [StepID] and each gate on its
// [GateKind]; a gate checked before its step ([GateBefore]) keeps the step
// from starting, and a gate checked after it ([GateAfter]) keeps the run
// from going on. Before a step acts, the journal records it as started;
// a resumed run finding a started step checks the state (the live alias,
// the receiver's configuration, what each node presents) and does only
// what is left. A step that changes nothing because the state is already
// what it would make it is reported as skipped.
//
// Plan, Tenant, Journal, CA, Receiver, Runtime and Notifier are required;
// the zero value of every other field is documented. An Executor must not
// be changed while it runs; one Executor may run one plan at a time, and
// the journal's lock (Journal + ".lock") keeps two processes from running
// the same renewal at once.
type Executor struct {
	// Plan is the renewal to run, as [Build]
	// return it. It must be what [Build] gives for its Sequence and
	// Params: any other plan (a destructive marking dropped, a gate or a
	// step removed, text changed) is refused with a [*PlanError]. A plan
	// read from a file should be rebuilt with [Build] from its Sequence
	// and Params (see the package's Security section).
	Plan *Plan
	// Tenant holds the live, staging and history stores. Its Alias must be
	// the plan's (compared as Java does, ignoring case).
	Tenant *Tenant
	// Journal is the path of the journal file. It is created by the first
	// run and read by every later one.
	Journal string

	// CA signs the new certificate (step 1). A CA that answers later
	// returns an [*AwaitingReplyError] from Sign: the run stops, waiting
	// ([StatusWaiting]), and the next run asks it again. A downtime
	// window that opens later stops the run the same way, at the
	// window's step (downtime step 2), once its hand-off is delivered:
	// the error matches [ErrAwaitingReply] and says when the window
	// opens; nothing that stops traffic is done before it.
	CA CA
	// Receiver is configured by the receiver's steps and asked by the
	// gates whether it accepts a chain. If it implements
	// [ReceiverInspector], a step makes only the calls still needed (a
	// resumed step makes them all again). If it implements [Prober], every
	// check that it accepts a chain (the gates, the end state, a
	// rollback's safety) ends with a handshake presenting the chain with
	// its key, read from the tenant's stores; a failed probe fails the
	// check, before the step that depends on it. The removal of the old
	// certificate and root, and the end state, also probe with the old
	// chain and its key (from the history store), and require that
	// handshake to fail.
	Receiver Receiver
	// Runtime's nodes are stopped, started and restarted by the runtime
	// steps and asked by the gates what they present.
	Runtime Runtime
	// Notifier carries the hand-offs, with the certificates' fingerprints
	// and the hand-over files in the message.
	Notifier Notifier

	// HandOverDir, if set, is a directory where step 1 writes the new
	// client certificate (with its intermediates) and the new root as PEM
	// files for the receiver administrator; the hand-off message names
	// them. Empty means no files: the message carries the fingerprints
	// only.
	HandOverDir string
	// OldRoot is the old CA's root certificate, which the overlap
	// sequence removes from the receiver. Nil means it is found by the
	// plan's OldRootFingerprint in the live chain, or else among the
	// receiver's roots if it implements [ReceiverInspector].
	OldRoot *x509.Certificate
	// InUse declares chains in use elsewhere; the gate before the old root
	// is removed refuses while any of them chains to the old root, naming
	// each. [truststore.OpenDependents] reads them from a keystore or a
	// certificate file. Every key entry of the live keystore is always
	// declared in use too, read when the gate is checked (after the swap,
	// the live alias holds the new chain, so only other entries can still
	// need the old root).
	InUse []truststore.Dependent
	// Waits gives, per step, how long a hand-off waits for the role's
	// confirmation (passed to [Notifier.HandOff]). Nil or a missing step
	// means no waiting.
	Waits map[StepID]time.Duration
	// Drain is how long the receiver must have seen no handshake with the
	// old certificate before the gate lets the old certificate and the old
	// root be removed (overlap step 9, downtime step 12); it applies when
	// the Receiver implements [UsageObserver]. The gate asks
	// [UsageObserver.LastSeen]; while the last sighting is less than Drain
	// before the clock ([Tenant.Now]) says now, it waits (emitting an [EventGateWaiting] that says until
	// when) and asks again, so a sighting during the wait extends it. When
	// ctx ends the wait, the gate fails ([ErrGateFailed]) naming the
	// drain, and nothing is removed. Zero means the gate only checks that
	// the receiver has not seen the old certificate since now (no quiet
	// period).
	Drain time.Duration

	// OnEvent, if not nil, receives progress events, synchronously.
	OnEvent func(Event)
	// Logger receives the same progress as structured log records. Nil
	// discards them. Passwords and keys are never logged.
	Logger *slog.Logger

	// hook is called at the points where the kill-and-resume tests end
	// the process.
	hook func(point string, id StepID)
	// sleepFn, if not nil, replaces the wait of the drain gate, so that
	// tests can advance a fake clock instead of sleeping.
	sleepFn func(ctx context.Context, d time.Duration) error
}

// Hook points for tests.
const (
	hookStarted  = "started"  // the journal records the step as started; no action yet
	hookActed    = "acted"    // the step's action is done; the journal does not know yet
	hookRecorded = "recorded" // the journal records the step as done
)

// Result is what a run did, or how far it got: [Executor.Run] and
// [Executor.Rollback] return it, [Executor.DryRun] returns what a run
// would do from here, and [ReadJournal] reads it back from the journal
// for a status display. It holds fingerprints and paths, never a key or a
// password; its String says in one line how far the run got (for a dry
// run, step by step what a run would do).
type Result struct {
	// Sequence is the plan's sequence.
	Sequence Sequence
	// Params are the plan's parameters as the run knows them: the
	// fingerprints are those of the certificates the run found or made,
	// as 64 lower-case hex digits (NewFingerprint is empty until step 1
	// is done). [ReadJournal] fills only what the journal records: Alias,
	// Keystore and the four fingerprints.
	Params Params
	// State is the run's state as the journal now records it; empty
	// before the first run.
	State Status
	// Created and Updated are the executor's clock when the journal was
	// made and last written.
	Created, Updated time.Time
	// Steps are the journal's records, one per step, in order. Those of a
	// dry run also say what a run would do ([StepRecord.Would]) and what
	// each gate says today ([StepRecord.Gate]).
	Steps []StepRecord
	// Files are the files the runs of this renewal wrote besides the
	// journal (keystores, hand-over certificates), in the order first
	// written. Lock files (path + ".lock") are not listed.
	Files []string

	journal string // the journal's path, for String
	plan    *Plan  // the plan of a dry run, for String
}

// Step returns the record of the step with the given ID, or nil.
func (r *Result) Step(id StepID) *StepRecord {
	for i := range r.Steps {
		if r.Steps[i].ID == id {
			return &r.Steps[i]
		}
	}
	return nil
}

// Completed returns the IDs of the steps that are done, in plan order.
func (r *Result) Completed() []StepID {
	var out []StepID
	for _, s := range r.Steps {
		if s.Status == StatusDone {
			out = append(out, s.ID)
		}
	}
	return out
}

// run is the state of one Run, DryRun or Rollback.
type run struct {
	e    *Executor
	plan *Plan // the plan; rebuilt with the new fingerprint once known
	j    *journalFile
	dry  bool
	log  *slog.Logger

	oldChain, newChain []*x509.Certificate
	oldRoot, newRoot   *x509.Certificate
	// resumed is set while a step runs whose record an earlier run left
	// started or failed after starting it: its receiver calls are all
	// made again (see receiverCalls).
	resumed bool
	// told is set while a step runs that an earlier run left waiting
	// after the notifier delivered its hand-off: the step's hand-off is
	// not sent again (see agreeWindow).
	told bool
}

// now is the run's clock, the tenant's ([Tenant.Now]).
func (x *run) now() time.Time {
	if x.e.Tenant != nil {
		return x.e.Tenant.now()
	}
	return time.Now()
}

// sleep waits for d or until ctx is done, whichever comes first, and
// returns ctx's error in the second case.
func (x *run) sleep(ctx context.Context, d time.Duration) error {
	if x.e.sleepFn != nil {
		return x.e.sleepFn(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (x *run) oldLeaf() *x509.Certificate { return x.oldChain[0] }

func (x *run) newLeaf() *x509.Certificate {
	if len(x.newChain) == 0 {
		return nil
	}
	return x.newChain[0]
}

// actions maps each step ID to what the executor does for it.
var actions = map[StepID]func(x *run, ctx context.Context, s Step) (string, bool, error){
	StepGenerateKey:         (*run).generateKey,
	StepHandOverCertificate: (*run).handOff,
	StepReceiverAcceptBoth:  (*run).receiverAcceptBoth,
	StepConfirmAcceptBoth:   (*run).handOff,
	StepSwapEntry:           (*run).swapEntry,
	StepNotifyRestart:       (*run).handOff,
	StepRestartNodes:        (*run).restartNodes,
	StepNotifyNewInUse:      (*run).handOff,
	StepRemoveOld:           (*run).removeOld,
	StepAgreeWindow:         (*run).agreeWindow,
	StepNotifyStop:          (*run).handOff,
	StepStopFlow:            (*run).stopFlow,
	StepConfirmStopped:      (*run).handOff,
	StepReceiverSwap:        (*run).receiverSwap,
	StepConfirmSwapped:      (*run).handOff,
}

// prepare checks the executor's configuration and loads what earlier runs
// recorded. It writes nothing.
func (e *Executor) prepare(ctx context.Context, dry bool) (*run, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	x := &run{e: e, dry: dry, log: e.Logger}
	if x.log == nil {
		x.log = slog.New(slog.DiscardHandler)
	}
	var missing []string
	for _, f := range []struct {
		name string
		nil  bool
	}{{"Plan", e.Plan == nil}, {"CA", e.CA == nil}, {"Receiver", e.Receiver == nil}, {"Runtime", e.Runtime == nil}, {"Notifier", e.Notifier == nil}} {
		if f.nil {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("renewal: executor: expected Plan, CA, Receiver, Runtime and Notifier, found no %s", strings.Join(missing, ", "))
	}
	if err := e.Plan.validate(); err != nil {
		return nil, err
	}
	if err := checkPlan(e.Plan); err != nil {
		return nil, err
	}
	if err := e.Tenant.check(); err != nil {
		return nil, err
	}
	if !strings.EqualFold(e.Tenant.Alias, e.Plan.Params.Alias) {
		return nil, fmt.Errorf("renewal: executor: the tenant's alias %q is not the plan's alias %q", e.Tenant.Alias, e.Plan.Params.Alias)
	}
	for _, s := range e.Plan.Steps {
		if _, ok := actions[s.ID]; !ok && s.Kind != KindGate {
			return nil, &PlanError{Step: s.Number, Field: "ID", Reason: fmt.Sprintf("the executor has no action for step ID %q", s.ID)}
		}
	}
	x.plan = e.Plan

	if e.Journal != "" {
		j, err := readJournal(e.Journal)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return nil, err
		default:
			if err := j.matches(e.Plan); err != nil {
				return nil, withJournalPath(err, e.Journal)
			}
			x.j = j
		}
	}
	if err := x.loadArtifacts(ctx); err != nil {
		return nil, withJournalPath(err, e.Journal)
	}
	return x, nil
}

// withJournalPath names the journal in a *JournalError.
func withJournalPath(err error, path string) error {
	var je *JournalError
	if errors.As(err, &je) && je.path == "" {
		je.path = path
	}
	return err
}

// loadArtifacts sets the chains and roots from the journal, or from the
// live keystore for a first run.
func (x *run) loadArtifacts(ctx context.Context) error {
	p := &x.e.Plan.Params
	var a journalArtifacts
	if x.j != nil {
		a = x.j.Artifacts
	}
	var err error
	if a.OldChain != "" {
		if x.oldChain, err = decodeChain(a.OldChain, "old chain"); err != nil {
			return err
		}
	} else {
		if x.oldChain, err = x.e.Tenant.LiveChain(); err != nil {
			return err
		}
		if got := keystore.CertFingerprint(x.oldChain[0]); got != paramFingerprint(p.OldFingerprint) {
			return fmt.Errorf("renewal: live keystore %s alias %q holds %s with SHA-256 %s, but the plan's old certificate is SHA-256 %s: %w",
				x.e.Tenant.Keystore, x.e.Tenant.Alias, describeCert(x.oldChain[0]), got.Hex(), p.OldFingerprint, ErrUnexpectedState)
		}
	}
	if a.NewChain != "" {
		if x.newChain, err = decodeChain(a.NewChain, "new chain"); err != nil {
			return err
		}
	}
	if a.NewRoot != "" {
		c, err := decodeChain(a.NewRoot, "new root")
		if err != nil {
			return err
		}
		x.newRoot = c[0]
	}
	if a.OldRoot != "" {
		c, err := decodeChain(a.OldRoot, "old root")
		if err != nil {
			return err
		}
		x.oldRoot = c[0]
	}
	if x.j != nil {
		// What earlier runs recorded is checked before it is used.
		if err := x.checkArtifacts(); err != nil {
			return err
		}
	}
	x.rebuildPlan()
	if a.OldRoot == "" {
		if x.oldRoot, err = x.findOldRoot(ctx); err != nil {
			return err
		}
	}
	return nil
}

// findOldRoot looks for the old root: Executor.OldRoot, the live chain,
// the receiver's roots. The overlap sequence needs it.
func (x *run) findOldRoot(context.Context) (*x509.Certificate, error) {
	want := x.e.Plan.Params.OldRootFingerprint
	if x.e.OldRoot != nil {
		if want != "" && keystore.CertFingerprint(x.e.OldRoot) != paramFingerprint(want) {
			return nil, fmt.Errorf("renewal: Executor.OldRoot is %s with SHA-256 %s, but the plan's old root is SHA-256 %s: %w",
				describeCert(x.e.OldRoot), keystore.CertFingerprint(x.e.OldRoot).Hex(), want, ErrUnexpectedState)
		}
		return x.e.OldRoot, nil
	}
	if want == "" {
		return nil, nil
	}
	if c := byFingerprint(x.oldChain, paramFingerprint(want)); c != nil {
		return c, nil
	}
	if insp, ok := x.e.Receiver.(ReceiverInspector); ok {
		roots, err := insp.Roots()
		if err != nil {
			return nil, fmt.Errorf("renewal: looking for the old root among the receiver's roots: %w", err)
		}
		if c := byFingerprint(roots, paramFingerprint(want)); c != nil {
			return c, nil
		}
	}
	// Both sequences end by removing the old root.
	return nil, fmt.Errorf("renewal: the old root (SHA-256 %s) is neither in the live chain (%s) nor among the receiver's roots; give it in Executor.OldRoot: %w",
		want, chain.Path(x.oldChain), ErrUnexpectedState)
}

// byFingerprint returns the certificate of certs with fingerprint fp, or
// nil.
func byFingerprint(certs []*x509.Certificate, fp keystore.Fingerprint) *x509.Certificate {
	for _, c := range certs {
		if keystore.CertFingerprint(c) == fp {
			return c
		}
	}
	return nil
}

// rebuildPlan rebuilds the plan with the new certificate's fingerprint,
// so that hand-off messages carry it. The steps stay the same.
func (x *run) rebuildPlan() {
	if x.newLeaf() == nil {
		return
	}
	p := x.e.Plan.Params
	p.NewFingerprint = keystore.CertFingerprint(x.newLeaf()).Hex()
	if q, err := Build(x.e.Plan.Sequence, p); err == nil && len(q.Steps) == len(x.e.Plan.Steps) {
		x.plan = q
	}
}

// begin takes the journal's lock and prepares a run that may change
// things (Run, Rollback); the caller must call unlock when done.
func (e *Executor) begin(ctx context.Context) (x *run, unlock func(), err error) {
	if e.Journal == "" {
		return nil, nil, errors.New("renewal: executor: expected a journal path in Journal, found none")
	}
	if unlock, err = lockJournal(e.Journal); err != nil {
		return nil, nil, err
	}
	if x, err = e.prepare(ctx, false); err != nil {
		unlock()
		return nil, nil, err
	}
	return x, unlock, nil
}

// Run runs the plan from where the journal says earlier runs stopped (from
// the start if there is no journal) to the end, or until a step or gate
// fails or ctx is done. It returns the result so far with any error; a
// failed gate gives a [*GateError] matching [ErrGateFailed]. A journal
// that does not match the plan is refused with a [*JournalError]
// (matching [ErrJournal]) before anything is done. A CA that has not
// answered yet gives its [*AwaitingReplyError] (matching
// [ErrAwaitingReply]) and a Result whose State is [StatusWaiting]: run
// again, with the same journal, once the reply is in place. A downtime
// window whose start is ahead stops the run the same way at the window's
// step, after its hand-off: run again once the window is open (the
// hand-off is not sent again). A window that has ended gives
// [ErrOutsideWindow].
//
// When every step is done, Run checks the end state before it records
// and reports the run as done: the live alias holds the new certificate,
// every node presents it, the receiver accepts the new chain, and it
// neither accepts the old certificate nor trusts the old root (the roots
// and accepted certificates are asked when the receiver implements
// [ReceiverInspector]; when it implements [Prober], a handshake presenting
// the new chain must succeed and one presenting the old chain, with the
// old key from the history store, must fail). A difference gives an [*EndStateError] matching
// [ErrUnexpectedState], and the journal records the run as failed.
//
// Running a plan whose journal says it is done changes nothing, checks
// the end state again, and reports every step as skipped.
func (e *Executor) Run(ctx context.Context) (*Result, error) {
	x, unlock, err := e.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if x.j == nil {
		x.j = newJournal(e.Plan, x.now())
		x.j.Artifacts.OldChain = encodeChain(x.oldChain)
		x.j.Artifacts.OldFingerprint = keystore.CertFingerprint(x.oldLeaf()).Hex()
		// The roots' fingerprints are the plan's from the start, so that
		// a later run given a plan with other roots is refused.
		x.j.Artifacts.OldRootFingerprint = e.Plan.Params.OldRootFingerprint
		x.j.Artifacts.NewRootFingerprint = e.Plan.Params.NewRootFingerprint
		if x.oldRoot != nil {
			x.j.Artifacts.OldRoot = encodeChain([]*x509.Certificate{x.oldRoot})
			x.j.Artifacts.OldRootFingerprint = keystore.CertFingerprint(x.oldRoot).Hex()
		}
		if err := x.save(); err != nil {
			return nil, err
		}
	}
	err = x.runSteps(ctx)
	return x.result(), err
}

func (x *run) runSteps(ctx context.Context) error {
	if x.j.State != StatusDone {
		x.j.State = StatusRunning
	}
	for i := range x.plan.Steps {
		s := x.plan.Steps[i]
		rec := &x.j.Steps[i]
		if rec.Status == StatusDone {
			x.emit(Event{Kind: EventStepSkipped, Step: s, Message: "done in an earlier run"})
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := x.runStep(ctx, s, rec); err != nil {
			x.j.State = StatusFailed
			if rec.Status == StatusWaiting {
				x.j.State = StatusWaiting
			}
			if serr := x.save(); serr != nil {
				return errors.Join(err, serr)
			}
			return err
		}
	}
	// The journal says every step is done: check that the state says so
	// too before the run is recorded (or reported) as done.
	if err := x.verifyEnd(ctx); err != nil {
		x.j.State = StatusFailed
		x.log.LogAttrs(ctx, slog.LevelError, "renewal: end state differs", slog.String("error", err.Error()))
		if serr := x.save(); serr != nil {
			return errors.Join(err, serr)
		}
		return err
	}
	if x.j.State != StatusDone {
		x.j.State = StatusDone
		return x.save()
	}
	return nil
}

// runStep runs one step that is not done: its gate before, its action,
// its gate after, recording each change in the journal.
func (x *run) runStep(ctx context.Context, s Step, rec *stepRecord) error {
	// A destructive step whose action completed in an earlier run (and
	// whose gate after it failed) is not acted again.
	acted := rec.Status == StatusFailed && !rec.Acted.IsZero() && s.Destructive
	resumed := rec.Status == StatusStarted
	// Told: an earlier run found the step waiting and the notifier
	// delivered that (a failed delivery is kept in Error).
	resumedWaiting := rec.Status == StatusWaiting && rec.Error == ""
	x.resumed = resumed || (rec.Status == StatusFailed && !rec.Started.IsZero())
	x.told = resumedWaiting
	defer func() { x.resumed, x.told = false, false }()

	if g := s.Gate; g != nil && g.When == GateBefore && !acted {
		if err := x.gate(ctx, s, rec); err != nil {
			return err
		}
	}
	if !acted {
		rec.Status, rec.Started, rec.Error, rec.Note = StatusStarted, x.now().UTC(), "", ""
		rec.Attempts++
		if err := x.save(); err != nil {
			return err
		}
		x.hookAt(hookStarted, s.ID)
		msg := ""
		if resumed {
			msg = "resuming: the step started in an earlier run; checking the state before acting"
		}
		x.emit(Event{Kind: EventStepStarted, Step: s, Message: msg})
		note, skipped, err := x.act(ctx, s)
		if errors.Is(err, ErrAwaitingReply) {
			return x.waiting(ctx, s, rec, resumedWaiting, err)
		}
		if err != nil {
			rec.Status, rec.Finished, rec.Error = StatusFailed, x.now().UTC(), err.Error()
			x.emit(Event{Kind: EventStepFailed, Step: s, Err: err})
			return err
		}
		rec.Acted, rec.Note = x.now().UTC(), note
		x.hookAt(hookActed, s.ID)
		if skipped {
			x.emit(Event{Kind: EventStepSkipped, Step: s, Message: note})
		}
	}
	if g := s.Gate; g != nil && g.When == GateAfter {
		if err := x.gate(ctx, s, rec); err != nil {
			return err
		}
	}
	rec.Status, rec.Finished = StatusDone, x.now().UTC()
	if err := x.save(); err != nil {
		return err
	}
	x.hookAt(hookRecorded, s.ID)
	x.emit(Event{Kind: EventStepDone, Step: s, Message: rec.Note})
	return nil
}

// waiting records a step that waits for an answer or a time that comes
// later (the CA's reply, the start of the downtime window): the step is
// StatusWaiting, not failed, and the role is told, once (not again on
// each run that finds it still waiting, unless the last delivery failed),
// what err says: what the step waits for and what to do. A step whose own
// hand-off said so already (the window's agreement) sends nothing more.
func (x *run) waiting(ctx context.Context, s Step, rec *stepRecord, already bool, err error) error {
	rec.Status, rec.Finished, rec.Note, rec.Error = StatusWaiting, x.now().UTC(), err.Error(), ""
	x.emit(Event{Kind: EventStepWaiting, Step: s, Message: err.Error()})
	if already || errors.As(err, new(*windowAheadError)) {
		return err
	}
	to := s
	to.To = s.Role
	if nerr := x.e.Notifier.HandOff(ctx, to, err.Error(), 0); nerr != nil {
		// Kept, so that the next run tells again.
		nerr = fmt.Errorf("renewal: telling %s what step %d waits for: %w", s.Role, s.Number, nerr)
		rec.Error = nerr.Error()
		return errors.Join(err, nerr)
	}
	return err
}

// act performs the step's action.
func (x *run) act(ctx context.Context, s Step) (note string, skipped bool, err error) {
	f, ok := actions[s.ID]
	if !ok { // a gate-only step of a hand-made plan
		return "gate only", false, nil
	}
	return f(x, ctx, s)
}

// gate checks the step's gate and records the outcome; a failure is saved
// in the journal by the caller.
func (x *run) gate(ctx context.Context, s Step, rec *stepRecord) error {
	g := *s.Gate
	gerr := x.checkGate(ctx, s, g)
	gr := &gateRecord{Kind: g.Kind, When: g.When, At: x.now().UTC(), Passed: gerr == nil}
	rec.Gate = gr
	if gerr != nil {
		gr.Problems = gerr.Problems
		rec.Status, rec.Finished, rec.Error = StatusFailed, x.now().UTC(), gerr.Error()
		x.emit(Event{Kind: EventGateFailed, Step: s, Err: gerr})
		return gerr
	}
	x.emit(Event{Kind: EventGatePassed, Step: s})
	if g.Kind == GateReceiverAcceptsBoth || g.Kind == GateReceiverAcceptsNew {
		x.warnAmbiguous(ctx, s)
	}
	return nil
}

// warnAmbiguous warns when the receiver would also accept another key
// entry of the live keystore: a runtime whose client picks a key entry by
// the issuers the server names, with no alias configured (Java's default
// KeyManager), may present that entry instead of the renewed one.
func (x *run) warnAmbiguous(ctx context.Context, s Step) {
	t := x.e.Tenant
	ks, err := keystore.Open(t.Keystore, t.Password, t.liveOptions())
	if err != nil {
		return // the steps that need the keystore report why it does not open
	}
	for _, alias := range ks.Aliases() {
		if strings.EqualFold(alias, t.Alias) {
			continue
		}
		if kind, err := ks.Kind(alias); err != nil || kind != keystore.KeyEntry {
			continue
		}
		certs, err := ks.Certificates(alias)
		if err != nil || len(certs) == 0 {
			continue
		}
		if x.e.Receiver.Accepts(ctx, certs) == nil {
			x.emit(Event{Kind: EventWarning, Step: s, Message: fmt.Sprintf(
				"the receiver also accepts key entry %q (%s, SHA-256 %s) of %s: a client that picks its certificate without a configured alias may present it instead of %q",
				alias, certs[0].Subject, keystore.CertFingerprint(certs[0]).Hex(), t.Keystore, t.Alias)})
		}
	}
}

func (x *run) hookAt(point string, id StepID) {
	if x.e.hook != nil {
		x.e.hook(point, id)
	}
}

// save writes the journal.
func (x *run) save() error {
	if x.dry {
		return nil
	}
	return x.j.write(x.e.Journal, x.now())
}

// wrote records files written by a step.
func (x *run) wrote(paths ...string) {
	if x.dry {
		return
	}
	for _, p := range paths {
		x.j.addFile(p)
	}
}

func (x *run) result() *Result {
	r := &Result{Sequence: x.e.Plan.Sequence, Params: x.plan.Params, journal: x.e.Journal}
	if x.j != nil {
		r.State = x.j.State
		r.Created, r.Updated = x.j.Created, x.j.Updated
		r.Steps = publicSteps(x.j.Steps)
		r.Files = append([]string(nil), x.j.Files...)
	}
	p := &r.Params
	p.OldFingerprint = keystore.CertFingerprint(x.oldLeaf()).Hex()
	p.NewFingerprint = keystore.CertFingerprint(x.newLeaf()).Hex()
	p.OldRootFingerprint = keystore.CertFingerprint(x.oldRoot).Hex()
	p.NewRootFingerprint = keystore.CertFingerprint(x.newRoot).Hex()
	if p.NewRootFingerprint == "" {
		p.NewRootFingerprint = x.e.Plan.Params.NewRootFingerprint
	}
	if p.OldRootFingerprint == "" {
		p.OldRootFingerprint = x.e.Plan.Params.OldRootFingerprint
	}
	return r
}

// Rollback restores the old key entry under the live alias after the key
// entry was swapped ([Tenant.Rollback]), restarts the nodes that present
// the new certificate and starts stopped ones, so that every node presents
// the old certificate again, and records in the journal that every step
// after step 1 must run again (the new certificate stays staged). It does
// not change the receiver.
//
// Rollback refuses, changing nothing, when the receiver no longer accepts
// the old chain ([ErrRollbackUnsafe]): the old certificate was removed
// there, and restoring it would break traffic. It also refuses when the
// journal shows no swap to undo ([ErrUnexpectedState]). Rolling back a
// rolled-back renewal again changes nothing.
func (e *Executor) Rollback(ctx context.Context) (*Result, error) {
	x, unlock, err := e.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	swap := (*stepRecord)(nil)
	if x.j != nil {
		swap = x.j.step(StepSwapEntry)
	}
	if swap == nil || x.newLeaf() == nil || (swap.Status == StatusPending && x.j.State != StatusRolledBack) {
		return nil, fmt.Errorf("renewal: rollback: the journal %s records no swap of the key entry to undo: %w", e.Journal, ErrUnexpectedState)
	}
	err = e.Receiver.Accepts(ctx, x.oldChain)
	if err == nil {
		err = x.probe(ctx, x.oldChain)
	}
	if err != nil {
		return x.result(), fmt.Errorf("%w: the receiver no longer accepts the old chain %s, so restoring it would break traffic; the rollback was refused: %w",
			ErrRollbackUnsafe, chain.Path(x.oldChain), err)
	}
	a, err := e.Tenant.Rollback(x.oldLeaf(), x.newLeaf())
	if err != nil {
		return x.result(), err
	}
	x.wrote(a.Files...)
	nodes, err := e.Runtime.Nodes(ctx)
	if err != nil {
		return x.result(), fmt.Errorf("renewal: rollback: listing the runtime's nodes: %w", err)
	}
	var errs []error
	for _, n := range nodes {
		c, err := e.Runtime.Presents(ctx, n)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("node %q: %w", n, err))
		case c == nil:
			err = e.Runtime.Start(ctx, n)
		case sameCert(c, x.newLeaf()):
			err = e.Runtime.Restart(ctx, n)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("renewal: rollback: node %q: %w", n, err))
		}
	}
	for i := range x.j.Steps {
		if x.j.Steps[i].ID != StepGenerateKey {
			r := &x.j.Steps[i]
			r.Status, r.Note, r.Error, r.Gate = StatusPending, "", "", nil
			r.Started, r.Acted, r.Finished = time.Time{}, time.Time{}, time.Time{}
		}
	}
	x.j.State = StatusRolledBack
	if err := x.save(); err != nil {
		errs = append(errs, err)
	}
	x.log.LogAttrs(ctx, slog.LevelInfo, "renewal: rolled back",
		slog.String("alias", a.alias), slog.String("restored", keystore.CertFingerprint(x.oldLeaf()).Hex()),
		slog.Bool("already", a.already))
	return x.result(), errors.Join(errs...)
}

// encodeChain returns certs as PEM.
func encodeChain(certs []*x509.Certificate) string {
	var b strings.Builder
	for _, c := range certs {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.String()
}

// decodeChain parses a chain the journal recorded.
func decodeChain(s, what string) ([]*x509.Certificate, error) {
	c, err := keystore.ParseCertificates([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("renewal: journal %s: %w: %w", what, ErrJournal, err)
	}
	if len(c) == 0 {
		return nil, fmt.Errorf("renewal: journal %s holds no certificate: %w", what, ErrJournal)
	}
	return c, nil
}
