// Package demo builds the landscape the overlap and downtime examples run
// a renewal in, on one machine over real TLS, and runs it: an old CA and a
// new CA, a tenant keystore whose alias the old CA signed, the receiver's
// truststore and accepted-certificates file behind an HTTPS server that
// requires client certificates, and runtime nodes that send requests
// continuously and cache their TLS configuration until restarted.
package demo

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/certroll/certroll/internal/atomicfile"
	"github.com/certroll/certroll/keystore"
	"github.com/certroll/certroll/renewal"
	"github.com/certroll/certroll/renewal/local"
)

// Config says what landscape to build and how to run the renewal.
type Config struct {
	// Sequence is the renewal sequence to run.
	Sequence renewal.Sequence
	// Dir keeps the files; empty means a temporary directory removed at
	// the end. A Dir that holds a journal is resumed.
	Dir string
	// Format is the tenant keystore's format.
	Format keystore.Format
	// Nodes is the number of runtime nodes.
	Nodes int
	// Rate is the number of requests per second each node sends.
	Rate float64
	// StepPause is how long traffic flows after each step before the next
	// starts, so that every phase of the renewal carries load.
	StepPause time.Duration
	// SkipRestart, if not zero, names node SkipRestart (1-based) as one the
	// integration developer forgets when restarting the flow: in the
	// overlap sequence it keeps its cached configuration, in the downtime
	// sequence it stays stopped. The gate after the restart names it.
	SkipRestart int
	// Drain is how long the receiver must have seen no handshake with the
	// old certificate before the old certificate and root are removed
	// ([renewal.Executor.Drain]), so that requests still in flight from
	// nodes restarted moments before are not refused. Zero means no
	// quiet period.
	Drain time.Duration
	// RunbookOnly prints the runbook and diagram and runs nothing.
	RunbookOnly bool
	// Out receives the progress.
	Out io.Writer
}

// Summary is what the examples print at the end and write with -summary.
//
// Every request that fell due is counted once: sent (RequestsTotal, of
// which RequestsFailed failed) or skipped by a node that fell behind its
// schedule (RequestsSkipped); RequestsDue is their sum.
type Summary struct {
	Plan           string `json:"plan"`
	StepsCompleted int    `json:"steps_completed"`
	StepsTotal     int    `json:"steps_total"`
	RequestsTotal  int    `json:"requests_total"`
	RequestsFailed int    `json:"requests_failed"`
	// RequestsSkipped counts the requests that fell due but were not
	// sent, because a node was more than 100 ms behind its schedule (the
	// machine could not keep up with the rate asked for).
	RequestsSkipped int `json:"requests_skipped"`
	// RequestsDue is RequestsTotal + RequestsSkipped.
	RequestsDue int `json:"requests_due"`
	// RequestsPerSecond is the rate of requests sent that the nodes
	// achieved over the run.
	RequestsPerSecond float64 `json:"requests_per_second"`
	// RequestedPerSecond is the rate asked for: nodes × rate per node.
	RequestedPerSecond float64 `json:"requested_per_second"`
	// Nodes has the counts of each node, in node order.
	Nodes []NodeSummary `json:"nodes"`
	// FailedOutsideWindow counts failed requests outside the downtime
	// window (between the flow's stop and its restart); for the overlap
	// sequence every failure is outside.
	FailedOutsideWindow int       `json:"failed_outside_window"`
	WindowStart         time.Time `json:"window_start,omitzero"`
	WindowEnd           time.Time `json:"window_end,omitzero"`
	Alias               string    `json:"alias"`
	Keystore            string    `json:"keystore"`
	Truststore          string    `json:"truststore"`
	OldFingerprint      string    `json:"old_fingerprint"`
	NewFingerprint      string    `json:"new_fingerprint"`
	OldRootInTruststore bool      `json:"old_root_in_truststore"`
	NewRootInTruststore bool      `json:"new_root_in_truststore"`
	Files               []string  `json:"files"`
	Error               string    `json:"error,omitempty"`
}

// NodeSummary is one node's part of a [Summary].
type NodeSummary struct {
	Name    string `json:"name"`
	Sent    int    `json:"requests_sent"`
	Failed  int    `json:"requests_failed"`
	Skipped int    `json:"requests_skipped"`
	// Presented lists the SHA-256 fingerprints of the client
	// certificates the node presented, in order, one entry per run of
	// requests with the same certificate.
	Presented []string `json:"presented"`
}

const alias = "client"

// maxFailures bounds the failures the runtime keeps one by one (for the
// downtime window check); the counts are exact beyond it.
const maxFailures = 100000

var password = []byte("changeit")

// landscape is the set of files and services one run works with.
type landscape struct {
	dir                                  string
	keystore, truststore, accepted, plan string
	journal, handover                    string
	oldCA, newCA                         *local.CA
	receiver                             *local.Receiver
	runtime                              *local.Runtime
	resumed                              bool
}

// Run builds (or, with a Dir that holds one, reopens) the landscape and
// runs the renewal, printing each step. It returns the summary, and an
// error if the run did not complete (a failed gate among them).
func Run(ctx context.Context, cfg Config) (*Summary, error) {
	out := cfg.Out
	if out == nil {
		out = io.Discard
	}
	dir := cfg.Dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "certroll-"+cfg.Sequence.String()+"-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	l, plan, err := open(dir, cfg)
	if err != nil {
		return nil, err
	}
	if cfg.RunbookOnly {
		fmt.Fprintf(out, "%s\n```mermaid\n%s```\n", plan.Markdown(), plan.Mermaid())
		return nil, nil
	}
	if l.resumed {
		fmt.Fprintf(out, "resuming the %s renewal in %s from its journal\n", plan.Sequence, dir)
	} else {
		fmt.Fprintf(out, "landscape in %s: tenant keystore %s (%v), alias %q signed by %q; receiver truststore %s\n",
			dir, filepath.Base(l.keystore), cfg.Format, alias, l.oldCA.Root().Subject.CommonName, filepath.Base(l.truststore))
		fmt.Fprintf(out, "\n%s\n", plan.Markdown())
	}

	srv, err := l.serve(cfg)
	if err != nil {
		return nil, err
	}
	defer l.receiver.Close()
	fmt.Fprintf(out, "receiver listening on %s; %d nodes sending %.0f requests/s each\n\n", srv, cfg.Nodes, cfg.Rate)

	traffic, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	var stats local.Stats
	trafficStart := time.Now()
	go func() {
		defer wg.Done()
		stats = l.runtime.Run(traffic)
	}()
	time.Sleep(cfg.StepPause) // traffic before the first step

	var window struct{ start, end time.Time }
	show := &progress{w: out, total: len(plan.Steps)}
	x := &renewal.Executor{
		Plan:        plan,
		Tenant:      &renewal.Tenant{Keystore: l.keystore, Password: password, Alias: alias},
		Journal:     l.journal,
		CA:          l.newCA,
		Receiver:    l.receiver,
		Runtime:     l.runtime,
		Notifier:    &local.Notifier{W: indent{out}},
		HandOverDir: l.handover,
		OldRoot:     l.oldCA.Root(),
		Drain:       cfg.Drain,
		OnEvent: func(ev renewal.Event) {
			show.event(ev)
			switch {
			// The window opens when the flow starts stopping and closes
			// when it runs again on every node.
			case ev.Kind == renewal.EventStepStarted && ev.Step.ID == renewal.StepStopFlow:
				window.start = ev.Time
			case ev.Kind == renewal.EventStepDone && ev.Step.ID == renewal.StepRestartNodes && plan.Sequence == renewal.SequenceDowntime:
				window.end = ev.Time
			}
			if ev.Kind == renewal.EventStepDone || ev.Kind == renewal.EventStepSkipped {
				time.Sleep(cfg.StepPause)
			}
		},
	}
	res, runErr := x.Run(ctx)
	if window.start.IsZero() != window.end.IsZero() || (!window.start.IsZero() && window.end.Before(window.start)) {
		window.end = time.Now() // the run stopped inside the window
	}
	time.Sleep(cfg.StepPause) // traffic after the last step
	stop()
	wg.Wait()
	elapsed := time.Since(trafficStart)

	sum, err := l.summarize(plan, res, stats, window.start, window.end)
	if err != nil {
		return nil, errors.Join(runErr, err)
	}
	sum.RequestsPerSecond = float64(stats.Total) / elapsed.Seconds()
	sum.RequestedPerSecond = float64(cfg.Nodes) * cfg.Rate
	if runErr != nil {
		sum.Error = runErr.Error()
	}
	printSummary(out, sum)
	return sum, runErr
}

// paths returns the landscape's file names in dir, for a tenant keystore
// of format f.
func paths(dir string, f keystore.Format) *landscape {
	ext := ".jks"
	if f == keystore.PKCS12 {
		ext = ".p12"
	}
	return &landscape{
		dir:        dir,
		keystore:   filepath.Join(dir, "tenant-client"+ext),
		truststore: filepath.Join(dir, "receiver-truststore.jks"),
		accepted:   filepath.Join(dir, "receiver-accepted.pem"),
		plan:       filepath.Join(dir, "plan.json"),
		journal:    filepath.Join(dir, "journal.json"),
		handover:   filepath.Join(dir, "hand-over"),
	}
}

// stagingDir is the directory in a landscape's dir where the set-up
// builds the landscape before moving it into place.
const stagingDir = ".setup"

// setupHook, if not nil, is called after each write of the set-up with a
// name for it; an error stops the set-up there, as a kill would. Tests
// set it.
var setupHook func(point string) error

func setupPoint(point string) error {
	if setupHook == nil {
		return nil
	}
	return setupHook(point)
}

// open builds the landscape's files in dir, or reopens them.
//
// The set-up is atomic: it builds every file in dir/.setup, writing the
// plan there last, then moves the files into dir, the plan last. A run
// that finds plan.json in dir resumes; one that finds it only in
// dir/.setup finishes the move; one that finds dir/.setup without a plan
// builds it again. So a set-up killed at any point leaves a directory the
// next run with the same -dir completes.
func open(dir string, cfg Config) (*landscape, *renewal.Plan, error) {
	l := paths(dir, cfg.Format)
	if err := finishMove(dir); err != nil {
		return nil, nil, err
	}
	kept, err := readPlan(l.plan)
	if err == nil {
		if err := l.check(kept, cfg); err != nil {
			return nil, nil, err
		}
		l.resumed = true
		if l.oldCA, err = local.OpenCA(filepath.Join(dir, "old-ca"), "Old Root CA", nil, nil); err != nil {
			return nil, nil, err
		}
		if l.newCA, err = local.OpenCA(filepath.Join(dir, "new-ca"), "New Root CA", nil, nil); err != nil {
			return nil, nil, err
		}
		// The live alias may already hold the new certificate, so the plan
		// is rebuilt from the kept parameters, not from the keystore.
		plan, err := renewal.Build(kept.Sequence, kept.Params)
		return l, plan, err
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, err
	}
	for _, stale := range []string{l.keystore, l.truststore, l.accepted, l.journal, l.handover,
		filepath.Join(dir, "old-ca"), filepath.Join(dir, "new-ca")} {
		if _, err := os.Stat(stale); err == nil {
			return nil, nil, fmt.Errorf("demo: %s exists but %s does not: not a landscape this program made; give an empty or new -dir", stale, l.plan)
		}
	}
	plan, err := l.setUp(cfg)
	if err != nil {
		return nil, nil, err
	}
	return l, plan, nil
}

// readPlan reads a plan kept in path.
func readPlan(path string) (*renewal.Plan, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var kept renewal.Plan
	if err := json.Unmarshal(data, &kept); err != nil {
		return nil, fmt.Errorf("demo: %s: %w", path, err)
	}
	return &kept, nil
}

// setUp builds the landscape in dir/.setup and moves it into l.dir; see
// [open]. It returns the plan.
func (l *landscape) setUp(cfg Config) (*renewal.Plan, error) {
	stage := filepath.Join(l.dir, stagingDir)
	// What is here is a set-up stopped before it wrote its plan.
	if err := os.RemoveAll(stage); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(stage, 0o700); err != nil {
		return nil, err
	}
	st := paths(stage, cfg.Format)
	var err error
	if st.oldCA, err = local.OpenCA(filepath.Join(stage, "old-ca"), "Old Root CA", nil, nil); err != nil {
		return nil, err
	}
	if err := setupPoint("old-ca"); err != nil {
		return nil, err
	}
	if st.newCA, err = local.OpenCA(filepath.Join(stage, "new-ca"), "New Root CA", nil, nil); err != nil {
		return nil, err
	}
	if err := setupPoint("new-ca"); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(st.handover, 0o700); err != nil {
		return nil, err
	}
	key, err := keystore.GenerateKey(keystore.RSA2048)
	if err != nil {
		return nil, err
	}
	chain, err := st.oldCA.Issue("tenant-client", key.Public())
	if err != nil {
		return nil, err
	}
	ks := keystore.New(cfg.Format, nil)
	if err := ks.Set(&keystore.Entry{Alias: alias, Key: key, Chain: chain}, nil); err != nil {
		return nil, err
	}
	if err := ks.Save(st.keystore, password, nil); err != nil {
		return nil, err
	}
	if err := setupPoint("keystore"); err != nil {
		return nil, err
	}
	ts := keystore.New(keystore.JKS, nil)
	if err := ts.Set(&keystore.Entry{Alias: "old-root-ca", Chain: chain[1:]}, nil); err != nil {
		return nil, err
	}
	if err := ts.Save(st.truststore, password, nil); err != nil {
		return nil, err
	}
	if err := setupPoint("truststore"); err != nil {
		return nil, err
	}
	// The receiver accepts the old client certificate.
	rcv, err := local.NewReceiver(local.ReceiverConfig{Truststore: st.truststore, TruststorePassword: password, Accepted: st.accepted})
	if err != nil {
		return nil, err
	}
	if err := rcv.AcceptClient(context.Background(), chain); err != nil {
		return nil, err
	}
	if err := setupPoint("accepted"); err != nil {
		return nil, err
	}
	plan, err := st.writePlan(cfg, l)
	if err != nil {
		return nil, err
	}
	if err := setupPoint("plan"); err != nil {
		return nil, err
	}
	if err := finishMove(l.dir); err != nil {
		return nil, err
	}
	l.oldCA, l.newCA = st.oldCA, st.newCA
	return plan, nil
}

// finishMove moves a complete set-up (one whose plan is written) from
// dir/.setup into dir, the plan last, and removes dir/.setup. It does
// nothing if dir/.setup holds no plan.
func finishMove(dir string) error {
	stage := filepath.Join(dir, stagingDir)
	staged := paths(stage, keystore.JKS).plan
	if _, err := os.Stat(staged); errors.Is(err, fs.ErrNotExist) {
		if _, err := os.Stat(filepath.Join(dir, filepath.Base(staged))); err == nil {
			// Killed after the move, before the staging directory was
			// removed: it is empty (os.Remove removes nothing else).
			if err := os.Remove(stage); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("demo: finishing the set-up of %s: %w", dir, err)
			}
		}
		return nil
	} else if err != nil {
		return err
	}
	entries, err := os.ReadDir(stage)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() == filepath.Base(staged) {
			continue
		}
		if err := os.Rename(filepath.Join(stage, e.Name()), filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("demo: finishing the set-up of %s: %w", dir, err)
		}
		if err := setupPoint("move " + e.Name()); err != nil {
			return err
		}
	}
	if err := os.Rename(staged, filepath.Join(dir, filepath.Base(staged))); err != nil {
		return fmt.Errorf("demo: finishing the set-up of %s: %w", dir, err)
	}
	if err := setupPoint("move plan"); err != nil {
		return err
	}
	return os.Remove(stage)
}

// check returns an error naming what differs if the plan kept in l.dir is
// not one this run (cfg) would have made, so that a -dir of another run
// is refused before anything is touched.
func (l *landscape) check(kept *renewal.Plan, cfg Config) error {
	e := &DirError{Dir: l.dir, Sequence: kept.Sequence, Format: kept.Params.KeystoreFormat, Nodes: len(kept.Params.Nodes)}
	if kept.Sequence != cfg.Sequence {
		e.Differences = append(e.Differences, fmt.Sprintf("sequence %s, not %s", kept.Sequence, cfg.Sequence))
	}
	if kept.Params.KeystoreFormat != cfg.Format.String() {
		e.Differences = append(e.Differences, fmt.Sprintf("keystore format %s, not %s", kept.Params.KeystoreFormat, cfg.Format))
	} else if kept.Params.Keystore != l.keystore {
		e.Differences = append(e.Differences, fmt.Sprintf("keystore %s, not %s (was the directory moved?)", kept.Params.Keystore, l.keystore))
	}
	if len(kept.Params.Nodes) != cfg.Nodes {
		e.Differences = append(e.Differences, fmt.Sprintf("%d nodes, not %d", len(kept.Params.Nodes), cfg.Nodes))
	}
	if len(e.Differences) == 0 {
		return nil
	}
	return e
}

// DirError reports a -dir that holds the landscape of another run: one
// made for another sequence, keystore format or number of nodes.
type DirError struct {
	// Dir is the directory.
	Dir string
	// Sequence, Format and Nodes describe the run whose landscape Dir
	// holds (Format as [keystore.Format.String] gives it).
	Sequence renewal.Sequence
	Format   string
	Nodes    int
	// Differences says, one item each, what differs from the run asked
	// for: "sequence overlap, not downtime".
	Differences []string
}

func (e *DirError) Error() string {
	format := "jks"
	if e.Format == keystore.PKCS12.String() {
		format = "pkcs12"
	}
	return fmt.Sprintf("demo: -dir %q holds the landscape of another run: %s; resume that run with "+
		"`go run ./examples/%s -dir %s -format %s -nodes %d`, or give an empty or new -dir for this one",
		e.Dir, strings.Join(e.Differences, "; "), e.Sequence, e.Dir, format, e.Nodes)
}

// writePlan builds the plan for the landscape staged in l, naming the
// files where they will be once moved into final, and keeps it in
// l.plan.
func (l *landscape) writePlan(cfg Config, final *landscape) (*renewal.Plan, error) {
	ks, err := keystore.Open(l.keystore, password, nil)
	if err != nil {
		return nil, err
	}
	chain, err := ks.Certificates(alias)
	if err != nil {
		return nil, err
	}
	nodes := make([]string, cfg.Nodes)
	for i := range nodes {
		nodes[i] = fmt.Sprintf("node-%d", i+1)
	}
	p := renewal.Params{
		Alias:              alias,
		Keystore:           final.keystore,
		KeystoreFormat:     cfg.Format.String(),
		Truststore:         final.truststore,
		Nodes:              nodes,
		OldFingerprint:     keystore.Fingerprint256Hex(chain[0]),
		OldRootSubject:     l.oldCA.Root().Subject.String(),
		OldRootFingerprint: keystore.Fingerprint256Hex(l.oldCA.Root()),
		NewRootSubject:     l.newCA.Root().Subject.String(),
		NewRootFingerprint: keystore.Fingerprint256Hex(l.newCA.Root()),
	}
	if cfg.Sequence == renewal.SequenceDowntime {
		p.Window = renewal.Window{Description: "now, for as long as the exchange takes"}
	}
	plan, err := renewal.Build(cfg.Sequence, p)
	if err != nil {
		return nil, err
	}
	data, err := json.MarshalIndent(plan, "", "  ")
	if err != nil {
		return nil, err
	}
	ctx, cancel := atomicfile.Within()
	defer cancel()
	return plan, atomicfile.Write(ctx, l.plan, data, atomicfile.Options{Mode: 0o600})
}

// serve starts the receiver's HTTPS server and the runtime's nodes.
func (l *landscape) serve(cfg Config) (string, error) {
	id, err := local.NewServerIdentity(nil, nil)
	if err != nil {
		return "", err
	}
	l.receiver, err = local.NewReceiver(local.ReceiverConfig{Truststore: l.truststore, TruststorePassword: password, Accepted: l.accepted, Server: id})
	if err != nil {
		return "", err
	}
	url, err := l.receiver.Start()
	if err != nil {
		return "", err
	}
	l.runtime, err = local.NewRuntime(local.RuntimeConfig{
		Nodes: cfg.Nodes, Keystore: l.keystore, KeystorePassword: password, Alias: alias,
		URL: url, ServerRoot: l.receiver.ServerRoot(), Rate: cfg.Rate,
		MaxFailures: maxFailures,
	})
	if err != nil {
		l.receiver.Close()
		return "", err
	}
	// A resumed downtime run may find the flow stopped; the executor
	// starts it again at its restart step, so only a fresh or overlap run
	// starts every node here.
	if err := l.startNodes(cfg); err != nil {
		l.receiver.Close()
		return "", err
	}
	// Marked once started: the forgotten node is one the executor's
	// restart step (a restart in overlap, a start after the stop in
	// downtime) leaves as it is.
	if cfg.SkipRestart > 0 {
		if err := l.runtime.SkipRestart(fmt.Sprintf("node-%d", cfg.SkipRestart)); err != nil {
			l.receiver.Close()
			return "", err
		}
	}
	return url, nil
}

func (l *landscape) startNodes(cfg Config) error {
	if l.resumed && cfg.Sequence == renewal.SequenceDowntime {
		j, err := renewal.ReadJournal(l.journal)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if j != nil && done(j, renewal.StepStopFlow) && !done(j, renewal.StepRestartNodes) {
			return nil // inside the window: the flow stays stopped
		}
	}
	return l.runtime.StartAll(context.Background())
}

func done(j *renewal.Journal, id renewal.StepID) bool {
	r := j.Step(id)
	return r != nil && r.Status == renewal.StatusDone
}

func (l *landscape) summarize(plan *renewal.Plan, res *renewal.Result, stats local.Stats, start, end time.Time) (*Summary, error) {
	s := &Summary{
		Plan: plan.Sequence.String(), StepsTotal: len(plan.Steps),
		RequestsTotal: stats.Total, RequestsFailed: stats.Failed,
		RequestsSkipped: stats.Skipped, RequestsDue: stats.Due(),
		Alias: alias, Keystore: l.keystore, Truststore: l.truststore,
		WindowStart: start, WindowEnd: end, Files: []string{}, Nodes: []NodeSummary{},
	}
	for _, name := range plan.Params.Nodes {
		ns := stats.PerNode[name]
		s.Nodes = append(s.Nodes, NodeSummary{Name: name, Sent: ns.Total, Failed: ns.Failed, Skipped: ns.Skipped,
			Presented: append([]string{}, ns.Sequence...)})
	}
	s.FailedOutsideWindow = stats.Failed - len(stats.Failures) // not kept: counted as outside
	for _, f := range stats.Failures {
		if start.IsZero() || f.At.Before(start) || f.At.After(end) {
			s.FailedOutsideWindow++
		}
	}
	if res != nil {
		s.StepsCompleted = len(res.Completed())
		s.OldFingerprint, s.NewFingerprint = res.OldFingerprint, res.NewFingerprint
		s.Files = append(s.Files, res.Journal)
		s.Files = append(s.Files, res.Files...)
	}
	roots, err := l.receiver.Roots()
	if err != nil {
		return nil, err
	}
	for _, r := range roots {
		s.OldRootInTruststore = s.OldRootInTruststore || r.Equal(l.oldCA.Root())
		s.NewRootInTruststore = s.NewRootInTruststore || r.Equal(l.newCA.Root())
	}
	return s, nil
}

// progress prints the executor's events, one heading per step.
type progress struct {
	w       io.Writer
	total   int
	heading int // the step whose heading was printed last
}

func (p *progress) event(ev renewal.Event) {
	w, st := p.w, ev.Step
	if st.Number != p.heading {
		fmt.Fprintf(w, "step %d/%d  %-26s %s\n", st.Number, p.total, "["+st.Role.String()+"]", st.Title)
		p.heading = st.Number
	}
	switch ev.Kind {
	case renewal.EventStepDone:
		fmt.Fprintf(w, "           done: %s\n", ev.Message)
	case renewal.EventStepSkipped:
		fmt.Fprintf(w, "           skipped: %s\n", ev.Message)
	case renewal.EventGatePassed:
		msg := ev.Message
		if msg == "" && ev.Gate != nil {
			msg = ev.Gate.Kind.String()
		}
		fmt.Fprintf(w, "           gate passed: %s\n", msg)
	case renewal.EventWarning:
		fmt.Fprintf(w, "           warning: %s\n", ev.Message)
	case renewal.EventGateFailed, renewal.EventStepFailed:
		fmt.Fprintf(w, "           %s: %v\n", ev.Kind, ev.Err)
	}
}

func printSummary(w io.Writer, s *Summary) {
	fmt.Fprintf(w, "\nsummary (%s)\n", s.Plan)
	fmt.Fprintf(w, "  steps completed      %d of %d\n", s.StepsCompleted, s.StepsTotal)
	fmt.Fprintf(w, "  requests sent        %d of %d due (%.0f per second of %.0f asked for, mutual TLS, a full handshake each)\n",
		s.RequestsTotal, s.RequestsDue, s.RequestsPerSecond, s.RequestedPerSecond)
	if s.RequestsSkipped > 0 {
		fmt.Fprintf(w, "  requests skipped     %d (the nodes fell behind: this machine cannot keep up with the rate asked for)\n", s.RequestsSkipped)
	}
	fmt.Fprintf(w, "  requests failed      %d", s.RequestsFailed)
	if !s.WindowStart.IsZero() {
		fmt.Fprintf(w, " (%d outside the downtime window %s – %s)", s.FailedOutsideWindow,
			s.WindowStart.Format("15:04:05.000"), s.WindowEnd.Format("15:04:05.000"))
	}
	fmt.Fprintf(w, "\n  alias                %q in %s\n", s.Alias, s.Keystore)
	fmt.Fprintf(w, "  old certificate      SHA-256 %s\n", s.OldFingerprint)
	fmt.Fprintf(w, "  new certificate      SHA-256 %s\n", s.NewFingerprint)
	fmt.Fprintf(w, "  receiver truststore  %s (old root present: %v, new root present: %v)\n", s.Truststore, s.OldRootInTruststore, s.NewRootInTruststore)
	fmt.Fprintf(w, "  files written\n")
	for _, f := range s.Files {
		fmt.Fprintf(w, "    %s\n", f)
	}
	if s.Error != "" {
		fmt.Fprintf(w, "  stopped: %s\n", s.Error)
	}
}

// WriteSummary writes s as indented JSON to path.
func WriteSummary(path string, s *Summary) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	ctx, cancel := atomicfile.Within()
	defer cancel()
	return atomicfile.Write(ctx, path, append(data, '\n'), atomicfile.Options{Mode: 0o644})
}

// indent prefixes each line written through it, for the notifier's
// hand-off messages.
type indent struct{ w io.Writer }

func (i indent) Write(p []byte) (int, error) {
	lines := strings.SplitAfter(string(p), "\n")
	var b strings.Builder
	for _, l := range lines {
		if l != "" {
			b.WriteString("           ")
			b.WriteString(l)
		}
	}
	if _, err := io.WriteString(i.w, b.String()); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flags registers the flags both examples share on fs and returns the
// config they fill, and the -summary path.
func Flags(fs *flag.FlagSet, seq renewal.Sequence) (*Config, *string, *string) {
	cfg := &Config{Sequence: seq}
	format := fs.String("format", "jks", "tenant keystore format: jks or pkcs12")
	fs.StringVar(&cfg.Dir, "dir", "", "keep the files in this directory; run again with the same -dir to resume an interrupted run")
	fs.IntVar(&cfg.Nodes, "nodes", 3, "number of runtime nodes")
	fs.Float64Var(&cfg.Rate, "rate", 100, "requests per second each node sends")
	fs.DurationVar(&cfg.StepPause, "step-pause", 250*time.Millisecond, "how long traffic flows after each step")
	fs.IntVar(&cfg.SkipRestart, "skip-restart-node", 0, "forget node K when the nodes are restarted: overlap leaves it on its cached configuration, downtime leaves it stopped")
	fs.DurationVar(&cfg.Drain, "drain", 500*time.Millisecond, "before removing the old certificate and root, wait until the receiver has seen no handshake with the old certificate for this long")
	fs.BoolVar(&cfg.RunbookOnly, "runbook", false, "print the runbook and the sequence diagram only")
	summary := fs.String("summary", "", "write the summary as JSON to this file")
	return cfg, format, summary
}

// ParseFormat turns the -format flag into a keystore format.
func ParseFormat(s string) (keystore.Format, error) {
	switch strings.ToLower(s) {
	case "jks":
		return keystore.JKS, nil
	case "pkcs12", "p12":
		return keystore.PKCS12, nil
	}
	return keystore.FormatUnknown, fmt.Errorf("-format: want jks or pkcs12, got %q", s)
}

// Main is the body of both examples: it parses args, runs the renewal and
// writes the summary. It returns the process's exit code.
func Main(seq renewal.Sequence, args []string, out, errOut io.Writer) int {
	fs := flag.NewFlagSet(seq.String(), flag.ContinueOnError)
	fs.SetOutput(errOut)
	cfg, format, summary := Flags(fs, seq)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var err error
	if cfg.Format, err = ParseFormat(*format); err != nil {
		fmt.Fprintln(errOut, err)
		return 2
	}
	if cfg.Nodes < 1 || cfg.Rate <= 0 || cfg.SkipRestart < 0 || cfg.SkipRestart > cfg.Nodes || cfg.Drain < 0 {
		fmt.Fprintf(errOut, "want -nodes >= 1, -rate > 0, 0 <= -skip-restart-node <= -nodes and -drain >= 0\n")
		return 2
	}
	if *summary != "" {
		if err := checkOutputDir(*summary); err != nil {
			fmt.Fprintln(errOut, err)
			return 2
		}
	}
	cfg.Out = out
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, runErr := Run(ctx, *cfg)
	if sum != nil && *summary != "" {
		if err := WriteSummary(*summary, sum); err != nil {
			fmt.Fprintln(errOut, err)
			return 1
		}
	}
	if runErr != nil {
		fmt.Fprintln(errOut, seq.String()+":", runErr)
		return 1
	}
	return 0
}

// checkOutputDir refuses an output file whose directory is missing or not
// a directory before the run starts, rather than after the whole renewal.
func checkOutputDir(path string) error {
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	switch {
	case err != nil:
		return fmt.Errorf("-summary %q: the directory %s must exist before the run: %w", path, dir, err)
	case !fi.IsDir():
		return fmt.Errorf("-summary %q: %s is not a directory", path, dir)
	}
	return nil
}
