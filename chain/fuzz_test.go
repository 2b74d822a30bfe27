package chain

import (
	"bytes"
	"crypto/x509"
	"testing"

	"github.com/certroll/certroll/internal/hostile"
	"github.com/certroll/certroll/internal/testpki"
)

// fuzzPool is a set of related certificates, including cross-signed and
// re-issued authorities, loops and same-named strangers, that the fuzzers
// pick bags and chains from.
func fuzzPool(t testing.TB) []*x509.Certificate {
	root := testpki.NewRoot(t, "Root")
	inter := root.Intermediate(t, "Inter")
	other := testpki.NewRoot(t, "Other")
	a, b := testpki.NewRoot(t, "A"), testpki.NewRoot(t, "B")
	impostor := testpki.NewRoot(t, "Inter") // same name as inter, another key
	same := hostile.SameNameCAs()
	return []*x509.Certificate{
		root.Cert, inter.Cert, inter.Leaf(t, "leaf").Cert, inter.Leaf(t, "expired", testpki.Expired()).Cert,
		root.Reissue(t).Cert, root.CrossSign(t, other).Cert, other.Cert, other.Leaf(t, "other leaf").Cert,
		b.CrossSign(t, a).Cert, a.CrossSign(t, b).Cert, a.Leaf(t, "a leaf").Cert,
		impostor.Cert, impostor.Leaf(t, "impostor leaf").Cert, inter.Intermediate(t, "Inter 2").Cert,
		flip(t, inter.Cert),
		// 15..20: from the hostile corpus, a leaf whose issuer name many
		// CAs share, four of them and the one that signed it.
		hostile.SameNameLeaf(), same[0], same[1], same[2], same[3], same[len(same)-1],
	}
}

func pick(pool []*x509.Certificate, data []byte) []*x509.Certificate {
	var out []*x509.Certificate
	for _, b := range data {
		out = append(out, pool[int(b)%len(pool)])
	}
	return out
}

// FuzzOrder checks that Order, Complete and Verify never panic on any bag
// drawn from the pool, and that an ordered result is a path using every
// distinct certificate once.
func FuzzOrder(f *testing.F) {
	pool := fuzzPool(f)
	f.Add([]byte{2, 1, 0}, []byte{0, 1})
	f.Add([]byte{0, 1, 2, 2, 1}, []byte{})
	f.Add([]byte{8, 9, 10}, []byte{8, 9, 6})
	f.Add([]byte{12, 11, 1, 0, 4, 5}, []byte{4, 5, 6, 7})
	f.Add([]byte{3, 14, 13}, []byte{1, 0})
	f.Add([]byte{15}, []byte{16, 17, 18, 19, 20})
	f.Add([]byte{15, 20, 16}, []byte{16, 16, 17})
	f.Add([]byte{}, []byte{})
	r := &Receiver{Roots: []*x509.Certificate{pool[0], pool[6]}, Time: testpki.Now}
	f.Fuzz(func(t *testing.T, bagIdx, poolIdx []byte) {
		if len(bagIdx) > 64 || len(poolIdx) > 64 {
			return
		}
		bag := pick(pool, bagIdx)
		ordered, err := Order(bag)
		if err == nil {
			uniq, _ := dedupe(bag)
			if len(ordered) != len(uniq) {
				t.Fatalf("Order returned %d certificates for %d distinct", len(ordered), len(uniq))
			}
			for i := 0; i+1 < len(ordered); i++ {
				if !mayIssue(ordered[i], ordered[i+1]) {
					t.Fatalf("Order: %s is not issued by %s", Name(ordered[i]), Name(ordered[i+1]))
				}
			}
		} else if len(bag) > 0 && err.Error() == "" {
			t.Fatal("empty error message")
		}
		if len(bag) == 0 {
			return
		}
		extra := pick(pool, poolIdx)
		if path, anchor, err := Complete(bag[:1], extra); err == nil {
			if anchor == nil || len(path) == 0 || !bytes.Equal(path[0].Raw, bag[0].Raw) {
				t.Fatalf("Complete: bad result %s, anchor %v", Path(path), anchor)
			}
		}
		res, err := r.Verify(bag)
		if err == nil && (len(res) == 0 || res[0][len(res[0])-1] == nil || res[0][0] != bag[0]) {
			t.Fatalf("Verify: bad result %s", Path(res[0]))
		}
		if ve, ok := err.(*VerifyError); ok && len(ve.Problems) == 0 {
			t.Fatal("Verify: rejection without problems")
		}
	})
}
