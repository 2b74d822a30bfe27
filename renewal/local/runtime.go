package local

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal"
)

// StoppedPolicy says what happens to the messages a stopped node's flow
// would have sent.
type StoppedPolicy int

const (
	// StoppedFails counts every message that falls due while its node is
	// stopped as sent and failed, with [ErrNodeStopped]: the flow's
	// trigger keeps firing and message processing fails during the
	// downtime, as the reference warns. It is the zero StoppedPolicy, so
	// that a downtime shows up in [Stats].
	StoppedFails StoppedPolicy = iota
	// StoppedIdle produces no messages while a node is stopped, as if the
	// flow's trigger stopped with it; a downtime then shows up only as
	// fewer messages.
	StoppedIdle
)

// String returns "fails" or "idle".
func (p StoppedPolicy) String() string {
	switch p {
	case StoppedFails:
		return "fails"
	case StoppedIdle:
		return "idle"
	}
	return fmt.Sprintf("StoppedPolicy(%d)", int(p))
}

// RuntimeConfig configures a [Runtime]. Keystore, Alias and URL are
// required; the zero value of every other field is documented.
type RuntimeConfig struct {
	// Nodes is the number of runtime nodes, named "node-1" to "node-N".
	// Zero means 2: a cluster, where restarting the flow on only one node
	// is the mistake the reference warns about.
	Nodes int

	// Keystore is the path of the tenant's client keystore (JKS or
	// PKCS#12, told apart by content).
	Keystore string
	// KeystorePassword is the keystore's password. The runtime keeps a
	// copy. Nil is the empty password.
	KeystorePassword []byte
	// KeyPassword protects the key entry under Alias, if it differs from
	// the keystore password. Nil means KeystorePassword.
	KeyPassword []byte
	// Alias is the key entry whose certificate the nodes present.
	Alias string

	// URL is the receiver's URL, such as the one [Receiver.Start] returns.
	URL string
	// ServerRoot is the root the nodes trust for the receiver's server
	// certificate, such as [Receiver.ServerRoot]. Nil means the system
	// roots.
	ServerRoot *x509.Certificate

	// Rate is how many messages each node's flow sends per second in
	// [Runtime.Run]. Zero means 100. Pacing uses the wall clock.
	Rate float64
	// MaxMessages is how many messages each node's flow sends in one
	// [Runtime.Run] (including those that fail while the node is stopped,
	// under [StoppedFails]); messages skipped because the node fell behind
	// ([Stats.Skipped]) are counted apart and do not use up the number, so
	// that a bounded run under StoppedFails sends Nodes × MaxMessages
	// however fast the machine is. Under [StoppedIdle] the messages a
	// stopped node does not produce use up their turns. Zero means no
	// limit: Run sends until its context is done.
	MaxMessages int
	// WhileStopped says what happens to the messages due while a node is
	// stopped. The zero value, [StoppedFails], counts them as failed.
	WhileStopped StoppedPolicy
	// Timeout bounds each request, handshake included. Zero means 5 s.
	Timeout time.Duration
	// MaxFailures is how many failures [Stats.Failures] keeps in detail;
	// later ones are only counted. Zero means 1000.
	MaxFailures int

	// Now is the clock at which the nodes verify the receiver's server
	// certificate. Nil means time.Now. It does not pace messages or date
	// failures, which use the wall clock.
	Now func() time.Time
}

// Runtime is an in-process [renewal.Runtime]: nodes whose flows send HTTPS
// requests with the tenant's client certificate, and which cache their TLS
// configuration the way the real runtime does.
//
// A node reads the keystore when it starts and keeps the key and
// certificate until it is stopped: the runtime's SSL socket caches the
// keystore for 24 hours, so a node presents a replaced certificate only
// after a restart. [Runtime.Run] makes every node's flow send messages at
// a steady rate, each over a new connection (keep-alives are off), so that
// every message runs a full handshake and the receiver's trust at that
// moment decides. [Runtime.Stats] counts messages sent, failed and skipped.
//
// Nodes start stopped; start them with [Runtime.Start] or
// [Runtime.StartAll]. A Runtime is safe for concurrent use.
type Runtime struct {
	cfg   RuntimeConfig
	names []string

	mu                   sync.Mutex // guards everything below and every node's fields
	idle                 *sync.Cond // signalled on mu when a message finishes
	nodes                map[string]*node
	failures             []Failure
	total, fail, skipped int
}

var _ renewal.Runtime = (*Runtime)(nil)

// node is one runtime node. Its fields are guarded by Runtime.mu.
type node struct {
	name        string
	running     bool
	skipRestart bool
	leaf        *x509.Certificate // the cached certificate; nil when stopped
	client      *http.Client      // built at start from the cached configuration
	transport   *http.Transport
	inflight    int // messages on the way

	total, failed, skipped int
	presented              map[string]int
	sequence               []string
}

// Failure is one message that failed.
type Failure struct {
	// Node names the node whose flow sent the message.
	Node string
	// Time is when the message was due, by the wall clock.
	Time time.Time
	// At is when it failed: when the node found its flow stopped, or when
	// the request returned. It is later than Time when the node was
	// behind its schedule.
	At time.Time
	// Fingerprint is the SHA-256 fingerprint (lower-case hex) of the
	// client certificate the node presented, or "" if it was stopped.
	Fingerprint string
	// Err says why the message failed: [ErrNodeStopped], or the error of
	// the request (a refused handshake, a timeout, a status other than 200).
	Err error
}

// NodeStats counts one node's messages.
type NodeStats struct {
	// Total is the number of messages the node's flow sent (or, while it
	// was stopped under [StoppedFails], would have sent).
	Total int
	// Failed is the number of those that failed.
	Failed int
	// Skipped is the number of messages that fell due but were not sent;
	// see [Stats.Skipped].
	Skipped int
	// Presented maps the SHA-256 fingerprint (lower-case hex) of each
	// client certificate the node presented to the number of messages it
	// sent with it, failed or not.
	Presented map[string]int
	// Sequence lists the SHA-256 fingerprints (lower-case hex) of the
	// client certificates the node presented, in the order its messages
	// presented them, one entry per run of messages with the same
	// certificate: a node restarted once in a renewal has the old
	// certificate's fingerprint, then the new one's. Messages due while
	// the node was stopped present nothing and add nothing.
	Sequence []string
	// Running reports whether the node is running now.
	Running bool
}

// Stats counts the messages of every node. Each count covers everything
// since [NewRuntime], across calls of [Runtime.Run].
//
// The zero value counts nothing.
type Stats struct {
	// Total is the number of messages sent, over all nodes (under
	// [StoppedFails], including those due while a node was stopped).
	Total int
	// Failed is the number of those that failed.
	Failed int
	// Skipped is the number of messages that fell due but were not sent:
	// a node more than 100 ms behind its schedule (slow handshakes, a busy
	// machine) skips the messages it owes instead of sending them in a
	// burst, and messages that fell due while the last one was on the way
	// when the run ended are not sent. Every message that falls due is
	// counted once, as sent (Total, failed or not) or skipped, so Total /
	// elapsed time is the rate achieved and Total + Skipped what was asked
	// for.
	Skipped int
	// Failures lists the first [RuntimeConfig.MaxFailures] failures in the
	// order they were recorded.
	Failures []Failure
	// PerNode has the counts of each node, by name.
	PerNode map[string]NodeStats
}

// Due returns the number of messages that fell due, over all nodes: Total
// + Skipped.
func (s Stats) Due() int { return s.Total + s.Skipped }

// NewRuntime returns a runtime with cfg.Nodes stopped nodes. It checks the
// configuration but reads no file: each node reads the keystore when it
// starts.
func NewRuntime(cfg RuntimeConfig) (*Runtime, error) {
	switch {
	case cfg.Keystore == "":
		return nil, errors.New("local: RuntimeConfig.Keystore: want a file path, got none")
	case cfg.Alias == "":
		return nil, errors.New("local: RuntimeConfig.Alias: want a key entry's alias, got none")
	case cfg.URL == "":
		return nil, errors.New("local: RuntimeConfig.URL: want the receiver's URL, got none")
	case cfg.Nodes < 0:
		return nil, fmt.Errorf("local: RuntimeConfig.Nodes: want a positive number, got %d", cfg.Nodes)
	case cfg.Rate < 0 || math.IsNaN(cfg.Rate) || math.IsInf(cfg.Rate, 0):
		return nil, fmt.Errorf("local: RuntimeConfig.Rate: want a positive number of messages per second, got %v", cfg.Rate)
	case cfg.MaxMessages < 0:
		return nil, fmt.Errorf("local: RuntimeConfig.MaxMessages: want zero or more, got %d", cfg.MaxMessages)
	case cfg.WhileStopped != StoppedFails && cfg.WhileStopped != StoppedIdle:
		return nil, fmt.Errorf("local: RuntimeConfig.WhileStopped: want StoppedFails or StoppedIdle, got %v", cfg.WhileStopped)
	case cfg.Timeout < 0:
		return nil, fmt.Errorf("local: RuntimeConfig.Timeout: want zero or more, got %v", cfg.Timeout)
	case cfg.MaxFailures < 0:
		return nil, fmt.Errorf("local: RuntimeConfig.MaxFailures: want zero or more, got %d", cfg.MaxFailures)
	}
	if cfg.Nodes == 0 {
		cfg.Nodes = 2
	}
	if cfg.Rate == 0 {
		cfg.Rate = 100
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.MaxFailures == 0 {
		cfg.MaxFailures = 1000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.KeystorePassword = bytes.Clone(cfg.KeystorePassword)
	if cfg.KeystorePassword == nil {
		cfg.KeystorePassword = []byte{}
	}
	if cfg.KeyPassword == nil {
		cfg.KeyPassword = cfg.KeystorePassword
	} else {
		cfg.KeyPassword = bytes.Clone(cfg.KeyPassword)
	}
	rt := &Runtime{cfg: cfg, nodes: make(map[string]*node, cfg.Nodes)}
	rt.idle = sync.NewCond(&rt.mu)
	for i := 1; i <= cfg.Nodes; i++ {
		name := fmt.Sprintf("node-%d", i)
		rt.names = append(rt.names, name)
		rt.nodes[name] = &node{name: name, presented: make(map[string]int)}
	}
	return rt, nil
}

// Nodes returns the node names, "node-1" to "node-N".
func (rt *Runtime) Nodes(ctx context.Context) ([]string, error) {
	return slices.Clone(rt.names), nil
}

func (rt *Runtime) node(name string) (*node, error) {
	n, ok := rt.nodes[name]
	if !ok {
		return nil, fmt.Errorf("%w %q: the runtime has %s", ErrUnknownNode, name, rt.nodeList())
	}
	return n, nil
}

func (rt *Runtime) nodeList() string {
	if len(rt.names) == 1 {
		return rt.names[0]
	}
	return fmt.Sprintf("%s to %s", rt.names[0], rt.names[len(rt.names)-1])
}

// Start starts the flow on the node: it reads the keystore, builds the
// node's HTTPS client from the key entry under the alias, and caches it
// until the node stops. Starting a running node does nothing (it keeps
// its cached configuration), and so does starting a node marked with
// [Runtime.SkipRestart]. If the keystore cannot be read or the alias
// holds no key entry, the node stays stopped and the error says why.
func (rt *Runtime) Start(ctx context.Context, name string) error {
	n, err := rt.node(name)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	rt.mu.Lock()
	running, skip := n.running, n.skipRestart
	rt.mu.Unlock()
	if running || skip {
		return nil
	}
	leaf, transport, err := rt.load()
	if err != nil {
		return fmt.Errorf("local: starting %s: %w", name, err)
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if n.running { // started meanwhile by another call
		transport.CloseIdleConnections()
		return nil
	}
	rt.use(n, leaf, transport)
	return nil
}

// use makes n run with the configuration load returned, dropping the one
// it cached. The caller holds rt.mu.
func (rt *Runtime) use(n *node, leaf *x509.Certificate, transport *http.Transport) {
	if n.transport != nil {
		n.transport.CloseIdleConnections()
	}
	n.running, n.leaf, n.transport = true, leaf, transport
	n.client = &http.Client{Transport: transport, Timeout: rt.cfg.Timeout}
}

// StartAll starts every node, as [Runtime.Start] does, and returns the
// errors of those that did not start, joined.
func (rt *Runtime) StartAll(ctx context.Context) error {
	var errs []error
	for _, name := range rt.names {
		errs = append(errs, rt.Start(ctx, name))
	}
	return errors.Join(errs...)
}

// Stop stops the flow on the node and drops its cached configuration. It
// returns once the messages the node had on the way have finished (each
// bounded by [RuntimeConfig.Timeout]), so that a receiver changed after
// Stop returns sees no more traffic from the node; messages due later are
// handled as [RuntimeConfig.WhileStopped] says. Stopping a stopped node
// does nothing.
func (rt *Runtime) Stop(ctx context.Context, name string) error {
	n, err := rt.node(name)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if !n.running {
		return nil
	}
	n.transport.CloseIdleConnections()
	n.running, n.leaf, n.client, n.transport = false, nil, nil, nil
	for n.inflight > 0 {
		rt.idle.Wait()
	}
	return nil
}

// Restart stops and starts the flow on the node, so that it reads the
// keystore afresh; a stopped node is started. The new configuration
// replaces the cached one at once, so no message falls due while the node
// is down: messages on the way finish with the old certificate, the next
// one presents the new. If the keystore cannot be read, the node is left
// stopped (as a flow that fails to start) and the error says why.
//
// A node marked with [Runtime.SkipRestart] is left exactly as it is and
// Restart returns nil, as when a person restarts the flow on some nodes
// and forgets one.
func (rt *Runtime) Restart(ctx context.Context, name string) error {
	n, err := rt.node(name)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	rt.mu.Lock()
	skip := n.skipRestart
	rt.mu.Unlock()
	if skip {
		return nil
	}
	leaf, transport, err := rt.load()
	if err != nil {
		if serr := rt.Stop(ctx, name); serr != nil {
			return errors.Join(fmt.Errorf("local: restarting %s: %w", name, err), serr)
		}
		return fmt.Errorf("local: restarting %s: %w", name, err)
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.use(n, leaf, transport)
	return nil
}

// SkipRestart makes the node one the integration developer forgets: every
// later [Runtime.Restart] and [Runtime.Start] of the node does nothing, so
// that a running node keeps presenting the certificate it cached (the
// overlap sequence restarts running nodes) and a stopped node stays
// stopped (the downtime sequence stops every node, then starts them
// again). [Runtime.Stop] still stops it. A renewal's check that every node
// presents the new certificate must then fail and name this node. Mark a
// node after starting it.
func (rt *Runtime) SkipRestart(name string) error {
	n, err := rt.node(name)
	if err != nil {
		return err
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	n.skipRestart = true
	return nil
}

// Presents returns the client certificate the node presents now (the one
// it cached when it started), or nil if it is stopped.
func (rt *Runtime) Presents(ctx context.Context, name string) (*x509.Certificate, error) {
	n, err := rt.node(name)
	if err != nil {
		return nil, err
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return n.leaf, nil
}

// load reads the key entry from the keystore and builds the HTTPS
// transport a node caches.
func (rt *Runtime) load() (*x509.Certificate, *http.Transport, error) {
	ks, err := keystore.Open(rt.cfg.Keystore, rt.cfg.KeystorePassword,
		&keystore.StoreOptions{KeyPasswords: map[string][]byte{rt.cfg.Alias: rt.cfg.KeyPassword}})
	if err != nil {
		return nil, nil, err
	}
	e, err := ks.Entry(rt.cfg.Alias)
	if err != nil {
		return nil, nil, err
	}
	if e.Kind() != keystore.KeyEntry {
		return nil, nil, fmt.Errorf("%w: alias %q in %s holds a trusted certificate; a client certificate needs a key entry",
			keystore.ErrNotKeyEntry, rt.cfg.Alias, rt.cfg.Keystore)
	}
	cert := &tls.Certificate{PrivateKey: e.Key, Leaf: e.Chain[0]}
	for _, c := range e.Chain {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	var roots *x509.CertPool
	if rt.cfg.ServerRoot != nil {
		roots = x509.NewCertPool()
		roots.AddCert(rt.cfg.ServerRoot)
	}
	transport := &http.Transport{
		TLSClientConfig: &tls.Config{
			// The configured alias is presented whatever issuers the
			// server asks for, as a runtime configured with an alias does;
			// the receiver decides.
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil },
			RootCAs:              roots,
			MinVersion:           tls.VersionTLS12,
			Time:                 rt.cfg.Now,
		},
		// A new connection, and so a full handshake, per message.
		DisableKeepAlives:   true,
		TLSHandshakeTimeout: rt.cfg.Timeout,
	}
	return e.Chain[0], transport, nil
}

// Run makes every node's flow send messages to the receiver, each at
// [RuntimeConfig.Rate] per second on a schedule that starts when Run is
// called, until ctx is done or [RuntimeConfig.MaxMessages] messages have
// fallen due on each, and returns the statistics then. Messages on the
// way when ctx is done finish (bounded by [RuntimeConfig.Timeout]) and
// are counted. A node sends one message at a time; if it falls behind
// its schedule (slow handshakes, a busy machine), it sends the messages
// it owes at once while it is at most 100 ms behind, and otherwise skips
// every message already due and goes on with the next one on the
// schedule. Skipped messages are counted ([Stats.Skipped]), so that the
// statistics show the rate achieved next to the rate asked for.
//
// Run does not start nodes; messages due on a stopped node are handled as
// [RuntimeConfig.WhileStopped] says. Run is meant to run once at a time,
// usually in its own goroutine while a renewal proceeds.
func (rt *Runtime) Run(ctx context.Context) Stats {
	interval := time.Duration(float64(time.Second) / rt.cfg.Rate)
	if interval <= 0 {
		interval = 1 // a rate above 10⁹ per second: every message is due at once
	}
	var wg sync.WaitGroup
	for _, name := range rt.names {
		n := rt.nodes[name]
		wg.Go(func() { rt.flow(ctx, n, interval) })
	}
	wg.Wait()
	return rt.Stats()
}

// flow is node n's part of [Runtime.Run]: the message in turn k falls
// due at start + k × interval.
func (rt *Runtime) flow(ctx context.Context, n *node, interval time.Duration) {
	start := time.Now()
	due := func(k int) time.Time { return start.Add(time.Duration(k) * interval) }
	// owed returns how many turns from k on are due by now.
	owed := func(k int) int {
		late := time.Since(due(k))
		if late < 0 {
			return 0
		}
		return int(late/interval) + 1
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for k, sent := 0, 0; rt.cfg.MaxMessages == 0 || sent < rt.cfg.MaxMessages; {
		if ctx.Err() != nil {
			// The messages that fell due while the last one was on the
			// way are not sent: skipped.
			rt.skip(n, owed(k))
			return
		}
		if time.Since(due(k)) > maxLag {
			// Too far behind: the messages owed are not sent in a burst,
			// which would also date them wrongly (a burst after a Stop
			// would fail messages that fell due before it). They are
			// counted as skipped, and the node goes on with the next
			// message on its schedule.
			o := owed(k)
			rt.skip(n, o)
			k += o
			continue
		}
		if d := time.Until(due(k)); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				return // the message in turn k is not due yet
			case <-timer.C:
			}
		}
		rt.send(n, due(k))
		k++
		sent++
	}
}

// maxLag is how far behind its schedule a node's flow may fall before it
// skips the messages it owes instead of sending them at once.
const maxLag = 100 * time.Millisecond

// skip counts k messages of node n as skipped. Under [StoppedIdle] a
// stopped node produces no messages, so none is skipped.
func (rt *Runtime) skip(n *node, k int) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if k <= 0 || (!n.running && rt.cfg.WhileStopped == StoppedIdle) {
		return
	}
	rt.skipped += k
	n.skipped += k
}

// send sends one message from node n, due at due.
func (rt *Runtime) send(n *node, due time.Time) {
	rt.mu.Lock()
	running, client, leaf := n.running, n.client, n.leaf
	if running {
		n.inflight++
	}
	rt.mu.Unlock()
	if !running {
		if rt.cfg.WhileStopped == StoppedFails {
			rt.record(n, due, time.Now(), "", ErrNodeStopped)
		}
		return
	}
	err := rt.request(client)
	rt.record(n, due, time.Now(), keystore.CertFingerprint(leaf).Hex(), err)
	rt.mu.Lock()
	n.inflight--
	rt.mu.Unlock()
	rt.idle.Broadcast()
}

// request sends one GET to the receiver and checks for a 200.
func (rt *Runtime) request(client *http.Client) error {
	resp, err := client.Get(rt.cfg.URL)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	// The receiver answers with one line; 4 KiB bounds a wrong server.
	_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("local: receiver answered %q, want 200", resp.Status)
	}
	if err != nil {
		return fmt.Errorf("local: reading the receiver's answer: %w", err)
	}
	return nil
}

// record counts one message.
func (rt *Runtime) record(n *node, due, at time.Time, fp string, err error) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.total++
	n.total++
	if fp != "" {
		n.presented[fp]++
		if len(n.sequence) == 0 || n.sequence[len(n.sequence)-1] != fp {
			n.sequence = append(n.sequence, fp)
		}
	}
	if err == nil {
		return
	}
	rt.fail++
	n.failed++
	if len(rt.failures) < rt.cfg.MaxFailures {
		rt.failures = append(rt.failures, Failure{Node: n.name, Time: due, At: at, Fingerprint: fp, Err: err})
	}
}

// Stats returns the counts so far; see [Stats].
func (rt *Runtime) Stats() Stats {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	s := Stats{
		Total:    rt.total,
		Failed:   rt.fail,
		Skipped:  rt.skipped,
		Failures: slices.Clone(rt.failures),
		PerNode:  make(map[string]NodeStats, len(rt.nodes)),
	}
	for name, n := range rt.nodes {
		p := make(map[string]int, len(n.presented))
		for k, v := range n.presented {
			p[k] = v
		}
		s.PerNode[name] = NodeStats{Total: n.total, Failed: n.failed, Skipped: n.skipped, Presented: p,
			Sequence: slices.Clone(n.sequence), Running: n.running}
	}
	return s
}
