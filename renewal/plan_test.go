package renewal

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// refStep is a step as the reference lists it: its number (the position in
// the table), the role that performs it, and where a hand-off goes.
type refStep struct {
	id          StepID
	role        Role
	kind        Kind
	to          Role
	destructive bool
	gate        GateKind
	when        GatePoint
}

// The reference's "Receiver Accepts Different Certificates at the same
// Time", steps 1-9.
var overlapRef = []refStep{
	{id: StepGenerateKey, role: TenantAdmin, kind: KindAction},                             // 1 creates new certificate
	{id: StepHandOverCertificate, role: TenantAdmin, kind: KindHandOff, to: ReceiverAdmin}, // 2 provides receiver admin
	{id: StepReceiverAcceptBoth, role: ReceiverAdmin, kind: KindAction},                    // 3 configures receiver
	{id: StepConfirmAcceptBoth, role: ReceiverAdmin, kind: KindHandOff, to: TenantAdmin},   // 4 informs tenant admin
	{id: StepSwapEntry, role: TenantAdmin, kind: KindAction, destructive: true, // 5 exchanges key pair
		gate: GateReceiverAcceptsBoth, when: GateBefore},
	{id: StepNotifyRestart, role: TenantAdmin, kind: KindHandOff, to: IntegrationDeveloper}, // 6 informs developer
	{id: StepRestartNodes, role: IntegrationDeveloper, kind: KindAction, // 7 restarts the flow
		gate: GateNodesPresentNew, when: GateAfter},
	{id: StepNotifyNewInUse, role: TenantAdmin, kind: KindHandOff, to: ReceiverAdmin}, // 8 informs receiver admin
	{id: StepRemoveOld, role: ReceiverAdmin, kind: KindAction, destructive: true, // 9 removes old cert and root
		gate: GateOldRootUnused, when: GateBefore},
}

// The reference's "Receiver does not Accept Different Certificates at the
// same Time", steps 1-11.
var downtimeRef = []refStep{
	{id: StepGenerateKey, role: TenantAdmin, kind: KindAction},                               // 1 creates new certificate
	{id: StepAgreeWindow, role: TenantAdmin, kind: KindWait, to: ReceiverAdmin},              // 2 both agree a window
	{id: StepNotifyStop, role: TenantAdmin, kind: KindHandOff, to: IntegrationDeveloper},     // 3 informs developer: stop
	{id: StepStopFlow, role: IntegrationDeveloper, kind: KindAction, destructive: true},      // 4 stops the flow
	{id: StepConfirmStopped, role: IntegrationDeveloper, kind: KindHandOff, to: TenantAdmin}, // 5 informs tenant admin
	{id: StepSwapEntry, role: TenantAdmin, kind: KindAction, destructive: true},              // 6 exchanges key pair
	{id: StepHandOverCertificate, role: TenantAdmin, kind: KindHandOff, to: ReceiverAdmin},   // 7 provides receiver admin
	{id: StepReceiverSwap, role: ReceiverAdmin, kind: KindAction, destructive: true, // 8 exchanges certificate
		gate: GateReceiverAcceptsNew, when: GateAfter},
	{id: StepConfirmSwapped, role: ReceiverAdmin, kind: KindHandOff, to: TenantAdmin},       // 9 informs tenant admin
	{id: StepNotifyRestart, role: TenantAdmin, kind: KindHandOff, to: IntegrationDeveloper}, // 10 informs developer
	{id: StepRestartNodes, role: IntegrationDeveloper, kind: KindAction, // 11 restarts the flow
		gate: GateNodesPresentNew, when: GateAfter},
	{id: StepRemoveOld, role: ReceiverAdmin, kind: KindAction, destructive: true, // 12 (not the reference's): removes the old root
		gate: GateOldRootUnused, when: GateBefore},
}

func TestBuildersFollowReference(t *testing.T) {
	tests := []struct {
		name  string
		build func(Params) (*Plan, error)
		seq   Sequence
		ref   []refStep
		steps int
	}{
		{name: "overlap", build: overlap, seq: SequenceOverlap, ref: overlapRef, steps: 9},
		{name: "downtime", build: downtime, seq: SequenceDowntime, ref: downtimeRef, steps: 12},
	}
	for _, tt := range tests {
		for _, profile := range []*ReceiverProfile{nil, testProfile()} {
			name := tt.name
			if profile != nil {
				name += "/profile"
			}
			t.Run(name, func(t *testing.T) {
				p := testParams(t)
				p.Receiver = profile
				plan, err := tt.build(p)
				require.NoError(t, err)
				assert.Equal(t, schemaVersion, plan.SchemaVersion)
				assert.Equal(t, tt.seq, plan.Sequence)
				require.Len(t, plan.Steps, tt.steps)
				require.Len(t, tt.ref, tt.steps)
				for i, s := range plan.Steps {
					want := tt.ref[i]
					assert.Equal(t, i+1, s.Number, "step %d number", i+1)
					assert.Equal(t, want.id, s.ID, "step %d id", i+1)
					assert.Equal(t, want.role, s.Role, "step %d role", i+1)
					assert.Equal(t, want.kind, s.Kind, "step %d kind", i+1)
					assert.Equal(t, want.to, s.To, "step %d to", i+1)
					assert.Equal(t, want.destructive, s.Destructive, "step %d destructive", i+1)
					if want.gate == "" {
						assert.Nil(t, s.Gate, "step %d gate", i+1)
					} else if assert.NotNil(t, s.Gate, "step %d gate", i+1) {
						assert.Equal(t, want.gate, s.Gate.Kind, "step %d gate kind", i+1)
						assert.Equal(t, want.when, s.Gate.When, "step %d gate point", i+1)
						assert.NotEmpty(t, s.Gate.Description)
					}
					assert.NotEmpty(t, s.Title, "step %d title", i+1)
					assert.NotEmpty(t, s.Detail, "step %d detail", i+1)
				}
				require.NoError(t, plan.validate())

				// Same input, same plan: building is pure.
				again, err := tt.build(p)
				require.NoError(t, err)
				assert.Equal(t, plan, again)
			})
		}
	}
}

// TestGatesGuardDestructiveSteps checks the safety order: in the overlap
// sequence, the receiver-accepts-both gate comes after the receiver has
// been configured and before the entry is swapped, the nodes gate after
// the restart, and the old-root gate right in front of the removal.
func TestGatesGuardDestructiveSteps(t *testing.T) {
	p := testParams(t)
	ov := mustBuild(t, SequenceOverlap, p)
	pos := func(plan *Plan, id StepID) int {
		s, ok := plan.step(id)
		require.True(t, ok, "step %q", id)
		return s.Number
	}
	assert.Less(t, pos(ov, StepReceiverAcceptBoth), pos(ov, StepSwapEntry))
	assert.Less(t, pos(ov, StepSwapEntry), pos(ov, StepRestartNodes))
	assert.Less(t, pos(ov, StepRestartNodes), pos(ov, StepRemoveOld))

	dt := mustBuild(t, SequenceDowntime, p)
	assert.Less(t, pos(dt, StepStopFlow), pos(dt, StepSwapEntry), "the flow stops before the entry changes")
	assert.Less(t, pos(dt, StepReceiverSwap), pos(dt, StepRestartNodes), "the receiver's gate is checked before the restart")
	assert.Equal(t, len(dt.Steps), pos(dt, StepRemoveOld), "the old root goes last, after the restart")

	for _, plan := range []*Plan{ov, dt} {
		gates := map[GateKind]int{}
		for _, s := range plan.Steps {
			if s.Gate != nil {
				gates[s.Gate.Kind] = s.Number
			}
		}
		switch plan.Sequence {
		case SequenceOverlap:
			assert.Equal(t, map[GateKind]int{GateReceiverAcceptsBoth: 5, GateNodesPresentNew: 7, GateOldRootUnused: 9}, gates)
		case SequenceDowntime:
			assert.Equal(t, map[GateKind]int{GateReceiverAcceptsNew: 8, GateNodesPresentNew: 11, GateOldRootUnused: 12}, gates)
		}
	}
}

func TestDetailsNameWhatAPersonNeeds(t *testing.T) {
	p := testParams(t)
	for _, s := range []Sequence{SequenceOverlap, SequenceDowntime} {
		t.Run(string(s), func(t *testing.T) {
			plan := mustBuild(t, s, p)
			swap, ok := plan.step(StepSwapEntry)
			require.True(t, ok)
			assert.Contains(t, swap.Detail, `alias "tenant-client"`)
			assert.Contains(t, swap.Detail, `keystore "/srv/tenant/client.p12" (PKCS12)`)
			assert.Contains(t, swap.Detail, displayFingerprint(p.OldFingerprint))
			assert.Contains(t, swap.Detail, displayFingerprint(p.NewFingerprint))

			restart, ok := plan.step(StepRestartNodes)
			require.True(t, ok)
			for _, n := range p.Nodes {
				assert.Contains(t, restart.Detail, `"`+n+`"`)
				assert.Contains(t, restart.Gate.Description, `"`+n+`"`)
			}
			assert.Contains(t, restart.Detail, "24 hours")

			hand, ok := plan.step(StepHandOverCertificate)
			require.True(t, ok)
			assert.Contains(t, hand.Detail, p.NewRootSubject)
			assert.Contains(t, hand.Detail, displayFingerprint(p.NewRootFingerprint))
		})
	}
	ov := mustBuild(t, SequenceOverlap, p)
	remove, _ := ov.step(StepRemoveOld)
	assert.Contains(t, remove.Detail, p.OldRootSubject)
	assert.Contains(t, remove.Detail, displayFingerprint(p.OldRootFingerprint))
	assert.Contains(t, remove.Detail, `truststore "/etc/receiver/truststore.jks"`)

	dt := mustBuild(t, SequenceDowntime, p)
	agree, _ := dt.step(StepAgreeWindow)
	assert.Contains(t, agree.Detail, "2026-03-07T22:00:00Z to 2026-03-08T02:00:00Z (change CHG-1234)")
}

// TestNewFingerprintLater: a plan built before step 1 and one rebuilt with
// the new certificate's fingerprint have the same steps; only the prose
// differs.
func TestNewFingerprintLater(t *testing.T) {
	for _, s := range []Sequence{SequenceOverlap, SequenceDowntime} {
		t.Run(string(s), func(t *testing.T) {
			p := testParams(t)
			known := mustBuild(t, s, p)
			p.NewFingerprint = ""
			unknown := mustBuild(t, s, p)
			require.Len(t, unknown.Steps, len(known.Steps))
			for i := range known.Steps {
				k, u := known.Steps[i], unknown.Steps[i]
				assert.Equal(t, k.ID, u.ID)
				assert.Equal(t, k.Role, u.Role)
				assert.Equal(t, k.Destructive, u.Destructive)
				assert.Equal(t, k.Title, u.Title)
			}
			gen, _ := unknown.step(StepGenerateKey)
			assert.Contains(t, gen.Detail, "Record the new certificate's SHA-256 fingerprint")
			restart, _ := unknown.step(StepRestartNodes)
			assert.Contains(t, restart.Gate.Description, "recorded at step 1")
		})
	}
}

func TestReceiverProfileTasks(t *testing.T) {
	p := testParams(t)
	p.Receiver = testProfile()

	ov := mustBuild(t, SequenceOverlap, p)
	for _, s := range ov.Steps {
		switch s.ID {
		case StepReceiverAcceptBoth:
			require.Len(t, s.Tasks, 5)
			assert.Contains(t, s.Tasks[0], `reverse proxy "SAP Web Dispatcher" trust the new root CA`)
			assert.Contains(t, s.Tasks[0], "restart")
			assert.Contains(t, s.Tasks[1], `back end "AS ABAP"`)
			assert.Contains(t, s.Tasks[1], "next to the old certificate")
			assert.Contains(t, s.Tasks[2], `proxy farm "WD-PROD" (this is done by "SAP IT")`)
			assert.Contains(t, s.Tasks[3], `"Edit Certificate Trust List"`)
			assert.Contains(t, s.Tasks[4], `technical user "CPI_INBOUND"`)
		case StepRemoveOld:
			require.Len(t, s.Tasks, 5)
			for _, task := range s.Tasks {
				assert.Contains(t, task, "Remove the old")
			}
		default:
			assert.Nil(t, s.Tasks, "step %d has no sub-tasks", s.Number)
		}
	}

	dt := mustBuild(t, SequenceDowntime, p)
	for _, s := range dt.Steps {
		if s.ID == StepReceiverSwap {
			require.Len(t, s.Tasks, 5)
			assert.Contains(t, s.Tasks[1], "instead of the old certificate")
			continue
		}
		if s.ID == StepRemoveOld {
			// The old client certificate went at step 8: only the root is left.
			require.Len(t, s.Tasks, 3)
			for _, task := range s.Tasks {
				assert.Contains(t, task, "Remove the old root CA")
			}
			continue
		}
		assert.Nil(t, s.Tasks, "step %d has no sub-tasks", s.Number)
	}

	// The zero profile describes an unnamed proxy and back end.
	p.Receiver = &ReceiverProfile{}
	ov = mustBuild(t, SequenceOverlap, p)
	cfg, _ := ov.step(StepReceiverAcceptBoth)
	require.Len(t, cfg.Tasks, 5)
	assert.Contains(t, cfg.Tasks[0], "Make the reverse proxy trust")
	assert.Contains(t, cfg.Tasks[4], "the inbound technical user.")
}

// TestBuildersShareNoMemory: changing the caller's parameters after
// building, or the plan after building, affects neither the other nor a
// second plan.
func TestBuildersShareNoMemory(t *testing.T) {
	p := testParams(t)
	p.Receiver = testProfile()
	plan := mustBuild(t, SequenceOverlap, p)
	want := mustBuild(t, SequenceOverlap, p)

	p.Nodes[0] = "changed"
	p.Receiver.Proxy = "changed"
	assert.Equal(t, want, plan)
	assert.Equal(t, "node-a", plan.Params.Nodes[0])
	assert.Equal(t, "SAP Web Dispatcher", plan.Params.Receiver.Proxy)
}

func TestBuildUnknownSequence(t *testing.T) {
	for _, s := range []Sequence{"", "3", "-1"} {
		plan, err := Build(s, testParams(t))
		assert.Nil(t, plan)
		require.ErrorIs(t, err, ErrInvalidPlan)
		var pe *PlanError
		require.ErrorAs(t, err, &pe)
		assert.Equal(t, "Sequence", pe.Field)
		assert.ErrorIs(t, testParams(t).validate(s), ErrInvalidPlan)
	}
}

func TestPlanStepAndRoles(t *testing.T) {
	plan := mustBuild(t, SequenceDowntime, testParams(t))
	s, ok := plan.step(StepReceiverSwap)
	require.True(t, ok)
	assert.Equal(t, 8, s.Number)
	s, ok = plan.step(StepRemoveOld)
	require.True(t, ok, "the downtime plan removes the old root too")
	assert.Equal(t, 12, s.Number)
	assert.Equal(t, []Role{TenantAdmin, ReceiverAdmin, IntegrationDeveloper}, plan.roles())

	custom := &Plan{Steps: []Step{{Number: 1, ID: "x", Role: ReceiverAdmin, Kind: KindAction, Title: "x"}}}
	assert.Equal(t, []Role{ReceiverAdmin}, custom.roles())
}

func TestPlanValidate(t *testing.T) {
	valid := func(t *testing.T) *Plan { return mustBuild(t, SequenceOverlap, testParams(t)) }
	tests := []struct {
		name   string
		mutate func(*Plan)
		is     error
		want   string
	}{
		{name: "schema version", mutate: func(p *Plan) { p.SchemaVersion = 2 }, is: ErrInvalidPlan, want: "schema_version 2, expected 1"},
		{name: "no steps", mutate: func(p *Plan) { p.Steps = nil }, is: ErrInvalidPlan, want: "at least one step"},
		{name: "numbering", mutate: func(p *Plan) { p.Steps[3].Number = 5 }, is: ErrInvalidPlan, want: "step 4: Number: expected 4"},
		{name: "duplicate id", mutate: func(p *Plan) { p.Steps[2].ID = p.Steps[1].ID }, is: ErrInvalidPlan, want: `found "hand-over-certificate" again (step 2)`},
		{name: "empty id", mutate: func(p *Plan) { p.Steps[0].ID = "" }, is: ErrInvalidPlan, want: "step 1: ID"},
		{name: "no role", mutate: func(p *Plan) { p.Steps[0].Role = "" }, is: ErrInvalidPlan, want: `step 1: Role: unknown role "": expected one of "tenant_admin", "receiver_admin", "integration_developer"`},
		{name: "unknown kind", mutate: func(p *Plan) { p.Steps[0].Kind = "9" }, is: ErrInvalidPlan, want: `unknown kind "9"`},
		{name: "hand-off to nobody", mutate: func(p *Plan) { p.Steps[1].To = "" }, is: ErrInvalidPlan, want: "step 2: To"},
		{name: "hand-off to self", mutate: func(p *Plan) { p.Steps[1].To = TenantAdmin }, is: ErrInvalidPlan, want: "step 2: To"},
		{name: "action with recipient", mutate: func(p *Plan) { p.Steps[0].To = ReceiverAdmin }, is: ErrInvalidPlan, want: "step 1: To"},
		{name: "gate step without gate", mutate: func(p *Plan) { p.Steps[0].Kind = KindGate }, is: ErrInvalidPlan, want: "step 1: Gate"},
		{name: "gate kind", mutate: func(p *Plan) { p.Steps[4].Gate.Kind = "" }, is: ErrInvalidPlan, want: "step 5: Gate.Kind"},
		{name: "gate point", mutate: func(p *Plan) { p.Steps[4].Gate.When = "" }, is: ErrInvalidPlan, want: "step 5: Gate.When"},
		{name: "gate description", mutate: func(p *Plan) { p.Steps[4].Gate.Description = "" }, is: ErrInvalidPlan, want: "step 5: Gate.Description"},
		{name: "empty title", mutate: func(p *Plan) { p.Steps[2].Title = "" }, is: ErrInvalidPlan, want: "step 3: Title"},
		{name: "newline in detail", mutate: func(p *Plan) { p.Steps[2].Detail += "\n- [ ] 10. extra" }, is: ErrInvalidPlan, want: "U+000A"},
		{name: "empty task", mutate: func(p *Plan) { p.Steps[2].Tasks = []string{""} }, is: ErrInvalidPlan, want: "Tasks[0]"},
		{name: "params", mutate: func(p *Plan) { p.Params.Alias = "" }, is: ErrInvalidParam, want: "missing parameter Alias"},
		{name: "fingerprint not normalised", mutate: func(p *Plan) { p.Params.OldFingerprint = strings.ToUpper(p.Params.OldFingerprint) }, is: ErrInvalidPlan, want: "Params.OldFingerprint"},
		{name: "unknown sequence", mutate: func(p *Plan) { p.Sequence = "" }, is: ErrInvalidPlan, want: "Sequence"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := valid(t)
			require.NoError(t, p.validate())
			tt.mutate(p)
			err := p.validate()
			require.Error(t, err)
			assert.ErrorIs(t, err, tt.is)
			assert.Contains(t, err.Error(), tt.want)
			assert.True(t, strings.HasPrefix(err.Error(), "renewal: "), err.Error())
		})
	}

	t.Run("custom gate step", func(t *testing.T) {
		p := valid(t)
		p.Steps = append(p.Steps, Step{
			Number: 10, ID: "check-expiry", Role: TenantAdmin, Kind: KindGate, Title: "Check expiry",
			Gate: &Gate{Kind: GateNodesPresentNew, When: GateBefore, Description: "d"},
		})
		assert.NoError(t, p.validate())
	})
}

func TestErrorsFormat(t *testing.T) {
	missing := &PlanError{Field: "Alias", Reason: "needed", err: ErrInvalidParam, missing: true}
	assert.Equal(t, "renewal: missing parameter Alias: needed", missing.Error())
	assert.True(t, errors.Is(missing, ErrInvalidParam))
	assert.False(t, errors.Is(missing, ErrInvalidPlan))
	invalid := &PlanError{Field: "Nodes[1]", value: "a\nb", Reason: "bad", err: ErrInvalidParam}
	assert.Equal(t, `renewal: invalid parameter Nodes[1] "a\nb": bad`, invalid.Error())
	assert.True(t, errors.Is(invalid, ErrInvalidParam))
	whole := &PlanError{Field: "Steps", Reason: "none"}
	assert.Equal(t, "renewal: invalid plan: Steps: none", whole.Error())
}
