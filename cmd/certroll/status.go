package main

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal"
)

// resultJSON is the JSON form of where a renewal stands, for renew,
// status and rollback --json.
type resultJSON struct {
	Config   string     `json:"config"`
	Journal  string     `json:"journal"`
	Sequence string     `json:"sequence,omitempty"`
	State    string     `json:"state"`
	Created  *time.Time `json:"created,omitempty"`
	Updated  *time.Time `json:"updated,omitempty"`
	Alias    string     `json:"alias,omitempty"`
	Keystore string     `json:"keystore,omitempty"`
	OldFP    string     `json:"old_fingerprint,omitempty"`
	NewFP    string     `json:"new_fingerprint,omitempty"`
	Steps    []stepJSON `json:"steps"`
	Files    []string   `json:"files,omitempty"`
	Waiting  *stepJSON  `json:"waiting_for,omitempty"`
	// WindowOpens is the start of the downtime window, given while the
	// renewal waits at the window's step (agree-window).
	WindowOpens *time.Time `json:"window_opens,omitempty"`
	Traffic     string     `json:"traffic,omitempty"`
	Error       string     `json:"error,omitempty"`
}

type stepJSON struct {
	Number   int       `json:"number"`
	ID       string    `json:"id"`
	Status   string    `json:"status"`
	Attempts int       `json:"attempts,omitempty"`
	Note     string    `json:"note,omitempty"`
	Error    string    `json:"error,omitempty"`
	Would    string    `json:"would,omitempty"`
	Gate     *gateJSON `json:"gate,omitempty"`
}

type gateJSON struct {
	Kind     string   `json:"kind"`
	When     string   `json:"when"`
	Passed   bool     `json:"passed"`
	Problems []string `json:"problems,omitempty"`
	Checked  []string `json:"checked,omitempty"`
	Deferred []string `json:"deferred,omitempty"`
}

func resultView(c *config, r *renewal.Result) resultJSON {
	v := resultJSON{
		Config: c.path, Journal: c.journal(), Sequence: string(r.Sequence), State: string(r.State),
		Alias: r.Params.Alias, Keystore: r.Params.Keystore,
		OldFP: r.Params.OldFingerprint, NewFP: r.Params.NewFingerprint, Files: r.Files,
		Steps: []stepJSON{},
	}
	if v.State == "" {
		v.State = "not started"
	}
	if !r.Created.IsZero() {
		t, u := r.Created.UTC(), r.Updated.UTC()
		v.Created, v.Updated = &t, &u
	}
	for _, s := range r.Steps {
		sj := stepJSON{Number: s.Number, ID: string(s.ID), Status: string(s.Status), Attempts: s.Attempts,
			Note: s.Note, Error: s.Error, Would: s.Would}
		if g := s.Gate; g != nil {
			sj.Gate = &gateJSON{Kind: string(g.Kind), When: string(g.When), Passed: g.Passed,
				Problems: g.Problems, Checked: g.Checked, Deferred: g.Deferred}
		}
		v.Steps = append(v.Steps, sj)
		if s.Status == renewal.StatusWaiting || (s.Status == renewal.StatusFailed && v.Waiting == nil) {
			w := sj
			v.Waiting = &w
		}
	}
	return v
}

// report prints where the renewal stands: JSON with --json, else a
// summary line, the steps and what happens next.
func report(e *env, c *config, r *renewal.Result, traffic string, runErr error) error {
	v := resultView(c, r)
	v.Traffic = traffic
	if runErr != nil {
		v.Error = plainErr(runErr)
	}
	for i := range v.Steps {
		v.Steps[i].Note = plainStored(v.Steps[i].Note, runErr)
		v.Steps[i].Error = plainStored(v.Steps[i].Error, runErr)
	}
	if v.Waiting != nil {
		v.Waiting.Note = plainStored(v.Waiting.Note, runErr)
		v.Waiting.Error = plainStored(v.Waiting.Error, runErr)
		// A renewal waiting for the downtime window: when it opens, from
		// the plan's parameters the journal keeps.
		if v.Waiting.ID == string(renewal.StepAgreeWindow) && v.Waiting.Status == string(renewal.StatusWaiting) {
			v.WindowOpens = windowStart(c, r)
		}
	}
	if e.json {
		return e.writeJSON(v)
	}
	w := e.stdout
	fmt.Fprintf(w, "Renewal: %s\n", c.path)
	fmt.Fprintf(w, "Journal: %s\n", v.Journal)
	if v.Alias != "" {
		fmt.Fprintf(w, "Alias name: %s (keystore %s)\n", v.Alias, v.Keystore)
	}
	if v.OldFP != "" {
		fmt.Fprintf(w, "Old certificate SHA256: %s\n", colonHex(v.OldFP))
	}
	if v.NewFP != "" {
		fmt.Fprintf(w, "New certificate SHA256: %s\n", colonHex(v.NewFP))
	}
	if v.Sequence != "" {
		fmt.Fprintf(w, "Sequence: %s\n", v.Sequence)
	}
	fmt.Fprintf(w, "State: %s", v.State)
	if v.Updated != nil {
		fmt.Fprintf(w, " (since %s; started %s)", v.Updated.Format(time.RFC3339), v.Created.Format(time.RFC3339))
	}
	fmt.Fprintln(w)
	for _, s := range v.Steps {
		line := fmt.Sprintf("  step %2d  %-8s %s", s.Number, s.Status, s.ID)
		switch {
		case s.Would != "":
			line += ": would " + s.Would
		case s.Error != "":
			line += ": " + s.Error
		case s.Note != "":
			line += ": " + s.Note
		}
		fmt.Fprintln(w, line)
		if g := s.Gate; g != nil {
			verdict := "holds"
			if !g.Passed {
				verdict = "does not hold"
				if len(g.Problems) == 0 && len(g.Deferred) > 0 {
					verdict = "checked in part"
				}
			}
			fmt.Fprintf(w, "           gate %s %s: %s\n", g.When, g.Kind, verdict)
			for _, p := range g.Problems {
				fmt.Fprintf(w, "             - %s\n", p)
			}
			for _, p := range g.Checked {
				fmt.Fprintf(w, "             checked: %s\n", p)
			}
			for _, p := range g.Deferred {
				fmt.Fprintf(w, "             deferred: %s\n", p)
			}
		}
	}
	if traffic != "" {
		fmt.Fprintf(w, "Traffic: %s\n", traffic)
	}
	switch {
	case v.Waiting != nil && v.State == string(renewal.StatusWaiting):
		fmt.Fprintf(w, "Waiting for: step %d (%s)", v.Waiting.Number, v.Waiting.ID)
		if v.Updated != nil {
			fmt.Fprintf(w, " since %s", v.Updated.Format(time.RFC3339))
		}
		if v.WindowOpens != nil {
			fmt.Fprintf(w, ": the downtime window opens at %s; run certroll renew %s again then", v.WindowOpens.Format(time.RFC3339), c.path)
		}
		fmt.Fprintln(w)
	case v.Waiting != nil && v.State == string(renewal.StatusFailed):
		fmt.Fprintf(w, "Stopped at: step %d (%s); put it right and run certroll renew %s again\n", v.Waiting.Number, v.Waiting.ID, c.path)
	case v.State == string(renewal.StatusRunning):
		fmt.Fprintf(w, "Next: the last run stopped before the end (interrupted), or is still running: run certroll renew %s to go on\n", c.path)
	}
	return nil
}

// windowStart is the start of the plan's downtime window: the run's
// parameters, or (the journal does not keep the window) the
// configuration's, which the plan is built from. Nil if there is none.
func windowStart(c *config, r *renewal.Result) *time.Time {
	start := r.Params.Window.Start
	if start.IsZero() && c.Window != nil {
		start, _ = time.Parse(time.RFC3339, c.Window.Start)
	}
	if start.IsZero() {
		return nil
	}
	start = start.UTC()
	return &start
}

// plainStored is a note or an error the journal keeps, for people: the
// run's error rendered by plainErr where it is that error (or one it
// wraps), else the text without a library package's prefix at its start.
func plainStored(s string, runErr error) string {
	if s == "" {
		return s
	}
	for err := range errorTree(runErr) {
		if err.Error() == s {
			return plainErr(err)
		}
	}
	return plainJournalText(s)
}

// plainJournalText drops the library packages' prefixes from a message
// the journal kept as text, where no error chain says whose words are
// whose: at the start and where a wrapped message begins (after ": ",
// "; " or a new line), but never inside a quoted value (the library
// quotes aliases and file names with %q), so that an alias such as
// "old: keystore: x" is kept whole.
func plainJournalText(s string) string {
	var b strings.Builder
	quoted, escaped, start := false, false, true
	for i := 0; i < len(s); {
		if start && !quoted {
			if pkg, _, ok := strings.Cut(s[i:], ": "); ok && libPackages[pkg] {
				i += len(pkg) + 2
				continue
			}
		}
		start = false
		c := s[i]
		b.WriteByte(c)
		i++
		switch {
		case escaped:
			escaped = false
		case quoted && c == '\\':
			escaped = true
		case c == '"':
			quoted = !quoted
		case !quoted && c == '\n':
			start = true
		case !quoted && (c == ':' || c == ';') && i < len(s) && s[i] == ' ':
			b.WriteByte(' ')
			i++
			start = true
		}
	}
	return b.String()
}

// errorTree yields err and every error it wraps, depth first.
func errorTree(err error) func(func(error) bool) {
	return func(yield func(error) bool) {
		var walk func(error) bool
		walk = func(e error) bool {
			if e == nil {
				return true
			}
			if !yield(e) {
				return false
			}
			for _, k := range unwrapped(e) {
				if !walk(k) {
					return false
				}
			}
			return true
		}
		walk(err)
	}
}

// colonHex prints 64 hex digits as keytool does ("AB:CD:…").
func colonHex(h string) string {
	fp, err := keystore.ParseFingerprint(h)
	if err != nil {
		return h
	}
	return strings.TrimPrefix(fp.String(), "SHA256:")
}

func newStatusCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "status CONFIG",
		Short: "Print where the renewal a configuration describes stands",
		Long: `status reads the journal beside the configuration (CONFIG.journal) and
prints the run's state, each step's status, what the renewal waits for and
since when. It reads no keystore and needs no password.`,
		Example: `  certroll status renewal.yaml
  certroll status --json renewal.yaml | jq -r .state`,
		Args: exactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			c, err := loadConfig(args[0])
			if err != nil {
				return err
			}
			r, err := renewal.ReadJournal(c.journal())
			if errors.Is(err, fs.ErrNotExist) {
				r = &renewal.Result{}
			} else if err != nil {
				return usageErr(fmt.Errorf("the journal %s cannot be read: %w", c.journal(), err))
			}
			return report(e, c, r, "", nil)
		},
	}
}

func init() { commands = append(commands, newStatusCmd) }
