package temporal

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/certroll/certroll/chain"
	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal"
	"github.com/certroll/certroll/truststore"
)

// gateCheck collects what a gate found.
type gateCheck struct{ r GateResult }

func (g *gateCheck) problem(format string, args ...any) {
	g.r.Problems = append(g.r.Problems, fmt.Sprintf(format, args...))
}

func (g *gateCheck) straggler(n string) {
	if !slices.Contains(g.r.Stragglers, n) {
		g.r.Stragglers = append(g.r.Stragglers, n)
	}
}

// CheckGate evaluates the gate of in.Step, as the executor's gate of the
// same kind does, and changes nothing. A gate that does not hold is a
// result with Passed false and the problems, not an error: the workflow
// stops before the step. A result with DrainUntil set holds but for the
// drain. An error means the check could not be made and is retried.
//
// A [renewal.Prober] receiver is asked by a handshake, with the chain's
// key from the tenant's stores ([Stores.KeyFor]; a key they cannot give
// is a problem of the gate, not a pass). What it does not check that the executor does:
// chains declared in use outside the live keystore (the executor's
// InUse).
func (a *Activities) CheckGate(ctx context.Context, in StepInput) (GateResult, error) {
	defer keepAlive(ctx, nil)()
	l, err := a.resolve(in.Adapters)
	if err != nil {
		return GateResult{}, err
	}
	g := in.Step.Gate
	if g == nil {
		return GateResult{}, classify(fmt.Errorf("renewal/temporal: step %d (%s) has no gate: %w", in.Step.Number, in.Step.ID, renewal.ErrInvalidPlan))
	}
	c := &gateCheck{r: GateResult{Kind: g.Kind, When: g.When}}
	old, err := decodeChain(in.Artifacts.OldChain, "old chain")
	if err != nil {
		return GateResult{}, classify(err)
	}
	next, _ := decodeChain(in.Artifacts.NewChain, "new chain") // nil before step 1
	switch g.Kind {
	case renewal.GateReceiverAcceptsBoth:
		accepts(ctx, l, c, "old", old)
		accepts(ctx, l, c, "new", next)
	case renewal.GateReceiverAcceptsNew:
		accepts(ctx, l, c, "new", next)
	case renewal.GateNodesPresentNew:
		if next == nil {
			c.problem("the new certificate is not known: step %q has not run", renewal.StepGenerateKey)
			break
		}
		names, certs := nodeCerts(ctx, l.runtime, in.Plan.Params.Nodes, c)
		for i, n := range names {
			switch p := certs[i]; {
			case sameCert(p, next[0]):
			case p == nil:
				c.straggler(n)
				c.problem("node %q presents no certificate (its flow is stopped), expected the new certificate %s", n, describe(next[0]))
			default:
				c.straggler(n)
				c.problem("node %q presents %s, expected the new certificate %s: restart the flow there", n, describe(p), describe(next[0]))
			}
		}
	case renewal.GateOldRootUnused:
		names, certs := nodeCerts(ctx, l.runtime, in.Plan.Params.Nodes, c)
		for i, n := range names {
			if sameCert(certs[i], old[0]) {
				c.straggler(n)
				c.problem("node %q still presents the old certificate %s: restart the flow there before the old certificate and root go", n, describe(old[0]))
			}
		}
		oldRootUnused(l.stores, in.Artifacts.OldRoot, c)
		// A zero drain is no quiet period: nothing to ask the receiver
		// (the executor asks whether it saw the old certificate after
		// "now", which only a clock skew between it and the worker makes
		// true).
		if obs, ok := l.receiver.(renewal.UsageObserver); ok && len(c.r.Problems) == 0 && in.Drain > 0 {
			last, err := obs.LastSeen(ctx, old[0])
			switch {
			case err != nil:
				c.problem("cannot tell when the receiver last saw the old client certificate %s: %v", describe(old[0]), err)
			case !last.IsZero() && in.Now.Sub(last) < in.Drain:
				c.r.DrainUntil = last.Add(in.Drain).UTC()
			}
		}
	default:
		c.problem("this worker has no check for gate kind %q", g.Kind)
	}
	c.r.Passed = len(c.r.Problems) == 0 && c.r.DrainUntil.IsZero()
	return c.r, nil
}

func accepts(ctx context.Context, l *landscape, c *gateCheck, which string, certs []*x509.Certificate) {
	if len(certs) == 0 {
		c.problem("the %s chain is not known: step %q has not run", which, renewal.StepGenerateKey)
		return
	}
	if err := l.receiver.Accepts(ctx, certs); err != nil {
		c.problem("the receiver refuses the %s chain %s (client certificate SHA-256 %s): %v",
			which, chain.Path(certs), keystore.CertFingerprint(certs[0]).Hex(), err)
		return
	}
	// The files say yes; a receiver that can be reached is asked by a
	// handshake, which is the verdict.
	if err := probeAccepts(ctx, l, certs); err != nil {
		c.problem("the receiver's configuration accepts the %s chain %s (client certificate SHA-256 %s), but a handshake presenting it fails: %v",
			which, chain.Path(certs), keystore.CertFingerprint(certs[0]).Hex(), err)
	}
}

// nodeCerts returns what each node presents; a node the plan names that
// the runtime does not list is a problem.
func nodeCerts(ctx context.Context, rt renewal.Runtime, planned []string, c *gateCheck) ([]string, []*x509.Certificate) {
	nodes, err := rt.Nodes(ctx)
	if err != nil {
		c.problem("cannot list the runtime's nodes: %v", err)
		return nil, nil
	}
	for _, want := range planned {
		if !slices.Contains(nodes, want) {
			c.straggler(want)
			c.problem("node %q, named in the plan, is not among the runtime's nodes (%s)", want, strings.Join(nodes, ", "))
		}
	}
	var names []string
	var certs []*x509.Certificate
	for _, n := range nodes {
		p, err := rt.Presents(ctx, n)
		if err != nil {
			c.straggler(n)
			c.problem("cannot tell what node %q presents: %v", n, err)
			continue
		}
		names, certs = append(names, n), append(certs, p)
	}
	return names, certs
}

// VerifyEnd checks the end state before the workflow reports the renewal
// done, whatever its history says: the live alias holds the new
// certificate, every node presents it, the receiver accepts the new chain
// and neither accepts the old certificate nor (when it can say) trusts
// the old root or lists the old certificate; lists it cannot read are
// differences, as the executor's end check reports them. It returns the differences, one line each; none means
// the end state holds.
func (a *Activities) VerifyEnd(ctx context.Context, in StepInput) ([]string, error) {
	defer keepAlive(ctx, nil)()
	l, c, err := a.stepSetup(in, true)
	if err != nil {
		return nil, err
	}
	var diffs []string
	live, err := l.stores.LiveChain()
	switch {
	case err != nil:
		diffs = append(diffs, fmt.Sprintf("the live keystore cannot be read: %v", err))
	case !sameCert(live[0], c.newLeaf()):
		diffs = append(diffs, fmt.Sprintf("the live alias %q holds %s, not the new certificate %s", in.Plan.Params.Alias, describe(live[0]), describe(c.newLeaf())))
	}
	g := &gateCheck{}
	names, certs := nodeCerts(ctx, l.runtime, in.Plan.Params.Nodes, g)
	for i, n := range names {
		if !sameCert(certs[i], c.newLeaf()) {
			diffs = append(diffs, fmt.Sprintf("node %q presents %s, not the new certificate", n, describe(certs[i])))
		}
	}
	diffs = append(diffs, g.r.Problems...)
	if err := l.receiver.Accepts(ctx, c.next); err != nil {
		diffs = append(diffs, fmt.Sprintf("the receiver refuses the new chain %s: %v", chain.Path(c.next), err))
	} else if err := probeAccepts(ctx, l, c.next); err != nil {
		diffs = append(diffs, fmt.Sprintf("a handshake presenting the new chain %s fails: %v", chain.Path(c.next), err))
	}
	if err := probeRefuses(ctx, l, c.old); err != nil {
		diffs = append(diffs, err.Error())
	}
	if l.receiver.Accepts(ctx, c.old) == nil {
		diffs = append(diffs, fmt.Sprintf("the receiver still accepts the old chain %s", chain.Path(c.old)))
	}
	// As the executor's end check: what the receiver's files say, when it
	// can say; a list that cannot be read is a difference, not a pass.
	if insp, ok := l.receiver.(renewal.ReceiverInspector); ok {
		if roots, err := insp.Roots(); err != nil {
			diffs = append(diffs, fmt.Sprintf("the receiver's roots cannot be read: %v", err))
		} else if c.oldRoot != nil && contains(roots, c.oldRoot) {
			diffs = append(diffs, "the receiver still trusts the old root "+describe(c.oldRoot))
		}
		if acc, err := insp.AcceptedClients(); err != nil {
			diffs = append(diffs, fmt.Sprintf("the receiver's accepted client certificates cannot be read: %v", err))
		} else if contains(acc, c.oldLeaf()) {
			diffs = append(diffs, "the receiver still lists the old client certificate "+describe(c.oldLeaf()))
		}
	}
	return diffs, nil
}

// oldRootUnused refuses while a key entry of the live keystore chains to
// the old root, with the truststore package's check, as the executor's
// gate does (after the swap the live alias holds the new chain, so only
// other entries can still need the old root).
func oldRootUnused(s Stores, oldRootPEM string, c *gateCheck) {
	if oldRootPEM == "" {
		c.problem("the old root is not known, so what chains to it cannot be checked")
		return
	}
	root, err := decodeChain(oldRootPEM, "old root")
	if err != nil {
		c.problem("%v", err)
		return
	}
	deps, err := s.ChainsInUse()
	if err != nil {
		c.problem("cannot read the chains in use in the live keystore: %v", err)
		return
	}
	set := truststore.New(truststore.PEMBundle)
	if _, err := set.Merge(truststore.Certs(root[0]), &truststore.MergeOptions{IncludeNonCA: true}); err != nil {
		c.problem("cannot check the old root: %v", err)
		return
	}
	rep, err := set.Prune(truststore.ByFingerprint(keystore.CertFingerprint(root[0])), &truststore.PruneOptions{InUse: deps, NothingInUse: len(deps) == 0})
	switch {
	case errors.Is(err, truststore.ErrInUse):
		for _, ch := range rep.Refused {
			for _, d := range ch.Dependents {
				c.problem("%s chains to the old root %s, which must stay while it is in use", d, describe(root[0]))
			}
		}
	case err != nil:
		c.problem("cannot check the old root: %v", err)
	}
}

// maxDrainWaits bounds the drain, in drain periods, as the executor's:
// a certificate still seen after ten is in use by a client.
const maxDrainWaits = 10
