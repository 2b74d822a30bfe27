// Command certroll-temporal runs certificate-renewal campaigns on a
// Temporal cluster: a worker that runs the renewals' steps against the
// adapters of its configuration, and commands that start, signal, query
// and list campaigns.
//
//	temporal server start-dev                      # a local server (the Temporal CLI)
//	certroll-temporal worker --config worker.yaml  # on a machine that reaches the keystores
//	certroll-temporal start campaign.yaml
//	certroll-temporal status new-ca-2026           # the campaign's report (Markdown; --json)
//	certroll-temporal status new-ca-2026/tenant-a  # one renewal, as certroll status shows it
//	certroll-temporal signal new-ca-2026/tenant-a confirm confirm-accept-both
//	certroll-temporal signal new-ca-2026 resume
//	certroll-temporal list
//
// Every command takes --address host:port (default localhost:7233, or
// $TEMPORAL_ADDRESS) and --namespace (default "default").
//
// It exits 0 on success, 2 on bad input (arguments, flags, a campaign or
// worker file that does not hold), and 1 otherwise (no server answers, a
// server's error).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/certroll/certroll/renewal"
	rtemporal "github.com/certroll/certroll/renewal/temporal"
)

// defaultTaskQueue is the task queue the worker polls and campaigns are
// started on.
const defaultTaskQueue = "certroll"

// campaignPrefix starts a campaign's workflow ID: "campaign-NAME". A
// renewal's is "campaign-NAME/RENEWAL".
const campaignPrefix = "campaign-"

type env struct {
	address, namespace, taskQueue string
	json                          bool
	stdout, stderr                io.Writer
	dial                          func(ctx context.Context, o client.Options) (client.Client, error)
}

func main() {
	e := &env{stdout: os.Stdout, stderr: os.Stderr, dial: client.DialContext}
	cmd := e.root()
	if err := cmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "certroll-temporal:", err)
		os.Exit(exitCode(err))
	}
}

// Exit codes, as the root command's help lists them.
const (
	exitFailed   = 1
	exitBadInput = 2
)

// badInput marks an error in what the operator gave: arguments, flags,
// files.
type badInput struct{ error }

func (b badInput) Unwrap() error { return b.error }

func exitCode(err error) int {
	var b badInput
	if errors.As(err, &b) || strings.HasPrefix(err.Error(), "unknown command ") {
		return exitBadInput
	}
	return exitFailed
}

// checkArgs marks a command's argument errors as bad input.
func checkArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return badInput{err}
		}
		return nil
	}
}

func (e *env) root() *cobra.Command {
	root := &cobra.Command{
		Use:   "certroll-temporal",
		Short: "Run certificate-renewal campaigns on Temporal",
		Long: `certroll-temporal runs certificate-renewal campaigns on a Temporal cluster: a
worker that runs the renewals' steps, and commands that start, signal, query and
list campaigns.

Exit status: 0 on success; 2 on bad input (arguments, flags, a campaign or worker
file that does not hold: nothing was sent); 1 otherwise (no Temporal server
answers, or the server refused the request).`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return badInput{err} })
	addr := os.Getenv("TEMPORAL_ADDRESS")
	if addr == "" {
		addr = "localhost:7233"
	}
	root.PersistentFlags().StringVar(&e.address, "address", addr, "the Temporal frontend, host:port")
	root.PersistentFlags().StringVar(&e.namespace, "namespace", "default", "the Temporal namespace")
	root.PersistentFlags().StringVar(&e.taskQueue, "task-queue", defaultTaskQueue, "the task queue of the workers")
	root.AddCommand(e.workerCmd(), e.startCmd(), e.signalCmd(), e.statusCmd(), e.listCmd())
	return root
}

// connect dials the server, saying how to start one when none answers.
func (e *env) connect(ctx context.Context) (client.Client, error) {
	return e.connectLogging(ctx, quietLogger{})
}

func (e *env) connectLogging(ctx context.Context, l log.Logger) (client.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := e.dial(ctx, client.Options{HostPort: e.address, Namespace: e.namespace, Logger: l})
	if err != nil {
		return nil, fmt.Errorf("no Temporal server answers at %s (%v): start one on this machine with `temporal server start-dev` "+
			"(the Temporal CLI, for example `brew install temporal`, or the temporal binary from the Temporal CLI releases), or give --address host:port of your cluster", e.address, err)
	}
	return c, nil
}

func (e *env) workerCmd() *cobra.Command {
	var config string
	cmd := &cobra.Command{
		Use:   "worker --config WORKER.yaml",
		Short: "Run the renewal and campaign workflows and their activities",
		Long: `worker polls the task queue and runs the renewal workflows, the campaign
workflows and the renewals' activities against the adapters its configuration
names (tenants' keystores, CAs, receivers, runtimes, notifiers). Run it where the
keystores and the receivers' files are; run several for redundancy: a renewal
whose worker dies goes on on another, without repeating a destructive step.`,
		Args: checkArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if config == "" {
				return badInput{errors.New("worker: expected --config WORKER.yaml (the adapters by name), found none")}
			}
			acts, tq, err := loadWorker(config)
			if err != nil {
				return badInput{err}
			}
			if tq != "" && !cmd.Flags().Changed("task-queue") {
				e.taskQueue = tq
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			c, err := e.connectLogging(ctx, log.NewStructuredLogger(slog.New(slog.NewTextHandler(e.stderr, nil))))
			if err != nil {
				return err
			}
			defer c.Close()
			w := worker.New(c, e.taskQueue, worker.Options{})
			w.RegisterWorkflow(rtemporal.RenewalWorkflow)
			w.RegisterWorkflow(rtemporal.CampaignWorkflow)
			w.RegisterActivity(acts)
			fmt.Fprintf(e.stderr, "certroll-temporal: worker on %s, namespace %s, task queue %s: %d tenants, %d CAs, %d receivers, %d runtimes\n",
				e.address, e.namespace, e.taskQueue, len(acts.Tenants), len(acts.CAs), len(acts.Receivers), len(acts.Runtimes))
			return w.Run(workerStop(ctx))
		},
	}
	cmd.Flags().StringVar(&config, "config", "", "the worker's configuration (YAML)")
	return cmd
}

// workerStop turns a context into the worker's interrupt channel.
func workerStop(ctx context.Context) <-chan any {
	ch := make(chan any)
	go func() { <-ctx.Done(); close(ch) }()
	return ch
}

func (e *env) startCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "start CAMPAIGN.yaml|json",
		Short: "Start a campaign",
		Long: `start reads the campaign (its limits, and for each renewal the plan file made by
certroll plan --json and the names of its adapters), checks every plan, and starts
the campaign workflow as campaign-NAME. Starting a campaign that runs already is
refused.`,
		Args: checkArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			camp, err := loadCampaign(args[0])
			if err != nil {
				return badInput{err}
			}
			for i := range camp.Renewals {
				// Temporal caps a payload at 2 MB: the workflow builds each
				// plan from its sequence and parameters.
				camp.Renewals[i] = camp.Renewals[i].Compact()
			}
			c, err := e.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			run, err := c.ExecuteWorkflow(cmd.Context(), client.StartWorkflowOptions{
				ID: campaignPrefix + camp.Name, TaskQueue: e.taskQueue,
				WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
				WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
			}, rtemporal.CampaignWorkflow, camp)
			if err != nil {
				return fmt.Errorf("starting campaign %q: %w", camp.Name, err)
			}
			fmt.Fprintf(e.stdout, "started campaign %s (%d renewals) as workflow %s, run %s\nfollow it with: certroll-temporal status %s\n",
				camp.Name, len(camp.Renewals), run.GetID(), run.GetRunID(), camp.Name)
			return nil
		},
	}
}

// workflowID turns CAMPAIGN or CAMPAIGN/RENEWAL into a workflow ID; the
// workflow ID itself (as the Temporal UI shows it) is taken too, which is
// unambiguous because no campaign's name starts with the prefix
// (loadCampaign refuses one).
func workflowID(arg string) (id string, renewalLevel bool) {
	if !strings.HasPrefix(arg, campaignPrefix) {
		arg = campaignPrefix + arg
	}
	return arg, strings.Contains(arg, "/")
}

func (e *env) signalCmd() *cobra.Command {
	var by string
	cmd := &cobra.Command{
		Use:   "signal CAMPAIGN[/RENEWAL] confirm STEP | reply | retry | resume",
		Short: "Tell a renewal that a person did their part, or resume a paused campaign",
		Long: `signal sends a renewal confirm STEP (the role a hand-off waits on confirmed it),
reply (the CA's reply is in the hand-over folder) or retry (check a failed gate
again), or a campaign resume (start renewals again after a pause).`,
		Example: `  certroll-temporal signal new-ca-2026/tenant-a confirm confirm-accept-both --by "J. Doe"
  certroll-temporal signal new-ca-2026/tenant-a reply
  certroll-temporal signal new-ca-2026 resume`,
		Args: checkArgs(cobra.RangeArgs(2, 3)),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, one := workflowID(args[0])
			var arg any
			name := args[1]
			switch {
			case name == rtemporal.SignalConfirm && one && len(args) == 3:
				arg = rtemporal.Confirmation{Step: renewal.StepID(args[2]), By: by}
			case (name == rtemporal.SignalReply || name == rtemporal.SignalRetry) && one && len(args) == 2:
			case name == rtemporal.SignalResume && !one && len(args) == 2:
			default:
				return badInput{fmt.Errorf("signal: expected CAMPAIGN/RENEWAL confirm STEP, CAMPAIGN/RENEWAL reply, CAMPAIGN/RENEWAL retry or CAMPAIGN resume, found %q", strings.Join(args, " "))}
			}
			c, err := e.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			if err := c.SignalWorkflow(cmd.Context(), id, "", name, arg); err != nil {
				return fmt.Errorf("signal %s to %s: %w", name, id, err)
			}
			fmt.Fprintf(e.stdout, "sent %s to %s\n", name, id)
			return nil
		},
	}
	cmd.Flags().StringVar(&by, "by", "", "who confirms, for the status")
	return cmd
}

func (e *env) statusCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status CAMPAIGN[/RENEWAL]",
		Short: "Print where a campaign, or one of its renewals, stands",
		Long: `status asks the campaign for its report (counts, who is waited for, which gate
refused which renewals) and prints it as Markdown, or JSON with --json; given
CAMPAIGN/RENEWAL it prints that renewal's steps, what it waits for and since when.`,
		Args: checkArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, one := workflowID(args[0])
			c, err := e.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			q := rtemporal.QueryReport
			if one {
				q = rtemporal.QueryStatus
			}
			v, err := c.QueryWorkflow(cmd.Context(), id, "", q)
			if err != nil {
				return fmt.Errorf("asking %s where it stands: %w", id, err)
			}
			if one {
				var st rtemporal.Status
				if err := v.Get(&st); err != nil {
					return err
				}
				return e.printStatus(strings.TrimPrefix(id, campaignPrefix), &st)
			}
			var rep rtemporal.Report
			if err := v.Get(&rep); err != nil {
				return err
			}
			if e.json {
				return e.writeJSON(&rep)
			}
			_, err = io.WriteString(e.stdout, rep.Markdown())
			return err
		},
	}
	cmd.Flags().BoolVar(&e.json, "json", false, "print JSON")
	return cmd
}

func (e *env) writeJSON(v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printStatus prints the status of renewal arg (CAMPAIGN/RENEWAL) as
// certroll status prints a journal's.
func (e *env) printStatus(arg string, st *rtemporal.Status) error {
	if e.json {
		return e.writeJSON(st)
	}
	w := e.stdout
	fmt.Fprintf(w, "Renewal: %s (receiver %s)\n", st.Name, st.Receiver)
	fmt.Fprintf(w, "Alias name: %s (keystore %s)\n", st.Alias, st.Keystore)
	if st.OldFingerprint != "" {
		fmt.Fprintf(w, "Old certificate SHA256: %s\n", st.OldFingerprint)
	}
	if st.NewFingerprint != "" {
		fmt.Fprintf(w, "New certificate SHA256: %s\n", st.NewFingerprint)
	}
	fmt.Fprintf(w, "Sequence: %s\nState: %s (since %s; started %s)\n", st.Sequence, st.State,
		st.Updated.Format(time.RFC3339), st.Created.Format(time.RFC3339))
	for _, s := range st.Steps {
		line := fmt.Sprintf("  step %2d  %-8s %s", s.Number, s.Status, s.ID)
		switch {
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
			}
			fmt.Fprintf(w, "           gate %s %s: %s\n", g.When, string(g.Kind), verdict)
			for _, p := range g.Problems {
				fmt.Fprintf(w, "             - %s\n", p)
			}
		}
	}
	if wt := st.Waiting; wt != nil {
		fmt.Fprintf(w, "Waiting for: step %d (%s): %s", wt.Step, wt.ID, wt.For)
		if wt.On != "" {
			fmt.Fprintf(w, ", from the %s", wt.On)
		}
		fmt.Fprintf(w, ", since %s", wt.Since.Format(time.RFC3339))
		if wt.Overdue {
			fmt.Fprintf(w, " (overdue since %s)", wt.Until.Format(time.RFC3339))
		}
		if wt.Signal != "" {
			then := wt.Signal
			if then == rtemporal.SignalConfirm {
				then += " " + string(wt.ID)
			}
			fmt.Fprintf(w, "; then: certroll-temporal signal %s %s", arg, then)
		}
		fmt.Fprintln(w)
	}
	if st.Error != "" {
		fmt.Fprintf(w, "Stopped: %s\n", st.Error)
	}
	return nil
}

func (e *env) listCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the campaigns",
		Args:  checkArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := e.connect(cmd.Context())
			if err != nil {
				return err
			}
			defer c.Close()
			var token []byte
			for {
				resp, err := c.ListWorkflow(cmd.Context(), &workflowServiceListRequest{
					Namespace: e.namespace, Query: "WorkflowType = 'CampaignWorkflow'", NextPageToken: token,
				})
				if err != nil {
					return fmt.Errorf("listing campaigns: %w", err)
				}
				for _, x := range resp.Executions {
					fmt.Fprintf(e.stdout, "%s\t%s\tstarted %s\n", strings.TrimPrefix(x.Execution.WorkflowId, campaignPrefix),
						strings.ToLower(strings.TrimPrefix(x.Status.String(), "WORKFLOW_EXECUTION_STATUS_")), x.StartTime.AsTime().UTC().Format(time.RFC3339))
				}
				if token = resp.NextPageToken; len(token) == 0 {
					return nil
				}
			}
		},
	}
}
