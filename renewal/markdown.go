package renewal

import (
	"fmt"
	"strings"
	"unicode"
)

// Markdown renders the plan as a runbook in CommonMark (with GitHub's task
// list items): a header with the parameters, the order of all steps, then
// one checklist per role, each item carrying the step's reference number
// so that people working through separate checklists stay in order.
// Hand-offs, waits, destructive steps and gates are marked in words.
//
// Text from the plan is escaped, so a title or value cannot start a new
// list item, heading or link; parameter values are printed as code spans.
// The output is deterministic: the same plan gives the same bytes.
//
// The adapters, if any, are the executor's CA, Receiver and Runtime (or
// any other value): under each step, Markdown prints what those that
// implement [Instructor] return for it, headed "By hand:", so that a
// person can follow the runbook with the chosen adapters' own commands.
// Values that do not implement it are ignored, and without any the output
// is the same as before adapters could be given.
func (p *Plan) Markdown(adapters ...any) string {
	var ins []Instructor
	for _, a := range adapters {
		if i, ok := a.(Instructor); ok && i != nil {
			ins = append(ins, i)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Certificate renewal runbook: %s sequence\n\n", p.Sequence)
	switch p.Sequence {
	case SequenceOverlap:
		b.WriteString("The tenant's client certificate is replaced by one signed by a different CA. " +
			"The receiver accepts the old and the new client certificate at the same time, so traffic does not stop.\n\n")
	case SequenceDowntime:
		b.WriteString("The tenant's client certificate is replaced by one signed by a different CA. " +
			"The receiver accepts only one client certificate at a time, so the integration flow is stopped during an agreed downtime window.\n\n")
	}

	b.WriteString("## Parameters\n\n")
	p.Params.markdown(&b, p.Sequence)

	b.WriteString("\n## Order of steps\n\n")
	for _, s := range p.Steps {
		fmt.Fprintf(&b, "%d. %s", s.Number, s.Role)
		if s.To.valid() {
			fmt.Fprintf(&b, " → %s", s.To)
		}
		fmt.Fprintf(&b, ": %s", mdText(s.Title))
		var marks []string
		if s.Destructive {
			marks = append(marks, "destructive")
		}
		if s.Gate != nil {
			marks = append(marks, "gate "+string(s.Gate.When))
		}
		if len(marks) > 0 {
			fmt.Fprintf(&b, " (%s)", strings.Join(marks, ", "))
		}
		b.WriteString("\n")
	}

	for _, r := range p.roles() {
		fmt.Fprintf(&b, "\n## %s%s\n\n", strings.ToUpper(r.String()[:1]), r.String()[1:])
		n := 0
		for i, s := range p.Steps {
			if s.Role != r {
				continue
			}
			n++
			var prev *Step
			if i > 0 {
				prev = &p.Steps[i-1]
			}
			var lines []string
			for _, in := range ins {
				lines = append(lines, in.Instructions(s)...)
			}
			s.markdown(&b, prev, lines)
		}
		if n == 0 {
			b.WriteString("No steps of their own; they receive the hand-offs above.\n")
		}
	}
	return b.String()
}

func (p *Params) markdown(b *strings.Builder, s Sequence) {
	item := func(name, value string) { fmt.Fprintf(b, "- %s: %s\n", name, value) }
	fp := func(h string) string { return "SHA-256 " + mdCode(displayFingerprint(h)) }
	root := func(subject, h string) string {
		switch {
		case subject != "" && h != "":
			return mdCode(subject) + " (" + fp(h) + ")"
		case subject != "":
			return mdCode(subject)
		case h != "":
			return fp(h)
		}
		return "not given"
	}

	item("Sequence", string(s))
	item("Alias", mdCode(p.Alias))
	ks := mdCode(p.Keystore)
	if p.KeystoreFormat != "" {
		ks += " (" + mdCode(p.KeystoreFormat) + ")"
	}
	item("Keystore", ks)
	if p.Truststore != "" {
		item("Receiver truststore", mdCode(p.Truststore))
	} else {
		item("Receiver truststore", "not named")
	}
	nodes := make([]string, len(p.Nodes))
	for i, n := range p.Nodes {
		nodes[i] = mdCode(n)
	}
	item("Runtime nodes", strings.Join(nodes, ", "))
	item("Old client certificate", fp(p.OldFingerprint))
	if p.NewFingerprint != "" {
		item("New client certificate", fp(p.NewFingerprint))
	} else {
		item("New client certificate", "not yet known: record its fingerprint at step 1")
	}
	item("Old root", root(p.OldRootSubject, p.OldRootFingerprint))
	item("New root", root(p.NewRootSubject, p.NewRootFingerprint))
	if s == SequenceDowntime {
		item("Downtime window", mdCode(p.Window.String()))
	}
	if r := p.Receiver; r != nil {
		var parts []string
		add := func(name, v string) {
			if v != "" {
				parts = append(parts, name+" "+mdCode(v))
			}
		}
		add("reverse proxy", r.Proxy)
		add("proxy farm", r.ProxyFarm)
		add("farm operated by", r.ProxyOperator)
		add("back end", r.Backend)
		add("trust list", r.TrustList)
		add("technical user", r.TechnicalUser)
		if len(parts) == 0 {
			parts = append(parts, "a back end behind a reverse proxy")
		}
		item("Receiver", strings.Join(parts, ", "))
	}
}

// markdown writes one checklist item; prev is the step before s in the
// plan, or nil, and byHand the adapters' instructions for s.
func (s *Step) markdown(b *strings.Builder, prev *Step, byHand []string) {
	fmt.Fprintf(b, "- [ ] %d. %s\n", s.Number, mdText(s.Title))
	sub := func(format string, args ...any) {
		b.WriteString("  - ")
		fmt.Fprintf(b, format, args...)
		b.WriteString("\n")
	}
	if prev != nil && prev.Role != s.Role {
		sub("Start after step %d (%s).", prev.Number, prev.Role)
	}
	switch {
	case s.Kind == KindHandOff && s.To.valid():
		sub("→ hand-off to %s", s.To)
	case s.Kind == KindWait && s.To.valid():
		sub("⏸ waits on %s", s.To)
	case s.Kind == KindWait:
		sub("⏸ wait")
	case s.Kind == KindGate:
		sub("Check only: changes nothing.")
	}
	if s.Destructive {
		switch {
		case s.Gate != nil && s.Gate.When == GateBefore:
			sub("**Destructive:** do it once, and only after the gate below has passed.")
		case prev != nil:
			sub("**Destructive:** do it once, and not before step %d is done.", prev.Number)
		default:
			sub("**Destructive:** do it once.")
		}
	}
	if g := s.Gate; g != nil && g.When == GateBefore {
		sub("**Gate, checked before this step** (%s): %s", g.Kind.String(), mdText(g.Description))
	}
	if s.Detail != "" {
		sub("%s", mdText(s.Detail))
	}
	for _, t := range s.Tasks {
		sub("[ ] %s", mdText(t))
	}
	if len(byHand) > 0 {
		sub("By hand:")
		for _, l := range byHand {
			// A line starting with "#" explains; the others are commands,
			// printed as code so that they can be copied as they are.
			if c, ok := strings.CutPrefix(l, "#"); ok {
				fmt.Fprintf(b, "    - %s\n", mdText(c))
			} else {
				fmt.Fprintf(b, "    - %s\n", mdCode(l))
			}
		}
	}
	if g := s.Gate; g != nil && g.When != GateBefore {
		sub("**Gate, checked after this step** (%s): %s", g.Kind.String(), mdText(g.Description))
	}
}

// mdText escapes plain text for use inside a Markdown paragraph or list
// item: the characters that start emphasis, code, links, HTML and entities
// are backslash-escaped, and so is a leading character that would start a
// block (a list item, heading, quote or thematic break). Control characters,
// which parameters and valid plans never contain, become spaces.
func mdText(s string) string {
	// Leading spaces would let "- x" after a list marker start a nested
	// list, and trailing ones make a hard line break; neither means
	// anything in a plan's text.
	s = strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp) {
			return ' '
		}
		return r
	}, s))
	var b strings.Builder
	b.Grow(len(s) + len(s)/8)
	for i, r := range s {
		switch r {
		case '\\', '`', '*', '_', '[', ']', '<', '>', '&', '~', '|':
			b.WriteByte('\\')
		case '#', '+', '-', '=', '!':
			if i == 0 {
				b.WriteByte('\\')
			}
		case '.', ')':
			// "12. text" or "3) text" at the start would be an ordered list.
			if i > 0 && isDigits(s[:i]) {
				b.WriteByte('\\')
			}
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// mdCode returns s as a Markdown code span: a backtick fence longer than
// any run of backticks inside s, padded with spaces when s starts or ends
// with a backtick or a space (CommonMark strips one space from each side).
//
// Control characters, which valid parameters never contain, become spaces,
// so that a value cannot end the line it is printed on.
func mdCode(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp) {
			return ' '
		}
		return r
	}, s)
	longest, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if s != "" && (s[0] == '`' || s[len(s)-1] == '`' || s[0] == ' ' || s[len(s)-1] == ' ') {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}
