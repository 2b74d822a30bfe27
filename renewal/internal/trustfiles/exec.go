package trustfiles

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// MaxOutput bounds the output of a command kept in a [*CommandError]:
// enough for any configuration checker's complaint, small enough that a
// command printing without end cannot fill memory.
const MaxOutput = 64 << 10

// DefaultTimeout is how long a command may run when the caller sets no
// timeout: nginx -t or a reload takes well under a second; a minute leaves
// room for a slow machine without waiting forever on a hung command.
const DefaultTimeout = time.Minute

// CommandError reports a command that failed: it could not be started,
// exited non-zero, or ran past its timeout.
type CommandError struct {
	Prefix    string   // the adapter's package name, for the message
	Step      string   // what the command was for: "check", "reload"
	Argv      []string // the command
	ExitCode  int      // the exit status; -1 if it did not exit by itself
	Output    []byte   // stdout and stderr, interleaved, at most MaxOutput bytes
	Truncated bool     // whether Output was cut
	Err       error    // the underlying error (context.DeadlineExceeded for a timeout)
}

// Error names the command, how it failed and its output.
func (e *CommandError) Error() string {
	var how string
	switch {
	case errors.Is(e.Err, context.DeadlineExceeded):
		how = "ran past its timeout and was killed"
	case e.ExitCode > 0:
		how = fmt.Sprintf("exited with status %d", e.ExitCode)
	default:
		how = fmt.Sprintf("failed: %v", e.Err)
	}
	out := strings.TrimSpace(string(e.Output))
	if e.Truncated {
		out += " [output cut]"
	}
	if out == "" {
		out = "(no output)"
	}
	return fmt.Sprintf("%s: %s command %q %s; its output: %s", e.Prefix, e.Step, e.Argv, how, out)
}

// Unwrap returns the underlying error.
func (e *CommandError) Unwrap() error { return e.Err }

// Run runs argv (no shell) with a timeout (DefaultTimeout if zero), stdin
// empty, and returns a *CommandError if it does not exit with status 0.
// Its output is discarded on success.
func Run(ctx context.Context, prefix, step string, argv []string, timeout time.Duration) error {
	if len(argv) == 0 {
		return fmt.Errorf("%s: %s command: want a program and its arguments, got none", prefix, step)
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	out := &boundedBuffer{max: MaxOutput}
	cmd.Stdout, cmd.Stderr = out, out
	// A child that keeps the pipes open after the command is killed must
	// not hold Run up.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if err == nil {
		return nil
	}
	ce := &CommandError{Prefix: prefix, Step: step, Argv: append([]string(nil), argv...), ExitCode: -1,
		Output: out.buf.Bytes(), Truncated: out.cut, Err: err}
	if ctx.Err() != nil {
		ce.Err = ctx.Err()
	} else if ee, ok := err.(*exec.ExitError); ok {
		ce.ExitCode = ee.ExitCode()
	}
	return ce
}

// boundedBuffer keeps the first max bytes written to it.
type boundedBuffer struct {
	buf bytes.Buffer
	max int
	cut bool
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if room := b.max - b.buf.Len(); room < len(p) {
		p = p[:max(room, 0)]
		b.cut = true
	}
	b.buf.Write(p)
	return n, nil
}
