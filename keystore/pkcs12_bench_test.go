package keystore

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/internal/testpki"
	p12 "github.com/certroll/certroll/keystore/internal/pkcs12"
)

// Benchmarks of the PKCS#12 codec with 1, 100 and 10,000 key entries per
// profile. Each reports, besides the usual figures, where the time goes:
//
//	kdf-ns/op    key derivation (PKCS #12 KDF, PBKDF2), estimated as the
//	             hash blocks derived times the cost of one block
//	mac-ns/op    HMAC over the AuthenticatedSafe, estimated as an
//	             HMAC-SHA-256 over the file's size
//	x-floor      total time / (kdf + mac): the cost of everything else
//	             (parsing, encoding, AES/3DES, the store's bookkeeping)
//	             on top of the cryptographic floor
//
// Run them with
//
//	go test ./keystore -run '^$' -bench 'PKCS12' -benchtime 3x
//
// (the 10,000-entry Marshal cases derive 10,000 keys at 10,000 iterations
// each, which takes tens of seconds per operation).

var p12BenchSizes = []int{1, 100, 10000}

var p12BenchProfiles = []Profile{Modern, Legacy, Passwordless, PBMAC1}

// p12BenchEntries returns n key entries (distinct P-256 keys, leaf and
// issuing CA), made once per size.
func p12BenchEntries(b testing.TB, n int) []*Entry {
	b.Helper()
	p12BenchOnce.Lock()
	defer p12BenchOnce.Unlock()
	if e, ok := p12BenchCache[n]; ok {
		return e
	}
	ca := testpki.NewRoot(b, "Bench Root").Intermediate(b, "Bench CA")
	out := make([]*Entry, n)
	for i := range out {
		leaf := ca.Leaf(b, fmt.Sprintf("client-%d", i))
		out[i] = &Entry{Alias: fmt.Sprintf("client-%d", i), Created: testpki.Now.Add(time.Duration(i) * time.Second), Key: leaf.Key, Chain: leaf.Chain}
	}
	p12BenchCache[n] = out
	return out
}

var (
	p12BenchOnce  sync.Mutex
	p12BenchCache = map[int][]*Entry{}
)

// p12BenchData returns the store of p12BenchStore marshalled with
// "changeit", made once per profile and size (the 10,000-entry files take
// seconds to encrypt).
func p12BenchData(b testing.TB, prof Profile, n int) []byte {
	b.Helper()
	key := fmt.Sprintf("%s/%d", prof.presetName(), n)
	p12BenchOnce.Lock()
	data, ok := p12BenchFiles[key]
	p12BenchOnce.Unlock()
	if ok {
		return data
	}
	data, err := p12BenchStore(b, prof, n).Marshal([]byte("changeit"))
	require.NoError(b, err)
	p12BenchOnce.Lock()
	p12BenchFiles[key] = data
	p12BenchOnce.Unlock()
	return data
}

var p12BenchFiles = map[string][]byte{}

func p12BenchStore(b testing.TB, prof Profile, n int) *Store {
	b.Helper()
	s := withProfile(New(PKCS12, &StoreOptions{Now: p12Clock}), prof)
	for _, e := range p12BenchEntries(b, n) {
		require.NoError(b, s.Set(e, nil))
	}
	return s
}

// p12Measure runs op b.N times and reports where the time went. The
// cryptographic floor is measured from outside the codec: the hash blocks
// key derivation computed ([p12.DerivedBlocks], the count the work budget
// keeps) times the time one block takes here (p12BlockCost), plus an
// HMAC-SHA-256 over macBytes per MAC. Each op that derives keys computes
// macs MACs (Parse verifies one, Marshal writes one); one that derives
// none (a passwordless profile) computes none.
func p12Measure(b *testing.B, macs, macBytes int, op func()) {
	b.Helper()
	perBlock := p12BlockCost(b)
	var perMAC time.Duration
	if macs > 0 {
		perMAC = p12MACCost(b, macBytes)
	}
	b.ReportAllocs()
	b.ResetTimer()
	before := p12.DerivedBlocks()
	for i := 0; i < b.N; i++ {
		op()
	}
	b.StopTimer()
	blocks := p12.DerivedBlocks() - before
	kdf := time.Duration(float64(blocks) * perBlock)
	var mac time.Duration
	if blocks > 0 {
		mac = time.Duration(macs*b.N) * perMAC
	}
	b.ReportMetric(float64(kdf.Nanoseconds())/float64(b.N), "kdf-ns/op")
	b.ReportMetric(float64(mac.Nanoseconds())/float64(b.N), "mac-ns/op")
	if floor := kdf + mac; floor > 0 {
		b.ReportMetric(float64(b.Elapsed())/float64(floor), "x-floor")
	}
}

// p12BlockCost returns the nanoseconds one hash block of key derivation
// takes on this machine, timed with crypto/pbkdf2 (HMAC-SHA-256, 10,000
// iterations: 20,000 blocks as the work budget counts them).
func p12BlockCost(b *testing.B) float64 {
	b.Helper()
	const iterations, runs = 10000, 5
	start := time.Now()
	for range runs {
		if _, err := pbkdf2.Key(sha256.New, "changeit", make([]byte, 16), iterations, 32); err != nil {
			b.Fatal(err)
		}
	}
	return float64(time.Since(start).Nanoseconds()) / float64(runs*2*iterations)
}

// p12MACCost returns the time an HMAC-SHA-256 over n bytes takes.
func p12MACCost(b *testing.B, n int) time.Duration {
	b.Helper()
	const runs = 20
	msg := make([]byte, n)
	start := time.Now()
	for range runs {
		m := hmac.New(sha256.New, []byte("key"))
		m.Write(msg)
		m.Sum(nil)
	}
	return time.Since(start) / runs
}

func BenchmarkPKCS12Parse(b *testing.B) {
	for _, prof := range p12BenchProfiles {
		for _, n := range p12BenchSizes {
			b.Run(fmt.Sprintf("%s/%d", prof.presetName(), n), func(b *testing.B) {
				data := p12BenchData(b, prof, n)
				b.SetBytes(int64(len(data)))
				p12Measure(b, 1, len(data), func() {
					s, err := Parse(data, []byte("changeit"), nil)
					if err != nil || len(s.Aliases()) != n {
						b.Fatalf("parse: %v (%d entries)", err, len(s.Aliases()))
					}
				})
			})
		}
	}
}

// BenchmarkPKCS12Marshal writes a store whose entries are all new: every
// key is encrypted.
func BenchmarkPKCS12Marshal(b *testing.B) {
	for _, prof := range p12BenchProfiles {
		for _, n := range p12BenchSizes {
			b.Run(fmt.Sprintf("%s/%d", prof.presetName(), n), func(b *testing.B) {
				s := p12BenchStore(b, prof, n)
				p12Measure(b, 1, len(p12BenchData(b, prof, n)), func() {
					if _, err := s.Marshal([]byte("changeit")); err != nil {
						b.Fatal(err)
					}
				})
			})
		}
	}
}

// BenchmarkPKCS12ReplaceOne is the job: read a store, replace one alias
// (which decrypts the old key) and write it back; the other keys stay
// sealed as read.
func BenchmarkPKCS12ReplaceOne(b *testing.B) {
	repl := testpki.NewRoot(b, "New Root").Leaf(b, "replacement")
	for _, prof := range p12BenchProfiles {
		for _, n := range p12BenchSizes {
			b.Run(fmt.Sprintf("%s/%d", prof.presetName(), n), func(b *testing.B) {
				data := p12BenchData(b, prof, n)
				b.SetBytes(int64(len(data)))
				p12Measure(b, 2, len(data), func() {
					s, err := Parse(data, []byte("changeit"), nil)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := s.Replace("client-0", repl.Key, []*x509.Certificate{repl.Cert}, nil); err != nil {
						b.Fatal(err)
					}
					if _, err := s.Marshal([]byte("changeit")); err != nil {
						b.Fatal(err)
					}
				})
			})
		}
	}
}

// BenchmarkPKCS12HostileIterations: a file whose MAC iteration count is
// 2^31-1 is refused without deriving anything (go-pkcs12 computes for
// minutes).
func BenchmarkPKCS12HostileIterations(b *testing.B) {
	data := p12File(b, [][]byte{p12EncryptedData(b, p12PBES2(b, p12MaxInt31), make([]byte, 32))}, nil)
	p12Measure(b, 1, len(data), func() {
		if _, err := Parse(data, []byte("changeit"), nil); err == nil {
			b.Fatal("parsed")
		}
	})
}
