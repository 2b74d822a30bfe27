package chain_test

import (
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/certroll/certroll/chain"
	"github.com/certroll/certroll/internal/testpki"
)

func ExampleOrder() {
	t := testpki.ForExample("ExampleOrder")
	root := testpki.NewRoot(t, "Root")
	inter := root.Intermediate(t, "Issuing CA")
	leaf := inter.Leaf(t, "tenant-client")

	// A PEM bundle in no particular order, with a repeat.
	bag := []*x509.Certificate{root.Cert, leaf.Cert, inter.Cert, leaf.Cert}
	ordered, err := chain.Order(bag)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(chain.Path(ordered))
	// Output: CN=tenant-client -> CN=Issuing CA -> CN=Root
}

func ExampleComplete() {
	t := testpki.ForExample("ExampleComplete")
	root := testpki.NewRoot(t, "Root")
	inter := root.Intermediate(t, "Issuing CA")
	leaf := inter.Leaf(t, "tenant-client")

	// A CA reply holding only the leaf, completed from a truststore.
	truststore := []*x509.Certificate{root.Cert, inter.Cert}
	path, anchor, err := chain.Complete([]*x509.Certificate{leaf.Cert}, truststore)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(chain.Path(path))
	fmt.Println("anchor:", chain.Name(anchor))
	// Output:
	// CN=tenant-client -> CN=Issuing CA
	// anchor: CN=Root
}

func ExampleReceiver_Verify() {
	t := testpki.ForExample("ExampleReceiver_Verify")
	root := testpki.NewRoot(t, "Receiver Root")
	inter := root.Intermediate(t, "Issuing CA")
	good := inter.Leaf(t, "tenant-client")
	bad := inter.Leaf(t, "old-client", testpki.Expired(), testpki.EKU(x509.ExtKeyUsageServerAuth))

	r := &chain.Receiver{Roots: []*x509.Certificate{root.Cert}, Time: testpki.Now}
	paths, err := r.Verify(good.Chain)
	if err == nil {
		fmt.Println("accepted:", chain.Path(paths[0]))
	}

	_, err = r.Verify(bad.Chain)
	var ve *chain.VerifyError
	if errors.As(err, &ve) {
		for _, p := range ve.Problems {
			fmt.Printf("rejected: %s: %v\n", chain.Name(p.Cert), p.Err)
		}
	}
	fmt.Println("expired:", errors.Is(err, chain.ErrExpired))
	// Output:
	// accepted: CN=tenant-client -> CN=Issuing CA -> CN=Receiver Root
	// rejected: CN=old-client: chain: certificate expired
	// rejected: CN=old-client: chain: extended key usage not permitted
	// expired: true
}

func ExampleReceiver_AcceptsAll() {
	t := testpki.ForExample("ExampleReceiver_AcceptsAll")
	oldRoot := testpki.NewRoot(t, "Old Root")
	newRoot := testpki.NewRoot(t, "New Root")
	oldChain := oldRoot.Intermediate(t, "Old CA").Leaf(t, "tenant-client").Chain
	newChain := newRoot.Intermediate(t, "New CA").Leaf(t, "tenant-client").Chain

	// Before the tenant switches, the receiver must accept both chains.
	r := &chain.Receiver{Roots: []*x509.Certificate{oldRoot.Cert}, Time: testpki.Now}
	err := r.AcceptsAll(oldChain, newChain)
	var ve *chain.VerifyError
	if errors.As(err, &ve) {
		fmt.Printf("fails: %s: unknown authority: %v\n", chain.Path(ve.Chain), errors.Is(err, chain.ErrUnknownAuthority))
	}

	r.Roots = append(r.Roots, newRoot.Cert)
	fmt.Println("after trusting the new root:", r.AcceptsAll(oldChain, newChain))
	// Output:
	// fails: CN=tenant-client -> CN=New CA: unknown authority: true
	// after trusting the new root: <nil>
}

func ExampleReceiver_Accepted() {
	t := testpki.ForExample("ExampleReceiver_Accepted")
	oldRoot := testpki.NewRoot(t, "Old Root")
	newRoot := testpki.NewRoot(t, "New Root")
	r := &chain.Receiver{Roots: []*x509.Certificate{oldRoot.Cert, newRoot.Cert}, Time: testpki.Now}

	// The client keystore still holds the old entry next to the new one.
	entries := map[string][]*x509.Certificate{
		"tenant-2025": oldRoot.Leaf(t, "tenant-client").Chain,
		"tenant-2026": newRoot.Leaf(t, "tenant-client").Chain,
	}
	// Two accepted entries: the client may present either.
	fmt.Println(r.Accepted(entries))
	// Output: [tenant-2025 tenant-2026]
}
