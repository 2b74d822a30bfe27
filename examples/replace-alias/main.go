// Command replace-alias renews the client certificate under a keystore
// alias with a new key pair whose certificate a different CA signs,
// keeping the alias and every other entry.
//
// With no flags it runs the whole operation on a keystore it builds in a
// temporary directory: a key entry signed by an old CA and that CA's root,
// a new key and renewal CSR, a second CA that signs it, the reply
// installed under the same alias; it prints the listing before and after.
//
// On a real file it works in two steps, as with keytool:
//
//	replace-alias -keystore client.jks -alias client -new-csr client.csr
//	    (sends client.csr to the new CA; the new key waits in client.jks.pending)
//	replace-alias -keystore client.jks -alias client -reply reply.p7b -anchors newroot.pem
//
// The password comes from -password-file or the environment variable named
// by -password-env (CERTROLL_PASSWORD by default), never from a flag value
// that `ps` would show.
package main

import (
	"bytes"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/certroll/certroll/internal/localca"
	"github.com/certroll/certroll/keystore"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "replace-alias:", err)
		os.Exit(1)
	}
}

type config struct {
	keystore, alias, format   string
	passwordFile, passwordEnv string
	newCSR, reply, anchors    string
	keyType                   string
	pendingSuffix             string
}

func run(args []string, out io.Writer) error {
	var c config
	fs := flag.NewFlagSet("replace-alias", flag.ContinueOnError)
	fs.StringVar(&c.keystore, "keystore", "", "keystore to change (JKS or PKCS#12, detected); without it, a demonstration in a temporary directory")
	fs.StringVar(&c.alias, "alias", "client", "alias of the key entry to renew")
	fs.StringVar(&c.format, "format", "jks", "format of the demonstration keystore: jks or pkcs12")
	fs.StringVar(&c.passwordFile, "password-file", "", "file holding the keystore password (first line)")
	fs.StringVar(&c.passwordEnv, "password-env", "CERTROLL_PASSWORD", "environment variable holding the keystore password")
	fs.StringVar(&c.newCSR, "new-csr", "", "step 1: generate a new key and write its renewal CSR (PEM) to this file")
	fs.StringVar(&c.reply, "reply", "", "step 2: the CA reply to install with the pending key (PEM, DER, PKCS#7 or PkiPath)")
	fs.StringVar(&c.anchors, "anchors", "", "certificates (the new root) that the reply may chain to, besides the store's trusted entries")
	fs.StringVar(&c.keyType, "key-type", "rsa2048", "type of the new key: rsa2048, rsa3072, rsa4096, ec-p256, ec-p384, ec-p521, ed25519")
	c.pendingSuffix = ".pending"
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.keystore == "" {
		return demo(c, out)
	}
	password, err := readPassword(c)
	if err != nil {
		return err
	}
	switch {
	case c.newCSR != "" && c.reply != "":
		return errors.New("give -new-csr (step 1) or -reply (step 2), not both")
	case c.newCSR != "":
		return newCSR(c, password, out)
	case c.reply != "":
		return installReply(c, password, out)
	}
	return errors.New("with -keystore, give -new-csr FILE (step 1) or -reply FILE (step 2)")
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
	return nil, fmt.Errorf("no password: set %s or give -password-file", c.passwordEnv)
}

// newCSR generates the new key, keeps it in the pending store beside the
// keystore (with a self-signed placeholder, 0600) and writes the CSR.
func newCSR(c config, password []byte, out io.Writer) error {
	ks, err := keystore.Open(c.keystore, password)
	if err != nil {
		return err
	}
	current, err := ks.Certificates(c.alias)
	if err != nil {
		return err
	}
	if len(current) == 0 {
		return fmt.Errorf("alias %q has no certificate to renew", c.alias)
	}
	kt, err := keystore.ParseKeyType(c.keyType)
	if err != nil {
		return err
	}
	key, err := keystore.GenerateKey(kt)
	if err != nil {
		return err
	}
	csr, err := keystore.RenewalCSR(key, current[0])
	if err != nil {
		return err
	}
	ph, err := keystore.Placeholder(key, current[0].Subject, time.Now())
	if err != nil {
		return err
	}
	pending := keystore.New(ks.Format())
	if err := pending.Set(&keystore.Entry{Alias: c.alias, Key: key, Chain: []*x509.Certificate{ph}}); err != nil {
		return err
	}
	if err := pending.Save(c.keystore+c.pendingSuffix, password); err != nil {
		return err
	}
	if err := os.WriteFile(c.newCSR, csr, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(out, "new %v key for %q kept in %s\nrenewal CSR (subject %s) written to %s\n",
		kt, c.alias, c.keystore+c.pendingSuffix, current[0].Subject, c.newCSR)
	return nil
}

// installReply installs the reply with the pending key under the alias.
func installReply(c config, password []byte, out io.Writer) error {
	pending, err := keystore.Open(c.keystore+c.pendingSuffix, password)
	if err != nil {
		return fmt.Errorf("the pending key (from -new-csr): %w", err)
	}
	pe, err := pending.Entry(c.alias)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(c.reply)
	if err != nil {
		return err
	}
	reply, err := keystore.ParseCertificates(data)
	if err != nil {
		return err
	}
	opts := []keystore.Option{keystore.WithNewKey(pe.Key), keystore.WithBackup(".bak")}
	if c.anchors != "" {
		a, err := os.ReadFile(c.anchors)
		if err != nil {
			return err
		}
		anchors, err := keystore.ParseCertificates(a)
		if err != nil {
			return err
		}
		opts = append(opts, keystore.WithAnchors(anchors...))
	}
	var before, after bytes.Buffer
	var res *keystore.ReplyResult
	err = keystore.Update(c.keystore, password, func(s *keystore.Store) error {
		if err := s.WriteListing(&before); err != nil {
			return err
		}
		var err error
		if res, err = s.InstallReply(c.alias, reply, opts...); err != nil {
			return err
		}
		return s.WriteListing(&after)
	}, opts...)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Before:\n%s\n%s\n\nAfter:\n%s", indent(before.String()), res, indent(after.String()))
	if err := os.Remove(c.keystore + c.pendingSuffix); err != nil {
		return err
	}
	return nil
}

// demo builds a keystore in a temporary directory and renews its alias.
func demo(c config, out io.Writer) error {
	format, ext := keystore.JKS, ".jks"
	switch strings.ToLower(c.format) {
	case "jks":
	case "pkcs12", "p12":
		format, ext = keystore.PKCS12, ".p12"
	default:
		return fmt.Errorf("-format: want jks or pkcs12, got %q", c.format)
	}
	dir, err := os.MkdirTemp("", "replace-alias-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	oldCA, err := localca.New("Old Root CA", nil, nil)
	if err != nil {
		return err
	}
	newCA, err := localca.New("New Root CA", nil, nil)
	if err != nil {
		return err
	}

	// The keystore as it is before the renewal: the client key signed by
	// the old CA, and the old CA's root.
	oldKey, err := keystore.GenerateKey(keystore.ECDSAP256)
	if err != nil {
		return err
	}
	oldChain, err := oldCA.Issue("tenant-client", oldKey.Public())
	if err != nil {
		return err
	}
	ks := keystore.New(format)
	if err := ks.Set(&keystore.Entry{Alias: c.alias, Key: oldKey, Chain: oldChain}); err != nil {
		return err
	}
	if err := ks.Set(&keystore.Entry{Alias: "old-root", Chain: oldChain[1:]}); err != nil {
		return err
	}
	// Another client identity in the same keystore: it must come through
	// untouched.
	partnerKey, err := keystore.GenerateKey(keystore.ECDSAP256)
	if err != nil {
		return err
	}
	partnerChain, err := oldCA.Issue("partner-b-client", partnerKey.Public())
	if err != nil {
		return err
	}
	if err := ks.Set(&keystore.Entry{Alias: "partner-b", Key: partnerKey, Chain: partnerChain}); err != nil {
		return err
	}
	path := filepath.Join(dir, "client"+ext)
	password := []byte("changeit")
	if err := ks.Save(path, password); err != nil {
		return err
	}

	// Step 1: a new key and a renewal CSR; step 2: the new CA signs it;
	// step 3: the reply is installed under the same alias.
	kt, err := keystore.ParseKeyType(c.keyType)
	if err != nil {
		return err
	}
	newKey, err := keystore.GenerateKey(kt)
	if err != nil {
		return err
	}
	csr, err := keystore.RenewalCSR(newKey, oldChain[0])
	if err != nil {
		return err
	}
	reply, err := newCA.SignCSR(csr)
	if err != nil {
		return err
	}
	var before, after bytes.Buffer
	var res *keystore.ReplyResult
	err = keystore.Update(path, password, func(s *keystore.Store) error {
		if err := s.WriteListing(&before); err != nil {
			return err
		}
		var err error
		res, err = s.InstallReply(c.alias, reply, keystore.WithNewKey(newKey), keystore.WithAnchors(newCA.Cert))
		if err != nil {
			return err
		}
		return s.WriteListing(&after)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "keystore %s (%v), alias %q\n\nBefore:\n%s\nRenewal: new %v key, CSR signed by %q\n%s\n\nAfter:\n%s",
		path, format, c.alias, indent(before.String()), kt, newCA.Cert.Subject, res, indent(after.String()))
	return nil
}

// indent indents every non-empty line by two spaces.
func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = "  " + l
		}
	}
	return strings.Join(lines, "\n") + "\n"
}
