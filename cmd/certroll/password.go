package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// passwordSource says where a password comes from: an environment
// variable, a file, or a prompt on the terminal. It is never a flag's
// value, so that a password is not in the shell history or the process
// list.
type passwordSource struct {
	what    string // "keystore password", shown in the prompt and errors
	envName string // --NAME-env
	file    string // --NAME-file
}

// addPasswordFlags adds --NAME-env and --NAME-file to cmd.
func addPasswordFlags(cmd *cobra.Command, name, what string) *passwordSource {
	p := &passwordSource{what: what}
	cmd.Flags().StringVar(&p.envName, name+"-env", "", "read the "+what+" from this environment variable")
	cmd.Flags().StringVar(&p.file, name+"-file", "", "read the "+what+" from this file (its first line)")
	return p
}

// read returns the password: from the environment variable or the file
// given, else from a prompt when standard input is a terminal. The
// caller wipes it when done.
func (p *passwordSource) read() ([]byte, error) {
	switch {
	case p.envName != "" && p.file != "":
		return nil, usageErr(fmt.Errorf("the %s: give an environment variable or a file, not both", p.what))
	case p.envName != "":
		v, ok := os.LookupEnv(p.envName)
		if !ok {
			return nil, usageErr(fmt.Errorf("the %s: environment variable %s is not set", p.what, p.envName))
		}
		return []byte(v), nil
	case p.file != "":
		data, err := os.ReadFile(p.file)
		if err != nil {
			return nil, usageErr(fmt.Errorf("the %s: %w", p.what, err))
		}
		if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
			data = data[:i]
		}
		return data, nil
	}
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return nil, usageErr(errors.New("the " + p.what + " is needed: give it in an environment variable or a file (see --help), or run on a terminal to be asked"))
	}
	fmt.Fprintf(os.Stderr, "%s: ", p.what)
	pw, err := term.ReadPassword(fd)
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return nil, fmt.Errorf("reading the %s: %w", p.what, err)
	}
	return pw, nil
}

// wipe overwrites a password in memory.
func wipe(b []byte) {
	for i := range b {
		b[i] = 0
	}
}
