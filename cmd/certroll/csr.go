package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newCSRCmd) }

type csrCmd struct {
	e              *env
	storepass      *passwordSource
	keyType        string
	out            string
	discardPending bool
}

func newCSRCmd(e *env) *cobra.Command {
	c := &csrCmd{e: e}
	cmd := &cobra.Command{
		Use:   "csr KEYSTORE ALIAS",
		Short: "Make a new key pair for a key entry and its renewal certificate request",
		Long: `csr makes a new key pair for the key entry ALIAS of KEYSTORE and a
certificate request (PKCS#10, PEM) for it with the subject and subject
alternative names of the entry's certificate, as keytool -certreq does for
a renewal. Send the request to the CA; install its reply with
certroll install-reply, which puts the new key and chain under ALIAS.

The new key does not go into KEYSTORE yet: it waits, with a self-signed
placeholder certificate, in the staging store KEYSTORE.staging beside it
(same format and password, mode 0600), so that the application keeps
using the current key until the reply is installed.

A pending key is never replaced silently: while KEYSTORE.staging holds one
for ALIAS, csr refuses (exit 4), because only that key can install the reply
to the request already sent. --discard-pending throws it away first.

The new key has the type of the current one unless --key-type says
otherwise: rsa2048, rsa3072, rsa4096, ec-p256, ec-p384, ec-p521, ed25519.`,
		Example: `  CERTROLL_PW=changeit certroll csr client.p12 client --storepass-env CERTROLL_PW --out client.csr
  certroll csr client.jks client --storepass-file pw.txt --key-type ec-p256 > client.csr
  certroll csr client.jks client --storepass-file pw.txt --discard-pending --out client.csr`,
		Args: exactArgs(2),
		RunE: func(_ *cobra.Command, args []string) error { return c.run(args[0], args[1]) },
	}
	c.storepass = addPasswordFlags(cmd, "storepass", "keystore password")
	cmd.Flags().StringVar(&c.keyType, "key-type", "", "type of the new key: rsa2048, rsa3072, rsa4096, ec-p256, ec-p384, ec-p521, ed25519 (default: the current key's type)")
	cmd.Flags().StringVarP(&c.out, "out", "o", "", "write the request to this file (default: standard output)")
	cmd.Flags().BoolVar(&c.discardPending, "discard-pending", false, "throw away the pending key of an earlier csr first (a reply to its request can then never be installed)")
	return cmd
}

// stagingPath is where a pending key waits: the renewal.Tenant default,
// so that certroll csr, install-reply and renew find the same key.
func stagingPath(keystorePath string) string { return keystorePath + ".staging" }

// csrReport is the JSON document of certroll csr.
type csrReport struct {
	Keystore         string               `json:"keystore"`
	Alias            string               `json:"alias"`
	Subject          string               `json:"subject"`
	KeyType          string               `json:"key_type"`
	KeySHA256        keystore.Fingerprint `json:"key_sha256"`
	Pending          string               `json:"pending"`
	DiscardedPending bool                 `json:"discarded_pending"`
	Out              string               `json:"out,omitempty"`
	CSR              string               `json:"csr"`
}

func (c *csrCmd) run(path, alias string) error {
	var kt keystore.KeyType
	if c.keyType != "" {
		t, err := keystore.ParseKeyType(c.keyType)
		if err != nil {
			return usageErr(fmt.Errorf("--key-type %q is not a key type: want rsa2048, rsa3072, rsa4096, ec-p256, ec-p384, ec-p521 or ed25519", c.keyType))
		}
		kt = t
	}
	ks, pw, err := openKeystore(c.e, path, c.storepass, false)
	if err != nil {
		return err
	}
	defer wipe(pw)
	current, err := keyEntryChain(ks, path, alias, "csr")
	if err != nil {
		return err
	}
	t := &renewal.Tenant{Keystore: path, Password: pw, Alias: alias, KeyType: kt}
	staging := stagingPath(path)
	pending, err := t.Pending()
	if err != nil {
		return usageErr(fmt.Errorf("%s cannot be read as the staging store certroll keeps the pending key in (%v): move it away if you know what it holds (it may hold a pending key); nothing was written", staging, plainErr(err)))
	}
	discarded := false
	if pending != nil {
		if !c.discardPending {
			state := "waiting for the CA's reply"
			if pending.Signed {
				state = "holding a reply not yet put under the alias (run certroll install-reply again to finish)"
			}
			return refusedErr(fmt.Errorf("%s already holds a new key for alias %q, %s: if its request went to the CA, install the reply with certroll install-reply %s %s REPLY; to throw that key away and make a new one, give --discard-pending (a reply to the earlier request can then never be installed)",
				staging, alias, state, path, alias))
		}
	}
	// The request's file is made first, empty, so that a directory that
	// takes no file is found before the pending key is written.
	var tmp *os.File
	if c.out != "" {
		if fi, err := os.Stat(c.out); err == nil && fi.IsDir() {
			return usageErr(fmt.Errorf("--out %s is a directory: give a file name for the request; nothing was written", c.out))
		}
		tmp, err = os.CreateTemp(filepath.Dir(c.out), "."+filepath.Base(c.out)+".tmp-*")
		if err != nil {
			return usageErr(fmt.Errorf("--out %s: cannot write there (%w); nothing was written", c.out, err))
		}
		defer os.Remove(tmp.Name()) // a no-op once renamed
		defer tmp.Close()
	}
	if pending != nil {
		if err := discardPending(staging, pw, alias); err != nil {
			return err
		}
		discarded = true
	}
	p, err := t.Stage(current[0])
	if err != nil {
		return fmt.Errorf("making the new key for alias %q in %s: %w", alias, staging, err)
	}
	if tmp != nil {
		if _, err := tmp.Write(p.CSRPEM); err != nil {
			return err
		}
		if err := tmp.Chmod(0o644); err != nil {
			return err
		}
		if err := tmp.Close(); err != nil {
			return err
		}
		if err := os.Rename(tmp.Name(), c.out); err != nil {
			return err
		}
	}
	rep := csrReport{
		Keystore: path, Alias: alias, Subject: ownerOf(ks, alias),
		KeyType: keystore.KeyTypeOf(p.Key.Public()).String(), KeySHA256: keystore.KeyFingerprint(p.Key.Public()),
		Pending: staging, DiscardedPending: discarded, Out: c.out, CSR: string(p.CSRPEM),
	}
	if c.e.json {
		return c.e.writeJSON(rep)
	}
	if discarded {
		c.e.progress("The earlier pending key for alias %q was discarded.", alias)
	}
	if c.out == "" {
		fmt.Fprint(c.e.stdout, string(p.CSRPEM))
	}
	c.e.progress("New %s key for alias %q (key SHA256: %s) kept in %s.", rep.KeyType, alias, rep.KeySHA256, staging)
	if c.out != "" {
		c.e.progress("Certificate request for Owner: %s written to %s.", rep.Subject, c.out)
	}
	c.e.progress("Send the request to the CA, then run: certroll install-reply %s %s REPLY", path, alias)
	return nil
}

// keyEntryChain returns the chain of the key entry alias, or an error
// for the user if alias is missing or not a key entry.
func keyEntryChain(ks *keystore.Store, path, alias, command string) ([]*x509.Certificate, error) {
	kind, err := ks.Kind(alias)
	if errors.Is(err, keystore.ErrAliasNotFound) {
		return nil, usageErr(fmt.Errorf("%s has no alias %q: its aliases are %s (see certroll list %s)", path, alias, quoteList(ks.Aliases()), path))
	} else if err != nil {
		return nil, fmt.Errorf("%s, alias %q: %w", path, alias, err)
	}
	switch kind {
	case keystore.KeyEntry:
	case keystore.TrustedEntry:
		return nil, usageErr(fmt.Errorf("alias %q of %s is a trusted certificate entry (trustedCertEntry): %s renews the certificate of a key entry (PrivateKeyEntry), which holds a private key; give the alias of a key entry (see certroll list %s)", alias, path, command, path))
	default:
		return nil, usageErr(fmt.Errorf("alias %q of %s is a %v, which holds no certificate: %s renews the certificate of a key entry (PrivateKeyEntry)", alias, path, kind, command))
	}
	certs, err := ks.Certificates(alias)
	if err != nil {
		return nil, fmt.Errorf("%s, alias %q: %w", path, alias, err)
	}
	if len(certs) == 0 {
		return nil, usageErr(fmt.Errorf("alias %q of %s has no certificate to renew", alias, path))
	}
	return certs, nil
}

func quoteList(ss []string) string {
	if len(ss) == 0 {
		return "none"
	}
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// discardPending removes the pending entry of alias from the staging
// store, and the store itself once it holds nothing else.
func discardPending(staging string, pw []byte, alias string) error {
	empty := false
	err := keystore.Update(context.Background(), staging, pw, func(s *keystore.Store) error {
		if err := s.Delete(alias); err != nil {
			return err
		}
		empty = len(s.Aliases()) == 0
		return nil
	}, nil)
	if err != nil {
		return fmt.Errorf("discarding the pending key for alias %q in %s: %w", alias, staging, err)
	}
	if empty {
		if err := os.Remove(staging); err != nil {
			return err
		}
		_ = os.Remove(staging + ".lock")
	}
	return nil
}

// ownerOf returns the subject of alias's certificate as keytool prints it.
func ownerOf(ks *keystore.Store, alias string) string {
	for _, s := range ks.Summaries() {
		if strings.EqualFold(s.Alias, alias) {
			return s.Subject
		}
	}
	return ""
}
