package renewal

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// golden compares got with testdata/name.golden, or rewrites the file when
// the test runs with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./renewal -run Golden -update to create it")
	assert.Equal(t, string(want), got, "output differs from %s; if the change is intended, rerun with -update and review the diff", path)
}

// goldenPlans are the plans the golden files show.
func goldenPlans(t *testing.T) []struct {
	name string
	plan *Plan
} {
	t.Helper()
	var out []struct {
		name string
		plan *Plan
	}
	for _, s := range []Sequence{SequenceOverlap, SequenceDowntime} {
		for _, profile := range []bool{false, true} {
			p := testParams(t)
			name := string(s)
			if profile {
				p.Receiver = testProfile()
				name += "-proxy"
			}
			if s == SequenceOverlap {
				p.Window = Window{} // the overlap sequence has no window
			}
			out = append(out, struct {
				name string
				plan *Plan
			}{name, mustBuild(t, s, p)})
		}
	}
	return out
}

func TestGolden(t *testing.T) {
	for _, g := range goldenPlans(t) {
		t.Run(g.name, func(t *testing.T) {
			golden(t, g.name+".md", g.plan.Markdown())
			golden(t, g.name+".mmd", g.plan.Mermaid())
			data, err := json.MarshalIndent(g.plan, "", "  ")
			require.NoError(t, err)
			golden(t, g.name+".json", string(data)+"\n")
		})
	}
}

var (
	mdItem    = regexp.MustCompile(`^- \[ \] (\d+)\. (.+)$`)
	mdHeading = regexp.MustCompile(`^## (.+)$`)
)

// TestMarkdownStructure reads the runbook back: one checklist item per
// step, under the heading of its role, with hand-offs, gates and
// destructive steps marked, and every step in the order section.
func TestMarkdownStructure(t *testing.T) {
	for _, g := range goldenPlans(t) {
		t.Run(g.name, func(t *testing.T) {
			md := g.plan.Markdown()
			lines := strings.Split(md, "\n")
			assert.True(t, strings.HasPrefix(lines[0], "# Certificate renewal runbook: "+string(g.plan.Sequence)))

			section := ""
			seen := map[int]string{}
			for _, line := range lines {
				if m := mdHeading.FindStringSubmatch(line); m != nil {
					section = strings.ToLower(m[1])
					continue
				}
				if m := mdItem.FindStringSubmatch(line); m != nil {
					n, err := strconv.Atoi(m[1])
					require.NoError(t, err)
					_, dup := seen[n]
					require.False(t, dup, "step %d listed twice", n)
					seen[n] = section
				}
			}
			require.Len(t, seen, len(g.plan.Steps))
			for _, s := range g.plan.Steps {
				assert.Equal(t, s.Role.String(), seen[s.Number], "step %d is in its role's checklist", s.Number)
				assert.Contains(t, md, "\n"+strconv.Itoa(s.Number)+". "+s.Role.String(), "step %d in the order section", s.Number)
			}

			var handOffs, gates, destructive int
			for _, s := range g.plan.Steps {
				if s.Kind == KindHandOff {
					handOffs++
				}
				if s.Gate != nil {
					gates++
				}
				if s.Destructive {
					destructive++
				}
			}
			assert.Equal(t, handOffs, strings.Count(md, "  - → hand-off to "))
			assert.Equal(t, gates, strings.Count(md, "  - **Gate, checked "))
			assert.Equal(t, destructive, strings.Count(md, "  - **Destructive:**"))
			for _, n := range g.plan.Params.Nodes {
				assert.Contains(t, md, "`"+n+"`")
			}
		})
	}
}

var (
	mmParticipant = regexp.MustCompile(`^    participant (Developer|Tenant|Receiver) as (tenant administrator|receiver administrator|integration developer)$`)
	mmTextRe      = `(?:[^;#<>&"\n]|#[0-9]+;)+`
	mmMessage     = regexp.MustCompile(`^    (Developer|Tenant|Receiver)->>(Developer|Tenant|Receiver): ` + mmTextRe + `$`)
	mmNote        = regexp.MustCompile(`^    Note over (Developer|Tenant|Receiver)(?:,(Developer|Tenant|Receiver))?: ` + mmTextRe + `$`)
)

// checkMermaid checks every line against the few statements the renderer
// may write, so that no text ends a statement or starts a new one.
func checkMermaid(t *testing.T, mm string) (participants, messages, notes int) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(mm, "\n"), "\n")
	require.Equal(t, "sequenceDiagram", lines[0])
	for _, line := range lines[1:] {
		switch {
		case mmParticipant.MatchString(line):
			participants++
		case mmMessage.MatchString(line):
			messages++
		case mmNote.MatchString(line):
			notes++
		default:
			t.Errorf("not a statement the renderer writes: %q", line)
		}
	}
	return participants, messages, notes
}

func TestMermaidStructure(t *testing.T) {
	for _, g := range goldenPlans(t) {
		t.Run(g.name, func(t *testing.T) {
			mm := g.plan.Mermaid()
			participants, messages, notes := checkMermaid(t, mm)
			assert.Equal(t, 3, participants)
			var handOffs, others, gates int
			for _, s := range g.plan.Steps {
				if s.Kind == KindHandOff {
					handOffs++
				} else {
					others++
				}
				if s.Gate != nil {
					gates++
				}
			}
			assert.Equal(t, handOffs, messages)
			assert.Equal(t, others+gates, notes)
			for _, s := range g.plan.Steps {
				assert.Contains(t, mm, ": "+strconv.Itoa(s.Number)+". ", "step %d", s.Number)
			}
			assert.Contains(t, mm, "    participant Developer as integration developer\n    participant Tenant as tenant administrator\n    participant Receiver as receiver administrator\n")
		})
	}
}

// TestGateOrderInMermaid: a gate checked before its step is drawn before
// it, one checked after is drawn after it.
func TestGateOrderInMermaid(t *testing.T) {
	mm := mustBuild(t, SequenceOverlap, testParams(t)).Mermaid()
	before := strings.Index(mm, "gate before step 5")
	step := strings.Index(mm, ": 5. ")
	after := strings.Index(mm, "gate after step 7")
	restart := strings.Index(mm, ": 7. ")
	require.True(t, before >= 0 && step >= 0 && after >= 0 && restart >= 0)
	assert.Less(t, before, step)
	assert.Less(t, restart, after)
}

// hostile is text that would add structure if it were printed as it is.
var hostile = []string{
	"x\n## Injected heading",
	"- [ ] 99. fake step",
	"99. fake ordered item",
	"# heading",
	"[click](https://evil.example) ![img](x)",
	"<script>alert(1)</script> &amp;",
	"`code` and ``more``",
	"*bold* _em_ ~~strike~~ | pipe \\ backslash",
	"  - nested",
	"end; Tenant->>Receiver: injected #35; %%{init}%%",
	"wrap:text\r\nNote over Tenant: second",
	"\u2028line separator",
}

// TestRenderHostilePlan renders a plan built by hand, which no validation
// has seen, with hostile text everywhere, and checks that the structure of
// both outputs is still exactly the plan's.
func TestRenderHostilePlan(t *testing.T) {
	for i, h := range hostile {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			plan := &Plan{
				SchemaVersion: schemaVersion,
				Sequence:      SequenceOverlap,
				Params: Params{
					Alias: h, Keystore: h, KeystoreFormat: h, Truststore: h, Nodes: []string{h, h},
					OldFingerprint: h, NewFingerprint: h, OldRootSubject: h, NewRootSubject: h,
					Receiver: &ReceiverProfile{Proxy: h, TechnicalUser: h},
				},
				Steps: []Step{
					{Number: 1, ID: StepID(h), Role: TenantAdmin, Kind: KindHandOff, To: ReceiverAdmin, Title: h, Detail: h, Tasks: []string{h}},
					{Number: 2, ID: "b", Role: ReceiverAdmin, Kind: KindAction, Title: h, Detail: h, Destructive: true,
						Gate: &Gate{Kind: GateOldRootUnused, When: GateBefore, Description: h}},
					{Number: 3, ID: "c", Role: IntegrationDeveloper, Kind: KindWait, To: TenantAdmin, Title: h,
						Gate: &Gate{Kind: GateNodesPresentNew, When: GateAfter, Description: h}},
				},
			}

			md := plan.Markdown()
			var items, headings int
			for _, line := range strings.Split(md, "\n") {
				if mdItem.MatchString(line) {
					items++
				}
				if strings.HasPrefix(line, "#") {
					headings++
				}
				assert.NotContains(t, withoutCodeSpans(line), "<script>")
				assert.False(t, strings.HasPrefix(line, "99"), "line %q", line)
				assert.False(t, strings.HasPrefix(strings.TrimLeft(line, " "), "- - "), "line %q", line)
			}
			assert.Equal(t, 3, items, "one checklist item per step:\n%s", md)
			// Title, Parameters, Order of steps, and three roles.
			assert.Equal(t, 6, headings, "no injected headings:\n%s", md)

			_, messages, notes := checkMermaid(t, plan.Mermaid())
			assert.Equal(t, 1, messages)
			assert.Equal(t, 4, notes)
		})
	}
}

// withoutCodeSpans drops the code spans of a Markdown line, where every
// character is literal, so that a test can look at the rest.
func withoutCodeSpans(line string) string {
	var b strings.Builder
	for i := 0; i < len(line); {
		if line[i] != '`' {
			b.WriteByte(line[i])
			i++
			continue
		}
		n := 0
		for i+n < len(line) && line[i+n] == '`' {
			n++
		}
		fence := line[i : i+n]
		end := -1
		for j := i + n; j < len(line); {
			k := strings.Index(line[j:], fence)
			if k < 0 {
				break
			}
			k += j
			m := 0
			for k+m < len(line) && line[k+m] == '`' {
				m++
			}
			if m == n {
				end = k
				break
			}
			j = k + m
		}
		if end < 0 {
			b.WriteString(fence)
			i += n
			continue
		}
		i = end + n
	}
	return b.String()
}

func TestWithoutCodeSpans(t *testing.T) {
	assert.Equal(t, "a  c", withoutCodeSpans("a `b` c"))
	assert.Equal(t, "a  d", withoutCodeSpans("a ``b`c`` d"))
	assert.Equal(t, "a `b", withoutCodeSpans("a `b"))
}

func TestMdText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain text, with: punctuation.", "plain text, with: punctuation."},
		{"- item", `\- item`},
		{"+ item", `\+ item`},
		{"# h", `\# h`},
		{"12. item", `12\. item`},
		{"3) item", `3\) item`},
		{"a 1. b", "a 1. b"},
		{"#tag in text", `\#tag in text`},
		{"text #tag", "text #tag"},
		{"a_b*c`d[e]f<g>h&i~j|k\\l", `a\_b\*c\` + "`" + `d\[e\]f\<g\>h\&i\~j\|k\\l`},
		{"  - lead", `\- lead`},
		{"line\nbreak", "line break"},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			assert.Equal(t, tt.want, mdText(tt.in))
		})
	}
}

func TestMdCode(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "`plain`"},
		{"a`b", "``a`b``"},
		{"a``b`c", "```a``b`c```"},
		{"`lead", "`` `lead ``"},
		{"trail ", "` trail  `"},
		{"a\nb", "`a b`"},
		{"", "``"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			assert.Equal(t, tt.want, mdCode(tt.in))
		})
	}
}

func TestMermaidEscape(t *testing.T) {
	assert.Equal(t, "a#59; b#35;c #60;x#62; #38; #34;q#34;", mmText(`a; b#c <x> & "q"`))
	assert.Equal(t, "line break", mmText("line\nbreak"))
}
