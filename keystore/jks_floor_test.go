package keystore

import (
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"testing"
	"time"

	"github.com/certroll/certroll/keystore/internal/jksguard"
)

// jksFloor is the work a JKS Parse + Replace one alias + Marshal cannot
// avoid, as issue 12 defines it: the SHA-1 of the input (the integrity
// check), one copy of the file (the output), the replaced key's decryption
// and the new key's encryption with the JDK key protector, and the SHA-1
// of the output. It is timed on the same bytes as the work it bounds.
type jksFloor struct {
	pw     []byte // the store password as the JDK hashes it
	in     []byte // the input file
	oldKey []byte // the protected key Replace decrypts (salt, key, check)
	newKey []byte // the PKCS #8 key Replace encrypts
	buf    []byte // where the copy goes
}

func newJKSFloor(tb testing.TB, data, password []byte, alias string, newKey any) *jksFloor {
	tb.Helper()
	pw, err := jksPassword(password, "JKS password")
	if err != nil {
		tb.Fatal(err)
	}
	f, err := jksguard.Walk(data)
	if err != nil {
		tb.Fatal(err)
	}
	fl := &jksFloor{pw: pw, in: data, buf: make([]byte, len(data))}
	for _, e := range f.Entries {
		if string(e.Alias) == alias {
			if fl.oldKey, err = jksCheckProtected(alias, e.Key, e.KeyOffset); err != nil {
				tb.Fatal(err)
			}
		}
	}
	if fl.oldKey == nil {
		tb.Fatalf("no key entry %q", alias)
	}
	if fl.newKey, err = x509.MarshalPKCS8PrivateKey(newKey); err != nil {
		tb.Fatal(err)
	}
	return fl
}

// run does the floor's work once, out being the file the work wrote, and
// returns how long it took.
func (fl *jksFloor) run(tb testing.TB, out []byte) time.Duration {
	start := time.Now()
	jksFileDigest(fl.pw, fl.in[:len(fl.in)-jksguard.DigestSize])
	copy(fl.buf, fl.in)
	plain, ok := jksRecover(fl.oldKey, fl.pw)
	if !ok {
		tb.Fatal("the floor's key does not decrypt with the store password")
	}
	if _, err := jksProtectKey(fl.newKey, fl.pw, rand.Reader); err != nil {
		tb.Fatal(err)
	}
	jksFileDigest(fl.pw, out[:len(out)-jksguard.DigestSize])
	d := time.Since(start)
	jksZero(plain)
	return d
}

// BenchmarkJKSFloor measures a certificate swap in a large store (Parse,
// Replace the key entry, Marshal) against the floor of issue 12 (see
// jksFloor), timed in the same loop on the same bytes, outside the
// benchmark's timer. It reports the floor as floor-ns/op and the ratio of
// the work to it as x-floor (the goal is at most 2):
//
//	go test ./keystore -run '^$' -bench BenchmarkJKSFloor -benchmem -benchtime 10x -count 3
func BenchmarkJKSFloor(b *testing.B) {
	pw := []byte(jksBenchPassword)
	for _, n := range []int{10000, 100000} {
		data := jksBenchFile(b, n)
		leaf := jksBench.leaf
		fl := newJKSFloor(b, data, pw, "tenant-client", leaf.Key)
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			var floor time.Duration
			for i := 0; i < b.N; i++ {
				s, err := Parse(data, pw, nil)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := s.Replace("tenant-client", leaf.Key, leaf.Chain, nil); err != nil {
					b.Fatal(err)
				}
				out, err := s.Marshal(pw)
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				floor += fl.run(b, out)
				b.StartTimer()
			}
			b.ReportMetric(float64(floor.Nanoseconds())/float64(b.N), "floor-ns/op")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(floor.Nanoseconds()), "x-floor")
		})
	}
}
