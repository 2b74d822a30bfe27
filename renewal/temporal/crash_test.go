package temporal

import (
	"context"
	"fmt"
	"strings"
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
// (recorded in a heartbeat, the completion never reached the server); or
// "lost": an attempt whose heartbeats never reached the server (a real
// process death loses the SDK's throttled heartbeats) ends, retryable,
// after its changes. Temporal retries the activity; the retried attempt
// must not swap the key or stop a node again (both are asked of the state
// first), and makes again the receiver calls no heartbeat recorded, which
// the Receiver contract makes harmless and which reload a receiver whose
// files an interrupted call wrote. The end state is the same.
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
		for _, point := range []string{"before", "during", "after", "lost"} {
			for _, blind := range []bool{false, true} {
				if blind && point != "after" && point != "lost" {
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
					switch point {
					case "during":
						w.crashOnce(s.during)
					case "lost":
						w.acts.lose = func(id renewal.StepID, attempt int32) bool {
							if id == s.step && attempt == 1 {
								crashed = true
								return true
							}
							return false
						}
					default:
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
						if receiverCall(c) {
							assert.Contains(t, []int{1, 2}, w.count(c), "%s ran once, or again in the retry", c)
						} else {
							assert.Equal(t, 1, w.count(c), "%s ran once", c)
						}
					}
					assert.Equal(t, "New Root CA", f.live(t).Issuer.CommonName)
					assert.Len(t, f.receiver.accepted, 1, "the receiver accepts only the new certificate")
					assert.Equal(t, st.NewFingerprint, fingerprint(encodeChain(f.receiver.accepted)), "the receiver accepts the new certificate")
					if assert.Len(t, f.receiver.roots, 1) {
						assert.Equal(t, "New Root CA", f.receiver.roots[0].Subject.CommonName)
					}
				})
			}
		}
	}
}

// receiverCall reports whether a counted call is a receiver's.
func receiverCall(key string) bool {
	return strings.HasPrefix(key, "RemoveRoot:") || strings.HasPrefix(key, "RemoveClient:") ||
		strings.HasPrefix(key, "TrustRoot:") || strings.HasPrefix(key, "AcceptClient:")
}

// blindReceiver hides the fake's ReceiverInspector.
type blindReceiver struct{ renewal.Receiver }
