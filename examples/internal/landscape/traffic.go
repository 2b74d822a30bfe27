package landscape

import (
	"context"
	"fmt"
	"time"

	"github.com/certroll/certroll/renewal"
	"github.com/certroll/certroll/renewal/local"
)

// Runtime is the runtime of either landscape: the embedded
// [*local.Runtime] or the real landscape's [*JavaNodes].
type Runtime interface {
	renewal.Runtime
	// StartAll starts every node.
	StartAll(ctx context.Context) error
	// SkipRestart makes node one the integration developer forgets when
	// restarting the flow.
	SkipRestart(node string) error
}

// Traffic is the runtime's traffic while a renewal proceeds: every node
// sends requests from [StartTraffic] until [Traffic.Stop].
type Traffic struct {
	stop  func() local.Stats
	start time.Time
	nodes int
	rate  float64
}

// Counted is what the traffic did.
type Counted struct {
	// Stats are the runtime's counts, in the embedded runtime's form for
	// either landscape.
	Stats local.Stats
	// Elapsed is how long the traffic flowed, by the wall clock.
	Elapsed time.Duration
	// Asked is the rate asked for, over all nodes: nodes × rate per node.
	Asked float64
}

// StartTraffic makes every node of rt send requests (at the rate rt was
// made with: rate per second, on each of nodes nodes) until Stop or until
// ctx is done. The embedded runtime's nodes send from now; the JVM nodes
// of the real landscape send on their own from their start, and their
// requests are counted from now (see [JavaNodes]).
func StartTraffic(ctx context.Context, rt Runtime, nodes int, rate float64) (*Traffic, error) {
	t := &Traffic{start: time.Now(), nodes: nodes, rate: rate}
	switch rt := rt.(type) {
	case *local.Runtime:
		ctx, cancel := context.WithCancel(ctx)
		done := make(chan local.Stats, 1)
		go func() { done <- rt.Run(ctx) }()
		t.stop = func() local.Stats { cancel(); return <-done }
	case *JavaNodes:
		t.stop = startJavaTraffic(rt, rate).stop
	default:
		return nil, fmt.Errorf("landscape: no traffic for a runtime of type %T", rt)
	}
	return t, nil
}

// Stop stops the traffic, waits for the requests on the way, and returns
// the counts.
func (t *Traffic) Stop() Counted {
	stats := t.stop()
	return Counted{Stats: stats, Elapsed: time.Since(t.start), Asked: float64(t.nodes) * t.rate}
}
