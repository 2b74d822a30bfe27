package renewal

import "fmt"

// Role is a person (or the automation acting for one) who performs steps of
// a plan. The roles are the reference's: see its "Involved Roles" page.
//
// The zero Role means "no role"; it appears only in [Step.To] of a step that
// neither hands off to nor waits on anyone.
type Role int

const (
	// TenantAdmin is the tenant administrator, who owns the tenant's client
	// keystore: creates the new key pair, gets it signed, and replaces the
	// key entry.
	TenantAdmin Role = iota + 1
	// ReceiverAdmin is the receiver administrator, who owns the receiving
	// server's trust configuration: imports the new root, accepts the new
	// client certificate, and removes the old ones.
	ReceiverAdmin
	// IntegrationDeveloper is the integration developer, who stops and
	// restarts the integration flow that calls the receiver over HTTPS.
	IntegrationDeveloper
)

// roles lists the valid roles in the order plans present them.
var roles = []Role{TenantAdmin, ReceiverAdmin, IntegrationDeveloper}

// String returns the role as the reference writes it: "tenant
// administrator", "receiver administrator" or "integration developer".
func (r Role) String() string {
	switch r {
	case TenantAdmin:
		return "tenant administrator"
	case ReceiverAdmin:
		return "receiver administrator"
	case IntegrationDeveloper:
		return "integration developer"
	case 0:
		return "no role"
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

func (r Role) valid() bool { return r >= TenantAdmin && r <= IntegrationDeveloper }

var roleNames = map[Role]string{
	TenantAdmin:          "tenant_admin",
	ReceiverAdmin:        "receiver_admin",
	IntegrationDeveloper: "integration_developer",
}

// MarshalText returns the role's stable JSON name: "tenant_admin",
// "receiver_admin" or "integration_developer". The zero Role and unknown
// values are an error, so that a plan never serialises a role a reader
// cannot act on.
func (r Role) MarshalText() ([]byte, error) { return marshalEnum("role", r, roleNames) }

// UnmarshalText parses a name written by [Role.MarshalText].
func (r *Role) UnmarshalText(b []byte) error { return unmarshalEnum("role", r, roleNames, b) }

// Kind says what a step does for the role that performs it.
type Kind int

const (
	// KindAction changes something: a keystore, a truststore, a running flow.
	KindAction Kind = iota + 1
	// KindHandOff passes material or information to another role,
	// named in [Step.To]; the plan continues with that role.
	KindHandOff
	// KindGate only checks a condition, described by [Step.Gate], and
	// changes nothing. The builders attach their checks to the steps the
	// reference numbers instead (so the numbering stays the reference's);
	// the kind exists for plans that callers assemble themselves.
	KindGate
	// KindWait waits for something outside the plan, such as an agreement
	// with the role in [Step.To] or the start of a downtime window.
	KindWait
)

// String returns "action", "hand-off", "gate" or "wait".
func (k Kind) String() string {
	switch k {
	case KindAction:
		return "action"
	case KindHandOff:
		return "hand-off"
	case KindGate:
		return "gate"
	case KindWait:
		return "wait"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

func (k Kind) valid() bool { return k >= KindAction && k <= KindWait }

var kindNames = map[Kind]string{
	KindAction:  "action",
	KindHandOff: "hand_off",
	KindGate:    "gate",
	KindWait:    "wait",
}

// MarshalText returns the kind's stable JSON name: "action", "hand_off",
// "gate" or "wait".
func (k Kind) MarshalText() ([]byte, error) { return marshalEnum("kind", k, kindNames) }

// UnmarshalText parses a name written by [Kind.MarshalText].
func (k *Kind) UnmarshalText(b []byte) error { return unmarshalEnum("kind", k, kindNames, b) }

// Sequence is one of the reference's two renewal sequences. The zero
// Sequence is not a sequence; [Choose] never returns it.
type Sequence int

const (
	// SequenceOverlap is for a receiver that accepts the old and the new
	// client certificate at the same time (and trusts both roots): no
	// downtime, 9 steps. See [Overlap].
	SequenceOverlap Sequence = iota + 1
	// SequenceDowntime is for a receiver that accepts one client
	// certificate at a time: the flow stops inside an agreed window,
	// 12 steps. See [Downtime].
	SequenceDowntime
)

// String returns "overlap" or "downtime".
func (s Sequence) String() string {
	switch s {
	case SequenceOverlap:
		return "overlap"
	case SequenceDowntime:
		return "downtime"
	}
	return fmt.Sprintf("Sequence(%d)", int(s))
}

func (s Sequence) valid() bool { return s == SequenceOverlap || s == SequenceDowntime }

var sequenceNames = map[Sequence]string{
	SequenceOverlap:  "overlap",
	SequenceDowntime: "downtime",
}

// MarshalText returns "overlap" or "downtime".
func (s Sequence) MarshalText() ([]byte, error) {
	return marshalEnum("sequence", s, sequenceNames)
}

// UnmarshalText parses a name written by [Sequence.MarshalText].
func (s *Sequence) UnmarshalText(b []byte) error {
	return unmarshalEnum("sequence", s, sequenceNames, b)
}

// GateKind names the condition a [Gate] checks. An executor implements one
// check per kind; the gate's description says the same for a person.
type GateKind int

const (
	// GateReceiverAcceptsBoth holds when the receiver accepts both the old
	// client chain and the new one (overlap, before the tenant swaps).
	GateReceiverAcceptsBoth GateKind = iota + 1
	// GateReceiverAcceptsNew holds when the receiver accepts the new client
	// chain (downtime, after the receiver swaps).
	GateReceiverAcceptsNew
	// GateNodesPresentNew holds when every runtime node presents the new
	// client certificate; a failure names the nodes that do not.
	GateNodesPresentNew
	// GateOldRootUnused holds when no runtime node presents the old client
	// certificate, nothing declared in use chains to the old root, and a
	// receiver that reports the handshakes it sees ([UsageObserver]) has
	// seen none presenting the old certificate for [Executor.Drain]
	// (before the old certificate and root are removed: overlap 9,
	// downtime 12).
	GateOldRootUnused
)

// String returns a short phrase for the condition, such as "receiver
// accepts the old and the new chain".
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
	return fmt.Sprintf("GateKind(%d)", int(g))
}

func (g GateKind) valid() bool { return g >= GateReceiverAcceptsBoth && g <= GateOldRootUnused }

var gateKindNames = map[GateKind]string{
	GateReceiverAcceptsBoth: "receiver_accepts_both",
	GateReceiverAcceptsNew:  "receiver_accepts_new",
	GateNodesPresentNew:     "nodes_present_new",
	GateOldRootUnused:       "old_root_unused",
}

// MarshalText returns the gate kind's stable JSON name, such as
// "receiver_accepts_both".
func (g GateKind) MarshalText() ([]byte, error) {
	return marshalEnum("gate kind", g, gateKindNames)
}

// UnmarshalText parses a name written by [GateKind.MarshalText].
func (g *GateKind) UnmarshalText(b []byte) error {
	return unmarshalEnum("gate kind", g, gateKindNames, b)
}

// GatePoint says when a gate is checked relative to the step it is attached
// to.
type GatePoint int

const (
	// GateBefore checks the gate before the step starts: the step must not
	// run until the gate holds. Gates in front of destructive steps are of
	// this kind, so a failed gate stops the plan before the damage.
	GateBefore GatePoint = iota + 1
	// GateAfter checks the gate once the step is done: the plan must not
	// continue until the gate holds.
	GateAfter
)

// String returns "before" or "after".
func (p GatePoint) String() string {
	switch p {
	case GateBefore:
		return "before"
	case GateAfter:
		return "after"
	}
	return fmt.Sprintf("GatePoint(%d)", int(p))
}

func (p GatePoint) valid() bool { return p == GateBefore || p == GateAfter }

var gatePointNames = map[GatePoint]string{GateBefore: "before", GateAfter: "after"}

// MarshalText returns "before" or "after".
func (p GatePoint) MarshalText() ([]byte, error) {
	return marshalEnum("gate point", p, gatePointNames)
}

// UnmarshalText parses a name written by [GatePoint.MarshalText].
func (p *GatePoint) UnmarshalText(b []byte) error {
	return unmarshalEnum("gate point", p, gatePointNames, b)
}

func marshalEnum[T ~int](what string, v T, names map[T]string) ([]byte, error) {
	name, ok := names[v]
	if !ok {
		return nil, fmt.Errorf("renewal: cannot encode %s %d: expected one of %s: %w", what, int(v), nameList(names), ErrInvalidPlan)
	}
	return []byte(name), nil
}

func unmarshalEnum[T ~int](what string, v *T, names map[T]string, b []byte) error {
	for k, name := range names {
		if name == string(b) {
			*v = k
			return nil
		}
	}
	return fmt.Errorf("renewal: unknown %s %q: expected one of %s: %w", what, b, nameList(names), ErrInvalidPlan)
}

// nameList lists an enum's names in value order, for error messages.
func nameList[T ~int](names map[T]string) string {
	s := ""
	for v := T(1); ; v++ {
		name, ok := names[v]
		if !ok {
			return s
		}
		if s != "" {
			s += ", "
		}
		s += fmt.Sprintf("%q", name)
	}
}
