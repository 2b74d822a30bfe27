package chain

import (
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors for what callers branch on with [errors.Is]. A
// [*VerifyError] matches the sentinel of every [Reason] it lists; the errors
// of [Order] and [Complete] match the sentinel named in their doc.
var (
	// ErrNoCertificates reports an empty chain or bag of certificates.
	ErrNoCertificates = errors.New("chain: no certificates")

	// ErrTooMany reports more certificates than [Order] accepts.
	ErrTooMany = errors.New("chain: too many certificates")

	// ErrLoop reports certificates that issue each other in a cycle, so that
	// no leaf-first path through them ends.
	ErrLoop = errors.New("chain: certificates form a loop")

	// ErrSeveralLeaves reports a bag of certificates in which more than one
	// certificate issued none of the others.
	ErrSeveralLeaves = errors.New("chain: several leaf certificates")

	// ErrUnplaced reports certificates that are not on the one path from the
	// leaf (unrelated certificates, or alternative issuers such as a root
	// next to its cross-signed twin).
	ErrUnplaced = errors.New("chain: certificates not on the path")

	// ErrBrokenChain reports a chain in which a certificate is not issued by
	// the next one.
	ErrBrokenChain = errors.New("chain: certificate is not issued by the next one")

	// ErrMissingIssuer reports that the issuer of a certificate is in
	// neither the chain nor the pool.
	ErrMissingIssuer = errors.New("chain: issuer not found")

	// ErrUnknownAuthority matches a [VerifyError] with [ReasonUnknownAuthority].
	ErrUnknownAuthority = errors.New("chain: unknown authority")
	// ErrIncompleteChain matches a [VerifyError] with [ReasonIncompleteChain].
	ErrIncompleteChain = errors.New("chain: incomplete chain")
	// ErrExpired matches a [VerifyError] with [ReasonExpired].
	ErrExpired = errors.New("chain: certificate expired")
	// ErrNotYetValid matches a [VerifyError] with [ReasonNotYetValid].
	ErrNotYetValid = errors.New("chain: certificate not yet valid")
	// ErrUsage matches a [VerifyError] with [ReasonUsage].
	ErrUsage = errors.New("chain: extended key usage not permitted")
	// ErrBadSignature matches a [VerifyError] with [ReasonBadSignature].
	ErrBadSignature = errors.New("chain: bad signature")
	// ErrWeakSignature matches a [VerifyError] with [ReasonWeakSignature].
	ErrWeakSignature = errors.New("chain: weak signature algorithm")
	// ErrWeakKey matches a [VerifyError] with [ReasonWeakKey].
	ErrWeakKey = errors.New("chain: weak key")
	// ErrNotPinned matches a [VerifyError] with [ReasonNotPinned].
	ErrNotPinned = errors.New("chain: client certificate not pinned")
	// ErrKeyMismatch matches a [VerifyError] with [ReasonKeyMismatch].
	ErrKeyMismatch = errors.New("chain: public key does not match the certificate")
	// ErrConstraint matches a [VerifyError] with [ReasonConstraint].
	ErrConstraint = errors.New("chain: constraint violated")
	// ErrRejected matches a [VerifyError] with [ReasonRejected].
	ErrRejected = errors.New("chain: rejected by crypto/x509")
)

// Reason says why a certificate in a chain is not accepted.
type Reason int

// Reasons a [Receiver] rejects a chain. Each has a sentinel error of the same
// name with an Err prefix.
const (
	// ReasonUnknownAuthority means the path ends at a certificate the
	// receiver does not trust: a self-signed root it does not hold, or a CA
	// certificate whose issuer (most likely a root) it has never seen. The
	// detail names the missing issuer by subject and key id and lists the
	// roots the receiver trusts.
	ReasonUnknownAuthority Reason = iota + 1
	// ReasonIncompleteChain means the client sent its leaf without the
	// certificate that issued it, and the receiver does not hold that
	// certificate either (as an intermediate or a root). It is reported when
	// the path stops at the leaf itself; the detail names the missing issuer.
	ReasonIncompleteChain
	// ReasonExpired means the certificate's notAfter is before the verification
	// time.
	ReasonExpired
	// ReasonNotYetValid means the certificate's notBefore is after the
	// verification time.
	ReasonNotYetValid
	// ReasonUsage means the certificate's extended key usage does not permit the
	// usage the receiver requires (clientAuth by default).
	ReasonUsage
	// ReasonBadSignature means the certificate's signature does not verify with
	// its issuer's key.
	ReasonBadSignature
	// ReasonWeakSignature means the certificate is signed with a broken
	// algorithm (MD5 or SHA-1), which crypto/x509 refuses.
	ReasonWeakSignature
	// ReasonWeakKey means the certificate's RSA key is shorter than the
	// receiver's minimum.
	ReasonWeakKey
	// ReasonNotPinned means the receiver pins client certificates and the leaf is
	// not one of them.
	ReasonNotPinned
	// ReasonKeyMismatch means the leaf's public key is not the key it was
	// checked against ([Receiver.VerifyKey]).
	ReasonKeyMismatch
	// ReasonConstraint means a constraint crypto/x509 enforces is violated: an
	// issuer that is not a CA or may not sign certificates, a path length or
	// name constraint, a certificate policy, an unhandled critical extension.
	ReasonConstraint
	// ReasonRejected means crypto/x509 rejected the chain for a reason this
	// package does not classify; the detail carries its message.
	ReasonRejected
)

var reasonInfo = map[Reason]struct {
	name     string
	sentinel error
}{
	ReasonUnknownAuthority: {"unknown authority", ErrUnknownAuthority},
	ReasonIncompleteChain:  {"incomplete chain", ErrIncompleteChain},
	ReasonExpired:          {"expired", ErrExpired},
	ReasonNotYetValid:      {"not yet valid", ErrNotYetValid},
	ReasonUsage:            {"usage not permitted", ErrUsage},
	ReasonBadSignature:     {"bad signature", ErrBadSignature},
	ReasonWeakSignature:    {"weak signature", ErrWeakSignature},
	ReasonWeakKey:          {"weak key", ErrWeakKey},
	ReasonNotPinned:        {"not pinned", ErrNotPinned},
	ReasonKeyMismatch:      {"key mismatch", ErrKeyMismatch},
	ReasonConstraint:       {"constraint violated", ErrConstraint},
	ReasonRejected:         {"rejected by crypto/x509", ErrRejected},
}

// String returns the reason in words, such as "expired".
func (r Reason) String() string {
	if info, ok := reasonInfo[r]; ok {
		return info.name
	}
	return fmt.Sprintf("Reason(%d)", int(r))
}

// err returns the sentinel error for r, such as [ErrExpired], or nil for an
// unknown reason.
func (r Reason) err() error { return reasonInfo[r].sentinel }

// Problem is one reason one certificate is not accepted.
type Problem struct {
	// Cert is the certificate the problem is about.
	Cert *x509.Certificate
	// Reason classifies the problem.
	Reason Reason
	// Detail says what was expected and what was found.
	Detail string
}

// String formats the problem as "CN=name: reason: detail".
func (p Problem) String() string {
	name := "<no certificate>"
	if p.Cert != nil {
		name = Name(p.Cert)
	}
	if p.Detail == "" {
		return name + ": " + p.Reason.String()
	}
	return name + ": " + p.Reason.String() + ": " + p.Detail
}

// VerifyError is returned by [Receiver.Verify] when the receiver does not
// accept a chain. It lists every problem found on the path that came closest
// to being accepted. It matches, with [errors.Is], the sentinel of each
// problem's reason and the error from crypto/x509, if any.
type VerifyError struct {
	// Chain is the chain as presented, leaf first.
	Chain []*x509.Certificate
	// Path is the path the problems refer to: the leaf, then the issuers
	// found for it, ending with the trust anchor when one was reached.
	Path []*x509.Certificate
	// Problems lists every problem, in path order; it is never empty.
	Problems []Problem
	// Err is the error crypto/x509 returned, or nil when crypto/x509
	// accepted the chain and only the receiver's own policy (key size,
	// pinning, key match) rejected it.
	Err error
}

// Error lists the chain and every problem.
func (e *VerifyError) Error() string { return "chain: " + e.summary() }

func (e *VerifyError) summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s not accepted: ", Path(e.Chain))
	if len(e.Problems) != 1 {
		fmt.Fprintf(&b, "%d problems: ", len(e.Problems))
	}
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// Unwrap returns the sentinels of the problems' reasons followed by the
// crypto/x509 error, so that [errors.Is] and [errors.As] see all of them.
func (e *VerifyError) Unwrap() []error {
	var out []error
	seen := map[Reason]bool{}
	for _, p := range e.Problems {
		if !seen[p.Reason] && p.Reason.err() != nil {
			seen[p.Reason] = true
			out = append(out, p.Reason.err())
		}
	}
	if e.Err != nil {
		out = append(out, e.Err)
	}
	return out
}

// Reasons returns the distinct reasons of the problems, in order of first
// appearance.
func (e *VerifyError) Reasons() []Reason {
	var out []Reason
	seen := map[Reason]bool{}
	for _, p := range e.Problems {
		if !seen[p.Reason] {
			seen[p.Reason] = true
			out = append(out, p.Reason)
		}
	}
	return out
}

// ChainError says which of several chains a receiver does not accept; see
// [Receiver.AcceptsAll]. It unwraps to the chain's verification error.
type ChainError struct {
	// Index is the chain's position among those checked, from 0.
	Index int
	// Total is how many chains were checked.
	Total int
	// Chain is the chain, leaf first.
	Chain []*x509.Certificate
	// Err is why it is not accepted, usually a [*VerifyError].
	Err error
}

// Error names the chain by position and path and says why it fails.
func (e *ChainError) Error() string {
	why := e.Err.Error()
	var ve *VerifyError
	if errors.As(e.Err, &ve) {
		why = ve.summary()
	}
	return fmt.Sprintf("chain: chain %d of %d is not accepted: %s", e.Index+1, e.Total, strings.TrimPrefix(why, "chain: "))
}

// Unwrap returns the chain's verification error.
func (e *ChainError) Unwrap() error { return e.Err }

// OrderError is returned by [Order] when the certificates do not make one
// leaf-first path. Err says why and is what it matches with [errors.Is]:
//
//   - [ErrLoop]: certificates issue each other in a cycle; Certificates lists
//     one cycle, each certificate issued by the next and the last by the
//     first.
//   - [ErrSeveralLeaves]: more than one certificate issued none of the
//     others; Certificates lists the candidate leaves in input order.
//   - [ErrUnplaced]: the longest path from the leaf does not use every
//     certificate; Path is that path and Certificates lists the ones not on
//     it, in input order.
type OrderError struct {
	// Err is ErrLoop, ErrSeveralLeaves or ErrUnplaced.
	Err error
	// Certificates are the certificates the error is about (see above).
	Certificates []*x509.Certificate
	// Path is the longest leaf-first path found, for ErrUnplaced; else nil.
	Path []*x509.Certificate
}

// Error names the certificates and says what was expected.
func (e *OrderError) Error() string {
	switch e.Err {
	case ErrLoop:
		return fmt.Sprintf("chain: certificates form a loop: %s -> %s", Path(e.Certificates), Name(e.Certificates[0]))
	case ErrSeveralLeaves:
		return fmt.Sprintf("chain: expected one leaf certificate, found %d that issued none of the others: %s",
			len(e.Certificates), names(e.Certificates))
	case ErrUnplaced:
		return fmt.Sprintf("chain: expected every certificate on one path, but %d not on %s: %s",
			len(e.Certificates), Path(e.Path), names(e.Certificates))
	}
	return fmt.Sprintf("chain: cannot order %s: %v", names(e.Certificates), e.Err)
}

// Unwrap returns Err, so that [errors.Is] matches its sentinel.
func (e *OrderError) Unwrap() error { return e.Err }

// MissingIssuerError is returned by [Complete] when the issuer of a
// certificate is in neither the chain nor the pool. It matches
// [ErrMissingIssuer].
type MissingIssuerError struct {
	// Cert is the certificate whose issuer is missing.
	Cert *x509.Certificate
	// Partial is the chain as far as it could be completed, leaf first.
	Partial []*x509.Certificate
}

// Error names the missing issuer by subject and authority key identifier.
func (e *MissingIssuerError) Error() string {
	return fmt.Sprintf("chain: issuer of %s not found: expected %s in the chain or the pool", Name(e.Cert), describeIssuer(e.Cert))
}

// Is makes a MissingIssuerError match [ErrMissingIssuer].
func (e *MissingIssuerError) Is(target error) bool { return target == ErrMissingIssuer }
