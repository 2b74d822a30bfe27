package local

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/certroll/certroll/renewal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var handOver = renewal.Step{Number: 2, Role: renewal.TenantAdmin, Kind: renewal.KindHandOff, To: renewal.ReceiverAdmin}

func TestNotifier(t *testing.T) {
	errRefused := errors.New("ticket closed as won't do")
	tests := []struct {
		name    string
		confirm func(ctx context.Context, s renewal.Step, msg string) error
		wait    time.Duration
		message string
		want    string
		is      error
	}{
		{name: "no wait", message: "new certificate attached",
			want: "step 2: tenant administrator → receiver administrator: new certificate attached\n"},
		{name: "automatic confirmation", wait: time.Minute, message: "m",
			want: "step 2: tenant administrator → receiver administrator: m\nstep 2: confirmed by receiver administrator (automatically)\n"},
		{name: "confirmed", wait: time.Minute, message: "m",
			confirm: func(ctx context.Context, s renewal.Step, msg string) error { return nil },
			want:    "step 2: tenant administrator → receiver administrator: m\nstep 2: confirmed by receiver administrator\n"},
		{name: "refused", wait: time.Minute, message: "m", is: errRefused,
			confirm: func(ctx context.Context, s renewal.Step, msg string) error { return errRefused },
			want:    "step 2: tenant administrator → receiver administrator: m\nstep 2: not confirmed by receiver administrator: ticket closed as won't do\n"},
		{name: "timeout", wait: 20 * time.Millisecond, message: "m", is: ErrNotConfirmed,
			confirm: func(ctx context.Context, s renewal.Step, msg string) error { <-ctx.Done(); return ctx.Err() },
			want:    "step 2: tenant administrator → receiver administrator: m\nstep 2: not confirmed by receiver administrator: context deadline exceeded\n"},
		{name: "timeout ignored by Confirm", wait: 20 * time.Millisecond, message: "m", is: ErrNotConfirmed,
			confirm: func(ctx context.Context, s renewal.Step, msg string) error {
				time.Sleep(200 * time.Millisecond)
				return nil
			},
			want: "step 2: tenant administrator → receiver administrator: m\nstep 2: not confirmed by receiver administrator: context deadline exceeded\n"},
		{name: "line breaks in the message", message: "a\nstep 9: forged\r\n",
			want: "step 2: tenant administrator → receiver administrator: a step 9: forged  \n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			n := &Notifier{W: &out, Confirm: tc.confirm}
			err := n.HandOff(context.Background(), handOver, tc.message, tc.wait)
			if tc.is != nil {
				assert.ErrorIs(t, err, ErrNotConfirmed)
				assert.ErrorIs(t, err, tc.is)
				assert.Contains(t, err.Error(), "step 2")
			} else {
				assert.NoError(t, err)
			}
			assert.Equal(t, tc.want, out.String())
		})
	}
}

func TestNotifierContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var out strings.Builder
	n := &Notifier{W: &out, Confirm: func(ctx context.Context, s renewal.Step, msg string) error {
		cancel()
		<-ctx.Done()
		return ctx.Err()
	}}
	err := n.HandOff(ctx, handOver, "m", time.Minute)
	assert.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, ErrNotConfirmed, "a cancelled run is not a missing confirmation")
	assert.ErrorIs(t, n.HandOff(ctx, handOver, "m", 0), context.Canceled)

	var zero Notifier
	require.NoError(t, zero.HandOff(context.Background(), handOver, "m", time.Hour), "the zero Notifier confirms at once")
	self := renewal.Step{Number: 4, Role: renewal.ReceiverAdmin, Kind: renewal.KindAction}
	out.Reset()
	require.NoError(t, (&Notifier{W: &out}).HandOff(context.Background(), self, "done", 0))
	assert.Equal(t, "step 4: receiver administrator → receiver administrator: done\n", out.String())
}

func ExampleNotifier() {
	n := &Notifier{W: os.Stdout}
	step := renewal.Step{Number: 4, Role: renewal.ReceiverAdmin, Kind: renewal.KindHandOff, To: renewal.TenantAdmin}
	_ = n.HandOff(context.Background(), step, "the receiver accepts the old and the new client certificate", time.Hour)
	// Output:
	// step 4: receiver administrator → tenant administrator: the receiver accepts the old and the new client certificate
	// step 4: confirmed by tenant administrator (automatically)
}
