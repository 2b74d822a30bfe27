package temporal

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	sdktemporal "go.temporal.io/sdk/temporal"

	"github.com/certroll/certroll/chain"
	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal"
	"github.com/certroll/certroll/truststore"
)

// Stores is the tenant side of a renewal as the activities use it:
// [TenantStores] makes one of a [*renewal.Tenant], and a test can wrap
// one to count calls.
type Stores interface {
	LiveChain() ([]*x509.Certificate, error)
	Stage(current *x509.Certificate) (*renewal.Pending, error)
	Install(reply []*x509.Certificate, anchors ...*x509.Certificate) (*keystore.ReplyResult, error)
	Pending() (*renewal.Pending, error)
	Activate(old, next *x509.Certificate) (*renewal.Activation, error)
	// KeyFor returns the private key of the client certificate leaf,
	// wherever the tenant's stores hold it (staged, live, or in the
	// history): a [renewal.Prober] receiver's handshakes present it. An
	// error is a gate problem when the receiver can be probed, never a
	// pass.
	KeyFor(leaf *x509.Certificate) (crypto.Signer, error)
	// ChainsInUse returns the chains of the live keystore's key entries:
	// the gate before the old root goes refuses while one chains to it.
	ChainsInUse() ([]truststore.Dependent, error)
}

// TenantStores returns the [Stores] of a tenant's keystores.
func TenantStores(t *renewal.Tenant) Stores { return tenantStores{t} }

// tenantStores adds the key lookup and the chains in use to a
// [*renewal.Tenant].
type tenantStores struct{ *renewal.Tenant }

func (t tenantStores) ChainsInUse() ([]truststore.Dependent, error) {
	return truststore.OpenDependents(t.Keystore, t.Password)
}

// Activities are the steps, gates and checks of a renewal, run by a
// worker against the adapters it holds by name: the same [renewal.CA],
// [renewal.Receiver], [renewal.Runtime] and [renewal.Notifier] an
// executor runs against. Register a pointer to it with the worker
// (w.RegisterActivity(acts)); the activity names are the method names.
//
// The maps are read, never written, by the activities: fill them before
// the worker starts. Passwords stay in the worker's Stores
// ([TenantStores]), never in a workflow's input or history.
//
// The destructive activities record each change they made in a
// heartbeat; an attempt retried after a worker died asks the state
// before it swaps the key or changes a node, and makes again the receiver
// changes no heartbeat recorded (the calls are idempotent, and the next
// one reloads a receiver whose files were written): see the package doc.
//
// Activities holds a lock per renewal: use it by pointer, never copy it.
type Activities struct {
	Tenants   map[string]Stores
	CAs       map[string]renewal.CA
	Receivers map[string]renewal.Receiver
	Runtimes  map[string]renewal.Runtime
	Notifiers map[string]renewal.Notifier

	// hook, if not nil, is called at the points where the crash tests
	// end an attempt: "before" a destructive step's first change, and
	// "after" its last (recorded in a heartbeat, not yet returned).
	hook func(point string, step renewal.StepID, attempt int32)
	// lose, if not nil and true for an attempt, makes apply record no
	// heartbeat and end the attempt with a retryable error after its
	// last change: the crash tests' model of a process that died before
	// the SDK sent its throttled heartbeats.
	lose func(step renewal.StepID, attempt int32) bool

	// locks holds a lock per renewal (its workflow ID), so that on one
	// worker an attempt that timed out and is still running holds its
	// retry back: see [Activities.lock].
	locksMu sync.Mutex
	locks   map[string]*renewalLock
}

// Error types of the activities' non-retryable errors: a retry would
// give the same answer.
const (
	errTypeUnexpectedState = "UnexpectedState"
	errTypeOutsideWindow   = "OutsideWindow"
	errTypeConfig          = "Configuration"
)

// nonRetryable are the error types no activity retries.
var nonRetryable = []string{errTypeUnexpectedState, errTypeOutsideWindow, errTypeConfig}

// classify makes an error that a retry cannot put right non-retryable.
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, renewal.ErrUnexpectedState), errors.Is(err, renewal.ErrInvalidPlan),
		errors.Is(err, renewal.ErrJournal), errors.Is(err, renewal.ErrRollbackUnsafe):
		return sdktemporal.NewNonRetryableApplicationError(err.Error(), errTypeUnexpectedState, err)
	case errors.Is(err, renewal.ErrOutsideWindow):
		return sdktemporal.NewNonRetryableApplicationError(err.Error(), errTypeOutsideWindow, err)
	}
	return err
}

// landscape is one renewal's adapters, resolved.
type landscape struct {
	stores   Stores
	ca       renewal.CA
	receiver renewal.Receiver
	runtime  renewal.Runtime
	notifier renewal.Notifier
}

func (a *Activities) resolve(n Adapters) (*landscape, error) {
	l := &landscape{
		stores: a.Tenants[n.Tenant], ca: a.CAs[n.CA], receiver: a.Receivers[n.Receiver],
		runtime: a.Runtimes[n.Runtime], notifier: a.Notifiers[n.Notifier],
	}
	var missing []string
	if l.stores == nil {
		missing = append(missing, fmt.Sprintf("tenant %q", n.Tenant))
	}
	if l.ca == nil {
		missing = append(missing, fmt.Sprintf("CA %q", n.CA))
	}
	if l.receiver == nil {
		missing = append(missing, fmt.Sprintf("receiver %q", n.Receiver))
	}
	if l.runtime == nil {
		missing = append(missing, fmt.Sprintf("runtime %q", n.Runtime))
	}
	if l.notifier == nil {
		missing = append(missing, fmt.Sprintf("notifier %q", n.Notifier))
	}
	if len(missing) > 0 {
		// Another worker of the task queue may hold them: retryable.
		return nil, fmt.Errorf("renewal/temporal: this worker has no %s in its configuration: add them to the worker's configuration and restart it, or run the renewal on a worker that has them", strings.Join(missing, ", "))
	}
	return l, nil
}

func (a *Activities) at(ctx context.Context, point string, id renewal.StepID) {
	if a.hook != nil {
		a.hook(point, id, activity.GetInfo(ctx).Attempt)
	}
}

// chains is a step input's certificates, decoded.
type chains struct {
	old, next       []*x509.Certificate
	oldRoot, newRoo *x509.Certificate
}

func (c *chains) oldLeaf() *x509.Certificate { return c.old[0] }
func (c *chains) newLeaf() *x509.Certificate { return c.next[0] }

func decodeArtifacts(a Artifacts, needNew bool) (*chains, error) {
	c := &chains{}
	var err error
	if c.old, err = decodeChain(a.OldChain, "old chain"); err != nil {
		return nil, err
	}
	if a.OldRoot != "" {
		r, err := decodeChain(a.OldRoot, "old root")
		if err != nil {
			return nil, err
		}
		c.oldRoot = r[0]
	}
	if !needNew {
		return c, nil
	}
	if c.next, err = decodeChain(a.NewChain, "new chain"); err != nil {
		return nil, err
	}
	r, err := decodeChain(a.NewRoot, "new root")
	if err != nil {
		return nil, err
	}
	c.newRoo = r[0]
	return c, nil
}

func sameCert(a, b *x509.Certificate) bool {
	return a != nil && b != nil && a.Equal(b)
}

func contains(certs []*x509.Certificate, c *x509.Certificate) bool {
	return slices.ContainsFunc(certs, func(d *x509.Certificate) bool { return sameCert(c, d) })
}

func byFingerprint(certs []*x509.Certificate, fp string) *x509.Certificate {
	want, err := keystore.ParseFingerprint(fp)
	if err != nil {
		return nil
	}
	for _, c := range certs {
		if keystore.CertFingerprint(c) == want {
			return c
		}
	}
	return nil
}

func describe(c *x509.Certificate) string {
	if c == nil {
		return "no certificate"
	}
	return fmt.Sprintf("%s (SHA-256 %s)", c.Subject, keystore.CertFingerprint(c).Hex())
}

// Prepare reads the live chain and finds the old root, which the
// workflow records in its history, as the executor's first run records
// them in the journal. It changes nothing.
func (a *Activities) Prepare(ctx context.Context, in StepInput) (Artifacts, error) {
	defer keepAlive(ctx, nil)()
	l, err := a.resolve(in.Adapters)
	if err != nil {
		return Artifacts{}, err
	}
	p := in.Plan.Params
	live, err := l.stores.LiveChain()
	if err != nil {
		return Artifacts{}, err
	}
	want, err := keystore.ParseFingerprint(p.OldFingerprint)
	if err != nil {
		return Artifacts{}, classify(fmt.Errorf("renewal/temporal: the plan's old fingerprint: %w: %w", renewal.ErrUnexpectedState, err))
	}
	if got := keystore.CertFingerprint(live[0]); got != want {
		return Artifacts{}, classify(fmt.Errorf("renewal/temporal: the live keystore %s alias %q holds %s, but the plan's old certificate is SHA-256 %s: %w",
			p.Keystore, p.Alias, describe(live[0]), p.OldFingerprint, renewal.ErrUnexpectedState))
	}
	out := Artifacts{OldChain: encodeChain(live)}
	root := byFingerprint(live, p.OldRootFingerprint)
	if root == nil {
		if insp, ok := l.receiver.(renewal.ReceiverInspector); ok {
			roots, err := insp.Roots()
			if err != nil {
				return Artifacts{}, fmt.Errorf("renewal/temporal: looking for the old root among the receiver's roots: %w", err)
			}
			root = byFingerprint(roots, p.OldRootFingerprint)
		}
	}
	if root == nil {
		return Artifacts{}, classify(fmt.Errorf("renewal/temporal: the old root (SHA-256 %s) is neither in the live chain (%s) nor among the receiver's roots: %w",
			p.OldRootFingerprint, chain.Path(live), renewal.ErrUnexpectedState))
	}
	out.OldRoot = encodeChain([]*x509.Certificate{root})
	return out, nil
}

// GenerateKey is step 1: it stages a new key (made here, in the
// activity, never in workflow code), has the CA sign a request for it,
// and installs the reply. A CA that answers later gives an output with
// Awaiting set, not an error. Each part is safe to repeat: a staged key
// is reused, and a signed one is not signed again.
func (a *Activities) GenerateKey(ctx context.Context, in StepInput) (StepOutput, error) {
	defer keepAlive(ctx, nil)()
	l, err := a.resolve(in.Adapters)
	if err != nil {
		return StepOutput{}, err
	}
	c, err := decodeArtifacts(in.Artifacts, false)
	if err != nil {
		return StepOutput{}, classify(err)
	}
	if in.Artifacts.StagedKey != "" {
		// A request went to the CA: only its key can take the reply.
		p, err := l.stores.Pending()
		if err != nil {
			return StepOutput{}, err
		}
		if p == nil || keystore.KeyFingerprint(p.Key.Public()).Hex() != in.Artifacts.StagedKey {
			return StepOutput{}, classify(fmt.Errorf("renewal/temporal: step %q waits for the CA's reply to a request for the staged key SHA-256 %s, but the staging store no longer holds that key: restore it from a backup, or start a new renewal and tell the CA to ignore the request: %w",
				renewal.StepGenerateKey, in.Artifacts.StagedKey, renewal.ErrUnexpectedState))
		}
	}
	p, err := l.stores.Stage(c.oldLeaf())
	if err != nil {
		return StepOutput{}, classify(err)
	}
	want := in.Plan.Params.NewRootFingerprint
	var certs []*x509.Certificate
	out := StepOutput{}
	if p.Signed {
		certs = p.Chain
		out.Skipped = true
		out.Note = "the staging store already holds the signed new certificate " + describe(p.Chain[0])
	} else {
		reply, err := l.ca.Sign(ctx, p.CSRPEM)
		if errors.Is(err, renewal.ErrAwaitingReply) {
			w := &Awaiting{Message: err.Error(), StagedKey: keystore.KeyFingerprint(p.Key.Public()).Hex()}
			var ae *renewal.AwaitingReplyError
			if errors.As(err, &ae) {
				w.Request, w.Reply = ae.Request, ae.Reply
			}
			return StepOutput{Awaiting: w}, nil
		}
		if err != nil {
			return StepOutput{}, fmt.Errorf("renewal/temporal: the CA did not sign the request: %w", err)
		}
		root := byFingerprint(reply, want)
		if root == nil {
			return StepOutput{}, classify(fmt.Errorf("renewal/temporal: the CA's chain %s does not contain the plan's new root (SHA-256 %s): %w", chain.Path(reply), want, renewal.ErrUnexpectedState))
		}
		res, err := l.stores.Install(reply, root)
		if err != nil {
			return StepOutput{}, classify(err)
		}
		certs = res.Chain
		out.Note = "new key signed: " + describe(certs[0])
	}
	root := byFingerprint(certs, want)
	if root == nil {
		return StepOutput{}, classify(fmt.Errorf("renewal/temporal: the new chain %s does not reach the plan's new root (SHA-256 %s): %w", chain.Path(certs), want, renewal.ErrUnexpectedState))
	}
	if err := chainsTo(certs, root); err != nil {
		return StepOutput{}, classify(err)
	}
	if w := in.Plan.Params.NewFingerprint; w != "" && byFingerprint(certs[:1], w) == nil {
		return StepOutput{}, classify(fmt.Errorf("renewal/temporal: the new certificate is %s, but the plan expects SHA-256 %s: %w", describe(certs[0]), w, renewal.ErrUnexpectedState))
	}
	out.NewChain, out.NewRoot = encodeChain(certs), encodeChain([]*x509.Certificate{root})
	return out, nil
}

// chainsTo checks that each certificate of certs up to root is signed by
// the next.
func chainsTo(certs []*x509.Certificate, root *x509.Certificate) error {
	for i := 0; i+1 < len(certs) && !sameCert(certs[i], root); i++ {
		if err := certs[i].CheckSignatureFrom(certs[i+1]); err != nil {
			return fmt.Errorf("renewal/temporal: the new chain %s does not chain to %s: %v: %w", chain.Path(certs), describe(root), err, renewal.ErrUnexpectedState)
		}
	}
	return nil
}

// HandOff delivers a hand-off's message through the notifier. It does
// not wait: a confirmation is a signal to the workflow. A retried
// attempt may deliver the message again (a notifier delivers at least
// once).
func (a *Activities) HandOff(ctx context.Context, in StepInput) error {
	defer keepAlive(ctx, nil)()
	l, err := a.resolve(in.Adapters)
	if err != nil {
		return err
	}
	if err := l.notifier.HandOff(ctx, in.Step, in.Message, 0); err != nil {
		return fmt.Errorf("renewal/temporal: hand-off to %s: %w", in.Step.To, err)
	}
	return nil
}

// change is one change a step makes: needed says, from the state, whether
// it is still to be made. A receiver change is made again on a resumed
// attempt whatever needed says.
type change struct {
	what     string
	receiver bool
	needed   func(ctx context.Context) (bool, error)
	do       func(ctx context.Context) error
}

// resumed reports whether this attempt follows one that started: a
// retry, or an attempt whose heartbeats recorded progress.
func resumed(ctx context.Context) bool {
	if !activity.IsActivity(ctx) {
		return false
	}
	return activity.GetInfo(ctx).Attempt > 1 || activity.HasHeartbeatDetails(ctx)
}

// apply makes the changes still needed, in order, recording each one made
// in a heartbeat. An attempt that follows one that started skips what the
// heartbeats recorded as done, and makes every other receiver change, as
// the executor does for a resumed step: a receiver's inspector reads its
// files, which an interrupted call may have written before the server was
// reloaded, so its word is not enough to skip the call (the next call
// reloads; the calls are idempotent, see [renewal.Receiver]). The key swap
// and the nodes' changes are asked of the state (the live alias, what
// each node presents) on every attempt, so that one made just before the
// worker died is not made again.
func (a *Activities) apply(ctx context.Context, id renewal.StepID, changes []change) (string, bool, error) {
	unlock, err := a.lock(ctx)
	if err != nil {
		return "", false, err
	}
	defer unlock()
	b := &beat{}
	if activity.IsActivity(ctx) && activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &b.done)
	}
	again := resumed(ctx)
	var attempt int32
	if activity.IsActivity(ctx) {
		attempt = activity.GetInfo(ctx).Attempt
	}
	lose := a.lose != nil && a.lose(id, attempt)
	if !lose {
		defer keepAlive(ctx, b)()
	}
	var made []string
	first := true
	for _, c := range changes {
		if b.has(c.what) {
			continue
		}
		if !(again && c.receiver) {
			need, err := c.needed(ctx)
			if err != nil {
				return "", false, err
			}
			if !need {
				continue
			}
		}
		if first {
			a.at(ctx, "before", id)
			first = false
		}
		if err := c.do(ctx); err != nil {
			return "", false, classify(fmt.Errorf("renewal/temporal: %s: %w", c.what, err))
		}
		made = append(made, c.what)
		if lose {
			continue
		}
		activity.RecordHeartbeat(ctx, b.add(c.what))
	}
	if lose {
		return "", false, fmt.Errorf("renewal/temporal: step %q: the attempt ended after its changes, before its heartbeats were sent (a test's crash)", id)
	}
	if len(made) > 0 {
		a.at(ctx, "after", id)
	}
	if len(made) == 0 {
		return "nothing left to do: the state already is what the step makes it", true, nil
	}
	return strings.Join(made, "; "), false, nil
}

// lock holds the renewal's lock of this worker until the returned
// function is called, or returns ctx's error. A retry Temporal starts
// after an attempt's StartToClose timeout can come to the same worker
// while the timed-out attempt still runs an adapter call (a context
// stops a call only where the adapter checks it): the retry waits here.
// Across workers the receivers' trust files are locked by their
// adapters (package renewal/internal/trustfiles), and each change is
// asked of the state first.
func (a *Activities) lock(ctx context.Context) (func(), error) {
	key := ""
	if activity.IsActivity(ctx) {
		key = activity.GetInfo(ctx).WorkflowExecution.ID
	}
	a.locksMu.Lock()
	if a.locks == nil {
		a.locks = map[string]*renewalLock{}
	}
	l, ok := a.locks[key]
	if !ok {
		l = &renewalLock{ch: make(chan struct{}, 1)}
		a.locks[key] = l
	}
	l.users++
	a.locksMu.Unlock()
	release := func() {
		a.locksMu.Lock()
		defer a.locksMu.Unlock()
		if l.users--; l.users == 0 {
			delete(a.locks, key) // a worker runs many renewals over its life
		}
	}
	select {
	case l.ch <- struct{}{}:
		return func() { <-l.ch; release() }, nil
	case <-ctx.Done():
		release()
		return nil, fmt.Errorf("renewal/temporal: waiting for this renewal's earlier attempt on this worker to end: %w", ctx.Err())
	}
}

// renewalLock is one renewal's lock and how many attempts hold or wait
// for it.
type renewalLock struct {
	ch    chan struct{}
	users int
}

// beat is an activity's progress, as its heartbeats record it.
type beat struct {
	mu   sync.Mutex
	done []string
}

func (b *beat) has(what string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Contains(b.done, what)
}

// add records what as done and returns the progress to record.
func (b *beat) add(what string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done = append(b.done, what)
	return slices.Clone(b.done)
}

// keepAliveEvery is how often a running activity heartbeats: well within
// the heartbeat timeout the workflow sets (2 minutes), so that a slow
// adapter call (a node's restart, a CA's command) is not taken for a dead
// worker, while a dead worker is noticed within the timeout.
const keepAliveEvery = 30 * time.Second

// keepAlive heartbeats b's progress every keepAliveEvery until the
// returned function is called (b nil: no progress). The SDK throttles
// the heartbeats it sends to the server.
func keepAlive(ctx context.Context, b *beat) (stop func()) {
	if !activity.IsActivity(ctx) {
		return func() {}
	}
	if b == nil {
		b = &beat{}
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(keepAliveEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				b.mu.Lock()
				d := slices.Clone(b.done)
				b.mu.Unlock()
				activity.RecordHeartbeat(ctx, d)
			}
		}
	}()
	return func() { close(done) }
}

// receiverState answers a change's needed check from the receiver's
// inspector; without one every change is needed (the calls are
// idempotent).
func receiverState(r renewal.Receiver) func() (roots, accepted []*x509.Certificate, known bool, err error) {
	return func() ([]*x509.Certificate, []*x509.Certificate, bool, error) {
		insp, ok := r.(renewal.ReceiverInspector)
		if !ok {
			return nil, nil, false, nil
		}
		roots, err := insp.Roots()
		if err != nil {
			return nil, nil, true, fmt.Errorf("renewal/temporal: reading the receiver's roots: %w", err)
		}
		acc, err := insp.AcceptedClients()
		if err != nil {
			return nil, nil, true, fmt.Errorf("renewal/temporal: reading the receiver's accepted client certificates: %w", err)
		}
		return roots, acc, true, nil
	}
}

func trustRoot(r renewal.Receiver, root *x509.Certificate) change {
	state := receiverState(r)
	return change{
		what: "trusted the root " + describe(root), receiver: true,
		needed: func(context.Context) (bool, error) {
			roots, _, known, err := state()
			return !known || !contains(roots, root), err
		},
		do: func(ctx context.Context) error { return r.TrustRoot(ctx, root) },
	}
}

func acceptClient(r renewal.Receiver, certs []*x509.Certificate) change {
	state := receiverState(r)
	return change{
		what: "accepted the client certificate " + describe(certs[0]), receiver: true,
		needed: func(context.Context) (bool, error) {
			_, acc, known, err := state()
			return !known || !contains(acc, certs[0]), err
		},
		do: func(ctx context.Context) error { return r.AcceptClient(ctx, certs) },
	}
}

// removeClient removes the old client certificate; the receiver's files
// are asked too while its inspector does not list it (a pin written by a
// person names a fingerprint only), unless removedBefore: the downtime
// swap, recorded done in the history, removed it.
func removeClient(r renewal.Receiver, old []*x509.Certificate, removedBefore bool) change {
	state := receiverState(r)
	return change{
		what: "removed the client certificate " + describe(old[0]), receiver: true,
		needed: func(ctx context.Context) (bool, error) {
			_, acc, known, err := state()
			switch {
			case err != nil:
				return false, err
			case known && contains(acc, old[0]):
				return true, nil
			case removedBefore:
				// The history records the receiver's swap, which removed
				// it, as done.
				return false, nil
			}
			return !known || r.Accepts(ctx, old) == nil, nil
		},
		do: func(ctx context.Context) error { return r.RemoveClient(ctx, old[0]) },
	}
}

func removeRoot(r renewal.Receiver, root *x509.Certificate) change {
	state := receiverState(r)
	return change{
		what: "removed the root " + describe(root), receiver: true,
		needed: func(context.Context) (bool, error) {
			roots, _, known, err := state()
			return !known || contains(roots, root), err
		},
		do: func(ctx context.Context) error { return r.RemoveRoot(ctx, root) },
	}
}

func (a *Activities) stepSetup(in StepInput, needNew bool) (*landscape, *chains, error) {
	l, err := a.resolve(in.Adapters)
	if err != nil {
		return nil, nil, err
	}
	c, err := decodeArtifacts(in.Artifacts, needNew)
	if err != nil {
		return nil, nil, classify(err)
	}
	return l, c, nil
}

func output(note string, skipped bool, err error) (StepOutput, error) {
	if err != nil {
		return StepOutput{}, err
	}
	return StepOutput{Note: note, Skipped: skipped}, nil
}

// ReceiverAcceptBoth is overlap step 3: the receiver trusts the new root
// and accepts the new client certificate next to the old.
func (a *Activities) ReceiverAcceptBoth(ctx context.Context, in StepInput) (StepOutput, error) {
	l, c, err := a.stepSetup(in, true)
	if err != nil {
		return StepOutput{}, err
	}
	return output(a.apply(ctx, in.Step.ID, []change{trustRoot(l.receiver, c.newRoo), acceptClient(l.receiver, c.next)}))
}

// ReceiverSwap is downtime step 8 (destructive): the old client
// certificate goes before the new one comes, for a receiver that holds
// one at a time.
func (a *Activities) ReceiverSwap(ctx context.Context, in StepInput) (StepOutput, error) {
	l, c, err := a.stepSetup(in, true)
	if err != nil {
		return StepOutput{}, err
	}
	return output(a.apply(ctx, in.Step.ID, []change{
		trustRoot(l.receiver, c.newRoo), removeClient(l.receiver, c.old, false), acceptClient(l.receiver, c.next),
	}))
}

// RemoveOld is overlap step 9 and downtime step 12 (destructive): the
// receiver stops accepting the old client certificate and trusting the
// old root, and must then refuse the old chain.
func (a *Activities) RemoveOld(ctx context.Context, in StepInput) (StepOutput, error) {
	l, c, err := a.stepSetup(in, false)
	if err != nil {
		return StepOutput{}, err
	}
	if c.oldRoot == nil {
		return StepOutput{}, classify(fmt.Errorf("renewal/temporal: the old root is not known: %w", renewal.ErrUnexpectedState))
	}
	note, skipped, err := a.apply(ctx, in.Step.ID, []change{removeClient(l.receiver, c.old, in.SwapDone), removeRoot(l.receiver, c.oldRoot)})
	if err != nil {
		return StepOutput{}, err
	}
	if l.receiver.Accepts(ctx, c.old) == nil {
		return StepOutput{}, classify(fmt.Errorf("renewal/temporal: after removing the old client certificate and root, the receiver still accepts the old chain %s: %w", chain.Path(c.old), renewal.ErrUnexpectedState))
	}
	if err := probeRefuses(ctx, l, c.old); err != nil {
		return StepOutput{}, classify(fmt.Errorf("renewal/temporal: after removing the old client certificate and root: %w", err))
	}
	return StepOutput{Note: note, Skipped: skipped}, nil
}

// SwapEntry is overlap step 5 and downtime step 6 (destructive): the
// live alias gets the new key and chain ([renewal.Tenant.Activate]). An
// activation found complete (the live alias holds the new certificate
// and no key is pending) is not made again.
func (a *Activities) SwapEntry(ctx context.Context, in StepInput) (StepOutput, error) {
	l, c, err := a.stepSetup(in, true)
	if err != nil {
		return StepOutput{}, err
	}
	note, skipped, err := a.apply(ctx, in.Step.ID, []change{{
		what: "the live alias holds " + describe(c.newLeaf()),
		needed: func(context.Context) (bool, error) {
			live, err := l.stores.LiveChain()
			if err != nil {
				return false, err
			}
			if !sameCert(live[0], c.newLeaf()) {
				return true, nil
			}
			// Swapped: an interrupted activation may still have its
			// bookkeeping (the pending entry's removal) to finish.
			p, err := l.stores.Pending()
			return p != nil, err
		},
		do: func(context.Context) error {
			_, err := l.stores.Activate(c.oldLeaf(), c.newLeaf())
			return err
		},
	}})
	return output(note, skipped, err)
}

// nodeChanges returns one change per node: what wants says to do with
// the certificate the node presents ("" to leave it alone).
func nodeChanges(ctx context.Context, rt renewal.Runtime, wants func(presented *x509.Certificate) string) ([]change, error) {
	nodes, err := rt.Nodes(ctx)
	if err != nil {
		return nil, fmt.Errorf("renewal/temporal: listing the runtime's nodes: %w", err)
	}
	var out []change
	for _, n := range nodes {
		n := n
		var op string
		out = append(out, change{
			what: "node " + n,
			needed: func(ctx context.Context) (bool, error) {
				c, err := rt.Presents(ctx, n)
				if err != nil {
					return false, fmt.Errorf("renewal/temporal: node %q: %w", n, err)
				}
				op = wants(c)
				return op != "", nil
			},
			do: func(ctx context.Context) error {
				switch op {
				case "start":
					return rt.Start(ctx, n)
				case "restart":
					return rt.Restart(ctx, n)
				}
				return rt.Stop(ctx, n)
			},
		})
	}
	return out, nil
}

// RestartNodes is overlap step 7 and downtime step 11: a node presenting
// the new certificate is left alone, a stopped one started, a running
// one restarted.
func (a *Activities) RestartNodes(ctx context.Context, in StepInput) (StepOutput, error) {
	l, c, err := a.stepSetup(in, true)
	if err != nil {
		return StepOutput{}, err
	}
	changes, err := nodeChanges(ctx, l.runtime, func(p *x509.Certificate) string {
		switch {
		case sameCert(p, c.newLeaf()):
			return ""
		case p == nil:
			return "start"
		}
		return "restart"
	})
	if err != nil {
		return StepOutput{}, err
	}
	return output(a.apply(ctx, in.Step.ID, changes))
}

// StopFlow is downtime step 4 (destructive): every running node is
// stopped; a stopped one is left alone. The workflow checks the window.
func (a *Activities) StopFlow(ctx context.Context, in StepInput) (StepOutput, error) {
	l, err := a.resolve(in.Adapters)
	if err != nil {
		return StepOutput{}, err
	}
	changes, err := nodeChanges(ctx, l.runtime, func(p *x509.Certificate) string {
		if p == nil {
			return ""
		}
		return "stop"
	})
	if err != nil {
		return StepOutput{}, err
	}
	return output(a.apply(ctx, in.Step.ID, changes))
}
