package truststore_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/certroll/certroll/internal/testpki"
	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/truststore"
)

// exampleRoot builds a root whose encoding is the same on every run (an
// Ed25519 key from a fixed seed, a fixed serial number, testpki's fixed
// clock), so that fingerprints in the output below do not change.
func exampleRoot(name string, seed byte, opts ...testpki.Opt) *testpki.CA {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
	opts = append([]testpki.Opt{testpki.WithKey(key), testpki.Modify(func(c *x509.Certificate) { c.SerialNumber = big.NewInt(int64(seed)) })}, opts...)
	return testpki.NewRoot(testpki.ForExample("Example"), name, opts...)
}

func ExampleSet_Merge() {
	oldRoot := exampleRoot("Old Root CA", 1)
	newRoot := exampleRoot("New Root CA", 2)
	// The old root again, re-issued with its key for a longer validity.
	reissued := oldRoot.Reissue(testpki.ForExample("Example"),
		testpki.Validity(testpki.Now, testpki.Now.AddDate(20, 0, 0)),
		testpki.Modify(func(c *x509.Certificate) { c.SerialNumber = big.NewInt(3) }))

	ts := truststore.New(truststore.JKS)
	mergeOpts := &truststore.MergeOptions{Now: func() time.Time { return testpki.Now }}
	if _, err := ts.Merge([]truststore.Entry{{Alias: "old-root", Cert: oldRoot.Cert}}, mergeOpts); err != nil {
		panic(err)
	}
	rep, err := ts.Merge([]truststore.Entry{
		{Cert: newRoot.Cert},                      // derived alias
		{Alias: "Old-Root", Cert: reissued.Cert},  // a re-issue; the alias is taken
		{Alias: "same-again", Cert: oldRoot.Cert}, // already there
	}, mergeOpts)
	if err != nil {
		panic(err)
	}
	fmt.Print(rep)
	fmt.Println(ts.Aliases())
	// Output:
	// merge into JKS: 2 added (1 re-issued, 1 renamed), 1 skipped as duplicates
	//   added    d9a63f39-new-root-ca  CN=New Root CA,O=certroll test  sha256 d9a63f3936c40436  valid 2025-01-01 to 2035-12-30
	//            new certificate
	//   added    old-root-2  CN=Old Root CA,O=certroll test  sha256 01b05f64a6bd6df9  valid 2026-01-01 to 2046-01-01
	//            stored as "old-root-2": alias "old-root" is taken by CN=Old Root CA (sha256 54b986f1bd0798a5); re-issue of "old-root": same subject and key, valid 2026-01-01 to 2046-01-01 where "old-root" is valid 2025-01-01 to 2035-12-30
	//   skipped  old-root  CN=Old Root CA,O=certroll test  sha256 54b986f1bd0798a5  valid 2025-01-01 to 2035-12-30
	//            identical to "old-root", already in the set (not added again as "same-again")
	// [old-root d9a63f39-new-root-ca old-root-2]
}

func ExampleSet_Prune() {
	oldRoot := exampleRoot("Old Root CA", 1)
	newRoot := exampleRoot("New Root CA", 2)
	ts, err := fromCertificates(oldRoot.Cert, newRoot.Cert)
	if err != nil {
		panic(err)
	}

	// A client keystore whose key entry still chains to the old root.
	tb := testpki.ForExample("Example")
	leaf := oldRoot.Leaf(tb, "tenant-client")
	client := keystore.New(keystore.PKCS12, nil)
	if err := client.Set(&keystore.Entry{Alias: "client", Key: leaf.Key, Chain: leaf.Chain}, nil); err != nil {
		panic(err)
	}
	inUse, err := truststore.KeystoreChains("client.p12", client)
	if err != nil {
		panic(err)
	}
	oldFP := keystore.CertFingerprint(oldRoot.Cert)
	rep, err := ts.Prune(truststore.ByFingerprint(oldFP), &truststore.PruneOptions{InUse: inUse})
	fmt.Print(rep)
	fmt.Println("refused:", errors.Is(err, truststore.ErrInUse))

	// The client moves to a certificate from the new root; now the old root
	// can go.
	next := newRoot.Leaf(tb, "tenant-client")
	if _, err := client.Replace("client", next.Key, next.Chain, nil); err != nil {
		panic(err)
	}
	if inUse, err = truststore.KeystoreChains("client.p12", client); err != nil {
		panic(err)
	}
	rep, err = ts.Prune(truststore.ByFingerprint(oldFP), &truststore.PruneOptions{InUse: inUse})
	fmt.Print(rep)
	fmt.Println("error:", err)
	// Output:
	// prune of PEM bundle: 0 removed, 1 refused
	//   refused  54b986f1-old-root-ca  CN=Old Root CA,O=certroll test  sha256 54b986f1bd0798a5  valid 2025-01-01 to 2035-12-30
	//            selected by fingerprint "54:B9:86:F1:BD:07:98:A5:07:ED:96:24:51:50:07:5D:6F:27:B9:08:8D:E3:E7:3C:DA:C5:61:E1:87:B9:B3:B4", but 1 chain in use depends on it and no other certificate of the set anchors it
	//            in use by client.p12 alias "client": CN=tenant-client
	// refused: true
	// prune of PEM bundle: 1 removed, 0 refused
	//   removed  54b986f1-old-root-ca  CN=Old Root CA,O=certroll test  sha256 54b986f1bd0798a5  valid 2025-01-01 to 2035-12-30
	//            selected by fingerprint "54:B9:86:F1:BD:07:98:A5:07:ED:96:24:51:50:07:5D:6F:27:B9:08:8D:E3:E7:3C:DA:C5:61:E1:87:B9:B3:B4"
	// error: <nil>
}

func ExampleSet_Merge_reply() {
	root := exampleRoot("New Root CA", 2)
	// A CA's reply carries the client certificate it signed, then the CA.
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, ed25519.SeedSize))
	leaf := root.Leaf(testpki.ForExample("Example"), "tenant-client", testpki.WithKey(key),
		testpki.Modify(func(c *x509.Certificate) { c.SerialNumber = big.NewInt(9) }))

	ts := truststore.New(truststore.PEMBundle)
	rep, err := ts.Merge(truststore.Certs(leaf.Cert, root.Cert), nil)
	if err != nil {
		panic(err)
	}
	fmt.Print(rep.String())
	fmt.Println(ts.Aliases())
	// Output:
	// merge into PEM bundle: 1 added (0 re-issued, 0 renamed), 0 skipped as duplicates, 1 left out as not CA certificates
	//   added    d9a63f39-new-root-ca  CN=New Root CA,O=certroll test  sha256 d9a63f3936c40436  valid 2025-01-01 to 2035-12-30
	//            new certificate
	//   left out 3fd7f6ca-tenant-client  CN=tenant-client,O=certroll test  sha256 3fd7f6ca79f45a79  valid 2025-12-02 to 2027-01-01
	//            not a CA certificate: it has no basicConstraints extension and is not self-signed
	// [d9a63f39-new-root-ca]
}
