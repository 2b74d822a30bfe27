package pkcs12

import (
	"sync"
	"sync/atomic"
)

// Key derivation is the only part of reading PKCS #12 whose cost the file
// chooses beyond its size: an iteration count multiplies it, and so do the
// number of output blocks (a PBKDF2 keyLength of 512 with SHA-1 is 26
// blocks), the number of derivations a scheme needs (PKCS #12 PBE derives
// a key and an IV) and the number of password forms tried (an empty
// password has two). A Work budget counts all of that in one unit, the
// hash block: one compression of SHA-1, SHA-224 or SHA-256 (about 70 ns on
// a 2020s x86 core), a SHA-384 or SHA-512 family compression counting as
// three, as it takes three times as long. Decode refuses a file whose
// derivations would exceed the budget before deriving anything, and every
// derivation is charged before it runs.
const (
	// MaxWork is the key-derivation work of one Decode, in hash blocks:
	// 16 million blocks take about a second. It admits a MAC at the
	// JDK's iteration limit (5,000,000 iterations of HMAC-SHA-256 via
	// the PKCS #12 KDF are 5 million blocks, tried with both forms of an
	// empty password), or a file at the defaults of keytool, OpenSSL or
	// Windows hundreds of times over.
	MaxWork = 16_000_000
	// MaxKDFRuns bounds the number of key derivations of one Decode,
	// whatever their iteration counts: each has a fixed cost (setting up
	// the hash, the PKCS #12 KDF's input), and a file of many tiny
	// encryptedData would otherwise add those up. Real files need one to
	// six (the MAC, then a key and an IV for each encryptedData, with two
	// forms of an empty password).
	MaxKDFRuns = 4096
)

// runOverhead is what a derivation costs besides its hash blocks
// (allocation, key schedule), in hash blocks.
const runOverhead = 16

// Work is a budget of key-derivation work, in hash blocks (see
// [MaxWork]). Decode creates one per file and leaves what it did not
// spend in [File.Work], for callers that derive more keys as part of
// reading the file (pairing keys with certificates by public key); see
// [Bag.DecryptKeyWithin]. A nil *Work is unlimited. Its methods are safe
// for concurrent use.
type Work struct {
	mu                 sync.Mutex
	blocks, runs       int64 // left
	spentB, spentRuns  int64
	maxBlocks, maxRuns int64
}

// NewWork returns a budget of blocks hash blocks and runs derivations.
func NewWork(blocks, runs int64) *Work {
	return &Work{blocks: blocks, runs: runs, maxBlocks: blocks, maxRuns: runs}
}

// Spent returns the hash blocks and derivations charged so far: the work
// actually done, as every derivation is charged before it runs and
// nothing else is.
func (w *Work) Spent() (blocks, runs int64) {
	if w == nil {
		return 0, 0
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.spentB, w.spentRuns
}

// Left returns the hash blocks and derivations still allowed.
func (w *Work) Left() (blocks, runs int64) {
	if w == nil {
		return 1<<63 - 1, 1<<63 - 1
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.blocks, w.runs
}

// charge takes c from the budget, or, if it is not left, takes nothing
// and returns a *LimitError naming field.
func (w *Work) charge(c cost, field string) error {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case c.runs > w.runs:
		return &LimitError{Field: field + " (key derivations)", Value: w.maxRuns - w.runs + c.runs, Max: w.maxRuns}
	case c.blocks < 0:
		return &LimitError{Field: field + " (hash blocks)", Value: 1<<63 - 1, Max: w.maxBlocks}
	case c.blocks > w.blocks:
		return &LimitError{Field: field + " (hash blocks)", Value: w.maxBlocks - w.blocks + c.blocks, Max: w.maxBlocks}
	}
	w.blocks -= c.blocks
	w.runs -= c.runs
	w.spentB += c.blocks
	w.spentRuns += c.runs
	return nil
}

// cost is an amount of key-derivation work.
type cost struct{ blocks, runs int64 }

func (c cost) add(d cost) cost { return cost{sat(c.blocks + d.blocks), c.runs + d.runs} }

// sat keeps an overflowed sum negative, which charge refuses; the
// operands are bounded (iterations by MaxIterations, lengths by the
// input), so a product of two never overflows, only long sums could.
func sat(v int64) int64 {
	if v < 0 {
		return -1
	}
	return v
}

// weight is the cost of one compression of h in hash blocks.
func (h Hash) weight() int64 {
	if h.blockSize() == 128 {
		return 3
	}
	return 1
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

// pkcs12KDFCost is the work of pkcs12KDF: per output block, hashing D || I
// once and the digest iterations-1 times more.
func pkcs12KDFCost(h Hash, pwLen, saltLen, iterations, size int) cost {
	u, v := int64(h.Size()), int64(h.blockSize())
	lenI := v*ceilDiv(int64(saltLen), v) + v*ceilDiv(int64(pwLen), v)
	perBlock := int64(iterations) + ceilDiv(v+lenI+17, v)
	return cost{ceilDiv(int64(size), u)*perBlock*h.weight() + runOverhead, 1}
}

// pbkdf2Cost is the work of pbkdf2: keying HMAC, then per output block two
// compressions per iteration and the salt once.
func pbkdf2Cost(h Hash, pwLen, saltLen, iterations, keyLen int) cost {
	hLen, v := int64(h.Size()), int64(h.blockSize())
	setup := ceilDiv(int64(pwLen)+v, v) + 2
	perBlock := 2*int64(iterations) + ceilDiv(int64(saltLen)+4+17, v)
	return cost{(setup+ceilDiv(int64(keyLen), hLen)*perBlock)*h.weight() + runOverhead, 1}
}

// cost is the work of verifying the MAC with every form of password.
func (md *macData) cost(password []byte) cost {
	if md.Kind == PBMAC1 {
		return pbkdf2Cost(md.KDFPRF, len(password), len(md.salt), md.Iterations, md.KeyLen)
	}
	var c cost
	for _, n := range formLens(password) {
		c = c.add(pkcs12KDFCost(md.Hash, n, len(md.salt), md.Iterations, md.Hash.Size()))
	}
	return c
}

// formCost is the work of deriving a's key and IV from one password form
// of n bytes.
func (a *Alg) formCost(n int) cost {
	if a.Cipher.IsPBES2() {
		return pbkdf2Cost(a.PRF, n, len(a.Salt), a.Iterations, a.Cipher.keyLen())
	}
	return pkcs12KDFCost(SHA1, n, len(a.Salt), a.Iterations, a.Cipher.keyLen()).
		add(pkcs12KDFCost(SHA1, n, len(a.Salt), a.Iterations, 8))
}

// cost is the work of decrypting with a in the worst case: with every
// form of password.
func (a *Alg) cost(password []byte) cost {
	if a.Cipher.IsPBES2() {
		return a.formCost(len(password))
	}
	var c cost
	for _, n := range formLens(password) {
		c = c.add(a.formCost(n))
	}
	return c
}

// formLens returns the lengths of the PKCS #12 KDF forms of password (see
// passwordForms) without building them: two bytes per UTF-16 code unit
// and the terminator, and for an empty password also the absent one. A
// password that is not UTF-8 fails later, before any work.
func formLens(password []byte) []int {
	if len(password) == 0 {
		return []int{2, 0}
	}
	n := 2
	for _, r := range string(password) {
		n += 2
		if r >= 0x10000 {
			n += 2
		}
	}
	return []int{n}
}

// derived counts the hash blocks key derivation has computed.
var derived atomic.Int64

// DerivedBlocks returns the hash blocks key derivation has computed in
// this process so far, counted as [Work] counts them (iterations × output
// blocks, a SHA-512 family block as three): tests take the difference
// around a call to check the work an input caused, whatever the clock,
// and benchmarks multiply it by the measured cost of a block to estimate
// the time spent deriving keys.
func DerivedBlocks() int64 { return derived.Load() }
