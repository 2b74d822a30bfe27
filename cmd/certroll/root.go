package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=…"; a build
// from source says devel.
var version = "devel"

// Exit codes, documented in the package doc and the README.
const (
	exitOK       = 0
	exitInternal = 1
	exitUsage    = 2
	exitWaiting  = 3
	exitRefused  = 4
)

// exitError carries the exit code a failure maps to; its message is what
// the user reads (it names the file, the alias and what to do, never a Go
// identifier).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageErr, refusedErr and waitingErr mark an error with its exit code.
func usageErr(err error) error   { return &exitError{code: exitUsage, err: err} }
func refusedErr(err error) error { return &exitError{code: exitRefused, err: err} }
func waitingErr(err error) error { return &exitError{code: exitWaiting, err: err} }

// env is what every command writes to and reads from, so that tests run
// the commands in process.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	json           bool // --json: one JSON document on stdout
	quiet          bool // -q: no progress lines
}

// progress writes a progress line to stderr unless -q or --json is given.
func (e *env) progress(format string, args ...any) {
	if e.quiet || e.json {
		return
	}
	fmt.Fprintf(e.stderr, format+"\n", args...)
}

// run runs the command line args and returns the exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	root := newRoot(e)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "certroll: %s\n", plainErr(err))
	var xe *exitError
	if errors.As(err, &xe) {
		return xe.code
	}
	if isFlagError(err) || strings.HasPrefix(err.Error(), "unknown command") {
		return exitUsage
	}
	return exitInternal
}

// flagError marks errors cobra returns for unknown flags and wrong
// argument counts.
type flagError struct{ err error }

func (e *flagError) Error() string { return e.err.Error() }

func isFlagError(err error) bool {
	var fe *flagError
	return errors.As(err, &fe)
}

func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "certroll",
		Short: "Renew a TLS client certificate signed by a different CA, on both sides of the connection",
		Long: `certroll replaces a TLS client certificate by one signed by a different CA,
on the client's keystore and at the receiver that checks it, without losing
traffic. It reads and writes JKS and PKCS#12 keystores as keytool does.

Exit codes: 0 done, 1 internal error, 2 bad input, 3 waiting for a person
or the CA (run again later), 4 refused by a gate or a check.`,
		Version: version,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return &flagError{fmt.Errorf("unknown command %q (see certroll --help)", args[0])}
			}
			return nil
		},
		RunE:          func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().BoolVar(&e.json, "json", false, "print one JSON document on standard output")
	root.PersistentFlags().BoolVarP(&e.quiet, "quiet", "q", false, "print no progress lines")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &flagError{err} })
	for _, add := range commands {
		root.AddCommand(add(e))
	}
	return root
}

// commands are the subcommands, each in its own file; a file adds its
// constructor in an init function so that adding a command touches only
// its file.
var commands []func(*env) *cobra.Command

// exactArgs is cobra.ExactArgs whose error is a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return &flagError{fmt.Errorf("%s: %w (see certroll %s --help)", cmd.Name(), err, cmd.Name())}
		}
		return nil
	}
}
