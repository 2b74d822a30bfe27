package temporal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	sdktemporal "go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/certroll/certroll/renewal"
)

// defaultReplyTimeout is how long step 1 waits for a CA's reply before
// the wait is reported overdue: a week, the "next week" of a CA that
// answers by hand.
const defaultReplyTimeout = 7 * 24 * time.Hour

// acts is the receiver of the activity method references: the workflow
// names the activities, the worker's [Activities] runs them.
var acts *Activities

// renewalRun is the state of one [RenewalWorkflow]: its history is the
// journal, and this is what replaying it rebuilds.
type renewalRun struct {
	ctx  workflow.Context
	in   Input
	plan *renewal.Plan
	st   *Status
	art  Artifacts
	// confirmed holds the confirmations received, in order, including
	// those that came before their step waited for them.
	confirmed []renewal.StepID
}

// RenewalWorkflow runs one renewal plan step by step, each step an
// activity of [Activities], with the plan's gates checked before and
// after their steps as the executor checks them. It returns the
// renewal's [Status] at its end: done, failed (a gate that does not
// hold, with [Status.RefusedBy]; an activity that failed for good), and
// never an error for either, so that a campaign reads how each renewal
// ended. An error is returned only when the workflow is cancelled.
//
// Waits are durable: a hand-off listed in [Options.Confirm] waits for
// [SignalConfirm], step 1 waits for [SignalReply] while the CA answers
// later, a failed gate waits [Options.GateRetry] for [SignalRetry], and
// the downtime window's start, the drain and [Options.CacheWait] are
// timers. A wait that outlasts its timeout is reported overdue and goes
// on: [QueryStatus] says what the renewal waits for, on whom, since
// when.
func RenewalWorkflow(ctx workflow.Context, in Input) (*Status, error) {
	r := &renewalRun{ctx: ctx, in: in}
	now := workflow.Now(ctx).UTC()
	r.st = &Status{Name: in.Name, State: renewal.StatusRunning, Created: now, Updated: now, Receiver: in.group(), Steps: []StepStatus{}}
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (*Status, error) { return r.st, nil }); err != nil {
		return nil, err
	}
	if err := r.checkPlan(); err != nil {
		return r.fail(err.Error()), nil
	}
	maxAttempts := in.Options.MaxAttempts
	if maxAttempts == 0 {
		maxAttempts = 20
	}
	stepTimeout := in.Options.StepTimeout
	if stepTimeout <= 0 {
		stepTimeout = 10 * time.Minute
	}
	r.ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		// An attempt that outlives it is retried, possibly while it still
		// runs: on the same worker the retry waits for the renewal's lock
		// (Activities.lock); on another, the receivers' adapters lock
		// their files and every change is asked of the state first.
		StartToCloseTimeout: stepTimeout,
		// A worker that dies is noticed within a heartbeat timeout and the
		// attempt is retried elsewhere.
		HeartbeatTimeout: 2 * time.Minute,
		RetryPolicy: &sdktemporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Minute,
			MaximumAttempts: maxAttempts, NonRetryableErrorTypes: nonRetryable,
		},
	})
	return r.run()
}

// checkPlan refuses a plan that is not what [renewal.Build] gives for
// its own sequence and parameters, as the executor does: the destructive
// markings and gates come from the renewal package, not from the input.
func (r *renewalRun) checkPlan() error {
	p := r.in.Plan
	switch {
	case p != nil && r.in.Params != nil:
		return errors.New("renewal/temporal: the input has a plan and parameters: give one of them")
	case p == nil && r.in.Params == nil:
		return errors.New("renewal/temporal: the input has no plan")
	case p == nil:
		built, err := renewal.Build(r.in.Sequence, *r.in.Params)
		if err != nil {
			return fmt.Errorf("renewal/temporal: the plan's parameters: %w", err)
		}
		p = built
	}
	r.st.Sequence, r.st.Alias, r.st.Keystore = p.Sequence, p.Params.Alias, p.Params.Keystore
	r.st.OldFingerprint = p.Params.OldFingerprint
	built, err := renewal.Build(p.Sequence, p.Params)
	if err != nil {
		return fmt.Errorf("renewal/temporal: the plan's parameters: %w", err)
	}
	a, err1 := json.Marshal(p)
	b, err2 := json.Marshal(built)
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	if !bytes.Equal(a, b) {
		return fmt.Errorf("renewal/temporal: the plan is not what certroll builds for its sequence %q and parameters (it was edited, or made by another version): make it again with certroll plan --json and start the renewal with that file unchanged: %w", p.Sequence, renewal.ErrInvalidPlan)
	}
	r.plan = built
	for _, s := range built.Steps {
		r.st.Steps = append(r.st.Steps, StepStatus{Number: s.Number, ID: s.ID, Status: renewal.StatusPending})
	}
	return nil
}

func (r *renewalRun) touch() { r.st.Updated = workflow.Now(r.ctx).UTC() }

func (r *renewalRun) fail(msg string) *Status {
	r.st.State, r.st.Error, r.st.Waiting = renewal.StatusFailed, msg, nil
	r.touch()
	return r.st
}

func (r *renewalRun) input(s renewal.Step) StepInput {
	return StepInput{Renewal: r.in.Name, Adapters: r.in.Adapters, Plan: r.plan, Step: s, Artifacts: r.art}
}

func (r *renewalRun) run() (*Status, error) {
	var art Artifacts
	if err := workflow.ExecuteActivity(r.ctx, acts.Prepare, r.input(renewal.Step{})).Get(r.ctx, &art); err != nil {
		return r.failed(err)
	}
	r.art = art
	for i := range r.plan.Steps {
		if err := r.step(i); err != nil {
			return r.failed(err)
		}
		if r.st.State == renewal.StatusFailed {
			return r.st, nil
		}
	}
	var diffs []string
	if err := workflow.ExecuteActivity(r.ctx, acts.VerifyEnd, r.input(renewal.Step{})).Get(r.ctx, &diffs); err != nil {
		return r.failed(err)
	}
	if len(diffs) > 0 {
		return r.fail("renewal/temporal: every step is done, but the end state differs: " + strings.Join(diffs, "; ")), nil
	}
	r.st.State, r.st.Waiting = renewal.StatusDone, nil
	r.touch()
	return r.st, nil
}

// failed ends the renewal on an activity that failed for good; a
// cancelled workflow returns its error.
func (r *renewalRun) failed(err error) (*Status, error) {
	var ce *sdktemporal.CanceledError
	if errors.As(err, &ce) {
		return r.st, err
	}
	return r.fail(err.Error()), nil
}

// step runs step i: its gate before, its action, its gate after. A gate
// that does not hold leaves the state failed and returns nil.
func (r *renewalRun) step(i int) error {
	s := r.plan.Steps[i]
	rec := &r.st.Steps[i]
	if g := s.Gate; g != nil && g.When == renewal.GateBefore {
		if ok, err := r.gate(i); err != nil || !ok {
			return err
		}
	}
	rec.Status, rec.Attempts = renewal.StatusStarted, rec.Attempts+1
	r.touch()
	note, err := r.act(i)
	if err != nil {
		rec.Status, rec.Error = renewal.StatusFailed, err.Error()
		return err
	}
	if r.st.State == renewal.StatusFailed {
		rec.Status = renewal.StatusFailed
		return nil
	}
	rec.Note = note
	if g := s.Gate; g != nil && g.When == renewal.GateAfter {
		if ok, err := r.gate(i); err != nil || !ok {
			return err
		}
	}
	rec.Status = renewal.StatusDone
	r.touch()
	return nil
}

// act performs step i's action.
func (r *renewalRun) act(i int) (string, error) {
	s := r.plan.Steps[i]
	var out StepOutput
	exec := func(fn any) (string, error) {
		err := workflow.ExecuteActivity(r.ctx, fn, r.input(s)).Get(r.ctx, &out)
		return out.Note, err
	}
	switch s.ID {
	case renewal.StepGenerateKey:
		return r.generateKey(i)
	case renewal.StepAgreeWindow:
		note, err := r.handOff(i)
		if err != nil || r.st.State == renewal.StatusFailed {
			return note, err
		}
		w := r.plan.Params.Window
		if msg := r.outsideWindow(); msg != "" {
			r.fail(msg)
			return "", nil
		}
		if now := workflow.Now(r.ctx); !w.Start.IsZero() && now.Before(w.Start) {
			if err := r.sleep(i, w.Start.Sub(now), "the start of the downtime window "+w.String(), ""); err != nil {
				return "", err
			}
			return "window agreed; waited for its start " + w.Start.UTC().Format(time.RFC3339), nil
		}
		return note + "; window agreed and open: " + w.String(), nil
	case renewal.StepReceiverAcceptBoth:
		return exec(acts.ReceiverAcceptBoth)
	case renewal.StepReceiverSwap:
		return exec(acts.ReceiverSwap)
	case renewal.StepSwapEntry:
		return exec(acts.SwapEntry)
	case renewal.StepStopFlow:
		if msg := r.outsideWindow(); msg != "" {
			r.fail(msg)
			return "", nil
		}
		return exec(acts.StopFlow)
	case renewal.StepRestartNodes:
		if d := r.in.Options.CacheWait; d > 0 {
			if err := r.sleep(i, d, fmt.Sprintf("the nodes' keystore caches to expire (%s), instead of a restart", d), ""); err != nil {
				return "", err
			}
		}
		return exec(acts.RestartNodes)
	case renewal.StepRemoveOld:
		in := r.input(s)
		in.SwapDone = r.done(renewal.StepReceiverSwap)
		err := workflow.ExecuteActivity(r.ctx, acts.RemoveOld, in).Get(r.ctx, &out)
		return out.Note, err
	}
	if s.Kind == renewal.KindHandOff {
		return r.handOff(i)
	}
	if s.Kind == renewal.KindGate {
		return "gate only", nil
	}
	return "", sdktemporal.NewNonRetryableApplicationError(fmt.Sprintf("renewal/temporal: no action for step ID %q", s.ID), errTypeConfig, nil)
}

func (r *renewalRun) done(id renewal.StepID) bool {
	return slices.ContainsFunc(r.st.Steps, func(s StepStatus) bool { return s.ID == id && s.Status == renewal.StatusDone })
}

// outsideWindow says why the downtime window has ended, or "".
func (r *renewalRun) outsideWindow() string {
	w := r.plan.Params.Window
	now := workflow.Now(r.ctx)
	if r.plan.Sequence != renewal.SequenceDowntime || w.End.IsZero() || now.Before(w.End) {
		return ""
	}
	return fmt.Sprintf("renewal/temporal: the downtime window %s ended before %s: agree a new window and start the renewal again with a plan built for it: %v",
		w, now.UTC().Format(time.RFC3339), renewal.ErrOutsideWindow)
}

// handOffMessage is the executor's: the step's title and detail, which
// carry the fingerprints once step 1 is done.
func handOffMessage(s renewal.Step) string { return s.Title + ". " + s.Detail }

// handOff delivers step i's hand-off and, if the options say so, waits
// for its confirmation.
func (r *renewalRun) handOff(i int) (string, error) {
	s := r.plan.Steps[i]
	in := r.input(s)
	in.Message = handOffMessage(s)
	if err := workflow.ExecuteActivity(r.ctx, acts.HandOff, in).Get(r.ctx, nil); err != nil {
		return "", err
	}
	timeout, wait := r.in.Options.confirmTimeout(s.ID)
	if !wait {
		return fmt.Sprintf("delivered to %s", s.To), nil
	}
	confirm := workflow.GetSignalChannel(r.ctx, SignalConfirm)
	var c Confirmation
	for confirm.ReceiveAsync(&c) {
		r.confirmed = append(r.confirmed, c.Step)
	}
	if !slices.Contains(r.confirmed, s.ID) {
		who := s.To
		if s.Kind == renewal.KindHandOff && s.To == renewal.TenantAdmin {
			who = s.Role // a confirmation to the tenant administrator comes from the step's role
		}
		err := r.wait(i, who, "a confirmation: signal "+SignalConfirm+" with step "+string(s.ID), SignalConfirm, timeout, func(sel workflow.Selector, got *bool) {
			sel.AddReceive(confirm, func(ch workflow.ReceiveChannel, _ bool) {
				var c Confirmation
				ch.Receive(r.ctx, &c)
				r.confirmed = append(r.confirmed, c.Step)
				*got = c.Step == s.ID
			})
		})
		if err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("delivered to %s and confirmed", s.To), nil
}

// wait records the renewal as waiting on step i for what, from whom,
// until add's receive sets got; a timeout (if not zero) marks the wait
// overdue, and the wait goes on. A cancelled workflow ends the wait with
// the cancellation's error.
func (r *renewalRun) wait(i int, on renewal.Role, what, signal string, timeout time.Duration, add func(sel workflow.Selector, got *bool)) error {
	s := r.plan.Steps[i]
	now := workflow.Now(r.ctx).UTC()
	w := &Waiting{Step: s.Number, ID: s.ID, On: on, For: what, Signal: signal, Since: now}
	var timer workflow.Future
	tctx, cancel := workflow.WithCancel(r.ctx)
	defer cancel()
	if timeout > 0 {
		w.Until = now.Add(timeout)
		timer = workflow.NewTimer(tctx, timeout)
	}
	r.setWaiting(i, w)
	for got := false; !got; {
		sel := workflow.NewSelector(r.ctx)
		add(sel, &got)
		if timer != nil {
			sel.AddFuture(timer, func(f workflow.Future) {
				timer = nil
				if f.Get(r.ctx, nil) == nil {
					w.Overdue = true
					r.touch()
					r.tellParent()
				}
			})
		}
		addCancel(r.ctx, sel)
		sel.Select(r.ctx)
		if err := r.ctx.Err(); err != nil {
			return sdktemporal.NewCanceledError(fmt.Sprintf("renewal/temporal: cancelled while waiting for %s", what))
		}
	}
	r.setWaiting(i, nil)
	return nil
}

// addCancel makes sel's Select return when ctx is cancelled.
func addCancel(ctx workflow.Context, sel workflow.Selector) {
	sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {})
}

// sleep waits d on a durable timer, recording the wait; a cancelled
// workflow ends it with the cancellation's error.
func (r *renewalRun) sleep(i int, d time.Duration, what, signal string) error {
	s := r.plan.Steps[i]
	now := workflow.Now(r.ctx).UTC()
	r.setWaiting(i, &Waiting{Step: s.Number, ID: s.ID, For: what, Signal: signal, Since: now, Until: now.Add(d)})
	if err := workflow.Sleep(r.ctx, d); err != nil {
		return err
	}
	r.setWaiting(i, nil)
	return nil
}

func (r *renewalRun) setWaiting(i int, w *Waiting) {
	rec := &r.st.Steps[i]
	if w != nil {
		r.st.State, r.st.Waiting, rec.Status = renewal.StatusWaiting, w, renewal.StatusWaiting
	} else {
		r.st.State, r.st.Waiting, rec.Status = renewal.StatusRunning, nil, renewal.StatusStarted
	}
	r.touch()
	r.tellParent()
}

// tellParent sends a campaign the renewal's state, without its steps.
func (r *renewalRun) tellParent() {
	p := workflow.GetInfo(r.ctx).ParentWorkflowExecution
	if p == nil {
		return
	}
	s := *r.st
	s.Steps = nil
	// Best effort: the campaign reads the child's result at its end anyway.
	_ = workflow.SignalExternalWorkflow(r.ctx, p.ID, "", signalProgress, s).Get(r.ctx, nil)
}

// generateKey is step 1: a CA that answers later makes it wait for
// SignalReply, telling the tenant administrator once where the request
// is and where the reply goes.
func (r *renewalRun) generateKey(i int) (string, error) {
	s := r.plan.Steps[i]
	replies := workflow.GetSignalChannel(r.ctx, SignalReply)
	told := false
	var deadline workflow.Future
	var w *Waiting
	tctx, cancel := workflow.WithCancel(r.ctx)
	defer cancel()
	for {
		var out StepOutput
		if err := workflow.ExecuteActivity(r.ctx, acts.GenerateKey, r.input(s)).Get(r.ctx, &out); err != nil {
			return "", err
		}
		if out.Awaiting == nil {
			r.art.NewChain, r.art.NewRoot, r.art.StagedKey = out.NewChain, out.NewRoot, ""
			r.st.NewFingerprint = fingerprint(out.NewChain)
			// The hand-offs carry the new fingerprint, as the executor's.
			p := r.plan.Params
			p.NewFingerprint = r.st.NewFingerprint
			if q, err := renewal.Build(r.plan.Sequence, p); err == nil && len(q.Steps) == len(r.plan.Steps) {
				r.plan = q
			}
			if w != nil {
				r.setWaiting(i, nil)
			}
			return out.Note, nil
		}
		r.art.StagedKey = out.Awaiting.StagedKey
		if !told {
			told = true
			to := s
			to.To = s.Role
			in := r.input(to)
			in.Message = out.Awaiting.Message
			if err := workflow.ExecuteActivity(r.ctx, acts.HandOff, in).Get(r.ctx, nil); err != nil {
				return "", err
			}
			timeout := r.in.Options.ReplyTimeout
			if timeout == 0 {
				timeout = defaultReplyTimeout
			}
			now := workflow.Now(r.ctx).UTC()
			what := "the CA's reply"
			if out.Awaiting.Reply != "" {
				what += " at " + out.Awaiting.Reply
			}
			if out.Awaiting.Request != "" {
				what += " to the request " + out.Awaiting.Request
			}
			w = &Waiting{Step: s.Number, ID: s.ID, On: s.Role, For: what, Signal: SignalReply, Since: now, Until: now.Add(timeout)}
			deadline = workflow.NewTimer(tctx, timeout)
			r.setWaiting(i, w)
			r.st.Steps[i].Note = out.Awaiting.Message
		}
		for got := false; !got; {
			sel := workflow.NewSelector(r.ctx)
			sel.AddReceive(replies, func(ch workflow.ReceiveChannel, _ bool) {
				ch.Receive(r.ctx, nil)
				got = true
			})
			if deadline != nil {
				sel.AddFuture(deadline, func(f workflow.Future) {
					deadline = nil
					if f.Get(r.ctx, nil) == nil {
						w.Overdue = true
						r.touch()
						r.tellParent()
					}
				})
			}
			addCancel(r.ctx, sel)
			sel.Select(r.ctx)
			if r.ctx.Err() != nil {
				return "", sdktemporal.NewCanceledError("renewal/temporal: cancelled while waiting for the CA's reply")
			}
		}
		r.st.Steps[i].Attempts++
	}
}

// gate checks step i's gate: a drain is waited for on a timer, and a
// gate that does not hold waits Options.GateRetry for SignalRetry before
// the renewal ends, failed, refused by it.
func (r *renewalRun) gate(i int) (bool, error) {
	s := r.plan.Steps[i]
	rec := &r.st.Steps[i]
	drain := max(r.in.Options.Drain, 0)
	start := workflow.Now(r.ctx)
	for {
		in := r.input(s)
		in.Now, in.Drain = workflow.Now(r.ctx), drain
		var res GateResult
		if err := workflow.ExecuteActivity(r.ctx, acts.CheckGate, in).Get(r.ctx, &res); err != nil {
			return false, err
		}
		rec.Gate = &res
		if res.Passed {
			return true, nil
		}
		if len(res.Problems) == 0 && !res.DrainUntil.IsZero() {
			now := workflow.Now(r.ctx)
			if now.Sub(start) < maxDrainWaits*drain {
				// At most a drain before asking again: a receiver whose
				// clock runs ahead of the workflow's must not stretch one
				// wait past the bound.
				if err := r.sleep(i, min(res.DrainUntil.Sub(now), drain), fmt.Sprintf("a drain of %s without a handshake presenting the old certificate, until %s", drain, res.DrainUntil.Format(time.RFC3339)), ""); err != nil {
					return false, err
				}
				continue
			}
			res.Problems = append(res.Problems, fmt.Sprintf("a client still presents the old client certificate: the receiver saw it less than %s before %s, after waiting %s (%d drains); find that client and move it to the new certificate before the old certificate and root are removed",
				drain, now.UTC().Format(time.RFC3339), now.Sub(start), maxDrainWaits))
		}
		rec.Status, rec.Error = renewal.StatusFailed, "gate "+string(res.Kind)+" does not hold: "+strings.Join(res.Problems, "; ")
		if d := r.in.Options.GateRetry; d > 0 {
			retry := workflow.GetSignalChannel(r.ctx, SignalRetry)
			retried := false
			tctx, cancel := workflow.WithCancel(r.ctx)
			timer := workflow.NewTimer(tctx, d)
			now := workflow.Now(r.ctx).UTC()
			r.st.RefusedBy = &res
			r.setWaiting(i, &Waiting{Step: s.Number, ID: s.ID, On: s.Role, For: "the problems of gate " + string(res.Kind) + " put right: signal " + SignalRetry, Signal: SignalRetry, Since: now, Until: now.Add(d)})
			sel := workflow.NewSelector(r.ctx)
			sel.AddReceive(retry, func(ch workflow.ReceiveChannel, _ bool) { ch.Receive(r.ctx, nil); retried = true })
			sel.AddFuture(timer, func(workflow.Future) {})
			addCancel(r.ctx, sel)
			sel.Select(r.ctx)
			cancel()
			if r.ctx.Err() != nil {
				return false, sdktemporal.NewCanceledError("renewal/temporal: cancelled while waiting for " + SignalRetry)
			}
			if retried {
				r.st.RefusedBy = nil
				r.setWaiting(i, nil)
				continue
			}
		}
		r.st.RefusedBy = &res
		r.fail(rec.Error)
		return false, nil
	}
}
