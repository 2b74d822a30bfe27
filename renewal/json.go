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
// a schema_version other than 1 is refused with
// [ErrSchemaVersion] before anything else is read, and unknown fields,
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
		return fmt.Errorf("renewal: plan has no schema_version, expected %d: %w", schemaVersion, ErrSchemaVersion)
	}
	if *version.SchemaVersion != schemaVersion {
		return fmt.Errorf("renewal: plan has schema_version %d, expected %d: %w", *version.SchemaVersion, schemaVersion, ErrSchemaVersion)
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
// [ErrInvalidPlan] (or [ErrSchemaVersion]).
func (p Plan) MarshalJSON() ([]byte, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	type planJSON Plan
	return json.Marshal(planJSON(p))
}
