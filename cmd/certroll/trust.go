package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/truststore"
)

func init() { commands = append(commands, newTrustCmd) }

// newTrustCmd is "certroll trust": the receiver's side of a CA change on
// a truststore (JKS, PKCS#12, PEM bundle or directory of certificates).
func newTrustCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "trust",
		Short: "Add, remove, prune and compare the trusted certificates of a truststore",
		Long: `The trust commands change the trusted certificates of a truststore: a JKS or
PKCS#12 keystore (its trustedCertEntry entries; key entries are kept as they
are), a PEM bundle, or a directory of PEM or DER certificate files. The
truststore is written back in its own kind, once, and only when every input
was read and every check passed; --dry-run writes nothing.

A truststore decides whom a program trusts, so the commands are careful by
default: "trust add" adds CA certificates only (a CA's reply carries the leaf
it signed, which must not become a trust anchor), and "trust remove" and
"trust prune" need to be told what uses the truststore (--in-use KEYSTORE...
or --nothing-in-use) and refuse, with exit code 4, to remove a certificate
that a chain in use still depends on.

The password of a JKS or PKCS#12 truststore comes from --storepass-env,
--storepass-file or a prompt on the terminal; a PEM bundle or a directory
needs none.`,
		Example: `  certroll trust add truststore.jks new-root.pem --storepass-env STOREPASS
  certroll trust prune truststore.jks --fingerprint AB:CD:... --in-use client.p12 --storepass-env STOREPASS
  certroll trust diff truststore.jks other.p12 --storepass-env STOREPASS`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return &flagError{fmt.Errorf("unknown command %q for %s: use add, remove, prune or diff (see %s --help)", args[0], cmd.CommandPath(), cmd.CommandPath())}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newTrustAdd(e), newTrustRemove(e), newTrustPrune(e), newTrustDiff(e))
	return cmd
}

// trustMinArgs is cobra.MinimumNArgs whose error is a usage error.
func trustMinArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.MinimumNArgs(n)(cmd, args); err != nil {
			return &flagError{fmt.Errorf("%s: %w (see %s --help)", cmd.Name(), err, cmd.CommandPath())}
		}
		return nil
	}
}

// trustOutcome says what became of the truststore: it is the "result" field
// of the JSON output.
type trustOutcome string

const (
	trustWritten   trustOutcome = "written"
	trustUnchanged trustOutcome = "unchanged"
	trustDryRun    trustOutcome = "dry run"
	trustRefused   trustOutcome = "refused"
)

// --- trust add ---

func newTrustAdd(e *env) *cobra.Command {
	var (
		includeNonCA, dry bool
		alias             string
	)
	cmd := &cobra.Command{
		Use:   "add TRUSTSTORE BUNDLE...",
		Short: "Add the CA certificates of certificate files to a truststore",
		Long: `Add adds the certificates of each BUNDLE (PEM, DER, PKCS#7 .p7b or PkiPath, as
a CA hands them out) to TRUSTSTORE, as "keytool -importcert -trustcacerts"
does, but CA certificates only: a certificate that is not a CA (a leaf, such
as the client certificate in a CA's reply) is left out and reported, unless
--include-non-ca is given (to pin a client certificate, for instance).

A certificate the truststore holds already, under any alias, is skipped as a
duplicate. A new certificate gets the alias given with --alias (one
certificate only) or one derived from it: the first eight hexadecimal digits
of its SHA-256 fingerprint and its common name, such as
"1a2b3c4d-new-root-ca". A taken alias gets "-2", "-3", ... appended.

A TRUSTSTORE that does not exist is created, its kind taken from its name:
.jks (JKS), .p12 or .pfx (PKCS#12), .pem, .crt or .cer (PEM bundle).`,
		Example: `  # Trust a new root and its issuing CA (a CA's bundle; its leaf is left out):
  STOREPASS=changeit certroll trust add truststore.jks new-ca.pem --storepass-env STOREPASS

  # See what would change, as JSON, without writing:
  certroll trust add ca-bundle.pem new-root.der --dry-run --json`,
		Args: trustMinArgs(2),
	}
	pw := addPasswordFlags(cmd, "storepass", "truststore password")
	cmd.Flags().BoolVar(&includeNonCA, "include-non-ca", false, "also add certificates that are not CA certificates (such as a client certificate to pin)")
	cmd.Flags().StringVar(&alias, "alias", "", "alias for the certificate (only when the bundles hold exactly one)")
	cmd.Flags().BoolVar(&dry, "dry-run", false, "show what would change, write nothing")
	cmd.RunE = func(_ *cobra.Command, args []string) error {
		path, bundles := args[0], args[1:]
		var entries []truststore.Entry
		for _, b := range bundles {
			data, err := os.ReadFile(b)
			if err != nil {
				return trustFileErr(b, err)
			}
			certs, err := keystore.ParseCertificates(data)
			if err != nil {
				return usageErr(fmt.Errorf("%s: %s: give a PEM, DER, PKCS#7 or PkiPath certificate file", b, plainErr(err)))
			}
			entries = append(entries, truststore.Certs(certs...)...)
		}
		if alias != "" {
			if len(entries) != 1 {
				return usageErr(fmt.Errorf("--alias %q names one certificate, but %s hold %d: leave --alias out to derive each alias from its certificate",
					alias, strings.Join(bundles, ", "), len(entries)))
			}
			entries[0].Alias = alias
		}
		t, err := openTruststore(e, path, pw, true)
		if err != nil {
			return err
		}
		defer wipe(t.password)
		rep, err := t.set.Merge(entries, &truststore.MergeOptions{IncludeNonCA: includeNonCA})
		if err != nil {
			return trustStoreErr(path, err)
		}
		res := trustUnchanged
		if len(rep.Added) > 0 {
			res = trustDryRun
			if !dry {
				if err := t.save(); err != nil {
					return err
				}
				res = trustWritten
			}
		}
		return e.printTrustReport(path, t, rep, res)
	}
	return cmd
}

// --- trust remove and trust prune ---

// trustUsageFlags are the flags by which remove and prune learn what uses the
// truststore.
type trustUsageFlags struct {
	inUse        []string
	nothingInUse bool
	force        bool
	pw           *passwordSource // for the --in-use keystores
}

func addTrustUsageFlags(cmd *cobra.Command) *trustUsageFlags {
	u := &trustUsageFlags{}
	cmd.Flags().StringArrayVar(&u.inUse, "in-use", nil, "keystore (JKS, PKCS#12) or certificate chain file (PEM, DER) whose chains must keep working: every key entry's chain, or the file's chain (repeatable)")
	cmd.Flags().BoolVar(&u.nothingInUse, "nothing-in-use", false, "declare that no keystore or chain depends on the truststore: remove without a usage check")
	cmd.Flags().BoolVar(&u.force, "force", false, "remove even certificates that chains in use depend on (the report names each dependent)")
	u.pw = addPasswordFlags(cmd, "in-use-storepass", "password of the --in-use keystores")
	return u
}

// check refuses a removal whose caller did not say what uses the
// truststore, before any file is read.
func (u *trustUsageFlags) check(path string) error {
	switch {
	case len(u.inUse) > 0 && u.nothingInUse:
		return usageErr(errors.New("--in-use and --nothing-in-use contradict each other: give the keystores in use, or declare that nothing is"))
	case len(u.inUse) == 0 && !u.nothingInUse && !u.force:
		return usageErr(fmt.Errorf("say what uses %s before anything is removed from it: "+
			"--in-use KEYSTORE (repeatable) for each keystore or certificate chain that must keep working, "+
			"or --nothing-in-use if nothing does (--force removes even what is in use)", path))
	}
	return nil
}

// options reads the --in-use files. trust is the truststore's password
// source, used for the keystores when --in-use-storepass-* is not given.
func (u *trustUsageFlags) options(trust *passwordSource) (*truststore.PruneOptions, error) {
	opts := &truststore.PruneOptions{NothingInUse: u.nothingInUse, Force: u.force}
	src := u.pw
	if src.envName == "" && src.file == "" {
		src = &passwordSource{what: "password of the --in-use keystores", envName: trust.envName, file: trust.file}
	}
	var password []byte
	defer func() { wipe(password) }()
	for _, p := range u.inUse {
		var pw []byte
		need, err := trustNeedsPassword(p)
		if err != nil {
			return nil, err
		}
		if need {
			if password == nil {
				if password, err = src.read(); err != nil {
					return nil, err
				}
			}
			pw = password
		}
		d, err := truststore.OpenDependents(p, pw)
		if errors.Is(err, keystore.ErrIncorrectPassword) {
			return nil, usageErr(fmt.Errorf("--in-use %s: the keystore was tampered with, or the password is incorrect: "+
				"give its password with --in-use-storepass-env or --in-use-storepass-file (without them, the truststore's password is tried)", p))
		}
		if err != nil {
			return nil, trustStoreErr(p, err)
		}
		if len(d) == 0 {
			return nil, usageErr(fmt.Errorf("--in-use %s holds no key entry and no certificate chain, so it declares nothing in use: "+
				"give the keystores whose key entries chain to the truststore, or --nothing-in-use if nothing does", p))
		}
		opts.InUse = append(opts.InUse, d...)
	}
	return opts, nil
}

func newTrustRemove(e *env) *cobra.Command {
	var (
		aliases, fingerprints []string
		subject               string
		dry                   bool
	)
	cmd := &cobra.Command{
		Use:   "remove TRUSTSTORE (--alias A... | --fingerprint FP... | --subject DN) (--in-use KEYSTORE... | --nothing-in-use | --force)",
		Short: "Remove certificates from a truststore, unless chains in use still need them",
		Long: `Remove removes the certificates named by alias, SHA-256 fingerprint (as keytool
or openssl prints it, colons optional) or subject ("CN=Old Root CA,O=Example")
from TRUSTSTORE, as "keytool -delete" does, after checking that nothing in use
depends on them.

Say what uses the truststore: --in-use KEYSTORE for each keystore whose key
entries present chains the truststore must keep accepting (or a PEM or DER file
holding such a chain, leaf first), or --nothing-in-use. A certificate that is
the only anchor of a chain in use is refused, with exit code 4, naming each
dependent chain, and nothing is written; --force removes it anyway and names
the dependents it breaks. The --in-use keystores are opened with the
truststore's password unless --in-use-storepass-env or --in-use-storepass-file
gives theirs.`,
		Example: `  certroll trust remove truststore.jks --alias old-root --in-use client.p12 --storepass-env STOREPASS
  certroll trust remove ca-dir --subject "CN=Old Root CA,O=Example" --nothing-in-use`,
		Args: exactArgs(1),
	}
	pw := addPasswordFlags(cmd, "storepass", "truststore password")
	cmd.Flags().StringArrayVar(&aliases, "alias", nil, "alias of a certificate to remove (repeatable)")
	cmd.Flags().StringArrayVar(&fingerprints, "fingerprint", nil, "SHA-256 fingerprint of a certificate to remove (repeatable)")
	cmd.Flags().StringVar(&subject, "subject", "", "subject of the certificates to remove, as in \"CN=Old Root CA,O=Example\"")
	cmd.Flags().BoolVar(&dry, "dry-run", false, "show what would change, write nothing")
	u := addTrustUsageFlags(cmd)
	cmd.RunE = func(_ *cobra.Command, args []string) error {
		path := args[0]
		given := 0
		for _, set := range []bool{len(aliases) > 0, len(fingerprints) > 0, subject != ""} {
			if set {
				given++
			}
		}
		if given != 1 {
			return usageErr(errors.New("say what to remove with one of --alias, --fingerprint or --subject"))
		}
		var sel truststore.Selector
		switch {
		case len(aliases) > 0:
			sel = truststore.ByAlias(aliases...)
		case len(fingerprints) > 0:
			fps, err := trustFingerprints(fingerprints)
			if err != nil {
				return err
			}
			sel = truststore.ByFingerprint(fps...)
		default:
			sel = truststore.BySubject(subject)
		}
		return e.prune(path, pw, u, sel, dry)
	}
	return cmd
}

func newTrustPrune(e *env) *cobra.Command {
	var (
		expired      bool
		at           string
		fingerprints []string
		dry          bool
	)
	cmd := &cobra.Command{
		Use:   "prune TRUSTSTORE (--expired [--at TIME] | --fingerprint FP...) (--in-use KEYSTORE... | --nothing-in-use | --force)",
		Short: "Remove expired (or named) certificates from a truststore, unless chains in use still need them",
		Long: `Prune removes from TRUSTSTORE the certificates that have expired (now, or at
the time given with --at), or the ones whose SHA-256 fingerprints are given,
after the same usage check as "trust remove": give --in-use KEYSTORE for each
keystore or chain file that must keep working, or --nothing-in-use. A
certificate that is the only anchor of a chain in use is refused, with exit
code 4, naming each dependent, and nothing is written; --force removes it
anyway and names the dependents. The --in-use keystores are opened with the
truststore's password unless --in-use-storepass-env or --in-use-storepass-file
gives theirs.`,
		Example: `  certroll trust prune truststore.p12 --expired --in-use client.jks --storepass-env STOREPASS
  certroll trust prune ca-bundle.pem --expired --at 2027-01-01 --nothing-in-use --dry-run
  certroll trust prune truststore.jks --fingerprint 1A:2B:... --force --in-use client.p12 --storepass-file pw.txt`,
		Args: exactArgs(1),
	}
	pw := addPasswordFlags(cmd, "storepass", "truststore password")
	cmd.Flags().BoolVar(&expired, "expired", false, "remove the certificates that have expired")
	cmd.Flags().StringVar(&at, "at", "", "with --expired: the time to judge expiry at, as 2027-01-01 or 2027-01-01T00:00:00Z (default: now)")
	cmd.Flags().StringArrayVar(&fingerprints, "fingerprint", nil, "SHA-256 fingerprint of a certificate to remove (repeatable)")
	cmd.Flags().BoolVar(&dry, "dry-run", false, "show what would change, write nothing")
	u := addTrustUsageFlags(cmd)
	cmd.RunE = func(_ *cobra.Command, args []string) error {
		path := args[0]
		if expired == (len(fingerprints) > 0) {
			return usageErr(errors.New("say what to prune with --expired or --fingerprint (one of them)"))
		}
		if at != "" && !expired {
			return usageErr(errors.New("--at applies to --expired: give --expired too, or leave --at out"))
		}
		var sel truststore.Selector
		if expired {
			t := time.Now()
			if at != "" {
				var err error
				if t, err = parseAtTime(at); err != nil {
					return err
				}
			}
			sel = truststore.Where("expired at "+t.UTC().Format(time.RFC3339), func(e truststore.Entry) bool {
				return e.Cert.NotAfter.Before(t)
			})
		} else {
			fps, err := trustFingerprints(fingerprints)
			if err != nil {
				return err
			}
			sel = truststore.ByFingerprint(fps...)
		}
		return e.prune(path, pw, u, sel, dry)
	}
	return cmd
}

// parseAtTime reads --at: a date (midnight UTC) or an RFC 3339 time.
func parseAtTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, usageErr(fmt.Errorf("--at %q: give a date as 2027-01-01 or a time as 2027-01-01T00:00:00Z", s))
	}
	return t, nil
}

// trustFingerprints reads --fingerprint values in every form people paste
// (keytool's, openssl's, plain hexadecimal).
func trustFingerprints(list []string) ([]keystore.Fingerprint, error) {
	fps := make([]keystore.Fingerprint, len(list))
	for i, s := range list {
		fp, err := keystore.ParseFingerprint(s)
		if err != nil {
			var fe *keystore.FingerprintError
			if errors.As(err, &fe) {
				return nil, usageErr(fmt.Errorf("--fingerprint %q: %s: give the SHA-256 fingerprint as keytool -list or openssl x509 -fingerprint -sha256 prints it", s, fe.Reason))
			}
			return nil, usageErr(fmt.Errorf("--fingerprint %q: %s", s, plainErr(err)))
		}
		fps[i] = fp
	}
	return fps, nil
}

// prune runs a removal: the usage check, the in-use files, the truststore,
// then the prune, and writes the truststore only if nothing was refused.
func (e *env) prune(path string, pw *passwordSource, u *trustUsageFlags, sel truststore.Selector, dry bool) error {
	if err := u.check(path); err != nil {
		return err
	}
	opts, err := u.options(pw)
	if err != nil {
		return err
	}
	t, err := openTruststore(e, path, pw, false)
	if err != nil {
		return err
	}
	defer wipe(t.password)
	rep, err := t.set.Prune(sel, opts)
	switch {
	case errors.Is(err, truststore.ErrInUse):
		if perr := e.printTrustReport(path, t, rep, trustRefused); perr != nil {
			return perr
		}
		return refusedErr(trustRefusal(path, rep))
	case err != nil:
		return trustStoreErr(path, err)
	}
	res := trustUnchanged
	if len(rep.Removed) > 0 {
		res = trustDryRun
		if !dry {
			if err := t.save(); err != nil {
				return err
			}
			res = trustWritten
		}
	}
	return e.printTrustReport(path, t, rep, res)
}

// trustRefusal is the error of a removal refused because chains in use depend on
// the certificates: it names each certificate and each dependent.
func trustRefusal(path string, rep *truststore.Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s not changed: ", path)
	for i, c := range rep.Refused {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "alias %q (%s) still anchors %s", c.Alias, c.Subject(), strings.Join(c.Dependents, " and "))
	}
	b.WriteString(": move the chains in use to a certificate from another CA first (then give --in-use again), or give --force to remove anyway")
	return errors.New(b.String())
}

// --- trust diff ---

func newTrustDiff(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "diff A B",
		Short: "Compare the trusted certificates of two truststores",
		Long: `Diff compares two truststores of any kinds (JKS, PKCS#12, PEM bundle, directory)
by certificate, the SHA-256 of its encoding, not by alias: it lists the
certificates only A holds, the ones only B holds, and the ones both hold under
different aliases. The exit code is 0 whether they differ or not.

Both truststores are opened with the password of --storepass-env or
--storepass-file, unless B's is given with --b-storepass-env or
--b-storepass-file.`,
		Example: `  certroll trust diff truststore.jks /etc/ssl/certs/ca-certificates.crt --storepass-env STOREPASS
  certroll trust diff old.p12 new.p12 --storepass-file a.txt --b-storepass-file b.txt --json`,
		Args: exactArgs(2),
	}
	pwA := addPasswordFlags(cmd, "storepass", "truststore password")
	pwB := addPasswordFlags(cmd, "b-storepass", "password of truststore B")
	cmd.RunE = func(_ *cobra.Command, args []string) error {
		a, err := openTruststore(e, args[0], pwA, false)
		if err != nil {
			return err
		}
		defer wipe(a.password)
		src := pwB
		if src.envName == "" && src.file == "" {
			src = &passwordSource{what: "password of " + args[1], envName: pwA.envName, file: pwA.file}
		}
		b, err := openTruststore(e, args[1], src, false)
		if err != nil {
			return err
		}
		defer wipe(b.password)
		d := truststore.Diff(a.set, b.set)
		if e.json {
			return e.writeTrustJSON(d, map[string]any{"a": args[0], "b": args[1]})
		}
		printTrustDiff(e.stdout, args[0], args[1], d)
		return nil
	}
	return cmd
}

func printTrustDiff(w io.Writer, a, b string, d *truststore.DiffReport) {
	if len(d.OnlyInA)+len(d.OnlyInB)+len(d.AliasChanged) == 0 {
		fmt.Fprintf(w, "%s and %s hold the same %d certificates under the same aliases\n", a, b, d.Common)
		return
	}
	for _, l := range []struct {
		where string
		list  []truststore.CertInfo
	}{{a, d.OnlyInA}, {b, d.OnlyInB}} {
		if len(l.list) == 0 {
			continue
		}
		fmt.Fprintf(w, "Only in %s (%d):\n", l.where, len(l.list))
		for _, c := range l.list {
			fmt.Fprintf(w, "  Alias name: %s\n", c.Alias)
			printTrustCert(w, "    ", c)
		}
	}
	if len(d.AliasChanged) > 0 {
		fmt.Fprintf(w, "Under another alias (%d):\n", len(d.AliasChanged))
		for _, c := range d.AliasChanged {
			fmt.Fprintf(w, "  Alias name: %s in %s, %s in %s\n", c.AliasA, a, c.AliasB, b)
			fmt.Fprintf(w, "    Owner: %s\n    SHA256: %s\n", c.Subject, c.SHA256)
		}
	}
	fmt.Fprintf(w, "Summary: %d only in %s, %d only in %s, %d in both (%d under another alias)\n",
		len(d.OnlyInA), a, len(d.OnlyInB), b, d.Common, len(d.AliasChanged))
}

// --- opening and saving ---

// openedTrust is a truststore read from path, with the password it was
// opened with (nil for a PEM bundle or a directory), for saving it back.
type openedTrust struct {
	path     string
	password []byte
	set      *truststore.Set
	created  bool // the file did not exist; saving creates it
}

func (t *openedTrust) save() error {
	if err := t.set.Save(t.path, t.password); err != nil {
		return trustStoreErr(t.path, err)
	}
	return nil
}

// openTruststore reads the truststore at path, asking for its password
// only if it is a keystore. With create, a missing file is a new, empty
// truststore of the kind its name says.
func openTruststore(e *env, path string, pw *passwordSource, create bool) (*openedTrust, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		// Said before anything else: otherwise the lock file beside it is
		// what cannot be made, which says nothing useful.
		if dir := filepath.Dir(path); !isDir(dir) {
			return nil, usageErr(fmt.Errorf("the folder %s of the truststore %s does not exist: check the path, or create the folder (mkdir -p %s) first", dir, path, dir))
		}
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) && create {
		kind, ok := trustKindByName(path)
		if !ok {
			return nil, usageErr(fmt.Errorf("%s does not exist, and its name does not say which kind of truststore to create: "+
				"name it .jks, .p12 (or .pfx), or .pem (or .crt, .cer)", path))
		}
		t := &openedTrust{path: path, set: truststore.New(kind), created: true}
		if kind == truststore.JKS || kind == truststore.PKCS12 {
			p, err := pw.read()
			if err != nil {
				return nil, err
			}
			t.password = p
		}
		return t, nil
	}
	need, err := trustNeedsPassword(path)
	if err != nil {
		return nil, err
	}
	t := &openedTrust{path: path}
	if need {
		if t.password, err = pw.read(); err != nil {
			return nil, err
		}
	}
	size := 0
	if fi, err := os.Stat(path); err == nil && !fi.IsDir() {
		size = int(fi.Size())
	}
	e.readingStore(path, size)
	if t.set, err = truststore.Open(path, t.password); err != nil {
		wipe(t.password)
		return nil, trustStoreErr(path, err)
	}
	e.readStore(path, size, len(t.set.Certificates()))
	return t, nil
}

// isDir says whether path is an existing folder.
func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

// trustKindByName is the kind of truststore a new file's name asks for.
func trustKindByName(path string) (truststore.Kind, bool) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".jks", ".keystore", ".truststore":
		return truststore.JKS, true
	case ".p12", ".pfx":
		return truststore.PKCS12, true
	case ".pem", ".crt", ".cer":
		return truststore.PEMBundle, true
	}
	return 0, false
}

// trustNeedsPassword reports whether path is a JKS or PKCS#12 keystore, whose
// password must be read; a directory, a PEM bundle or a certificate file
// needs none. A DER certificate begins like a PKCS#12 file, so a file that
// reads as certificates needs none either.
func trustNeedsPassword(path string) (bool, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return false, trustFileErr(path, err)
	}
	if fi.IsDir() {
		return false, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return false, trustFileErr(path, err)
	}
	if _, err := keystore.Sniff(data); err != nil {
		return false, nil
	}
	if _, err := keystore.ParseCertificates(data); err == nil {
		return false, nil
	}
	return true, nil
}

// trustFileErr is the error for a file that cannot be read.
func trustFileErr(path string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return usageErr(fmt.Errorf("%s does not exist", path))
	case errors.Is(err, fs.ErrPermission):
		return usageErr(fmt.Errorf("%s cannot be read: permission denied", path))
	}
	if fi, serr := os.Stat(path); serr == nil && fi.IsDir() {
		return usageErr(fmt.Errorf("%s is a directory: give a certificate file (PEM, DER or PKCS#7)", path))
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %s %v", path, pe.Op, pe.Err)
	}
	return fmt.Errorf("%s: %v", path, err)
}

// trustStoreErr maps an error of the truststore or keystore package about path
// to its exit code, in words for people.
func trustStoreErr(path string, err error) error {
	msg := fmt.Errorf("%s: %s", path, plainErr(err))
	switch {
	case errors.Is(err, keystore.ErrIncorrectPassword):
		return usageErr(fmt.Errorf("%s: the keystore was tampered with, or the password is incorrect: check the password given with --storepass-env, --storepass-file or at the prompt", path))
	case errors.Is(err, truststore.ErrNotFound):
		return usageErr(fmt.Errorf("%w: see the aliases and fingerprints with keytool -list -v, or certroll list", msg))
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, fs.ErrPermission),
		errors.Is(err, keystore.ErrMalformed), errors.Is(err, keystore.ErrUnsupportedFormat),
		errors.Is(err, keystore.ErrLimit), errors.Is(err, keystore.ErrPasswordEncoding),
		errors.Is(err, truststore.ErrInvalidAlias), errors.Is(err, truststore.ErrUsageUndeclared):
		return usageErr(msg)
	}
	return msg
}

// --- output ---

// printTrustReport prints what a merge or prune did (or would do), in
// keytool's words, or as JSON: the truststore.Report with the truststore's
// path, kind and the result.
func (e *env) printTrustReport(path string, t *openedTrust, rep *truststore.Report, res trustOutcome) error {
	if e.json {
		return e.writeTrustJSON(rep, map[string]any{"truststore": path, "result": string(res), "certificates": len(t.set.Certificates())})
	}
	w := e.stdout
	done := res == trustWritten || res == trustUnchanged
	verb := func(did, would string) string {
		if done {
			return did
		}
		return would
	}
	if t.created && res != trustRefused {
		fmt.Fprintf(w, "%s: new %v truststore\n", path, t.set.Kind())
	}
	for _, c := range rep.Added {
		fmt.Fprintf(w, "%s: alias %q\n", verb("Certificate was added to keystore", "Certificate would be added to keystore"), c.Alias)
		printTrustCert(w, "  ", c.CertInfo)
		if c.RequestedAlias != "" {
			fmt.Fprintf(w, "  Alias %q was taken: stored as %q\n", c.RequestedAlias, c.Alias)
		}
		if len(c.ReissueOf) > 0 {
			fmt.Fprintf(w, "  Re-issue of alias %s (same subject and key)\n", trustQuoteList(c.ReissueOf))
		}
	}
	for _, c := range rep.Skipped {
		fmt.Fprintf(w, "Certificate already exists in keystore under alias %q: skipped as duplicate\n", c.Alias)
		printTrustCert(w, "  ", c.CertInfo)
	}
	for _, c := range rep.LeftOut {
		fmt.Fprintf(w, "Not a CA certificate, left out: %s\n", c.Subject())
		printTrustCert(w, "  ", c.CertInfo)
		fmt.Fprintf(w, "  %s; give --include-non-ca to trust it anyway\n", c.Reason)
	}
	for _, c := range rep.Removed {
		fmt.Fprintf(w, "%s: alias %q\n", verb("Certificate was removed from keystore", "Certificate would be removed from keystore"), c.Alias)
		printTrustCert(w, "  ", c.CertInfo)
		for _, d := range c.Dependents {
			fmt.Fprintf(w, "  Removed although in use (--force), breaking: %s\n", d)
		}
	}
	for _, c := range rep.Refused {
		fmt.Fprintf(w, "Refused to remove alias %q: chains in use depend on it\n", c.Alias)
		printTrustCert(w, "  ", c.CertInfo)
		for _, d := range c.Dependents {
			fmt.Fprintf(w, "  In use by: %s\n", d)
		}
	}
	var sum []string
	switch rep.Operation {
	case "merge":
		sum = append(sum, fmt.Sprintf("%d added", len(rep.Added)), fmt.Sprintf("%d skipped as duplicate", len(rep.Skipped)),
			fmt.Sprintf("%d left out as not a CA", len(rep.LeftOut)))
	default:
		sum = append(sum, fmt.Sprintf("%d removed", len(rep.Removed)), fmt.Sprintf("%d refused", len(rep.Refused)))
		if len(rep.Removed)+len(rep.Refused) == 0 {
			sum = append(sum, "nothing selected")
		}
	}
	fmt.Fprintf(w, "Summary: %s\n", strings.Join(sum, ", "))
	n := len(t.set.Certificates())
	switch res {
	case trustWritten:
		fmt.Fprintf(w, "%s written (%v, %d trusted %s)\n", path, t.set.Kind(), n, trustPlural(n, "certificate", "certificates"))
	case trustUnchanged:
		fmt.Fprintf(w, "%s unchanged (%v, %d trusted %s)\n", path, t.set.Kind(), n, trustPlural(n, "certificate", "certificates"))
	case trustDryRun:
		fmt.Fprintf(w, "Dry run: %s not written\n", path)
	case trustRefused:
		fmt.Fprintf(w, "%s not changed: nothing was removed\n", path)
	}
	return nil
}

// printTrustCert prints a certificate's description as keytool -list -v does.
func printTrustCert(w io.Writer, indent string, c truststore.CertInfo) {
	fmt.Fprintf(w, "%sOwner: %s\n", indent, c.Subject())
	fmt.Fprintf(w, "%sIssuer: %s\n", indent, c.Issuer())
	fmt.Fprintf(w, "%sValid from: %s until: %s\n", indent, c.NotBefore.UTC().Format(time.DateTime+" MST"), c.NotAfter.UTC().Format(time.DateTime+" MST"))
	fmt.Fprintf(w, "%sSHA256: %s\n", indent, c.SHA256)
}

func trustQuoteList(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

func trustPlural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// writeTrustJSON writes v's JSON object with the fields of extra added, so
// that the output is the library's report (its schema documented there)
// plus where it comes from.
func (e *env) writeTrustJSON(v any, extra map[string]any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return err
	}
	for k, x := range extra {
		raw, err := json.Marshal(x)
		if err != nil {
			return err
		}
		m[k] = raw
	}
	return e.writeJSON(m)
}
