package renewal

import (
	"fmt"
	"strings"
	"unicode"
)

// mermaidIDs are the participant identifiers of the roles, in the order the
// diagram draws them: the tenant administrator in the middle, because every
// hand-off goes to or comes from them.
var mermaidIDs = []struct {
	role Role
	id   string
}{
	{IntegrationDeveloper, "Developer"},
	{TenantAdmin, "Tenant"},
	{ReceiverAdmin, "Receiver"},
}

func mermaidID(r Role) string {
	for _, m := range mermaidIDs {
		if m.role == r {
			return m.id
		}
	}
	return "Unknown"
}

// Mermaid renders the plan as a Mermaid sequence diagram: the roles are the
// participants, a hand-off is a message from one role to another, an action
// is a note over the role that performs it, a wait is a note over both roles
// involved, and each gate is a note placed before or after its step.
// Destructive steps end in "(destructive)".
//
// Diagram text shows only titles, never details, and is escaped with
// Mermaid's entity codes (#59; for ';', #35; for '#', and so on), so no text
// can end a statement or inject markup. The output is deterministic.
func (p *Plan) Mermaid() string {
	var b strings.Builder
	b.WriteString("sequenceDiagram\n")
	used := p.roles()
	for _, m := range mermaidIDs {
		for _, r := range used {
			if r == m.role {
				fmt.Fprintf(&b, "    participant %s as %s\n", m.id, r)
			}
		}
	}
	gate := func(s *Step) {
		g := s.Gate
		fmt.Fprintf(&b, "    Note over %s: %s\n", mermaidID(s.Role),
			mmText(fmt.Sprintf("gate %s step %d: %s", g.When, s.Number, g.Kind.String())))
	}
	for i := range p.Steps {
		s := &p.Steps[i]
		if s.Gate != nil && s.Gate.When == GateBefore {
			gate(s)
		}
		label := fmt.Sprintf("%d. %s", s.Number, s.Title)
		if s.Destructive {
			label += " (destructive)"
		}
		label = mmText(label)
		from := mermaidID(s.Role)
		switch {
		case s.Kind == KindHandOff && s.To.valid() && s.To != s.Role:
			fmt.Fprintf(&b, "    %s->>%s: %s\n", from, mermaidID(s.To), label)
		case s.Kind == KindWait && s.To.valid() && s.To != s.Role:
			fmt.Fprintf(&b, "    Note over %s,%s: %s\n", from, mermaidID(s.To), label)
		default:
			fmt.Fprintf(&b, "    Note over %s: %s\n", from, label)
		}
		if s.Gate != nil && s.Gate.When != GateBefore {
			gate(s)
		}
	}
	return b.String()
}

// mmText escapes text for a Mermaid sequence diagram message or note. The
// grammar ends a statement at ';' or a line break and reads '#' as the start
// of an entity code; '<', '>', '&' and '"' would reach the renderer as
// HTML. Each becomes the entity code for its character; control characters,
// which valid plans never contain, become spaces.
func mmText(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch r {
		case '#', ';', '<', '>', '&', '"':
			fmt.Fprintf(&b, "#%d;", r)
		default:
			if unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp) {
				b.WriteByte(' ')
				continue
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}
