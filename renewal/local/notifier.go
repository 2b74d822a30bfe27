package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/certroll/certroll/renewal"
)

// Notifier is a [renewal.Notifier] that writes each hand-off as a line to
// W and confirms it itself, or asks Confirm for the role's confirmation.
//
// The zero Notifier discards messages and confirms everything at once; it
// is safe for concurrent use, and so is any Notifier whose Confirm is.
type Notifier struct {
	// W receives one line per hand-off:
	//
	//	step 2: tenant administrator → receiver administrator: message
	//
	// followed, when the hand-off waits for a confirmation, by a line
	// saying whether it came. Nil discards the lines.
	W io.Writer

	// Confirm, if not nil, is called for a hand-off that waits for a
	// confirmation, with a context that ends after the wait; it returns
	// nil once the role confirmed (a person pressed a button, a ticket was
	// closed) or an error. Nil confirms at once: a run on one machine has
	// nobody to wait for.
	Confirm func(ctx context.Context, step renewal.Step, message string) error

	mu sync.Mutex // serialises writes to W
}

var _ renewal.Notifier = (*Notifier)(nil)

// HandOff writes the hand-off and, if wait is not zero, waits up to wait
// for the confirmation of the role the step hands off to (step.To, or
// step.Role when To is zero). It returns an error wrapping
// [ErrNotConfirmed] if Confirm fails or the wait ends first, and ctx's
// error if ctx is done first.
func (n *Notifier) HandOff(ctx context.Context, step renewal.Step, message string, wait time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	to := step.To
	if to == "" {
		to = step.Role
	}
	n.printf("step %d: %s → %s: %s\n", step.Number, step.Role, to, oneLine(message))
	if wait <= 0 {
		return nil
	}
	if n.Confirm == nil {
		n.printf("step %d: confirmed by %s (automatically)\n", step.Number, to)
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- n.Confirm(cctx, step, message) }()
	var err error
	select {
	case err = <-done:
	case <-cctx.Done():
		err = cctx.Err()
	}
	if err == nil {
		n.printf("step %d: confirmed by %s\n", step.Number, to)
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	n.printf("step %d: not confirmed by %s: %v\n", step.Number, to, err)
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: step %d: no confirmation from the %s within %v", ErrNotConfirmed, step.Number, to, wait)
	}
	return fmt.Errorf("%w: step %d: the %s did not confirm: %w", ErrNotConfirmed, step.Number, to, err)
}

func (n *Notifier) printf(format string, args ...any) {
	if n.W == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	fmt.Fprintf(n.W, format, args...)
}

// oneLine keeps a message on its line: line breaks and other control
// characters become spaces.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == 0x85 || r == 0x2028 || r == 0x2029 {
			return ' '
		}
		return r
	}, s)
}
