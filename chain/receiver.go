package chain

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// defaultMinRSABits is the RSA modulus size below which a [Receiver] with a
// zero MinRSABits rejects a key.
const defaultMinRSABits = 2048

const (
	// maxListed caps how many trusted roots an error message names.
	maxListed = 10
	// maxDiagnoseSteps bounds the paths explored to explain a rejection.
	maxDiagnoseSteps = 500
	// maxDiagnoseSignatures bounds the distinct signature checks made to
	// explain a rejection, as crypto/x509 bounds its own to 100: the search
	// stops exploring once they are spent.
	maxDiagnoseSignatures = 100
)

// sigChecker memoizes signature checks during one diagnosis.
type sigChecker struct {
	done map[[2]*x509.Certificate]error
}

func (s *sigChecker) check(child, parent *x509.Certificate) error {
	k := [2]*x509.Certificate{child, parent}
	if err, ok := s.done[k]; ok {
		return err
	}
	err := signatureError(child, parent)
	s.done[k] = err
	return err
}

func (s *sigChecker) spent() bool { return len(s.done) >= maxDiagnoseSignatures }

// Receiver models what the server side of a TLS connection accepts as a
// client certificate chain: its trust anchors, the intermediates it holds,
// and optionally the exact client certificates it maps to users.
//
// The zero value trusts nothing and rejects every chain. A Receiver is safe
// for concurrent use as long as its fields are not modified meanwhile.
// Between calls its fields may change, and a Receiver may be copied while
// no call is running on it: the roots pool that [Receiver.Verify] builds
// on first use is kept for the next calls, and rebuilt when Roots no
// longer holds the same certificates (compared by pointer, so a
// certificate must not be modified in place). The package also keeps the
// pools of the last few Roots lists, so that a Receiver made per call
// from the same list, as per TLS handshake, does not rebuild it either.
type Receiver struct {
	// Roots are the trust anchors. Empty means none: the system roots are
	// never used, because a receiver that trusts every public CA for client
	// authentication is almost never what was meant.
	Roots []*x509.Certificate

	// Intermediates are certificates the receiver holds besides its roots
	// and may use to complete a chain the client sent without them. They are
	// not trusted by themselves. Nil means none.
	Intermediates []*x509.Certificate

	// Pinned, when not empty, lists the only client certificates accepted
	// (compared byte for byte), as receivers that map a certificate to a
	// user do; the chain must verify as well. Nil means no pinning.
	Pinned []*x509.Certificate

	// Time is the instant at which validity is checked. The zero value means
	// the current time.
	Time time.Time

	// Usages lists the extended key usages of which the chain must permit at
	// least one, as in [x509.VerifyOptions.KeyUsages]. Nil or empty means
	// clientAuth; [x509.ExtKeyUsageAny] accepts any usage.
	Usages []x509.ExtKeyUsage

	// MinRSABits is the smallest RSA modulus accepted, in bits, for every
	// certificate on the path including the anchor. Zero means
	// 2048 (NIST SP 800-131A disallows RSA keys under 2048 bits for
	// signatures since 2014, and so do most receivers' policies); a negative value disables the check (crypto/x509
	// and crypto/tls still refuse keys under 1024 bits).
	MinRSABits int

	// roots caches the pool built from Roots (a *rootPool). Building it
	// hashes every root and allocates several times per root: with 150
	// roots that cost more than the verification itself, and a receiver
	// verifies on every handshake. It is an atomic.Value rather than an
	// atomic.Pointer so that a Receiver may still be copied (go vet flags
	// copies of the latter): a copy shares the cached pool, which is never
	// modified and is checked against the copy's own Roots before use.
	roots atomic.Value
}

// rootPool is the crypto/x509 pool built from a receiver's Roots, with the
// slice it was built from so that a change of Roots is noticed.
type rootPool struct {
	certs []*x509.Certificate
	pool  *x509.CertPool
}

// samePointers reports whether a and b hold the same certificates, by
// pointer, in the same order. Comparing 150 pointers costs far less than
// hashing 150 certificates.
func samePointers(a, b []*x509.Certificate) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// rootsPool returns the pool of the receiver's Roots, building it on first
// use or when Roots changed since. Concurrent first callers may each build
// it; the pools are equal, and the last one stored is kept.
func (r *Receiver) rootsPool() *x509.CertPool {
	if p, _ := r.roots.Load().(*rootPool); p != nil && samePointers(p.certs, r.Roots) {
		return p.pool
	}
	p := recentRoots.get(r.Roots)
	r.roots.Store(p)
	return p.pool
}

// recentPools is how many roots pools [recentRoots] keeps.
const recentPools = 4

// recentRoots keeps the pools of the last few Roots lists verified with,
// for callers that make a Receiver per call from the same list: the
// embedded receiver of renewal/local makes one per handshake, to set its
// clock as Time. An entry holds its certificates and pool until replaced.
var recentRoots rootsCache

type rootsCache struct {
	mu      sync.Mutex
	entries [recentPools]*rootPool
	next    int
}

// get returns a pool of roots: a kept one built from the same
// certificates, or a new one, which it keeps in place of the oldest.
func (c *rootsCache) get(roots []*x509.Certificate) *rootPool {
	c.mu.Lock()
	for _, p := range c.entries {
		if p != nil && samePointers(p.certs, roots) {
			c.mu.Unlock()
			return p
		}
	}
	c.mu.Unlock()
	// Built outside the lock: hashing the roots is the slow part.
	p := &rootPool{certs: append([]*x509.Certificate(nil), roots...), pool: pool(roots)}
	c.mu.Lock()
	c.entries[c.next] = p
	c.next = (c.next + 1) % recentPools
	c.mu.Unlock()
	return p
}

func (r *Receiver) now() time.Time {
	if r.Time.IsZero() {
		return time.Now()
	}
	return r.Time
}

func (r *Receiver) usages() []x509.ExtKeyUsage {
	if len(r.Usages) == 0 {
		return []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	return r.Usages
}

func (r *Receiver) minRSABits() int {
	if r.MinRSABits == 0 {
		return defaultMinRSABits
	}
	return r.MinRSABits
}

func pool(certs ...[]*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, cs := range certs {
		for _, c := range cs {
			p.AddCert(c)
		}
	}
	return p
}

// Verify checks a client chain, leaf first as the client presents it, the
// way the receiver would during a TLS handshake: crypto/x509 builds and
// verifies a path from the leaf to one of Roots, using the chain's other
// certificates and Intermediates, at Time, for Usages; then the receiver's
// own policy applies (RSA key size, pinning). Verify is never more lenient
// than crypto/x509: whatever [x509.Certificate.Verify] rejects with the same
// inputs, Verify rejects.
//
// On success Verify returns, as [x509.Certificate.Verify] does, every
// verified path the receiver's policy accepts, each leaf first and ending
// at its trust anchor; the first is the path crypto/x509 preferred, so
// chains[0][len(chains[0])-1] is the anchor. Otherwise the error is a
// [*VerifyError] listing every problem on the path that came closest to an
// anchor, each with its certificate and sentinel; it matches those
// sentinels (such as [ErrExpired]) with [errors.Is]. An empty chain or a nil
// certificate is an error wrapping [ErrNoCertificates] or describing the
// nil entry.
func (r *Receiver) Verify(chain []*x509.Certificate) ([][]*x509.Certificate, error) {
	return r.verify(chain, nil)
}

// VerifyKey is [Receiver.Verify] that also requires the leaf's public key
// to be key (a public key or a [crypto.Signer]), as when a key entry is
// checked before it is installed; a mismatch is a problem with
// [ErrKeyMismatch].
func (r *Receiver) VerifyKey(key crypto.PublicKey, chain []*x509.Certificate) ([][]*x509.Certificate, error) {
	if key == nil {
		return nil, errors.New("chain: VerifyKey needs a key, got nil")
	}
	return r.verify(chain, key)
}

func (r *Receiver) verify(chain []*x509.Certificate, key crypto.PublicKey) ([][]*x509.Certificate, error) {
	if len(chain) == 0 {
		return nil, fmt.Errorf("%w to verify", ErrNoCertificates)
	}
	for i, c := range chain {
		if c == nil {
			return nil, fmt.Errorf("chain: certificate %d of %d is nil", i+1, len(chain))
		}
	}
	now := r.now()
	opts := x509.VerifyOptions{
		Roots: r.rootsPool(),
		// The intermediates pool holds the certificates the client sent,
		// so it is built per call, as crypto/tls does per handshake; the
		// receiver's own Intermediates are usually few.
		Intermediates: pool(chain[1:], r.Intermediates),
		CurrentTime:   now,
		KeyUsages:     r.usages(),
	}
	chains, xerr := chain[0].Verify(opts)
	if xerr == nil {
		var accepted [][]*x509.Certificate
		var firstPath []*x509.Certificate
		var firstProblems []Problem
		for _, c := range chains {
			ps := r.policyProblems(c, key)
			if len(ps) == 0 {
				accepted = append(accepted, c)
			} else if firstProblems == nil {
				firstPath, firstProblems = c, ps
			}
		}
		if len(accepted) > 0 {
			return accepted, nil
		}
		return nil, &VerifyError{Chain: chain, Path: firstPath, Problems: firstProblems}
	}

	path, problems := r.diagnose(chain, now, key)
	problems = addX509Problem(problems, xerr, chain[0])
	return nil, &VerifyError{Chain: chain, Path: path, Problems: problems, err: xerr}
}

// policyProblems checks what the receiver requires beyond crypto/x509 on a
// path crypto/x509 verified.
func (r *Receiver) policyProblems(path []*x509.Certificate, key crypto.PublicKey) []Problem {
	var ps []Problem
	for i, c := range path {
		if p, ok := r.weakKey(c); ok {
			ps = append(ps, p)
		}
		if i+1 < len(path) {
			if p, ok := weakSignature(c, path[i+1]); ok {
				ps = append(ps, p)
			}
		}
	}
	return append(ps, r.leafProblems(path[0], key)...)
}

// leafProblems checks pinning and the key match.
func (r *Receiver) leafProblems(leaf *x509.Certificate, key crypto.PublicKey) []Problem {
	var ps []Problem
	if len(r.Pinned) > 0 {
		fp := fingerprint(leaf)
		pinned := false
		for _, c := range r.Pinned {
			if c != nil && fingerprint(c) == fp {
				pinned = true
				break
			}
		}
		if !pinned {
			ps = append(ps, Problem{Cert: leaf, Err: ErrNotPinned, Detail: fmt.Sprintf(
				"the receiver accepts only %d pinned client certificate(s) (%s); this one has SHA-256 fingerprint %x",
				len(r.Pinned), names(r.Pinned), fp)})
		}
	}
	if key != nil && !KeyMatches(key, leaf) {
		ps = append(ps, Problem{Cert: leaf, Err: ErrKeyMismatch, Detail: fmt.Sprintf(
			"the certificate holds a %s public key that is not the %s key it was checked against",
			keyKind(leaf.PublicKey), keyKind(key))})
	}
	return ps
}

func keyKind(key any) string {
	if s, ok := key.(crypto.Signer); ok {
		key = s.Public()
	}
	switch k := key.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA-%d", k.N.BitLen())
	}
	return strings.TrimPrefix(fmt.Sprintf("%T", key), "*")
}

func (r *Receiver) weakKey(c *x509.Certificate) (Problem, bool) {
	min := r.minRSABits()
	if k, ok := c.PublicKey.(*rsa.PublicKey); ok && min > 0 && k.N.BitLen() < min {
		return Problem{Cert: c, Err: ErrWeakKey, Detail: fmt.Sprintf(
			"RSA key of %d bits; the receiver requires at least %d", k.N.BitLen(), min)}, true
	}
	return Problem{}, false
}

func weakSignature(child, parent *x509.Certificate) (Problem, bool) {
	switch child.SignatureAlgorithm {
	case x509.MD2WithRSA, x509.MD5WithRSA, x509.SHA1WithRSA, x509.ECDSAWithSHA1, x509.DSAWithSHA1:
		return Problem{Cert: child, Err: ErrWeakSignature, Detail: fmt.Sprintf(
			"signed by %s with %v; crypto/x509 refuses MD5 and SHA-1 signatures", Name(parent), child.SignatureAlgorithm)}, true
	}
	return Problem{}, false
}

// candidate is a certificate the receiver could use to build a path.
type candidate struct {
	cert    *x509.Certificate
	trusted bool
}

// diagnose finds the path from the chain's leaf that comes closest to being
// accepted and lists all of its problems. It runs only after crypto/x509 has
// rejected the chain, so it may be slow-ish but is bounded.
func (r *Receiver) diagnose(chain []*x509.Certificate, now time.Time, key crypto.PublicKey) ([]*x509.Certificate, []Problem) {
	trusted := make(map[[32]byte]bool, len(r.Roots))
	for _, c := range r.Roots {
		if c != nil {
			trusted[fingerprint(c)] = true
		}
	}
	var cands []candidate
	seen := map[[32]byte]bool{fingerprint(chain[0]): true}
	for _, list := range [][]*x509.Certificate{chain[1:], r.Intermediates, r.Roots} {
		for _, c := range list {
			if c == nil {
				continue
			}
			if fp := fingerprint(c); !seen[fp] {
				seen[fp] = true
				cands = append(cands, candidate{cert: c, trusted: trusted[fp]})
			}
		}
	}

	var (
		bestPath     []*x509.Certificate
		bestProblems []Problem
		bestReached  bool
		steps        int
		sigs         = &sigChecker{done: map[[2]*x509.Certificate]error{}}
	)
	consider := func(path []*x509.Certificate, reached bool) {
		ps := r.pathProblems(path, reached, now, key, sigs)
		better := bestPath == nil ||
			(reached && !bestReached) ||
			(reached == bestReached && (len(ps) < len(bestProblems) ||
				len(ps) == len(bestProblems) && len(path) < len(bestPath)))
		if better {
			bestPath = append([]*x509.Certificate(nil), path...)
			bestProblems, bestReached = ps, reached
		}
	}
	used := make([]bool, len(cands))
	var walk func(path []*x509.Certificate)
	walk = func(path []*x509.Certificate) {
		steps++
		top := path[len(path)-1]
		if trusted[fingerprint(top)] {
			consider(path, true)
			return
		}
		extended := false
		if len(path) < maxDepth {
			for j, c := range cands {
				if used[j] || !mayIssue(top, c.cert) || steps > maxDiagnoseSteps || sigs.spent() {
					continue
				}
				extended = true
				used[j] = true
				walk(append(path, c.cert))
				used[j] = false
			}
		}
		if !extended {
			consider(path, false)
		}
	}
	walk([]*x509.Certificate{chain[0]})
	return bestPath, bestProblems
}

// pathProblems lists every problem of a candidate path; reached says whether
// it ends at a trusted certificate.
func (r *Receiver) pathProblems(path []*x509.Certificate, reached bool, now time.Time, key crypto.PublicKey, sigs *sigChecker) []Problem {
	var ps []Problem
	for i, c := range path {
		if now.Before(c.NotBefore) {
			ps = append(ps, Problem{Cert: c, Err: ErrNotYetValid, Detail: validity(c, now)})
		} else if now.After(c.NotAfter) {
			ps = append(ps, Problem{Cert: c, Err: ErrExpired, Detail: validity(c, now)})
		}
		if p, ok := r.weakKey(c); ok {
			ps = append(ps, p)
		}
		if i+1 < len(path) {
			parent := path[i+1]
			if p, ok := weakSignature(c, parent); ok {
				ps = append(ps, p)
			} else if err := sigs.check(c, parent); err != nil {
				ps = append(ps, Problem{Cert: c, Err: ErrBadSignature, Detail: fmt.Sprintf(
					"signature (%v) does not verify with the key of %s: %v", c.SignatureAlgorithm, Name(parent), err)})
			}
			if parent.Version == 3 && !parent.BasicConstraintsValid || parent.BasicConstraintsValid && !parent.IsCA {
				ps = append(ps, Problem{Cert: parent, Err: ErrConstraint, Detail: fmt.Sprintf(
					"issued %s but is not a CA certificate (basic constraints)", Name(c))})
			} else if parent.KeyUsage != 0 && parent.KeyUsage&x509.KeyUsageCertSign == 0 {
				ps = append(ps, Problem{Cert: parent, Err: ErrConstraint, Detail: fmt.Sprintf(
					"issued %s but its key usage does not include certificate signing", Name(c))})
			}
		}
	}
	ps = append(ps, r.usageProblems(path)...)
	ps = append(ps, r.leafProblems(path[0], key)...)
	if !reached {
		ps = append(ps, r.anchorProblem(path))
	}
	sort.SliceStable(ps, func(a, b int) bool { return position(path, ps[a].Cert) < position(path, ps[b].Cert) })
	return ps
}

func position(path []*x509.Certificate, c *x509.Certificate) int {
	for i, p := range path {
		if p == c {
			return i
		}
	}
	return len(path)
}

func validity(c *x509.Certificate, now time.Time) string {
	return fmt.Sprintf("valid from %s to %s, checked at %s",
		c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
}

var ekuNames = map[x509.ExtKeyUsage]string{
	x509.ExtKeyUsageAny:             "any",
	x509.ExtKeyUsageServerAuth:      "serverAuth",
	x509.ExtKeyUsageClientAuth:      "clientAuth",
	x509.ExtKeyUsageCodeSigning:     "codeSigning",
	x509.ExtKeyUsageEmailProtection: "emailProtection",
	x509.ExtKeyUsageTimeStamping:    "timeStamping",
	x509.ExtKeyUsageOCSPSigning:     "OCSPSigning",
}

func ekuList(usages []x509.ExtKeyUsage, unknown int) string {
	var parts []string
	for _, u := range usages {
		if n, ok := ekuNames[u]; ok {
			parts = append(parts, n)
		} else {
			parts = append(parts, fmt.Sprintf("usage %d", int(u)))
		}
	}
	if unknown > 0 {
		parts = append(parts, fmt.Sprintf("%d unknown usage(s)", unknown))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// usageProblems applies crypto/x509's extended key usage rule (every
// certificate on the path that restricts usages must permit a requested
// usage that all the others permit too) and, when it fails, names each
// certificate that lacks a requested usage.
func (r *Receiver) usageProblems(path []*x509.Certificate) []Problem {
	want := r.usages()
	for _, u := range want {
		if u == x509.ExtKeyUsageAny {
			return nil
		}
	}
	restricts := func(c *x509.Certificate) bool {
		if len(c.ExtKeyUsage) == 0 && len(c.UnknownExtKeyUsage) == 0 {
			return false
		}
		for _, u := range c.ExtKeyUsage {
			if u == x509.ExtKeyUsageAny {
				return false
			}
		}
		return true
	}
	has := func(c *x509.Certificate, u x509.ExtKeyUsage) bool {
		for _, v := range c.ExtKeyUsage {
			if v == u {
				return true
			}
		}
		return false
	}
	for _, u := range want {
		ok := true
		for _, c := range path {
			if restricts(c) && !has(c, u) {
				ok = false
				break
			}
		}
		if ok {
			return nil
		}
	}
	var ps []Problem
	for _, c := range path {
		if !restricts(c) {
			continue
		}
		for _, u := range want {
			if !has(c, u) {
				ps = append(ps, Problem{Cert: c, Err: ErrUsage, Detail: fmt.Sprintf(
					"extended key usage permits %s; the receiver requires %s",
					ekuList(c.ExtKeyUsage, len(c.UnknownExtKeyUsage)), ekuList(want, 0))})
				break
			}
		}
	}
	return ps
}

// anchorProblem explains why a path does not reach a trusted certificate.
func (r *Receiver) anchorProblem(path []*x509.Certificate) Problem {
	top := path[len(path)-1]
	trusts := r.trustList()
	if selfSigned(top) {
		return Problem{Cert: top, Err: ErrUnknownAuthority, Detail: fmt.Sprintf(
			"self-signed %s is not a trusted root; the receiver trusts %s", describeCert(top), trusts)}
	}
	var hint string
	for _, list := range [][]*x509.Certificate{r.Roots, r.Intermediates} {
		for _, c := range list {
			switch {
			case c == nil:
			case string(c.RawSubject) == string(top.RawIssuer) && !mayIssue(top, c):
				hint += fmt.Sprintf(" (the receiver holds a certificate with that name, but its key id is %s: a different key)", keyID(c.SubjectKeyId))
			case len(top.AuthorityKeyId) > 0 && string(c.SubjectKeyId) == string(top.AuthorityKeyId):
				hint += fmt.Sprintf(" (the receiver holds %s, which has that key id but another name)", describeCert(c))
			}
		}
	}
	if len(path) == 1 && !top.IsCA {
		return Problem{Cert: top, Err: ErrIncompleteChain, Detail: fmt.Sprintf(
			"the client sent no issuer: %s is neither in the chain nor among the receiver's intermediates and roots%s; the client must send it, or the receiver must add it; the receiver trusts %s",
			describeIssuer(top), hint, trusts)}
	}
	return Problem{Cert: top, Err: ErrUnknownAuthority, Detail: fmt.Sprintf(
		"%s is not trusted and not among the receiver's intermediates%s; the receiver trusts %s",
		describeIssuer(top), hint, trusts)}
}

func (r *Receiver) trustList() string {
	if len(r.Roots) == 0 {
		return "no roots"
	}
	var parts []string
	for i, c := range r.Roots {
		if i == maxListed {
			parts = append(parts, fmt.Sprintf("and %d more", len(r.Roots)-maxListed))
			break
		}
		if c != nil {
			parts = append(parts, describeCert(c))
		}
	}
	return strings.Join(parts, ", ")
}

// addX509Problem makes sure crypto/x509's verdict is represented: when the
// diagnosis found nothing, or crypto/x509 names a constraint the diagnosis
// does not check (name constraints, path length, policies, critical
// extensions), its reason is added.
func addX509Problem(ps []Problem, xerr error, leaf *x509.Certificate) []Problem {
	cert, reason := classify(xerr)
	if cert == nil {
		cert = leaf
	}
	if len(ps) > 0 {
		if reason != ErrConstraint && reason != ErrRejected {
			return ps
		}
		for _, p := range ps {
			if p.Err == reason {
				return ps
			}
		}
	}
	return append(ps, Problem{Cert: cert, Err: reason, Detail: xerr.Error()})
}

// classify maps a crypto/x509 verification error to the certificate it
// names, if any, and the sentinel of the [Problem] it makes.
func classify(err error) (*x509.Certificate, error) {
	var invalid x509.CertificateInvalidError
	var unknown x509.UnknownAuthorityError
	var insecure x509.InsecureAlgorithmError
	var constraint x509.ConstraintViolationError
	var critical x509.UnhandledCriticalExtension
	switch {
	case errors.As(err, &invalid):
		switch invalid.Reason {
		case x509.Expired:
			if strings.Contains(invalid.Detail, "is before") {
				return invalid.Cert, ErrNotYetValid
			}
			return invalid.Cert, ErrExpired
		case x509.IncompatibleUsage, x509.CANotAuthorizedForExtKeyUsage:
			return invalid.Cert, ErrUsage
		case x509.NotAuthorizedToSign, x509.TooManyIntermediates, x509.CANotAuthorizedForThisName,
			x509.UnconstrainedName, x509.NameConstraintsWithoutSANs, x509.TooManyConstraints, x509.NoValidChains:
			return invalid.Cert, ErrConstraint
		}
		return invalid.Cert, ErrRejected
	case errors.As(err, &unknown):
		return unknown.Cert, ErrUnknownAuthority
	case errors.As(err, &insecure):
		return nil, ErrWeakSignature
	case errors.As(err, &constraint), errors.As(err, &critical):
		return nil, ErrConstraint
	}
	return nil, ErrRejected
}

// AcceptsAll verifies each chain and returns nil if the receiver accepts
// all of them: the gate before a tenant switches from an old client
// certificate to a new one while the receiver accepts both. Otherwise it
// returns the [errors.Join] of one error per rejected chain, whose message
// says which chain fails ("chain 2 of 3 is not accepted: ...") and why, and
// which unwraps to that chain's error from [Receiver.Verify]: [errors.As]
// with a [*VerifyError] finds the first rejected chain (its Chain field),
// and the Unwrap() []error of the joined error lists them all, in order.
func (r *Receiver) AcceptsAll(chains ...[]*x509.Certificate) error {
	var errs []error
	for i, c := range chains {
		if _, err := r.Verify(c); err != nil {
			errs = append(errs, &chainError{index: i, total: len(chains), err: err})
		}
	}
	return errors.Join(errs...)
}

// Accepted returns, sorted, the names (such as keystore aliases) of the
// chains the receiver accepts, or nil if it accepts none.
//
// Two or more names warn of an ambiguous client: one whose keystore holds
// several key entries the receiver accepts may present any of them. Java's
// key manager picks the first match among the server's acceptable issuers,
// and some runtimes pick at random unless an alias is configured, so a
// renewal that leaves both entries in place can make the client present the
// old certificate.
func (r *Receiver) Accepted(chains map[string][]*x509.Certificate) []string {
	var out []string
	for name, c := range chains {
		if _, err := r.Verify(c); err == nil {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}
