package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/certroll/certroll/chain"
	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newReplyCmd) }

type replyCmd struct {
	e         *env
	storepass *passwordSource
	anchors   string
	dryRun    bool
}

func newReplyCmd(e *env) *cobra.Command {
	c := &replyCmd{e: e}
	cmd := &cobra.Command{
		Use:   "install-reply KEYSTORE ALIAS REPLY",
		Short: "Install a CA's reply onto a key entry, as keytool -importcert does",
		Long: `install-reply installs the CA's reply REPLY onto the key entry ALIAS of
KEYSTORE, as keytool -importcert -alias ALIAS does. REPLY may be PEM, DER,
PKCS#7 (.p7b) or PkiPath, its certificates in any order; the chain is
completed from --anchors and the keystore's trusted certificate entries,
and must reach one of them.

When certroll csr left a new key for ALIAS in KEYSTORE.staging, the reply
must be for that key: the new key and chain then go under ALIAS in one
atomic write of KEYSTORE, every other entry stays as it was, the old key
and chain are kept in KEYSTORE.history (for a rollback), and the pending
key leaves the staging store. Without a pending key the reply must be for
the entry's own key (a renewal without a new key pair); the file replaced
is kept as KEYSTORE.bak.

A reply that does not chain to a trusted certificate, or that certifies
another key, is refused with the reason (exit 4) and nothing is written.
--dry-run shows what would change and writes nothing.`,
		Example: `  CERTROLL_PW=changeit certroll install-reply client.p12 client reply.pem --storepass-env CERTROLL_PW --anchors new-root.pem
  certroll install-reply client.jks client reply.p7b --storepass-file pw.txt --dry-run`,
		Args: exactArgs(3),
		RunE: func(_ *cobra.Command, args []string) error { return c.run(args[0], args[1], args[2]) },
	}
	c.storepass = addPasswordFlags(cmd, "storepass", "keystore password")
	cmd.Flags().StringVar(&c.anchors, "anchors", "", "certificates the reply may chain to (the CA's root, intermediates), besides the keystore's trusted entries")
	cmd.Flags().BoolVar(&c.dryRun, "dry-run", false, "show what would change and write nothing")
	return cmd
}

// certJSON describes one certificate of a chain.
type certJSON struct {
	Name   string               `json:"name"`
	Issuer string               `json:"issuer"`
	SHA256 keystore.Fingerprint `json:"sha256"`

	// owner and issuer are the names as keytool prints them, for the
	// human output (the JSON keeps its form).
	owner, issuer string
}

func describeChain(certs []*x509.Certificate) []certJSON {
	out := make([]certJSON, 0, len(certs))
	for _, c := range certs {
		out = append(out, certJSON{Name: c.Subject.String(), Issuer: c.Issuer.String(), SHA256: keystore.CertFingerprint(c),
			owner: keytoolName(c.RawSubject, c.Subject.String()), issuer: keytoolName(c.RawIssuer, c.Issuer.String())})
	}
	return out
}

// replyReport is the JSON document of certroll install-reply.
type replyReport struct {
	Keystore     string     `json:"keystore"`
	Alias        string     `json:"alias"`
	Reply        string     `json:"reply"`
	DryRun       bool       `json:"dry_run"`
	PendingKey   bool       `json:"pending_key"`
	Unchanged    bool       `json:"unchanged"`
	Previous     []certJSON `json:"previous"`
	Chain        []certJSON `json:"chain"`
	Anchor       *certJSON  `json:"anchor,omitempty"`
	HistoryAlias string     `json:"history_alias,omitempty"`
	Files        []string   `json:"files"`
}

func (c *replyCmd) run(path, alias, replyPath string) error {
	data, err := os.ReadFile(replyPath)
	if err != nil {
		return fileErr("reply", replyPath, err)
	}
	reply, err := keystore.ParseCertificates(data)
	if err != nil {
		return usageErr(fmt.Errorf("reply %s holds no certificate certroll can read (PEM, DER, PKCS#7 or PkiPath): %w", replyPath, err))
	}
	var anchors []*x509.Certificate
	if c.anchors != "" {
		a, err := os.ReadFile(c.anchors)
		if err != nil {
			return fileErr("anchors file", c.anchors, err)
		}
		if anchors, err = keystore.ParseCertificates(a); err != nil {
			return usageErr(fmt.Errorf("--anchors %s holds no certificate certroll can read: %w", c.anchors, err))
		}
	}
	ks, pw, err := openKeystore(c.e, path, c.storepass, false)
	if err != nil {
		return err
	}
	defer wipe(pw)
	current, err := keyEntryChain(ks, path, alias, "install-reply")
	if err != nil {
		return err
	}
	// The keystore's trusted entries complete and anchor the reply, as
	// keytool's do; the staging store has none of its own.
	for _, a := range ks.Aliases() {
		if k, _ := ks.Kind(a); k == keystore.TrustedEntry {
			if certs, err := ks.Certificates(a); err == nil {
				anchors = append(anchors, certs...)
			}
		}
	}
	t := &renewal.Tenant{Keystore: path, Password: pw, Alias: alias}
	pending, err := t.Pending()
	if err != nil {
		return fmt.Errorf("staging store %s cannot be read: %w", stagingPath(path), err)
	}
	rep := replyReport{Keystore: path, Alias: alias, Reply: replyPath, DryRun: c.dryRun, PendingKey: pending != nil, Previous: describeChain(current), Files: []string{}}

	// Every install is first made in memory on the live store: that is the
	// dry run, and it checks the reply before any file is written.
	var newKey crypto.Signer
	if pending != nil {
		newKey = pending.Key
	}
	res, err := ks.InstallReply(alias, reply, &keystore.ReplyOptions{NewKey: newKey, Anchors: anchors})
	if err != nil {
		return c.refusal(path, alias, replyPath, pending != nil, err)
	}
	rep.Chain, rep.Unchanged = describeChain(res.Chain), res.Unchanged
	if res.Anchor != nil {
		a := describeChain([]*x509.Certificate{res.Anchor})[0]
		rep.Anchor = &a
	}
	if !c.dryRun {
		if pending != nil {
			if _, err := t.Install(reply, anchors...); err != nil {
				return c.refusal(path, alias, replyPath, true, err)
			}
			act, err := t.Activate(current[0], res.Chain[0])
			if err != nil {
				return fmt.Errorf("putting the new key and chain under alias %q of %s: %w (run the same command again to finish)", alias, path, err)
			}
			rep.HistoryAlias, rep.Files = act.HistoryAlias, act.Files
			removeEmptyStaging(stagingPath(path), pw)
			if rep.Files == nil {
				rep.Files = []string{}
			}
		} else if !res.Unchanged {
			err := keystore.Update(context.Background(), path, pw, func(s *keystore.Store) error {
				_, err := s.InstallReply(alias, reply, &keystore.ReplyOptions{Anchors: anchors})
				return err
			}, &keystore.UpdateOptions{SaveOptions: keystore.SaveOptions{Backup: ".bak"}})
			if err != nil {
				return c.refusal(path, alias, replyPath, false, err)
			}
			rep.Files = []string{path, path + ".bak"}
		}
	}
	if c.e.json {
		return c.e.writeJSON(rep)
	}
	return c.writeHuman(&rep)
}

// refusal describes why a reply cannot be installed.
func (c *replyCmd) refusal(path, alias, replyPath string, pending bool, err error) error {
	key := "the entry's own key"
	if pending {
		key = "the new key certroll csr kept in " + stagingPath(path)
	}
	switch {
	case errors.Is(err, keystore.ErrKeyMismatch):
		return refusedErr(fmt.Errorf("reply %s is not for alias %q of %s: it certifies another key than %s (was it signed from the request certroll csr wrote?); nothing was written: %w", replyPath, alias, path, key, err))
	case errors.Is(err, keystore.ErrUntrustedReply), errors.Is(err, chain.ErrMissingIssuer):
		return refusedErr(fmt.Errorf("reply %s does not chain to a trusted certificate: give the CA's root (and intermediates) with --anchors FILE, or import the root as a trusted entry of %s; nothing was written: %w", replyPath, path, err))
	case errors.Is(err, keystore.ErrBrokenChain), errors.Is(err, chain.ErrSeveralLeaves), errors.Is(err, chain.ErrLoop), errors.Is(err, chain.ErrUnplaced), errors.Is(err, chain.ErrNoCertificates):
		return refusedErr(fmt.Errorf("reply %s does not form one certificate chain; nothing was written: %w", replyPath, err))
	case errors.Is(err, keystore.ErrNotKeyEntry):
		return usageErr(fmt.Errorf("alias %q of %s: %w", alias, path, err))
	}
	return fmt.Errorf("installing reply %s onto alias %q of %s: %w", replyPath, alias, path, err)
}

func (c *replyCmd) writeHuman(rep *replyReport) error {
	w := c.e.stdout
	switch {
	case rep.Unchanged:
		fmt.Fprintf(w, "Certificate reply and certificate in keystore are identical: alias %q of %s unchanged\n", rep.Alias, rep.Keystore)
		return nil
	case rep.DryRun:
		fmt.Fprintf(w, "Dry run: certificate reply would be installed in keystore %s (nothing written)\n", rep.Keystore)
	default:
		fmt.Fprintf(w, "Certificate reply was installed in keystore %s\n", rep.Keystore)
	}
	fmt.Fprintf(w, "Alias name: %s\n", rep.Alias)
	if rep.PendingKey {
		fmt.Fprintf(w, "Key: the new key from %s\n", stagingPath(rep.Keystore))
	} else {
		fmt.Fprintln(w, "Key: the entry's own key")
	}
	fmt.Fprintf(w, "Certificate chain length: %d\n", len(rep.Chain))
	for i, cert := range rep.Chain {
		fmt.Fprintf(w, "Certificate[%d]:\nOwner: %s\nIssuer: %s\nSHA256: %s\n", i+1, cert.owner, cert.issuer, cert.SHA256)
	}
	if rep.Anchor != nil {
		fmt.Fprintf(w, "Trust anchor: %s (SHA256: %s)\n", rep.Anchor.owner, rep.Anchor.SHA256)
	}
	if len(rep.Previous) > 0 {
		fmt.Fprintf(w, "Previous certificate: %s (SHA256: %s)\n", rep.Previous[0].owner, rep.Previous[0].SHA256)
	}
	if rep.HistoryAlias != "" {
		fmt.Fprintf(w, "Previous key and chain kept in %s as alias %q\n", rep.Keystore+".history", rep.HistoryAlias)
	}
	for _, f := range rep.Files {
		fmt.Fprintf(w, "Written: %s\n", f)
	}
	return nil
}

// removeEmptyStaging removes the staging store once it holds no pending
// key any more, so that no file is left that looks like one.
func removeEmptyStaging(staging string, pw []byte) {
	s, err := keystore.Open(staging, pw, nil)
	if err != nil || len(s.Aliases()) > 0 {
		return
	}
	if os.Remove(staging) == nil {
		_ = os.Remove(staging + ".lock")
	}
}
