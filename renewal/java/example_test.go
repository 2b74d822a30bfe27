package java_test

import (
	"context"
	"crypto/x509"
	"fmt"
	"log"

	"github.com/certroll/certroll/renewal/java"
)

// Three Java nodes send 20 requests a second each to the receiver with the
// tenant's keystore; after the keystore entry is replaced, each presents the
// new certificate only once it is restarted. The output depends on a JVM and
// a receiver, so the example is not run.
func Example() {
	var serverRoot *x509.Certificate // the root of the receiver's server certificate
	rt, err := java.New(java.Config{
		Nodes:            3,
		Keystore:         "/srv/tenant/client.jks",
		KeystorePassword: []byte("read from a secret store"),
		URL:              "https://receiver.example:8443/health",
		ServerRoots:      []*x509.Certificate{serverRoot},
		Rate:             20,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer rt.Close()
	ctx := context.Background()
	if err := rt.StartAll(ctx); err != nil {
		log.Fatal(err)
	}
	// ... replace the keystore entry, then, node by node:
	if err := rt.Restart(ctx, "node-1"); err != nil {
		log.Fatal(err)
	}
	c, err := rt.Presents(ctx, "node-1")
	if err != nil {
		log.Fatal(err) // a *java.NoCertificateError names the advertised CA names
	}
	st := rt.Stats()
	fmt.Println(c.Subject, st.Requests, st.Failures)
}
