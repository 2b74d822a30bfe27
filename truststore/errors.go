package truststore

import (
	"errors"
	"fmt"
	"strings"

	"github.com/certroll/certroll/keystore"
)

// Sentinel errors that callers branch on with [errors.Is]. Every error the
// package returns starts with "truststore: ", wraps at most one of them (or
// [keystore.ErrMalformed], see below) and says what was expected and what
// was found; none contains a password.
//
// A trust set that cannot be read, whatever its kind (a damaged JKS or
// PKCS#12 file, a broken PEM bundle, an unreadable certificate file in a
// directory, a trusted entry holding several certificates), gives an error
// matching [keystore.ErrMalformed], the one sentinel for malformed input.
var (
	// ErrNotFound reports an alias, fingerprint or subject that names no
	// certificate of the set.
	ErrNotFound = errors.New("truststore: not found")

	// ErrInUse reports a prune that was refused for at least one certificate
	// because a chain declared in use still depends on it; the error names
	// each certificate and each chain, and the report returned with it
	// lists them in [Report.Refused].
	ErrInUse = errors.New("truststore: certificate still anchors a chain in use")

	// ErrInvalidAlias reports an alias that cannot be used: empty, with a
	// control character, or (for a directory) not usable as a file name.
	ErrInvalidAlias = errors.New("truststore: invalid alias")

	// ErrUsageUndeclared reports a [Set.Prune] whose caller did not say what
	// uses the set: a nil [*PruneOptions], or one with no InUse chains, neither
	// NothingInUse nor Force. A usage check that checks nothing unless asked
	// would remove a root that clients still chain to.
	ErrUsageUndeclared = errors.New("truststore: prune: usage not declared")
)

// errMalformed reports a PEM bundle or certificate file that cannot be
// read as a trust set; the wrapping error says where. It matches
// keystore.ErrMalformed, so that callers check one sentinel whatever the
// kind of the set.
var errMalformed error = &malformedError{}

type malformedError struct{}

func (*malformedError) Error() string { return "truststore: malformed trust set" }
func (*malformedError) Unwrap() error { return keystore.ErrMalformed }

// inUseError is returned with the report by [Set.Prune] when certificates
// were kept because chains declared in use depend on them. It matches
// [ErrInUse] with [errors.Is]; refused is the report's Refused list.
type inUseError struct {
	refused []Change
}

// Error names every refused certificate and the chains that depend on it.
func (e *inUseError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "truststore: refused to remove %d %s still anchoring chains in use: ", len(e.refused), plural(len(e.refused), "certificate", "certificates"))
	for i, c := range e.refused {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%q (%s) anchors %s", c.Alias, c.Subject(), strings.Join(c.Dependents, ", "))
	}
	b.WriteString(" (move them to another root first, or force the removal)")
	return b.String()
}

// Is makes an inUseError match [ErrInUse].
func (e *inUseError) Is(target error) bool { return target == ErrInUse }

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
