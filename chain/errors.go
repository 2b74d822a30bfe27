package chain

import (
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors for what callers branch on with [errors.Is]. A
// [*VerifyError] matches the sentinel of every [Problem] it lists; the
// errors of [Order] and [Complete] match the sentinel named in their doc.
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
)

// Sentinels of the problems a [Receiver] finds in a chain it rejects: the
// Err of each [Problem]. A [*VerifyError] matches each of its problems'
// sentinels with [errors.Is].
var (
	// ErrUnknownAuthority means the path ends at a certificate the
	// receiver does not trust: a self-signed root it does not hold, or a CA
	// certificate whose issuer (most likely a root) it has never seen. The
	// detail names the missing issuer by subject and key id and lists the
	// roots the receiver trusts.
	ErrUnknownAuthority = errors.New("chain: unknown authority")
	// ErrIncompleteChain means the client sent its leaf without the
	// certificate that issued it, and the receiver does not hold that
	// certificate either (as an intermediate or a root). It is reported when
	// the path stops at the leaf itself; the detail names the missing issuer.
	ErrIncompleteChain = errors.New("chain: incomplete chain")
	// ErrExpired means the certificate's notAfter is before the
	// verification time.
	ErrExpired = errors.New("chain: certificate expired")
	// ErrNotYetValid means the certificate's notBefore is after the
	// verification time.
	ErrNotYetValid = errors.New("chain: certificate not yet valid")
	// ErrUsage means the certificate's extended key usage does not permit
	// the usage the receiver requires (clientAuth by default).
	ErrUsage = errors.New("chain: extended key usage not permitted")
	// ErrBadSignature means the certificate's signature does not verify
	// with its issuer's key.
	ErrBadSignature = errors.New("chain: bad signature")
	// ErrWeakSignature means the certificate is signed with a broken
	// algorithm (MD5 or SHA-1), which crypto/x509 refuses.
	ErrWeakSignature = errors.New("chain: weak signature algorithm")
	// ErrWeakKey means the certificate's RSA key is shorter than the
	// receiver's minimum.
	ErrWeakKey = errors.New("chain: weak key")
	// ErrNotPinned means the receiver pins client certificates and the leaf
	// is not one of them.
	ErrNotPinned = errors.New("chain: client certificate not pinned")
	// ErrKeyMismatch means the leaf's public key is not the key it was
	// checked against ([Receiver.VerifyKey]).
	ErrKeyMismatch = errors.New("chain: public key does not match the certificate")
	// ErrConstraint means a constraint crypto/x509 enforces is violated: an
	// issuer that is not a CA or may not sign certificates, a path length
	// or name constraint, a certificate policy, an unhandled critical
	// extension.
	ErrConstraint = errors.New("chain: constraint violated")
	// ErrRejected means crypto/x509 rejected the chain for a reason this
	// package does not classify; the detail carries its message.
	ErrRejected = errors.New("chain: rejected by crypto/x509")
)

// problemWords names each problem sentinel in the words [Problem.String]
// prints, such as "expired".
var problemWords = map[error]string{
	ErrUnknownAuthority: "unknown authority",
	ErrIncompleteChain:  "incomplete chain",
	ErrExpired:          "expired",
	ErrNotYetValid:      "not yet valid",
	ErrUsage:            "usage not permitted",
	ErrBadSignature:     "bad signature",
	ErrWeakSignature:    "weak signature",
	ErrWeakKey:          "weak key",
	ErrNotPinned:        "not pinned",
	ErrKeyMismatch:      "key mismatch",
	ErrConstraint:       "constraint violated",
	ErrRejected:         "rejected by crypto/x509",
}

// problemWord returns the words for a problem's sentinel: those of
// problemWords, or the error's own message without the package prefix for
// another error, or "problem" for nil.
func problemWord(err error) string {
	if w, ok := problemWords[err]; ok {
		return w
	}
	if err == nil {
		return "problem"
	}
	return strings.TrimPrefix(err.Error(), "chain: ")
}

// Problem is one reason one certificate is not accepted.
type Problem struct {
	// Cert is the certificate the problem is about.
	Cert *x509.Certificate
	// Err classifies the problem: one of the sentinels above, such as
	// [ErrExpired] (compare with ==, or [errors.Is] on the [*VerifyError]).
	Err error
	// Detail says what was expected and what was found.
	Detail string
}

// String formats the problem as "CN=name: reason: detail", the reason in
// words such as "expired".
func (p Problem) String() string {
	name := "<no certificate>"
	if p.Cert != nil {
		name = Name(p.Cert)
	}
	if p.Detail == "" {
		return name + ": " + problemWord(p.Err)
	}
	return name + ": " + problemWord(p.Err) + ": " + p.Detail
}

// VerifyError is returned by [Receiver.Verify] when the receiver does not
// accept a chain. It lists every problem found on the path that came closest
// to being accepted. It matches, with [errors.Is], the sentinel of each
// problem, and it unwraps to the error crypto/x509 returned, if any (none
// when only the receiver's own policy, such as key size, pinning or key
// match, rejected the chain), so that [errors.As] finds, say, an
// [x509.UnknownAuthorityError].
type VerifyError struct {
	// Chain is the chain as presented, leaf first.
	Chain []*x509.Certificate
	// Path is the path the problems refer to: the leaf, then the issuers
	// found for it, ending with the trust anchor when one was reached.
	Path []*x509.Certificate
	// Problems lists every problem, in path order; it is never empty.
	Problems []Problem

	err error // the error crypto/x509 returned, or nil when only the receiver's own policy (key size, pinning, key match) rejected the chain
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

// Unwrap returns the problems' sentinels, each once, followed by the
// crypto/x509 error, so that [errors.Is] and [errors.As] see all of them.
func (e *VerifyError) Unwrap() []error {
	var out []error
	seen := map[error]bool{}
	for _, p := range e.Problems {
		if p.Err != nil && !seen[p.Err] {
			seen[p.Err] = true
			out = append(out, p.Err)
		}
	}
	if e.err != nil {
		out = append(out, e.err)
	}
	return out
}

// chainError says which of several chains a receiver does not accept; see
// [Receiver.AcceptsAll]. It unwraps to the chain's verification error.
type chainError struct {
	index, total int
	err          error
}

func (e *chainError) Error() string {
	why := e.err.Error()
	var ve *VerifyError
	if errors.As(e.err, &ve) {
		why = ve.summary()
	}
	return fmt.Sprintf("chain: chain %d of %d is not accepted: %s", e.index+1, e.total, strings.TrimPrefix(why, "chain: "))
}

func (e *chainError) Unwrap() error { return e.err }

// OrderError is returned by [Order] when the certificates do not make one
// leaf-first path, and by [Complete] when it cannot reach an anchor. It
// matches, with [errors.Is], the sentinel that says why:
//
//   - [ErrLoop]: certificates issue each other in a cycle; Certificates lists
//     one cycle, each certificate issued by the next and the last by the
//     first.
//   - [ErrSeveralLeaves]: more than one certificate issued none of the
//     others; Certificates lists the candidate leaves in input order.
//   - [ErrUnplaced]: the longest path from the leaf does not use every
//     certificate; Path is that path and Certificates lists the ones not on
//     it, in input order.
//   - [ErrMissingIssuer] (from [Complete]): the issuer of a certificate is
//     in neither the chain nor the pool; Certificates holds that one
//     certificate and Path the chain as far as it could be completed, leaf
//     first.
type OrderError struct {
	err error // ErrLoop, ErrSeveralLeaves, ErrUnplaced or ErrMissingIssuer
	// Certificates are the certificates the error is about (see above).
	Certificates []*x509.Certificate
	// Path is the longest leaf-first path found, for ErrUnplaced and
	// ErrMissingIssuer; else nil.
	Path []*x509.Certificate
}

// Error names the certificates and says what was expected.
func (e *OrderError) Error() string {
	switch e.err {
	case ErrLoop:
		return fmt.Sprintf("chain: certificates form a loop: %s -> %s", Path(e.Certificates), Name(e.Certificates[0]))
	case ErrSeveralLeaves:
		return fmt.Sprintf("chain: expected one leaf certificate, found %d that issued none of the others: %s",
			len(e.Certificates), names(e.Certificates))
	case ErrUnplaced:
		return fmt.Sprintf("chain: expected every certificate on one path, but %d not on %s: %s",
			len(e.Certificates), Path(e.Path), names(e.Certificates))
	case ErrMissingIssuer:
		if len(e.Certificates) == 1 {
			c := e.Certificates[0]
			return fmt.Sprintf("chain: issuer of %s not found: expected %s in the chain or the pool", Name(c), describeIssuer(c))
		}
	}
	return fmt.Sprintf("chain: cannot order %s: %v", names(e.Certificates), e.err)
}

// Unwrap returns the sentinel, so that [errors.Is] matches it.
func (e *OrderError) Unwrap() error { return e.err }
