package landscape

import (
	"context"
	"time"

	"github.com/certroll/certroll/renewal/local"
)

// Traffic is the runtime's traffic while a renewal proceeds: every node
// sends requests from [StartTraffic] until [Traffic.Stop].
type Traffic struct {
	stop  context.CancelFunc
	done  chan local.Stats
	start time.Time
	nodes int
	rate  float64
}

// Counted is what the traffic did.
type Counted struct {
	// Stats are the runtime's counts.
	Stats local.Stats
	// Elapsed is how long the traffic flowed, by the wall clock.
	Elapsed time.Duration
	// Asked is the rate asked for, over all nodes: nodes × rate per node.
	Asked float64
}

// StartTraffic makes every node of rt send requests (at the rate rt was
// made with: rate per second, on each of nodes nodes) until Stop or until
// ctx is done.
func StartTraffic(ctx context.Context, rt *local.Runtime, nodes int, rate float64) *Traffic {
	ctx, stop := context.WithCancel(ctx)
	t := &Traffic{stop: stop, done: make(chan local.Stats, 1), start: time.Now(), nodes: nodes, rate: rate}
	go func() { t.done <- rt.Run(ctx) }()
	return t
}

// Stop stops the traffic, waits for the requests on the way, and returns
// the counts.
func (t *Traffic) Stop() Counted {
	t.stop()
	stats := <-t.done
	return Counted{Stats: stats, Elapsed: time.Since(t.start), Asked: float64(t.nodes) * t.rate}
}
