package renewal

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzPlanUnmarshalJSON feeds untrusted bytes to the plan decoder: it must
// not panic, and a plan it accepts must be valid, render without panicking
// and survive another round trip unchanged.
func FuzzPlanUnmarshalJSON(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("testdata", "*.json.golden"))
	require.NoError(f, err)
	require.NotEmpty(f, seeds)
	for _, path := range seeds {
		data, err := os.ReadFile(path)
		require.NoError(f, err)
		f.Add(data)
	}
	f.Add([]byte(`{"schema_version":1}`))
	f.Add([]byte(`{"schema_version":1,"sequence":"overlap","params":{},"steps":[]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var p Plan
		if err := json.Unmarshal(data, &p); err != nil {
			return
		}
		require.NoError(t, p.validate())
		_ = p.Markdown()
		checkMermaid(t, p.Mermaid())
		again, err := json.Marshal(&p)
		require.NoError(t, err)
		var q Plan
		require.NoError(t, json.Unmarshal(again, &q))
		assert.Equal(t, p, q)
	})
}

// FuzzBuild builds plans from arbitrary text parameters: whatever the
// builders accept renders with exactly one checklist item and one diagram
// statement per step, and encodes to JSON that decodes to the same plan.
func FuzzBuild(f *testing.F) {
	f.Add("tenant-client", "/srv/client.p12", "node-a", "CN=New Root", "change 1", true)
	f.Add("a`b", "- [ ] 99. x", "#; end", "<b>x</b>", "*", false)
	f.Add("x\ny", "", "node", "CN=x", "", true)
	f.Fuzz(func(t *testing.T, alias, keystore, node, subject, window string, overlap bool) {
		p := testParams(t)
		p.Alias, p.Keystore, p.NewRootSubject = alias, keystore, subject
		p.Nodes = []string{node, node + "-2"}
		p.Window = Window{Description: window}
		p.Receiver = &ReceiverProfile{Proxy: subject, TechnicalUser: alias}
		s := SequenceDowntime
		if overlap {
			s = SequenceOverlap
		}
		plan, err := Build(s, p)
		if err != nil {
			if !errors.Is(err, ErrInvalidParam) {
				t.Fatalf("only invalid or missing parameters are refused, got %v", err)
			}
			return
		}
		items := 0
		for _, line := range strings.Split(plan.Markdown(), "\n") {
			if mdItem.MatchString(line) {
				items++
			}
		}
		assert.Equal(t, len(plan.Steps), items)
		_, messages, notes := checkMermaid(t, plan.Mermaid())
		assert.Equal(t, len(plan.Steps)+countGates(plan), messages+notes)

		data, err := json.Marshal(plan)
		require.NoError(t, err)
		var back Plan
		require.NoError(t, json.Unmarshal(data, &back))
		assert.Equal(t, *plan, back)
	})
}

func countGates(p *Plan) int {
	n := 0
	for _, s := range p.Steps {
		if s.Gate != nil {
			n++
		}
	}
	return n
}
