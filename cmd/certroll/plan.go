package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newPlanCmd(e *env) *cobra.Command {
	var mermaid bool
	cmd := &cobra.Command{
		Use:   "plan CONFIG",
		Short: "Print the renewal's runbook for the landscape a configuration describes",
		Long: `plan prints the runbook of the renewal the configuration describes: the steps
in order, one checklist per role, and under each step the commands of the
configured CA, receiver and runtime to do it by hand. It reads the tenant
keystore (for the old certificate and the old root) and the new root, and
changes nothing (with Java nodes it writes Node.java into CONFIG.java/, the
file the runbook's java lines run).

--mermaid prints a Mermaid sequence diagram instead, --json the plan as JSON
(schema in renewal/SCHEMA.md).`,
		Example: `  TENANT_PW=… certroll plan renewal.yaml > runbook.md
  certroll plan --mermaid renewal.yaml
  certroll plan --json renewal.yaml | jq '.steps[].id'`,
		Args: exactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			c, err := loadConfig(args[0])
			if err != nil {
				return err
			}
			l, err := openLandscape(e, c, forPlan)
			if err != nil {
				return err
			}
			defer l.close()
			switch {
			case e.json:
				return e.writeJSON(l.plan)
			case mermaid:
				_, err = fmt.Fprint(e.stdout, l.plan.Mermaid())
			default:
				_, err = fmt.Fprint(e.stdout, l.plan.Markdown(l.adapters...))
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&mermaid, "mermaid", false, "print a Mermaid sequence diagram instead of the runbook")
	return cmd
}

func init() { commands = append(commands, newPlanCmd) }
