package renewal

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// EventKind says what an [Event] reports. Its values are short phrases
// such as "step started" or "gate failed", as a log line says them.
type EventKind string

const (
	// EventStepStarted: the executor is about to perform the step's action.
	EventStepStarted EventKind = "step started"
	// EventStepDone: the step's action (and its gate, if any) completed.
	EventStepDone EventKind = "step done"
	// EventStepSkipped: the step needed no action, because an earlier run
	// completed it or because the state already is what the step would
	// make it; [Event.Message] says which.
	EventStepSkipped EventKind = "step skipped"
	// EventStepFailed: the step's action failed; [Event.Err] says why.
	EventStepFailed EventKind = "step failed"
	// EventGatePassed: the step's gate ([Step.Gate]) holds.
	EventGatePassed EventKind = "gate passed"
	// EventGateFailed: the step's gate does not hold; [Event.Err] is a
	// [*GateError] naming every problem.
	EventGateFailed EventKind = "gate failed"
	// EventWarning: something a person should look at that does not stop
	// the run; [Event.Message] says what. The executor warns when the
	// receiver would also accept another key entry of the live keystore.
	EventWarning EventKind = "warning"
	// EventStepWaiting: the step waits for an answer that comes later,
	// such as a CA's reply ([ErrAwaitingReply]); [Event.Message] says
	// where it goes. The run stops cleanly and the next one goes on.
	EventStepWaiting EventKind = "step waiting"
	// EventGateWaiting: the step's gate waits for something that holds
	// with time, such as the drain of the old certificate before it is
	// removed ([Executor.Drain]); [Event.Message] says what it waits for
	// and until when. A dry run reports that a run would wait.
	EventGateWaiting EventKind = "gate waiting"
)

// isGate reports whether the event is about the step's gate.
func (k EventKind) isGate() bool {
	return k == EventGatePassed || k == EventGateFailed || k == EventGateWaiting
}

// Event reports progress of an [Executor] to its caller's
// [Executor.OnEvent] callback. Events never carry a password or a private
// key. The zero Event is not one the executor sends.
type Event struct {
	// Kind says what happened. For the gate events (EventGatePassed,
	// EventGateFailed, EventGateWaiting) the gate is Step.Gate.
	Kind EventKind
	// Step is the plan's step the event is about: its Number, Role and
	// Title are what a progress display shows.
	Step Step
	// Message says in one line what was done, skipped or would be done.
	Message string
	// Err is the error of a failed step or gate; nil otherwise.
	Err error
	// Time is the executor's clock when the event happened.
	Time time.Time

	dryRun bool // the event is one of [Executor.DryRun]'s, which the log record says
}

// String formats the event in one line, such as
// "step 5 (tenant administrator) step done: Replace the key pair ...".
func (e Event) String() string {
	s := fmt.Sprintf("step %d (%s) %s: %s", e.Step.Number, e.Step.Role, e.Kind, e.Step.Title)
	if g := e.Step.Gate; g != nil && e.Kind.isGate() {
		s += fmt.Sprintf(" [gate %s: %s]", g.When, g.Kind)
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// emit delivers an event to the callback and the logger.
func (x *run) emit(ev Event) {
	ev.Time = x.now()
	ev.dryRun = x.dry
	if x.e.OnEvent != nil {
		x.e.OnEvent(ev)
	}
	level := slog.LevelInfo
	switch ev.Kind {
	case EventStepFailed, EventGateFailed:
		level = slog.LevelError
	case EventWarning:
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{
		slog.Int("step", ev.Step.Number),
		slog.String("id", string(ev.Step.ID)),
		slog.String("role", ev.Step.Role.String()),
	}
	if g := ev.Step.Gate; g != nil && ev.Kind.isGate() {
		attrs = append(attrs, slog.String("gate", g.Kind.String()), slog.String("when", string(g.When)))
	}
	if ev.Message != "" {
		attrs = append(attrs, slog.String("detail", ev.Message))
	}
	if ev.Err != nil {
		attrs = append(attrs, slog.String("error", ev.Err.Error()))
	}
	if ev.dryRun {
		attrs = append(attrs, slog.Bool("dry_run", true))
	}
	x.log.LogAttrs(context.Background(), level, "renewal: "+string(ev.Kind), attrs...)
}
