package chain

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
)

// Bounds on path search, so that a hostile bag of certificates cannot make
// Order, Complete or Verify's diagnosis run for long. Real chains have at
// most a handful of certificates; Java refuses client chains longer than 10
// (jdk.tls.maxCertificateChainLength).
const (
	maxDepth       = 16
	maxSearchSteps = 1000
	// maxCertificates is the most certificates Order accepts (after
	// removing repeats): matching issuers is quadratic in their number.
	maxCertificates = 1000
	// maxOrderSignatures bounds the signature checks Order makes to choose
	// between same-named issuers; beyond it, names and key ids decide alone.
	maxOrderSignatures = 1000
	// maxCompleteSignatures bounds the signature checks Complete makes,
	// for the same reason: a pool of thousands of same-named CAs would
	// otherwise cost a check for each at every step of the search.
	maxCompleteSignatures = 1000
	// maxExamined bounds the certificates Complete looks at, tried or
	// not: a step whose candidates all fail the key identifier check
	// counts no try, and a pool of many such candidates would otherwise
	// be scanned again at every step.
	maxExamined = 100_000
)

// Name returns a short name for cert: "CN=" and its common name, or its
// whole subject when it has no common name, or its serial number when the
// subject is empty.
func Name(cert *x509.Certificate) string {
	if cert == nil {
		return "<nil>"
	}
	if cn := cert.Subject.CommonName; cn != "" {
		return "CN=" + cn
	}
	if s := cert.Subject.String(); s != "" {
		return s
	}
	return "serial:" + cert.SerialNumber.String()
}

// Path formats a chain as its certificates' names joined by arrows, such as
// "CN=leaf -> CN=inter -> CN=root". An empty chain is "(empty chain)".
func Path(chain []*x509.Certificate) string {
	if len(chain) == 0 {
		return "(empty chain)"
	}
	parts := make([]string, len(chain))
	for i, c := range chain {
		parts[i] = Name(c)
	}
	return strings.Join(parts, " -> ")
}

func names(certs []*x509.Certificate) string {
	parts := make([]string, len(certs))
	for i, c := range certs {
		parts[i] = Name(c)
	}
	return strings.Join(parts, ", ")
}

// keyID formats a key identifier the way OpenSSL prints it (5A:3F:...).
func keyID(id []byte) string {
	var b strings.Builder
	for i, c := range id {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", c)
	}
	return b.String()
}

// describeIssuer names cert's issuer by distinguished name and, when the
// certificate has one, authority key identifier.
func describeIssuer(cert *x509.Certificate) string {
	s := fmt.Sprintf("issuer %q", cert.Issuer.String())
	if len(cert.AuthorityKeyId) > 0 {
		s += " with key id " + keyID(cert.AuthorityKeyId)
	}
	return s
}

// describeCert names cert by distinguished name and subject key identifier.
func describeCert(cert *x509.Certificate) string {
	s := fmt.Sprintf("%q", cert.Subject.String())
	if len(cert.SubjectKeyId) > 0 {
		s += " (key id " + keyID(cert.SubjectKeyId) + ")"
	}
	return s
}

// mayIssue reports whether parent's name (and key identifier, when both
// certificates carry one) is the one child names as its issuer.
func mayIssue(child, parent *x509.Certificate) bool {
	if !bytes.Equal(child.RawIssuer, parent.RawSubject) {
		return false
	}
	if len(child.AuthorityKeyId) > 0 && len(parent.SubjectKeyId) > 0 {
		return bytes.Equal(child.AuthorityKeyId, parent.SubjectKeyId)
	}
	return true
}

// signatureError checks child's signature with parent's key, allowing SHA-1
// (the caller decides whether SHA-1 is acceptable).
func signatureError(child, parent *x509.Certificate) error {
	return parent.CheckSignature(child.SignatureAlgorithm, child.RawTBSCertificate, child.Signature)
}

// signed reports whether child's signature verifies with parent's key, or
// cannot be checked because its algorithm is one Go refuses (MD5): such a
// link is plausible for ordering purposes.
func signed(child, parent *x509.Certificate) bool {
	err := signatureError(child, parent)
	var insecure x509.InsecureAlgorithmError
	return err == nil || errors.As(err, &insecure) || errors.Is(err, x509.ErrUnsupportedAlgorithm)
}

// selfSigned reports whether cert names itself as issuer and is signed by
// its own key: its authority and subject key identifiers agree, or, when it
// lacks one of them, its signature verifies with its own key. (A self-issued
// certificate signed by another key, as in a CA key rollover, has differing
// key identifiers.) It is used to end paths, never to grant trust.
func selfSigned(cert *x509.Certificate) bool {
	if !mayIssue(cert, cert) {
		return false
	}
	if len(cert.AuthorityKeyId) > 0 && len(cert.SubjectKeyId) > 0 {
		return true // mayIssue compared them
	}
	return signed(cert, cert)
}

func fingerprint(cert *x509.Certificate) [32]byte { return sha256.Sum256(cert.Raw) }

// dedupe drops repeated certificates (same DER), keeping the first of each,
// and fails on nil entries.
func dedupe(certs []*x509.Certificate) ([]*x509.Certificate, error) {
	seen := make(map[[32]byte]bool, len(certs))
	out := make([]*x509.Certificate, 0, len(certs))
	for i, c := range certs {
		if c == nil {
			return nil, fmt.Errorf("chain: certificate %d of %d is nil", i+1, len(certs))
		}
		fp := fingerprint(c)
		if !seen[fp] {
			seen[fp] = true
			out = append(out, c)
		}
	}
	return out, nil
}

// issuerCandidates returns the indexes j of certs that may have issued
// certs[i]; when several do, those whose signature verifies are preferred,
// as long as *budget signature checks remain.
func issuerCandidates(certs []*x509.Certificate, i int, budget *int) []int {
	var cands []int
	for j, p := range certs {
		if j != i && mayIssue(certs[i], p) {
			cands = append(cands, j)
		}
	}
	if len(cands) > 1 && *budget >= len(cands) {
		*budget -= len(cands)
		var good []int
		for _, j := range cands {
			if signed(certs[i], certs[j]) {
				good = append(good, j)
			}
		}
		if len(good) > 0 {
			cands = good
		}
	}
	return cands
}

// Order arranges a bag of certificates, in any order, into one leaf-first
// path: each certificate issued by the next. Repeated certificates (same DER)
// collapse into one. A self-signed certificate ends the path.
//
// Issuers are matched by distinguished name and, when both certificates
// carry one, key identifier; where several certificates match, those whose
// signature verifies win. Order does not judge validity, usage or trust (see
// [Receiver.Verify]).
//
// Errors: [ErrNoCertificates] for an empty bag; [ErrTooMany] for more than
// 1,000 distinct certificates; an [*OrderError] matching [ErrLoop] when
// certificates issue each other in a cycle, [ErrSeveralLeaves] when more
// than one certificate issued none of the others, or [ErrUnplaced] (with the
// longest path found) when some certificates are not on the path, such as a
// root next to its cross-signed twin.
func Order(certs []*x509.Certificate) ([]*x509.Certificate, error) {
	uniq, err := dedupe(certs)
	if err != nil {
		return nil, err
	}
	if len(uniq) == 0 {
		return nil, fmt.Errorf("%w to order", ErrNoCertificates)
	}
	if len(uniq) > maxCertificates {
		return nil, fmt.Errorf("%w: %d distinct certificates to order, at most %d accepted", ErrTooMany, len(uniq), maxCertificates)
	}
	n := len(uniq)
	parents := make([][]int, n)
	isIssuer := make([]bool, n)
	budget := maxOrderSignatures
	for i := range uniq {
		if selfSigned(uniq[i]) {
			continue
		}
		parents[i] = issuerCandidates(uniq, i, &budget)
		for _, j := range parents[i] {
			isIssuer[j] = true
		}
	}
	if cycle := findCycle(parents); cycle != nil {
		loop := make([]*x509.Certificate, len(cycle))
		for k, i := range cycle {
			loop[k] = uniq[i]
		}
		return nil, &OrderError{err: ErrLoop, Certificates: loop}
	}
	var leaves []int
	for i := range uniq {
		if !isIssuer[i] {
			leaves = append(leaves, i)
		}
	}
	if len(leaves) > 1 {
		e := &OrderError{err: ErrSeveralLeaves}
		for _, i := range leaves {
			e.Certificates = append(e.Certificates, uniq[i])
		}
		return nil, e
	}
	// With no cycle there is at least one certificate that issued nothing.

	// Longest path from the leaf in a DAG; ties go to the issuer listed first.
	longest := make([]int, n)
	next := make([]int, n)
	var walk func(i int) int
	walk = func(i int) int {
		if longest[i] > 0 {
			return longest[i]
		}
		best, bestNext := 0, -1
		for _, j := range parents[i] {
			if l := walk(j); l > best {
				best, bestNext = l, j
			}
		}
		longest[i], next[i] = best+1, bestNext
		return longest[i]
	}
	walk(leaves[0])
	var path []*x509.Certificate
	onPath := make([]bool, n)
	for i := leaves[0]; i >= 0; i = next[i] {
		path = append(path, uniq[i])
		onPath[i] = true
	}
	if len(path) < n {
		e := &OrderError{err: ErrUnplaced, Path: path}
		for i, c := range uniq {
			if !onPath[i] {
				e.Certificates = append(e.Certificates, c)
			}
		}
		return nil, e
	}
	return path, nil
}

// findCycle returns the nodes of one cycle in the graph i -> parents[i], each
// followed by its parent, or nil when there is none.
func findCycle(parents [][]int) []int {
	const (
		white = iota
		grey
		black
	)
	color := make([]int, len(parents))
	var stack []int
	var cycle []int
	var visit func(i int) bool
	visit = func(i int) bool {
		color[i] = grey
		stack = append(stack, i)
		for _, j := range parents[i] {
			switch color[j] {
			case grey:
				for k := len(stack) - 1; k >= 0; k-- {
					if stack[k] == j {
						cycle = append([]int(nil), stack[k:]...)
						return true
					}
				}
			case white:
				if visit(j) {
					return true
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[i] = black
		return false
	}
	for i := range parents {
		if color[i] == white && visit(i) {
			return cycle
		}
	}
	return nil
}

// Complete extends chain, which must be leaf first with each certificate
// issued by the next, with issuers from pool until a self-signed certificate
// (the anchor) is reached. It returns the path, which is chain followed by
// the intermediates from pool and is what a client should present, and the
// anchor. The path leaves the anchor out unless it is only the anchor itself.
// A root at the end of chain is treated the same way as one found in pool.
//
// Where several certificates of pool could be the next issuer, the shortest
// way to a self-signed certificate wins, then pool order; issuers are
// matched as in [Order]. The search is bounded whatever pool holds (such
// as thousands of CAs with one name): it tries at most 1,000 certificates
// and checks at most 1,000 signatures (beyond that, names and key ids
// decide alone), so its cost is linear in the pool; past the bounds it
// returns the best path found.
//
// Errors: [ErrNoCertificates] for an empty chain; [ErrBrokenChain] when a
// certificate of chain is not issued by the next; an [*OrderError] matching
// [ErrMissingIssuer], naming the missing issuer by subject and authority key
// identifier and carrying the partial path, when no self-signed certificate
// is reached.
func Complete(chain, pool []*x509.Certificate) (path []*x509.Certificate, anchor *x509.Certificate, err error) {
	if len(chain) == 0 {
		return nil, nil, fmt.Errorf("%w to complete", ErrNoCertificates)
	}
	for i, c := range chain {
		if c == nil {
			return nil, nil, fmt.Errorf("chain: certificate %d of %d is nil", i+1, len(chain))
		}
		if i > 0 && !mayIssue(chain[i-1], c) {
			return nil, nil, fmt.Errorf("%w: certificate %d (%s) names %s, but certificate %d is %s",
				ErrBrokenChain, i, Name(chain[i-1]), describeIssuer(chain[i-1]), i+1, describeCert(c))
		}
	}
	out := append([]*x509.Certificate(nil), chain...)
	if top := out[len(out)-1]; selfSigned(top) {
		if len(out) > 1 {
			out = out[:len(out)-1]
		}
		return out, top, nil
	}

	uniq, err := dedupe(pool)
	if err != nil {
		return nil, nil, err
	}
	inChain := make(map[[32]byte]bool, len(chain))
	for _, c := range chain {
		inChain[fingerprint(c)] = true
	}
	var candidates []*x509.Certificate
	for _, c := range uniq {
		if !inChain[fingerprint(c)] {
			candidates = append(candidates, c)
		}
	}

	s := newSearcher(candidates)
	ext, ok := s.extend(out[len(out)-1], 0)
	out = append(out, ext...)
	if !ok {
		return nil, nil, &OrderError{err: ErrMissingIssuer, Certificates: []*x509.Certificate{out[len(out)-1]}, Path: out}
	}
	anchor = out[len(out)-1]
	return out[:len(out)-1], anchor, nil
}

// searcher finds issuer paths through a pool within the search bounds:
// at most maxSearchSteps certificates tried, maxExamined looked at,
// maxDepth deep, and maxCompleteSignatures signature checks, each pair
// checked once. The
// pool is indexed by subject, so a step looks only at the certificates
// that may be the issuer; the cost of Complete is linear in the pool plus
// a bounded search.
type searcher struct {
	pool      []*x509.Certificate
	bySubject map[string][]int // raw subject -> pool indexes, in pool order
	used      []bool
	self      []int8 // selfSigned of each pool certificate: 0 unknown, 1 yes, -1 no
	sigs      map[sigPair]bool
	sigLeft   int
	steps     int
	examined  int
}

// sigPair is a child and the pool index of a possible issuer.
type sigPair struct {
	child  *x509.Certificate
	parent int
}

func newSearcher(pool []*x509.Certificate) *searcher {
	s := &searcher{
		pool:      pool,
		bySubject: make(map[string][]int),
		used:      make([]bool, len(pool)),
		self:      make([]int8, len(pool)),
		sigs:      make(map[sigPair]bool),
		sigLeft:   maxCompleteSignatures,
	}
	for j, c := range pool {
		s.bySubject[string(c.RawSubject)] = append(s.bySubject[string(c.RawSubject)], j)
	}
	return s
}

// signed reports whether pool[j] signed child, checking each pair once.
// Once the signature budget is spent, an unchecked pair counts as not
// verified: names and key ids decide alone.
func (s *searcher) signed(child *x509.Certificate, j int) bool {
	k := sigPair{child, j}
	if v, ok := s.sigs[k]; ok {
		return v
	}
	if s.sigLeft <= 0 {
		return false
	}
	s.sigLeft--
	v := signed(child, s.pool[j])
	s.sigs[k] = v
	return v
}

func (s *searcher) selfSigned(j int) bool {
	if s.self[j] == 0 {
		s.self[j] = -1
		if selfSigned(s.pool[j]) {
			s.self[j] = 1
		}
	}
	return s.self[j] == 1
}

// extend returns the shortest list of pool certificates leading from top to
// a self-signed certificate (ok), or else the longest list found.
func (s *searcher) extend(top *x509.Certificate, depth int) (ext []*x509.Certificate, ok bool) {
	if depth >= maxDepth {
		return nil, false
	}
	var best []*x509.Certificate
	bestOK := false
	cands := s.bySubject[string(top.RawIssuer)]
	for _, pass := range []bool{true, false} { // verified signatures first
		for _, j := range cands {
			s.examined++
			if s.examined > maxExamined {
				return best, bestOK
			}
			p := s.pool[j]
			if s.used[j] || !mayIssue(top, p) || s.signed(top, j) != pass {
				continue
			}
			s.steps++
			if s.steps > maxSearchSteps {
				return best, bestOK
			}
			var sub []*x509.Certificate
			subOK := s.selfSigned(j)
			if !subOK {
				s.used[j] = true
				sub, subOK = s.extend(p, depth+1)
				s.used[j] = false
			}
			cand := append([]*x509.Certificate{p}, sub...)
			switch {
			case subOK && (!bestOK || len(cand) < len(best)):
				best, bestOK = cand, true
			case !subOK && !bestOK && len(cand) > len(best):
				best = cand
			}
		}
		if bestOK {
			break
		}
	}
	return best, bestOK
}

// KeyMatches reports whether key is the public key of cert. key may be a
// public key or a private key that implements [crypto.Signer] (all of the
// standard library's do); an unsupported key type never matches.
func KeyMatches(key crypto.PublicKey, cert *x509.Certificate) bool {
	if key == nil || cert == nil {
		return false
	}
	if s, ok := key.(crypto.Signer); ok {
		key = s.Public()
	}
	k, ok := key.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(cert.PublicKey)
}
