package haproxy

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/certroll/certroll/renewal"
	"github.com/certroll/certroll/renewal/internal/trustfiles"
	"github.com/certroll/certroll/renewal/probe"
	"github.com/certroll/certroll/truststore"
)

// LogFormat is the log-format line of the frontend whose log
// [Receiver.LastSeen] reads: the time in UTC as RFC 3339, the client
// certificate's SHA-1 in hex and the HTTP status.
const LogFormat = `log-format "%[date,utime(%Y-%m-%dT%H:%M:%SZ)] %[ssl_c_sha1,hex] %ST"`

// CommandError reports an HAProxy command (haproxy -c) that failed, with
// its output.
type CommandError = trustfiles.CommandError

// RolledBackError reports that haproxy -c or the reload failed and that
// the edited files were restored byte for byte.
type RolledBackError = trustfiles.RolledBackError

// UnknownStateError reports that the reload after an edit failed and so
// did the reload of the restored files: the server's state is unknown, and
// the reload-pending marker beside the files makes the next call check and
// reload again.
type UnknownStateError = trustfiles.UnknownStateError

// NotAcceptedError says why the receiver's files refuse a chain.
type NotAcceptedError = trustfiles.NotAcceptedError

// Config configures a [Receiver]. CAFile, PinnedACL, ConfigFiles, URL and
// one of MasterSocket and PidFile are required; the zero value of every other
// field is documented.
type Config struct {
	// CAFile is the PEM file of trusted roots that the bind line names
	// with ca-file.
	CAFile string
	// PinnedACL is the pattern file of the certroll_pinned ACL: one
	// SHA-1 of a pinned client certificate a line, 40 upper-case hex
	// digits, as %[ssl_c_sha1,hex] prints it.
	PinnedACL string
	// AccessLog is the file the frontend's log lines (written with
	// [LogFormat]) end up in, for [Receiver.LastSeen]; empty makes
	// LastSeen fail.
	AccessLog string

	// HAProxy is the haproxy program; empty means "haproxy" on the PATH,
	// else /usr/sbin/haproxy.
	HAProxy string
	// ConfigFiles are the configuration files HAProxy runs with, each
	// passed to haproxy -c as -f, in order.
	ConfigFiles []string
	// MasterSocket is the master CLI socket (haproxy -W -S <socket>): the
	// receiver reloads with its reload command and watches the workers
	// with show proc. Empty means PidFile.
	MasterSocket string
	// PidFile is the file holding the master's process id (haproxy -W -p
	// <file>, or the service's PIDFile): without MasterSocket the receiver
	// reloads by sending SIGUSR2 to that process and watches its children
	// in /proc.
	PidFile string

	// URL is an https URL of the frontend, such as
	// "https://receiver.example:8443/health": after a reload the receiver
	// waits until HAProxy advertises there the CA names of CAFile, and
	// [Receiver.Probe] sends its request there. It is required because the
	// gates' verdict is that handshake: a new worker alone does not show
	// that HAProxy advertises the new root.
	URL string
	// ServerName is the name HAProxy's server certificate must carry, and
	// the SNI sent; empty means the host of URL.
	ServerName string
	// ServerRoots verifies HAProxy's server certificate; nil means the
	// system roots.
	ServerRoots *x509.CertPool

	// Timeout bounds haproxy -c, the reload and the wait for it; zero
	// means one minute.
	Timeout time.Duration
	// Now is the clock at which Accepts verifies chains; nil means
	// time.Now.
	Now func() time.Time
}

// Receiver is a [renewal.Receiver], [renewal.ReceiverInspector],
// [renewal.UsageObserver] and [renewal.Prober] for HAProxy in
// master-worker mode: see the package documentation. It is safe for
// concurrent use.
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

// NewReceiver returns a receiver configured by cfg, reading the CA file and
// the ACL file once so that a damaged file is reported here.
func NewReceiver(cfg Config) (*Receiver, error) {
	switch {
	case cfg.CAFile == "":
		return nil, errors.New("haproxy: Config.CAFile: want the file the bind line names with ca-file, got none")
	case cfg.PinnedACL == "":
		return nil, errors.New("haproxy: Config.PinnedACL: want the pattern file of the certroll_pinned ACL (-f), got none")
	case len(cfg.ConfigFiles) == 0:
		return nil, errors.New("haproxy: Config.ConfigFiles: want the configuration files haproxy runs with (-f), got none")
	case cfg.URL == "":
		return nil, errors.New(`haproxy: Config.URL: want the https URL of the frontend, such as "https://receiver.example:8443/health", got none`)
	case cfg.MasterSocket == "" && cfg.PidFile == "":
		return nil, errors.New("haproxy: Config.MasterSocket and Config.PidFile: want the master CLI socket (-S) or the master's pid file (-p), got neither")
	}
	cfg.ConfigFiles = append([]string(nil), cfg.ConfigFiles...)
	if cfg.HAProxy == "" {
		cfg.HAProxy = "/usr/sbin/haproxy"
		if p, err := exec.LookPath("haproxy"); err == nil {
			cfg.HAProxy = p
		}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = trustfiles.DefaultTimeout
	}
	r := &Receiver{cfg: cfg}
	r.files = &trustfiles.Files{
		Prefix: "haproxy", Trust: cfg.CAFile, TrustKind: truststore.PEMBundle,
		List: cfg.PinnedACL, ListFormat: trustfiles.HAProxyACL, Now: cfg.Now,
		Check:  r.check,
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

// check runs haproxy -c -f ... (not -q, which would drop the complaint
// from the error).
func (r *Receiver) check(ctx context.Context) error {
	argv := []string{r.cfg.HAProxy, "-c"}
	for _, f := range r.cfg.ConfigFiles {
		argv = append(argv, "-f", f)
	}
	return trustfiles.Run(ctx, "haproxy", "configuration check", argv, r.cfg.Timeout)
}

// ReloadError reports a reload that HAProxy did not complete: the master
// reports it failed, or in time no new worker ran, a worker of the old
// configuration still listened for connections, or the old CA names were
// still advertised.
type ReloadError struct {
	Waited time.Duration // how long the receiver waited; zero for a reload the master reports failed
	State  string        // what it saw last
}

// Error says what was seen and where to look.
func (e *ReloadError) Error() string {
	if e.Waited == 0 {
		return fmt.Sprintf("haproxy: the reload failed: %s; see the master's log", e.State)
	}
	return fmt.Sprintf("haproxy: the reload did not take within %s: %s; see the master's log", e.Waited, e.State)
}

// reload reloads HAProxy and waits until it took.
func (r *Receiver) reload(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	start := time.Now()
	var taken func(ctx context.Context) (bool, string, error)
	if r.cfg.MasterSocket != "" {
		before, err := showProc(ctx, r.cfg.MasterSocket)
		if err != nil {
			return trustfiles.NotReloaded(err)
		}
		if err := masterCommand(ctx, r.cfg.MasterSocket, "reload"); err != nil {
			return err
		}
		taken = func(ctx context.Context) (bool, string, error) { return r.socketReloaded(ctx, before) }
	} else {
		master, err := r.masterPID()
		if err != nil {
			return trustfiles.NotReloaded(err)
		}
		if err := waitCatchesUSR2(ctx, master, r.cfg.PidFile); err != nil {
			return trustfiles.NotReloaded(err)
		}
		before, err := children(master)
		if err != nil {
			return trustfiles.NotReloaded(err)
		}
		if err := syscall.Kill(master, syscall.SIGUSR2); err != nil {
			return trustfiles.NotReloaded(fmt.Errorf("haproxy: sending SIGUSR2 to the master process %d (from %q): %w", master, r.cfg.PidFile, err))
		}
		taken = func(context.Context) (bool, string, error) { return signalReloaded(master, before) }
	}
	state := "no check made yet"
	for {
		ok, st, err := taken(ctx)
		if err != nil {
			return err
		}
		if ok {
			ok, st = r.namesReloaded(ctx)
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

// socketReloaded reports whether show proc lists a worker started by this
// reload, and every worker that ran before it is gone or an old worker
// (told to stop, it accepts no connection) that listens no more: until
// then an old worker may still take a new connection with the old files,
// which the names check cannot tell when only the ACL file changed.
func (r *Receiver) socketReloaded(ctx context.Context, before *procList) (bool, string, error) {
	now, err := showProc(ctx, r.cfg.MasterSocket)
	if err != nil {
		// The master re-executes itself on a reload; its socket is away
		// meanwhile.
		return false, err.Error(), nil
	}
	fresh := false
	for pid, reloads := range now.workers {
		if _, old := before.workers[pid]; !old && reloads == 0 {
			fresh = true
		}
	}
	if fresh {
		var leaving []int
		for pid := range before.workers {
			if _, current := now.workers[pid]; current {
				return false, fmt.Sprintf("the master (show proc on %q) has started a new worker, but worker %d of the old configuration is still a current worker", r.cfg.MasterSocket, pid), nil
			}
			if now.old[pid] {
				leaving = append(leaving, pid)
			}
		}
		pid, err := stillServing(leaving)
		if err != nil {
			return false, "", err
		}
		if pid != 0 {
			return false, fmt.Sprintf("old worker %d still listens for connections", pid), nil
		}
		return true, "", nil
	}
	if now.reloads > before.reloads && now.failed > before.failed {
		// The master parsed the configuration and gave up: waiting longer
		// changes nothing; the old worker still serves.
		return false, "", trustfiles.NotReloaded(&ReloadError{State: fmt.Sprintf("the master reports the reload failed (show proc on %q: %d failed) and still runs the old worker; haproxy -c with Config.ConfigFiles passed, so the master may read other files", r.cfg.MasterSocket, now.failed)})
	}
	return false, fmt.Sprintf("the master (show proc on %q) has started no new worker", r.cfg.MasterSocket), nil
}

// signalReloaded reports whether the master has a child not in before, no
// child of before still listens for connections (an old worker that does
// may take a new connection with the old files), and the master is ready
// for the next SIGUSR2.
func signalReloaded(master int, before map[int]bool) (bool, string, error) {
	now, err := children(master)
	if err != nil {
		return false, "", err
	}
	for pid := range now {
		if before[pid] {
			continue
		}
		var old []int
		for p := range before {
			if now[p] {
				old = append(old, p)
			}
		}
		serving, err := stillServing(old)
		if err != nil {
			return false, "", err
		}
		if serving != 0 {
			return false, fmt.Sprintf("master %d has started worker %d but old worker %d still listens for connections", master, pid, serving), nil
		}
		ready, err := catchesUSR2(master)
		if err != nil {
			return false, "", err
		}
		if !ready {
			return false, fmt.Sprintf("master %d has started worker %d but does not handle SIGUSR2 yet", master, pid), nil
		}
		return true, "", nil
	}
	return false, fmt.Sprintf("master %d has started no new worker after SIGUSR2", master), nil
}

// waitCatchesUSR2 polls until master handles SIGUSR2, so that the signal
// reloads rather than ends it.
func waitCatchesUSR2(ctx context.Context, master int, pidFile string) error {
	for {
		ok, err := catchesUSR2(master)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("haproxy: master process %d (from %q) does not handle SIGUSR2: is it an HAProxy master in master-worker mode (-W), still starting? %w", master, pidFile, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// namesReloaded reports whether URL advertises the CA file's roots.
func (r *Receiver) namesReloaded(ctx context.Context) (bool, string) {
	roots, err := r.files.Roots()
	if err != nil {
		return false, err.Error()
	}
	if err := probe.CheckAdvertised(ctx, r.cfg.URL, roots, r.shared().ProbeOptions()); err != nil {
		return false, err.Error()
	}
	return true, ""
}

// masterPID reads the pid file.
func (r *Receiver) masterPID() (int, error) {
	data, err := os.ReadFile(r.cfg.PidFile)
	if err != nil {
		return 0, fmt.Errorf("haproxy: reading the master's pid: %w: is HAProxy running in master-worker mode (-W), and is Config.PidFile its -p file?", err)
	}
	// HAProxy writes the master's pid on the first line.
	line, _, _ := strings.Cut(string(data), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("haproxy: pid file %q: want a process id, found %q", r.cfg.PidFile, cut(line, 40))
	}
	return pid, nil
}

func cut(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// shared returns the receiver's methods shared with the other
// receivers, read from r.cfg at the call.
func (r *Receiver) shared() *trustfiles.Receiver {
	return &trustfiles.Receiver{
		Files: r.files, AccessLog: r.cfg.AccessLog, LogFormat: LogFormat,
		URL: r.cfg.URL, ServerName: r.cfg.ServerName, ServerRoots: r.cfg.ServerRoots,
		NoAccessLog: fmt.Errorf("haproxy: Config.AccessLog: want the file the frontend's log lines (%s) are written to, got none", LogFormat),
	}
}

// TrustRoot adds root to the CA file, checks the configuration, reloads
// and waits. A root already in the file changes nothing and runs nothing.
func (r *Receiver) TrustRoot(ctx context.Context, root *x509.Certificate) error {
	return r.shared().TrustRoot(ctx, root)
}

// RemoveRoot removes root from the CA file, checks, reloads and waits. A
// root not in the file changes nothing.
func (r *Receiver) RemoveRoot(ctx context.Context, root *x509.Certificate) error {
	return r.shared().RemoveRoot(ctx, root)
}

// AcceptClient pins chain's leaf in the ACL file, checks, reloads and
// waits. A leaf already pinned changes nothing (unless its line lacked the
// certificate comment, which is added).
func (r *Receiver) AcceptClient(ctx context.Context, chain []*x509.Certificate) error {
	return r.shared().AcceptClient(ctx, chain)
}

// RemoveClient removes leaf's lines from the ACL file, checks, reloads and
// waits. A leaf not pinned changes nothing.
func (r *Receiver) RemoveClient(ctx context.Context, leaf *x509.Certificate) error {
	return r.shared().RemoveClient(ctx, leaf)
}

// Accepts reports whether the files accept chain: it verifies for client
// authentication to a root of the CA file and its leaf is pinned. It is
// the fast answer from the files; the error is a *NotAcceptedError saying
// which condition failed. [Receiver.Probe] asks HAProxy itself.
func (r *Receiver) Accepts(ctx context.Context, chain []*x509.Certificate) error {
	return r.shared().Accepts(ctx, chain)
}

// Roots returns the roots of the CA file.
func (r *Receiver) Roots() ([]*x509.Certificate, error) { return r.files.Roots() }

// AcceptedClients returns the pinned certificates the ACL file names:
// those the receiver pinned, and hand-written lines for certificates it
// has been given in a call.
func (r *Receiver) AcceptedClients() ([]*x509.Certificate, error) { return r.files.AcceptedClients() }

// LastSeen returns when HAProxy last logged a request presenting leaf in
// Config.AccessLog (see [LogFormat]). A log that names it nowhere gives the
// log's start instead (its first line's time, or its modification time when
// empty): leaf may have been presented just before a rotation. The time is
// in whole seconds. HAProxy logs requests: a
// handshake it refuses is logged without the certificate's digest.
func (r *Receiver) LastSeen(ctx context.Context, leaf *x509.Certificate) (time.Time, error) {
	return r.shared().LastSeen(ctx, leaf)
}

// Probe connects to Config.URL presenting chain (leaf first) with key and
// returns nil only if HAProxy completes the handshake, answers with a
// status that is not a refusal (403 from the certroll_pinned rule is one),
// and advertises the name of the chain's last certificate (the new root),
// so that a Java client would present the chain; otherwise a *probe.Error
// naming what went wrong (see package renewal/probe).
func (r *Receiver) Probe(ctx context.Context, chain []*x509.Certificate, key crypto.Signer) error {
	return r.shared().Probe(ctx, chain, key)
}
