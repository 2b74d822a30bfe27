package handoff_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/certroll/certroll/internal/testpki"
	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal"
	"github.com/certroll/certroll/renewal/handoff"
)

// The first Sign writes the request into the hand-over folder and says
// where the reply goes; the executor stops there, waiting, and the next
// run calls Sign again, which returns the chain once the reply is there.
func ExampleCA_Sign() {
	t := testpki.ForExample("ExampleCA_Sign")
	dir, _ := os.MkdirTemp("", "handover-")
	defer os.RemoveAll(dir)
	root := testpki.NewRoot(t, "New Root CA")
	key := testpki.NewKey(t, testpki.KeyECDSAP256)
	csrPEM, _ := keystore.RenewalCSR(key, root.Leaf(t, "tenant-client").Cert)

	ca := &handoff.CA{Dir: dir, Pool: testpki.Certs(root)}
	_, err := ca.Sign(context.Background(), csrPEM)
	var w *renewal.AwaitingReplyError
	fmt.Println(errors.Is(err, renewal.ErrAwaitingReply), errors.As(err, &w))
	fmt.Println(filepath.Ext(w.Request), filepath.Ext(w.Reply))

	// The CA's administrator answers; the reply is put in place.
	leaf := root.Leaf(t, "tenant-client", testpki.WithKey(key)).Cert
	_ = os.WriteFile(w.Reply, leaf.Raw, 0o644) // DER, the leaf alone
	chain, err := ca.Sign(context.Background(), csrPEM)
	fmt.Println(len(chain), chain[1].Subject.CommonName, err)
	// Output:
	// true true
	// .csr .reply
	// 2 New Root CA <nil>
}
