package renewal

import (
	"context"
	"crypto/x509"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"

	"github.com/certroll/certroll/chain"
	"github.com/certroll/certroll/keystore"
)

// What the executor reads back (the journal, the plan it is given, the
// staging store, the receiver's and the runtime's state) is checked
// against what it must match before it is acted on.

// checkPlan refuses a plan that is not what [Build] gives for its own
// sequence and parameters: the destructive markings, the gates and the
// text people follow must come from this package, whatever file the plan
// was read from.
func checkPlan(p *Plan) error {
	q, err := Build(p.Sequence, p.Params)
	if err != nil {
		return err
	}
	const fix = "run the plan that Build returns for the sequence and parameters"
	if !reflect.DeepEqual(q.Params, p.Params) {
		return &PlanError{Field: "Params", Reason: "expected the parameters as Build normalises them, found others: " + fix}
	}
	if len(q.Steps) != len(p.Steps) {
		return &PlanError{Field: "Steps", Reason: fmt.Sprintf("expected the %d steps that Build gives for the %s sequence, found %d: %s", len(q.Steps), p.Sequence, len(p.Steps), fix)}
	}
	for i := range q.Steps {
		want, got := q.Steps[i], p.Steps[i]
		if reflect.DeepEqual(want, got) {
			continue
		}
		field, w, g := stepDiff(want, got)
		return &PlanError{Step: i + 1, Field: field, Reason: fmt.Sprintf("expected %s (as Build gives for these parameters), found %s: %s", w, g, fix)}
	}
	return nil
}

// stepDiff names the first field in which two steps differ.
func stepDiff(want, got Step) (field, w, g string) {
	gate := func(x *Gate) string {
		if x == nil {
			return "no gate"
		}
		return fmt.Sprintf("gate %s %s", x.Kind.String(), x.When)
	}
	switch {
	case want.ID != got.ID:
		return "ID", fmt.Sprintf("%q", want.ID), fmt.Sprintf("%q", got.ID)
	case want.Destructive != got.Destructive:
		return "Destructive", fmt.Sprint(want.Destructive), fmt.Sprint(got.Destructive)
	case (want.Gate == nil) != (got.Gate == nil) || (want.Gate != nil && (want.Gate.Kind != got.Gate.Kind || want.Gate.When != got.Gate.When)):
		return "Gate", gate(want.Gate), gate(got.Gate)
	case want.Role != got.Role:
		return "Role", want.Role.String(), got.Role.String()
	case want.Kind != got.Kind:
		return "Kind", want.Kind.String(), got.Kind.String()
	case want.To != got.To:
		return "To", want.To.String(), got.To.String()
	case want.Title != got.Title:
		return "Title", fmt.Sprintf("%q", want.Title), fmt.Sprintf("%q", got.Title)
	case want.Detail != got.Detail:
		return "Detail", "the builder's text", "other text"
	case !slices.Equal(want.Tasks, got.Tasks):
		return "Tasks", "the builder's sub-tasks", "others"
	}
	return "Gate.Description", "the builder's text", "other text"
}

// checkSteps refuses step records that no run of the executor writes:
// done steps form a prefix, followed by at most one started, failed or
// waiting step, then pending ones; a journal that says done has every step
// done; and only step 1 or the window's step waits, exactly when the run
// does.
func (j *journalFile) checkSteps(plan *Plan) error {
	seenOpen := false // a step that is not done
	for i, r := range j.Steps {
		if r.Destructive != plan.Steps[i].Destructive {
			return &JournalError{Field: fmt.Sprintf("steps[%d].destructive", i), Expected: fmt.Sprint(plan.Steps[i].Destructive), Found: fmt.Sprint(r.Destructive)}
		}
		switch {
		case r.Status == StatusDone && seenOpen:
			return &JournalError{Field: fmt.Sprintf("steps[%d].status", i),
				Expected: fmt.Sprintf("%q (an earlier step is not done)", StatusPending), Found: fmt.Sprintf("%q", r.Status),
				fix: "steps run in order, so a step after one that is not done cannot be done: the journal was edited; restore the journal the executor wrote"}
		case r.Status != StatusDone && r.Status != StatusPending && seenOpen:
			return &JournalError{Field: fmt.Sprintf("steps[%d].status", i),
				Expected: fmt.Sprintf("%q (an earlier step is not done)", StatusPending), Found: fmt.Sprintf("%q", r.Status),
				fix: "steps run in order: the journal was edited; restore the journal the executor wrote"}
		}
		if r.Status != StatusDone {
			seenOpen = true
		}
	}
	if j.State == StatusDone && seenOpen {
		return &JournalError{Field: "state", Expected: fmt.Sprintf("not %q while a step is not done", StatusDone), Found: fmt.Sprintf("%q", j.State)}
	}
	return j.checkWaiting()
}

// checkWaiting refuses a waiting status no run writes: only step
// [StepGenerateKey] (for the CA's reply) and step [StepAgreeWindow] (for
// the window to open) wait, one at a time, and the run is waiting exactly
// when one of them is.
func (j *journalFile) checkWaiting() error {
	var waiting StepID
	for i, r := range j.Steps {
		if r.Status != StatusWaiting {
			continue
		}
		if r.ID != StepGenerateKey && r.ID != StepAgreeWindow {
			return &JournalError{Field: fmt.Sprintf("steps[%d].status", i),
				Expected: fmt.Sprintf("not %q (only step %q waits, for the CA's reply, and step %q, for the window to open)", StatusWaiting, StepGenerateKey, StepAgreeWindow), Found: fmt.Sprintf("%q for step %q", r.Status, r.ID),
				fix: "no run leaves another step waiting: the journal was edited; restore the journal the executor wrote"}
		}
		waiting = r.ID
	}
	switch {
	case j.State == StatusWaiting && waiting == "":
		return &JournalError{Field: "state",
			Expected: fmt.Sprintf("%q only while step %q or %q is %q", StatusWaiting, StepGenerateKey, StepAgreeWindow, StatusWaiting), Found: fmt.Sprintf("%q with no step waiting", j.State),
			fix: "the journal was edited; restore the journal the executor wrote"}
	case j.State != StatusWaiting && waiting != "":
		return &JournalError{Field: "state",
			Expected: fmt.Sprintf("%q while step %q is %q", StatusWaiting, waiting, StatusWaiting), Found: fmt.Sprintf("%q", j.State),
			fix: "the journal was edited; restore the journal the executor wrote"}
	}
	return nil
}

// checkArtifacts checks what the journal recorded from earlier steps
// against the plan and the executor before it is used: every certificate
// against the fingerprint the plan gives for it and the fingerprint the
// journal records, the new certificate's chain up to the new root, the
// history alias and the hand-over files.
func (x *run) checkArtifacts() error {
	p := &x.e.Plan.Params
	a := &x.j.Artifacts
	fp := func(c *x509.Certificate) string { return keystore.CertFingerprint(c).Hex() }
	mismatch := func(field, want, got string) error {
		return &JournalError{Field: field, Expected: want, Found: got}
	}
	cert := func(what string, c *x509.Certificate) string {
		s := fmt.Sprintf("%s (SHA-256 %s)", chain.Name(c), fp(c))
		if what != "" {
			s = what + " " + s
		}
		return s
	}
	if a.OldFingerprint != p.OldFingerprint {
		return mismatch("artifacts.old_fingerprint", "the plan's old certificate SHA-256 "+p.OldFingerprint, fmt.Sprintf("%q", a.OldFingerprint))
	}
	if len(x.oldChain) > 0 && fp(x.oldLeaf()) != p.OldFingerprint {
		return mismatch("artifacts.old_chain_pem", "the plan's old certificate SHA-256 "+p.OldFingerprint, cert("", x.oldLeaf()))
	}
	if a.OldRootFingerprint != "" && a.OldRootFingerprint != p.OldRootFingerprint {
		return mismatch("artifacts.old_root_fingerprint", "the plan's old root SHA-256 "+p.OldRootFingerprint, fmt.Sprintf("%q", a.OldRootFingerprint))
	}
	if a.OldRoot != "" {
		if got := fp(x.oldRoot); got != p.OldRootFingerprint || (a.OldRootFingerprint != "" && got != a.OldRootFingerprint) {
			return mismatch("artifacts.old_root_pem", "the plan's old root SHA-256 "+p.OldRootFingerprint, cert("", x.oldRoot))
		}
		if x.e.OldRoot != nil && !sameCert(x.e.OldRoot, x.oldRoot) {
			return mismatch("artifacts.old_root_pem", cert("Executor.OldRoot", x.e.OldRoot), cert("", x.oldRoot))
		}
	}
	// The old chain's intermediates decide what the end-state check asks
	// the receiver ("does it still accept the old chain?"): one swapped or
	// dropped would make that check pass while the receiver still accepts
	// the real old certificate.
	if len(x.oldChain) > 1 && x.oldRoot != nil {
		if err := chainsTo(x.oldChain, x.oldRoot); err != nil {
			return mismatch("artifacts.old_chain_pem", "a chain up to the plan's old root "+describeCert(x.oldRoot), fmt.Sprintf("%s (%v)", chain.Path(x.oldChain), err))
		}
	}
	if a.NewRootFingerprint != "" && a.NewRootFingerprint != p.NewRootFingerprint {
		return mismatch("artifacts.new_root_fingerprint", "the plan's new root SHA-256 "+p.NewRootFingerprint, fmt.Sprintf("%q", a.NewRootFingerprint))
	}
	if a.NewFingerprint != "" && p.NewFingerprint != "" && a.NewFingerprint != p.NewFingerprint {
		return mismatch("artifacts.new_fingerprint", "the plan's new certificate SHA-256 "+p.NewFingerprint, fmt.Sprintf("%q", a.NewFingerprint))
	}
	gen := x.j.step(StepGenerateKey)
	switch {
	case (a.NewChain == "") != (a.NewRoot == ""):
		return mismatch("artifacts.new_root_pem", "the new chain and the new root together, or neither", fmt.Sprintf("new_chain_pem %s, new_root_pem %s", presence(a.NewChain), presence(a.NewRoot)))
	case a.NewChain == "" && gen != nil && gen.Status == StatusDone:
		return mismatch("artifacts.new_chain_pem", fmt.Sprintf("the new chain (step %q is done)", StepGenerateKey), "none")
	case a.NewChain == "":
		return nil
	}
	if got := fp(x.newRoot); got != p.NewRootFingerprint {
		return mismatch("artifacts.new_root_pem", "the plan's new root SHA-256 "+p.NewRootFingerprint, cert("", x.newRoot))
	}
	if got := fp(x.newLeaf()); got != a.NewFingerprint || (p.NewFingerprint != "" && got != p.NewFingerprint) {
		want := "the new certificate SHA-256 " + a.NewFingerprint + " (artifacts.new_fingerprint)"
		if p.NewFingerprint != "" {
			want = "the plan's new certificate SHA-256 " + p.NewFingerprint
		}
		return mismatch("artifacts.new_chain_pem", want, cert("", x.newLeaf()))
	}
	if err := chainsTo(x.newChain, x.newRoot); err != nil {
		return mismatch("artifacts.new_chain_pem", "a chain up to the plan's new root "+describeCert(x.newRoot), fmt.Sprintf("%s (%v)", chain.Path(x.newChain), err))
	}
	if a.HistoryAlias != "" && a.HistoryAlias != x.e.Tenant.historyAlias(x.oldLeaf()) {
		return mismatch("artifacts.history_alias", fmt.Sprintf("%q", x.e.Tenant.historyAlias(x.oldLeaf())), fmt.Sprintf("%q", a.HistoryAlias))
	}
	if len(a.HandOver) > 0 {
		want := x.handOverPaths()
		if !slices.Equal(a.HandOver, want) {
			return &JournalError{Field: "artifacts.hand_over", Expected: fmt.Sprintf("%q (the files step 1 writes in HandOverDir %q)", want, x.e.HandOverDir), Found: fmt.Sprintf("%q", a.HandOver),
				fix: "give the HandOverDir of the run that wrote the journal, or restore the journal the executor wrote"}
		}
	}
	return nil
}

func presence(s string) string {
	if s == "" {
		return "absent"
	}
	return "present"
}

// chainsTo checks that each certificate of certs, leaf first, is signed
// by the next one, and the last by root (or is root).
func chainsTo(certs []*x509.Certificate, root *x509.Certificate) error {
	if root == nil {
		return fmt.Errorf("no root")
	}
	for i, c := range certs {
		if sameCert(c, root) {
			return nil
		}
		parent := root
		if i+1 < len(certs) {
			parent = certs[i+1]
		}
		if err := c.CheckSignatureFrom(parent); err != nil {
			return fmt.Errorf("%s is not signed by %s: %w", chain.Name(c), chain.Name(parent), err)
		}
	}
	return nil
}

// handOverPaths are the files step 1 writes in HandOverDir.
func (x *run) handOverPaths() []string {
	if x.e.HandOverDir == "" || x.newLeaf() == nil || x.newRoot == nil {
		return nil
	}
	fp := keystore.CertFingerprint(x.newLeaf()).Hex()
	rootFP := keystore.CertFingerprint(x.newRoot).Hex()
	return []string{
		filepath.Join(x.e.HandOverDir, fmt.Sprintf("%s-new-client-%s.pem", fileSafe(x.e.Tenant.Alias), fp[:12])),
		filepath.Join(x.e.HandOverDir, fmt.Sprintf("new-root-%s.pem", rootFP[:12])),
	}
}

// verifyEnd checks the state a finished renewal leaves, whatever the
// journal says: the live alias holds the new certificate, every node
// presents it, the receiver accepts the new chain, and it neither accepts
// the old certificate nor trusts the old root. A receiver that implements
// [Prober] is asked by handshakes too: the new chain must get in, the old
// one must not.
func (x *run) verifyEnd(ctx context.Context) error {
	e := &EndStateError{journal: x.e.Journal}
	diff := func(what string, step StepID, want, got string) {
		e.Differences = append(e.Differences, EndStateDifference{What: what, Step: step, Expected: want, Found: got})
	}
	if x.newLeaf() == nil {
		diff("the journal's new certificate", StepGenerateKey, "the new certificate of step 1", "none")
		return e
	}
	newCert := "the new certificate " + describeCert(x.newLeaf())
	t := x.e.Tenant
	live := fmt.Sprintf("live keystore %s alias %q", t.Keystore, t.Alias)
	if c, err := t.LiveChain(); err != nil {
		e.errs = append(e.errs, err)
		diff(live, StepSwapEntry, newCert, fmt.Sprintf("an error: %v", err))
	} else if !sameCert(c[0], x.newLeaf()) {
		diff(live, StepSwapEntry, newCert, describeCert(c[0]))
	}

	nodes, err := x.e.Runtime.Nodes(ctx)
	if err != nil {
		e.errs = append(e.errs, err)
		diff("the runtime's nodes", StepRestartNodes, "the list of nodes", fmt.Sprintf("an error: %v", err))
	}
	for _, n := range x.e.Plan.Params.Nodes {
		if err == nil && !slices.Contains(nodes, n) {
			diff(fmt.Sprintf("node %q", n), StepRestartNodes, "a node of the runtime (the plan names it)", "no such node")
		}
	}
	for _, n := range nodes {
		c, err := x.e.Runtime.Presents(ctx, n)
		switch {
		case err != nil:
			e.errs = append(e.errs, err)
			diff(fmt.Sprintf("node %q", n), StepRestartNodes, newCert, fmt.Sprintf("an error: %v", err))
		case !sameCert(c, x.newLeaf()):
			what := describeCert(c)
			if c == nil {
				what = "no certificate (the flow is stopped)"
			} else if sameCert(c, x.oldLeaf()) {
				what = "the old certificate " + what
			}
			diff(fmt.Sprintf("node %q", n), StepRestartNodes, newCert, what)
		}
	}

	configure := StepReceiverAcceptBoth
	if x.e.Plan.Sequence == SequenceDowntime {
		configure = StepReceiverSwap
	}
	if err := x.e.Receiver.Accepts(ctx, x.newChain); err != nil {
		e.errs = append(e.errs, err)
		diff("the receiver", configure, "it accepts the new chain "+chain.Path(x.newChain), fmt.Sprintf("it refuses it: %v", err))
	} else if err := x.probe(ctx, x.newChain); err != nil {
		e.errs = append(e.errs, err)
		diff("the receiver", configure, "a handshake presenting the new chain "+chain.Path(x.newChain)+" succeeds", fmt.Sprintf("it fails: %v", err))
	}
	if err := x.e.Receiver.Accepts(ctx, x.oldChain); err == nil {
		diff("the receiver", StepRemoveOld, "it refuses the old chain "+chain.Path(x.oldChain), "it accepts it")
	} else if accepted, err := x.refusesInHandshake(ctx, x.oldChain); err != nil {
		// The files say no; the running server is asked too.
		e.errs = append(e.errs, err)
		found := "the receiver still accepts the old certificate in a handshake"
		if !accepted {
			found = fmt.Sprintf("an error: %v", err)
		}
		diff("the receiver", StepRemoveOld, "a handshake presenting the old chain "+chain.Path(x.oldChain)+" fails", found)
	}
	if insp, ok := x.e.Receiver.(ReceiverInspector); ok {
		if roots, err := insp.Roots(); err != nil {
			e.errs = append(e.errs, err)
			diff("the receiver's roots", StepRemoveOld, "the list of roots", fmt.Sprintf("an error: %v", err))
		} else if x.oldRoot != nil && contains(roots, x.oldRoot) {
			diff("the receiver's roots", StepRemoveOld, "no old root", "the old root "+describeCert(x.oldRoot))
		}
		if acc, err := insp.AcceptedClients(); err != nil {
			e.errs = append(e.errs, err)
			diff("the receiver's client certificates", StepRemoveOld, "the list of client certificates", fmt.Sprintf("an error: %v", err))
		} else if contains(acc, x.oldLeaf()) {
			diff("the receiver's client certificates", StepRemoveOld, "no old client certificate", "the old certificate "+describeCert(x.oldLeaf()))
		}
	}
	if len(e.Differences) > 0 {
		return e
	}
	return nil
}
