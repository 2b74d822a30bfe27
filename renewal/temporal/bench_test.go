package temporal

import (
	"context"
	"crypto/x509"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"

	"github.com/certroll/certroll/renewal"
)

// Events a Temporal server records for a renewal, from what the
// workflow does (the test suite keeps no history to count): the start
// (WorkflowExecutionStarted and the first workflow task's scheduled,
// started and completed events), each activity (its scheduled, started
// and completed events, and the workflow task that handles its result),
// each timer (started, fired, and a workflow task), each signal
// (signaled, and a workflow task), and the completion. Retried attempts
// and heartbeats add no events.
func historyEvents(activities, timers, signals int) int {
	return 4 + 6*activities + 5*timers + 4*signals + 1
}

// BenchmarkRenewalWorkflow runs one overlap renewal per iteration in the
// test suite: "floor" with every activity mocked (the workflow's own
// cost: its workflow tasks, the plan's rebuild, the status), "fakes"
// with the real activities against the fakes and real keystores. It
// reports the activities and timers (one workflow task each, after the
// first), the history events a server would record per renewal, and ns
// per step.
func BenchmarkRenewalWorkflow(b *testing.B) {
	for _, seq := range []renewal.Sequence{renewal.SequenceOverlap, renewal.SequenceDowntime} {
		w := newWorld(b)
		proto := w.add("proto", "rcv", seq)
		// The chain step 1 returns in the floor run.
		var gen StepOutput
		{
			env := w.env()
			env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "proto"})
			env.ExecuteWorkflow(RenewalWorkflow, proto.input)
			var st Status
			if err := env.GetWorkflowResult(&st); err != nil || st.State != renewal.StatusDone {
				b.Fatalf("prototype renewal: %v %v", err, st.String())
			}
			gen.NewChain = encodeChain([]*x509.Certificate{proto.live(b), w.newCA.Root()})
			gen.NewRoot = encodeChain([]*x509.Certificate{w.newCA.Root()})
		}
		art := Artifacts{OldChain: encodeChain(proto.old), OldRoot: encodeChain([]*x509.Certificate{w.oldCA.Root()})}
		steps := len(proto.input.Plan.Steps)

		for _, mode := range []string{"floor", "fakes"} {
			b.Run(string(seq)+"/"+mode, func(b *testing.B) {
				var activities, timers atomic.Int64
				var elapsed time.Duration
				for i := range b.N {
					b.StopTimer()
					in := proto.input
					if mode == "fakes" {
						in = w.add(fmt.Sprintf("b-%s-%d", mode, i), "rcv", seq).input
					}
					env := w.env()
					env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: in.Name})
					env.SetOnActivityStartedListener(func(*activity.Info, context.Context, converter.EncodedValues) { activities.Add(1) })
					env.SetOnTimerScheduledListener(func(string, time.Duration) { timers.Add(1) })
					if mode == "floor" {
						mockActivities(env, art, gen)
					}
					b.StartTimer()
					start := time.Now()
					env.ExecuteWorkflow(RenewalWorkflow, in)
					elapsed += time.Since(start)
					b.StopTimer()
					var st Status
					if err := env.GetWorkflowResult(&st); err != nil || st.State != renewal.StatusDone {
						b.Fatalf("%v %v", err, st.String())
					}
				}
				a := float64(activities.Load()) / float64(b.N)
				tm := float64(timers.Load()) / float64(b.N)
				b.ReportMetric(a, "activities/renewal")
				b.ReportMetric(tm, "timers/renewal")
				b.ReportMetric(a+tm+1, "workflow-tasks/renewal")
				b.ReportMetric(float64(historyEvents(int(a), int(tm), 0)), "events/renewal")
				b.ReportMetric(float64(elapsed.Nanoseconds())/float64(b.N)/float64(steps), "ns/step")
			})
		}
	}
}

// mockActivities makes every activity answer at once, as on the happy
// path.
func mockActivities(env *testsuite.TestWorkflowEnvironment, art Artifacts, gen StepOutput) {
	any2 := []any{mock.Anything, mock.Anything}
	env.OnActivity(acts.Prepare, any2...).Return(art, nil)
	env.OnActivity(acts.GenerateKey, any2...).Return(gen, nil)
	env.OnActivity(acts.HandOff, any2...).Return(nil)
	for _, fn := range []any{acts.ReceiverAcceptBoth, acts.ReceiverSwap, acts.StopFlow, acts.SwapEntry, acts.RestartNodes, acts.RemoveOld} {
		env.OnActivity(fn, any2...).Return(StepOutput{Note: "mocked"}, nil)
	}
	env.OnActivity(acts.CheckGate, any2...).Return(GateResult{Passed: true}, nil)
	env.OnActivity(acts.VerifyEnd, any2...).Return([]string(nil), nil)
}
