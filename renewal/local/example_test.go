package local_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal/local"
)

// Example runs the overlap sequence by hand against the embedded defaults:
// two nodes send messages while the receiver learns the new certificate,
// the tenant swaps the key entry, the nodes restart, and the receiver
// forgets the old certificate.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "certroll-local-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	password := []byte("changeit")
	check := func(err error) {
		if err != nil {
			log.Fatal(err)
		}
	}

	// The landscape before the renewal: a client certificate from the old
	// CA, in the tenant keystore and accepted by the receiver.
	oldCA, err := local.NewCA(local.CAConfig{Name: "Old Root CA"})
	check(err)
	newCA, err := local.NewCA(local.CAConfig{Name: "New Root CA"})
	check(err)
	oldKey, err := keystore.GenerateKey(keystore.ECDSAP256, nil)
	check(err)
	oldChain, err := oldCA.Issue("tenant-client", oldKey.Public())
	check(err)
	tenant := filepath.Join(dir, "tenant.jks")
	ks := keystore.New(keystore.JKS, nil)
	check(ks.Set(&keystore.Entry{Alias: "client", Key: oldKey, Chain: oldChain}, nil))
	check(ks.Save(tenant, password, nil))

	rcv, err := local.NewReceiver(local.ReceiverConfig{
		Truststore:         filepath.Join(dir, "receiver-truststore.jks"),
		TruststorePassword: password,
		Accepted:           filepath.Join(dir, "accepted-clients.pem"),
	})
	check(err)
	_, err = rcv.Start()
	check(err)
	defer rcv.Close()
	check(rcv.TrustRoot(ctx, oldCA.Root()))
	check(rcv.AcceptClient(ctx, oldChain))

	rt, err := local.NewRuntime(local.RuntimeConfig{
		Nodes: 2, Keystore: tenant, KeystorePassword: password, Alias: "client",
		Receiver: rcv, Rate: 500, MaxMessages: 10,
	})
	check(err)
	check(rt.StartAll(ctx))
	s := rt.Run(ctx)
	fmt.Printf("before: %d messages, %d failed\n", s.Total, s.Failed)

	// 1. A new key, signed by the new CA.
	newKey, err := keystore.GenerateKey(keystore.ECDSAP256, nil)
	check(err)
	csr, err := keystore.RenewalCSR(newKey, oldChain[0])
	check(err)
	newChain, err := newCA.Sign(ctx, csr)
	check(err)
	// 3. The receiver accepts both.
	check(rcv.TrustRoot(ctx, newCA.Root()))
	check(rcv.AcceptClient(ctx, newChain))
	fmt.Println("accepts old:", rcv.Accepts(ctx, oldChain) == nil, "new:", rcv.Accepts(ctx, newChain) == nil)
	// 5. The tenant swaps the key entry under the same alias.
	check(keystore.Update(context.Background(), tenant, password, func(s *keystore.Store) error {
		_, err := s.Replace("client", newKey, newChain, nil)
		return err
	}, nil))
	leaf, err := rt.Presents(ctx, "node-1")
	check(err)
	fmt.Println("node-1 presents the new certificate before its restart:", leaf.Equal(newChain[0]))
	// 7. Restart on every node.
	nodes, err := rt.Nodes(ctx)
	check(err)
	for _, n := range nodes {
		check(rt.Restart(ctx, n))
	}
	leaf, err = rt.Presents(ctx, "node-1")
	check(err)
	fmt.Println("node-1 presents the new certificate after its restart:", leaf.Equal(newChain[0]))
	// 9. The receiver removes the old certificate and the old root.
	check(rcv.RemoveClient(ctx, oldChain[0]))
	check(rcv.RemoveRoot(ctx, oldCA.Root()))
	fmt.Println("accepts old:", rcv.Accepts(ctx, oldChain) == nil, "new:", rcv.Accepts(ctx, newChain) == nil)

	s = rt.Run(ctx)
	fmt.Printf("in all: %d messages, %d failed\n", s.Total, s.Failed)
	// Output:
	// before: 20 messages, 0 failed
	// accepts old: true new: true
	// node-1 presents the new certificate before its restart: false
	// node-1 presents the new certificate after its restart: true
	// accepts old: false new: true
	// in all: 40 messages, 0 failed
}
