package renewal

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/certroll/certroll/chain"
	"github.com/certroll/certroll/keystore"
)

// The executor's actions, one per StepID. Each returns a note saying what
// it did, whether it found nothing to do (skipped), and an error. Each
// checks the state first, so that running it again after an interruption
// does only what is left.

// generateKey stages a new key, has the CA sign a renewal request for it,
// and installs the reply onto the staged entry.
func (x *run) generateKey(ctx context.Context, s Step) (string, bool, error) {
	t := x.e.Tenant
	a := &x.j.Artifacts
	if a.StagedKey != "" && a.NewChain == "" {
		// A request went to the CA: only its key can take the reply.
		if err := x.checkStagedKey(); err != nil {
			return "", false, err
		}
	}
	p, err := t.Stage(x.oldLeaf())
	if err != nil {
		return "", false, err
	}
	// Recorded whether this call or an interrupted earlier one wrote it.
	x.wrote(t.stagingPath())
	want := x.e.Plan.Params.NewRootFingerprint
	skipped := p.Signed
	var note string
	if p.Signed {
		x.newChain = p.Chain
		note = fmt.Sprintf("the staging store already holds the signed new certificate %s", describeCert(p.Chain[0]))
	} else {
		reply, err := x.e.CA.Sign(ctx, p.CSRPEM)
		if errors.Is(err, ErrAwaitingReply) {
			// Recorded, so that a run resumed after the staging store
			// was lost does not make a second key unnoticed.
			a.StagedKey = keystore.KeyFingerprint(p.Key.Public()).Hex()
			var w *AwaitingReplyError
			if errors.As(err, &w) {
				a.Request = w.Request
			}
			return "", false, err
		}
		if err != nil {
			// Not "did not sign": a CA may have answered with a reply that
			// cannot be used, which its error says.
			return "", false, fmt.Errorf("renewal: getting the request signed by the CA: %w", err)
		}
		if len(reply) == 0 {
			return "", false, fmt.Errorf("renewal: the CA returned no certificate: %w", ErrUnexpectedState)
		}
		root := byFingerprint(reply, paramFingerprint(want))
		if root == nil {
			return "", false, fmt.Errorf("renewal: the CA's chain %s does not contain the plan's new root (SHA-256 %s); the request was signed by another CA than planned: %w",
				chain.Path(reply), want, ErrUnexpectedState)
		}
		res, err := t.Install(reply, root)
		if err != nil {
			return "", false, err
		}
		x.newChain = res.Chain
		note = fmt.Sprintf("new %s key signed by %s: %s", keystore.KeyDescription(p.Key.Public()), describeCert(root), describeCert(res.Chain[0]))
	}
	x.newRoot = byFingerprint(x.newChain, paramFingerprint(want))
	if x.newRoot == nil {
		return "", false, fmt.Errorf("renewal: the new chain %s does not reach the plan's new root (SHA-256 %s): %w", chain.Path(x.newChain), want, ErrUnexpectedState)
	}
	// The staging store is read back: its chain must be signed up to the
	// root, not merely contain it.
	if err := chainsTo(x.newChain, x.newRoot); err != nil {
		return "", false, fmt.Errorf("renewal: the new chain %s in %s does not chain to the plan's new root %s: %v: %w",
			chain.Path(x.newChain), t.stagingPath(), describeCert(x.newRoot), err, ErrUnexpectedState)
	}
	fp := keystore.CertFingerprint(x.newLeaf())
	if w := x.e.Plan.Params.NewFingerprint; w != "" && paramFingerprint(w) != fp {
		return "", false, fmt.Errorf("renewal: the new certificate is SHA-256 %s, but the plan expects %s: %w", fp.Hex(), w, ErrUnexpectedState)
	}
	a.NewChain, a.NewFingerprint = encodeChain(x.newChain), fp.Hex()
	a.NewRoot, a.NewRootFingerprint = encodeChain([]*x509.Certificate{x.newRoot}), want
	x.rebuildPlan()
	if x.e.HandOverDir != "" {
		files, err := x.writeHandOver()
		if err != nil {
			return "", false, err
		}
		a.HandOver = files
		x.wrote(files...)
	}
	return note, skipped, nil
}

// checkStagedKey refuses a staging store that no longer holds the key
// of the request a waiting step 1 sent (the journal's StagedKey): Stage
// would make a second key, and the CA's reply to the first request could
// never be installed.
func (x *run) checkStagedKey() error {
	t := x.e.Tenant
	a := &x.j.Artifacts
	p, err := t.Pending()
	if err != nil {
		return err
	}
	found := "no pending key (the staging store or its entry is gone)"
	if p != nil {
		got := keystore.KeyFingerprint(p.Key.Public()).Hex()
		if got == a.StagedKey {
			return nil
		}
		found = fmt.Sprintf("another key, SHA-256 %s", got)
	}
	request := "an earlier run's request"
	if a.Request != "" {
		request = fmt.Sprintf("the request %q", a.Request)
	}
	return fmt.Errorf("renewal: step %q waits for the CA's reply to %s, made for the staged key SHA-256 %s, but the staging store %s holds %s: "+
		"a new key would not match that reply; restore the staging store from a backup and run again, or, to start over with a new key, remove the journal %s and tell the CA to ignore %s: %w",
		StepGenerateKey, request, a.StagedKey, t.stagingPath(), found, x.e.Journal, request, ErrUnexpectedState)
}

// writeHandOver writes the new certificate (with its intermediates) and
// the new root as PEM files for the receiver administrator.
func (x *run) writeHandOver() ([]string, error) {
	var below []*x509.Certificate
	for _, c := range x.newChain {
		if !sameCert(c, x.newRoot) {
			below = append(below, c)
		}
	}
	fp := keystore.CertFingerprint(x.newLeaf()).Hex()
	rootFP := keystore.CertFingerprint(x.newRoot).Hex()
	files := []struct {
		name  string
		certs []*x509.Certificate
	}{
		{fmt.Sprintf("%s-new-client-%s.pem", fileSafe(x.e.Tenant.Alias), fp[:12]), below},
		{fmt.Sprintf("new-root-%s.pem", rootFP[:12]), []*x509.Certificate{x.newRoot}},
	}
	var out []string
	for _, f := range files {
		path := filepath.Join(x.e.HandOverDir, f.name)
		// Certificates only: no secret, readable by whoever the hand-over
		// directory lets in.
		if err := writeFileAtomic(path, []byte(encodeChain(f.certs)), 0o644); err != nil {
			return nil, err
		}
		out = append(out, path)
	}
	return out, nil
}

// fileSafe keeps letters, digits, '-', '_' and '.' of an alias for a file
// name, replacing the rest by '_'.
func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, s)
}

// handOffMessage is what a hand-off tells its role: the step's title and
// detail (which carry the fingerprints once step 1 is done), and the
// hand-over files.
func (x *run) handOffMessage(s Step) string {
	msg := s.Title + ". " + s.Detail
	if s.ID == StepHandOverCertificate && x.j != nil && len(x.j.Artifacts.HandOver) > 0 {
		msg += " Files: " + strings.Join(x.j.Artifacts.HandOver, ", ") + "."
	}
	return msg
}

// handOff delivers a hand-off through the notifier and waits for the
// confirmation if Waits says so.
func (x *run) handOff(ctx context.Context, s Step) (string, bool, error) {
	wait := x.e.Waits[s.ID]
	if err := x.e.Notifier.HandOff(ctx, s, x.handOffMessage(s), wait); err != nil {
		return "", false, fmt.Errorf("renewal: hand-off to %s: %w", s.To, err)
	}
	if wait > 0 {
		return fmt.Sprintf("delivered to %s and confirmed", s.To), false, nil
	}
	return fmt.Sprintf("delivered to %s", s.To), false, nil
}

// agreeWindow asks for the window's agreement. While the window has not
// opened, the step waits (a *windowAheadError): the run stops, and a later
// run, which does not ask again, goes on once it is open.
func (x *run) agreeWindow(ctx context.Context, s Step) (string, bool, error) {
	if !x.told {
		if _, _, err := x.handOff(ctx, s); err != nil {
			return "", false, err
		}
	}
	w := x.e.Plan.Params.Window
	now := x.now()
	if err := x.checkWindow(now); err != nil {
		return "", false, err
	}
	if !w.Start.IsZero() && now.Before(w.Start) {
		return "", false, &windowAheadError{window: w}
	}
	return "window agreed and open: " + w.String(), false, nil
}

// checkWindow refuses a time after the window's end.
func (x *run) checkWindow(now time.Time) error {
	w := x.e.Plan.Params.Window
	if !w.End.IsZero() && !now.Before(w.End) {
		return fmt.Errorf("%w: the window %s ended before %s: agree a new window and rebuild the plan",
			ErrOutsideWindow, w, now.UTC().Format(time.RFC3339))
	}
	return nil
}

// receiverState returns what the receiver trusts and accepts, or ok false
// if it cannot say.
func (x *run) receiverState() (roots, accepted []*x509.Certificate, ok bool, err error) {
	insp, ok := x.e.Receiver.(ReceiverInspector)
	if !ok {
		return nil, nil, false, nil
	}
	if roots, err = insp.Roots(); err != nil {
		return nil, nil, true, fmt.Errorf("renewal: reading the receiver's roots: %w", err)
	}
	if accepted, err = insp.AcceptedClients(); err != nil {
		return nil, nil, true, fmt.Errorf("renewal: reading the receiver's accepted client certificates: %w", err)
	}
	return roots, accepted, true, nil
}

func contains(certs []*x509.Certificate, c *x509.Certificate) bool {
	for _, d := range certs {
		if sameCert(c, d) {
			return true
		}
	}
	return false
}

// receiverCall is one configuration change of a receiver step.
type receiverCall struct {
	what string
	// needed says, from what the receiver's inspector reports, whether
	// the call is still to be made; it is asked only when the receiver has
	// an inspector.
	needed func(ctx context.Context, roots, accepted []*x509.Certificate) bool
	do     func(ctx context.Context) error
}

// receiverCalls makes the calls still needed, in order. A step resumed
// from a started or failed record makes every call: the inspector reads
// the receiver's files, which an interrupted call may have written before
// the server was reloaded (or not at all, if the files are another's), so
// its word is not enough to skip a call; the calls are idempotent.
func (x *run) receiverCalls(ctx context.Context, calls []receiverCall) (string, bool, error) {
	roots, accepted, known, err := x.receiverState()
	if err != nil {
		return "", false, err
	}
	var done []string
	for _, c := range calls {
		if known && !x.resumed && !c.needed(ctx, roots, accepted) {
			continue
		}
		if err := c.do(ctx); err != nil {
			return "", false, fmt.Errorf("renewal: receiver: %s: %w", c.what, err)
		}
		done = append(done, c.what)
	}
	if len(done) == 0 {
		return "the receiver's configuration already is what the step makes it", true, nil
	}
	return "receiver: " + strings.Join(done, "; "), false, nil
}

func (x *run) trustNewRoot() receiverCall {
	return receiverCall{
		what:   "trusted the new root " + describeCert(x.newRoot),
		needed: func(_ context.Context, roots, _ []*x509.Certificate) bool { return !contains(roots, x.newRoot) },
		do:     func(ctx context.Context) error { return x.e.Receiver.TrustRoot(ctx, x.newRoot) },
	}
}

func (x *run) acceptNew() receiverCall {
	return receiverCall{
		what:   "accepted the new client certificate " + describeCert(x.newLeaf()),
		needed: func(_ context.Context, _, accepted []*x509.Certificate) bool { return !contains(accepted, x.newLeaf()) },
		do:     func(ctx context.Context) error { return x.e.Receiver.AcceptClient(ctx, x.newChain) },
	}
}

// removeOldClient removes the old client certificate. removedBefore says
// that an earlier step of the renewal removed it already (the downtime
// swap), so that the inspector's answer is enough.
func (x *run) removeOldClient(removedBefore bool) receiverCall {
	return receiverCall{
		what: "removed the old client certificate " + describeCert(x.oldLeaf()),
		needed: func(ctx context.Context, _, accepted []*x509.Certificate) bool {
			if contains(accepted, x.oldLeaf()) {
				return true
			}
			if removedBefore {
				return false
			}
			// An inspector lists only the certificates it can name: a pin
			// a person wrote (a fingerprint without the certificate) is
			// missing from the list of a receiver that has not been handed
			// the old certificate, as in a new process. Its absence there
			// is not trusted while the receiver's files still accept the
			// old chain: RemoveClient removes by fingerprint, and removing
			// one it does not hold changes nothing.
			return len(x.oldChain) > 0 && x.e.Receiver.Accepts(ctx, x.oldChain) == nil
		},
		do: func(ctx context.Context) error { return x.e.Receiver.RemoveClient(ctx, x.oldLeaf()) },
	}
}

func (x *run) needNew() error {
	if x.newLeaf() == nil || x.newRoot == nil {
		return fmt.Errorf("renewal: the new certificate is not known: step %q must run first: %w", StepGenerateKey, ErrUnexpectedState)
	}
	return nil
}

// receiverAcceptBoth: overlap step 3.
func (x *run) receiverAcceptBoth(ctx context.Context, s Step) (string, bool, error) {
	if err := x.needNew(); err != nil {
		return "", false, err
	}
	return x.receiverCalls(ctx, []receiverCall{x.trustNewRoot(), x.acceptNew()})
}

// receiverSwap: downtime step 8. The old certificate goes before the new
// one comes, for a receiver that holds one at a time.
func (x *run) receiverSwap(ctx context.Context, s Step) (string, bool, error) {
	if err := x.needNew(); err != nil {
		return "", false, err
	}
	return x.receiverCalls(ctx, []receiverCall{x.trustNewRoot(), x.removeOldClient(false), x.acceptNew()})
}

// removeOld: overlap step 9, downtime step 12. A receiver that
// implements [Prober] is then asked by a handshake presenting the old
// chain, which must fail: its files can say the old certificate and root
// are gone while the running server still lets the old certificate in.
func (x *run) removeOld(ctx context.Context, s Step) (string, bool, error) {
	if x.oldRoot == nil {
		return "", false, fmt.Errorf("renewal: the old root is not known; give it in Executor.OldRoot: %w", ErrUnexpectedState)
	}
	note, skipped, err := x.removeOldCalls(ctx)
	if err != nil {
		return "", false, err
	}
	if _, err := x.refusesInHandshake(ctx, x.oldChain); err != nil {
		return "", false, fmt.Errorf("renewal: after removing the old client certificate and root: %w", err)
	}
	return note, skipped, nil
}

func (x *run) removeOldCalls(ctx context.Context) (string, bool, error) {
	return x.receiverCalls(ctx, []receiverCall{
		// In the downtime sequence the swap (step 8) removed it, asking
		// the receiver's files.
		x.removeOldClient(x.done(StepReceiverSwap)),
		{
			what:   "removed the old root " + describeCert(x.oldRoot),
			needed: func(_ context.Context, roots, _ []*x509.Certificate) bool { return contains(roots, x.oldRoot) },
			do:     func(ctx context.Context) error { return x.e.Receiver.RemoveRoot(ctx, x.oldRoot) },
		},
	})
}

// swapEntry: overlap step 5, downtime step 6.
func (x *run) swapEntry(ctx context.Context, s Step) (string, bool, error) {
	if err := x.needNew(); err != nil {
		return "", false, err
	}
	t := x.e.Tenant
	a, err := t.Activate(x.oldLeaf(), x.newLeaf())
	if err != nil {
		return "", false, err
	}
	// Recorded even when an interrupted earlier call wrote them.
	x.wrote(t.historyPath(), t.Keystore)
	x.wrote(a.Files...)
	x.j.Artifacts.HistoryAlias = a.HistoryAlias
	if a.already {
		return fmt.Sprintf("alias %q already holds the new certificate %s", a.alias, describeCert(x.newLeaf())), true, nil
	}
	return fmt.Sprintf("alias %q now holds %s; the old entry %s is kept in %s as %q",
		a.alias, describeCert(x.newLeaf()), describeCert(x.oldLeaf()), x.e.Tenant.historyPath(), a.HistoryAlias), false, nil
}

// restartNodes: overlap step 7, downtime step 11. A node presenting the
// new certificate already is left alone; a stopped node is started, a
// running one restarted.
func (x *run) restartNodes(ctx context.Context, s Step) (string, bool, error) {
	if err := x.needNew(); err != nil {
		return "", false, err
	}
	nodes, err := x.e.Runtime.Nodes(ctx)
	if err != nil {
		return "", false, fmt.Errorf("renewal: listing the runtime's nodes: %w", err)
	}
	var restarted, started []string
	var errs []error
	for _, n := range nodes {
		c, err := x.e.Runtime.Presents(ctx, n)
		if err != nil {
			errs = append(errs, fmt.Errorf("renewal: node %q: %w", n, err))
			continue
		}
		switch {
		case sameCert(c, x.newLeaf()):
			continue
		case c == nil:
			err = x.e.Runtime.Start(ctx, n)
			started = append(started, n)
		default:
			err = x.e.Runtime.Restart(ctx, n)
			restarted = append(restarted, n)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("renewal: node %q: %w", n, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return "", false, err
	}
	if len(restarted)+len(started) == 0 {
		return "every node already presents the new certificate", true, nil
	}
	var parts []string
	if len(restarted) > 0 {
		parts = append(parts, "restarted "+strings.Join(restarted, ", "))
	}
	if len(started) > 0 {
		parts = append(parts, "started "+strings.Join(started, ", "))
	}
	return strings.Join(parts, "; "), false, nil
}

// stopFlow: downtime step 4. Stopped nodes (presenting nothing) are left
// alone.
func (x *run) stopFlow(ctx context.Context, s Step) (string, bool, error) {
	if err := x.checkWindow(x.now()); err != nil {
		return "", false, err
	}
	nodes, err := x.e.Runtime.Nodes(ctx)
	if err != nil {
		return "", false, fmt.Errorf("renewal: listing the runtime's nodes: %w", err)
	}
	var stopped []string
	for _, n := range nodes {
		c, err := x.e.Runtime.Presents(ctx, n)
		if err != nil {
			return "", false, fmt.Errorf("renewal: node %q: %w", n, err)
		}
		if c == nil {
			continue
		}
		if err := x.e.Runtime.Stop(ctx, n); err != nil {
			return "", false, fmt.Errorf("renewal: stopping node %q: %w", n, err)
		}
		stopped = append(stopped, n)
	}
	if len(stopped) == 0 {
		return "every node is already stopped", true, nil
	}
	return "stopped " + strings.Join(stopped, ", "), false, nil
}
