package keystore_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"log"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/certroll/certroll/keystore"
)

// exampleCA is a certificate authority for the examples.
type exampleCA struct {
	key  crypto.Signer
	cert *x509.Certificate
}

var exampleNow = time.Date(2026, time.March, 1, 12, 0, 0, 0, time.UTC)

func newExampleCA(name string) *exampleCA {
	key, err := keystore.GenerateKey(keystore.ECDSAP256, nil)
	if err != nil {
		log.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: exampleNow.AddDate(-1, 0, 0), NotAfter: exampleNow.AddDate(5, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	return &exampleCA{key, exampleCert(tmpl, tmpl, key.Public(), key)}
}

// issue signs a client certificate for pub with subject, as a CA would.
func (ca *exampleCA) issue(pub crypto.PublicKey, subject pkix.Name) *x509.Certificate {
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(exampleNow.UnixNano()), Subject: subject,
		NotBefore: exampleNow.Add(-time.Hour), NotAfter: exampleNow.AddDate(1, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	return exampleCert(tmpl, ca.cert, pub, ca.key)
}

func exampleCert(tmpl, parent *x509.Certificate, pub crypto.PublicKey, key crypto.Signer) *x509.Certificate {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		log.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		log.Fatal(err)
	}
	return c
}

// exampleLiveStore writes a keystore like the one a Java client has: the
// key entry "client", issued by oldCA, and oldCA's root as a trusted
// entry.
func exampleLiveStore(dir string, password []byte, oldCA *exampleCA) string {
	key, err := keystore.GenerateKey(keystore.ECDSAP256, nil)
	if err != nil {
		log.Fatal(err)
	}
	leaf := oldCA.issue(key.Public(), pkix.Name{CommonName: "tenant-client", Organization: []string{"Tenant GmbH"}})
	s := keystore.New(keystore.PKCS12, &keystore.StoreOptions{Now: func() time.Time { return exampleNow }})
	if err := s.Set(&keystore.Entry{Alias: "client", Key: key, Chain: []*x509.Certificate{leaf, oldCA.cert}}, nil); err != nil {
		log.Fatal(err)
	}
	if err := s.Set(&keystore.Entry{Alias: "old-root", Chain: []*x509.Certificate{oldCA.cert}}, nil); err != nil {
		log.Fatal(err)
	}
	path := filepath.Join(dir, "client.p12")
	if err := s.Save(path, password, nil); err != nil {
		log.Fatal(err)
	}
	return path
}

// The certificate under an alias is replaced in place: Update locks the
// file, and Replace keeps the alias, its position and every other entry.
func ExampleStore_Replace() {
	dir, err := os.MkdirTemp("", "keystore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	password := []byte("changeit")
	path := exampleLiveStore(dir, password, newExampleCA("Old Root"))

	// The new key and certificate, from the new CA.
	newCA := newExampleCA("New Root")
	key, err := keystore.GenerateKey(keystore.ECDSAP256, nil)
	if err != nil {
		log.Fatal(err)
	}
	chain := []*x509.Certificate{newCA.issue(key.Public(), pkix.Name{CommonName: "tenant-client"}), newCA.cert}

	err = keystore.Update(context.Background(), path, password, func(s *keystore.Store) error {
		previous, err := s.Replace("CLIENT", key, chain, nil) // aliases ignore case
		if err != nil {
			return err
		}
		fmt.Println("replaced a certificate issued by", previous.Leaf().Issuer)
		return nil
	}, &keystore.UpdateOptions{SaveOptions: keystore.SaveOptions{Backup: ".bak"}})
	if err != nil {
		log.Fatal(err)
	}

	s, err := keystore.Open(path, password, nil)
	if err != nil {
		log.Fatal(err)
	}
	c, err := s.Certificates("client")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("aliases:", s.Aliases())
	fmt.Println("now issued by", c[0].Issuer)
	// Output:
	// replaced a certificate issued by CN=Old Root
	// aliases: [client old-root]
	// now issued by CN=New Root
}

// A renewal with a new key pair takes two steps, days apart. Today the new
// key and its certificate request are made, and the key waits in a
// pending store beside the live one, under a placeholder certificate.
// When the CA's reply arrives, it is installed under the live alias
// together with that key; until then the live entry is untouched.
func ExampleStore_InstallReply() {
	dir, err := os.MkdirTemp("", "keystore-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	password := []byte("changeit")
	live := exampleLiveStore(dir, password, newExampleCA("Old Root"))
	pendingPath := live + ".pending"

	// Today: a new key, a request like the current certificate, and the
	// key kept in the pending store.
	s, err := keystore.Open(live, password, nil)
	if err != nil {
		log.Fatal(err)
	}
	current, err := s.Certificates("client")
	if err != nil {
		log.Fatal(err)
	}
	newKey, err := keystore.GenerateKey(keystore.ECDSAP256, nil)
	if err != nil {
		log.Fatal(err)
	}
	csrPEM, err := keystore.RenewalCSR(newKey, current[0])
	if err != nil {
		log.Fatal(err)
	}
	placeholder, err := keystore.Placeholder(newKey, current[0].Subject, exampleNow)
	if err != nil {
		log.Fatal(err)
	}
	pending := keystore.New(s.Format(), nil)
	if err := pending.Set(&keystore.Entry{Alias: "client", Key: newKey, Chain: []*x509.Certificate{placeholder}}, nil); err != nil {
		log.Fatal(err)
	}
	if err := pending.Save(pendingPath, password, nil); err != nil {
		log.Fatal(err)
	}
	// ... csrPEM goes to the CA ...

	// Next week: the CA's reply (here made on the spot).
	newCA := newExampleCA("New Root")
	csr, err := keystore.ParseCSR(csrPEM)
	if err != nil {
		log.Fatal(err)
	}
	reply := []*x509.Certificate{newCA.issue(csr.PublicKey, csr.Subject)}

	p, err := keystore.Open(pendingPath, password, nil)
	if err != nil {
		log.Fatal(err)
	}
	e, err := p.Entry("client")
	if err != nil {
		log.Fatal(err)
	}
	err = keystore.Update(context.Background(), live, password, func(s *keystore.Store) error {
		res, err := s.InstallReply("client", reply, &keystore.ReplyOptions{NewKey: e.Key, Anchors: []*x509.Certificate{newCA.cert}})
		if err != nil {
			return err
		}
		fmt.Println(res)
		return nil
	}, nil)
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// alias "client": installed chain of 2 (CN=tenant-client -> CN=New Root), anchor CN=New Root
}

// A store written by keytool is read and listed as keytool -list -v
// lists it, distinguished names in keytool's form.
func ExampleStore_WriteListing() {
	s, err := keystore.Open("testdata/pkcs12/keytool17/keypair-ec-changeit.p12", []byte("changeit"), nil)
	if err != nil {
		log.Fatal(err)
	}
	if err := s.WriteListing(os.Stdout); err != nil {
		log.Fatal(err)
	}
	// Output:
	// Keystore type: PKCS#12
	// Your keystore contains 1 entry
	//
	// Alias name: mixed case key
	// Creation date: 2026-11-26T04:25:56Z
	// Entry type: PrivateKeyEntry
	// Certificate chain length: 1
	// Owner: CN=made-here
	// Issuer: CN=made-here
	// Serial number: c4cb0b56e6956856
	// Valid from: 2026-11-26T04:25:56Z until: 2027-02-24T04:25:56Z
	// SHA256: 17:85:1F:94:15:6E:DB:EA:16:88:89:34:2A:FF:AD:44:B4:54:E7:3E:10:B3:F1:26:35:62:43:76:33:B8:94:55
	// Subject Public Key Algorithm: EC P-256
}

// A PKCS#12 profile is chosen for the Java that will read the file: the
// first preset, strongest first, that Java 8 reads.
func ExampleProfile_ReadableBy() {
	for _, p := range []keystore.Profile{keystore.PBMAC1, keystore.Modern, keystore.Legacy} {
		ok, why := p.ReadableBy(keystore.Java8)
		fmt.Printf("%v: %v (%s)\n", p, ok, why)
		if ok {
			s := keystore.New(keystore.PKCS12, nil)
			if err := s.SetProfile(p); err != nil {
				log.Fatal(err)
			}
			chosen, _ := s.Profile()
			fmt.Println("writing with", chosen)
			break
		}
	}
	// Output:
	// PBMAC1: false (Java 8 cannot decrypt keys encrypted with PBES2 AES-256-CBC: PBES2 needs 8u301 or later)
	// Modern2024: false (Java 8 cannot decrypt keys encrypted with PBES2 AES-256-CBC: PBES2 needs 8u301 or later)
	// Legacy: true (Java 8 reads every algorithm of Legacy)
	// writing with Legacy
}
