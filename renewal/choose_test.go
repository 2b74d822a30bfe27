package renewal

import (
	"fmt"

	"testing"

	"github.com/stretchr/testify/assert"
)

func TestEnumStrings(t *testing.T) {
	// Role prints as the reference writes it; the other choices print as
	// their JSON words, and runbooks and messages use their phrases.
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"tenant", TenantAdmin.String(), "tenant administrator"},
		{"receiver", ReceiverAdmin.String(), "receiver administrator"},
		{"developer", IntegrationDeveloper.String(), "integration developer"},
		{"no role", Role("").String(), "no role"},
		{"bad role", Role("7").String(), `Role("7")`},
		{"action", KindAction.String(), "action"},
		{"hand-off", KindHandOff.String(), "hand-off"},
		{"gate", KindGate.String(), "gate"},
		{"wait", KindWait.String(), "wait"},
		{"bad kind", Kind("").String(), `Kind("")`},
		{"overlap", fmt.Sprint(SequenceOverlap), "overlap"},
		{"downtime", fmt.Sprint(SequenceDowntime), "downtime"},
		{"bad sequence", fmt.Sprint(Sequence("")), ""},
		{"gate both", GateReceiverAcceptsBoth.String(), "receiver accepts the old and the new chain"},
		{"gate new", GateReceiverAcceptsNew.String(), "receiver accepts the new chain"},
		{"gate nodes", GateNodesPresentNew.String(), "every node presents the new certificate"},
		{"gate old", GateOldRootUnused.String(), "old certificate and old root unused"},
		{"bad gate", GateKind("5").String(), `GateKind("5")`},
		{"before", fmt.Sprint(GateBefore), "before"},
		{"after", fmt.Sprint(GateAfter), "after"},
		{"bad point", fmt.Sprint(GatePoint("")), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.got)
		})
	}
}
