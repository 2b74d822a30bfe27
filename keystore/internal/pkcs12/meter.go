package pkcs12

import (
	"sync/atomic"
	"time"
)

// A Meter accumulates the time spent in the cryptographic floor of
// reading and writing PKCS #12: key derivation (the PKCS #12 KDF and
// PBKDF2) and MAC computation (HMAC over the AuthenticatedSafe). Benchmarks
// install one with SetMeter to report how much of an operation is that
// floor and how much is everything else (parsing, encoding, the block
// ciphers, the keystore's bookkeeping). Its methods are safe for
// concurrent use.
type Meter struct {
	kdf, mac atomic.Int64 // nanoseconds
}

// KDF returns the time spent deriving keys.
func (m *Meter) KDF() time.Duration { return time.Duration(m.kdf.Load()) }

// MAC returns the time spent computing MACs, key derivation excluded.
func (m *Meter) MAC() time.Duration { return time.Duration(m.mac.Load()) }

// Reset sets both times to zero.
func (m *Meter) Reset() { m.kdf.Store(0); m.mac.Store(0) }

var meter atomic.Pointer[Meter]

// SetMeter installs m (nil removes it). Without a meter nothing is timed.
func SetMeter(m *Meter) { meter.Store(m) }

// timed returns a function that adds the time since the call to the
// counter pick selects, or a no-op when no meter is installed.
func timed(pick func(*Meter) *atomic.Int64) func() {
	m := meter.Load()
	if m == nil {
		return func() {}
	}
	start := time.Now()
	return func() { pick(m).Add(int64(time.Since(start))) }
}

func kdfCounter(m *Meter) *atomic.Int64 { return &m.kdf }
func macCounter(m *Meter) *atomic.Int64 { return &m.mac }

// derived counts the hash blocks key derivation has computed.
var derived atomic.Int64

// DerivedBlocks returns the hash blocks key derivation has computed in
// this process so far, counted as [Work] counts them (iterations × output
// blocks, a SHA-512 family block as three): tests take the difference
// around a call to check the work an input caused, whatever the clock.
func DerivedBlocks() int64 { return derived.Load() }
