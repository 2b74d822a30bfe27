package keystore

import (
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
//	kdf-ns/op    key derivation (PKCS #12 KDF, PBKDF2)
//	mac-ns/op    HMAC over the AuthenticatedSafe
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
	key := fmt.Sprintf("%s/%d", prof.Name(), n)
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

// p12Measure runs op b.N times with a meter installed and reports where
// the time went.
func p12Measure(b *testing.B, op func()) {
	b.Helper()
	m := &p12.Meter{}
	p12.SetMeter(m)
	defer p12.SetMeter(nil)
	b.ReportAllocs()
	b.ResetTimer()
	m.Reset()
	for i := 0; i < b.N; i++ {
		op()
	}
	b.StopTimer()
	kdf, mac := m.KDF(), m.MAC()
	b.ReportMetric(float64(kdf.Nanoseconds())/float64(b.N), "kdf-ns/op")
	b.ReportMetric(float64(mac.Nanoseconds())/float64(b.N), "mac-ns/op")
	if floor := kdf + mac; floor > 0 {
		b.ReportMetric(float64(b.Elapsed())/float64(floor), "x-floor")
	}
}

func BenchmarkPKCS12Parse(b *testing.B) {
	for _, prof := range p12BenchProfiles {
		for _, n := range p12BenchSizes {
			b.Run(fmt.Sprintf("%s/%d", prof.Name(), n), func(b *testing.B) {
				data := p12BenchData(b, prof, n)
				b.SetBytes(int64(len(data)))
				p12Measure(b, func() {
					s, err := Parse(data, []byte("changeit"), nil)
					if err != nil || s.Len() != n {
						b.Fatalf("parse: %v (%d entries)", err, s.Len())
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
			b.Run(fmt.Sprintf("%s/%d", prof.Name(), n), func(b *testing.B) {
				s := p12BenchStore(b, prof, n)
				p12Measure(b, func() {
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
			b.Run(fmt.Sprintf("%s/%d", prof.Name(), n), func(b *testing.B) {
				data := p12BenchData(b, prof, n)
				b.SetBytes(int64(len(data)))
				p12Measure(b, func() {
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
	p12Measure(b, func() {
		if _, err := Parse(data, []byte("changeit"), nil); err == nil {
			b.Fatal("parsed")
		}
	})
}
