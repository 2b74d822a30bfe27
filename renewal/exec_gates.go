package renewal

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/certroll/certroll/chain"
	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal/probe"
	"github.com/certroll/certroll/truststore"
)

// gateCheck collects what a gate found.
type gateCheck struct {
	problems, stragglers, dependents []string
	errs                             []error
	// step and gate are what is checked, for the events a check emits.
	step Step
	gate Gate
}

func (c *gateCheck) problem(err error, format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
	if err != nil {
		c.errs = append(c.errs, err)
	}
}

func (c *gateCheck) straggler(node string) {
	if !slices.Contains(c.stragglers, node) {
		c.stragglers = append(c.stragglers, node)
	}
}

func (c *gateCheck) err(s Step, g Gate) *GateError {
	if len(c.problems) == 0 {
		return nil
	}
	return &GateError{Step: s, Problems: c.problems, Stragglers: c.stragglers, Dependents: c.dependents, errs: c.errs}
}

// gatePart is one condition of a gate: what it checks, the steps whose
// effects it depends on (a dry run defers it while one is not done), and
// the check.
type gatePart struct {
	what  string
	after []StepID
	check func(x *run, ctx context.Context, c *gateCheck)
	// applies, if not nil, says whether the condition applies to this
	// executor at all (a dry run lists only those that do).
	applies func(x *run) bool
}

// gateParts lists each gate kind's conditions.
var gateParts = map[GateKind][]gatePart{
	GateReceiverAcceptsBoth: {
		{"the receiver accepts the old chain", nil, func(x *run, ctx context.Context, c *gateCheck) {
			x.accepts(ctx, c, "old", x.oldChain)
		}, nil},
		{"the receiver accepts the new chain", []StepID{StepGenerateKey, StepReceiverAcceptBoth}, func(x *run, ctx context.Context, c *gateCheck) {
			x.accepts(ctx, c, "new", x.newChain)
		}, nil},
	},
	GateReceiverAcceptsNew: {
		{"the receiver accepts the new chain", []StepID{StepGenerateKey, StepReceiverSwap}, func(x *run, ctx context.Context, c *gateCheck) {
			x.accepts(ctx, c, "new", x.newChain)
		}, nil},
	},
	GateNodesPresentNew: {
		{"every node presents the new certificate", []StepID{StepGenerateKey, StepSwapEntry, StepRestartNodes}, (*run).nodesPresentNew, nil},
	},
	GateOldRootUnused: {
		{"no node presents the old certificate", []StepID{StepSwapEntry, StepRestartNodes}, (*run).noNodePresentsOld, nil},
		{"no chain declared in use chains to the old root", nil, (*run).oldRootUnused, nil},
		{"the receiver has seen no handshake with the old certificate for the drain period", []StepID{StepSwapEntry, StepRestartNodes}, (*run).oldDrained, observes},
	},
}

// checkGate evaluates every condition of gate g attached to step s.
func (x *run) checkGate(ctx context.Context, s Step, g Gate) *GateError {
	c := &gateCheck{step: s, gate: g}
	parts, ok := gateParts[g.Kind]
	if !ok {
		c.problem(nil, "the executor has no check for gate kind %q", g.Kind)
	}
	for _, p := range parts {
		p.check(x, ctx, c)
	}
	return c.err(s, g)
}

func (x *run) accepts(ctx context.Context, c *gateCheck, which string, certs []*x509.Certificate) {
	if len(certs) == 0 {
		c.problem(nil, "the %s chain is not known: step %q has not run", which, StepGenerateKey)
		return
	}
	if err := x.e.Receiver.Accepts(ctx, certs); err != nil {
		c.problem(err, "the receiver refuses the %s chain %s (client certificate SHA-256 %s): %v",
			which, chain.Path(certs), keystore.CertFingerprint(certs[0]).Hex(), err)
		return
	}
	// The files say yes; a receiver that can be reached is asked by a
	// handshake, which is the verdict.
	if err := x.probe(ctx, certs); err != nil {
		c.problem(err, "the receiver's configuration accepts the %s chain %s (client certificate SHA-256 %s), but a handshake presenting it fails: %v",
			which, chain.Path(certs), keystore.CertFingerprint(certs[0]).Hex(), err)
	}
}

// probe asks a receiver that implements [Prober] to accept a handshake
// presenting certs with its private key, read from the tenant's stores
// ([Tenant.keyFor]). A receiver that is not a Prober passes.
func (x *run) probe(ctx context.Context, certs []*x509.Certificate) error {
	p, ok := x.e.Receiver.(Prober)
	if !ok {
		return nil
	}
	key, err := x.e.Tenant.keyFor(certs[0])
	if err != nil {
		return fmt.Errorf("renewal: cannot probe the receiver: %w", err)
	}
	return p.Probe(ctx, certs, key)
}

// refusesInHandshake checks, when the receiver implements [Prober], that
// the running server refuses a handshake presenting certs with its key
// (read from the tenant's stores: after the swap the old key is in the
// history store). The receiver's files can say the old certificate and
// root are gone while the server still runs with them (a reload that did
// not happen, a pin left in another file), so the check after they are
// removed asks the server too. A probe that fails only because the server
// does not advertise the chain's root name counts as accepted: the probe
// presents the chain anyway, the server let it in, and a client that does
// not look at the names (curl, a client with a configured alias) gets in
// too. It returns nil if the receiver is not a Prober or refuses the
// chain; otherwise an error saying why, with accepted set when the server
// let the chain in (and not when the probe could not be made).
func (x *run) refusesInHandshake(ctx context.Context, certs []*x509.Certificate) (accepted bool, err error) {
	p, ok := x.e.Receiver.(Prober)
	if !ok || len(certs) == 0 {
		return false, nil
	}
	key, err := x.e.Tenant.keyFor(certs[0])
	if err != nil {
		return false, fmt.Errorf("renewal: cannot probe the receiver with %s, so whether it still accepts it in a handshake is unknown: %w", describeCert(certs[0]), err)
	}
	err = p.Probe(ctx, certs, key)
	var pe *probe.Error
	switch {
	case err == nil:
		return true, fmt.Errorf("renewal: the receiver still accepts the certificate %s in a handshake (its chain %s): reload the receiver, and remove every pin or root that lets it in: %w",
			describeCert(certs[0]), chain.Path(certs), ErrUnexpectedState)
	case errors.As(err, &pe) && pe.Handshake == nil && pe.Exchange == nil && !pe.NotRequested && pe.Status == 0:
		return true, fmt.Errorf("renewal: the receiver still accepts the certificate %s in a handshake (its chain %s), though it no longer advertises its root's name: reload the receiver, and remove every pin or root that lets it in: %w",
			describeCert(certs[0]), chain.Path(certs), ErrUnexpectedState)
	}
	return false, nil
}

// nodeCerts returns what each node presents: every node the runtime lists,
// and every node the plan names that the runtime does not list (reported
// as a problem, since what it presents is unknown).
func (x *run) nodeCerts(ctx context.Context, c *gateCheck) (names []string, certs map[string]*x509.Certificate) {
	nodes, err := x.e.Runtime.Nodes(ctx)
	if err != nil {
		c.problem(err, "cannot list the runtime's nodes: %v", err)
		return nil, nil
	}
	certs = make(map[string]*x509.Certificate, len(nodes))
	for _, want := range x.e.Plan.Params.Nodes {
		if !slices.Contains(nodes, want) {
			c.straggler(want)
			c.problem(nil, "node %q, named in the plan, is not among the runtime's nodes (%s)", want, strings.Join(nodes, ", "))
		}
	}
	for _, n := range nodes {
		cert, err := x.e.Runtime.Presents(ctx, n)
		if err != nil {
			c.straggler(n)
			c.problem(err, "cannot tell what node %q presents: %v", n, err)
			continue
		}
		names = append(names, n)
		certs[n] = cert
	}
	return names, certs
}

func (x *run) nodesPresentNew(ctx context.Context, c *gateCheck) {
	if x.newLeaf() == nil {
		c.problem(nil, "the new certificate is not known: step %q has not run", StepGenerateKey)
		return
	}
	names, certs := x.nodeCerts(ctx, c)
	for _, n := range names {
		switch cert := certs[n]; {
		case sameCert(cert, x.newLeaf()):
		case cert == nil:
			c.straggler(n)
			c.problem(nil, "node %q presents no certificate (its flow is stopped), expected the new certificate %s", n, describeCert(x.newLeaf()))
		default:
			c.straggler(n)
			what := describeCert(cert)
			if sameCert(cert, x.oldLeaf()) {
				what = "the old certificate " + what
			}
			c.problem(nil, "node %q presents %s, expected the new certificate %s: restart the flow there", n, what, describeCert(x.newLeaf()))
		}
	}
}

func (x *run) noNodePresentsOld(ctx context.Context, c *gateCheck) {
	names, certs := x.nodeCerts(ctx, c)
	for _, n := range names {
		if sameCert(certs[n], x.oldLeaf()) {
			c.straggler(n)
			c.problem(nil, "node %q still presents the old certificate %s: restart the flow there before the old certificate and root go", n, describeCert(x.oldLeaf()))
		}
	}
}

// oldRootUnused refuses while a chain declared in use chains to the old
// root, with the truststore package's check (a chain depends on a root
// that is its top certificate or issued it).
func (x *run) oldRootUnused(ctx context.Context, c *gateCheck) {
	if x.oldRoot == nil {
		c.problem(nil, "the old root is not known, so what chains to it cannot be checked; give it in Executor.OldRoot")
		return
	}
	deps, err := x.inUse()
	if err != nil {
		c.problem(err, "cannot read the chains declared in use: %v", err)
	}
	set := truststore.New(truststore.PEMBundle)
	if _, err := set.Merge(truststore.Certs(x.oldRoot), &truststore.MergeOptions{IncludeNonCA: true}); err != nil {
		c.problem(err, "cannot check the old root: %v", err)
		return
	}
	rep, err := set.Prune(truststore.ByFingerprint(keystore.CertFingerprint(x.oldRoot)), &truststore.PruneOptions{
		// deps is every chain the executor knows of; none known means
		// none is in use, which truststore wants said explicitly.
		InUse: deps, NothingInUse: len(deps) == 0,
	})
	switch {
	case errors.Is(err, truststore.ErrInUse):
		for _, ch := range rep.Refused {
			for _, d := range ch.Dependents {
				c.dependents = append(c.dependents, d)
				c.problem(nil, "%s chains to the old root %s, which must stay while it is in use", d, describeCert(x.oldRoot))
			}
		}
		c.errs = append(c.errs, err)
	case err != nil:
		c.problem(err, "cannot check the old root: %v", err)
	}
}

// inUse returns the chains declared in use: Executor.InUse and every key
// entry of the live keystore. A dry run
// that has not swapped the key entry leaves the live alias out, since the
// swap will replace its chain.
func (x *run) inUse() ([]truststore.Dependent, error) {
	deps := append([]truststore.Dependent(nil), x.e.InUse...)
	var errs []error
	t := x.e.Tenant
	ks, err := keystore.Open(t.Keystore, t.Password, t.liveOptions())
	if err != nil {
		return deps, errors.Join(append(errs, err)...)
	}
	skipLive := x.dry && !x.done(StepSwapEntry)
	for _, a := range ks.Aliases() {
		if k, err := ks.Kind(a); err != nil || k != keystore.KeyEntry {
			continue
		}
		if skipLive && strings.EqualFold(a, t.Alias) {
			continue
		}
		chain, err := ks.Certificates(a)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		deps = append(deps, truststore.Dependent{Name: fmt.Sprintf("live keystore %s alias %q", t.Keystore, a), Chain: chain})
	}
	return deps, errors.Join(errs...)
}

// done reports whether the journal records the step as done.
func (x *run) done(id StepID) bool {
	if x.j == nil {
		return false
	}
	r := x.j.step(id)
	return r != nil && r.Status == StatusDone
}

// observes reports whether the receiver reports the handshakes it sees.
func observes(x *run) bool {
	_, ok := x.e.Receiver.(UsageObserver)
	return ok
}

// maxDrainWaits bounds the drain gate's wait, in drain periods: in-flight
// requests from restarted nodes end within one; a certificate still seen
// after ten is in use by a client, not draining.
const maxDrainWaits = 10

// oldDrained waits, when the receiver reports the handshakes it sees
// ([UsageObserver]), until it has seen none presenting the old client
// certificate for Executor.Drain, asking again after each wait: a node
// restarted moments ago may still have requests in flight with the old
// certificate, and a client nobody declared shows up only here. It waits
// only when the gate's other conditions hold (otherwise the gate fails
// now), emits an [EventGateWaiting] before each wait, and fails the gate
// when ctx ends the wait, or when the receiver still sees the old
// certificate after [maxDrainWaits] drain periods: then some client still
// uses it, and removing the old certificate and root would cut it off. A
// dry run does not wait: it says that a run would.
func (x *run) oldDrained(ctx context.Context, c *gateCheck) {
	obs, ok := x.e.Receiver.(UsageObserver)
	if !ok || len(c.problems) > 0 {
		return
	}
	drain := max(x.e.Drain, 0)
	old := x.oldLeaf()
	start := x.now()
	for {
		last, err := obs.LastSeen(ctx, old)
		if err != nil {
			c.problem(err, "cannot tell when the receiver last saw the old client certificate %s: %v", describeCert(old), err)
			return
		}
		now := x.now()
		if last.IsZero() || now.Sub(last) >= drain {
			return
		}
		if now.Sub(start) >= maxDrainWaits*drain {
			c.problem(nil, "a client still presents the old client certificate %s: the receiver saw it at %s, after waiting %s (%d drains of %s) since %s; "+
				"find that client (the receiver's access log names it) and move it to the new certificate before the old certificate and root are removed",
				describeCert(old), last.UTC().Format(time.RFC3339Nano), now.Sub(start), maxDrainWaits, drain, start.UTC().Format(time.RFC3339Nano))
			return
		}
		until := last.Add(drain)
		wait := until.Sub(now)
		msg := fmt.Sprintf("the receiver saw the old client certificate %s at %s; waiting %s, until %s, for a drain of %s without it before the old certificate and root are removed",
			describeCert(old), last.UTC().Format(time.RFC3339Nano), wait, until.UTC().Format(time.RFC3339Nano), drain)
		if x.dry {
			x.emit(Event{Kind: EventGateWaiting, Step: c.step, Message: "a run would wait: " + msg})
			return
		}
		x.emit(Event{Kind: EventGateWaiting, Step: c.step, Message: msg})
		if err := x.sleep(ctx, wait); err != nil {
			c.problem(err, "the drain of the old client certificate %s did not end: the receiver saw it at %s, less than the drain of %s (Executor.Drain) before %s, and the wait was ended: %v; run again to wait for the rest",
				describeCert(old), last.UTC().Format(time.RFC3339Nano), drain, x.now().UTC().Format(time.RFC3339Nano), err)
			return
		}
		if !x.now().After(now) {
			c.problem(nil, "the drain of the old client certificate %s cannot be waited for: the executor's clock (the tenant's Now) did not advance during a wait of %s",
				describeCert(old), wait)
			return
		}
	}
}
