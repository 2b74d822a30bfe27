package renewal

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinel errors that callers branch on with [errors.Is].
var (
	// ErrInvalidParam reports a parameter the sequence cannot use: one it
	// needs that is empty ("missing parameter" in the message), or one that
	// is present but unusable: a fingerprint that is not SHA-256 hex, a
	// control character in a name, a window that ends before it starts, a
	// new root equal to the old one. The wrapping [*PlanError] names it and
	// says what was expected and what was found.
	ErrInvalidParam = errors.New("renewal: invalid parameter")

	// ErrInvalidPlan reports a plan that is not well formed: a
	// schema_version this package does not read (the [*PlanError]'s Field
	// is "SchemaVersion"), steps out of order, an unknown role or kind, a
	// hand-off to nobody. Plans from
	// [Build] never are; plans decoded from JSON or built
	// by hand may be.
	ErrInvalidPlan = errors.New("renewal: invalid plan")
)

// PlanError says what is wrong with the parameters of a plan or with the
// plan itself, what was expected and what was found. An error about a
// parameter (Step 0, Field a [Params] field path) matches
// [ErrInvalidParam] with [errors.Is] (the message says "missing parameter"
// for one that is empty); [Build] joins
// one PlanError per unusable parameter with [errors.Join], so that a
// caller sees all of them at once ([errors.As] finds the first). Any other PlanError says the plan is not
// well formed and matches [ErrInvalidPlan].
type PlanError struct {
	// Step is the 1-based step number, or 0 for the parameters or the
	// plan as a whole.
	Step int
	// Field is the field at fault: a parameter's Go field path, such as
	// "Nodes[1]" or "Window.End", or a plan's or step's field, such as
	// "Sequence" or "To".
	Field string
	// Reason says what was expected and what was found.
	Reason string

	value   string // the unusable parameter as given, which the message quotes
	err     error  // ErrInvalidParam for a parameter; nil for the plan
	missing bool   // the parameter is empty
}

func (e *PlanError) Error() string {
	switch {
	case e.missing:
		return fmt.Sprintf("renewal: missing parameter %s: %s", e.Field, e.Reason)
	case e.err != nil:
		return fmt.Sprintf("renewal: invalid parameter %s %q: %s", e.Field, e.value, e.Reason)
	case e.Step == 0:
		return fmt.Sprintf("renewal: invalid plan: %s: %s", e.Field, e.Reason)
	}
	return fmt.Sprintf("renewal: invalid plan: step %d: %s: %s", e.Step, e.Field, e.Reason)
}

// Unwrap returns [ErrInvalidParam] for an error
// about a parameter, and [ErrInvalidPlan] otherwise.
func (e *PlanError) Unwrap() error {
	if e.err != nil {
		return e.err
	}
	return ErrInvalidPlan
}

// Sentinel errors of the executor, for [errors.Is].
var (
	// ErrGateFailed reports a gate that does not hold. The run stopped
	// before the gate's step (a gate checked before it) or before the next
	// step (a gate checked after it); the wrapping [*GateError] names
	// every problem.
	ErrGateFailed = errors.New("renewal: gate failed")

	// ErrJournal reports a journal that cannot be used: malformed, of an
	// unknown schema version, written for another renewal, or edited so
	// that it no longer matches the plan (a [*JournalError] names the
	// field).
	ErrJournal = errors.New("renewal: unusable journal")

	// ErrJournalLocked reports that another run of the same renewal holds
	// the journal's lock.
	ErrJournalLocked = errors.New("renewal: journal locked by another run")

	// ErrUnexpectedState reports that a keystore, the receiver or the
	// runtime is in a state that neither the start of a step nor its end
	// explains, such as a live alias holding neither the old nor the new
	// certificate. Nothing is changed; a person must look.
	ErrUnexpectedState = errors.New("renewal: unexpected state")

	// ErrRollbackUnsafe reports a rollback refused because the receiver no
	// longer accepts the old chain: restoring the old entry would break
	// traffic.
	ErrRollbackUnsafe = errors.New("renewal: rollback unsafe")

	// ErrAwaitingReply reports that the CA has not answered yet: a CA
	// whose Sign hands the request to people (package renewal/handoff)
	// returns an [*AwaitingReplyError] matching it. The executor then
	// stops cleanly: step 1 and the run are [StatusWaiting], the notifier
	// tells the tenant administrator where the reply goes, and the next
	// run installs the reply if it has arrived. A downtime window whose
	// start is still ahead stops the run the same way, at the window's
	// step (downtime step 2): the error matching ErrAwaitingReply says
	// when the window opens, and the next run goes on once it is open.
	ErrAwaitingReply = errors.New("renewal: waiting for the CA's reply")

	// ErrOutsideWindow reports that the downtime window has ended before
	// the flow was stopped.
	ErrOutsideWindow = errors.New("renewal: outside the downtime window")
)

// GateError reports a gate that does not hold. It matches [ErrGateFailed]
// with [errors.Is], and unwraps to the errors the checks returned (such as
// a receiver's verdict, which may match [chain.ErrUnknownAuthority]).
type GateError struct {
	// Step is the step the gate is attached to; Step.Gate is the gate.
	Step Step
	// Problems says, one line each, everything that does not hold.
	Problems []string
	// Stragglers names the runtime nodes that do not present the new
	// certificate ([GateNodesPresentNew]) or still present the old one
	// ([GateOldRootUnused]).
	Stragglers []string
	// Dependents names the chains declared in use that still chain to the
	// old root ([GateOldRootUnused]).
	Dependents []string

	errs []error // the underlying errors, such as the receiver's refusals
}

// Error says which gate failed, where, and every problem.
func (e *GateError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "renewal: gate %q %s step %d (%s) failed", e.gate().Kind.String(), e.gate().When, e.Step.Number, e.Step.ID)
	if len(e.Stragglers) > 0 {
		fmt.Fprintf(&b, "; stragglers: %s", strings.Join(e.Stragglers, ", "))
	}
	for _, p := range e.Problems {
		b.WriteString("; ")
		b.WriteString(p)
	}
	return b.String()
}

// gate returns the gate, or a zero one for a GateError built without it.
func (e *GateError) gate() Gate {
	if e.Step.Gate == nil {
		return Gate{}
	}
	return *e.Step.Gate
}

// Unwrap returns [ErrGateFailed] and the underlying errors, such as the
// receiver's refusals, so that [errors.Is] matches any of them.
func (e *GateError) Unwrap() []error { return append([]error{ErrGateFailed}, e.errs...) }

// JournalError reports a journal whose content does not match what it
// must: the plan the executor runs, the executor's configuration, or the
// journal's own records. Nothing was changed. It matches [ErrJournal].
//
// A journal that does not match was written for another renewal, or was
// edited: the executor does not guess which of the two is right. Give
// the plan the journal was written for, or restore the journal the
// executor wrote; a renewal that must start again from the live keystore
// needs the journal moved away (the tenant's stores keep what was done).
type JournalError struct {
	// Field is the journal's JSON field at fault, such as "keystore",
	// "artifacts.new_root_pem" or "steps[7].status".
	Field string
	// Expected and Found say what the field must hold and what it holds.
	Expected, Found string

	path string // the journal file
	fix  string // what to do, as the message says it
}

// Error names the journal, the field, what was expected and found, and
// what to do.
func (e *JournalError) Error() string {
	fix := e.fix
	if fix == "" {
		fix = "the journal was written for another renewal or edited: give the plan it was written for, or restore the journal the executor wrote"
	}
	where := "journal"
	if e.path != "" {
		where = "journal " + e.path
	}
	return fmt.Sprintf("renewal: %s: %s: expected %s, found %s; %s", where, e.Field, e.Expected, e.Found, fix)
}

// Is makes a JournalError match [ErrJournal].
func (e *JournalError) Is(target error) bool { return target == ErrJournal }

// EndStateError reports a run whose journal records every step as done
// while the state itself is not that of a finished renewal: the live
// alias, a node or the receiver differs from what the steps make it. The
// journal records the run as failed, not done. It matches
// [ErrUnexpectedState].
type EndStateError struct {
	// Differences lists everything that differs, one entry each.
	Differences []EndStateDifference

	journal string  // the journal's path
	errs    []error // the underlying errors, such as a runtime that cannot say what a node presents
}

// EndStateDifference is one way the end state differs from a finished
// renewal.
type EndStateDifference struct {
	// What names what was checked, such as `live keystore "x.p12" alias
	// "tenant-client"` or `node "node-a"`.
	What string
	// Step is the step whose effect is missing.
	Step StepID
	// Expected and Found say what should hold and what does.
	Expected, Found string
}

// Error names every difference and what to do.
func (e *EndStateError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "renewal: the journal %s records every step as done, but the end state differs:", e.journal)
	for i, d := range e.Differences {
		if i > 0 {
			b.WriteString(";")
		}
		fmt.Fprintf(&b, " %s: expected %s, found %s (step %q)", d.What, d.Expected, d.Found, d.Step)
	}
	b.WriteString("; the journal was edited or the state changed after the steps ran: a person must look, put the state right and run again (the run is recorded as failed, not done)")
	return b.String()
}

// Unwrap returns [ErrUnexpectedState] and the underlying errors, such as
// a runtime that cannot say what a node presents, so that [errors.Is]
// matches any of them.
func (e *EndStateError) Unwrap() []error { return append([]error{ErrUnexpectedState}, e.errs...) }

// AwaitingReplyError is what a [CA] returns from Sign while a certificate
// request waits for a reply that people carry: the request has been
// written to Request, and the CA's reply is expected at Reply. It matches
// [ErrAwaitingReply].
type AwaitingReplyError struct {
	// Request is the path of the certificate request (PEM) to send to the
	// CA.
	Request string
	// Reply is the path where the CA's reply is to be put: PEM, DER or
	// PKCS#7, the certificates in any order.
	Reply string
}

// Error says where the reply goes and where the request is.
func (e *AwaitingReplyError) Error() string {
	return fmt.Sprintf("renewal: waiting for the CA's reply: put it at %q (PEM, DER or PKCS#7) and run again; the request to send to the CA is %q",
		e.Reply, e.Request)
}

// Is reports whether target is [ErrAwaitingReply].
func (e *AwaitingReplyError) Is(target error) bool { return target == ErrAwaitingReply }

// windowAheadError stops a run at the window's step while the downtime
// window has not opened yet. It matches [ErrAwaitingReply], so that the
// step and the run are recorded waiting, as for a CA that answers later.
type windowAheadError struct {
	window Window
}

func (e *windowAheadError) Error() string {
	what := ""
	if e.window.Description != "" {
		what = " (" + e.window.Description + ")"
	}
	return fmt.Sprintf("renewal: waiting for the downtime window%s: it opens at %s; nothing that stops traffic was done; run again once it is open",
		what, e.window.Start.UTC().Format(time.RFC3339))
}

// Is reports whether target is [ErrAwaitingReply].
func (e *windowAheadError) Is(target error) bool { return target == ErrAwaitingReply }
