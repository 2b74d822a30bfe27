package truststore

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors that callers branch on with [errors.Is]. Every error the
// package returns starts with "truststore: ", wraps at most one of them and
// says what was expected and what was found; none contains a password.
var (
	// ErrNotFound reports an alias, fingerprint or subject that names no
	// certificate of the set.
	ErrNotFound = errors.New("truststore: not found")

	// ErrInUse reports a prune that was refused for at least one certificate
	// because a chain declared in use still depends on it; the wrapping
	// [*InUseError] names each certificate and each chain.
	ErrInUse = errors.New("truststore: certificate still anchors a chain in use")

	// ErrInvalidAlias reports an alias that cannot be used: empty, with a
	// control character, or (for a directory) not usable as a file name.
	ErrInvalidAlias = errors.New("truststore: invalid alias")

	// ErrMalformed reports a PEM bundle or certificate file that cannot be
	// read as a trust set; the wrapping error says where.
	ErrMalformed = errors.New("truststore: malformed trust set")
)

// InUseError is returned with the report by [Set.Prune] when certificates
// were kept because chains declared in use depend on them. It matches
// [ErrInUse] with [errors.Is].
type InUseError struct {
	// Refused lists each certificate that was kept, with the chains that
	// depend on it in its Dependents field.
	Refused []Change
}

// Error names every refused certificate and the chains that depend on it.
func (e *InUseError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "truststore: refused to remove %d %s still anchoring chains in use: ", len(e.Refused), plural(len(e.Refused), "certificate", "certificates"))
	for i, c := range e.Refused {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%q (%s) anchors %s", c.Alias, c.Subject, strings.Join(c.Dependents, ", "))
	}
	b.WriteString(" (move them to another root first, or force the removal)")
	return b.String()
}

// Is makes an InUseError match [ErrInUse].
func (e *InUseError) Is(target error) bool { return target == ErrInUse }

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
