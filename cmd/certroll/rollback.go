package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newRollbackCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "rollback CONFIG",
		Short: "Put the old key entry back under the alias while the receiver still accepts it",
		Long: `rollback reverses the renewal the configuration describes: it puts the old
key entry (kept in the history store) back under the live alias, as long as
the receiver still accepts the old chain. Once the receiver no longer accepts
it (the old certificate or root was removed), rollback refuses (exit 4): put
the old root and certificate back at the receiver first.`,
		Example: `  TENANT_PW=… RECEIVER_PW=… certroll rollback renewal.yaml`,
		Args:    exactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			ctx, stop := interruptible()
			defer stop()
			c, l, x, err := openRun(e, args[0])
			if err != nil {
				return err
			}
			defer l.close()
			if err := l.start(ctx); err != nil {
				return fmt.Errorf("starting the embedded landscape of %s: %w", c.path, err)
			}
			res, rbErr := x.Rollback(ctx)
			if res != nil {
				if err := report(e, c, res, "", rbErr); err != nil {
					return err
				}
			}
			if rbErr != nil {
				return runError(c, rbErr)
			}
			return nil
		},
	}
}

func init() { commands = append(commands, newRollbackCmd) }
