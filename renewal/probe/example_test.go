package probe_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/certroll/certroll/chain"
	"github.com/certroll/certroll/internal/testpki"
	"github.com/certroll/certroll/renewal/probe"
)

// A receiver that verifies the new root but advertises only the old one, as
// HAProxy 2.6 does after its runtime API changed the CA file: the status is
// 200, yet a Java client would present no certificate, so the probe fails.
func Example() {
	t := testpki.ForExample("Example")
	now := time.Now() // the server checks the wall clock
	valid := testpki.Validity(now.Add(-time.Hour), now.Add(time.Hour))
	oldRoot := testpki.NewRoot(t, "Old Root", valid)
	newRoot := testpki.NewRoot(t, "New Root", valid)
	client := newRoot.Leaf(t, "tenant-client", valid)

	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.TLS = &tls.Config{
		ClientAuth: tls.RequireAnyClientCert,
		ClientCAs:  testpki.Pool(oldRoot.Cert), // what the server advertises
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			leaf, err := x509.ParseCertificate(raw[0])
			if err != nil {
				return err
			}
			_, err = leaf.Verify(x509.VerifyOptions{ // what it trusts
				Roots:     testpki.Pool(oldRoot.Cert, newRoot.Cert),
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
			})
			return err
		},
	}
	srv.StartTLS()
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())

	newChain := append(client.Chain, newRoot.Cert)
	res, err := probe.Probe(context.Background(), srv.URL+"/health", newChain, client.Key,
		&probe.Options{Roots: roots, ServerName: "example.com"})
	fmt.Println("status:", res.Status)
	fmt.Println("advertised:", res.AdvertisedNames())
	var pe *probe.Error
	if errors.As(err, &pe) && errors.Is(err, probe.ErrNotAdvertised) {
		fmt.Println("not advertised:", chain.Name(pe.Missing))
	}
	// Output:
	// status: 200
	// advertised: [CN=Old Root]
	// not advertised: CN=New Root
}
