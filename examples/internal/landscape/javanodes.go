package landscape

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal/java"
	"github.com/certroll/certroll/renewal/local"
)

// JavaNodes is the real landscape's runtime: the JVM nodes of a
// [java.Runtime], which the executor stops, starts and restarts, with
// what the examples add to it. It notes when the flow of each node is
// stopped (from [JavaNodes.Stop] to the end of the next
// [JavaNodes.Start]), so that the traffic counts the messages due then
// as failed, as the embedded runtime does, and it can forget a node as
// [local.Runtime.SkipRestart] does.
type JavaNodes struct {
	*java.Runtime

	mu      sync.Mutex
	skip    string
	stopped map[string]time.Time // since when a node's flow is stopped
	windows map[string][]Window  // the earlier stops, ended
}

// NewJavaNodes wraps rt, whose nodes are all stopped.
func NewJavaNodes(ctx context.Context, rt *java.Runtime) (*JavaNodes, error) {
	names, err := rt.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	n := &JavaNodes{Runtime: rt, stopped: map[string]time.Time{}, windows: map[string][]Window{}}
	now := time.Now()
	for _, name := range names {
		n.stopped[name] = now
	}
	return n, nil
}

// SkipRestart makes node one the integration developer forgets: every
// later Restart and Start of it does nothing, so a running node keeps
// the certificate it cached and a stopped one stays stopped.
func (n *JavaNodes) SkipRestart(node string) error {
	names, err := n.Nodes(context.Background())
	if err != nil {
		return err
	}
	if !slices.Contains(names, node) {
		return fmt.Errorf("landscape: no node %q; the nodes are %v", node, names)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.skip = node
	return nil
}

func (n *JavaNodes) skipped(node string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.skip == node
}

// Stop stops node's JVM; its flow counts as stopped from now on.
func (n *JavaNodes) Stop(ctx context.Context, node string) error {
	n.mu.Lock()
	if _, ok := n.stopped[node]; !ok {
		n.stopped[node] = time.Now()
	}
	n.mu.Unlock()
	return n.Runtime.Stop(ctx, node)
}

// Start starts node's JVM (unless it is the forgotten node); its flow
// runs again once the JVM is ready.
func (n *JavaNodes) Start(ctx context.Context, node string) error {
	if n.skipped(node) {
		return nil
	}
	if err := n.Runtime.Start(ctx, node); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if since, ok := n.stopped[node]; ok {
		n.windows[node] = append(n.windows[node], Window{Start: since, End: time.Now()})
		delete(n.stopped, node)
	}
	return nil
}

// StartAll starts every node.
func (n *JavaNodes) StartAll(ctx context.Context) error {
	names, err := n.Nodes(ctx)
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := n.Start(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

// Restart restarts node's JVM (unless it is the forgotten node), which
// reads the keystore afresh. A restart is not a stop of the flow: the
// messages due while the JVM starts are counted as skipped.
func (n *JavaNodes) Restart(ctx context.Context, node string) error {
	if n.skipped(node) {
		return nil
	}
	return n.Runtime.Restart(ctx, node)
}

// stops returns node's stopped windows up to end, the current one ending
// at end.
func (n *JavaNodes) stops(node string, end time.Time) []Window {
	n.mu.Lock()
	defer n.mu.Unlock()
	w := slices.Clone(n.windows[node])
	if since, ok := n.stopped[node]; ok {
		w = append(w, Window{Start: since, End: end})
	}
	return w
}

// maxFailures bounds the failures a count keeps in detail.
const maxFailures = 100_000

// startJavaTraffic counts the requests of the JVM nodes from now until
// Stop. The JVMs send on their own, at the rate they were started with;
// the count puts their requests on the embedded runtime's schedule (rate
// per second on each node, from now): every message due is counted once,
// as sent by the JVM (failed if it got no response or a status of 400 or
// more), as failed because it fell due while the node's flow was stopped
// (in the downtime window), or else as skipped (the JVM was starting, or
// fell behind).
func startJavaTraffic(n *JavaNodes, rate float64) *Traffic {
	start, base := time.Now(), n.Stats()
	return &Traffic{stop: func() local.Stats { return n.count(start, base, rate) }}
}

func (n *JavaNodes) count(start time.Time, base java.Stats, rate float64) local.Stats {
	end := time.Now()
	st := n.Stats()
	total := local.Stats{PerNode: map[string]local.Stats{}}
	for _, f := range st.Failed[min(len(base.Failed), len(st.Failed)):] {
		msg := f.Error
		if msg == "" {
			msg = fmt.Sprintf("HTTP status %d", f.Status)
		}
		total.Failures = append(total.Failures, local.Failure{Node: f.Node, At: f.Time, Fingerprint: fpHex(f.Presented), Err: errors.New(msg)})
	}
	due := int(end.Sub(start).Seconds() * rate)
	for name, ns := range st.Nodes {
		b := base.Nodes[name]
		sent, failed := ns.Requests-b.Requests, ns.Failures-b.Failures
		// The messages due while the flow was stopped: those on the
		// schedule start + i/rate inside a stopped window.
		stopped := 0
		for _, w := range n.stops(name, end) {
			a, z := w.Start, w.End
			if a.Before(start) {
				a = start
			}
			if z.After(end) {
				z = end
			}
			first := int(math.Ceil(a.Sub(start).Seconds() * rate))
			last := int(math.Floor(z.Sub(start).Seconds() * rate))
			for i := max(first, 1); i <= last; i++ {
				stopped++
				if len(total.Failures) < maxFailures {
					at := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
					total.Failures = append(total.Failures, local.Failure{Node: name, At: at, Err: local.ErrNodeStopped})
				}
			}
		}
		node := local.Stats{Total: sent + stopped, Failed: failed + stopped, Skipped: max(0, due-sent-stopped)}
		for _, fp := range ns.Sequence {
			node.Sequence = append(node.Sequence, fpHex(fp))
		}
		total.PerNode[name] = node
		total.Total += node.Total
		total.Failed += node.Failed
		total.Skipped += node.Skipped
	}
	slices.SortFunc(total.Failures, func(a, b local.Failure) int { return a.At.Compare(b.At) })
	return total
}

// fpHex is the fingerprint as the summary shows it; "none" for a request
// that presented no certificate.
func fpHex(fp keystore.Fingerprint) string {
	if fp == (keystore.Fingerprint{}) {
		return "none"
	}
	return fp.Hex()
}
