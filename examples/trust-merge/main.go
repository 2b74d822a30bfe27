// Command trust-merge does the receiver's side of a root change on a
// truststore: it merges a CA's bundle (the new root and its intermediates)
// into the truststore, and removes the old root once nothing declared in use
// still chains to it.
//
// With no flags it runs the whole story in a temporary directory: a JKS
// truststore that trusts an old root, a client keystore whose key entry
// chains to that root, and a PEM bundle from the new CA. It merges the
// bundle and prints the report, tries to remove the old root (refused: the
// client keystore still uses it), moves the client keystore's key entry to a
// certificate from the new root under the same alias, and removes the old
// root again (done).
//
// On real files:
//
//	trust-merge -truststore truststore.jks -bundle new-ca.pem
//	trust-merge -truststore truststore.jks -prune-fingerprint AB:CD:... -in-use client.p12 -in-use pinned.pem
//
// The truststore may be a JKS or PKCS#12 keystore, a PEM bundle, or a
// directory of certificate files; it is written back in its own kind, and
// only when every step succeeded (nothing is written with -dry-run). Every
// flag is checked, and every input read, before the truststore is changed.
//
// A merge adds CA certificates only: a CA's reply (reply.p7b) carries the
// client certificate it signed, and a truststore that trusted it would
// accept that client without any CA. The certificates left out are listed
// with the reason; -include-non-ca trusts them too, as for a pinned client
// certificate. A certificate counts as a CA when its basicConstraints say
// CA:true, or when it has no basicConstraints and is self-signed, as old
// version 1 roots are.
//
// A removal needs to know what uses the truststore: files given with
// -in-use are keystores (each key entry's chain is in use) or PEM/DER
// chains, and a certificate that still anchors one of them is kept;
// -nothing-in-use declares that nothing does (and -force removes even what
// is in use). Without one of them -prune-fingerprint is refused.
//
// With -json the output is one JSON document: the truststore, the merge
// and prune reports, the result ("written", "unchanged", "dry run", "not
// written") and, when nothing was written, why.
//
// The password comes from -password-file or the environment variable named
// by -password-env (CERTROLL_PASSWORD by default), never from a flag value
// that `ps` would show; in-use keystores are opened with the same password.
package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/certroll/certroll/chain"
	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/truststore"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "trust-merge:", err)
		os.Exit(1)
	}
}

// paths is a repeatable string flag.
type paths []string

func (p *paths) String() string     { return strings.Join(*p, ",") }
func (p *paths) Set(v string) error { *p = append(*p, v); return nil }

type config struct {
	truststore, bundle        string
	passwordFile, passwordEnv string
	pruneFingerprints         paths
	inUse                     paths
	force, nothingInUse       bool
	includeNonCA              bool
	dryRun, asJSON            bool
}

// usage is printed by -h, before the flags.
const usage = `Usage:
  trust-merge                      run the demonstration in a temporary directory
  trust-merge -truststore FILE -bundle FILE [-include-non-ca]
  trust-merge -truststore FILE -prune-fingerprint FP... (-in-use FILE... | -nothing-in-use) [-force]

The truststore is written only when every step succeeded, and never with -dry-run.

Flags:
`

func run(args []string, out io.Writer) error {
	var c config
	fs := flag.NewFlagSet("trust-merge", flag.ContinueOnError)
	// Parse errors are returned, and main prints them once; -h prints the
	// usage on out.
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.truststore, "truststore", "", "truststore to change: JKS, PKCS#12, PEM bundle or directory; without it, a demonstration in a temporary directory")
	fs.StringVar(&c.bundle, "bundle", "", "certificates to merge (PEM, DER or PKCS#7): the new root and its intermediates; certificates that are not CAs are left out")
	fs.BoolVar(&c.includeNonCA, "include-non-ca", false, "with -bundle, also trust the certificates that are not CAs (such as a client certificate to pin)")
	fs.StringVar(&c.passwordFile, "password-file", "", "file holding the keystore password (first line)")
	fs.StringVar(&c.passwordEnv, "password-env", "CERTROLL_PASSWORD", "environment variable holding the keystore password")
	fs.Var(&c.pruneFingerprints, "prune-fingerprint", "SHA-256 fingerprint of a certificate to remove (repeatable; colons optional)")
	fs.Var(&c.inUse, "in-use", "with -prune-fingerprint: keystore or certificate chain whose chains must stay anchored (repeatable)")
	fs.BoolVar(&c.nothingInUse, "nothing-in-use", false, "with -prune-fingerprint: declare that no keystore or chain depends on the truststore, and remove without a usage check")
	fs.BoolVar(&c.force, "force", false, "with -prune-fingerprint: remove certificates even if chains in use depend on them")
	fs.BoolVar(&c.dryRun, "dry-run", false, "report what would change, write nothing")
	fs.BoolVar(&c.asJSON, "json", false, "print the outcome as one JSON document")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(out, usage)
			fs.SetOutput(out)
			fs.PrintDefaults()
			return nil
		}
		return fmt.Errorf("%w (see -h)", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: trust-merge takes flags only, and reads none after the first argument", fs.Args())
	}
	if c.truststore == "" {
		var given []string
		fs.Visit(func(f *flag.Flag) { given = append(given, "-"+f.Name) })
		if len(given) > 0 {
			return fmt.Errorf("%s %s a real truststore: give -truststore FILE (without it, trust-merge runs the demonstration, which takes no flags)",
				strings.Join(given, ", "), plural(len(given), "needs", "need"))
		}
		return demo(out)
	}
	if err := c.check(); err != nil {
		return err
	}
	return apply(c, out)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// check refuses flags that contradict each other or would be ignored, and
// malformed fingerprints, before any file is read or written.
func (c config) check() error {
	prune := len(c.pruneFingerprints) > 0
	if c.bundle == "" && !prune {
		return errors.New("with -truststore, give -bundle FILE to merge and/or -prune-fingerprint FP to remove")
	}
	var pruneOnly []string
	for _, f := range []struct {
		name string
		set  bool
	}{{"-in-use", len(c.inUse) > 0}, {"-nothing-in-use", c.nothingInUse}, {"-force", c.force}} {
		if f.set {
			pruneOnly = append(pruneOnly, f.name)
		}
	}
	if !prune && len(pruneOnly) > 0 {
		return fmt.Errorf("%s %s to a removal: give -prune-fingerprint FP too, or leave %s out", strings.Join(pruneOnly, ", "),
			plural(len(pruneOnly), "applies", "apply"), plural(len(pruneOnly), "it", "them"))
	}
	if c.includeNonCA && c.bundle == "" {
		return errors.New("-include-non-ca applies to a merge: give -bundle FILE too, or leave it out")
	}
	if !prune {
		return nil
	}
	switch {
	case len(c.inUse) > 0 && c.nothingInUse:
		return errors.New("-in-use and -nothing-in-use contradict each other: give the files in use, or declare that nothing is")
	case len(c.inUse) == 0 && !c.nothingInUse && !c.force:
		return errors.New("-prune-fingerprint: say what uses the truststore before anything is removed: " +
			"-in-use FILE (repeatable) for each keystore or certificate chain whose chains must stay anchored, " +
			"or -nothing-in-use if nothing does (-force removes even what is in use)")
	}
	_, err := parseFingerprints(c.pruneFingerprints)
	return err
}

// parseFingerprints reads the -prune-fingerprint values in any form people
// paste (keytool's, openssl's, plain hex).
func parseFingerprints(list []string) ([]keystore.Fingerprint, error) {
	fps := make([]keystore.Fingerprint, len(list))
	for i, s := range list {
		fp, err := keystore.ParseFingerprint(s)
		var fe *keystore.FingerprintError
		if errors.As(err, &fe) {
			return nil, fmt.Errorf("-prune-fingerprint %q: %s", s, fe.Reason)
		}
		if err != nil {
			return nil, fmt.Errorf("-prune-fingerprint %q: %w", s, err)
		}
		fps[i] = fp
	}
	return fps, nil
}

func readPassword(c config) ([]byte, error) {
	if c.passwordFile != "" {
		b, err := os.ReadFile(c.passwordFile)
		if err != nil {
			return nil, err
		}
		line, _, _ := bytes.Cut(b, []byte("\n"))
		return bytes.TrimSuffix(line, []byte("\r")), nil
	}
	if v, ok := os.LookupEnv(c.passwordEnv); ok {
		return []byte(v), nil
	}
	return nil, nil // a PEM bundle or a directory needs none
}

// outcome is what -json prints: one document for the whole run.
type outcome struct {
	// Truststore is the path given with -truststore, Kind its kind.
	Truststore string `json:"truststore"`
	Kind       string `json:"kind"`
	// Merge and Prune are the reports of the steps that ran.
	Merge *truststore.Report `json:"merge,omitempty"`
	Prune *truststore.Report `json:"prune,omitempty"`
	// Result is "written", "unchanged", "dry run" or "not written".
	Result string `json:"result"`
	// Certificates is the number of certificates in the truststore after
	// the run (as written, or as it would be).
	Certificates int `json:"certificates"`
	// Error is why the truststore was not written, when it was not.
	Error string `json:"error,omitempty"`
}

// apply merges and prunes a real truststore as the flags say. Every input
// is read before the truststore is changed in memory, and the truststore
// is written once, at the end.
func apply(c config, out io.Writer) error {
	password, err := readPassword(c)
	if err != nil {
		return err
	}
	var merge []*x509.Certificate
	if c.bundle != "" {
		data, err := os.ReadFile(c.bundle)
		if err != nil {
			return err
		}
		if merge, err = keystore.ParseCertificates(data); err != nil {
			return fmt.Errorf("%s: %w", c.bundle, err)
		}
	}
	var inUse []truststore.Dependent
	for _, p := range c.inUse {
		d, err := truststore.OpenDependents(p, password)
		if err != nil {
			return err
		}
		if len(d) == 0 {
			return fmt.Errorf("-in-use %q holds no key entry and no certificate chain, so it declares nothing in use: "+
				"give the keystores whose key entries chain to the truststore, or -nothing-in-use if nothing does", p)
		}
		inUse = append(inUse, d...)
	}
	ts, err := truststore.Open(c.truststore, password)
	if err != nil {
		if password == nil && errors.Is(err, keystore.ErrIncorrectPassword) {
			return fmt.Errorf("%w (set %s or give -password-file)", err, c.passwordEnv)
		}
		return err
	}
	res := outcome{Truststore: c.truststore, Kind: ts.Kind().String()}
	// finish prints the outcome; err, when not nil, is why nothing was
	// written, and is returned.
	finish := func(err error) error {
		res.Certificates = len(ts.Certificates())
		if err != nil {
			res.Result, res.Error = "not written", err.Error()
		}
		if c.asJSON {
			enc := json.NewEncoder(out)
			enc.SetIndent("", "  ")
			if jerr := enc.Encode(res); jerr != nil {
				return jerr
			}
			return err
		}
		switch res.Result {
		case "unchanged":
			fmt.Fprintf(out, "%s unchanged\n", c.truststore)
		case "dry run":
			fmt.Fprintf(out, "dry run: %s not written\n", c.truststore)
		case "written":
			fmt.Fprintf(out, "%s written (%v, %d certificates)\n", c.truststore, ts.Kind(), len(ts.Certificates()))
		}
		return err
	}
	changed := false
	if c.bundle != "" {
		rep, err := ts.Merge(truststore.Certs(merge...), &truststore.MergeOptions{IncludeNonCA: c.includeNonCA})
		if err != nil {
			return err
		}
		res.Merge = rep
		if !c.asJSON {
			fmt.Fprint(out, rep)
			if n := len(rep.LeftOut); n > 0 {
				fmt.Fprintf(out, "%d %s of %s left out: a truststore holds CA certificates; give -include-non-ca to trust %s too\n",
					n, plural(n, "certificate", "certificates"), c.bundle, plural(n, "it", "them"))
			}
		}
		changed = changed || len(rep.Added)+len(rep.Removed) > 0
	}
	if len(c.pruneFingerprints) > 0 {
		opts := &truststore.PruneOptions{InUse: inUse, NothingInUse: c.nothingInUse, Force: c.force}
		fps, err := parseFingerprints(c.pruneFingerprints)
		if err != nil {
			return err
		}
		rep, err := ts.Prune(truststore.ByFingerprint(fps...), opts)
		if rep != nil {
			res.Prune = rep
			if !c.asJSON {
				fmt.Fprint(out, rep)
			}
		}
		if err != nil {
			return finish(fmt.Errorf("%w; %s not written", err, c.truststore))
		}
		changed = changed || len(rep.Added)+len(rep.Removed) > 0
	}
	switch {
	case !changed:
		res.Result = "unchanged"
	case c.dryRun:
		res.Result = "dry run"
	default:
		if err := ts.Save(c.truststore, password); err != nil {
			return finish(err)
		}
		res.Result = "written"
	}
	return finish(nil)
}

// demoNow is the demonstration's clock, so that its output is the same on
// every run.
var demoNow = time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)

// demo runs the story in a temporary directory.
func demo(out io.Writer) error {
	dir, err := os.MkdirTemp("", "trust-merge-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	password := []byte("changeit")

	// The PKI: an old root, a partner's root, and the new root the tenant's
	// client certificate moves to. Roots use Ed25519 keys from fixed seeds so
	// that their fingerprints, printed below, are the same on every run.
	oldRoot, err := newCA("Old Root CA", 1, nil)
	if err != nil {
		return err
	}
	partner, err := newCA("Partner Root CA", 2, nil)
	if err != nil {
		return err
	}
	newRoot, err := newCA("New Root CA", 3, nil)
	if err != nil {
		return err
	}
	newIssuing, err := newCA("New Issuing CA", 4, newRoot)
	if err != nil {
		return err
	}

	// The receiver's truststore trusts the old root and a partner's root.
	trustPath := filepath.Join(dir, "truststore.jks")
	ts := truststore.New(truststore.JKS)
	now := &truststore.MergeOptions{Now: func() time.Time { return demoNow }}
	if _, err := ts.Merge([]truststore.Entry{{Alias: "old-root", Cert: oldRoot.cert}, {Alias: "partner-root", Cert: partner.cert}}, now); err != nil {
		return err
	}
	if err := ts.Save(trustPath, password); err != nil {
		return err
	}

	// The tenant's client keystore: a key entry chaining to the old root.
	clientPath := filepath.Join(dir, "client.p12")
	client := keystore.New(keystore.PKCS12, nil)
	key, certs, err := oldRoot.issue("tenant-client")
	if err != nil {
		return err
	}
	if err := client.Set(&keystore.Entry{Alias: "client", Key: key, Chain: certs, Created: demoNow}, nil); err != nil {
		return err
	}
	if err := client.Save(clientPath, password, nil); err != nil {
		return err
	}

	// The new CA's bundle: its root and issuing CA, and the partner's root
	// the receiver trusts already.
	var bundle bytes.Buffer
	for _, c := range []*x509.Certificate{newRoot.cert, newIssuing.cert, partner.cert} {
		if err := pem.Encode(&bundle, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}); err != nil {
			return err
		}
	}
	bundlePath := filepath.Join(dir, "new-ca.pem")
	if err := os.WriteFile(bundlePath, bundle.Bytes(), 0o644); err != nil {
		return err
	}

	fmt.Fprintf(out, "truststore.jks trusts %s\n", strings.Join(ts.Aliases(), ", "))
	fmt.Fprintf(out, "client.p12 alias \"client\": %s\n\n", chain.Path(certs))

	// Step 1: merge the bundle.
	ts, err = truststore.Open(trustPath, password)
	if err != nil {
		return err
	}
	newCerts, err := keystore.ParseCertificates(bundle.Bytes())
	if err != nil {
		return err
	}
	rep, err := ts.Merge(truststore.Certs(newCerts...), now)
	if err != nil {
		return err
	}
	if err := ts.Save(trustPath, password); err != nil {
		return err
	}
	fmt.Fprintf(out, "1. merge new-ca.pem into truststore.jks\n%s\n", rep)

	// Step 2: try to remove the old root while the client still uses it.
	oldFP := keystore.CertFingerprint(oldRoot.cert)
	prune := func() (*truststore.Report, error) {
		ks, err := keystore.Open(clientPath, password, nil)
		if err != nil {
			return nil, err
		}
		inUse, err := truststore.KeystoreChains("client.p12", ks)
		if err != nil {
			return nil, err
		}
		ts, err := truststore.Open(trustPath, password)
		if err != nil {
			return nil, err
		}
		rep, err := ts.Prune(truststore.ByFingerprint(oldFP), &truststore.PruneOptions{InUse: inUse})
		if err != nil {
			return rep, err
		}
		return rep, ts.Save(trustPath, password)
	}
	rep, err = prune()
	if !errors.Is(err, truststore.ErrInUse) {
		return fmt.Errorf("removing the old root while client.p12 uses it: want a refusal, got %v", err)
	}
	fmt.Fprintf(out, "2. remove the old root while client.p12 still chains to it\n%s=> %v\n\n", rep, err)

	// Step 3: the tenant replaces the key entry under the same alias with a
	// key whose certificate the new CA signed.
	key, certs, err = newIssuing.issue("tenant-client")
	if err != nil {
		return err
	}
	err = keystore.Update(context.Background(), clientPath, password, func(s *keystore.Store) error {
		_, err := s.Replace("client", key, certs, nil)
		return err
	}, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "3. client.p12 alias \"client\" replaced: %s\n\n", chain.Path(certs))

	// Step 4: now the old root can go.
	rep, err = prune()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "4. remove the old root again\n%s\n", rep)
	ts, err = truststore.Open(trustPath, password)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "truststore.jks trusts %s\n", strings.Join(ts.Aliases(), ", "))
	return nil
}

// ca is a demonstration certificate authority.
type ca struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// newCA makes a CA named cn with an Ed25519 key derived from seed, signed
// by parent (self-signed when parent is nil), valid for ten years from a
// year before demoNow.
func newCA(cn string, seed byte, parent *ca) (*ca, error) {
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(int64(seed)),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"certroll example"}},
		NotBefore:             demoNow.AddDate(-1, 0, 0),
		NotAfter:              demoNow.AddDate(9, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	issuer, signer := tmpl, crypto.Signer(key)
	if parent != nil {
		issuer, signer = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, key.Public(), signer)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &ca{cert: cert, key: key}, nil
}

// issue makes a client key and certificate named cn, and returns the chain
// a client presents: the leaf, then the CA unless it is a root.
func (c *ca) issue(cn string) (crypto.Signer, []*x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(100),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    demoNow.Add(-time.Hour),
		NotAfter:     demoNow.AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, key.Public(), c.key)
	if err != nil {
		return nil, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	chain := []*x509.Certificate{leaf}
	if !bytes.Equal(c.cert.RawIssuer, c.cert.RawSubject) {
		chain = append(chain, c.cert)
	}
	return key, chain, nil
}
