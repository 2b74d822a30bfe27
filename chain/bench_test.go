package chain

import (
	"crypto/x509"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/certroll/certroll/internal/testpki"
)

// benchReceiver returns a receiver trusting 150 roots, the real one among
// them, and the chain a client presents (leaf, intermediate) whose verified
// path has 3 certificates.
func benchReceiver(b *testing.B, k testpki.KeyType) (*Receiver, []*x509.Certificate, *testpki.CA) {
	b.Helper()
	root := testpki.NewRoot(b, "Bench Root", testpki.WithKeyType(k))
	inter := root.Intermediate(b, "Bench Inter", testpki.WithKeyType(k))
	leaf := inter.Leaf(b, "bench client", testpki.WithKeyType(k))
	roots := make([]*x509.Certificate, 0, 150)
	for i := range 149 {
		roots = append(roots, testpki.NewRoot(b, fmt.Sprintf("Other Root %03d", i)).Cert)
	}
	roots = append(roots[:75], append([]*x509.Certificate{root.Cert}, roots[75:]...)...)
	r := &Receiver{Roots: roots, Time: testpki.Now}
	return r, leaf.Chain, inter
}

// BenchmarkVerify verifies a chain with a 3-certificate path against 150
// roots. Each key type has two cases: receiver is Receiver.Verify, x509 is
// the floor, crypto/x509's Verify of the same chain with the roots pool
// built once and the intermediates pool built per call from the chain the
// client sent, as crypto/tls does per handshake. The receiver case also
// reports the floor (x509-ns/op) and its ratio to it (x-x509), medians
// over up to 201 calls of each, alternated.
func BenchmarkVerify(b *testing.B) {
	for _, k := range []testpki.KeyType{testpki.KeyECDSAP256, testpki.KeyRSA2048} {
		b.Run(k.String(), func(b *testing.B) {
			r, chain, _ := benchReceiver(b, k)
			if _, err := r.Verify(chain); err != nil {
				b.Fatal(err)
			}
			roots := x509.NewCertPool()
			for _, c := range r.Roots {
				roots.AddCert(c)
			}
			plain := func() error {
				inter := x509.NewCertPool()
				for _, c := range chain[1:] {
					inter.AddCert(c)
				}
				_, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter,
					CurrentTime: r.Time, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
				return err
			}
			if err := plain(); err != nil {
				b.Fatal(err)
			}
			b.Run("x509", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if err := plain(); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("receiver", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := r.Verify(chain); err != nil {
						b.Fatal(err)
					}
				}
				// The ratio comes from calls of the two alternated, after
				// the timed loop, so that a load on the machine weighs on
				// both alike: the median of the pairs' ratios, and the
				// median floor.
				n := min(b.N, 201)
				floors, ratios := make([]float64, n), make([]float64, n)
				for i := range n {
					t0 := time.Now()
					if err := plain(); err != nil {
						b.Fatal(err)
					}
					t1 := time.Now()
					if _, err := r.Verify(chain); err != nil {
						b.Fatal(err)
					}
					floors[i] = float64(t1.Sub(t0).Nanoseconds())
					ratios[i] = float64(time.Since(t1).Nanoseconds()) / floors[i]
				}
				slices.Sort(floors)
				slices.Sort(ratios)
				b.ReportMetric(floors[n/2], "x509-ns/op")
				b.ReportMetric(ratios[n/2], "x-x509")
			})
		})
	}
}

// BenchmarkVerifyRejected measures a rejection, which adds the diagnosis.
func BenchmarkVerifyRejected(b *testing.B) {
	r, _, inter := benchReceiver(b, testpki.KeyECDSAP256)
	expired := inter.Leaf(b, "expired client", testpki.Expired())
	if _, err := r.Verify(expired.Chain); err == nil {
		b.Fatal("expired chain accepted")
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Verify(expired.Chain); err == nil {
			b.Fatal("expired chain accepted")
		}
	}
}

// BenchmarkOrder orders a shuffled 4-certificate bag.
func BenchmarkOrder(b *testing.B) {
	root := testpki.NewRoot(b, "Root")
	i1 := root.Intermediate(b, "I1")
	i2 := i1.Intermediate(b, "I2")
	leaf := i2.Leaf(b, "leaf")
	bag := []*x509.Certificate{i1.Cert, root.Cert, leaf.Cert, i2.Cert}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Order(bag); err != nil {
			b.Fatal(err)
		}
	}
}
