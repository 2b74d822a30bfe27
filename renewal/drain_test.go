package renewal

import (
	"context"
	"crypto/x509"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// observingReceiver is the fake receiver with a UsageObserver: seen says
// when it last saw a certificate, and each call is logged.
type observingReceiver struct {
	*fakeReceiver
	mu   sync.Mutex
	seen func(leaf *x509.Certificate) time.Time
}

func (r *observingReceiver) LastSeen(ctx context.Context, leaf *x509.Certificate) (time.Time, error) {
	r.log.add("rcv.LastSeen %s", r.label(leaf))
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen(leaf), nil
}

// fakeClock is a clock that only the drain gate's sleep hook advances.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return ctx.Err()
}

// drainFixture is an overlap (or downtime) fixture whose receiver last saw
// the old certificate at lastOld, with a fake clock and a drain of one
// minute.
func drainFixture(t *testing.T, seq Sequence, lastOld func(now time.Time) time.Time) (*fixture, *fakeClock, *observingReceiver) {
	t.Helper()
	f := newFixture(t, seq)
	clk := &fakeClock{now: clock()}
	rcv := &observingReceiver{fakeReceiver: f.rcv}
	rcv.seen = func(leaf *x509.Certificate) time.Time {
		if sameCert(leaf, f.old.chain[0]) {
			return lastOld(clk.Now())
		}
		return time.Time{}
	}
	f.exec.Receiver = rcv
	f.tenant.Now = clk.Now
	f.exec.sleepFn = clk.sleep
	f.exec.Drain = time.Minute
	return f, clk, rcv
}

func (f *fixture) eventsOf(kind EventKind) []Event {
	var out []Event
	for _, e := range f.events {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// TestDrainGateWaits: the receiver saw the old certificate 10 s ago, so
// the gate before the removal waits the remaining 50 s of the drain, says
// so, asks again, and only then lets the old certificate and root go.
func TestDrainGateWaits(t *testing.T) {
	for _, seq := range []Sequence{SequenceOverlap, SequenceDowntime} {
		t.Run(string(seq), func(t *testing.T) {
			var sawAt time.Time
			f, clk, _ := drainFixture(t, seq, func(now time.Time) time.Time {
				if sawAt.IsZero() {
					sawAt = now.Add(-10 * time.Second)
				}
				return sawAt
			})
			_, err := f.exec.Run(context.Background())
			require.NoError(t, err)
			assert.Equal(t, []time.Duration{50 * time.Second}, clk.sleeps)
			assert.Equal(t, []*x509.Certificate{f.newCA.Cert}, f.rcv.roots)

			// The gate asked, waited, asked again, then the step removed.
			calls := f.calls.all()
			var tail []string
			for _, c := range calls {
				if strings.HasPrefix(c, "rcv.LastSeen") || strings.HasPrefix(c, "rcv.Remove") {
					tail = append(tail, c)
				}
			}
			if seq == SequenceDowntime {
				require.Equal(t, "rcv.RemoveClient old-leaf", tail[0], "step 8 exchanges the client certificate")
				tail = tail[1:]
			}
			want := []string{"rcv.LastSeen old-leaf", "rcv.LastSeen old-leaf"}
			if seq == SequenceOverlap {
				want = append(want, "rcv.RemoveClient old-leaf")
			}
			assert.Equal(t, append(want, "rcv.RemoveRoot old-root"), tail)

			waits := f.eventsOf(EventGateWaiting)
			require.Len(t, waits, 1)
			assert.Equal(t, StepRemoveOld, waits[0].Step.ID)
			assert.Equal(t, GateOldRootUnused, waits[0].Step.Gate.Kind)
			assert.Contains(t, waits[0].Message, "waiting 50s")
			assert.Contains(t, waits[0].Message, "drain of 1m0s")
			assert.Contains(t, waits[0].Message, "old client certificate")
		})
	}
}

// TestDrainGateWaitsAgain: a handshake with the old certificate during
// the wait starts the drain again.
func TestDrainGateWaitsAgain(t *testing.T) {
	asks := 0
	f, clk, _ := drainFixture(t, SequenceOverlap, func(now time.Time) time.Time {
		asks++
		switch asks {
		case 1:
			return now.Add(-50 * time.Second)
		default: // seen 5 s before the first wait ended, then never again
			return clock().Add(5 * time.Second)
		}
	})
	_, err := f.exec.Run(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []time.Duration{10 * time.Second, 55 * time.Second}, clk.sleeps)
	assert.Len(t, f.eventsOf(EventGateWaiting), 2)
	assert.Equal(t, 1, f.calls.count("rcv.RemoveRoot"))
}

// TestDrainGateQuiet: a receiver that never saw the old certificate, or
// saw it longer than the drain ago, does not make the gate wait.
func TestDrainGateQuiet(t *testing.T) {
	for name, last := range map[string]func(time.Time) time.Time{
		"never":      func(time.Time) time.Time { return time.Time{} },
		"long ago":   func(now time.Time) time.Time { return now.Add(-time.Hour) },
		"just drain": func(now time.Time) time.Time { return now.Add(-time.Minute) },
	} {
		t.Run(name, func(t *testing.T) {
			f, clk, _ := drainFixture(t, SequenceOverlap, last)
			_, err := f.exec.Run(context.Background())
			require.NoError(t, err)
			assert.Empty(t, clk.sleeps)
			assert.Empty(t, f.eventsOf(EventGateWaiting))
			assert.Equal(t, 1, f.calls.count("rcv.RemoveRoot"))
		})
	}
}

// TestDrainGateCancelled: when ctx ends the wait, the gate fails naming
// the drain, nothing is removed, and a later run waits again.
func TestDrainGateCancelled(t *testing.T) {
	f, clk, _ := drainFixture(t, SequenceOverlap, func(now time.Time) time.Time { return now.Add(-time.Second) })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.exec.sleepFn = func(ctx context.Context, d time.Duration) error {
		cancel()
		<-ctx.Done()
		return ctx.Err()
	}
	_, err := f.exec.Run(ctx)
	require.ErrorIs(t, err, ErrGateFailed)
	require.ErrorIs(t, err, context.Canceled)
	var ge *GateError
	require.ErrorAs(t, err, &ge)
	assert.Equal(t, StepRemoveOld, ge.Step.ID)
	assert.Equal(t, GateOldRootUnused, ge.Step.Gate.Kind)
	assert.Contains(t, err.Error(), "drain")
	assert.Contains(t, err.Error(), "Executor.Drain")
	assert.Zero(t, f.calls.count("rcv.RemoveClient"))
	assert.Zero(t, f.calls.count("rcv.RemoveRoot"))
	rec := f.journal(t).step(StepRemoveOld)
	assert.Equal(t, StatusFailed, rec.Status)
	assert.Contains(t, rec.Error, "drain")

	// Run again: the sighting is now old enough.
	f.exec.sleepFn = clk.sleep
	f.rcvSeen(func(now time.Time) time.Time { return now.Add(-2 * time.Minute) })
	_, err = f.exec.Run(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, f.calls.count("rcv.RemoveRoot"))
}

func (f *fixture) rcvSeen(seen func(now time.Time) time.Time) {
	r := f.exec.Receiver.(*observingReceiver)
	now := f.tenant.Now
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = func(leaf *x509.Certificate) time.Time {
		if sameCert(leaf, f.old.chain[0]) {
			return seen(now())
		}
		return time.Time{}
	}
}

// TestDrainGateStuckClock: an executor clock that does not advance
// cannot wait for a drain: the gate fails instead of looping.
func TestDrainGateStuckClock(t *testing.T) {
	f, _, _ := drainFixture(t, SequenceOverlap, func(now time.Time) time.Time { return now.Add(-time.Second) })
	f.tenant.Now = clock // fixed
	f.exec.sleepFn = func(context.Context, time.Duration) error { return nil }
	_, err := f.exec.Run(context.Background())
	require.ErrorIs(t, err, ErrGateFailed)
	assert.Contains(t, err.Error(), "did not advance")
	assert.Zero(t, f.calls.count("rcv.RemoveRoot"))
}

// TestDrainGateLastSeenFails: a receiver that cannot say when it last saw
// the old certificate fails the gate.
func TestDrainGateLastSeenFails(t *testing.T) {
	f := newFixture(t, SequenceOverlap)
	f.exec.Receiver = failingObserver{f.rcv}
	_, err := f.exec.Run(context.Background())
	require.ErrorIs(t, err, ErrGateFailed)
	assert.Contains(t, err.Error(), "access log unreadable")
	assert.Zero(t, f.calls.count("rcv.RemoveRoot"))
}

type failingObserver struct{ *fakeReceiver }

func (failingObserver) LastSeen(context.Context, *x509.Certificate) (time.Time, error) {
	return time.Time{}, errors.New("access log unreadable")
}

// TestDrainDryRunDoesNotWait: a dry run says a run would wait, and does
// not; the run then waits once.
func TestDrainDryRunDoesNotWait(t *testing.T) {
	seen := clock().Add(-time.Second)
	f, clk, _ := drainFixture(t, SequenceOverlap, func(time.Time) time.Time { return seen })
	// Run up to the removal: step 8 done, step 9 pending.
	f.exec.hook = func(point string, id StepID) {
		if point == hookRecorded && id == StepNotifyNewInUse {
			panic(stopHere{})
		}
	}
	func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(stopHere); !ok {
					panic(r)
				}
			}
		}()
		_, _ = f.exec.Run(context.Background())
	}()
	f.exec.hook = nil
	f.events = nil
	d, err := f.exec.DryRun(context.Background())
	require.NoError(t, err)
	require.NotNil(t, d)
	assert.Empty(t, clk.sleeps)
	waits := f.eventsOf(EventGateWaiting)
	require.Len(t, waits, 1)
	assert.True(t, waits[0].dryRun)
	assert.Contains(t, waits[0].Message, "a run would wait")

	_, err = f.exec.Run(context.Background())
	require.NoError(t, err)
	assert.Equal(t, []time.Duration{59 * time.Second}, clk.sleeps)
}

// TestDrainWaitsWhileSeen: a receiver that keeps seeing the old
// certificate keeps the gate waiting until ctx ends it.
func TestDrainWaitsWhileSeen(t *testing.T) {
	f, clk, _ := drainFixture(t, SequenceOverlap, func(now time.Time) time.Time { return now.Add(-time.Second) })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.exec.sleepFn = func(ctx context.Context, d time.Duration) error {
		if len(clk.sleeps) == 3 {
			cancel()
		}
		return clk.sleep(ctx, d)
	}
	_, err := f.exec.Run(ctx)
	require.ErrorIs(t, err, ErrGateFailed)
	assert.Len(t, clk.sleeps, 4)
	assert.Len(t, f.eventsOf(EventGateWaiting), 4)
	assert.Zero(t, f.calls.count("rcv.RemoveRoot"))
}

// TestDrainGivesUpOnAClientStillUsingTheOldCertificate: a client nobody
// declared keeps presenting the old certificate. The gate does not wait
// for ever: after ten drain periods it fails, saying that a client still
// uses the old certificate, and nothing is removed.
func TestDrainGivesUpOnAClientStillUsingTheOldCertificate(t *testing.T) {
	f, clk, _ := drainFixture(t, SequenceOverlap, func(now time.Time) time.Time { return now.Add(-time.Second) })
	_, err := f.exec.Run(context.Background())
	require.ErrorIs(t, err, ErrGateFailed)
	assert.Contains(t, err.Error(), "a client still presents the old client certificate")
	assert.Contains(t, err.Error(), "10 drains of 1m0s")
	var total time.Duration
	for _, d := range clk.sleeps {
		total += d
	}
	assert.GreaterOrEqual(t, total, 10*time.Minute, "it waited ten drains of the fake clock")
	assert.Less(t, total, 11*time.Minute)
	assert.Zero(t, f.calls.count("rcv.RemoveRoot"))
	assert.Zero(t, f.calls.count("rcv.RemoveClient"))
}

type stopHere struct{}
