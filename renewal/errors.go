package renewal

import (
	"errors"
	"fmt"
)

// Sentinel errors that callers branch on with [errors.Is].
var (
	// ErrMissingParam reports that a parameter the sequence needs is empty.
	// The wrapping [*ParamError] names it.
	ErrMissingParam = errors.New("renewal: missing parameter")

	// ErrInvalidParam reports a parameter that is present but unusable: a
	// fingerprint that is not SHA-256 hex, a control character in a name, a
	// window that ends before it starts, a new root equal to the old one.
	// The wrapping [*ParamError] says what was expected and what was found.
	ErrInvalidParam = errors.New("renewal: invalid parameter")

	// ErrInvalidPlan reports a plan that is not well formed: steps out of
	// order, an unknown role or kind, a hand-off to nobody. Plans from
	// [Overlap] and [Downtime] never are; plans decoded from JSON or built
	// by hand may be.
	ErrInvalidPlan = errors.New("renewal: invalid plan")

	// ErrSchemaVersion reports a JSON plan whose schema_version this
	// package does not read.
	ErrSchemaVersion = errors.New("renewal: unsupported plan schema version")
)

// ParamError describes one unusable parameter. It matches [ErrMissingParam]
// or [ErrInvalidParam] with [errors.Is]. [Build], [Overlap] and
// [Downtime] join one ParamError per problem with [errors.Join], so that a caller sees all of
// them at once; [errors.As] finds the first.
type ParamError struct {
	Field  string // the Go field path, such as "Nodes[1]" or "Window.End"
	Value  string // the offending value as given; empty for a missing one
	Reason string // what was expected and what was found
	Err    error  // ErrMissingParam or ErrInvalidParam
}

func (e *ParamError) Error() string {
	if errors.Is(e.Err, ErrMissingParam) {
		return fmt.Sprintf("renewal: missing parameter %s: %s", e.Field, e.Reason)
	}
	return fmt.Sprintf("renewal: invalid parameter %s %q: %s", e.Field, e.Value, e.Reason)
}

// Unwrap returns [ErrMissingParam] or [ErrInvalidParam].
func (e *ParamError) Unwrap() error { return e.Err }

// PlanError describes why a plan is not well formed. It matches
// [ErrInvalidPlan] with [errors.Is].
type PlanError struct {
	Step   int    // the 1-based step number, or 0 for the plan as a whole
	Field  string // the field at fault, such as "Number" or "To"
	Reason string // what was expected and what was found
}

func (e *PlanError) Error() string {
	if e.Step == 0 {
		return fmt.Sprintf("renewal: invalid plan: %s: %s", e.Field, e.Reason)
	}
	return fmt.Sprintf("renewal: invalid plan: step %d: %s: %s", e.Step, e.Field, e.Reason)
}

// Is makes a PlanError match [ErrInvalidPlan].
func (e *PlanError) Is(target error) bool { return target == ErrInvalidPlan }
