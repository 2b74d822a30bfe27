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
// Step 1 refuses while a pending key from an earlier step 1 waits in
// client.jks.pending: if that CSR went to the CA, only its key can install
// the reply. -discard-pending throws the pending key away (alone, or with
// -new-csr to make a new one). Step 1 also refuses an alias that is a
// trusted certificate entry: only a key entry has a key to renew. Every
// flag is checked before anything is written, and the CSR's directory
// before the pending key is made.
//
// The password comes from -password-file or the environment variable named
// by -password-env (CERTROLL_PASSWORD by default), never from a flag value
// that `ps` would show.
package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
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
	discardPending            bool
	pendingSuffix             string
}

// usage is printed by -h, before the flags.
const usage = `Usage:
  replace-alias [-format jks|pkcs12] [-alias A] [-key-type T]    run the demonstration in a temporary directory
  replace-alias -keystore FILE -alias A -new-csr FILE [-key-type T] [-discard-pending]
  replace-alias -keystore FILE -alias A -reply FILE [-anchors FILE]
  replace-alias -keystore FILE -discard-pending

Step 1 (-new-csr) keeps the new key in FILE.pending until step 2 (-reply) installs the CA's reply with it.

Flags:
`

// errPendingKey reports a -new-csr while the key of an earlier one waits
// for its reply.
var errPendingKey = errors.New("a pending key is waiting for its reply")

func run(args []string, out io.Writer) error {
	var c config
	flags := flag.NewFlagSet("replace-alias", flag.ContinueOnError)
	// Parse errors are returned, and main prints them once; -h prints the
	// usage on out.
	flags.SetOutput(io.Discard)
	flags.StringVar(&c.keystore, "keystore", "", "keystore to change (JKS or PKCS#12, detected); without it, a demonstration in a temporary directory")
	flags.StringVar(&c.alias, "alias", "client", "alias of the key entry to renew")
	flags.StringVar(&c.format, "format", "jks", "format of the demonstration keystore: jks or pkcs12")
	flags.StringVar(&c.passwordFile, "password-file", "", "file holding the keystore password (first line)")
	flags.StringVar(&c.passwordEnv, "password-env", "CERTROLL_PASSWORD", "environment variable holding the keystore password")
	flags.StringVar(&c.newCSR, "new-csr", "", "step 1: generate a new key and write its renewal CSR (PEM) to this file")
	flags.StringVar(&c.reply, "reply", "", "step 2: the CA reply to install with the pending key (PEM, DER, PKCS#7 or PkiPath)")
	flags.StringVar(&c.anchors, "anchors", "", "with -reply: certificates (the new root) that the reply may chain to, besides the store's trusted entries")
	flags.StringVar(&c.keyType, "key-type", "rsa2048", "type of the new key: rsa2048, rsa3072, rsa4096, ec-p256, ec-p384, ec-p521, ed25519")
	flags.BoolVar(&c.discardPending, "discard-pending", false, "throw away the pending key of an earlier -new-csr (a reply to its CSR can then never be installed); alone, or with -new-csr to make a new one")
	c.pendingSuffix = ".pending"
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(out, usage)
			flags.SetOutput(out)
			flags.PrintDefaults()
			return nil
		}
		return fmt.Errorf("%w (see -h)", err)
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: replace-alias takes flags only, and reads none after the first argument", flags.Args())
	}
	set := map[string]bool{}
	flags.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if c.keystore == "" {
		var given []string
		for _, n := range []string{"new-csr", "reply", "anchors", "discard-pending", "password-file", "password-env"} {
			if set[n] {
				given = append(given, "-"+n)
			}
		}
		if len(given) > 0 {
			return fmt.Errorf("%s %s a real keystore: give -keystore FILE (without it, replace-alias runs the demonstration)",
				strings.Join(given, ", "), plural(len(given), "needs", "need"))
		}
		return demo(c, out)
	}
	switch {
	case set["format"]:
		return errors.New("-format applies to the demonstration: with -keystore the format is read from the file")
	case c.newCSR != "" && c.reply != "":
		return errors.New("give -new-csr (step 1) or -reply (step 2), not both")
	case c.discardPending && c.reply != "":
		return errors.New("-discard-pending throws away the key that -reply installs: give one or the other")
	case c.anchors != "" && c.reply == "":
		return errors.New("-anchors applies to -reply (step 2): give -reply FILE too, or leave it out")
	case set["key-type"] && c.newCSR == "":
		return errors.New("-key-type applies to -new-csr (step 1): give -new-csr FILE too, or leave it out")
	case c.newCSR == "" && c.reply == "" && !c.discardPending:
		return errors.New("with -keystore, give -new-csr FILE (step 1) or -reply FILE (step 2)")
	}
	password, err := readPassword(c)
	if err != nil {
		return err
	}
	switch {
	case c.newCSR != "":
		return newCSR(c, password, out)
	case c.reply != "":
		return installReply(c, password, out)
	}
	return discardPending(c, password, out)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
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

// pendingAliases describes what the pending file at path holds, such as
// ` (alias "client")`, or "" when it cannot be read with password.
func pendingAliases(path string, password []byte) string {
	p, err := keystore.Open(path, password, nil)
	if err != nil || len(p.Aliases()) == 0 {
		return ""
	}
	q := make([]string, len(p.Aliases()))
	for i, a := range p.Aliases() {
		q[i] = fmt.Sprintf("%q", a)
	}
	return fmt.Sprintf(" (alias %s)", strings.Join(q, ", "))
}

// newCSR generates the new key, keeps it in the pending store beside the
// keystore (with a self-signed placeholder, 0600) and writes the CSR.
// Everything that can be checked is checked before anything is written:
// the alias is a key entry, no pending key waits, and the CSR's directory
// takes a file.
func newCSR(c config, password []byte, out io.Writer) error {
	ks, err := keystore.Open(c.keystore, password, nil)
	if err != nil {
		return err
	}
	kind, err := ks.Kind(c.alias)
	if err != nil {
		return err
	}
	if kind != keystore.KeyEntry {
		what := fmt.Sprintf("an entry of kind %v", kind)
		if kind == keystore.TrustedEntry {
			what = "a trusted certificate entry"
		}
		return fmt.Errorf("%w: alias %q of %s is %s: -new-csr renews the certificate of a key entry (a private key with its chain); give the alias of a key entry",
			keystore.ErrNotKeyEntry, c.alias, c.keystore, what)
	}
	current, err := ks.Certificates(c.alias)
	if err != nil {
		return err
	}
	if len(current) == 0 {
		return fmt.Errorf("alias %q has no certificate to renew", c.alias)
	}
	pendingPath := c.keystore + c.pendingSuffix
	if _, err := os.Lstat(pendingPath); err == nil && !c.discardPending {
		return fmt.Errorf("%w: %s holds the new key of an earlier -new-csr%s. If its CSR went to the CA, install the reply: -reply FILE. "+
			"To throw that key away and make a new one, give -discard-pending as well (a reply to the earlier CSR can then never be installed)",
			errPendingKey, pendingPath, pendingAliases(pendingPath, password))
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	kt, err := keystore.ParseKeyType(c.keyType)
	if err != nil {
		return err
	}
	// The CSR goes to a temporary file in its directory first: a missing
	// or unwritable directory is found before the pending key is written.
	tmp, err := os.CreateTemp(filepath.Dir(c.newCSR), "."+filepath.Base(c.newCSR)+".tmp-*")
	if err != nil {
		return fmt.Errorf("-new-csr %q: cannot write there (%w); nothing was written", c.newCSR, err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	defer tmp.Close()
	key, err := keystore.GenerateKey(kt, nil)
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
	if _, err := tmp.Write(csr); err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	pending := keystore.New(ks.Format(), nil)
	if err := pending.Set(&keystore.Entry{Alias: c.alias, Key: key, Chain: []*x509.Certificate{ph}}, nil); err != nil {
		return err
	}
	if err := pending.Save(pendingPath, password, nil); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), c.newCSR); err != nil {
		// No CSR left this program: the key just kept can never get a reply.
		if rmErr := os.Remove(pendingPath); rmErr != nil {
			return errors.Join(err, rmErr)
		}
		return err
	}
	if c.discardPending {
		fmt.Fprintf(out, "the earlier pending key was discarded\n")
	}
	fmt.Fprintf(out, "new %v key for %q kept in %s\nrenewal CSR (subject %s) written to %s\n",
		kt, c.alias, pendingPath, current[0].Subject, c.newCSR)
	return nil
}

// discardPending removes the pending key of an earlier -new-csr.
func discardPending(c config, password []byte, out io.Writer) error {
	pendingPath := c.keystore + c.pendingSuffix
	what := pendingAliases(pendingPath, password)
	if err := os.Remove(pendingPath); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("no pending key to discard: %s does not exist", pendingPath)
		}
		return err
	}
	fmt.Fprintf(out, "pending key%s in %s discarded: a reply to its CSR can no longer be installed\n", what, pendingPath)
	return nil
}

// installReply installs the reply with the pending key under the alias.
func installReply(c config, password []byte, out io.Writer) error {
	pending, err := keystore.Open(c.keystore+c.pendingSuffix, password, nil)
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
	opts := &keystore.ReplyOptions{NewKey: pe.Key}
	if c.anchors != "" {
		a, err := os.ReadFile(c.anchors)
		if err != nil {
			return err
		}
		anchors, err := keystore.ParseCertificates(a)
		if err != nil {
			return err
		}
		opts.Anchors = anchors
	}
	var before, after bytes.Buffer
	var res *keystore.ReplyResult
	err = keystore.Update(context.Background(), c.keystore, password, func(s *keystore.Store) error {
		if err := s.WriteListing(&before); err != nil {
			return err
		}
		var err error
		if res, err = s.InstallReply(c.alias, reply, opts); err != nil {
			return err
		}
		return s.WriteListing(&after)
	}, &keystore.UpdateOptions{SaveOptions: keystore.SaveOptions{Backup: ".bak"}})
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
	oldKey, err := keystore.GenerateKey(keystore.ECDSAP256, nil)
	if err != nil {
		return err
	}
	oldChain, err := oldCA.Issue("tenant-client", oldKey.Public())
	if err != nil {
		return err
	}
	ks := keystore.New(format, nil)
	if err := ks.Set(&keystore.Entry{Alias: c.alias, Key: oldKey, Chain: oldChain}, nil); err != nil {
		return err
	}
	if err := ks.Set(&keystore.Entry{Alias: "old-root", Chain: oldChain[1:]}, nil); err != nil {
		return err
	}
	// Another client identity in the same keystore: it must come through
	// untouched.
	partnerKey, err := keystore.GenerateKey(keystore.ECDSAP256, nil)
	if err != nil {
		return err
	}
	partnerChain, err := oldCA.Issue("partner-b-client", partnerKey.Public())
	if err != nil {
		return err
	}
	if err := ks.Set(&keystore.Entry{Alias: "partner-b", Key: partnerKey, Chain: partnerChain}, nil); err != nil {
		return err
	}
	path := filepath.Join(dir, "client"+ext)
	password := []byte("changeit")
	if err := ks.Save(path, password, nil); err != nil {
		return err
	}

	// Step 1: a new key and a renewal CSR; step 2: the new CA signs it;
	// step 3: the reply is installed under the same alias.
	kt, err := keystore.ParseKeyType(c.keyType)
	if err != nil {
		return err
	}
	newKey, err := keystore.GenerateKey(kt, nil)
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
	err = keystore.Update(context.Background(), path, password, func(s *keystore.Store) error {
		if err := s.WriteListing(&before); err != nil {
			return err
		}
		var err error
		res, err = s.InstallReply(c.alias, reply, &keystore.ReplyOptions{NewKey: newKey, Anchors: []*x509.Certificate{newCA.Cert}})
		if err != nil {
			return err
		}
		return s.WriteListing(&after)
	}, nil)
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
