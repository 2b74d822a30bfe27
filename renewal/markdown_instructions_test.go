package renewal

import (
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// stepInstructor returns fixed lines for the steps it knows.
type stepInstructor map[StepID][]string

func (s stepInstructor) Instructions(step Step) []string { return s[step.ID] }

// section returns the checklist item of step n in the runbook md: from
// its "- [ ] n. " line to the next item or heading.
func section(t *testing.T, md string, n int) string {
	t.Helper()
	start := strings.Index(md, "\n- [ ] "+strconv.Itoa(n)+". ")
	require.GreaterOrEqual(t, start, 0, "step %d", n)
	rest := md[start+1:]
	end := len(rest)
	for _, stop := range []string{"\n- [ ] ", "\n## "} {
		if i := strings.Index(rest[1:], stop); i >= 0 && i+2 < end {
			end = i + 2 // through the newline that ends the item
		}
	}
	return rest[:end]
}

func TestMarkdownWithAdapters(t *testing.T) {
	for _, g := range goldenPlans(t) {
		t.Run(g.name, func(t *testing.T) {
			// Values that are not instructors change nothing: the goldens
			// stay what they are.
			assert.Equal(t, g.plan.Markdown(), g.plan.Markdown(nil, 42, "a string", struct{}{}))

			ca := stepInstructor{StepGenerateKey: {"# Sign the request:", "openssl x509 -req -in request.csr -out reply.pem"}}
			rt := stepInstructor{StepRestartNodes: {"systemctl restart flow@node-a", "systemctl restart flow@node-b"}}
			md := g.plan.Markdown(ca, rt, 42)
			gen := section(t, md, 1)
			assert.Contains(t, gen, "  - By hand:\n    - Sign the request:\n    - `openssl x509 -req -in request.csr -out reply.pem`\n")
			var restart int
			for _, s := range g.plan.Steps {
				if s.ID == StepRestartNodes {
					restart = s.Number
				}
			}
			sec := section(t, md, restart)
			assert.Contains(t, sec, "    - `systemctl restart flow@node-a`\n    - `systemctl restart flow@node-b`\n")
			assert.NotContains(t, sec, "openssl")
			assert.Equal(t, 2, strings.Count(md, "By hand:"), "only under the two steps")
			// Everything else is as without adapters.
			stripped := strings.Replace(md, "  - By hand:\n    - Sign the request:\n    - `openssl x509 -req -in request.csr -out reply.pem`\n", "", 1)
			stripped = strings.Replace(stripped, "  - By hand:\n    - `systemctl restart flow@node-a`\n    - `systemctl restart flow@node-b`\n", "", 1)
			assert.Equal(t, g.plan.Markdown(), stripped)
		})
	}
}

func TestMarkdownInstructionsEscaped(t *testing.T) {
	g := goldenPlans(t)[0]
	md := g.plan.Markdown(stepInstructor{StepGenerateKey: {"# ## not a heading [link](x)", "echo `x` | cat\n- [ ] 99. injected"}})
	sec := section(t, md, 1)
	assert.Contains(t, sec, "    - \\## not a heading \\[link\\](x)\n")
	assert.Contains(t, sec, "    - ``echo `x` | cat - [ ] 99. injected``\n")
	assert.NotContains(t, md, "\n- [ ] 99.")
}
