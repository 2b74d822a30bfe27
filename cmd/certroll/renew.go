package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/certroll/certroll/renewal"
	"github.com/certroll/certroll/renewal/handoff"
	"github.com/certroll/certroll/truststore"
)

// openRun reads the configuration at path and opens its landscape and the
// executor of its renewal, as renew and rollback need them; the caller
// closes the landscape.
func openRun(e *env, path string) (*config, *landscape, *renewal.Executor, error) {
	c, err := loadConfig(path)
	if err != nil {
		return nil, nil, nil, err
	}
	l, err := openLandscape(e, c, forRun)
	if err != nil {
		return nil, nil, nil, err
	}
	x, err := l.executor(e)
	if err != nil {
		l.close()
		return nil, nil, nil, err
	}
	return c, l, x, nil
}

// executor makes the executor of the landscape's plan, with the journal
// beside the configuration and progress lines on stderr.
func (l *landscape) executor(e *env) (*renewal.Executor, error) {
	c := l.cfg
	x := &renewal.Executor{
		Plan:     l.plan,
		Tenant:   l.tenant,
		Journal:  c.journal(),
		CA:       l.ca,
		Receiver: l.receiver,
		Runtime:  l.runtime,
		Notifier: l.notifier,
		OldRoot:  l.oldRoot,
		Drain:    time.Duration(c.Drain),
		OnEvent: func(ev renewal.Event) {
			e.progressIn(eventColour(ev.Kind), "%s", eventLine(ev))
			if testEventHook != nil {
				testEventHook(ev)
			}
		},
	}
	switch {
	case c.HandOver != "":
		x.HandOverDir = c.file(c.HandOver)
	case c.CA.Handoff != nil:
		x.HandOverDir = c.file(c.CA.Handoff.Dir)
	}
	if len(c.Waits) > 0 {
		x.Waits = map[renewal.StepID]time.Duration{}
		for id, d := range c.Waits {
			x.Waits[renewal.StepID(id)] = time.Duration(d)
		}
	}
	for _, f := range c.InUse {
		deps, err := truststore.OpenDependents(c.file(f), nil)
		if err != nil {
			return nil, usageErr(fmt.Errorf("in_use %s (configuration %s): %w", c.file(f), c.path, err))
		}
		x.InUse = append(x.InUse, deps...)
	}
	return x, nil
}

// eventLine is an event's progress line: the event's own words, with
// its error rendered for people (plainErr). A step's message is the
// program's own ("nginx: reloaded") and is kept, except the waiting
// message, which is the library's error text.
func eventLine(ev renewal.Event) string {
	s := fmt.Sprintf("step %d (%s) %s: %s", ev.Step.Number, ev.Step.Role, ev.Kind, ev.Step.Title)
	switch ev.Kind {
	case renewal.EventGatePassed, renewal.EventGateFailed, renewal.EventGateWaiting:
		if g := ev.Step.Gate; g != nil {
			s += fmt.Sprintf(" [gate %s: %s]", g.When, g.Kind)
		}
	}
	if m := ev.Message; m != "" {
		if ev.Kind == renewal.EventStepWaiting {
			m = strings.TrimPrefix(m, "renewal: ")
		}
		s += ": " + m
	}
	if ev.Err != nil {
		s += ": " + plainErr(ev.Err)
	}
	return s
}

// eventColour is the colour of an event's progress line on a terminal:
// green for what holds, yellow for what waits, red for what failed.
func eventColour(k renewal.EventKind) string {
	switch k {
	case renewal.EventStepDone, renewal.EventGatePassed:
		return colourGreen
	case renewal.EventStepWaiting, renewal.EventGateWaiting:
		return colourYellow
	case renewal.EventStepFailed, renewal.EventGateFailed:
		return colourRed
	}
	return ""
}

// interruptible returns a context that SIGINT and SIGTERM cancel, so that
// the executor stops between writes of the journal. Tests replace it to
// interrupt a run at a chosen step.
var interruptible = func() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// testEventHook, if set by a test, sees every event of a run.
var testEventHook func(renewal.Event)

func newRenewCmd(e *env) *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "renew CONFIG",
		Short: "Run the renewal a configuration describes, or go on with it",
		Long: `renew runs the renewal the configuration describes, step by step, recording
each step in the journal beside the configuration (CONFIG.journal). It can be
interrupted at any point (Ctrl-C stops it cleanly); certroll renew CONFIG
again does only what is left and never repeats a step that replaced or
removed something.

It stops at a hand-off that waits for someone and says who must do what:
with a hand-over CA it writes the certificate request and exits with 3
until the CA's reply is where it says. A downtime window that opens later
works the same way: the steps before it run, the window's hand-off is sent
(once), and renew exits with 3 saying when the window opens; run it again
then. A gate that does not hold (the
receiver does not accept the new chain, a node still presents the old
certificate) stops the run before anything breaks traffic, with exit 4:
put it right and run renew again, or certroll rollback.

--dry-run checks the gates it can today and says what a run would do,
changing nothing (not even the journal).

Exit codes: 0 done, 1 internal error or interrupted, 2 bad configuration,
3 waiting for the CA's reply or a person, 4 refused by a gate.`,
		Example: `  export TENANT_PW RECEIVER_PW   # the passwords, never in the file
  certroll renew renewal.yaml     # exit 3: send handover/renewal-….csr to the CA
  certroll renew renewal.yaml     # with the reply in place: runs to the end
  certroll renew --dry-run renewal.yaml`,
		Args: exactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			ctx, stop := interruptible()
			defer stop()
			c, l, x, err := openRun(e, args[0])
			if err != nil {
				return err
			}
			defer l.close()
			if dryRun {
				res, err := x.DryRun(ctx)
				if err != nil {
					return runError(c, err)
				}
				return report(e, c, res, "", nil)
			}
			if err := l.start(ctx); err != nil {
				return fmt.Errorf("starting the embedded landscape of %s: %w", c.path, err)
			}
			var traffic string
			done := make(chan string, 1)
			tctx, stopTraffic := context.WithCancel(ctx)
			if l.traffic != nil {
				go func() { done <- l.traffic(tctx) }()
			}
			res, runErr := x.Run(ctx)
			stopTraffic()
			if l.traffic != nil {
				traffic = <-done
			}
			if res != nil {
				if err := report(e, c, res, traffic, runErr); err != nil {
					return err
				}
			}
			if runErr != nil {
				return runError(c, runErr)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "check the gates and say what a run would do, changing nothing")
	return cmd
}

// runError maps an executor's error to the exit code and says what to do.
func runError(c *config, err error) error {
	var w *renewal.AwaitingReplyError
	var re *handoff.ReplyError
	switch {
	case errors.As(err, &w):
		return waitingErr(fmt.Errorf("waiting for the CA's reply: send the certificate request %s to the CA, put its reply at %s (PEM, DER or PKCS#7; write it under another name and rename it), then run certroll renew %s again", w.Request, w.Reply, c.path))
	case errors.Is(err, renewal.ErrAwaitingReply):
		// The downtime window opens later: the library says when.
		return waitingErr(fmt.Errorf("%w: certroll renew %s (certroll status %s says where it stands)", err, c.path, c.path))
	case errors.Is(err, renewal.ErrGateFailed):
		return refusedErr(fmt.Errorf("%w\nnothing that would break traffic was done: put it right and run certroll renew %s again (certroll status %s shows where it stands; certroll rollback %s puts the old entry back while the receiver accepts it)", err, c.path, c.path, c.path))
	case errors.Is(err, renewal.ErrRollbackUnsafe):
		return refusedErr(err)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("interrupted; the journal %s records how far it got: run certroll renew %s again to go on", c.journal(), c.path)
	case errors.As(err, &re):
		// The reply's own advice is replaced by the command's, which
		// names the configuration's key.
		why := re.Problem
		if re.Err != nil {
			why += ": " + plainErr(re.Err)
		}
		return usageErr(fmt.Errorf("the CA's reply %s cannot be installed: %s\nreplace it with the reply to the request %s (the chain up to the new root; a root the reply leaves out goes in ca.handoff.pool in %s), then run certroll renew %s again; nothing was installed", re.Path, why, re.Request, c.path, c.path))
	case errors.Is(err, renewal.ErrOutsideWindow):
		return refusedErr(fmt.Errorf("%w\nnothing was changed: agree a new window, put it in %s, move the journal %s away and run certroll renew %s again", err, c.path, c.journal(), c.path))
	case errors.Is(err, renewal.ErrJournalLocked):
		return refusedErr(fmt.Errorf("%w\nanother certroll renew or rollback is running on %s: wait for it to finish", err, c.path))
	case errors.Is(err, renewal.ErrUnexpectedState):
		return refusedErr(fmt.Errorf("%w\nthe files are not in the state the journal %s expects: nothing was changed; certroll status %s shows where the renewal stands", err, c.journal(), c.path))
	case errors.Is(err, renewal.ErrJournal):
		return usageErr(fmt.Errorf("%w\nthe journal %s does not belong to this configuration: move it away to start afresh, or restore the configuration it was made with", err, c.journal()))
	}
	return err
}

func init() { commands = append(commands, newRenewCmd) }
