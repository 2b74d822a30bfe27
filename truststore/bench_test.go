package truststore_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"math/big"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/certroll/certroll/internal/testpki"
	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/truststore"
)

// benchCerts holds generated certificates across benchmarks: generating
// 20,000 takes about a second, more than the merges measured.
var benchCerts struct {
	sync.Mutex
	certs []*x509.Certificate
}

// manyCerts returns n distinct CA certificates. They share one Ed25519 key
// (fast to sign with) and differ in subject and serial number, which is
// all Merge looks at.
func manyCerts(b *testing.B, n int) []*x509.Certificate {
	b.Helper()
	benchCerts.Lock()
	defer benchCerts.Unlock()
	if len(benchCerts.certs) >= n {
		return benchCerts.certs[:n]
	}
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	for i := len(benchCerts.certs); i < n; i++ {
		tmpl := &x509.Certificate{
			SerialNumber:          big.NewInt(int64(i + 1)),
			Subject:               pkix.Name{CommonName: fmt.Sprintf("Bench Root %d", i), Organization: []string{"certroll bench"}},
			NotBefore:             testpki.Now,
			NotAfter:              testpki.Now.AddDate(10, 0, 0),
			IsCA:                  true,
			BasicConstraintsValid: true,
			KeyUsage:              x509.KeyUsageCertSign,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, key)
		if err != nil {
			b.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			b.Fatal(err)
		}
		benchCerts.certs = append(benchCerts.certs, c)
	}
	return benchCerts.certs[:n]
}

// BenchmarkMerge merges n new certificates into a trust set of n, with
// derived aliases: the cost per certificate stays flat as n grows (hashing,
// map look-ups, one alias derivation), so ns/op grows linearly with n. The
// report's names are not printed (nobody reads it here).
//
// It reports as floor-ns/op the SHA-256 of the n certificates' DER, which
// Merge needs to tell a duplicate from a new certificate, timed in the same
// loop outside the timer, and the ratio of the merge to it as x-floor.
func BenchmarkMerge(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("%d_into_%d", n, n), func(b *testing.B) {
			certs := manyCerts(b, 2*n)
			base, add := certs[:n], truststore.Certs(certs[n:]...)
			b.ReportAllocs()
			b.ResetTimer()
			var floor time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				s, err := fromCertificates(base...)
				if err != nil {
					b.Fatal(err)
				}
				floor += hashFloor(add)
				runtime.GC() // the setup's garbage is not the merge's cost
				b.StartTimer()
				rep, err := s.Merge(add, opts)
				if err != nil {
					b.Fatal(err)
				}
				if countsOf(rep).Added != n {
					b.Fatalf("added %d, want %d", countsOf(rep).Added, n)
				}
			}
			b.ReportMetric(float64(floor.Nanoseconds())/float64(b.N), "floor-ns/op")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(floor.Nanoseconds()), "x-floor")
		})
	}
}

// hashSink keeps hashFloor's sums alive.
var hashSink [sha256.Size]byte

// hashFloor times the SHA-256 of each item's DER encoding.
func hashFloor(items []truststore.Entry) time.Duration {
	start := time.Now()
	for _, it := range items {
		sum := sha256.Sum256(it.Cert.Raw)
		hashSink[0] ^= sum[0]
	}
	return time.Since(start)
}

// BenchmarkMergeReport is BenchmarkMerge/1000_into_1000 with its report
// read: marshalled to JSON and printed with String, which print every
// certificate's names. Against BenchmarkMerge it shows what reading the
// report costs now that Merge leaves the names to it.
func BenchmarkMergeReport(b *testing.B) {
	const n = 1000
	certs := manyCerts(b, 2*n)
	base, add := certs[:n], truststore.Certs(certs[n:]...)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s, err := fromCertificates(base...)
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC() // the setup's garbage is not the merge's cost
		b.StartTimer()
		rep, err := s.Merge(add, opts)
		if err != nil {
			b.Fatal(err)
		}
		data, err := json.Marshal(rep)
		if err != nil {
			b.Fatal(err)
		}
		if text := rep.String(); len(data) < n || len(text) < n {
			b.Fatalf("a report of %d bytes of JSON, %d of text for %d certificates", len(data), len(text), n)
		}
	}
}

// BenchmarkMergeDuplicates merges n certificates that the set of n already
// holds: the common case of re-running a merge.
func BenchmarkMergeDuplicates(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("%d_into_%d", n, n), func(b *testing.B) {
			certs := manyCerts(b, n)
			s, err := fromCertificates(certs...)
			if err != nil {
				b.Fatal(err)
			}
			add := truststore.Certs(certs...)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				rep, err := s.Merge(add, opts)
				if err != nil {
					b.Fatal(err)
				}
				if countsOf(rep).Skipped != n {
					b.Fatalf("skipped %d, want %d", countsOf(rep).Skipped, n)
				}
			}
		})
	}
}

// BenchmarkMergeIntoKeystore merges n certificates into a JKS trust set of
// n and applies them to the keystore ([truststore.Set.Store]), which adds
// each with keystore.Store.Set. That step is quadratic today: Store.Set
// finds an alias by scanning every entry, so m additions to a store of n
// entries cost O(m·n) alias comparisons (about 18 ms for 1,000 into 1,000,
// 3 s for 10,000 into 10,000 on the CI machine). Real truststores hold a
// few hundred entries.
func BenchmarkMergeIntoKeystore(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("%d_into_%d", n, n), func(b *testing.B) {
			certs := manyCerts(b, 2*n)
			add := truststore.Certs(certs[n:]...)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				ks := keystore.New(keystore.JKS, nil)
				for j, c := range certs[:n] {
					if err := ks.Set(&keystore.Entry{Alias: fmt.Sprintf("base-%d", j), Chain: []*x509.Certificate{c}, Created: testpki.Now}, nil); err != nil {
						b.Fatal(err)
					}
				}
				s, err := truststore.FromStore(ks)
				if err != nil {
					b.Fatal(err)
				}
				runtime.GC() // the setup's garbage is not the merge's cost
				b.StartTimer()
				if _, err := s.Merge(add, opts); err != nil {
					b.Fatal(err)
				}
				if _, err := s.Store(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPrune prunes half of a set of n, with n chains declared in use
// that the kept half anchors.
func BenchmarkPrune(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("%d", n), func(b *testing.B) {
			certs := manyCerts(b, n)
			var inUse []truststore.Dependent
			for _, c := range certs[n/2:] {
				inUse = append(inUse, truststore.Dependent{Name: "pinned", Chain: []*x509.Certificate{c}})
			}
			sel := truststore.Where("first half", func(e truststore.Entry) bool { return e.Cert.SerialNumber.Int64() <= int64(n/2) })
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				s, err := fromCertificates(certs...)
				if err != nil {
					b.Fatal(err)
				}
				runtime.GC() // the setup's garbage is not the merge's cost
				b.StartTimer()
				rep, err := s.Prune(sel, &truststore.PruneOptions{InUse: inUse[:10]})
				if err != nil {
					b.Fatal(err)
				}
				if countsOf(rep).Removed != n/2 {
					b.Fatalf("removed %d, want %d", countsOf(rep).Removed, n/2)
				}
			}
		})
	}
}
