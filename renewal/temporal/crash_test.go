package temporal

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"

	"github.com/certroll/certroll/renewal"
)

// A worker "crash" is an attempt that dies (panics) at a point of a
// destructive activity: before its first change, during a change (the
// change took effect, the call never returned), or after its last change
// (recorded in a heartbeat, the completion never reached the server).
// Temporal retries the activity; the retried attempt must not make the
// destructive call again.
func TestCrashedDestructiveActivityIsRetriedWithoutRepeatingTheCall(t *testing.T) {
	steps := []struct {
		seq      renewal.Sequence
		step     renewal.StepID
		activity string
		during   string // the call that crashes during
	}{
		{renewal.SequenceOverlap, renewal.StepSwapEntry, "SwapEntry", "Activate:r1"},
		{renewal.SequenceOverlap, renewal.StepRemoveOld, "RemoveOld", "RemoveRoot:r1"},
		{renewal.SequenceDowntime, renewal.StepStopFlow, "StopFlow", "Stop:r1:node-b"},
		{renewal.SequenceDowntime, renewal.StepSwapEntry, "SwapEntry", "Activate:r1"},
		{renewal.SequenceDowntime, renewal.StepReceiverSwap, "ReceiverSwap", "RemoveClient:r1"},
		{renewal.SequenceDowntime, renewal.StepRemoveOld, "RemoveOld", "RemoveRoot:r1"},
	}
	for _, s := range steps {
		for _, point := range []string{"before", "during", "after"} {
			for _, blind := range []bool{false, true} {
				if blind && point != "after" {
					// Without an inspector a change made but not recorded
					// is made again (the Receiver contract makes that
					// harmless); only the heartbeat guards "after".
					continue
				}
				name := fmt.Sprintf("%s/%s/%s", s.seq, s.step, point)
				if blind {
					name += "/no-inspector"
				}
				t.Run(name, func(t *testing.T) {
					w := newWorld(t)
					f := w.add("r1", "rcv-1", s.seq)
					if blind {
						w.acts.Receivers[f.input.Adapters.Receiver] = blindReceiver{f.receiver}
					}
					crashed := false
					if point == "during" {
						w.crashOnce(s.during)
					} else {
						w.acts.hook = func(p string, id renewal.StepID, attempt int32) {
							if p == point && id == s.step && attempt == 1 {
								crashed = true
								panic("injected crash " + point + " " + string(id))
							}
						}
					}
					env := w.env()
					var mu sync.Mutex
					attempts := map[string]int{}
					env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
						mu.Lock()
						defer mu.Unlock()
						attempts[info.ActivityType.Name]++
					})
					st := run(t, env, f.input)

					assert.Equal(t, renewal.StatusDone, st.State, "%v", st)
					if point == "during" {
						assert.False(t, w.crashPending(), "the crash during %s happened", s.during)
					} else {
						assert.True(t, crashed, "the crash %s happened", point)
					}
					mu.Lock()
					assert.Equal(t, 2, attempts[s.activity], "%s ran twice: the crashed attempt and its retry", s.activity)
					mu.Unlock()
					for _, c := range destructive(s.seq, "r1") {
						assert.Equal(t, 1, w.count(c), "%s ran once", c)
					}
					assert.Equal(t, "New Root CA", f.live(t).Issuer.CommonName)
				})
			}
		}
	}
}

// blindReceiver hides the fake's ReceiverInspector.
type blindReceiver struct{ renewal.Receiver }
