package local_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal/local"
	"github.com/certroll/certroll/renewal/probe"
)

// ExampleReceiver_AdvertiseOnly reproduces HAProxy 2.6 updated through its
// runtime API: the receiver trusts and accepts the new certificate but
// advertises only the old root's name, so its files accept the new chain
// while the probe fails and a node holding only the new certificate
// presents none. Once the receiver advertises every trusted root, as a
// reload does, the probe passes and the node, not restarted, succeeds.
func ExampleReceiver_AdvertiseOnly() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "certroll-advertise-example")
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

	oldCA, err := local.NewCA(local.CAConfig{Name: "Old Root CA"})
	check(err)
	newCA, err := local.NewCA(local.CAConfig{Name: "New Root CA"})
	check(err)
	newKey, err := keystore.GenerateKey(keystore.ECDSAP256, nil)
	check(err)
	newChain, err := newCA.Issue("tenant-client", newKey.Public())
	check(err)
	// The tenant keystore after the swap: only the new certificate.
	tenant := filepath.Join(dir, "tenant.jks")
	ks := keystore.New(keystore.JKS, nil)
	check(ks.Set(&keystore.Entry{Alias: "client", Key: newKey, Chain: newChain}, nil))
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
	check(rcv.TrustRoot(ctx, newCA.Root()))
	check(rcv.AcceptClient(ctx, newChain))
	check(rcv.AdvertiseOnly(oldCA.Root()))

	rt, err := local.NewRuntime(local.RuntimeConfig{
		Nodes: 1, Keystore: tenant, KeystorePassword: password, Alias: "client",
		Receiver: rcv, Rate: 500, MaxMessages: 10,
	})
	check(err)
	check(rt.StartAll(ctx))

	fmt.Println("the files accept the new chain:", rcv.Accepts(ctx, newChain) == nil)
	err = rcv.Probe(ctx, newChain, newKey)
	var pe *probe.Error
	if errors.As(err, &pe) {
		fmt.Println("probe: advertised", pe.Result.AdvertisedNames(), "missing", pe.Missing.Subject.CommonName)
	}
	s := rt.Run(ctx)
	fmt.Printf("%d messages, %d failed, without a certificate: %v\n", s.Total, s.Failed, errors.Is(s.Failures[0].Err, local.ErrNoCertificate))

	check(rcv.AdvertiseOnly()) // every trusted root, as after a reload
	fmt.Println("probe passes:", rcv.Probe(ctx, newChain, newKey) == nil)
	s = rt.Run(ctx)
	fmt.Printf("in all: %d messages, %d failed\n", s.Total, s.Failed)
	// Output:
	// the files accept the new chain: true
	// probe: advertised [CN=Old Root CA] missing New Root CA
	// 10 messages, 10 failed, without a certificate: true
	// probe passes: true
	// in all: 20 messages, 10 failed
}
