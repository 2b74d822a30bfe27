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
	"strings"
	"sync"
	"time"

	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal"
)

// RuntimeConfig configures a [Runtime]. Keystore, Alias and Receiver are
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
	// the keystore password; the other key entries are tried with the
	// keystore password and then with it, as Java's key manager reads
	// every key with one password. Nil means KeystorePassword.
	KeyPassword []byte
	// Alias is the key entry whose certificate the nodes prefer to
	// present. A node offers the certificate of a key entry whose issuer
	// the receiver advertises, as Java's default key manager does (see
	// [Runtime]); when several qualify, it offers the one under Alias.
	// Alias must hold a key entry.
	Alias string

	// Receiver is the receiver the nodes send their messages to, at the
	// URL it serves at when a message is sent ([Receiver.Start]; a
	// message sent while it is not serving fails). The nodes trust its
	// server certificate's root and verify that certificate at its clock
	// ([ReceiverConfig.Now]).
	Receiver *Receiver

	// Rate is how many messages each node's flow sends per second in
	// [Runtime.Run]. Zero means 100. Pacing uses the wall clock.
	Rate float64
	// MaxMessages is how many messages each node's flow sends in one
	// [Runtime.Run] (including those that fail while the node is
	// stopped); messages skipped because the node fell behind
	// ([Stats.Skipped]) are counted apart and do not use up the number, so
	// that a bounded run sends Nodes × MaxMessages however fast the
	// machine is. Zero means no limit: Run sends until its context is
	// done.
	MaxMessages int
}

// Settings of a [Runtime] that only the package's tests change.
const (
	// requestTimeout bounds each request, handshake included.
	requestTimeout = 5 * time.Second
	// maxFailures is how many failures [Stats.Failures] keeps in detail;
	// later ones are only counted. It is large enough for every failure of
	// a downtime window at the examples' rates, and bounds the memory a
	// long run with a broken receiver takes (about 100 bytes each).
	maxFailures = 100_000
)

// Runtime is an in-process [renewal.Runtime]: nodes whose flows send HTTPS
// requests with the tenant's client certificate, and which cache their TLS
// configuration the way the real runtime does.
//
// A node reads the keystore when it starts and keeps its key entries until
// it is stopped: the runtime's SSL socket caches the keystore for 24 hours,
// so a node presents a replaced certificate only after a restart.
//
// In each handshake a node chooses the certificate it presents as Java's
// default key manager (SunX509) does: it offers a key entry whose chain has
// an issuer among the certificate authority names the server advertises in
// its CertificateRequest (any entry when the server advertises none),
// preferring [RuntimeConfig.Alias] when several qualify. When none
// qualifies it sends no certificate, the receiver refuses the handshake,
// and the message fails with an error wrapping [ErrNoCertificate] that
// lists the names advertised. A receiver that trusts a new root without
// advertising it ([Receiver.AdvertiseOnly], HAProxy 2.6 updated through its
// runtime API) therefore fails every node that holds only the new
// certificate, however well it would verify it.
//
// [Runtime.Run] makes every node's flow send messages at a steady rate,
// each over a new connection (keep-alives are off), so that every message
// runs a full handshake and the receiver's trust and advertised names at
// that moment decide. [Runtime.Stats] counts messages sent, failed and skipped.
//
// Nodes start stopped; start them with [Runtime.Start] or
// [Runtime.StartAll]. A Runtime is safe for concurrent use.
type Runtime struct {
	cfg   RuntimeConfig
	names []string

	// Where the nodes send, and how: from cfg.Receiver, and changed only
	// by the package's tests before the nodes start.
	url         string            // "" means the URL cfg.Receiver serves at
	serverRoot  *x509.Certificate // nil means the system roots
	now         func() time.Time  // the clock at which the server's certificate is verified
	timeout     time.Duration
	maxFailures int
	// idleWhileStopped makes a stopped node produce no messages, as if
	// the flow's trigger stopped with it, instead of counting every
	// message due while it is stopped as failed with [ErrNodeStopped].
	idleWhileStopped bool

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
	keys        *keyManager // the cached key entries; nil when stopped
	inflight    int         // messages on the way

	total, failed, skipped int
	presented              map[string]int
	sequence               []string
}

// Failure is one message that failed.
type Failure struct {
	// Node names the node whose flow sent the message.
	Node string
	// At is when it failed, by the wall clock: when the node found its
	// flow stopped, or when the request returned.
	At time.Time
	// Fingerprint is the SHA-256 fingerprint (lower-case hex) of the
	// client certificate the node presented, or "" if it presented none:
	// it was stopped, no key entry's issuer was among the names the
	// server advertised, or the connection failed before the server asked.
	Fingerprint string
	// Err says why the message failed: [ErrNodeStopped], an error
	// wrapping [ErrNoCertificate], or the error of the request (a refused
	// handshake, a timeout, a status other than 200).
	Err error
}

// Stats counts messages: those of every node, as [Runtime.Stats] and
// [Runtime.Run] return them, or those of one node, an entry of PerNode.
// Each count covers everything since [NewRuntime], across calls of
// [Runtime.Run].
//
// The zero value counts nothing.
type Stats struct {
	// Total is the number of messages sent (including those due while a
	// node was stopped, which fail with [ErrNodeStopped]).
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

	// Presented maps the SHA-256 fingerprint (lower-case hex) of each
	// client certificate a node presented to the number of messages it
	// sent with it, failed or not; a message that presented none (see
	// [Failure.Fingerprint]) adds nothing. It is set in an entry of PerNode
	// only (nil in the runtime's total).
	Presented map[string]int
	// Sequence lists the SHA-256 fingerprints (lower-case hex) of the
	// client certificates a node presented, in the order its messages
	// presented them, one entry per run of messages with the same
	// certificate: a node restarted once in a renewal has the old
	// certificate's fingerprint, then the new one's. Messages due while
	// the node was stopped present nothing and add nothing. It is set in
	// an entry of PerNode only (nil in the runtime's total).
	Sequence []string

	// Failures lists the first 100 000 failures of every node in the order
	// they were recorded; later ones are only counted. It is set in the
	// runtime's total only (nil in an entry of PerNode).
	Failures []Failure
	// PerNode has the counts of each node, by name. It is set in the
	// runtime's total only.
	PerNode map[string]Stats
}

// NewRuntime returns a runtime with cfg.Nodes stopped nodes. It checks the
// configuration but reads no file: each node reads the keystore when it
// starts.
func NewRuntime(cfg RuntimeConfig) (*Runtime, error) {
	switch {
	case cfg.Keystore == "":
		return nil, errors.New("local: RuntimeConfig.Keystore: want a file path, got none")
	case cfg.Alias == "":
		return nil, errors.New("local: RuntimeConfig.Alias: want a key entry's alias, got none")
	case cfg.Receiver == nil:
		return nil, errors.New("local: RuntimeConfig.Receiver: want the receiver the nodes send to, got none")
	case cfg.Nodes < 0:
		return nil, fmt.Errorf("local: RuntimeConfig.Nodes: want a positive number, got %d", cfg.Nodes)
	case cfg.Rate < 0 || math.IsNaN(cfg.Rate) || math.IsInf(cfg.Rate, 0):
		return nil, fmt.Errorf("local: RuntimeConfig.Rate: want a positive number of messages per second, got %v", cfg.Rate)
	case cfg.MaxMessages < 0:
		return nil, fmt.Errorf("local: RuntimeConfig.MaxMessages: want zero or more, got %d", cfg.MaxMessages)
	}
	if cfg.Nodes == 0 {
		cfg.Nodes = 2
	}
	if cfg.Rate == 0 {
		cfg.Rate = 100
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
	rt := &Runtime{cfg: cfg, nodes: make(map[string]*node, cfg.Nodes),
		serverRoot: cfg.Receiver.server.Root, now: cfg.Receiver.cfg.Now,
		timeout: requestTimeout, maxFailures: maxFailures}
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
		return nil, fmt.Errorf("%w %q: the runtime has %s", errUnknownNode, name, rt.nodeList())
	}
	return n, nil
}

func (rt *Runtime) nodeList() string {
	if len(rt.names) == 1 {
		return rt.names[0]
	}
	return fmt.Sprintf("%s to %s", rt.names[0], rt.names[len(rt.names)-1])
}

// Start starts the flow on the node: it reads the keystore and caches its
// key entries until the node stops. Starting a running node does nothing
// (it keeps its cached configuration), and so does starting a node marked
// with [Runtime.SkipRestart]. If the keystore cannot be read, the alias holds
// no key entry, or another key entry's key cannot be read (Java's key
// manager reads every key entry, and fails too), the node stays stopped
// and the error says why.
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
	km, err := rt.load()
	if err != nil {
		return fmt.Errorf("local: starting %s: %w", name, err)
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if n.running { // started meanwhile by another call
		return nil
	}
	n.running, n.keys = true, km
	return nil
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
// bounded by a timeout of 5 s), so that a receiver changed after Stop
// returns sees no more traffic from the node; messages due later fail
// with [ErrNodeStopped]. Stopping a stopped node
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
	n.running, n.keys = false, nil
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
	km, err := rt.load()
	if err != nil {
		if serr := rt.Stop(ctx, name); serr != nil {
			return errors.Join(fmt.Errorf("local: restarting %s: %w", name, err), serr)
		}
		return fmt.Errorf("local: restarting %s: %w", name, err)
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	old := n.keys
	n.running, n.keys = true, km
	// Messages on the way with the key entries the node cached before
	// finish before Restart returns, as Stop waits for its own: until their
	// handshakes reach the receiver it cannot know of them (the drain gate
	// asks it), and removing the old certificate would cut them off.
	for old != nil && old.inflight > 0 {
		rt.idle.Wait()
	}
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

// Presents returns the client certificate the node presents now: the one
// its key manager chooses, among the key entries it cached when it
// started, for the CA names the receiver advertises now (see [Runtime]),
// or nil if the node is stopped. If no entry qualifies, the node presents
// none and the error wraps [ErrNoCertificate], naming the advertised
// names; if the receiver cannot read its files, the error says so.
func (rt *Runtime) Presents(ctx context.Context, name string) (*x509.Certificate, error) {
	n, err := rt.node(name)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rt.mu.Lock()
	km := n.keys
	rt.mu.Unlock()
	if km == nil {
		return nil, nil
	}
	names, err := rt.cfg.Receiver.advertised()
	if err != nil {
		return nil, fmt.Errorf("local: cannot tell which certificate %s presents: %w", name, err)
	}
	e := km.choose(names)
	if e == nil {
		return nil, km.noneMatches(name, names)
	}
	return e.chain[0], nil
}

// load reads every key entry from the keystore, the one under the alias
// first, for the key manager a node caches.
func (rt *Runtime) load() (*keyManager, error) {
	ks, err := keystore.Open(rt.cfg.Keystore, rt.cfg.KeystorePassword,
		&keystore.StoreOptions{
			KeyPasswords: map[string][]byte{rt.cfg.Alias: rt.cfg.KeyPassword},
			// Java's key manager reads every key with one password: the
			// other entries are tried with the key password too.
			DefaultKeyPassword: rt.cfg.KeyPassword,
		})
	if err != nil {
		return nil, err
	}
	e, err := ks.Entry(rt.cfg.Alias)
	if err != nil {
		return nil, err
	}
	if e.Key == nil || len(e.Chain) == 0 {
		return nil, fmt.Errorf("%w: alias %q in %s holds a trusted certificate; a client certificate needs a key entry",
			keystore.ErrNotKeyEntry, rt.cfg.Alias, rt.cfg.Keystore)
	}
	km := &keyManager{keystore: rt.cfg.Keystore, entries: []keyEntry{newKeyEntry(e)}}
	for _, a := range ks.Aliases() {
		if strings.EqualFold(a, rt.cfg.Alias) {
			continue
		}
		o, err := ks.Entry(a)
		if err != nil {
			return nil, fmt.Errorf("local: key entry %q in %s, which the key manager reads with the others: %w", a, rt.cfg.Keystore, err)
		}
		if o.Key == nil || len(o.Chain) == 0 {
			continue // a trusted certificate or a secret key: not a client certificate
		}
		km.entries = append(km.entries, newKeyEntry(o))
	}
	return km, nil
}

// newKeyEntry makes the key manager's entry for a key entry of the
// keystore.
func newKeyEntry(e *keystore.Entry) keyEntry {
	cert := &tls.Certificate{PrivateKey: e.Key, Leaf: e.Chain[0]}
	for _, c := range e.Chain {
		cert.Certificate = append(cert.Certificate, c.Raw)
	}
	return keyEntry{alias: e.Alias, chain: e.Chain, cert: cert}
}

// Run makes every node's flow send messages to the receiver, each at
// [RuntimeConfig.Rate] per second on a schedule that starts when Run is
// called, until ctx is done or [RuntimeConfig.MaxMessages] messages have
// fallen due on each, and returns the statistics then. Messages on the
// way when ctx is done finish (each bounded by a timeout of 5 s) and
// are counted. A node sends one message at a time; if it falls behind
// its schedule (slow handshakes, a busy machine), it sends the messages
// it owes at once while it is at most 100 ms behind, and otherwise skips
// every message already due and goes on with the next one on the
// schedule. Skipped messages are counted ([Stats.Skipped]), so that the
// statistics show the rate achieved next to the rate asked for.
//
// Run does not start nodes; messages due on a stopped node are sent and
// fail with [ErrNodeStopped]. Run is meant to run once at a time,
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
		rt.send(n)
		k++
		sent++
	}
}

// maxLag is how far behind its schedule a node's flow may fall before it
// skips the messages it owes instead of sending them at once.
const maxLag = 100 * time.Millisecond

// skip counts k messages of node n as skipped. Under idleWhileStopped a
// stopped node produces no messages, so none is skipped.
func (rt *Runtime) skip(n *node, k int) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if k <= 0 || (!n.running && rt.idleWhileStopped) {
		return
	}
	rt.skipped += k
	n.skipped += k
}

// send sends one message from node n, due now.
func (rt *Runtime) send(n *node) {
	rt.mu.Lock()
	running, km := n.running, n.keys
	if running {
		n.inflight++
		km.inflight++
	}
	rt.mu.Unlock()
	if !running {
		if !rt.idleWhileStopped {
			rt.record(n, time.Now(), "", ErrNodeStopped)
		}
		return
	}
	presented, err := rt.request(n.name, km)
	fp := ""
	if presented != nil {
		fp = keystore.CertFingerprint(presented).Hex()
	}
	rt.record(n, time.Now(), fp, err)
	rt.mu.Lock()
	n.inflight--
	km.inflight--
	rt.mu.Unlock()
	rt.idle.Broadcast()
}

// handshake is what a node's key manager saw and chose in one handshake.
type handshake struct {
	mu     sync.Mutex
	asked  bool
	names  [][]byte
	chosen *keyEntry
}

// request sends one GET from the node holding km to the receiver, over a
// new connection, checks for a 200, and returns the certificate the node
// presented (nil if none).
func (rt *Runtime) request(node string, km *keyManager) (*x509.Certificate, error) {
	url := rt.url
	if url == "" {
		url = rt.cfg.Receiver.serving()
	}
	if url == "" {
		return nil, errors.New("local: the receiver is not serving (it was not started, or it was closed)")
	}
	var roots *x509.CertPool
	if rt.serverRoot != nil {
		roots = x509.NewCertPool()
		roots.AddCert(rt.serverRoot)
	}
	hs := &handshake{}
	transport := &http.Transport{
		TLSClientConfig: &tls.Config{
			GetClientCertificate: func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
				e := km.choose(cri.AcceptableCAs)
				hs.mu.Lock()
				defer hs.mu.Unlock()
				hs.asked, hs.names, hs.chosen = true, cri.AcceptableCAs, e
				if e == nil {
					// No certificate, as a Java client sends none: the
					// server decides what that means.
					return &tls.Certificate{}, nil
				}
				return e.cert, nil
			},
			RootCAs:    roots,
			MinVersion: tls.VersionTLS12,
			Time:       rt.now,
		},
		// A new connection, and so a full handshake, per message; the
		// transport is the message's own, so that what its handshake
		// chose is known.
		DisableKeepAlives:   true,
		TLSHandshakeTimeout: rt.timeout,
	}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: rt.timeout}
	err := get(client, url)
	hs.mu.Lock()
	defer hs.mu.Unlock()
	var presented *x509.Certificate
	if hs.chosen != nil {
		presented = hs.chosen.chain[0]
	}
	if hs.asked && hs.chosen == nil && err != nil {
		// (A server that lets a client without a certificate through is
		// not the receiver, which requires one.)
		return nil, fmt.Errorf("%w: %w", km.noneMatches(node, hs.names), err)
	}
	return presented, err
}

// get sends one GET and checks for a 200.
func get(client *http.Client, url string) error {
	resp, err := client.Get(url)
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
func (rt *Runtime) record(n *node, at time.Time, fp string, err error) {
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
	if len(rt.failures) < rt.maxFailures {
		rt.failures = append(rt.failures, Failure{Node: n.name, At: at, Fingerprint: fp, Err: err})
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
		PerNode:  make(map[string]Stats, len(rt.nodes)),
	}
	for name, n := range rt.nodes {
		p := make(map[string]int, len(n.presented))
		for k, v := range n.presented {
			p[k] = v
		}
		s.PerNode[name] = Stats{Total: n.total, Failed: n.failed, Skipped: n.skipped, Presented: p,
			Sequence: slices.Clone(n.sequence)}
	}
	return s
}
