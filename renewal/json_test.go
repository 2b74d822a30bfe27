package renewal

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestJSONRoundTrip(t *testing.T) {
	for _, g := range goldenPlans(t) {
		t.Run(g.name, func(t *testing.T) {
			data, err := json.Marshal(g.plan)
			require.NoError(t, err)
			var back Plan
			require.NoError(t, json.Unmarshal(data, &back))
			assert.Equal(t, *g.plan, back)

			again, err := json.Marshal(&back)
			require.NoError(t, err)
			assert.Equal(t, string(data), string(again), "encoding is stable")

			// A decoded plan rebuilds to itself: nothing is lost.
			rebuilt, err := Build(back.Sequence, back.Params)
			require.NoError(t, err)
			assert.Equal(t, g.plan, rebuilt)
		})
	}
}

// TestJSONSchema pins the names SCHEMA.md documents.
func TestJSONSchema(t *testing.T) {
	p := testParams(t)
	p.Receiver = testProfile()
	plan := mustBuild(t, SequenceOverlap, p)
	data, err := json.Marshal(plan)
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(data, &doc))

	assert.Equal(t, float64(1), doc["schema_version"])
	assert.Equal(t, "overlap", doc["sequence"])
	params := doc["params"].(map[string]any)
	for _, k := range []string{"alias", "keystore", "keystore_format", "truststore", "nodes", "old_fingerprint",
		"new_fingerprint", "old_root_subject", "new_root_subject", "old_root_fingerprint", "new_root_fingerprint",
		"window", "receiver"} {
		assert.Contains(t, params, k)
	}
	assert.Equal(t, fp("old client certificate"), params["old_fingerprint"])
	assert.Equal(t, map[string]any{"start": "2026-03-07T22:00:00Z", "end": "2026-03-08T02:00:00Z", "description": "change CHG-1234"}, params["window"])
	assert.Equal(t, map[string]any{
		"proxy": "SAP Web Dispatcher", "proxy_farm": "WD-PROD", "proxy_operator": "SAP IT",
		"backend": "AS ABAP", "trust_list": "Edit Certificate Trust List", "technical_user": "CPI_INBOUND",
	}, params["receiver"])

	steps := doc["steps"].([]any)
	require.Len(t, steps, 9)
	first := steps[0].(map[string]any)
	assert.ElementsMatch(t, []string{"number", "id", "role", "kind", "title", "detail", "destructive"}, keys(first))
	assert.Equal(t, "generate-key", first["id"])
	assert.Equal(t, "tenant_admin", first["role"])
	assert.Equal(t, "action", first["kind"])

	second := steps[1].(map[string]any)
	assert.Equal(t, "hand_off", second["kind"])
	assert.Equal(t, "receiver_admin", second["to"])

	third := steps[2].(map[string]any)
	assert.Len(t, third["tasks"], 5)

	swap := steps[4].(map[string]any)
	assert.Equal(t, true, swap["destructive"])
	gate := swap["gate"].(map[string]any)
	assert.Equal(t, "receiver_accepts_both", gate["kind"])
	assert.Equal(t, "before", gate["when"])
	assert.NotEmpty(t, gate["description"])

	restart := steps[6].(map[string]any)
	assert.Equal(t, "integration_developer", restart["role"])
	assert.Equal(t, "nodes_present_new", restart["gate"].(map[string]any)["kind"])
	assert.Equal(t, "after", restart["gate"].(map[string]any)["when"])

	// Empty optional fields are left out.
	p = testParams(t)
	p.KeystoreFormat, p.Truststore, p.NewFingerprint, p.Window = "", "", "", Window{}
	data, err = json.Marshal(mustBuild(t, SequenceOverlap, p))
	require.NoError(t, err)
	for _, k := range []string{"keystore_format", "truststore", "new_fingerprint", "window", "receiver", "tasks"} {
		assert.NotContains(t, string(data), `"`+k+`"`)
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestJSONStrict(t *testing.T) {
	good, err := json.Marshal(mustBuild(t, SequenceDowntime, testParams(t)))
	require.NoError(t, err)
	replace := func(old, new string) string {
		t.Helper()
		require.Contains(t, string(good), old)
		return strings.Replace(string(good), old, new, 1)
	}
	tests := []struct {
		name string
		data string
		is   error
		want string
	}{
		{name: "newer version", data: replace(`"schema_version":1`, `"schema_version":2`), is: ErrInvalidPlan, want: "schema_version 2, expected 1"},
		{name: "no version", data: replace(`"schema_version":1,`, ``), is: ErrInvalidPlan, want: "no schema_version"},
		{name: "unknown field", data: replace(`"sequence":`, `"extra":true,"sequence":`), is: ErrInvalidPlan, want: `unknown field "extra"`},
		{name: "unknown step field", data: replace(`"number":1,`, `"number":1,"skip":true,`), is: ErrInvalidPlan, want: `unknown field "skip"`},
		{name: "unknown role", data: replace(`"role":"tenant_admin"`, `"role":"root"`), is: ErrInvalidPlan, want: `unknown role "root"`},
		{name: "unknown kind", data: replace(`"kind":"action"`, `"kind":"run"`), is: ErrInvalidPlan, want: `unknown kind "run"`},
		{name: "unknown gate", data: replace(`"kind":"receiver_accepts_new"`, `"kind":"trust_me"`), is: ErrInvalidPlan, want: `unknown gate kind "trust_me"`},
		{name: "unknown gate point", data: replace(`"when":"after"`, `"when":"never"`), is: ErrInvalidPlan, want: `unknown gate point "never"`},
		{name: "unknown sequence", data: replace(`"sequence":"downtime"`, `"sequence":"yolo"`), is: ErrInvalidPlan, want: `unknown sequence "yolo"`},
		{name: "role as number", data: replace(`"role":"tenant_admin"`, `"role":1`), is: ErrInvalidPlan},
		{name: "renumbered", data: replace(`"number":2,`, `"number":7,`), is: ErrInvalidPlan, want: "step 2: Number"},
		{name: "missing window", data: replace(`"window":`, `"x_window":`), is: ErrInvalidPlan},
		{name: "bad fingerprint", data: replace(`"old_fingerprint":"`, `"old_fingerprint":"zz`), is: ErrInvalidParam, want: "OldFingerprint"},
		{name: "newline in title", data: replace(`"title":"Stop the integration flow"`, `"title":"Stop\n- [ ] 12. injected"`), is: ErrInvalidPlan, want: "U+000A"},
		{name: "not an object", data: `[]`, is: ErrInvalidPlan},
		{name: "truncated", data: string(good[:len(good)/2]), is: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sentinel := Plan{Sequence: SequenceOverlap}
			got := sentinel
			err := json.Unmarshal([]byte(tt.data), &got)
			require.Error(t, err)
			if tt.is != nil {
				assert.ErrorIs(t, err, tt.is)
			}
			assert.Contains(t, err.Error(), tt.want)
			assert.Equal(t, sentinel, got, "a plan that fails to decode is left unchanged")
		})
	}
}

func TestJSONMarshalRefusesInvalidEnums(t *testing.T) {
	plan := mustBuild(t, SequenceOverlap, testParams(t))
	plan.Steps[0].Role = ""
	_, err := json.Marshal(plan)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrInvalidPlan)
	assert.Contains(t, err.Error(), "step 1: Role")
}
