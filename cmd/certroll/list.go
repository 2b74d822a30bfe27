package main

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/certroll/certroll/chain"
	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/truststore"
	"github.com/spf13/cobra"
)

func init() { commands = append(commands, newListCmd) }

type listCmd struct {
	e           *env
	storepass   *passwordSource
	receiver    string
	receiverPW  *passwordSource
	expiring    string
	now         func() time.Time // nil means time.Now; tests fix it
	keystoreArg string
}

func newListCmd(e *env) *cobra.Command {
	c := &listCmd{e: e}
	cmd := &cobra.Command{
		Use:   "list KEYSTORE",
		Short: "List a keystore as keytool -list -v does, and what keytool cannot tell",
		Long: `list prints every entry of a JKS or PKCS#12 keystore as keytool -list -v
does: alias, entry type, owner, issuer, serial number, validity, SHA-256
fingerprint and key. It also tells what keytool cannot:

  - for a PKCS#12 file, the profile it is written with and which Java and
    OpenSSL versions read it;
  - with --receiver, which key entries a receiver trusting TRUSTSTORE
    (JKS, PKCS#12, PEM bundle or directory of certificates) would accept,
    and why it refuses the others;
  - with --expiring, the entries whose certificate expires within the
    window (already expired ones included).

Without --storepass-env or --storepass-file, a store without a password
(a passwordless PKCS#12 truststore) is read as it is, and otherwise the
password is asked for on the terminal.`,
		Example: `  CERTROLL_PW=changeit certroll list client.p12 --storepass-env CERTROLL_PW
  certroll list client.jks --storepass-file pw.txt --receiver receiver-truststore.pem --expiring 30d
  certroll list client.jks --storepass-file pw.txt --json`,
		Args: exactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			c.keystoreArg = args[0]
			return c.run()
		},
	}
	c.storepass = addPasswordFlags(cmd, "storepass", "keystore password")
	cmd.Flags().StringVar(&c.receiver, "receiver", "", "truststore of the receiver (JKS, PKCS#12, PEM bundle or directory): say which key entries it accepts")
	c.receiverPW = addPasswordFlags(cmd, "receiver-storepass", "receiver truststore password")
	cmd.Flags().StringVar(&c.expiring, "expiring", "", "list the entries that expire within this window: 30d, 12h, 90m")
	return cmd
}

// listing is the JSON document of certroll list.
type listing struct {
	Keystore string             `json:"keystore"`
	Format   string             `json:"format"`
	Entries  []keystore.Summary `json:"entries"`
	Profile  *profileReport     `json:"pkcs12_profile,omitempty"`
	Receiver *receiverReport    `json:"receiver,omitempty"`
	Expiring *expiringReport    `json:"expiring,omitempty"`
}

type profileReport struct {
	Name    string          `json:"name"`
	Readers []readerVerdict `json:"readers"`
}

type readerVerdict struct {
	Reader   string `json:"reader"`
	Readable bool   `json:"readable"`
	Why      string `json:"why"`
}

type receiverReport struct {
	Truststore string         `json:"truststore"`
	Accepted   []string       `json:"accepted"`
	Refused    []refusedEntry `json:"refused"`
	Ambiguous  bool           `json:"ambiguous"`
}

type refusedEntry struct {
	Alias    string   `json:"alias"`
	Problems []string `json:"problems"`
}

type expiringReport struct {
	Within  string           `json:"within"`
	Until   time.Time        `json:"until"`
	Entries []expiringEntryJ `json:"entries"`
}

type expiringEntryJ struct {
	Alias    string    `json:"alias"`
	NotAfter time.Time `json:"not_after"`
	Expired  bool      `json:"expired"`
}

// readers are the PKCS#12 readers whose support list reports.
var readers = []keystore.Reader{
	keystore.Java8, keystore.Java11, keystore.Java17, keystore.Java21,
	keystore.OpenSSL111, keystore.OpenSSL30, keystore.OpenSSL34,
}

func (c *listCmd) run() error {
	var window time.Duration
	if c.expiring != "" {
		w, err := parseWindow(c.expiring)
		if err != nil {
			return usageErr(fmt.Errorf("--expiring %q: %w", c.expiring, err))
		}
		window = w
	}
	now := time.Now
	if c.now != nil {
		now = c.now
	}
	ks, pw, err := openKeystore(c.e, c.keystoreArg, c.storepass, true)
	if err != nil {
		return err
	}
	wipe(pw)
	doc := listing{Keystore: c.keystoreArg, Format: ks.Format().String(), Entries: ks.Summaries()}
	if doc.Entries == nil {
		doc.Entries = []keystore.Summary{}
	}
	if p, ok := ks.Profile(); ok {
		pr := &profileReport{Name: p.String()}
		for _, r := range readers {
			yes, why := p.ReadableBy(r)
			pr.Readers = append(pr.Readers, readerVerdict{Reader: r.String(), Readable: yes, Why: why})
		}
		doc.Profile = pr
	}
	if c.receiver != "" {
		roots, err := openReceiver(c.receiver, c.receiverPW)
		if err != nil {
			return err
		}
		rr := &receiverReport{Truststore: c.receiver, Accepted: []string{}, Refused: []refusedEntry{}}
		r := &chain.Receiver{Roots: roots, Time: now()}
		chains := map[string][]*x509.Certificate{}
		for _, s := range doc.Entries {
			if s.Kind != keystore.KeyEntry {
				continue
			}
			certs, err := ks.Certificates(s.Alias)
			if err != nil {
				rr.Refused = append(rr.Refused, refusedEntry{Alias: s.Alias, Problems: []string{err.Error()}})
				continue
			}
			chains[s.Alias] = certs
		}
		if acc := r.Accepted(chains); acc != nil {
			rr.Accepted = acc
		}
		accepted := map[string]bool{}
		for _, a := range rr.Accepted {
			accepted[a] = true
		}
		aliases := make([]string, 0, len(chains))
		for a := range chains {
			aliases = append(aliases, a)
		}
		sort.Strings(aliases)
		for _, a := range aliases {
			if accepted[a] {
				continue
			}
			_, err := r.Verify(chains[a])
			rr.Refused = append(rr.Refused, refusedEntry{Alias: a, Problems: problems(err)})
		}
		rr.Ambiguous = len(rr.Accepted) > 1
		doc.Receiver = rr
	}
	if c.expiring != "" {
		until := now().Add(window)
		er := &expiringReport{Within: c.expiring, Until: until, Entries: []expiringEntryJ{}}
		for _, s := range doc.Entries {
			if !s.NotAfter.IsZero() && s.NotAfter.Before(until) {
				er.Entries = append(er.Entries, expiringEntryJ{Alias: s.Alias, NotAfter: s.NotAfter, Expired: s.NotAfter.Before(now())})
			}
		}
		doc.Expiring = er
	}
	if c.e.json {
		return c.e.writeJSON(doc)
	}
	return c.writeHuman(ks, &doc)
}

func (c *listCmd) writeHuman(ks *keystore.Store, doc *listing) error {
	w := c.e.stdout
	if err := ks.WriteListing(w); err != nil {
		return err
	}
	if p := doc.Profile; p != nil {
		fmt.Fprintf(w, "\nPKCS#12 profile: %s\n", p.Name)
		for _, r := range p.Readers {
			mark := "reads it"
			if !r.Readable {
				mark = "cannot read it"
			}
			fmt.Fprintf(w, "  %-14s %s (%s)\n", r.Reader+":", mark, r.Why)
		}
	}
	if rr := doc.Receiver; rr != nil {
		fmt.Fprintf(w, "\nReceiver trusting %s:\n", rr.Truststore)
		if len(rr.Accepted) == 0 {
			fmt.Fprintln(w, "  accepts no key entry of this keystore")
		}
		for _, a := range rr.Accepted {
			fmt.Fprintf(w, "  accepts alias %q\n", a)
		}
		for _, r := range rr.Refused {
			fmt.Fprintf(w, "  refuses alias %q:\n", r.Alias)
			for _, p := range r.Problems {
				fmt.Fprintf(w, "    - %s\n", p)
			}
		}
		if rr.Ambiguous {
			fmt.Fprintln(w, "  Warning: the receiver accepts several key entries; a client may present any of them (configure the alias it uses)")
		}
	}
	if er := doc.Expiring; er != nil {
		fmt.Fprintf(w, "\nExpiring within %s (before %s):\n", er.Within, er.Until.UTC().Format(time.RFC1123))
		if len(er.Entries) == 0 {
			fmt.Fprintln(w, "  none")
		}
		for _, x := range er.Entries {
			state := "expires"
			if x.Expired {
				state = "expired"
			}
			fmt.Fprintf(w, "  alias %q %s %s\n", x.Alias, state, x.NotAfter.UTC().Format(time.RFC1123))
		}
	}
	return nil
}

// problems lists the reasons of a chain.Receiver verdict, one line each.
func problems(err error) []string {
	if err == nil {
		return nil
	}
	var ve *chain.VerifyError
	if errors.As(err, &ve) {
		out := make([]string, len(ve.Problems))
		for i, p := range ve.Problems {
			out[i] = p.String()
		}
		return out
	}
	return []string{err.Error()}
}

// parseWindow reads a time window: a number of days ("30d") or a Go
// duration ("12h", "90m").
func parseWindow(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 {
			return 0, errors.New("want a number of days such as 30d, or hours such as 12h")
		}
		if n > 100*366 {
			return 0, fmt.Errorf("want a window of at most 100 years, got %d days", n)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	w, err := time.ParseDuration(s)
	if err != nil || w < 0 {
		return 0, errors.New("want a number of days such as 30d, or hours such as 12h")
	}
	return w, nil
}

// openKeystore opens the keystore at path with the password from src.
// With tryEmpty and no password source given, a store that opens
// without a password (a passwordless PKCS#12 file) is read as it is
// before the password is asked for. The caller wipes the password.
func openKeystore(e *env, path string, src *passwordSource, tryEmpty bool) (*keystore.Store, []byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fileErr("keystore", path, err)
	}
	if tryEmpty && src.envName == "" && src.file == "" {
		if ks, err := keystore.Parse(data, nil, nil); err == nil {
			e.readStore(path, len(data), len(ks.Aliases()))
			return ks, nil, nil
		}
	}
	pw, err := src.read()
	if err != nil {
		return nil, nil, err
	}
	e.readingStore(path, len(data))
	ks, err := keystore.Parse(data, pw, nil)
	if err != nil {
		wipe(pw)
		return nil, nil, storeErr(path, err)
	}
	e.readStore(path, len(data), len(ks.Aliases()))
	return ks, pw, nil
}

// fileErr describes a file that cannot be read.
func fileErr(what, path string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return usageErr(fmt.Errorf("%s %s does not exist: check the path", what, path))
	case errors.Is(err, fs.ErrPermission):
		return usageErr(fmt.Errorf("%s %s cannot be read: permission denied (run as a user who may read it)", what, path))
	}
	return usageErr(fmt.Errorf("%s %s cannot be read: %w", what, path, err))
}

// storeErr describes why a keystore file cannot be opened.
func storeErr(path string, err error) error {
	switch {
	case errors.Is(err, keystore.ErrIncorrectPassword):
		return usageErr(fmt.Errorf("%s: the password is wrong, or the file was tampered with: give the right one with --storepass-env or --storepass-file", path))
	case errors.Is(err, keystore.ErrUnsupportedFormat), errors.Is(err, keystore.ErrMalformed), errors.Is(err, keystore.ErrLimit):
		return usageErr(fmt.Errorf("%s is not a keystore certroll can read: %w", path, err))
	}
	return fmt.Errorf("%s: %w", path, err)
}

// openReceiver reads the certificates a receiver trusts: a JKS or
// PKCS#12 truststore (its trusted entries), a PEM bundle or a directory
// of certificates. A keystore is first tried without a password (a
// passwordless truststore), then with the password from src.
func openReceiver(path string, src *passwordSource) ([]*x509.Certificate, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fileErr("truststore", path, err)
	}
	isStore := false
	if !fi.IsDir() {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fileErr("truststore", path, err)
		}
		_, sniffErr := keystore.Sniff(data)
		isStore = sniffErr == nil
	}
	var pw []byte
	if isStore {
		if src.envName == "" && src.file == "" {
			if ts, err := truststore.Open(path, nil); err == nil {
				return trustRoots(path, ts)
			}
		}
		if pw, err = src.read(); err != nil {
			return nil, err
		}
		defer wipe(pw)
	}
	ts, err := truststore.Open(path, pw)
	if err != nil {
		if errors.Is(err, keystore.ErrIncorrectPassword) {
			return nil, usageErr(fmt.Errorf("truststore %s: the password is wrong, or the file was tampered with: give the right one with --receiver-storepass-env or --receiver-storepass-file", path))
		}
		return nil, usageErr(fmt.Errorf("truststore %s cannot be read: %w", path, err))
	}
	return trustRoots(path, ts)
}

func trustRoots(path string, ts *truststore.Set) ([]*x509.Certificate, error) {
	certs := ts.Certificates()
	if len(certs) == 0 {
		return nil, usageErr(fmt.Errorf("truststore %s holds no trusted certificate: a receiver trusting it accepts nothing", path))
	}
	return certs, nil
}
