package temporal

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/workflow"

	"github.com/certroll/certroll/renewal"
)

// Campaign is what [CampaignWorkflow] runs: many renewals, each a child
// [RenewalWorkflow], at most MaxConcurrent at once and at most
// MaxPerReceiver at once on one receiver (named by the renewal's Group,
// or else its Adapters.Receiver), started in the order listed.
type Campaign struct {
	Name     string  `json:"name"`
	Renewals []Input `json:"renewals"`
	// MaxConcurrent bounds the renewals running at once. Zero means 10.
	MaxConcurrent int `json:"max_concurrent,omitempty"`
	// MaxPerReceiver bounds the renewals running at once against one
	// receiver, so that a mistake touches few receivers. Zero means 1.
	MaxPerReceiver int `json:"max_per_receiver,omitempty"`
	// PauseAfter pauses the campaign (no renewal is started; those
	// running go on) once more than PauseAfter renewals have been refused
	// by a gate since it started or was last resumed ([SignalResume]).
	// Zero pauses at the first refusal; a negative value never pauses.
	PauseAfter int `json:"pause_after,omitempty"`
}

// versionDisconnectedChildren is the change ID of the campaign's
// children running on a disconnected context (workflow.GetVersion).
const versionDisconnectedChildren = "disconnected-children"

// Renewal states in a campaign's [Report], besides the renewal package's
// running, waiting, done and failed.
const (
	// StatePending is a renewal not started yet.
	StatePending renewal.Status = "pending"
	// StateRefused is a renewal that a gate stopped.
	StateRefused renewal.Status = "refused"
)

// Entry is one renewal in a campaign's [Report].
type Entry struct {
	Name     string         `json:"name"`
	Receiver string         `json:"receiver"`
	State    renewal.Status `json:"state"`
	Waiting  *Waiting       `json:"waiting_for,omitempty"`
	// Gate and Error say why a refused or failed renewal stopped.
	Gate  renewal.GateKind `json:"gate,omitempty"`
	Error string           `json:"error,omitempty"`
}

// Refusal lists the renewals one gate refused.
type Refusal struct {
	Gate     renewal.GateKind `json:"gate"`
	Renewals []string         `json:"renewals"`
}

// WaitingOn lists the renewals waiting on one role (or on a timer, with
// an empty Role).
type WaitingOn struct {
	Role     renewal.Role `json:"role,omitempty"`
	Renewals []string     `json:"renewals"`
}

// Report is where a campaign stands: [QueryReport] returns it and
// [CampaignWorkflow] at its end. Its lists are in the campaign's order,
// so that the same state gives byte-identical JSON and Markdown.
type Report struct {
	Name    string         `json:"name"`
	Updated time.Time      `json:"updated"`
	Total   int            `json:"total"`
	Counts  map[string]int `json:"counts"`
	Paused  bool           `json:"paused"`
	// PausedReason says why, while Paused.
	PausedReason string      `json:"paused_reason,omitempty"`
	Waiting      []WaitingOn `json:"waiting,omitempty"`
	Refused      []Refusal   `json:"refused,omitempty"`
	// MaxRunning and MaxRunningPerReceiver are the most renewals that
	// ran at once, overall and against one receiver.
	MaxRunning            int     `json:"max_running"`
	MaxRunningPerReceiver int     `json:"max_running_per_receiver"`
	Renewals              []Entry `json:"renewals"`
	// Resumes lists the [SignalResume]s received, in order.
	Resumes []Resume `json:"resumes,omitempty"`
	// Cancelled says the campaign was cancelled: it started no renewal
	// after, and waited for those running to end.
	Cancelled bool `json:"cancelled,omitempty"`
}

// Resume is one [SignalResume] a campaign received.
type Resume struct {
	At time.Time `json:"at"`
	// Resumed says it ended a pause; a resume while not paused changes
	// nothing (the refusals counted towards the next pause stay).
	Resumed bool `json:"resumed"`
	// Refused is how many refusals the pause it ended had counted.
	Refused int `json:"refused,omitempty"`
}

// campaignRun is a campaign's state.
type campaignRun struct {
	ctx     workflow.Context
	c       Campaign
	entries []Entry
	index   map[string]int // name → entries index; looked up, never ranged over
	report  Report
	running int
	perRcv  map[string]int // looked up, never ranged over
	refused int            // since the start or the last resume
	// counted marks the renewals whose refusal is counted: once each,
	// whether a progress update or the end told it.
	counted []bool
	paused  bool
}

// CampaignWorkflow runs a [Campaign]'s renewals as child workflows (IDs
// "<campaign workflow ID>/<renewal name>"), within its limits, and
// returns its [Report] once every renewal has ended: done, refused or
// failed. A renewal waiting for a person keeps the campaign open; the
// report says who is waited for. While paused it waits for
// [SignalResume].
func CampaignWorkflow(ctx workflow.Context, c Campaign) (*Report, error) {
	if c.MaxConcurrent <= 0 {
		c.MaxConcurrent = 10
	}
	if c.MaxPerReceiver <= 0 {
		c.MaxPerReceiver = 1
	}
	r := &campaignRun{ctx: ctx, c: c, index: map[string]int{}, perRcv: map[string]int{}}
	for _, in := range c.Renewals {
		if in.Name == "" {
			return nil, errors.New("renewal/temporal: campaign: every renewal needs a name")
		}
		if _, dup := r.index[in.Name]; dup {
			return nil, fmt.Errorf("renewal/temporal: campaign: two renewals are named %q; names must be unique", in.Name)
		}
		r.index[in.Name] = len(r.entries)
		r.entries = append(r.entries, Entry{Name: in.Name, Receiver: in.group(), State: StatePending})
	}
	r.counted = make([]bool, len(r.entries))
	if err := workflow.SetQueryHandler(ctx, QueryReport, func() (*Report, error) { return r.build(), nil }); err != nil {
		return nil, err
	}
	// The children run on a context the campaign's cancellation does not
	// reach: cancelling the campaign stops new starts, and a renewal
	// midway goes on to its end (it can be cancelled on its own).
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	// A campaign whose history began before this version ran its children
	// on its own context and went on starting them after a cancellation:
	// it replays as it ran.
	disconnected := workflow.GetVersion(ctx, versionDisconnectedChildren, workflow.DefaultVersion, 1) != workflow.DefaultVersion
	if !disconnected {
		dctx = ctx
	}
	r.ctx = dctx
	cctx := workflow.WithChildOptions(dctx, workflow.ChildWorkflowOptions{
		// A campaign ended by hand does not cut a renewal off midway.
		ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON,
	})
	progress := workflow.GetSignalChannel(ctx, signalProgress)
	resume := workflow.GetSignalChannel(ctx, SignalResume)
	sel := workflow.NewSelector(dctx)
	sel.AddReceive(progress, func(ch workflow.ReceiveChannel, _ bool) {
		var s Status
		ch.Receive(dctx, &s)
		// Only a running renewal's progress counts: one that ended is
		// told by its result.
		if i, ok := r.index[s.Name]; ok && (r.entries[i].State == renewal.StatusRunning || r.entries[i].State == renewal.StatusWaiting) {
			r.entries[i].State, r.entries[i].Waiting = s.State, s.Waiting
			if s.RefusedBy != nil {
				// Refused, waiting for SignalRetry: counted now, so that
				// the pause does not wait for the renewal's end.
				r.refuse(i, s.RefusedBy.Kind)
			}
		}
	})
	sel.AddReceive(resume, func(ch workflow.ReceiveChannel, _ bool) {
		ch.Receive(dctx, nil)
		rec := Resume{At: workflow.Now(dctx).UTC(), Resumed: r.paused}
		if r.paused {
			rec.Refused = r.refused
			r.paused, r.refused, r.report.PausedReason = false, 0, ""
		}
		r.report.Resumes = append(r.report.Resumes, rec)
	})
	// The cancellation is told once, on a channel of its own: the
	// context's Done channel, once closed, would be ready at every Select.
	cancelled := false
	if disconnected {
		cancel := workflow.NewChannel(dctx)
		workflow.Go(dctx, func(g workflow.Context) {
			ctx.Done().Receive(g, nil)
			cancel.Send(g, true)
		})
		sel.AddReceive(cancel, func(ch workflow.ReceiveChannel, _ bool) { ch.Receive(dctx, nil); cancelled = true })
	}
	next, ended := 0, 0
	parent := workflow.GetInfo(ctx).WorkflowExecution.ID
	for ended < len(r.entries) && (!cancelled || r.running > 0) {
		for i := next; !cancelled && i < len(r.entries) && !r.paused && r.running < c.MaxConcurrent; i++ {
			e := &r.entries[i]
			if e.State != StatePending || r.perRcv[e.Receiver] >= c.MaxPerReceiver {
				continue
			}
			r.start(cctx, sel, parent, i, &ended)
		}
		for next < len(r.entries) && r.entries[next].State != StatePending {
			next++
		}
		sel.Select(dctx)
	}
	r.report.Cancelled = cancelled
	return r.build(), nil
}

// refuse counts renewal i's refusal by gate once, and pauses the
// campaign past its threshold.
func (r *campaignRun) refuse(i int, gate renewal.GateKind) {
	if r.counted[i] {
		return
	}
	r.counted[i] = true
	r.refused++
	if r.c.PauseAfter >= 0 && r.refused > r.c.PauseAfter && !r.paused {
		r.paused = true
		r.report.PausedReason = fmt.Sprintf("%d renewals refused by a gate, more than the campaign's threshold of %d (last: %s, gate %s): put the problems right, then signal %s",
			r.refused, r.c.PauseAfter, r.entries[i].Name, gate, SignalResume)
	}
}

// start starts renewal i as a child workflow.
func (r *campaignRun) start(ctx workflow.Context, sel workflow.Selector, parent string, i int, ended *int) {
	e := &r.entries[i]
	in := r.c.Renewals[i]
	e.State = renewal.StatusRunning
	r.running++
	r.perRcv[e.Receiver]++
	r.report.MaxRunning = max(r.report.MaxRunning, r.running)
	r.report.MaxRunningPerReceiver = max(r.report.MaxRunningPerReceiver, r.perRcv[e.Receiver])
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{WorkflowID: parent + "/" + in.Name,
		ParentClosePolicy: enumspb.PARENT_CLOSE_POLICY_ABANDON})
	f := workflow.ExecuteChildWorkflow(cctx, RenewalWorkflow, in)
	sel.AddFuture(f, func(f workflow.Future) {
		var s Status
		err := f.Get(r.ctx, &s)
		r.running--
		r.perRcv[e.Receiver]--
		*ended++
		e.Waiting = nil
		switch {
		case err != nil:
			e.State, e.Error = renewal.StatusFailed, err.Error()
		case s.RefusedBy != nil:
			e.State, e.Gate, e.Error = StateRefused, s.RefusedBy.Kind, s.Error
			r.refuse(i, e.Gate)
		default:
			e.State, e.Error = s.State, s.Error
		}
	})
}

// build makes the report from the state.
func (r *campaignRun) build() *Report {
	rep := r.report
	rep.Name, rep.Total, rep.Paused = r.c.Name, len(r.entries), r.paused
	rep.Updated = workflow.Now(r.ctx).UTC()
	rep.Counts = map[string]int{}
	rep.Renewals = slices.Clone(r.entries)
	rep.Waiting, rep.Refused = nil, nil
	for _, e := range r.entries {
		rep.Counts[string(e.State)]++
		switch {
		case e.State == StateRefused:
			k := slices.IndexFunc(rep.Refused, func(f Refusal) bool { return f.Gate == e.Gate })
			if k < 0 {
				rep.Refused = append(rep.Refused, Refusal{Gate: e.Gate})
				k = len(rep.Refused) - 1
			}
			rep.Refused[k].Renewals = append(rep.Refused[k].Renewals, e.Name)
		case e.State == renewal.StatusWaiting && e.Waiting != nil:
			k := slices.IndexFunc(rep.Waiting, func(w WaitingOn) bool { return w.Role == e.Waiting.On })
			if k < 0 {
				rep.Waiting = append(rep.Waiting, WaitingOn{Role: e.Waiting.On})
				k = len(rep.Waiting) - 1
			}
			rep.Waiting[k].Renewals = append(rep.Waiting[k].Renewals, e.Name)
		}
	}
	return &rep
}

// reportStates is the order the Markdown report lists the counts in.
var reportStates = []renewal.Status{renewal.StatusDone, renewal.StatusRunning, renewal.StatusWaiting, StateRefused, renewal.StatusFailed, StatePending}

// Markdown renders the report for people: the counts, who is waited
// for, which gate refused which renewals, and one line per renewal that
// is not done.
func (rep *Report) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Campaign %s\n\n", mdCode(rep.Name))
	fmt.Fprintf(&b, "%d renewals, as of %s", rep.Total, rep.Updated.UTC().Format(time.RFC3339))
	if rep.Paused {
		fmt.Fprintf(&b, ". **Paused:** %s", mdText(rep.PausedReason))
	}
	b.WriteString(".\n\n| state | renewals |\n|---|---|\n")
	for _, s := range reportStates {
		fmt.Fprintf(&b, "| %s | %d |\n", s, rep.Counts[string(s)])
	}
	if len(rep.Waiting) > 0 {
		b.WriteString("\n## Waiting\n\n")
		for _, w := range rep.Waiting {
			who := "a timer"
			if w.Role != "" {
				who = "the " + w.Role.String()
			}
			fmt.Fprintf(&b, "- on %s (%d): %s\n", who, len(w.Renewals), mdCodes(w.Renewals))
		}
	}
	if len(rep.Refused) > 0 {
		b.WriteString("\n## Refused by a gate\n\n")
		for _, f := range rep.Refused {
			fmt.Fprintf(&b, "- %s, %s (%d): %s\n", mdCode(string(f.Gate)), f.Gate, len(f.Renewals), mdCodes(f.Renewals))
		}
	}
	var open []Entry
	for _, e := range rep.Renewals {
		if e.State != renewal.StatusDone && e.State != StatePending {
			open = append(open, e)
		}
	}
	if len(open) > 0 {
		b.WriteString("\n## Not done\n\n| renewal | receiver | state | detail |\n|---|---|---|---|\n")
		for _, e := range open {
			detail := e.Error
			if w := e.Waiting; w != nil {
				detail = fmt.Sprintf("step %d (%s): waiting for %s since %s", w.Step, w.ID, w.For, w.Since.UTC().Format(time.RFC3339))
				if w.Overdue {
					detail += " (overdue)"
				}
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", mdCode(e.Name), mdCode(e.Receiver), e.State, mdText(detail))
		}
	}
	return b.String()
}

// mdCode prints a value as a code span; backticks and line breaks in it
// cannot end the span or the table row.
func mdCode(s string) string {
	s = strings.NewReplacer("`", "'", "\n", " ", "\r", " ", "|", "\\|").Replace(s)
	return "`" + s + "`"
}

func mdCodes(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = mdCode(n)
	}
	return strings.Join(out, ", ")
}

// mdText escapes prose for a table cell.
func mdText(s string) string {
	return strings.NewReplacer("\\", "\\\\", "|", "\\|", "\n", " ", "\r", " ", "<", "&lt;", "*", "\\*", "_", "\\_", "`", "\\`", "[", "\\[").Replace(s)
}
