package renewal

import "fmt"

// The choices of a plan are string types whose values are the words its
// JSON form uses (see SCHEMA.md), so that a plan and a journal read as
// they print and no value needs a codec. A value read from JSON is
// checked where the plan or journal is read ([Plan.UnmarshalJSON],
// [Plan.UnmarshalJSON], [ReadJournal]): an unknown word is an error matching
// [ErrInvalidPlan] or [ErrJournal] that names the words expected.

// Role is a person (or the automation acting for one) who performs steps of
// a plan. The roles are the reference's: see its "Involved Roles" page.
//
// The zero Role means "no role"; it appears only in [Step.To] of a step that
// neither hands off to nor waits on anyone.
type Role string

const (
	// TenantAdmin is the tenant administrator, who owns the tenant's client
	// keystore: creates the new key pair, gets it signed, and replaces the
	// key entry.
	TenantAdmin Role = "tenant_admin"
	// ReceiverAdmin is the receiver administrator, who owns the receiving
	// server's trust configuration: imports the new root, accepts the new
	// client certificate, and removes the old ones.
	ReceiverAdmin Role = "receiver_admin"
	// IntegrationDeveloper is the integration developer, who stops and
	// restarts the integration flow that calls the receiver over HTTPS.
	IntegrationDeveloper Role = "integration_developer"
)

// roles lists the valid roles in the order plans present them.
var roles = []Role{TenantAdmin, ReceiverAdmin, IntegrationDeveloper}

// String returns the role as the reference writes it: "tenant
// administrator", "receiver administrator" or "integration developer"
// ("no role" for the zero Role). Its JSON form is the constant's value,
// such as "tenant_admin".
func (r Role) String() string {
	switch r {
	case TenantAdmin:
		return "tenant administrator"
	case ReceiverAdmin:
		return "receiver administrator"
	case IntegrationDeveloper:
		return "integration developer"
	case "":
		return "no role"
	}
	return fmt.Sprintf("Role(%q)", string(r))
}

func (r Role) valid() bool { return oneOf(r, roles) }

// Kind says what a step does for the role that performs it.
type Kind string

const (
	// KindAction changes something: a keystore, a truststore, a running flow.
	KindAction Kind = "action"
	// KindHandOff passes material or information to another role,
	// named in [Step.To]; the plan continues with that role.
	KindHandOff Kind = "hand_off"
	// KindGate only checks a condition, described by [Step.Gate], and
	// changes nothing. The builders attach their checks to the steps the
	// reference numbers instead (so the numbering stays the reference's);
	// the kind exists for plans that callers assemble themselves.
	KindGate Kind = "gate"
	// KindWait waits for something outside the plan, such as an agreement
	// with the role in [Step.To] or the start of a downtime window.
	KindWait Kind = "wait"
)

var kinds = []Kind{KindAction, KindHandOff, KindGate, KindWait}

// String returns the kind as a sentence says it: "action", "hand-off",
// "gate" or "wait". Its JSON form is the constant's value, such as
// "hand_off".
func (k Kind) String() string {
	if k == KindHandOff {
		return "hand-off"
	}
	if !k.valid() {
		return fmt.Sprintf("Kind(%q)", string(k))
	}
	return string(k)
}

func (k Kind) valid() bool { return oneOf(k, kinds) }

// Sequence is one of the reference's two renewal sequences. The zero
// Sequence is not a sequence.
//
// Choose [SequenceOverlap] for a receiver that can accept more than one
// client certificate for the same caller at the same time (mapping both
// the old and the new one to the same technical user) and trust more than
// one root CA for client authentication at the same time;
// [SequenceDowntime] otherwise, and when in doubt: assuming a capability
// the receiver lacks would break traffic in the middle of the overlap
// sequence, while not using one only costs a downtime window. Both
// capabilities are needed because the new certificate is signed by a
// different CA: between overlap steps 3 and 9 the receiver must accept the
// old certificate, which chains to the old root, and the new one, which
// chains to the new root.
type Sequence string

const (
	// SequenceOverlap is for a receiver that accepts the old and the new
	// client certificate at the same time (and trusts both roots): no
	// downtime. Its plan ([Build]) follows the reference's first sequence
	// step by step:
	//
	//  1. tenant administrator: create a new key pair, have it signed by the new CA
	//  2. tenant administrator: hand the new certificate and new root to the receiver administrator
	//  3. receiver administrator: trust the new root, accept the new certificate next to the old
	//  4. receiver administrator: confirm to the tenant administrator
	//  5. tenant administrator: replace the key entry under the same alias (destructive;
	//     gated before: the receiver accepts the old and the new chain)
	//  6. tenant administrator: tell the integration developer to restart
	//  7. integration developer: restart the flow on every node (gated after: every node
	//     presents the new certificate)
	//  8. tenant administrator: tell the receiver administrator the new certificate is in use
	//  9. receiver administrator: remove the old certificate and old root (destructive;
	//     gated before: nothing presents or chains to the old ones, and the receiver
	//     has seen no handshake with the old certificate for the drain period)
	SequenceOverlap Sequence = "overlap"
	// SequenceDowntime is for a receiver that accepts one client
	// certificate at a time: the flow stops inside an agreed window. Its
	// plan ([Build]) follows the reference's second sequence step by step:
	//
	//  1. tenant administrator: create a new key pair, have it signed by the new CA
	//  2. tenant administrator (with the receiver administrator): agree a downtime window
	//  3. tenant administrator: at the window's start, tell the integration developer to stop the flow
	//  4. integration developer: stop the flow (destructive)
	//  5. integration developer: confirm to the tenant administrator
	//  6. tenant administrator: replace the key entry under the same alias (destructive)
	//  7. tenant administrator: hand the new certificate and root to the receiver administrator
	//  8. receiver administrator: exchange the certificate, import the new root (destructive;
	//     gated after: the receiver accepts the new chain)
	//  9. receiver administrator: confirm to the tenant administrator
	//  10. tenant administrator: tell the integration developer to restart
	//  11. integration developer: restart the flow on every node (gated after: every node
	//     presents the new certificate)
	//  12. receiver administrator: remove the old root certificate (destructive; gated
	//     before: nothing presents or chains to the old ones)
	//
	// The reference ends at step 11 and leaves the old root trusted; step 12
	// is the overlap sequence's last step ([StepRemoveOld], with its gate), so
	// that both sequences end with one trusted root. The reference gives
	// step 2 to both administrators; the plan gives it to the tenant
	// administrator, who drives the sequence, with the receiver
	// administrator in [Step.To].
	SequenceDowntime Sequence = "downtime"
)

var sequences = []Sequence{SequenceOverlap, SequenceDowntime}

func (s Sequence) valid() bool { return oneOf(s, sequences) }

// GateKind names the condition a [Gate] checks. An executor implements one
// check per kind; the gate's description says the same for a person.
type GateKind string

const (
	// GateReceiverAcceptsBoth holds when the receiver accepts both the old
	// client chain and the new one (overlap, before the tenant swaps).
	GateReceiverAcceptsBoth GateKind = "receiver_accepts_both"
	// GateReceiverAcceptsNew holds when the receiver accepts the new client
	// chain (downtime, after the receiver swaps).
	GateReceiverAcceptsNew GateKind = "receiver_accepts_new"
	// GateNodesPresentNew holds when every runtime node presents the new
	// client certificate; a failure names the nodes that do not.
	GateNodesPresentNew GateKind = "nodes_present_new"
	// GateOldRootUnused holds when no runtime node presents the old client
	// certificate, nothing declared in use chains to the old root, and a
	// receiver that reports the handshakes it sees ([UsageObserver]) has
	// seen none presenting the old certificate for [Executor.Drain]
	// (before the old certificate and root are removed: overlap 9,
	// downtime 12).
	GateOldRootUnused GateKind = "old_root_unused"
)

var gateKinds = []GateKind{GateReceiverAcceptsBoth, GateReceiverAcceptsNew, GateNodesPresentNew, GateOldRootUnused}

// String returns a short phrase for the condition, such as "receiver
// accepts the old and the new chain", as runbooks and messages say it.
// Its JSON form is the constant's value, such as "receiver_accepts_both".
func (g GateKind) String() string {
	switch g {
	case GateReceiverAcceptsBoth:
		return "receiver accepts the old and the new chain"
	case GateReceiverAcceptsNew:
		return "receiver accepts the new chain"
	case GateNodesPresentNew:
		return "every node presents the new certificate"
	case GateOldRootUnused:
		return "old certificate and old root unused"
	}
	return fmt.Sprintf("GateKind(%q)", string(g))
}

func (g GateKind) valid() bool { return oneOf(g, gateKinds) }

// GatePoint says when a gate is checked relative to the step it is attached
// to.
type GatePoint string

const (
	// GateBefore checks the gate before the step starts: the step must not
	// run until the gate holds. Gates in front of destructive steps are of
	// this kind, so a failed gate stops the plan before the damage.
	GateBefore GatePoint = "before"
	// GateAfter checks the gate once the step is done: the plan must not
	// continue until the gate holds.
	GateAfter GatePoint = "after"
)

var gatePoints = []GatePoint{GateBefore, GateAfter}

func (p GatePoint) valid() bool { return oneOf(p, gatePoints) }

// oneOf reports whether v is one of the valid values.
func oneOf[T ~string](v T, valid []T) bool {
	for _, w := range valid {
		if v == w {
			return true
		}
	}
	return false
}

// nameList lists an enum's JSON words, for error messages: `"before",
// "after"`.
func nameList[T ~string](valid []T) string {
	s := ""
	for _, v := range valid {
		if s != "" {
			s += ", "
		}
		s += fmt.Sprintf("%q", string(v))
	}
	return s
}
