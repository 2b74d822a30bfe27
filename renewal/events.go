package renewal

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// EventKind says what an [Event] reports.
type EventKind int

const (
	// EventStepStarted: the executor is about to perform the step's action.
	EventStepStarted EventKind = iota + 1
	// EventStepDone: the step's action (and its gate, if any) completed.
	EventStepDone
	// EventStepSkipped: the step needed no action, because an earlier run
	// completed it or because the state already is what the step would
	// make it; [Event.Message] says which.
	EventStepSkipped
	// EventStepFailed: the step's action failed; [Event.Err] says why.
	EventStepFailed
	// EventGatePassed: the step's gate holds.
	EventGatePassed
	// EventGateFailed: the step's gate does not hold; [Event.Err] is a
	// [*GateError] naming every problem.
	EventGateFailed
	// EventGateDeferred: a dry run could not evaluate the step's gate (or
	// all of it), because it depends on steps that have not run yet.
	EventGateDeferred
	// EventWouldRun: a dry run would perform the step; [Event.Message] says
	// what it would do.
	EventWouldRun
	// EventWarning: something a person should look at that does not stop
	// the run; [Event.Message] says what. The executor warns when the
	// receiver would also accept another key entry of the live keystore.
	EventWarning
	// EventGateWaiting: the step's gate waits for something that holds
	// with time, such as the drain of the old certificate before it is
	// removed ([Executor.Drain]); [Event.Message] says what it waits for
	// and until when. A dry run reports that a run would wait.
	EventGateWaiting
)

// String returns a short name such as "step started" or "gate failed".
func (k EventKind) String() string {
	switch k {
	case EventStepStarted:
		return "step started"
	case EventStepDone:
		return "step done"
	case EventStepSkipped:
		return "step skipped"
	case EventStepFailed:
		return "step failed"
	case EventGatePassed:
		return "gate passed"
	case EventGateFailed:
		return "gate failed"
	case EventGateDeferred:
		return "gate deferred"
	case EventWouldRun:
		return "would run"
	case EventWarning:
		return "warning"
	case EventGateWaiting:
		return "gate waiting"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event reports progress of an [Executor] to its caller's
// [Executor.OnEvent] callback. Events never carry a password or a private
// key.
type Event struct {
	// Kind says what happened.
	Kind EventKind
	// Step is the plan's step the event is about: its Number, Role and
	// Title are what a progress display shows.
	Step Step
	// Gate is the gate the event is about, for gate events; nil otherwise.
	Gate *Gate
	// Message says in one line what was done, skipped or would be done.
	Message string
	// Err is the error of a failed step or gate; nil otherwise.
	Err error
	// Time is the executor's clock when the event happened.
	Time time.Time
	// DryRun is set for events of [Executor.DryRun].
	DryRun bool
}

// String formats the event in one line, such as
// "step 5 (tenant administrator) step done: Replace the key pair ...".
func (e Event) String() string {
	s := fmt.Sprintf("step %d (%s) %s: %s", e.Step.Number, e.Step.Role, e.Kind, e.Step.Title)
	if e.Gate != nil {
		s += fmt.Sprintf(" [gate %s: %s]", e.Gate.When, e.Gate.Kind)
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
	ev.DryRun = x.dry
	if x.e.OnEvent != nil {
		x.e.OnEvent(ev)
	}
	level := slog.LevelInfo
	switch ev.Kind {
	case EventStepFailed, EventGateFailed:
		level = slog.LevelError
	case EventGateDeferred, EventWarning:
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{
		slog.Int("step", ev.Step.Number),
		slog.String("id", string(ev.Step.ID)),
		slog.String("role", ev.Step.Role.String()),
	}
	if ev.Gate != nil {
		attrs = append(attrs, slog.String("gate", ev.Gate.Kind.String()), slog.String("when", ev.Gate.When.String()))
	}
	if ev.Message != "" {
		attrs = append(attrs, slog.String("detail", ev.Message))
	}
	if ev.Err != nil {
		attrs = append(attrs, slog.String("error", ev.Err.Error()))
	}
	if x.dry {
		attrs = append(attrs, slog.Bool("dry_run", true))
	}
	x.log.LogAttrs(context.Background(), level, "renewal: "+ev.Kind.String(), attrs...)
}
