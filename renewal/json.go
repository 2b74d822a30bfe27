package renewal

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// UnmarshalJSON decodes a plan written by [encoding/json.Marshal] from a
// [Plan], as described in SCHEMA.md, and checks it with [Plan.UnmarshalJSON].
//
// It is strict, because a plan tells people and programs what to change:
// a schema_version other than 1 is refused (a [*PlanError] whose Field is
// "SchemaVersion") before anything else is read, and unknown fields,
// unknown role, kind, gate or sequence names, and malformed plans are
// refused with [ErrInvalidPlan]. A plan that is only partly understood is
// never returned; on error, *p is unchanged.
func (p *Plan) UnmarshalJSON(data []byte) error {
	var version struct {
		SchemaVersion *int `json:"schema_version"`
	}
	if err := json.Unmarshal(data, &version); err != nil {
		return fmt.Errorf("renewal: decoding plan: %w: %w", ErrInvalidPlan, err)
	}
	if version.SchemaVersion == nil {
		return schemaError("no schema_version")
	}
	if *version.SchemaVersion != schemaVersion {
		return schemaError(fmt.Sprintf("schema_version %d", *version.SchemaVersion))
	}

	// planJSON has Plan's fields and tags but not its methods, so decoding
	// into it does not recurse into this method.
	type planJSON Plan
	var q planJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&q); err != nil {
		return fmt.Errorf("renewal: decoding plan: %w: %w", ErrInvalidPlan, err)
	}
	plan := Plan(q)
	if err := plan.validate(); err != nil {
		return err
	}
	*p = plan
	return nil
}

// MarshalJSON encodes the plan as described in SCHEMA.md, after checking
// it with [Plan.UnmarshalJSON], so that a plan never serialises a role, kind,
// gate or sequence a reader cannot act on; the error matches
// [ErrInvalidPlan].
func (p Plan) MarshalJSON() ([]byte, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	type planJSON Plan
	return json.Marshal(planJSON(p))
}

// schemaError refuses a plan of another schema version; found says what
// the plan has.
func schemaError(found string) error {
	return &PlanError{Field: "SchemaVersion", Reason: fmt.Sprintf("plan has %s, expected %d: it was written for another version of this package; build it again with Build", found, schemaVersion)}
}
