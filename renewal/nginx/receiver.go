package nginx

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/certroll/certroll/renewal"
	"github.com/certroll/certroll/renewal/internal/trustfiles"
	"github.com/certroll/certroll/renewal/probe"
	"github.com/certroll/certroll/truststore"
)

// LogFormat is the log_format line the access log read by
// [Receiver.LastSeen] is written with.
const LogFormat = `log_format certroll '$time_iso8601 $ssl_client_fingerprint $status';`

// CommandError reports an nginx command (nginx -t, nginx -s reload) that
// failed, with its output.
type CommandError = trustfiles.CommandError

// RolledBackError reports that nginx -t or the reload failed and that the
// edited files were restored byte for byte.
type RolledBackError = trustfiles.RolledBackError

// UnknownStateError reports that the reload after an edit failed and so
// did the reload of the restored files: the server's state is unknown, and
// the reload-pending marker beside the files makes the next call check and
// reload again.
type UnknownStateError = trustfiles.UnknownStateError

// NotAcceptedError says why the receiver's files refuse a chain.
type NotAcceptedError = trustfiles.NotAcceptedError

// Config configures a [Receiver]. ClientCA, PinMap and PidFile are
// required; the zero value of every other field is documented.
type Config struct {
	// ClientCA is the PEM bundle of trusted roots that
	// ssl_client_certificate names.
	ClientCA string
	// PinMap is the file the map block includes: one line
	// "<sha1 hex> 1;" per pinned client certificate.
	PinMap string
	// AccessLog is the access log written with [LogFormat], for
	// [Receiver.LastSeen]; empty makes LastSeen fail.
	AccessLog string

	// Nginx is the nginx program; empty means "nginx" on the PATH, else
	// /usr/sbin/nginx.
	Nginx string
	// Prefix, if not empty, is passed to nginx as -p.
	Prefix string
	// ConfFile, if not empty, is passed to nginx as -c.
	ConfFile string
	// PidFile is the file of nginx's pid directive, holding the master's
	// process id: the receiver watches the master's workers to know that a
	// reload took.
	PidFile string
	// ReloadSignal reloads by sending SIGHUP to the master instead of
	// running nginx -s reload.
	ReloadSignal bool

	// Addr, if not empty, is the host:port of the server block: after a
	// reload the receiver waits until nginx advertises there the CA names
	// of the bundle. Empty means the host:port of URL, if that is set.
	Addr string
	// URL, if not empty, is an https URL of the server block, such as
	// "https://receiver.example:8443/health": [Receiver.Probe] sends its
	// request there (and the reload waits there when Addr is empty).
	// Empty means https://<Addr>/; with neither, Probe fails.
	URL string
	// ServerName is the name nginx's server certificate must carry, and
	// the SNI sent; empty means the host of URL or Addr.
	ServerName string
	// ServerRoots verifies nginx's server certificate for the reload wait
	// and for Probe; nil means the system roots.
	ServerRoots *x509.CertPool

	// Timeout bounds each nginx command and the wait for a reload; zero
	// means one minute.
	Timeout time.Duration
	// Now is the clock at which Accepts verifies chains; nil means
	// time.Now.
	Now func() time.Time
}

// Receiver is a [renewal.Receiver], [renewal.ReceiverInspector],
// [renewal.UsageObserver] and [renewal.Prober] for nginx: see the package documentation. It is
// safe for concurrent use.
type Receiver struct {
	cfg   Config
	files *trustfiles.Files
}

var (
	_ renewal.Receiver          = (*Receiver)(nil)
	_ renewal.ReceiverInspector = (*Receiver)(nil)
	_ renewal.UsageObserver     = (*Receiver)(nil)
	_ renewal.Prober            = (*Receiver)(nil)
)

// NewReceiver returns a receiver configured by cfg, reading the bundle and
// the map once so that a damaged file is reported here.
func NewReceiver(cfg Config) (*Receiver, error) {
	switch {
	case cfg.ClientCA == "":
		return nil, errors.New("nginx: Config.ClientCA: want the file ssl_client_certificate names, got none")
	case cfg.PinMap == "":
		return nil, errors.New("nginx: Config.PinMap: want the file the $ssl_client_fingerprint map includes, got none")
	case cfg.PidFile == "":
		return nil, errors.New("nginx: Config.PidFile: want the file of nginx's pid directive, got none")
	}
	if cfg.Nginx == "" {
		cfg.Nginx = "/usr/sbin/nginx"
		if p, err := lookPath("nginx"); err == nil {
			cfg.Nginx = p
		}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = trustfiles.DefaultTimeout
	}
	r := &Receiver{cfg: cfg}
	r.files = &trustfiles.Files{
		Prefix: "nginx", Trust: cfg.ClientCA, TrustKind: truststore.PEMBundle,
		List: cfg.PinMap, ListFormat: trustfiles.NginxMap, Now: cfg.Now,
		Check:  r.test,
		Reload: r.reload,
	}
	if _, err := r.files.Roots(); err != nil {
		return nil, err
	}
	if _, err := r.files.ReadList(); err != nil {
		return nil, err
	}
	return r, nil
}

// args returns nginx's command line with -p and -c and then extra.
func (r *Receiver) args(extra ...string) []string {
	argv := []string{r.cfg.Nginx}
	if r.cfg.Prefix != "" {
		argv = append(argv, "-p", r.cfg.Prefix)
	}
	if r.cfg.ConfFile != "" {
		argv = append(argv, "-c", r.cfg.ConfFile)
	}
	return append(argv, extra...)
}

// test runs nginx -t.
func (r *Receiver) test(ctx context.Context) error {
	return trustfiles.Run(ctx, "nginx", "configuration test", r.args("-t", "-q"), r.cfg.Timeout)
}

// ReloadError reports a reload that nginx did not complete in time: no new
// worker with the new configuration, old workers still taking requests, or
// the wrong CA names advertised.
type ReloadError struct {
	Waited time.Duration // how long the receiver waited
	State  string        // what it saw last
}

// Error says what was seen and where to look.
func (e *ReloadError) Error() string {
	return fmt.Sprintf("nginx: the reload did not take within %s: %s; see nginx's error_log", e.Waited, e.State)
}

// reload reloads nginx and waits until the new configuration answers.
func (r *Receiver) reload(ctx context.Context) error {
	// Until the signal is sent, a failure leaves nginx as it was.
	master, err := r.masterPID()
	if err != nil {
		return trustfiles.NotReloaded(err)
	}
	before, _, err := workers(master)
	if err != nil {
		return trustfiles.NotReloaded(err)
	}
	if r.cfg.ReloadSignal {
		p, err := os.FindProcess(master)
		if err == nil {
			err = p.Signal(syscall.SIGHUP)
		}
		if err != nil {
			return trustfiles.NotReloaded(fmt.Errorf("nginx: sending SIGHUP to the master process %d (from %q): %w", master, r.cfg.PidFile, err))
		}
	} else if err := trustfiles.Run(ctx, "nginx", "reload", r.args("-s", "reload"), r.cfg.Timeout); err != nil {
		var ce *CommandError
		if errors.As(err, &ce) && ce.ExitCode > 0 {
			// nginx -s reload exits non-zero when it could not signal
			// the master.
			return trustfiles.NotReloaded(err)
		}
		return err
	}
	return r.waitReload(ctx, master, before)
}

// masterPID reads the pid file.
func (r *Receiver) masterPID() (int, error) {
	data, err := os.ReadFile(r.cfg.PidFile)
	if err != nil {
		return 0, fmt.Errorf("nginx: reading the master's pid: %w: is nginx running, and is Config.PidFile its pid directive?", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("nginx: pid file %q: want a process id, found %q", r.cfg.PidFile, cutString(string(data), 40))
	}
	return pid, nil
}

// waitReload polls until a worker not in before runs, none of before is
// still a working (not shutting down) worker, and, with Addr or URL, the CA names
// advertised are the bundle's.
func (r *Receiver) waitReload(ctx context.Context, master int, before map[int]bool) error {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	state := "no check made yet"
	for {
		ok, st, err := r.reloaded(ctx, master, before)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		state = st
		select {
		case <-ctx.Done():
			return &ReloadError{Waited: time.Since(start).Round(time.Millisecond), State: state}
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (r *Receiver) reloaded(ctx context.Context, master int, before map[int]bool) (bool, string, error) {
	working, shutting, err := workers(master)
	if err != nil {
		return false, "", err
	}
	fresh := 0
	for pid := range working {
		if before[pid] {
			return false, fmt.Sprintf("old worker %d of master %d still takes requests (%d shutting down)", pid, master, len(shutting)), nil
		}
		fresh++
	}
	if fresh == 0 {
		return false, fmt.Sprintf("master %d has started no worker with the new configuration", master), nil
	}
	if r.namesURL() == "" {
		return true, "", nil
	}
	roots, err := r.files.Roots()
	if err != nil {
		return false, "", err
	}
	if err := probe.CheckAdvertised(ctx, r.namesURL(), roots, r.shared().ProbeOptions()); err != nil {
		return false, err.Error(), nil
	}
	return true, "", nil
}

// workers returns the master's worker processes: those working and those
// shutting down after a reload.
func workers(master int) (working, shutting map[int]bool, err error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, nil, fmt.Errorf("nginx: listing nginx's worker processes: %w (the reload wait needs Linux's /proc)", err)
	}
	working, shutting = map[int]bool{}, map[int]bool{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // gone meanwhile
		}
		// "pid (comm) state ppid ...": comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 2 || f[1] != strconv.Itoa(master) {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		title := string(cmd)
		switch {
		case strings.Contains(title, "worker process is shutting down"):
			shutting[pid] = true
		case strings.Contains(title, "worker process"):
			working[pid] = true
		}
	}
	return working, shutting, nil
}

func cutString(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// shared returns the receiver's methods shared with the other
// receivers, read from r.cfg at the call.
func (r *Receiver) shared() *trustfiles.Receiver {
	sh := &trustfiles.Receiver{
		Files: r.files, AccessLog: r.cfg.AccessLog, LogFormat: LogFormat,
		URL: r.cfg.URL, ServerName: r.cfg.ServerName, ServerRoots: r.cfg.ServerRoots,
		NoAccessLog: fmt.Errorf("nginx: Config.AccessLog: want the access log written with %s, got none", LogFormat),
		NoURL:       errors.New("nginx: Config.URL: want the https URL of the server block to probe, such as \"https://receiver.example:8443/health\", got none (nor Config.Addr)"),
	}
	// Probe falls back to Addr; the reload wait (namesURL) prefers it.
	if sh.URL == "" && r.cfg.Addr != "" {
		sh.URL = "https://" + r.cfg.Addr + "/"
	}
	return sh
}

// TrustRoot adds root to the client-CA bundle, tests the configuration,
// reloads and waits. A root already in the bundle changes nothing and
// runs nothing.
func (r *Receiver) TrustRoot(ctx context.Context, root *x509.Certificate) error {
	return r.shared().TrustRoot(ctx, root)
}

// RemoveRoot removes root from the client-CA bundle, tests, reloads and
// waits. A root not in the bundle changes nothing.
func (r *Receiver) RemoveRoot(ctx context.Context, root *x509.Certificate) error {
	return r.shared().RemoveRoot(ctx, root)
}

// AcceptClient pins chain's leaf in the map, tests, reloads and waits. A
// leaf already pinned changes nothing (unless its line lacked the
// certificate comment, which is added).
func (r *Receiver) AcceptClient(ctx context.Context, chain []*x509.Certificate) error {
	return r.shared().AcceptClient(ctx, chain)
}

// RemoveClient removes leaf's lines from the map, tests, reloads and
// waits. A leaf not pinned changes nothing.
func (r *Receiver) RemoveClient(ctx context.Context, leaf *x509.Certificate) error {
	return r.shared().RemoveClient(ctx, leaf)
}

// Accepts reports whether the files accept chain: it verifies for client
// authentication to a root of the bundle and its leaf is pinned. It is the
// fast answer from the files; the error is a *NotAcceptedError saying
// which condition failed.
func (r *Receiver) Accepts(ctx context.Context, chain []*x509.Certificate) error {
	return r.shared().Accepts(ctx, chain)
}

// Roots returns the roots of the client-CA bundle.
func (r *Receiver) Roots() ([]*x509.Certificate, error) { return r.files.Roots() }

// AcceptedClients returns the pinned certificates the map names: those
// the receiver pinned, and hand-written lines for certificates it has been
// given in a call.
func (r *Receiver) AcceptedClients() ([]*x509.Certificate, error) { return r.files.AcceptedClients() }

// LastSeen returns when nginx last logged a request presenting leaf in
// Config.AccessLog (see [LogFormat]). A log that names it nowhere gives the
// log's start instead (its first line's time, or its modification time when
// empty): leaf may have been presented just before a rotation. nginx writes
// $time_iso8601 in whole seconds.
func (r *Receiver) LastSeen(ctx context.Context, leaf *x509.Certificate) (time.Time, error) {
	return r.shared().LastSeen(ctx, leaf)
}

// namesURL is where the reload wait reads the advertised CA names: Addr,
// else URL, else "" (no wait for the names).
func (r *Receiver) namesURL() string {
	if r.cfg.Addr != "" {
		return "https://" + r.cfg.Addr + "/"
	}
	return r.cfg.URL
}

// Probe connects to Config.URL (or, when it is empty, to
// https://<Config.Addr>/) presenting chain (leaf first) with key and
// returns nil only if nginx completes the handshake, answers with a status
// that is not a refusal, and advertises the name of the chain's last
// certificate (the new root) so that a Java client would present the
// chain; otherwise a *probe.Error naming what went wrong (see package
// renewal/probe). It is the verdict of the receiver gates; Accepts is the
// fast answer from the files. With neither URL nor Addr it fails, and so
// does the gate: configure one.
func (r *Receiver) Probe(ctx context.Context, chain []*x509.Certificate, key crypto.Signer) error {
	return r.shared().Probe(ctx, chain, key)
}
