package java

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/certroll/certroll/internal/atomicfile"
	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal"
)

//go:embed Node.java
var nodeSource []byte

// Source returns the source of Node.java, the client every node runs, as
// shipped in this package. The runtime writes it into [Config.Dir].
func Source() []byte { return slices.Clone(nodeSource) }

// DefaultJVMOptions are the JVM options a node runs with when
// [Config.JVMOptions] is nil: English messages, and a faster start for a
// client that makes few requests (C1 compiler only, serial GC).
var DefaultJVMOptions = []string{"-Duser.language=en", "-Duser.country=US", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"}

// maxOutput bounds what the runtime keeps of a JVM's standard error.
const maxOutput = 64 << 10

// Config configures a [Runtime]. Keystore and URL are required; the zero
// value of every other field is documented.
type Config struct {
	// Nodes is the number of nodes, named "node-1" to "node-N". Zero
	// means 2: a cluster, where restarting only one node is the mistake
	// a renewal must not make.
	Nodes int

	// Keystore is the path of the tenant's client keystore (JKS or
	// PKCS#12, told apart by content). Every node reads it when it
	// starts, and only then.
	Keystore string
	// KeystorePassword is the keystore's password. The runtime keeps a
	// copy, to start nodes later; it reaches the JVM on standard input.
	// Nil is the empty password.
	KeystorePassword []byte
	// KeyPassword is the password of the key entries, if it differs from
	// the keystore password. Nil means KeystorePassword.
	KeyPassword []byte

	// URL is the https URL each node requests, such as the receiver's.
	URL string
	// ServerRoots are the roots the nodes trust for the server's
	// certificate. Nil means the JDK's cacerts.
	ServerRoots []*x509.Certificate

	// Rate is how many requests each node sends per second, each over a
	// new connection and a full handshake. Zero means 10; at most 1000.
	Rate float64
	// Timeout bounds each request, connection and handshake included.
	// Zero means 5 s.
	Timeout time.Duration

	// Java is the java launcher. Empty means "java" from PATH.
	Java string
	// JVMOptions are given to java before the source file. Nil means
	// [DefaultJVMOptions].
	JVMOptions []string
	// Dir is the directory the runtime writes Node.java and the server
	// roots into. New creates it (mode 0700, with its parents) if it does
	// not exist; it stays after [Runtime.Close]. Empty means a new
	// temporary directory, removed by [Runtime.Close].
	Dir string

	// StartTimeout bounds how long [Runtime.Start] waits for a node's
	// ready line (the JVM compiles Node.java at each start). Zero means
	// 2 minutes.
	StartTimeout time.Duration
	// StopTimeout is how long [Runtime.Stop] waits for a node to exit
	// after its standard input is closed before it kills it. Zero means
	// 10 s.
	StopTimeout time.Duration
	// ReportTimeout bounds how long [Runtime.Presents] waits for a node
	// started moments ago to report its first handshake. Zero means 30 s.
	ReportTimeout time.Duration
	// MaxFailures is how many failed requests [Stats.Failed] keeps in
	// detail; later ones are only counted. Zero means 100.
	MaxFailures int
}

// Runtime is a [renewal.Runtime] whose nodes are JVM processes running
// Node.java (see the package documentation). Nodes start stopped; start
// them with [Runtime.Start] or [Runtime.StartAll], and end them all with
// [Runtime.Close]. A Runtime is safe for concurrent use; operations on one
// node are serialized.
type Runtime struct {
	cfg       Config
	names     []string
	dir       string
	ownDir    bool
	madeDir   string // the topmost directory New created for Config.Dir, or ""
	source    string
	trustFile string

	mu       sync.Mutex // guards the fields below and every node's fields but op
	nodes    map[string]*node
	failed   []Failure
	requests int
	failures int
	closed   bool
}

var _ renewal.Runtime = (*Runtime)(nil)

// node is one runtime node; its fields but op are guarded by Runtime.mu.
type node struct {
	name string
	op   sync.Mutex // serializes Start, Stop and Restart of this node
	proc *process   // nil when stopped

	requests, failures, starts int
	sequence                   []keystore.Fingerprint
	lastExit                   string
}

// process is one JVM run of a node.
type process struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	stderr  *boundedBuffer
	ready   chan struct{} // closed at the ready line
	asked   chan struct{} // closed at the first report of a certificate request
	done    chan struct{} // closed when stdout has ended and the process is reaped
	waitErr error         // set before done is closed

	// Guarded by Runtime.mu.
	entries   map[keystore.Fingerprint]*x509.Certificate
	fatal     string
	requests  int
	lastAsked *report
	lastError string
	stopping  bool
	isReady   bool
	wasAsked  bool
}

// report is one line of a node's standard output.
type report struct {
	Event   string   `json:"event"`
	Node    string   `json:"node"`
	Seq     int64    `json:"seq"`
	Asked   bool     `json:"asked"`
	Issuers []string `json:"issuers"`
	Alias   string   `json:"alias"`
	SHA256  string   `json:"presented"`
	Status  int      `json:"status"`
	Error   string   `json:"error"`
	Entries []struct {
		Alias  string `json:"alias"`
		SHA256 string `json:"sha256"`
		Cert   string `json:"cert"`
	} `json:"entries"`
}

// Failure is one request that failed: no response (Error says why) or an
// HTTP status of 400 or more.
type Failure struct {
	// Node names the node that sent the request.
	Node string
	// Seq is the request's number since the node started, from 1.
	Seq int64
	// Status is the HTTP status, or 0 if no response came.
	Status int
	// Error is the request's error, empty for an HTTP status.
	Error string
	// Presented is the certificate the node presented; the zero
	// Fingerprint if none.
	Presented keystore.Fingerprint
	// Advertised are the CA names the server advertised.
	Advertised []string
	// Time is when the runtime read the report.
	Time time.Time
}

// NodeStats counts one node's requests over the runtime's life.
type NodeStats struct {
	// Requests is the number of requests the node reported.
	Requests int
	// Failures is the number of them that failed.
	Failures int
	// Starts is how many times the node was started.
	Starts int
	// Running says whether the node runs now.
	Running bool
	// PID is the process ID of the node's JVM while it runs, 0 otherwise.
	PID int
	// Sequence lists the certificates the node presented, in order, one
	// element per change: [old, new] for a node restarted once after the
	// keystore entry was replaced. A handshake in which the node presented
	// none appears as the zero Fingerprint. Requests that ended before the
	// server asked for a certificate do not appear.
	Sequence []keystore.Fingerprint
	// LastExit describes how the node's last JVM ended when it ended on
	// its own rather than by [Runtime.Stop]; empty otherwise.
	LastExit string
}

// Stats counts the requests of every node.
type Stats struct {
	// Requests and Failures are the totals over all nodes.
	Requests, Failures int
	// Nodes are the per-node counts, by name.
	Nodes map[string]NodeStats
	// Failed are the first [Config.MaxFailures] failures.
	Failed []Failure
}

// New checks cfg and writes Node.java (and the server roots) into its
// directory. It starts no node.
func New(cfg Config) (*Runtime, error) {
	if cfg.Keystore == "" {
		return nil, &ConfigError{"Keystore", "empty: give the path of the tenant's keystore"}
	}
	if _, err := os.Stat(cfg.Keystore); err != nil {
		return nil, &ConfigError{"Keystore", fmt.Sprintf("%q cannot be read: %v", cfg.Keystore, err)}
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, &ConfigError{"URL", fmt.Sprintf("%q is not an https URL such as \"https://127.0.0.1:8443/\"", cfg.URL)}
	}
	switch {
	case cfg.Nodes < 0:
		return nil, &ConfigError{"Nodes", fmt.Sprintf("%d: want a positive number, or 0 for 2", cfg.Nodes)}
	case cfg.Nodes == 0:
		cfg.Nodes = 2
	}
	switch {
	case cfg.Rate < 0 || cfg.Rate > 1000:
		return nil, &ConfigError{"Rate", fmt.Sprintf("%g requests per second: want more than 0 and at most 1000, or 0 for 10", cfg.Rate)}
	case cfg.Rate == 0:
		cfg.Rate = 10
	}
	for _, d := range []struct {
		field string
		v     *time.Duration
		def   time.Duration
	}{
		{"Timeout", &cfg.Timeout, 5 * time.Second},
		{"StartTimeout", &cfg.StartTimeout, 2 * time.Minute},
		{"StopTimeout", &cfg.StopTimeout, 10 * time.Second},
		{"ReportTimeout", &cfg.ReportTimeout, 30 * time.Second},
	} {
		if *d.v < 0 {
			return nil, &ConfigError{d.field, fmt.Sprintf("%v: want a positive duration, or 0 for %v", *d.v, d.def)}
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if cfg.MaxFailures <= 0 {
		cfg.MaxFailures = 100
	}
	if cfg.Java == "" {
		cfg.Java = "java"
	}
	if cfg.JVMOptions == nil {
		cfg.JVMOptions = DefaultJVMOptions
	}
	cfg.JVMOptions = slices.Clone(cfg.JVMOptions)
	cfg.KeystorePassword = bytes.Clone(cfg.KeystorePassword)
	cfg.KeyPassword = bytes.Clone(cfg.KeyPassword)
	cfg.ServerRoots = slices.Clone(cfg.ServerRoots)

	r := &Runtime{cfg: cfg, nodes: make(map[string]*node, cfg.Nodes)}
	for i := 1; i <= cfg.Nodes; i++ {
		n := "node-" + strconv.Itoa(i)
		r.names = append(r.names, n)
		r.nodes[n] = &node{name: n}
	}
	if cfg.Dir == "" {
		d, err := os.MkdirTemp("", "certroll-java-*")
		if err != nil {
			return nil, fmt.Errorf("java: creating the runtime's directory: %w", err)
		}
		r.dir, r.ownDir = d, true
	} else {
		made, err := makeDir(cfg.Dir)
		if err != nil {
			return nil, err
		}
		r.dir, r.madeDir = cfg.Dir, made
	}
	ctx, cancel := atomicfile.Within()
	defer cancel()
	r.source = filepath.Join(r.dir, "Node.java")
	if err := atomicfile.Write(ctx, r.source, nodeSource, atomicfile.Options{Mode: 0o644}); err != nil {
		r.undoDir()
		return nil, fmt.Errorf("java: writing Node.java: %w", err)
	}
	if len(cfg.ServerRoots) > 0 {
		var b bytes.Buffer
		for _, c := range cfg.ServerRoots {
			_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
		}
		r.trustFile = filepath.Join(r.dir, "server-roots.pem")
		if err := atomicfile.Write(ctx, r.trustFile, b.Bytes(), atomicfile.Options{Mode: 0o644}); err != nil {
			r.undoDir()
			return nil, fmt.Errorf("java: writing the server roots: %w", err)
		}
	}
	return r, nil
}

// removeDir removes the temporary directory of a runtime without
// Config.Dir.
func (r *Runtime) removeDir() {
	if r.ownDir {
		_ = os.RemoveAll(r.dir)
	}
}

// undoDir removes, after New failed, the directory it created: the
// temporary one, or the part of Config.Dir that did not exist.
func (r *Runtime) undoDir() {
	r.removeDir()
	if r.madeDir != "" {
		_ = os.RemoveAll(r.madeDir)
	}
}

// makeDir creates dir (mode 0700, and its missing parents) unless it
// exists, and returns the topmost directory it created, or "" when dir
// existed. A dir that exists but is not a directory is a *ConfigError.
func makeDir(dir string) (string, error) {
	fi, err := os.Stat(dir)
	if err == nil {
		if !fi.IsDir() {
			return "", &ConfigError{"Dir", fmt.Sprintf("%q exists and is not a directory: give a directory, or a path that does not exist yet", dir)}
		}
		return "", nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", &ConfigError{"Dir", fmt.Sprintf("%q cannot be read: %v", dir, err)}
	}
	// The topmost missing directory, so that a failed New removes only
	// what it made.
	top := filepath.Clean(dir)
	for {
		parent := filepath.Dir(top)
		if parent == top {
			break
		}
		if _, err := os.Stat(parent); err == nil {
			break
		}
		top = parent
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", &ConfigError{"Dir", fmt.Sprintf("%q cannot be created: %v", dir, err)}
	}
	return top, nil
}

// Instructions implements [renewal.Instructor]: how a person restarts the
// nodes by hand. For the restart step ([renewal.StepRestartNodes]) and for
// stopping the flow ([renewal.StepStopFlow]) it returns, per node, how to
// end its JVM and the shell lines that start it again as [Runtime.Start]
// does (the passwords read with read -rs and given on standard input, never
// on the command line), and how to read what each node presents; nil for
// every other step.
func (r *Runtime) Instructions(s renewal.Step) []string {
	switch s.ID {
	case renewal.StepStopFlow:
		return []string{
			fmt.Sprintf("# The nodes %s are JVMs running %s; stop each: Ctrl-D on its standard input (it ends after its request in flight), or kill its java process.", strings.Join(r.names, ", "), r.source),
			"# Check that none runs any more: ps -o pid,args -C java | grep Node.java",
		}
	case renewal.StepRestartNodes:
	default:
		return nil
	}
	lines := []string{
		fmt.Sprintf("# The nodes %s are JVMs running %s; each reads the keystore once, when it starts.", strings.Join(r.names, ", "), r.source),
		"# For each node: end its JVM if it runs (Ctrl-D on its standard input, or kill its java process), then start it again in its own terminal:",
		"read -rs STOREPASS",
	}
	second := `\n`
	if r.cfg.KeyPassword != nil {
		lines = append(lines, "read -rs KEYPASS")
		second = `%s\n`
	}
	for _, name := range r.names {
		feed := `{ printf '%s\n` + second + `' "$(printf %s "$STOREPASS" | base64 -w0)"`
		if r.cfg.KeyPassword != nil {
			feed += ` "$(printf %s "$KEYPASS" | base64 -w0)"`
		}
		feed += "; cat; }"
		lines = append(lines, feed+" | "+shellJoin(r.commandLine(name)))
	}
	return append(lines, `# Each node prints one JSON line a request; "presented" is the SHA-256 of the certificate it presented: every node's must be the new certificate's.`)
}

// commandLine is the command that runs node name: java, its options,
// Node.java and its arguments.
func (r *Runtime) commandLine(name string) []string {
	args := append([]string{r.cfg.Java}, r.cfg.JVMOptions...)
	args = append(args, r.source,
		"--keystore", r.cfg.Keystore,
		"--url", r.cfg.URL,
		"--rate", strconv.FormatFloat(r.cfg.Rate, 'g', -1, 64),
		"--timeout-ms", strconv.FormatInt(r.cfg.Timeout.Milliseconds(), 10),
		"--name", name)
	if r.trustFile != "" {
		args = append(args, "--trust", r.trustFile)
	}
	return args
}

// shellJoin quotes args for a POSIX shell: a word of safe characters as
// it is, any other in single quotes.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=+,@%") == "" {
			out[i] = a
			continue
		}
		out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(out, " ")
}

// Nodes returns the node names, "node-1" to "node-N".
func (r *Runtime) Nodes(ctx context.Context) ([]string, error) { return slices.Clone(r.names), nil }

func (r *Runtime) node(name string) (*node, error) {
	n, ok := r.nodes[name]
	if !ok {
		return nil, &UnknownNodeError{Node: name, Nodes: slices.Clone(r.names)}
	}
	return n, nil
}

// Start starts node's JVM, which reads the keystore afresh, and waits for
// its ready line (up to [Config.StartTimeout] or until ctx is done).
// Starting a running node is not an error. A JVM that does not come up is
// killed and reported as a [*StartError].
func (r *Runtime) Start(ctx context.Context, name string) error {
	n, err := r.node(name)
	if err != nil {
		return err
	}
	n.op.Lock()
	defer n.op.Unlock()
	return r.start(ctx, n)
}

func (r *Runtime) start(ctx context.Context, n *node) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return fmt.Errorf("java: starting node %q: the runtime is closed", n.name)
	}
	running := n.proc != nil
	r.mu.Unlock()
	if running {
		return nil
	}

	argv := r.commandLine(n.name)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = r.dir
	p := &process{
		cmd:     cmd,
		stderr:  &boundedBuffer{max: maxOutput},
		ready:   make(chan struct{}),
		asked:   make(chan struct{}),
		done:    make(chan struct{}),
		entries: map[keystore.Fingerprint]*x509.Certificate{},
	}
	cmd.Stderr = p.stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return &StartError{Node: n.name, Reason: "cannot make its standard input", Err: err}
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return &StartError{Node: n.name, Reason: "cannot make its standard output", Err: err}
	}
	p.stdin = stdin
	if err := cmd.Start(); err != nil {
		return &StartError{Node: n.name, Reason: fmt.Sprintf("cannot run %q (install a JDK 17: apt-get install -y openjdk-17-jdk-headless)", r.cfg.Java), Err: err}
	}
	go r.read(n, p, stdout)

	// The passwords, base64 so that any byte survives the line framing.
	keyPass := r.cfg.KeyPassword
	if keyPass == nil {
		keyPass = r.cfg.KeystorePassword
	}
	secret := make([]byte, 0, 2*base64.StdEncoding.EncodedLen(max(len(r.cfg.KeystorePassword), len(keyPass)))+2)
	secret = base64.StdEncoding.AppendEncode(secret, r.cfg.KeystorePassword)
	secret = append(secret, '\n')
	secret = base64.StdEncoding.AppendEncode(secret, keyPass)
	secret = append(secret, '\n')
	_, werr := stdin.Write(secret)
	clear(secret)

	fail := func(reason string, err error) error {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		<-p.done
		r.mu.Lock()
		fatal := p.fatal
		r.mu.Unlock()
		return &StartError{Node: n.name, Reason: reason, Fatal: fatal, Stderr: p.stderr.String(), Err: err}
	}
	if werr != nil {
		// The JVM ended at once; its output says why.
		<-p.done
		return fail("exited before it read the passwords", p.waitErr)
	}
	timer := time.NewTimer(r.cfg.StartTimeout)
	defer timer.Stop()
	select {
	case <-p.ready:
	case <-p.done:
		return fail("exited before it was ready", p.waitErr)
	case <-timer.C:
		return fail(fmt.Sprintf("no ready line within %v (Config.StartTimeout)", r.cfg.StartTimeout), context.DeadlineExceeded)
	case <-ctx.Done():
		return fail("gave up waiting for its ready line", ctx.Err())
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	select {
	case <-p.done:
		// Ended right after the ready line; read reported it in lastExit.
		return &StartError{Node: n.name, Reason: "exited right after it was ready", Fatal: p.fatal, Stderr: p.stderr.String(), Err: p.waitErr}
	default:
	}
	n.proc = p
	n.starts++
	n.lastExit = ""
	return nil
}

// read parses p's standard output until it ends, then reaps p.
func (r *Runtime) read(n *node, p *process, stdout io.Reader) {
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for sc.Scan() {
		var rep report
		if err := json.Unmarshal(sc.Bytes(), &rep); err != nil {
			continue // not a report: ignore it, as the JVM may print other lines
		}
		r.handle(n, p, &rep)
	}
	_, _ = io.Copy(io.Discard, stdout)
	err := p.cmd.Wait()
	r.mu.Lock()
	p.waitErr = err
	if n.proc == p && !p.stopping {
		n.proc = nil
		n.lastExit = fmt.Sprintf("exited on its own (%v)", err)
		if p.fatal != "" {
			n.lastExit += ": " + p.fatal
		}
	}
	r.mu.Unlock()
	close(p.done)
}

func (r *Runtime) handle(n *node, p *process, rep *report) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch rep.Event {
	case "ready":
		for _, e := range rep.Entries {
			der, err := base64.StdEncoding.DecodeString(e.Cert)
			if err != nil {
				continue
			}
			c, err := x509.ParseCertificate(der)
			if err != nil {
				continue
			}
			p.entries[keystore.CertFingerprint(c)] = c
		}
		if !p.isReady {
			p.isReady = true
			close(p.ready)
		}
	case "fatal":
		p.fatal = rep.Error
	case "request":
		fp, _ := keystore.ParseFingerprint(rep.SHA256)
		p.requests++
		p.lastError = rep.Error
		n.requests++
		r.requests++
		if rep.Status == 0 || rep.Status >= 400 {
			n.failures++
			r.failures++
			if len(r.failed) < r.cfg.MaxFailures {
				r.failed = append(r.failed, Failure{Node: n.name, Seq: rep.Seq, Status: rep.Status, Error: rep.Error,
					Presented: fp, Advertised: slices.Clone(rep.Issuers), Time: time.Now()})
			}
		}
		if rep.Asked {
			cp := *rep
			p.lastAsked = &cp
			if len(n.sequence) == 0 || n.sequence[len(n.sequence)-1] != fp {
				n.sequence = append(n.sequence, fp)
			}
			if !p.wasAsked {
				p.wasAsked = true
				close(p.asked)
			}
		}
	}
}

// Stop stops node's JVM: it closes the JVM's standard input, which ends
// it, and kills it if it has not exited after [Config.StopTimeout] (or
// when ctx is done). Stopping a stopped node is not an error.
func (r *Runtime) Stop(ctx context.Context, name string) error {
	n, err := r.node(name)
	if err != nil {
		return err
	}
	n.op.Lock()
	defer n.op.Unlock()
	return r.stop(ctx, n)
}

func (r *Runtime) stop(ctx context.Context, n *node) error {
	r.mu.Lock()
	p := n.proc
	if p == nil {
		r.mu.Unlock()
		return nil
	}
	p.stopping = true
	r.mu.Unlock()

	_ = p.stdin.Close()
	timer := time.NewTimer(r.cfg.StopTimeout)
	defer timer.Stop()
	var err error
	select {
	case <-p.done:
	case <-timer.C:
		_ = p.cmd.Process.Kill()
		<-p.done
	case <-ctx.Done():
		_ = p.cmd.Process.Kill()
		<-p.done
		err = fmt.Errorf("java: stopping node %q: killed it: %w", n.name, ctx.Err())
	}
	r.mu.Lock()
	n.proc = nil
	r.mu.Unlock()
	return err
}

// Restart stops and starts node, which then reads the keystore afresh.
func (r *Runtime) Restart(ctx context.Context, name string) error {
	n, err := r.node(name)
	if err != nil {
		return err
	}
	n.op.Lock()
	defer n.op.Unlock()
	if err := r.stop(ctx, n); err != nil {
		return err
	}
	return r.start(ctx, n)
}

// StartAll starts every stopped node, one after the other.
func (r *Runtime) StartAll(ctx context.Context) error {
	for _, name := range r.names {
		if err := r.Start(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

// Close stops every node and removes the runtime's directory if it created
// it. A closed runtime starts no node.
func (r *Runtime) Close() error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	var errs []error
	for _, name := range r.names {
		if err := r.Stop(context.Background(), name); err != nil {
			errs = append(errs, err)
		}
	}
	r.removeDir()
	return errors.Join(errs...)
}

// Presents returns the client certificate node presented in its latest
// handshake in which the server asked for one, and nil if node is stopped.
// A node started moments ago may not have made such a handshake yet:
// Presents then waits for its first report, up to [Config.ReportTimeout]
// or until ctx is done, and returns a [*NoReportError] if none comes. If
// the node presented no certificate (no key entry is issued by a CA name
// the server advertised), the error is a [*NoCertificateError].
func (r *Runtime) Presents(ctx context.Context, name string) (*x509.Certificate, error) {
	n, err := r.node(name)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	p := n.proc
	r.mu.Unlock()
	if p == nil {
		return nil, nil
	}
	timer := time.NewTimer(r.cfg.ReportTimeout)
	defer timer.Stop()
	var waitErr error
	select {
	case <-p.asked:
	case <-p.done:
	case <-timer.C:
		waitErr = fmt.Errorf("no report within %v (Config.ReportTimeout): %w", r.cfg.ReportTimeout, context.DeadlineExceeded)
	case <-ctx.Done():
		waitErr = ctx.Err()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if n.proc != p {
		return nil, nil // stopped meanwhile
	}
	rep := p.lastAsked
	if rep == nil {
		return nil, &NoReportError{Node: n.name, Requests: p.requests, LastError: p.lastError, Err: waitErr}
	}
	if rep.SHA256 == "" {
		var issuers []string
		for _, c := range p.entries {
			if s := c.Issuer.String(); !slices.Contains(issuers, s) {
				issuers = append(issuers, s)
			}
		}
		slices.Sort(issuers)
		return nil, &NoCertificateError{Node: n.name, Advertised: slices.Clone(rep.Issuers), Issuers: issuers, Err: rep.Error}
	}
	fp, err := keystore.ParseFingerprint(rep.SHA256)
	if err != nil {
		return nil, fmt.Errorf("java: node %q reported a malformed fingerprint %q: %w", n.name, rep.SHA256, err)
	}
	c, ok := p.entries[fp]
	if !ok {
		return nil, fmt.Errorf("java: node %q presented certificate %s, which is not among the key entries it reported at start", n.name, fp)
	}
	return c, nil
}

// Stats returns the request counts of every node so far.
func (r *Runtime) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Stats{Requests: r.requests, Failures: r.failures, Nodes: make(map[string]NodeStats, len(r.nodes))}
	for name, n := range r.nodes {
		ns := NodeStats{Requests: n.requests, Failures: n.failures, Starts: n.starts,
			Running: n.proc != nil, Sequence: slices.Clone(n.sequence), LastExit: n.lastExit}
		if n.proc != nil {
			ns.PID = n.proc.cmd.Process.Pid
		}
		s.Nodes[name] = ns
	}
	for _, f := range r.failed {
		f.Advertised = slices.Clone(f.Advertised)
		s.Failed = append(s.Failed, f)
	}
	return s
}

// boundedBuffer keeps the first max bytes written to it and drops the
// rest, so that a chatty JVM cannot fill the memory.
type boundedBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *boundedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
