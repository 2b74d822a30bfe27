package chain

import (
	"crypto/x509"
	"errors"
	"sync"
	"testing"

	"github.com/certroll/certroll/internal/testpki"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestVerifyConcurrent verifies from many goroutines at once on one
// Receiver, as the embedded receiver does from its handshakes: the first
// calls build the roots pool concurrently (run it with -race), and every
// call gets the verdict a fresh Receiver gives.
func TestVerifyConcurrent(t *testing.T) {
	p := newPKI(t)
	r := &Receiver{Roots: []*x509.Certificate{p.unknownRoot.Cert, p.root.Cert, p.rsaRoot.Cert}, Time: testpki.Now}
	chains := [][]*x509.Certificate{p.leaf.Chain, p.rsaLeaf.Chain, p.newLeaf.Chain}
	want := []bool{true, true, false}
	var wg sync.WaitGroup
	errs := make([]error, 8*len(chains))
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := r.Verify(chains[i%len(chains)])
			if (err == nil) != want[i%len(chains)] {
				errs[i] = errors.Join(errors.New("unexpected verdict"), err)
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		assert.NoError(t, err, "call %d (chain %d)", i, i%len(chains))
	}
}

// TestVerifyRootsChangedBetweenCalls checks that the cached roots pool
// follows the Roots field: a root added, replaced in place or removed
// between calls changes the verdict as it would for a fresh Receiver, and
// a copy verifies with its own Roots.
func TestVerifyRootsChangedBetweenCalls(t *testing.T) {
	p := newPKI(t)
	r := &Receiver{Roots: []*x509.Certificate{p.root.Cert}, Time: testpki.Now}
	accepts := func(r *Receiver, c []*x509.Certificate) bool {
		_, err := r.Verify(c)
		return err == nil
	}
	require.True(t, accepts(r, p.leaf.Chain))
	require.False(t, accepts(r, p.newLeaf.Chain))

	r.Roots = append(r.Roots, p.newRoot.Cert)
	assert.True(t, accepts(r, p.newLeaf.Chain), "a root appended is trusted on the next call")

	r.Roots[0] = p.unknownRoot.Cert
	assert.False(t, accepts(r, p.leaf.Chain), "a root replaced in place is no longer trusted")
	assert.True(t, accepts(r, p.unknownLeaf.Chain), "its replacement is")

	cp := *r
	cp.Roots = []*x509.Certificate{p.root.Cert}
	assert.True(t, accepts(&cp, p.leaf.Chain), "a copy verifies with its own roots")
	assert.False(t, accepts(&cp, p.unknownLeaf.Chain))
	assert.True(t, accepts(r, p.unknownLeaf.Chain), "the original keeps its roots")

	r.Roots = nil
	assert.False(t, accepts(r, p.unknownLeaf.Chain), "no roots trusts nothing")

	var zero Receiver
	assert.False(t, accepts(&zero, p.leaf.Chain), "the zero value trusts nothing")
}

// TestVerifyAllocations counts the allocations of an accepted Verify
// against 150 roots: the roots pool is built on the first call only, so
// later calls allocate about as much as crypto/x509's Verify itself (about
// 60 allocations), not a few per root (373 here when the pool was rebuilt
// on every call; this test's roots repeat one certificate, which the pool
// stores once).
func TestVerifyAllocations(t *testing.T) {
	p := newPKI(t)
	roots := []*x509.Certificate{p.root.Cert}
	for range 149 {
		roots = append(roots, p.unknownRoot.Cert)
	}
	r := &Receiver{Roots: roots, Time: testpki.Now}
	_, err := r.Verify(p.leaf.Chain)
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := r.Verify(p.leaf.Chain); err != nil {
			t.Fatal(err)
		}
	})
	assert.Less(t, allocs, 150.0, "allocations per Verify with 150 roots")
}

// TestVerifyFreshReceiverPerCall covers callers that make a Receiver per
// call from one roots list, as the embedded receiver does per handshake:
// the pool is found among the recently built ones (so the call allocates
// about as much as crypto/x509's Verify), and a list changed in place is
// not mistaken for the one it was.
func TestVerifyFreshReceiverPerCall(t *testing.T) {
	p := newPKI(t)
	roots := []*x509.Certificate{p.root.Cert}
	for range 149 {
		roots = append(roots, p.unknownRoot.Cert)
	}
	verify := func(c []*x509.Certificate) error {
		_, err := (&Receiver{Roots: roots, Time: testpki.Now}).Verify(c)
		return err
	}
	require.NoError(t, verify(p.leaf.Chain))
	allocs := testing.AllocsPerRun(20, func() {
		if err := verify(p.leaf.Chain); err != nil {
			t.Fatal(err)
		}
	})
	assert.Less(t, allocs, 150.0, "allocations per Verify of a fresh Receiver with 150 roots")

	roots[0] = p.newRoot.Cert
	assert.Error(t, verify(p.leaf.Chain), "the root replaced in place is no longer trusted")
	assert.NoError(t, verify(p.newLeaf.Chain), "its replacement is")

	// More lists than are kept, in turn: each verdict stays its own.
	lists := make([][]*x509.Certificate, recentPools+2)
	for i := range lists {
		lists[i] = []*x509.Certificate{p.unknownRoot.Cert}
		if i%2 == 0 {
			lists[i] = append(lists[i], p.root.Cert)
		}
	}
	for range 2 {
		for i, l := range lists {
			_, err := (&Receiver{Roots: l, Time: testpki.Now}).Verify(p.leaf.Chain)
			assert.Equal(t, i%2 == 0, err == nil, "list %d", i)
		}
	}
}
