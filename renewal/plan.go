package renewal

import (
	"fmt"
	"strings"
)

// schemaVersion is the version of the JSON form of a [Plan] this package
// writes and reads; see SCHEMA.md. It changes whenever a field changes
// meaning or a reader of the previous version would misread a plan.
const schemaVersion = 1

// StepID identifies what a step does, independently of its number: an
// executor implements one action per StepID, and the same ID means the
// same action in both sequences. IDs are stable across versions of this
// package; new ones may be added.
type StepID string

// The step IDs the builders use, in the order they first appear.
const (
	// StepGenerateKey: create a new key pair and CSR and have the new CA
	// sign it (both sequences, step 1).
	StepGenerateKey StepID = "generate-key"
	// StepHandOverCertificate: give the receiver administrator the new
	// client certificate and the new root (overlap 2, downtime 7).
	StepHandOverCertificate StepID = "hand-over-certificate"
	// StepReceiverAcceptBoth: the receiver trusts the new root and accepts
	// the new client certificate next to the old one (overlap 3).
	StepReceiverAcceptBoth StepID = "receiver-accept-both"
	// StepConfirmAcceptBoth: the receiver administrator confirms that both
	// certificates are accepted (overlap 4).
	StepConfirmAcceptBoth StepID = "confirm-accept-both"
	// StepSwapEntry: replace the key entry under the same alias
	// (overlap 5, downtime 6). Destructive.
	StepSwapEntry StepID = "swap-entry"
	// StepNotifyRestart: tell the integration developer the flow can be
	// restarted (overlap 6, downtime 10).
	StepNotifyRestart StepID = "notify-restart"
	// StepRestartNodes: restart the flow on every runtime node
	// (overlap 7, downtime 11).
	StepRestartNodes StepID = "restart-nodes"
	// StepNotifyNewInUse: tell the receiver administrator the new
	// certificate is in use (overlap 8).
	StepNotifyNewInUse StepID = "notify-new-in-use"
	// StepRemoveOld: the receiver removes the old client certificate and
	// the old root (overlap 9, downtime 12; in the downtime sequence the
	// old client certificate went at step 8 already). Destructive.
	StepRemoveOld StepID = "remove-old"
	// StepAgreeWindow: the administrators agree a downtime window and wait
	// for its start (downtime 2).
	StepAgreeWindow StepID = "agree-window"
	// StepNotifyStop: tell the integration developer to stop the flow
	// (downtime 3).
	StepNotifyStop StepID = "notify-stop"
	// StepStopFlow: stop the flow on every runtime node (downtime 4).
	// Destructive.
	StepStopFlow StepID = "stop-flow"
	// StepConfirmStopped: the integration developer confirms the flow is
	// stopped (downtime 5).
	StepConfirmStopped StepID = "confirm-stopped"
	// StepReceiverSwap: the receiver replaces the old client certificate
	// by the new one and imports the new root (downtime 8). Destructive.
	StepReceiverSwap StepID = "receiver-swap"
	// StepConfirmSwapped: the receiver administrator confirms the exchange
	// (downtime 9).
	StepConfirmSwapped StepID = "confirm-swapped"
)

// Step is one numbered step of a plan, performed by one role.
type Step struct {
	// Number is the step's 1-based number, the reference's numbering.
	Number int `json:"number"`
	// ID says what the step does; see [StepID].
	ID StepID `json:"id"`
	// Role performs the step.
	Role Role `json:"role"`
	// Kind says what sort of step it is.
	Kind Kind `json:"kind"`
	// To is the role a hand-off goes to, or the role a wait depends on;
	// zero for other steps.
	To Role `json:"to,omitempty"`
	// Title says in one line what the step does. The builders' titles
	// contain no parameter values.
	Title string `json:"title"`
	// Detail is what a person needs to do the step: which alias, which
	// file, which fingerprints, on which nodes. Plain text, one paragraph.
	Detail string `json:"detail"`
	// Tasks are sub-tasks of the step, in order; nil for most steps. The
	// builders fill them from [Params.Receiver].
	Tasks []string `json:"tasks,omitempty"`
	// Destructive marks a step that removes or replaces something a running
	// system depends on, or interrupts traffic; it must not be repeated or
	// run early. An executor records it before and after running it.
	Destructive bool `json:"destructive"`
	// Gate is a condition checked before or after the step; nil if none.
	Gate *Gate `json:"gate,omitempty"`
}

// Gate is a check attached to a step. When it fails, the plan stops: a gate
// checked before a step keeps the step from running, a gate checked after
// a step keeps the plan from going on.
type Gate struct {
	// Kind names the condition; an executor implements one check per kind.
	Kind GateKind `json:"kind"`
	// When says whether the gate is checked before or after the step.
	When GatePoint `json:"when"`
	// Description says what holds when the gate passes and what a failure
	// means, with the fingerprints and nodes involved.
	Description string `json:"description"`
}

// Plan is a renewal as data: the sequence, the parameters it was built
// from, and the steps in order. Plans from [Build] are
// well formed; [Plan.UnmarshalJSON] checks one built or decoded some other way.
//
// A Plan is a value: the builders share no memory with their arguments,
// and rendering never modifies the plan. Concurrent reads are safe.
type Plan struct {
	// SchemaVersion is 1 in plans this package builds, the version of
	// the JSON form described in SCHEMA.md.
	SchemaVersion int `json:"schema_version"`
	// Sequence says which of the reference's sequences the plan follows.
	Sequence Sequence `json:"sequence"`
	// Params are the parameters, normalised (see [Params]).
	Params Params `json:"params"`
	// Steps are the steps in order; Steps[i].Number is i+1.
	Steps []Step `json:"steps"`
}

// Build returns the plan for sequence s from parameters p: the 9 steps of
// [SequenceOverlap] or the 12 of [SequenceDowntime], as their docs list
// them. Unusable parameters give every problem at once, as [*PlanError]
// values joined with [errors.Join]; an unknown sequence gives a
// [*PlanError] matching [ErrInvalidPlan].
func Build(s Sequence, p Params) (*Plan, error) {
	switch s {
	case SequenceOverlap:
		return overlap(p)
	case SequenceDowntime:
		return downtime(p)
	}
	return nil, &PlanError{Field: "Sequence", Reason: fmt.Sprintf("unknown sequence %q: expected one of %s", string(s), nameList(sequences))}
}

// overlap builds the plan of [SequenceOverlap].
func overlap(p Params) (*Plan, error) {
	q, err := p.normalize(SequenceOverlap)
	if err != nil {
		return nil, err
	}
	t := &text{p: &q}
	steps := []Step{
		t.generateKey(),
		{
			ID: StepHandOverCertificate, Role: TenantAdmin, Kind: KindHandOff, To: ReceiverAdmin,
			Title: "Give the receiver administrator the new client certificate and the new root certificate",
			Detail: fmt.Sprintf("Send the new client certificate (%s) and the root certificate of the new CA, %s. "+
				"The root is needed because the CA has changed. Neither contains a secret; send them so that the receiver administrator can check the fingerprints against this runbook.",
				t.newCert(), t.newRoot()),
		},
		{
			ID: StepReceiverAcceptBoth, Role: ReceiverAdmin, Kind: KindAction,
			Title: "Configure the receiver to accept both the old and the new client certificate",
			Detail: fmt.Sprintf("Import the new root certificate %s into %s, and accept the new client certificate (%s) next to the old one (%s). "+
				"Keep the old client certificate and the old root %s: the tenant still uses them until step 7.",
				t.newRoot(), t.truststore(), t.newCert(), t.oldCert(), t.oldRoot()),
		},
		{
			ID: StepConfirmAcceptBoth, Role: ReceiverAdmin, Kind: KindHandOff, To: TenantAdmin,
			Title: "Tell the tenant administrator that the receiver accepts both certificates",
			Detail: fmt.Sprintf("Confirm that the receiver accepts the old client certificate (%s) and the new one (%s), each with its chain.",
				t.oldCert(), t.newCert()),
		},
		t.swapEntry(&Gate{
			Kind: GateReceiverAcceptsBoth, When: GateBefore,
			Description: fmt.Sprintf("The receiver accepts the old chain (client certificate %s, root %s) and the new chain (client certificate %s, root %s). "+
				"If it refuses either, stop: replacing the entry now would break traffic.",
				t.oldCert(), t.oldRoot(), t.newCert(), t.newRoot()),
		}),
		t.notifyRestart("The key entry now holds the new certificate, but every runtime node keeps using the keystore it has cached."),
		t.restartNodes(),
		{
			ID: StepNotifyNewInUse, Role: TenantAdmin, Kind: KindHandOff, To: ReceiverAdmin,
			Title: "Tell the receiver administrator that the new client certificate is in use",
			Detail: fmt.Sprintf("Every runtime node (%s) now presents the new client certificate (%s), signed by the new CA %s. "+
				"The old client certificate (%s) is no longer used under %s.",
				t.nodes(), t.newCert(), t.newRoot(), t.oldCert(), t.alias()),
		},
		{
			ID: StepRemoveOld, Role: ReceiverAdmin, Kind: KindAction, Destructive: true,
			Title: "Remove the old client certificate and the old root certificate",
			Detail: fmt.Sprintf("Remove the old client certificate (%s) and the old root certificate %s from %s. "+
				"Keep the old root if any other communication still uses it.",
				t.oldCert(), t.oldRoot(), t.truststore()),
			Gate: t.oldUnusedGate(),
		},
	}
	if r := q.Receiver; r != nil {
		steps[2].Tasks = r.acceptTasks(t, true)
		steps[8].Tasks = r.removeTasks(t, true)
	}
	return newPlan(SequenceOverlap, q, steps), nil
}

// downtime builds the plan of [SequenceDowntime].
func downtime(p Params) (*Plan, error) {
	q, err := p.normalize(SequenceDowntime)
	if err != nil {
		return nil, err
	}
	t := &text{p: &q}
	steps := []Step{
		t.generateKey(),
		{
			ID: StepAgreeWindow, Role: TenantAdmin, Kind: KindWait, To: ReceiverAdmin,
			Title: "Agree on a downtime window with the receiver administrator",
			Detail: fmt.Sprintf("The receiver accepts only one client certificate at a time, so traffic stops while the certificate is exchanged. "+
				"Window: %s. Do not go on to step 3 before the window starts.", q.Window),
		},
		{
			ID: StepNotifyStop, Role: TenantAdmin, Kind: KindHandOff, To: IntegrationDeveloper,
			Title: "At the start of the window, tell the integration developer to stop the integration flow",
			Detail: fmt.Sprintf("The flow that uses the client certificate under %s for outbound HTTPS must be stopped on every runtime node: %s.",
				t.alias(), t.nodes()),
		},
		{
			ID: StepStopFlow, Role: IntegrationDeveloper, Kind: KindAction, Destructive: true,
			Title: "Stop the integration flow",
			Detail: fmt.Sprintf("Stop the integration flow that calls the receiver over HTTPS on every runtime node: %s. It stays stopped until step 11.",
				t.nodes()),
		},
		{
			ID: StepConfirmStopped, Role: IntegrationDeveloper, Kind: KindHandOff, To: TenantAdmin,
			Title:  "Tell the tenant administrator that the integration flow has been stopped",
			Detail: fmt.Sprintf("Confirm that the flow is stopped on every runtime node: %s.", t.nodes()),
		},
		t.swapEntry(nil),
		{
			ID: StepHandOverCertificate, Role: TenantAdmin, Kind: KindHandOff, To: ReceiverAdmin,
			Title: "Give the receiver administrator the new client certificate and the new root certificate",
			Detail: fmt.Sprintf("Send the new client certificate (%s) and the root certificate of the new CA, %s, and say that the HTTPS client has been stopped. "+
				"Neither certificate contains a secret; send them so that the receiver administrator can check the fingerprints against this runbook.",
				t.newCert(), t.newRoot()),
		},
		{
			ID: StepReceiverSwap, Role: ReceiverAdmin, Kind: KindAction, Destructive: true,
			Title: "Exchange the client certificate and import the new root certificate",
			Detail: fmt.Sprintf("In %s, replace the old client certificate (%s) by the new one (%s), and import the new root certificate %s.",
				t.truststore(), t.oldCert(), t.newCert(), t.newRoot()),
			Gate: &Gate{
				Kind: GateReceiverAcceptsNew, When: GateAfter,
				Description: fmt.Sprintf("The receiver accepts the new chain (client certificate %s, root %s). "+
					"If it does not, stop before the flow is restarted and correct the receiver's configuration.",
					t.newCert(), t.newRoot()),
			},
		},
		{
			ID: StepConfirmSwapped, Role: ReceiverAdmin, Kind: KindHandOff, To: TenantAdmin,
			Title: "Tell the tenant administrator that the certificate has been exchanged",
			Detail: fmt.Sprintf("Confirm that the receiver now accepts the new client certificate (%s) and trusts the new root %s.",
				t.newCert(), t.newRoot()),
		},
		t.notifyRestart("The key entry holds the new certificate and the receiver accepts it."),
		t.restartNodes(),
		{
			ID: StepRemoveOld, Role: ReceiverAdmin, Kind: KindAction, Destructive: true,
			Title: "Remove the old root certificate",
			Detail: fmt.Sprintf("Remove the old root certificate %s from %s; the old client certificate (%s) was replaced at step 8 (remove it too if it is still there). "+
				"Keep the old root if any other communication still uses it.",
				t.oldRoot(), t.truststore(), t.oldCert()),
			Gate: t.oldUnusedGate(),
		},
	}
	if r := q.Receiver; r != nil {
		steps[7].Tasks = r.acceptTasks(t, false)
		steps[11].Tasks = r.removeTasks(t, false)
	}
	return newPlan(SequenceDowntime, q, steps), nil
}

func newPlan(s Sequence, p Params, steps []Step) *Plan {
	for i := range steps {
		steps[i].Number = i + 1
	}
	return &Plan{SchemaVersion: schemaVersion, Sequence: s, Params: p, Steps: steps}
}

// step returns the first step with the given ID, and whether there is one.
// The returned step shares its Tasks and Gate with the plan.
func (p *Plan) step(id StepID) (Step, bool) {
	for _, s := range p.Steps {
		if s.ID == id {
			return s, true
		}
	}
	return Step{}, false
}

// roles returns the roles that perform or receive a step of the plan, in
// the order [TenantAdmin], [ReceiverAdmin], [IntegrationDeveloper].
func (p *Plan) roles() []Role {
	used := map[Role]bool{}
	for _, s := range p.Steps {
		used[s.Role], used[s.To] = true, true
	}
	var out []Role
	for _, r := range roles {
		if used[r] {
			out = append(out, r)
		}
	}
	return out
}

// Validate reports whether the plan is well formed: a known schema version
// and sequence, valid parameters for the sequence, steps numbered 1 to n
// with distinct non-empty IDs, known roles and kinds, a hand-off or wait
// naming another role in To, and printable one-line text. It does not
// require the steps to be those the builders make; to run a plan read from
// a file, rebuild it with [Build] from its Params and use that.
func (p *Plan) validate() error {
	if p.SchemaVersion != schemaVersion {
		return schemaError(fmt.Sprintf("schema_version %d", p.SchemaVersion))
	}
	if err := p.Params.validate(p.Sequence); err != nil {
		return err
	}
	norm, _ := p.Params.normalize(p.Sequence)
	for _, f := range []struct{ name, got, want string }{
		{"Params.OldFingerprint", p.Params.OldFingerprint, norm.OldFingerprint},
		{"Params.NewFingerprint", p.Params.NewFingerprint, norm.NewFingerprint},
		{"Params.OldRootFingerprint", p.Params.OldRootFingerprint, norm.OldRootFingerprint},
		{"Params.NewRootFingerprint", p.Params.NewRootFingerprint, norm.NewRootFingerprint},
	} {
		if f.got != f.want {
			return &PlanError{Field: f.name, Reason: fmt.Sprintf("expected 64 lower-case hex digits %q, found %q", f.want, f.got)}
		}
	}
	if len(p.Steps) == 0 {
		return &PlanError{Field: "Steps", Reason: "expected at least one step, found none"}
	}
	ids := make(map[StepID]int, len(p.Steps))
	for i, s := range p.Steps {
		bad := func(field, format string, args ...any) error {
			return &PlanError{Step: i + 1, Field: field, Reason: fmt.Sprintf(format, args...)}
		}
		switch {
		case s.Number != i+1:
			return bad("Number", "expected %d (steps are numbered in order from 1), found %d", i+1, s.Number)
		case s.ID == "":
			return bad("ID", "expected a step ID, found none")
		case textProblem(string(s.ID)) != "":
			return bad("ID", "%s", textProblem(string(s.ID)))
		case !s.Role.valid():
			return bad("Role", "unknown role %q: expected one of %s", string(s.Role), nameList(roles))
		case !s.Kind.valid():
			return bad("Kind", "unknown kind %q: expected one of %s", string(s.Kind), nameList(kinds))
		case s.Title == "":
			return bad("Title", "expected a title, found none")
		}
		if j, dup := ids[s.ID]; dup {
			return bad("ID", "expected distinct step IDs, found %q again (step %d)", s.ID, j)
		}
		ids[s.ID] = i + 1
		switch s.Kind {
		case KindHandOff, KindWait:
			if !s.To.valid() || s.To == s.Role {
				return bad("To", "a %v step needs another role to go to, found %v", s.Kind.String(), s.To)
			}
		default:
			if s.To != "" {
				return bad("To", "a %v step goes to no role, found %v", s.Kind.String(), s.To)
			}
		}
		if s.Kind == KindGate && s.Gate == nil {
			return bad("Gate", "a gate step needs a gate, found none")
		}
		for j, task := range s.Tasks {
			if task == "" {
				return bad(fmt.Sprintf("Tasks[%d]", j), "expected a sub-task, found an empty string")
			}
		}
		texts := append([]string{s.Title, s.Detail}, s.Tasks...)
		if s.Gate != nil {
			switch {
			case !s.Gate.Kind.valid():
				return bad("Gate.Kind", "unknown gate kind %q: expected one of %s", string(s.Gate.Kind), nameList(gateKinds))
			case !s.Gate.When.valid():
				return bad("Gate.When", "unknown gate point %q: expected one of %s", string(s.Gate.When), nameList(gatePoints))
			case s.Gate.Description == "":
				return bad("Gate.Description", "expected a description of the check, found none")
			}
			texts = append(texts, s.Gate.Description)
		}
		for _, t := range texts {
			if t == "" {
				continue
			}
			if reason := charProblem(t); reason != "" {
				return bad("text", "%s", reason)
			}
		}
	}
	return nil
}

// text builds the phrases the steps share from normalised parameters, so
// that every step names a certificate the same way.
type text struct{ p *Params }

func (t *text) alias() string { return fmt.Sprintf("alias %q", t.p.Alias) }

func (t *text) keystore() string {
	if t.p.KeystoreFormat == "" {
		return fmt.Sprintf("keystore %q", t.p.Keystore)
	}
	return fmt.Sprintf("keystore %q (%s)", t.p.Keystore, t.p.KeystoreFormat)
}

func (t *text) truststore() string {
	if t.p.Truststore == "" {
		return "the receiver's truststore"
	}
	return fmt.Sprintf("the receiver's truststore %q", t.p.Truststore)
}

func (t *text) nodes() string {
	q := make([]string, len(t.p.Nodes))
	for i, n := range t.p.Nodes {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

func (t *text) oldCert() string { return "SHA-256 " + displayFingerprint(t.p.OldFingerprint) }

func (t *text) newCert() string {
	if t.p.NewFingerprint == "" {
		return "SHA-256 fingerprint recorded at step 1"
	}
	return "SHA-256 " + displayFingerprint(t.p.NewFingerprint)
}

func (t *text) newRoot() string {
	return fmt.Sprintf("%q (SHA-256 %s)", t.p.NewRootSubject, displayFingerprint(t.p.NewRootFingerprint))
}

func (t *text) oldRoot() string {
	switch {
	case t.p.OldRootSubject != "" && t.p.OldRootFingerprint != "":
		return fmt.Sprintf("%q (SHA-256 %s)", t.p.OldRootSubject, displayFingerprint(t.p.OldRootFingerprint))
	case t.p.OldRootSubject != "":
		return fmt.Sprintf("%q", t.p.OldRootSubject)
	case t.p.OldRootFingerprint != "":
		return "SHA-256 " + displayFingerprint(t.p.OldRootFingerprint)
	}
	return "(not given)"
}

func (t *text) generateKey() Step {
	d := fmt.Sprintf("Generate a new key pair and a certificate signing request with the subject of the certificate under %s in %s. "+
		"Have it signed by the new CA, whose root is %s, not by the old CA. "+
		"Keep the new key and certificate apart from the entry in use until it is replaced.",
		t.alias(), t.keystore(), t.newRoot())
	if t.p.NewFingerprint == "" {
		d += " Record the new certificate's SHA-256 fingerprint: later steps and checks identify it by that."
	} else {
		d += fmt.Sprintf(" The new certificate's fingerprint is SHA-256 %s.", displayFingerprint(t.p.NewFingerprint))
	}
	return Step{
		ID: StepGenerateKey, Role: TenantAdmin, Kind: KindAction,
		Title:  "Create a new key pair and get its certificate signed by the new CA",
		Detail: d,
	}
}

func (t *text) swapEntry(g *Gate) Step {
	return Step{
		ID: StepSwapEntry, Role: TenantAdmin, Kind: KindAction, Destructive: true,
		Title: "Replace the key pair and certificate in the client keystore, keeping the alias",
		Detail: fmt.Sprintf("Import the new key pair with its signed certificate chain (%s) into %s under the same %s, replacing the old key pair and certificate (%s). "+
			"Keep a copy of the old entry so that the change can be rolled back.",
			t.newCert(), t.keystore(), t.alias(), t.oldCert()),
		Gate: g,
	}
}

func (t *text) notifyRestart(why string) Step {
	return Step{
		ID: StepNotifyRestart, Role: TenantAdmin, Kind: KindHandOff, To: IntegrationDeveloper,
		Title:  "Tell the integration developer that the integration flow can be restarted",
		Detail: fmt.Sprintf("%s The flow must be restarted on every runtime node: %s.", why, t.nodes()),
	}
}

// oldUnusedGate is the gate before the old certificate and root are
// removed (overlap 9, downtime 12).
func (t *text) oldUnusedGate() *Gate {
	return &Gate{
		Kind: GateOldRootUnused, When: GateBefore,
		Description: fmt.Sprintf("No runtime node (%s) presents the old client certificate (%s), and no certificate declared in use chains to the old root %s. "+
			"Where the receiver reports the handshakes it sees, it has seen none presenting the old client certificate for the drain period; until then, wait. "+
			"If a node or a certificate still needs the old ones, stop: the old root stays, and the failure names what still needs it.",
			t.nodes(), t.oldCert(), t.oldRoot()),
	}
}

func (t *text) restartNodes() Step {
	return Step{
		ID: StepRestartNodes, Role: IntegrationDeveloper, Kind: KindAction,
		Title: "Restart the integration flow on every runtime node",
		Detail: fmt.Sprintf("Restart the integration flow that calls the receiver over HTTPS on each runtime node: %s. "+
			"The restart is needed because the TLS socket caches the keystore for 24 hours; a flow restarted on only some nodes fails on the others.",
			t.nodes()),
		Gate: &Gate{
			Kind: GateNodesPresentNew, When: GateAfter,
			Description: fmt.Sprintf("Every runtime node (%s) presents the new client certificate (%s). "+
				"If a node does not, the failure names it; restart the flow there before going on.",
				t.nodes(), t.newCert()),
		},
	}
}
