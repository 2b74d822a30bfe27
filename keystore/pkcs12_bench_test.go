package keystore

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/certroll/certroll/internal/testpki"
	p12 "github.com/certroll/certroll/keystore/internal/pkcs12"
)

// Benchmarks of the PKCS#12 codec with 1, 100 and 10,000 key entries per
// profile. Each reports, besides the usual figures, the floor the issue
// sets, timed directly in the same run on the same file:
//
//	floor-ns/op  the cryptography the format requires (p12.Floor): for a
//	             read, the MAC key's derivation, the HMAC over the
//	             AuthenticatedSafe and, per encrypted SafeContents, its
//	             key derivation and AES/3DES-CBC decryption; for a write,
//	             the same with encryption over the output, plus one key
//	             derivation and encryption per key sealed
//	x-floor      total time / floor: the cost of everything else
//	             (parsing, pairing, encoding, the store's bookkeeping)
//	cpu-x-floor  the process's CPU time in the operations / in the
//	             floors (every thread: the MAC checked on another core,
//	             the garbage collector): what x-floor would be on one
//	             core, and less disturbed by other processes
//
// The floor is timed with the timer stopped, once per operation. Run
// them with
//
//	go test ./keystore -run '^$' -bench 'PKCS12' -benchtime 3x
//
// (the 10,000-entry Marshal cases derive 10,000 keys at 10,000 iterations
// each, which takes tens of seconds per operation).

var p12BenchSizes = []int{1, 100, 10000}

var p12BenchProfiles = []Profile{Modern, Legacy, Passwordless, PBMAC1}

// p12BenchEntries returns n key entries (distinct P-256 keys, leaf and
// issuing CA). They are made anew for each store and not kept: 10,000
// parsed certificates and keys kept live would make every garbage
// collection during the benchmarks mark them, a cost charged to the
// operation measured that a process holding only the store it read does
// not pay (it made Parse look 0.3–0.5× its floor slower).
func p12BenchEntries(b testing.TB, n int) []*Entry {
	b.Helper()
	ca := testpki.NewRoot(b, "Bench Root").Intermediate(b, "Bench CA")
	out := make([]*Entry, n)
	for i := range out {
		leaf := ca.Leaf(b, fmt.Sprintf("client-%d", i))
		out[i] = &Entry{Alias: fmt.Sprintf("client-%d", i), Created: testpki.Now.Add(time.Duration(i) * time.Second), Key: leaf.Key, Chain: leaf.Chain}
	}
	return out
}

var p12BenchOnce sync.Mutex

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
	runtime.GC() // the store and its entries are garbage now
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

// p12Measure runs op b.N times; after each, with the timer stopped,
// floor (if not nil) does the required cryptography of that operation
// and returns the time it took, reported as floor-ns/op and the ratio as
// x-floor.
func p12Measure(b *testing.B, op func(), floor func() time.Duration) {
	b.Helper()
	b.ReportAllocs()
	b.ResetTimer()
	var fl, floorCPU time.Duration
	cpu := p12ProcessCPU()
	for i := 0; i < b.N; i++ {
		op()
		if floor != nil {
			b.StopTimer()
			c := p12ProcessCPU()
			fl += floor()
			floorCPU += p12ProcessCPU() - c
			b.StartTimer()
		}
	}
	b.StopTimer()
	cpu = p12ProcessCPU() - cpu - floorCPU
	if fl > 0 {
		b.ReportMetric(float64(fl.Nanoseconds())/float64(b.N), "floor-ns/op")
		b.ReportMetric(float64(b.Elapsed())/float64(fl), "x-floor")
		if cpu > 0 && floorCPU > 0 {
			b.ReportMetric(float64(cpu)/float64(floorCPU), "cpu-x-floor")
		}
	}
}

// p12ReadFloor returns the floor of reading data: nil for a file
// without MAC or encryption.
func p12ReadFloor(b *testing.B, data []byte) func() time.Duration {
	b.Helper()
	f, err := p12.NewFloor(data)
	require.NoError(b, err)
	if f.None() {
		return nil
	}
	return func() time.Duration {
		start := time.Now()
		if err := f.Read([]byte("changeit")); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
}

// p12WriteFloor returns the floor of writing out with keys new keys
// sealed under prof. Of more than 100 keys, 100 are sealed and their time
// scaled (a Marshal of 10,000 new keys takes seconds).
func p12WriteFloor(b *testing.B, out []byte, prof Profile, keys int) func() time.Duration {
	b.Helper()
	f, err := p12.NewFloor(out)
	require.NoError(b, err)
	if f.None() {
		return nil
	}
	return func() time.Duration {
		start := time.Now()
		if err := f.Write([]byte("changeit")); err != nil {
			b.Fatal(err)
		}
		d := time.Since(start)
		sealed := max(min(keys, 100), 1)
		start = time.Now()
		for range sealed {
			if err := p12.SealKey(prof.keys, []byte("changeit")); err != nil {
				b.Fatal(err)
			}
		}
		return d + time.Since(start)*time.Duration(keys)/time.Duration(sealed)
	}
}

// p12EachFile runs f as a sub-benchmark on the file of every profile and
// size, with the benchmark's bytes set to the file's size.
func p12EachFile(b *testing.B, f func(b *testing.B, prof Profile, n int, data []byte)) {
	for _, prof := range p12BenchProfiles {
		for _, n := range p12BenchSizes {
			b.Run(fmt.Sprintf("%s/%d", prof.presetName(), n), func(b *testing.B) {
				data := p12BenchData(b, prof, n)
				b.SetBytes(int64(len(data)))
				f(b, prof, n, data)
			})
		}
	}
}

func BenchmarkPKCS12Parse(b *testing.B) {
	p12EachFile(b, func(b *testing.B, prof Profile, n int, data []byte) {
		p12Measure(b, func() {
			s, err := Parse(data, []byte("changeit"), nil)
			if err != nil || len(s.Aliases()) != n {
				b.Fatalf("parse: %v (%d entries)", err, len(s.Aliases()))
			}
		}, p12ReadFloor(b, data))
	})
}

// BenchmarkPKCS12Open is BenchmarkPKCS12Parse as Open decodes: on a
// buffer the store may keep, without Parse's copy of the input. The
// codec decrypts the certificates in that buffer, so each iteration gets
// its own copy, made with the timer stopped (as Open's read would be).
func BenchmarkPKCS12Open(b *testing.B) {
	p12EachFile(b, func(b *testing.B, prof Profile, n int, data []byte) {
		p12Measure(b, func() {
			b.StopTimer()
			buf := bytes.Clone(data)
			b.StartTimer()
			s, err := parse(buf, []byte("changeit"), nil, true)
			if err != nil || len(s.Aliases()) != n {
				b.Fatalf("parse: %v (%d entries)", err, len(s.Aliases()))
			}
		}, p12ReadFloor(b, data))
	})
}

// BenchmarkPKCS12ParseEntry reads a store and one key entry from it
// (its key decrypted, its chain built and parsed): what a server does
// with a store at start. Its floor is the read's and one key's
// derivation and decryption (p12.SealKey: the same derivation, and
// AES over a key's few hundred bytes either way).
func BenchmarkPKCS12ParseEntry(b *testing.B) {
	p12EachFile(b, func(b *testing.B, prof Profile, n int, data []byte) {
		alias := fmt.Sprintf("client-%d", n/2)
		read := p12ReadFloor(b, data)
		if read == nil {
			read = func() time.Duration { return 0 }
		}
		p12Measure(b, func() {
			s, err := Parse(data, []byte("changeit"), nil)
			if err != nil {
				b.Fatal(err)
			}
			if e, err := s.Entry(alias); err != nil || len(e.Chain) != 2 {
				b.Fatalf("entry: %v", err)
			}
		}, func() time.Duration {
			d := read()
			start := time.Now()
			if err := p12.SealKey(prof.keys, []byte("changeit")); err != nil {
				b.Fatal(err)
			}
			return d + time.Since(start)
		})
	})
}

// BenchmarkPKCS12Marshal writes a store whose entries are all new: every
// key is encrypted. Its floor seals min(n, 100) keys and counts n.
func BenchmarkPKCS12Marshal(b *testing.B) {
	for _, prof := range p12BenchProfiles {
		for _, n := range p12BenchSizes {
			b.Run(fmt.Sprintf("%s/%d", prof.presetName(), n), func(b *testing.B) {
				s := p12BenchStore(b, prof, n)
				out, err := s.Marshal([]byte("changeit"))
				require.NoError(b, err)
				floor := p12WriteFloor(b, out, prof, n)
				p12Measure(b, func() {
					if _, err := s.Marshal([]byte("changeit")); err != nil {
						b.Fatal(err)
					}
				}, floor)
			})
		}
	}
}

// BenchmarkPKCS12ReplaceOne is the job: read a store, replace one alias
// and write it back; the other keys stay sealed as read. Its floor is the
// read's, the write's (MAC and certificate encryption over the output)
// and the one new key's.
func BenchmarkPKCS12ReplaceOne(b *testing.B) {
	repl := testpki.NewRoot(b, "New Root").Leaf(b, "replacement")
	p12EachFile(b, func(b *testing.B, prof Profile, n int, data []byte) {
		var out []byte
		op := func() {
			s, err := Parse(data, []byte("changeit"), nil)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := s.Replace("client-0", repl.Key, []*x509.Certificate{repl.Cert}, nil); err != nil {
				b.Fatal(err)
			}
			if out, err = s.Marshal([]byte("changeit")); err != nil {
				b.Fatal(err)
			}
		}
		op()
		read, write := p12ReadFloor(b, data), p12WriteFloor(b, out, prof, 1)
		var floor func() time.Duration
		if read != nil {
			floor = func() time.Duration { return read() + write() }
		}
		p12Measure(b, op, floor)
	})
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
	}, nil)
}

// BenchmarkPKCS12OpenMemoryLarge is BenchmarkPKCS12OpenMemory on a file
// of 100,000 key entries (leaf and issuing CA each, Modern2024 at one
// iteration: memory does not depend on the counts), for the ratio to the
// file's size as files grow: what opening costs beyond the file is per
// entry. Making the file takes about a minute.
func BenchmarkPKCS12OpenMemoryLarge(b *testing.B) {
	data := func() []byte {
		data, err := p12BenchStore(b, Modern.WithIterations(1), 100_000).Marshal([]byte("changeit"))
		require.NoError(b, err)
		return data
	}()
	runtime.GC() // the store and its entries are garbage now
	path := filepath.Join(b.TempDir(), "large.p12")
	require.NoError(b, os.WriteFile(path, data, 0o600))
	var allocated, kept uint64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		allocated, kept = p12MeasureOpen(b, func() (*Store, error) { return Open(path, []byte("changeit"), nil) })
	}
	b.ReportMetric(float64(len(data)), "file-B")
	b.ReportMetric(float64(allocated), "alloc-B/op")
	b.ReportMetric(float64(kept), "kept-B")
	b.ReportMetric(float64(allocated)/float64(len(data)), "x-file")
	b.ReportMetric(float64(p12OpenBudget(len(data))), "budget-B")
	b.ReportMetric((float64(allocated)-float64(len(data)))/100_000, "overhead-B/entry")
}
