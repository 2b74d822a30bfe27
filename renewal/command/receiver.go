package command

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"net/url"
	"time"

	"github.com/certroll/certroll/renewal"
	"github.com/certroll/certroll/renewal/internal/trustfiles"
	"github.com/certroll/certroll/truststore"
)

// ListFormat is the format of an accepted-certificates list.
type ListFormat = trustfiles.ListFormat

// The formats of an accepted-certificates list (see the package
// documentation).
const (
	NginxMap   = trustfiles.NginxMap
	HAProxyACL = trustfiles.HAProxyACL
	SHA256List = trustfiles.SHA256List
)

// CommandError reports a check or reload command that failed: its
// argument vector, exit status and (bounded) output.
type CommandError = trustfiles.CommandError

// RolledBackError reports that the check or the reload failed and that
// every edited file was restored.
type RolledBackError = trustfiles.RolledBackError

// UnknownStateError reports that the reload after an edit failed and so
// did the reload of the restored files: the server's state is unknown, and
// the reload-pending marker beside the files makes the next call check and
// reload again.
type UnknownStateError = trustfiles.UnknownStateError

// NotAcceptedError says why the receiver's files refuse a chain.
type NotAcceptedError = trustfiles.NotAcceptedError

// Config configures a [Receiver]. At least one of TrustFile and
// AcceptedList is required; the zero value of every other field is
// documented.
type Config struct {
	// TrustFile is the file of roots the server trusts for client
	// certificates. A missing file is created at the first TrustRoot.
	// Empty means the receiver has no trust file: TrustRoot and RemoveRoot
	// then fail.
	TrustFile string
	// TrustKind is the trust file's kind: truststore.PEMBundle,
	// truststore.JKS or truststore.PKCS12.
	TrustKind truststore.Kind
	// TrustPassword protects a JKS or PKCS#12 trust file; nil is the empty
	// password. The receiver keeps a copy; it is never passed to a
	// command.
	TrustPassword []byte

	// AcceptedList is the list of the client certificates the server
	// accepts. Empty means the server pins none: AcceptClient and
	// RemoveClient then change nothing, and Accepts checks the chain only.
	AcceptedList string
	// AcceptedFormat is the list's format.
	AcceptedFormat ListFormat

	// Check is the command that checks the edited configuration (for
	// example {"apachectl", "-t"}), run after every edit; if it fails, the
	// edit is rolled back and the server not reloaded. Nil runs no check.
	Check []string
	// Reload is the command that makes the server read the edited files
	// (for example {"apachectl", "-k", "graceful"}); if it fails, the edit
	// is rolled back. Nil runs none (a server that rereads its files by
	// itself).
	Reload []string
	// Timeout bounds each command; zero means one minute.
	Timeout time.Duration

	// AccessLog is a log of the server's handshakes, for
	// [Receiver.Observing]; empty means none.
	AccessLog string

	// URL, if not empty, is an https URL where the server authenticates
	// client certificates, such as "https://receiver.example:8443/health":
	// [Receiver.Adapter] then also offers [renewal.Prober], whose Probe
	// connects there presenting the chain. Empty means the receiver offers
	// no probe (a server the executor cannot reach).
	URL string
	// ServerName is the name the server's certificate at URL must carry,
	// and the SNI sent; empty means the host of URL.
	ServerName string
	// ServerRoots verifies the server's certificate at URL; nil means the
	// system roots.
	ServerRoots *x509.CertPool

	// Now is the clock at which Accepts verifies chains; nil means
	// time.Now.
	Now func() time.Time
}

// Receiver is a [renewal.Receiver] and [renewal.ReceiverInspector] for a
// server configured through files and commands: see the package
// documentation; give the executor [Receiver.Adapter]. It is safe for
// concurrent use; edits of the same files by other certroll processes wait
// for one another.
type Receiver struct {
	cfg   Config
	files *trustfiles.Files
}

var (
	_ renewal.Receiver          = (*Receiver)(nil)
	_ renewal.ReceiverInspector = (*Receiver)(nil)
	_ renewal.UsageObserver     = (*ObservingReceiver)(nil)
	_ renewal.Prober            = probingReceiver{}
	_ renewal.Prober            = observingProbingReceiver{}
	_ renewal.UsageObserver     = observingProbingReceiver{}
)

// NewReceiver returns a receiver configured by cfg (a URL that is not
// https is refused), reading the files once
// so that a wrong password or a damaged file is reported here.
func NewReceiver(cfg Config) (*Receiver, error) {
	cfg.TrustPassword = append([]byte{}, cfg.TrustPassword...)
	cfg.Check = append([]string(nil), cfg.Check...)
	cfg.Reload = append([]string(nil), cfg.Reload...)
	r := &Receiver{cfg: cfg}
	r.files = &trustfiles.Files{
		Prefix: "command", Trust: cfg.TrustFile, TrustKind: cfg.TrustKind, TrustPassword: cfg.TrustPassword,
		List: cfg.AcceptedList, ListFormat: cfg.AcceptedFormat, Now: cfg.Now,
	}
	if len(cfg.Check) > 0 {
		r.files.Check = func(ctx context.Context) error {
			return trustfiles.Run(ctx, "command", "check", cfg.Check, cfg.Timeout)
		}
	}
	if len(cfg.Reload) > 0 {
		r.files.Reload = func(ctx context.Context) error {
			return trustfiles.Run(ctx, "command", "reload", cfg.Reload, cfg.Timeout)
		}
	}
	if err := r.files.Validate("Config"); err != nil {
		return nil, err
	}
	if cfg.URL != "" {
		if u, err := url.Parse(cfg.URL); err != nil || u.Scheme != "https" || u.Host == "" {
			return nil, fmt.Errorf("command: Config.URL: want https://host[:port]/path, got %q", cfg.URL)
		}
	}
	if _, err := r.files.Roots(); err != nil {
		return nil, err
	}
	if _, err := r.files.ReadList(); err != nil {
		return nil, err
	}
	return r, nil
}

// shared returns the receiver's methods shared with the other
// receivers, read from r.cfg at the call.
func (r *Receiver) shared() *trustfiles.Receiver {
	return &trustfiles.Receiver{
		Files: r.files, AccessLog: r.cfg.AccessLog, LogFormat: accessLogFormat,
		URL: r.cfg.URL, ServerName: r.cfg.ServerName, ServerRoots: r.cfg.ServerRoots,
	}
}

// TrustRoot adds root to the trust file, then checks and reloads. A root
// already trusted changes nothing and runs no command.
func (r *Receiver) TrustRoot(ctx context.Context, root *x509.Certificate) error {
	return r.shared().TrustRoot(ctx, root)
}

// RemoveRoot removes root from the trust file, then checks and reloads. A
// root not trusted changes nothing and runs no command.
func (r *Receiver) RemoveRoot(ctx context.Context, root *x509.Certificate) error {
	return r.shared().RemoveRoot(ctx, root)
}

// AcceptClient adds chain's leaf to the accepted list, then checks and
// reloads. A leaf already listed changes nothing (unless its entry lacked
// the certificate block, which is added).
func (r *Receiver) AcceptClient(ctx context.Context, chain []*x509.Certificate) error {
	return r.shared().AcceptClient(ctx, chain)
}

// RemoveClient removes leaf's entries from the accepted list, then checks
// and reloads. A leaf not listed changes nothing.
func (r *Receiver) RemoveClient(ctx context.Context, leaf *x509.Certificate) error {
	return r.shared().RemoveClient(ctx, leaf)
}

// Accepts reports whether the files accept chain: it verifies for client
// authentication to a root of the trust file, and its leaf is listed. It is
// the model's fast answer, read from the files; the error is a
// *NotAcceptedError saying which condition failed.
func (r *Receiver) Accepts(ctx context.Context, chain []*x509.Certificate) error {
	return r.shared().Accepts(ctx, chain)
}

// Roots returns the roots of the trust file.
func (r *Receiver) Roots() ([]*x509.Certificate, error) { return r.files.Roots() }

// AcceptedClients returns the client certificates the list accepts: those
// the receiver added (the list carries their certificates) and the
// hand-written entries for certificates it has been given in a call.
func (r *Receiver) AcceptedClients() ([]*x509.Certificate, error) { return r.files.AcceptedClients() }

// accessLogFormat describes the log LastSeen reads, for its errors.
const accessLogFormat = `lines "<RFC 3339 time> <certificate SHA-1 hex or SHA-256 fingerprint, - for none> ..."`

// ObservingReceiver is a [Receiver] that also reports, from the server's
// access log, when it last saw a client certificate
// ([renewal.UsageObserver]). Pass it to the executor in place of the
// Receiver.
type ObservingReceiver struct {
	*Receiver
}

// Observing returns r as an [ObservingReceiver] reading Config.AccessLog,
// or an error if none is configured.
func (r *Receiver) Observing() (*ObservingReceiver, error) {
	if r.cfg.AccessLog == "" {
		return nil, fmt.Errorf("command: Config.AccessLog: want the server's access log, with %s, got none", accessLogFormat)
	}
	return &ObservingReceiver{r}, nil
}

// LastSeen returns the time of the latest line of the access log naming
// leaf. A log that names it nowhere gives the log's start instead (its
// first line's time, or its modification time when it is empty): the
// certificate may have been presented just before a rotation, so the
// drain gate waits a drain period after it. A missing log, or one with no
// line of the expected form, is an error.
func (o *ObservingReceiver) LastSeen(ctx context.Context, leaf *x509.Certificate) (time.Time, error) {
	return o.shared().LastSeen(ctx, leaf)
}

// Adapter returns r as the executor should be given it: a
// [renewal.Receiver] and [renewal.ReceiverInspector] that also implements
// [renewal.UsageObserver] when Config.AccessLog is set (as
// [Receiver.Observing] does) and [renewal.Prober] when Config.URL is set.
// The executor finds the optional interfaces by type assertion, so a
// receiver that cannot answer one must not offer it.
func (r *Receiver) Adapter() renewal.Receiver {
	switch {
	case r.cfg.AccessLog != "" && r.cfg.URL != "":
		return observingProbingReceiver{&ObservingReceiver{r}}
	case r.cfg.AccessLog != "":
		return &ObservingReceiver{r}
	case r.cfg.URL != "":
		return probingReceiver{r}
	}
	return r
}

// probingReceiver is a Receiver with a URL.
type probingReceiver struct{ *Receiver }

// Probe is [Receiver.probe].
func (p probingReceiver) Probe(ctx context.Context, chain []*x509.Certificate, key crypto.Signer) error {
	return p.probe(ctx, chain, key)
}

// observingProbingReceiver is a Receiver with an access log and a URL.
type observingProbingReceiver struct{ *ObservingReceiver }

// Probe is [Receiver.probe].
func (p observingProbingReceiver) Probe(ctx context.Context, chain []*x509.Certificate, key crypto.Signer) error {
	return p.probe(ctx, chain, key)
}

// probe connects to Config.URL presenting chain (leaf first) with key and
// returns nil only if the server completes the handshake, answers with a
// status that is not a refusal, and advertises the name of the chain's
// last certificate (the new root); otherwise a *probe.Error naming what
// went wrong.
func (r *Receiver) probe(ctx context.Context, chain []*x509.Certificate, key crypto.Signer) error {
	return r.shared().Probe(ctx, chain, key)
}
