package renewal

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestChoose(t *testing.T) {
	tests := []struct {
		name string
		c    Capabilities
		want Sequence
	}{
		{name: "nothing known", c: Capabilities{}, want: SequenceDowntime},
		{name: "several certificates, one root", c: Capabilities{MultipleClientCertificates: true}, want: SequenceDowntime},
		{name: "several roots, one certificate", c: Capabilities{MultipleRoots: true}, want: SequenceDowntime},
		{name: "several certificates and roots", c: Capabilities{MultipleClientCertificates: true, MultipleRoots: true}, want: SequenceOverlap},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Choose(tt.c)
			assert.Equal(t, tt.want, got)
			plan, err := Build(got, testParams(t))
			if assert.NoError(t, err) {
				assert.Equal(t, tt.want, plan.Sequence)
			}
		})
	}
}

func TestEnumStrings(t *testing.T) {
	tests := []struct {
		name string
		v    interface{ String() string }
		want string
	}{
		{"tenant", TenantAdmin, "tenant administrator"},
		{"receiver", ReceiverAdmin, "receiver administrator"},
		{"developer", IntegrationDeveloper, "integration developer"},
		{"no role", Role(0), "no role"},
		{"bad role", Role(7), "Role(7)"},
		{"action", KindAction, "action"},
		{"hand-off", KindHandOff, "hand-off"},
		{"gate", KindGate, "gate"},
		{"wait", KindWait, "wait"},
		{"bad kind", Kind(0), "Kind(0)"},
		{"overlap", SequenceOverlap, "overlap"},
		{"downtime", SequenceDowntime, "downtime"},
		{"bad sequence", Sequence(0), "Sequence(0)"},
		{"gate both", GateReceiverAcceptsBoth, "receiver accepts the old and the new chain"},
		{"gate new", GateReceiverAcceptsNew, "receiver accepts the new chain"},
		{"gate nodes", GateNodesPresentNew, "every node presents the new certificate"},
		{"gate old", GateOldRootUnused, "old certificate and old root unused"},
		{"bad gate", GateKind(5), "GateKind(5)"},
		{"before", GateBefore, "before"},
		{"after", GateAfter, "after"},
		{"bad point", GatePoint(0), "GatePoint(0)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.v.String())
		})
	}
}
