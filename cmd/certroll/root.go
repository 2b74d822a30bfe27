package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"
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
	colour         bool // stderr is a terminal and NO_COLOR is not set
}

// progress writes a progress line to stderr unless -q or --json is given.
func (e *env) progress(format string, args ...any) {
	e.progressIn("", format, args...)
}

// ANSI colours of the lines on stderr, used only on a terminal.
const (
	colourFaint  = "\x1b[2m"
	colourGreen  = "\x1b[32m"
	colourYellow = "\x1b[33m"
	colourRed    = "\x1b[1;31m"
	colourReset  = "\x1b[0m"
)

// progressIn writes a progress line in colour (on a terminal; faint if
// colour is empty).
func (e *env) progressIn(colour, format string, args ...any) {
	if e.quiet || e.json {
		return
	}
	line := fmt.Sprintf(format, args...)
	if e.colour {
		if colour == "" {
			colour = colourFaint
		}
		line = colour + line + colourReset
	}
	fmt.Fprintln(e.stderr, line)
}

// isTerminal says whether the file descriptor is a terminal; tests replace
// it.
var isTerminal = term.IsTerminal

// colourFor says whether lines written to w may be coloured: w is a
// terminal, and NO_COLOR (https://no-color.org) is not set to a value.
func colourFor(w io.Writer) bool {
	if os.Getenv("NO_COLOR") != "" {
		return false
	}
	f, ok := w.(interface{ Fd() uintptr })
	return ok && isTerminal(int(f.Fd()))
}

// run runs the command line args and returns the exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, colour: colourFor(stderr)}
	root := newRoot(e)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	var xe *exitError
	waiting := errors.As(err, &xe) && xe.code == exitWaiting
	prefix := "certroll:"
	switch {
	case e.colour && waiting:
		// Waiting is no failure: yellow, as the waiting progress lines.
		prefix = colourYellow + prefix + colourReset
	case e.colour:
		prefix = colourRed + prefix + colourReset
	}
	if !errors.Is(err, errQuiet) {
		fmt.Fprintf(stderr, "%s %s\n", prefix, plainErr(err))
	}
	if xe != nil {
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
or the CA (run again later), 4 refused by a gate or a check.

Progress lines go to standard error (-q silences them, --json too, so that
standard output holds the JSON document only); they are coloured only on a
terminal, and never with NO_COLOR set.

Shell completion: certroll completion bash|zsh|fish|powershell prints the
script (see certroll completion --help).`,
		Example: `  certroll list client.p12 --storepass-env STOREPASS
  certroll renew renewal.yaml
  certroll --version
  source <(certroll completion bash)   # completion in this bash session`,
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
	// cobra's completion command, made now so that its help has an
	// example like every other (and after SetOut: it keeps the writer it
	// finds), and an unknown shell is a usage error.
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			c.Args = func(_ *cobra.Command, args []string) error {
				if len(args) > 0 {
					return &flagError{fmt.Errorf("completion: unknown shell %q: give bash, zsh, fish or powershell", args[0])}
				}
				return nil
			}
			c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
			c.Example = `  source <(certroll completion bash)                      # this bash session
  certroll completion bash > /etc/bash_completion.d/certroll
  certroll completion zsh > "${fpath[1]}/_certroll"
  certroll completion fish > ~/.config/fish/completions/certroll.fish
  certroll completion powershell | Out-String | Invoke-Expression`
		}
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
			return &flagError{fmt.Errorf("%s: %w (see %s --help)", cmd.Name(), err, cmd.CommandPath())}
		}
		return nil
	}
}
