package renewal

import (
	"errors"
	"fmt"
)

// Sentinel errors that callers branch on with [errors.Is].
var (
	// ErrMissingParam reports that a parameter the sequence needs is empty.
	// The wrapping [*PlanError] names it.
	ErrMissingParam = errors.New("renewal: missing parameter")

	// ErrInvalidParam reports a parameter that is present but unusable: a
	// fingerprint that is not SHA-256 hex, a control character in a name, a
	// window that ends before it starts, a new root equal to the old one.
	// The wrapping [*PlanError] says what was expected and what was found.
	ErrInvalidParam = errors.New("renewal: invalid parameter")

	// ErrInvalidPlan reports a plan that is not well formed: a
	// schema_version this package does not read (the [*PlanError]'s Field
	// is "SchemaVersion"), steps out of order, an unknown role or kind, a
	// hand-off to nobody. Plans from
	// [Build] never are; plans decoded from JSON or built
	// by hand may be.
	ErrInvalidPlan = errors.New("renewal: invalid plan")
)

// PlanError says what is wrong with the parameters of a plan or with the
// plan itself, what was expected and what was found. An error about a
// parameter (Step 0, Field a [Params] field path) matches
// [ErrMissingParam] or [ErrInvalidParam] with [errors.Is]; [Build] joins
// one PlanError per unusable parameter with [errors.Join], so that a
// caller sees all of them at once ([errors.As] finds the first). Any other PlanError says the plan is not
// well formed and matches [ErrInvalidPlan].
type PlanError struct {
	// Step is the 1-based step number, or 0 for the parameters or the
	// plan as a whole.
	Step int
	// Field is the field at fault: a parameter's Go field path, such as
	// "Nodes[1]" or "Window.End", or a plan's or step's field, such as
	// "Sequence" or "To".
	Field string
	// Reason says what was expected and what was found.
	Reason string

	value string // the unusable parameter as given, which the message quotes
	err   error  // ErrMissingParam or ErrInvalidParam for a parameter; nil for the plan
}

func (e *PlanError) Error() string {
	switch {
	case e.err == ErrMissingParam:
		return fmt.Sprintf("renewal: missing parameter %s: %s", e.Field, e.Reason)
	case e.err != nil:
		return fmt.Sprintf("renewal: invalid parameter %s %q: %s", e.Field, e.value, e.Reason)
	case e.Step == 0:
		return fmt.Sprintf("renewal: invalid plan: %s: %s", e.Field, e.Reason)
	}
	return fmt.Sprintf("renewal: invalid plan: step %d: %s: %s", e.Step, e.Field, e.Reason)
}

// Unwrap returns [ErrMissingParam] or [ErrInvalidParam] for an error
// about a parameter, and [ErrInvalidPlan] otherwise.
func (e *PlanError) Unwrap() error {
	if e.err != nil {
		return e.err
	}
	return ErrInvalidPlan
}
