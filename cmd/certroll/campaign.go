package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/spf13/cobra"
)

// temporalProgram is the program that runs campaigns on Temporal. It is
// built from a Go module of its own (renewal/temporal), so that certroll
// itself never carries the Temporal SDK; `certroll campaign` runs it.
const temporalProgram = "certroll-temporal"

// temporalInstall says how to get temporalProgram.
const temporalInstall = "go install github.com/certroll/certroll/renewal/temporal/cmd/certroll-temporal@latest" +
	" (from a clone: go install ./renewal/temporal/cmd/certroll-temporal)"

func newCampaignCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "campaign worker|start|signal|status|list [ARG...]",
		Short: "Run many renewals at once on Temporal (runs certroll-temporal)",
		Long: `campaign runs renewals of many tenants and receivers as one campaign on a
Temporal cluster: each renewal a workflow whose history is its journal,
hand-offs and the CA's reply as signals, waits as durable timers, and limits
on how many renewals run at once, overall and per receiver.

The campaign commands are the program certroll-temporal, built from its own
Go module so that certroll does not carry the Temporal SDK; campaign runs
it with the same arguments (looked up next to certroll, then on PATH) and
exits with its exit code. Install it with
  ` + temporalInstall + `
Its commands: worker (run the workflows against the adapters a configuration
names), start, signal, status and list, against --address host:port
(localhost:7233 by default; without a server they say how to start one:
temporal server start-dev). certroll campaign --help-program prints its help.`,
		Example: `  certroll campaign worker --config worker.yaml
  certroll campaign start campaign.yaml
  certroll campaign status new-ca-2026
  certroll campaign signal new-ca-2026/tenant-a reply`,
		DisableFlagParsing: true,
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) > 0 && (args[0] == "--help" || args[0] == "-h") {
				return c.Help()
			}
			if len(args) > 0 && args[0] == "--help-program" {
				args = []string{"--help"}
			}
			prog, err := findTemporalProgram()
			if err != nil {
				return err
			}
			cmd := exec.Command(prog, args...)
			cmd.Stdin, cmd.Stdout, cmd.Stderr = e.stdin, e.stdout, e.stderr
			err = cmd.Run()
			var xe *exec.ExitError
			if errors.As(err, &xe) && xe.ExitCode() > 0 {
				// The program has said what went wrong; pass its code on.
				return &exitError{code: xe.ExitCode(), err: errQuiet}
			}
			if err != nil {
				return fmt.Errorf("running %s: %w", prog, err)
			}
			return nil
		},
	}
}

// errQuiet is a failure whose message was already printed.
var errQuiet = errors.New("")

// findTemporalProgram looks for certroll-temporal beside the running
// program, then on PATH.
func findTemporalProgram() (string, error) {
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), temporalProgram)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	if p, err := exec.LookPath(temporalProgram); err == nil {
		return p, nil
	}
	return "", usageErr(fmt.Errorf("the campaign commands are the program %s, which is not beside certroll nor on PATH: install it with %s", temporalProgram, temporalInstall))
}

func init() { commands = append(commands, newCampaignCmd) }
