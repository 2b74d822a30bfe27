package renewal

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/certroll/certroll/keystore"
)

// dryRunText formats a dry run as a numbered list, one step per
// paragraph.
func (r *Result) dryRunText() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Dry run of the %s renewal (%d steps); nothing was changed.\n", r.Sequence, len(r.Steps))
	for i, p := range r.Steps {
		s := r.plan.Steps[i]
		fmt.Fprintf(&b, "\n%d. [%s] %s: %s\n", s.Number, p.Status, s.Role, s.Title)
		if p.Status == StatusDone {
			b.WriteString("   done in an earlier run\n")
			continue
		}
		if g := p.Gate; g != nil {
			fmt.Fprintf(&b, "   gate %s: %s\n", g.When, g.Kind)
			for _, c := range g.Checked {
				fmt.Fprintf(&b, "     checked: %s\n", c)
			}
			for _, c := range g.Deferred {
				fmt.Fprintf(&b, "     deferred: %s\n", c)
			}
			for _, pr := range g.Problems {
				fmt.Fprintf(&b, "     FAILS: %s\n", pr)
			}
		}
		fmt.Fprintf(&b, "   would: %s\n", p.Would)
	}
	return b.String()
}

// DryRun evaluates the plan from where the journal says earlier runs
// stopped, without changing anything: it writes no file (not even the
// journal or its lock), calls no method of the CA or the notifier, and
// only the read-only methods of the receiver ([Receiver.Accepts],
// [Prober.Probe], and those of [ReceiverInspector]) and the runtime ([Runtime.Nodes],
// [Runtime.Presents]). The [Result] has each step's record as the
// journal has it (pending when there is no journal yet), with what a run
// would do ([StepRecord.Would]) and what the step's gate says today
// ([StepRecord.Gate], with the conditions checked and deferred): every
// gate condition that does not depend on a step not yet done is
// evaluated. Its String lists it all, step by step. While it runs,
// OnEvent hears of the steps done earlier (EventStepSkipped), and of the
// gates that fail, pass or would wait, as in a run.
//
// The error is nil when every evaluated condition holds; otherwise it
// joins a [*GateError] per failing gate (matching [ErrGateFailed]). A
// configuration problem (an unreadable keystore, a journal for another
// renewal) is returned without a report.
func (e *Executor) DryRun(ctx context.Context) (*Result, error) {
	x, err := e.prepare(ctx, true)
	if err != nil {
		return nil, err
	}
	d := x.result()
	d.plan, d.Steps = x.plan, nil
	var failed []error
	for i, s := range x.plan.Steps {
		if err := ctx.Err(); err != nil {
			return d, err
		}
		p := StepRecord{Number: s.Number, ID: s.ID, Status: StatusPending}
		if x.j != nil {
			p = x.j.Steps[i].public()
		}
		if p.Status == StatusDone {
			d.Steps = append(d.Steps, p)
			x.emit(Event{Kind: EventStepSkipped, Step: s, Message: "done in an earlier run"})
			continue
		}
		if s.Gate != nil {
			gc, gerr := x.dryGate(ctx, i, s)
			p.Gate = gc
			switch {
			case gerr != nil:
				failed = append(failed, gerr)
				x.emit(Event{Kind: EventGateFailed, Step: s, Err: gerr})
			case len(gc.Deferred) == 0:
				x.emit(Event{Kind: EventGatePassed, Step: s})
			}
		}
		p.Would = x.describe(ctx, s)
		d.Steps = append(d.Steps, p)
	}
	return d, errors.Join(failed...)
}

// dryGate evaluates the conditions of step i's gate that do not depend on
// a step that is not done, and returns the evaluation and the failure of
// the conditions checked (nil if they hold).
func (x *run) dryGate(ctx context.Context, i int, s Step) (*GateRecord, *GateError) {
	g := *s.Gate
	gc := &GateRecord{Kind: g.Kind, When: g.When}
	pending := map[StepID]Step{}
	for j := 0; j < i; j++ {
		if t := x.plan.Steps[j]; !x.done(t.ID) {
			pending[t.ID] = t
		}
	}
	if g.When == GateAfter {
		rec := (*stepRecord)(nil)
		if x.j != nil {
			rec = &x.j.Steps[i]
		}
		if rec == nil || rec.Acted.IsZero() || !s.Destructive {
			pending[s.ID] = s
		}
	}
	c := &gateCheck{step: s, gate: g}
	parts, ok := gateParts[g.Kind]
	if !ok {
		c.problem(nil, "the executor has no check for gate kind %q", g.Kind)
	}
	for _, p := range parts {
		if p.applies != nil && !p.applies(x) {
			continue
		}
		var waits []string
		for _, id := range p.after {
			if t, ok := pending[id]; ok {
				waits = append(waits, fmt.Sprintf("step %d (%s)", t.Number, t.ID))
			}
		}
		if len(waits) > 0 {
			gc.Deferred = append(gc.Deferred, fmt.Sprintf("%s: evaluated after %s", p.what, strings.Join(waits, ", ")))
			continue
		}
		gc.Checked = append(gc.Checked, p.what)
		p.check(x, ctx, c)
	}
	gerr := c.err(s, g)
	if gerr != nil {
		gc.Problems = gerr.Problems
	}
	gc.Passed = gerr == nil && len(gc.Deferred) == 0
	return gc, gerr
}

// describe says what a run would do for step s, reading the state but
// changing nothing.
func (x *run) describe(ctx context.Context, s Step) string {
	t := x.e.Tenant
	newCert := "the new certificate of step 1"
	if x.newLeaf() != nil {
		newCert = describeCert(x.newLeaf())
	}
	newRoot := fmt.Sprintf("the new root (SHA-256 %s)", x.e.Plan.Params.NewRootFingerprint)
	if x.newRoot != nil {
		newRoot = "the new root " + describeCert(x.newRoot)
	}
	switch s.ID {
	case StepGenerateKey:
		if x.j != nil && x.j.Artifacts.StagedKey != "" && x.j.Artifacts.NewChain == "" {
			if err := x.checkStagedKey(); err != nil {
				return fmt.Sprintf("refuse, changing nothing: %v", err)
			}
		}
		var w string
		p, err := t.Pending()
		switch {
		case err != nil:
			return fmt.Sprintf("cannot read the staging store %s: %v", t.stagingPath(), err)
		case p != nil && p.Signed:
			w = fmt.Sprintf("use the signed pending entry %s in the staging store %s", describeCert(p.Chain[0]), t.stagingPath())
		case p != nil:
			w = fmt.Sprintf("have the CA sign a request for the pending %s key in the staging store %s, and install the reply there",
				keystore.KeyDescription(p.Key.Public()), t.stagingPath())
		default:
			kt := t.KeyType
			if kt == 0 {
				kt = keyTypeFor(x.oldLeaf().PublicKey)
			}
			w = fmt.Sprintf("make a new %s key with a placeholder certificate in the staging store %s, have the CA sign a request for %q, check that the chain reaches %s, and install it there",
				kt, t.stagingPath(), x.oldLeaf().Subject.String(), newRoot)
		}
		if x.e.HandOverDir != "" {
			w += fmt.Sprintf("; write the new certificate and root as PEM files in %s", x.e.HandOverDir)
		}
		return w
	case StepReceiverAcceptBoth:
		return fmt.Sprintf("receiver: trust %s and accept %s next to the old certificate %s", newRoot, newCert, describeCert(x.oldLeaf()))
	case StepReceiverSwap:
		return fmt.Sprintf("receiver: trust %s, stop accepting the old certificate %s, accept %s", newRoot, describeCert(x.oldLeaf()), newCert)
	case StepRemoveOld:
		root := "the old root (not known: give Executor.OldRoot)"
		if x.oldRoot != nil {
			root = "the old root " + describeCert(x.oldRoot)
		}
		return fmt.Sprintf("receiver: stop accepting the old certificate %s and stop trusting %s", describeCert(x.oldLeaf()), root)
	case StepSwapEntry:
		return fmt.Sprintf("copy the entry under alias %q (%s) to the history store %s as %q, then put the new key and %s under alias %q in %s in one atomic write, keeping every other entry; remove the pending entry from %s",
			t.Alias, describeCert(x.oldLeaf()), t.historyPath(), t.historyAlias(x.oldLeaf()), newCert, t.Alias, t.Keystore, t.stagingPath())
	case StepRestartNodes, StepStopFlow:
		verb := "restart (or start, if stopped) the flow on the nodes that do not present " + newCert
		if s.ID == StepStopFlow {
			verb = "stop the flow on every running node"
		}
		return verb + "; now: " + x.describeNodes(ctx)
	case StepAgreeWindow:
		return fmt.Sprintf("hand off to %s; if the window %s has not opened yet, stop waiting for it (run again once it is open): %s", s.To, x.e.Plan.Params.Window, x.handOffMessage(s))
	}
	if s.Kind == KindHandOff {
		w := fmt.Sprintf("hand off to %s: %s", s.To, x.handOffMessage(s))
		if d := x.e.Waits[s.ID]; d > 0 {
			w += fmt.Sprintf(" (and wait up to %s for the confirmation)", d)
		}
		return w
	}
	return "check the gate only"
}

// describeNodes says what each node presents now.
func (x *run) describeNodes(ctx context.Context) string {
	nodes, err := x.e.Runtime.Nodes(ctx)
	if err != nil {
		return fmt.Sprintf("cannot list the nodes: %v", err)
	}
	var parts []string
	for _, n := range nodes {
		c, err := x.e.Runtime.Presents(ctx, n)
		switch {
		case err != nil:
			parts = append(parts, fmt.Sprintf("%s: %v", n, err))
		case c == nil:
			parts = append(parts, n+" stopped")
		case sameCert(c, x.oldLeaf()):
			parts = append(parts, n+" presents the old certificate")
		case sameCert(c, x.newLeaf()):
			parts = append(parts, n+" presents the new certificate")
		default:
			parts = append(parts, fmt.Sprintf("%s presents %s", n, describeCert(c)))
		}
	}
	return strings.Join(parts, ", ")
}
